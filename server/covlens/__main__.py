"""`python -m covlens`: the same entry point as the `covlens` console script."""

from covlens.cli import main

raise SystemExit(main())
