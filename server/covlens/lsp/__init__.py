"""The language server (`covlens serve`): translates runs and stored results into LSP messages; no coverage logic."""
