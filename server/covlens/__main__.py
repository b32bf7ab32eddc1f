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

    code = main(standalone=True)
    if sys.argv[1:2] == ["run"]:
        _leave(code)
    return code


def _leave(code: int) -> None:
    """End `covlens run` now, without the interpreter's teardown: freeing every module it imported costs ~6 ms of CPU,
    for nothing once the run's results are written and its store is closed.

    What a normal exit would still do is done here: the `atexit` functions run (a `.pth` or `sitecustomize` may have
    registered some, e.g. coverage.py measuring this process), and the standard streams are flushed. With threads
    still running (a normal exit waits for them), it returns and the interpreter ends as usual.
    """
    import atexit
    import os
    import threading

    if threading.active_count() > 1 or not hasattr(atexit, "_run_exitfuncs"):
        return
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe (`covlens run | head`): what could be written was
            pass
    os._exit(code)


if __name__ == "__main__":
    raise SystemExit(entry())
