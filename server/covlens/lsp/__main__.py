"""`python -m covlens.lsp [--tcp --port N]`: the language server without the rest of the CLI."""

from covlens.lsp.server import main

raise SystemExit(main())
