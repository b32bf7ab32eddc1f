"""Save-to-gutter latency and the server under load: the project generator, the LSP client and the run."""
