"""Times each test's call phase (wall and CPU) into $BENCH_TIMINGS as JSON, for bench/overhead/run.py.

Each test body runs in a fresh thread, so that it starts at the same place on CPython's frame stack under every
configuration. On the main thread it starts below however many frames the tool under test put above pytest, and
that alone moved the recursive workloads by up to 15% under plain pytest (two extra frames: the evaluator's call
phase went from 0.43 s to 0.48 s): CPython keeps frames in 16 KiB chunks and maps and unmaps one each time a
recursion crosses a chunk's edge, so where the recursion starts decides how often it crosses. A new thread's
frame stack starts empty, whatever the tool did on the main thread. See bench/README.md.
"""

import json
import os
import threading
import time

import pytest

_timings = {}


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item):
    wall, cpu = time.perf_counter(), time.process_time()
    yield
    _timings[item.nodeid] = {"wall": time.perf_counter() - wall, "cpu": time.process_time() - cpu}


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem):
    """Call the test function in a new thread (the workloads take no fixtures) and re-raise what it raised."""
    if pyfuncitem.funcargs:
        raise pytest.UsageError(f"{pyfuncitem.nodeid}: workload tests take no fixtures (see conftest.py)")
    raised = []

    def body():
        try:
            pyfuncitem.obj()
        except BaseException as exc:  # noqa: BLE001 - handed to the main thread, which raises it
            raised.append(exc)

    thread = threading.Thread(target=body, name=f"workload {pyfuncitem.name}")
    thread.start()
    thread.join()
    if raised:
        raise raised[0]
    return True


def pytest_sessionfinish(session):
    target = os.environ.get("BENCH_TIMINGS")
    if target:
        with open(target, "w", encoding="utf-8") as handle:
            json.dump(_timings, handle)
