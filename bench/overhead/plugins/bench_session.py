"""Times pytest's own session (collection, every test, the end of the session) into $BENCH_SESSION as JSON.

Loaded with `-p bench_session` by every configuration of the toolz and boltons suites, so each tool is timed over
the same stretch of its pytest process: from just before the conftest files load to the end of the session (the
plugins' own end-of-session work included, covlens's worker's among them). Left out: interpreter start-up, the
imports before pytest starts and, for covlens, the CLI process. See bench/README.md.
"""

import json
import os
import time

import pytest

_start = {}


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests():
    _start["wall"], _start["cpu"] = time.perf_counter(), time.process_time()


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_sessionfinish():
    # The outermost wrapper: what runs after this yield ran after every other plugin's session finish.
    yield
    target = os.environ.get("BENCH_SESSION")
    if target and _start:
        timing = {"wall": time.perf_counter() - _start["wall"], "cpu": time.process_time() - _start["cpu"]}
        with open(target, "w", encoding="utf-8") as handle:
            json.dump(timing, handle)
