"""Times each test's call phase (wall and CPU) into $BENCH_TIMINGS as JSON, for bench/overhead/run.py."""

import json
import os
import time

import pytest

_timings = {}


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item):
    wall, cpu = time.perf_counter(), time.process_time()
    yield
    _timings[item.nodeid] = {"wall": time.perf_counter() - wall, "cpu": time.process_time() - cpu}


def pytest_sessionfinish(session):
    target = os.environ.get("BENCH_TIMINGS")
    if target:
        with open(target, "w", encoding="utf-8") as handle:
            json.dump(_timings, handle)
