"""`python -m covlens` and the `covlens` console script: one entry point."""

import sys


def entry() -> int:
    """covlens as its own program: `covlens run` may then fork its test worker (see covlens/runner/fork_start.py)."""
    if sys.argv[1:2] == ["run"]:
        # Before anything else is imported: what a spawned worker imports before its hook, so that the forked one
        # finds exactly that already done.
        from covlens.runner import fork_start

        fork_start.prepare()
    from covlens.cli import main

    return main(standalone=True)


if __name__ == "__main__":
    raise SystemExit(entry())
