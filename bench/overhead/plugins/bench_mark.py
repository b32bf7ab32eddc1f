"""Marks the edges of a stretch of pytest's session for callgrind: a call of getpriority(2) at each edge.

Loaded with `-p bench_mark` by bench/overhead/instructions.py, which runs pytest under `valgrind --tool=callgrind
--dump-before=getpriority`: callgrind writes what was counted so far at each mark, so the counts between the first
and the second mark are the stretch's own. $BENCH_WINDOW picks the stretch: `session` (default: from just before
the conftest files load to the end of the session, the *inside pytest* rows of section 1), `collect` (to the end
of collection) or `tests` (from the end of collection to the end of the session). Nothing in pytest, covlens,
coverage.py or the suites calls getpriority.
"""

import os

import pytest

_WINDOW = os.environ.get("BENCH_WINDOW", "session")


def _mark() -> None:
    os.getpriority(os.PRIO_PROCESS, 0)


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests() -> None:
    if _WINDOW in ("session", "collect"):
        _mark()


@pytest.hookimpl(trylast=True)
def pytest_collection_finish() -> None:
    if _WINDOW in ("collect", "tests"):
        _mark()


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_sessionfinish():  # type: ignore[no-untyped-def]
    # The outermost wrapper, as bench_session's: what runs after this yield ran after every other plugin's end.
    yield
    if _WINDOW in ("session", "tests"):
        _mark()
