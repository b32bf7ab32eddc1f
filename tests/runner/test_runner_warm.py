"""The warm worker: runs forked from a pre-imported process behave exactly like cold runs, and fall back to them."""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from covlens import config as config_mod
from covlens.model import CANCELLED, COMPLETE, ERROR
from covlens.runner import events as ev
from covlens.runner.selection import Selection
from covlens.runner.session import Session
from covlens.runner.warm import WarmWorker, preload_of
from tests.runner.conftest import FIXTURES, Ran, fixture_config, process_gone, run_fixture

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="the warm worker forks (POSIX only)")

MakeWarm = Callable[..., WarmWorker]


@pytest.fixture
async def make_warm() -> AsyncIterator[MakeWarm]:
    """WarmWorkers for a test, all closed at its end (their processes with them)."""
    made: list[WarmWorker] = []

    def make(root: str | Path, python: str = sys.executable, **kwargs: Any) -> WarmWorker:
        warm = WarmWorker(python, root, **kwargs)
        made.append(warm)
        return warm

    yield make
    for warm in made:
        pids = [p.pid for p in list(warm._processes)]
        await warm.close()
        assert all(process_gone(pid) for pid in pids)


async def run_warm(name: str, warm: WarmWorker, selection: Any = None, **overrides: Any) -> Ran:
    overrides.setdefault("timeout", 60.0)
    session = Session(fixture_config(name, **overrides), warm=warm)
    return await run_fixture(name, selection, session=session)


def copy_fixture(name: str, tmp_path: Path) -> Path:
    root = tmp_path / name
    shutil.copytree(FIXTURES / name, root, ignore=shutil.ignore_patterns("__pycache__", ".covlens"))
    return root


def decisions(ran: Ran) -> set[tuple[str, str | None, str, str, str, str]]:
    return {(d.module, d.path, d.action, d.reason, d.detail, d.rule) for d in ran.result.decisions}


# -- the same results as a cold run -----------------------------------------------------------------------------


async def test_a_forked_run_reports_the_same_decisions_hits_and_outcomes_as_a_cold_run(make_warm: MakeWarm) -> None:
    cold = await run_fixture("basic")
    warm = make_warm(FIXTURES / "basic")
    bare = await run_warm("basic", warm)  # pytest and its own plugins pre-imported
    warm.set_preload(preload_of(cold.result))  # ... and everything the cold run imported from stdlib/site-packages
    preloaded = await run_warm("basic", warm)
    assert warm.forks == 2 and warm.starts == 2
    for ran in (bare, preloaded):
        assert ran.state == COMPLETE
        assert decisions(ran) == decisions(cold)
        assert ran.result.hits == cold.result.hits
        assert ran.result.files == cold.result.files
        assert ran.outcomes() == cold.outcomes()
        assert ran.result.summary.message == cold.result.summary.message
    # a module the warm worker imported before forking is decided as a cold run decides it, not already-imported
    assert preloaded.decision("pytest").reason == "third-party"
    assert preloaded.decision("json").reason == "stdlib"
    assert preloaded.decision("pkg.calc").action == "instrumented"
    assert not [d for d in preloaded.result.decisions if d.reason == "already-imported"]


async def test_the_warm_worker_never_imports_project_modules_even_when_asked_to(make_warm: MakeWarm) -> None:
    warm = make_warm(FIXTURES / "basic", preload=["pkg.calc", "pkg", "tests.conftest", "conftest", "json"])
    ran = await run_warm("basic", warm)
    assert warm.forks == 1
    modules = await warm.imported_modules()
    assert "json" in modules and "pytest" in modules
    assert not [m for m in modules if m.split(".")[0] in ("pkg", "tests", "conftest")]
    assert ran.decision("pkg.calc").action == "instrumented"  # imported after the hook, in the forked child
    assert ran.decision("pkg.calc").reason == "workspace"


async def test_a_preload_that_imports_project_code_or_starts_a_thread_is_dropped(
        make_warm: MakeWarm, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    # "site-packages" in the path makes these third-party to covlens, like any installed library.
    libs = tmp_path / "site-packages"
    libs.mkdir()
    (libs / "sneaky_lib.py").write_text("import pkg.calc\n")
    (libs / "threaded_lib.py").write_text("import threading\nthreading.Thread(target=threading.Event().wait, "
                                          "daemon=True).start()\n")
    env = {**os.environ, "PYTHONPATH": str(libs)}
    warm = make_warm(FIXTURES / "basic", env=env, preload=["sneaky_lib", "threaded_lib", "json"])
    with caplog.at_level(logging.WARNING, logger="covlens.runner.warm"):
        ran = await run_warm("basic", warm)
    assert ran.state == COMPLETE and warm.forks == 1
    assert "sneaky_lib" not in warm.preload and "threaded_lib" not in warm.preload and "json" in warm.preload
    assert "imported project modules (pkg, pkg.calc)" in caplog.text
    assert "started a thread" in caplog.text
    assert not [m for m in await warm.imported_modules() if m.split(".")[0] in ("pkg", "sneaky_lib", "threaded_lib")]
    assert ran.decision("pkg.calc").action == "instrumented"


async def test_a_forked_run_sees_code_edited_after_the_warm_worker_started(make_warm: MakeWarm, tmp_path: Path) -> None:
    root = copy_fixture("warm_edit", tmp_path)
    session = Session(config_mod.load(root).with_overrides(timeout=60.0), warm=make_warm(root))
    first = Ran(await session.run(["tests/test_calc.py::test_value"]), root=root)
    assert first.outcomes() == {"tests/test_calc.py::test_value": "passed"}
    assert first.lines("pkg/calc.py", "tests/test_calc.py::test_value") == {2}
    (root / "pkg" / "calc.py").write_text("def value():\n    x = 21\n    return x + 1\n")
    second = Ran(await session.run(["tests/test_calc.py::test_value"]), root=root)
    assert session.warm is not None and session.warm.forks == 2 and session.warm.starts <= 2
    assert second.outcomes() == {"tests/test_calc.py::test_value": "failed"}
    assert second.lines("pkg/calc.py", "tests/test_calc.py::test_value") == {2, 3}
    assert second.result.files[str(root / "pkg" / "calc.py")].statements == frozenset({1, 2, 3})


async def test_the_job_only_list_reaches_the_worker_state_in_both_paths(
        make_warm: MakeWarm, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = copy_fixture("warm_edit", tmp_path)
    record = tmp_path / "only.txt"
    monkeypatch.setenv("COVLENS_FIXTURE_ONLYFILE", str(record))
    config = config_mod.load(root).with_overrides(timeout=60.0)
    only = Selection(("tests/test_calc.py",), ("tests/test_calc.py::test_records_only",))
    for warm in (None, make_warm(root)):
        record.unlink(missing_ok=True)
        result = await Session(config, warm=warm).run(only)
        assert result.summary.state == COMPLETE
        assert record.read_text() == "tests/test_calc.py::test_records_only"
        record.unlink()
        await Session(config, warm=warm).run(["tests/test_calc.py"])
        assert record.read_text() == "None"


# -- cancelling a forked run (the misbehaving tests of test_runner_survival run forked too, as its "warm" driver)


async def test_cancel_kills_the_forked_run_and_keeps_the_earlier_results(make_warm: MakeWarm) -> None:
    warm = make_warm(FIXTURES / "hang")
    session = Session(fixture_config("hang", timeout=60.0), warm=warm)

    def cancel_when_the_hang_starts(event: ev.Event) -> None:
        if isinstance(event, ev.TestStarted) and event.nodeid.endswith("test_b_hangs"):
            session.cancel()

    ran = await run_fixture("hang", session=session, on_event=cancel_when_the_hang_starts)
    assert warm.forks == 1
    assert ran.state == CANCELLED
    assert ran.outcomes() == {"tests/test_hang.py::test_a_before": "passed"}
    assert all(process_gone(pid) for pid in ran.worker_pids())


async def test_cancelling_the_task_awaiting_a_forked_run_kills_it(make_warm: MakeWarm) -> None:
    warm = make_warm(FIXTURES / "hang")
    hanging: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    pids: list[int] = []

    def watch(event: ev.Event) -> None:
        if isinstance(event, ev.WorkerStarted):
            pids.append(event.pid)
        if isinstance(event, ev.TestStarted) and event.nodeid.endswith("test_b_hangs"):
            hanging.set_result(0)

    task = asyncio.ensure_future(run_fixture("hang", session=Session(fixture_config("hang"), warm=warm),
                                             on_event=watch))
    await hanging
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert pids and all(process_gone(pid) for pid in pids)


# -- restarts ---------------------------------------------------------------------------------------------------


async def test_invalidate_restarts_the_warm_worker_for_the_next_run(make_warm: MakeWarm) -> None:
    warm = make_warm(FIXTURES / "basic")
    config = fixture_config("basic", timeout=60.0)
    assert await warm.prepare(config)
    first = warm.pid
    await run_warm("basic", warm, ["tests/test_calc.py::test_add"])
    warm.set_preload(warm.preload)  # unchanged: no restart
    assert warm.pid == first
    warm.invalidate()
    assert warm.pid is None
    ran = await run_warm("basic", warm, ["tests/test_calc.py::test_add"])
    assert ran.outcomes() == {"tests/test_calc.py::test_add": "passed"}
    assert warm.pid not in (None, first) and warm.forks == 2
    assert process_gone(first)  # retired: it exits once its runs are over


async def test_a_changed_config_interpreter_or_environment_restarts_the_warm_worker(
        make_warm: MakeWarm, monkeypatch: pytest.MonkeyPatch) -> None:
    warm = make_warm(FIXTURES / "basic")
    config = fixture_config("basic", timeout=60.0)
    assert await warm.prepare(config)
    first = warm.pid
    assert await warm.prepare(config)
    assert warm.pid == first and warm.starts == 1
    assert await warm.prepare(config.with_overrides(contexts=False))
    second = warm.pid
    assert second != first and warm.starts == 2
    same_interpreter = os.path.join(os.path.dirname(sys.executable), ".", os.path.basename(sys.executable))
    assert await warm.prepare(config.with_overrides(contexts=False), python=same_interpreter)
    third = warm.pid
    assert third != second and warm.starts == 3
    monkeypatch.setenv("COVLENS_FIXTURE_SETTING", "changed")  # a cold worker would see it: so must a forked run
    assert await warm.prepare(config.with_overrides(contexts=False), python=same_interpreter)
    assert warm.pid != third and warm.starts == 4


async def test_installing_a_package_restarts_the_warm_worker(make_warm: MakeWarm, tmp_path: Path) -> None:
    site_dir = tmp_path / "site-packages"
    site_dir.mkdir()
    env = {**os.environ, "PYTHONPATH": str(site_dir)}  # a folder named site-packages on sys.path is watched
    warm = make_warm(FIXTURES / "basic", env=env)
    config = fixture_config("basic", timeout=60.0)
    assert await warm.prepare(config)
    first = warm.pid
    os.utime(site_dir, ns=(time.time_ns(), os.stat(site_dir).st_mtime_ns + 1_000_000_000))
    assert await warm.prepare(config)
    assert warm.pid != first and warm.starts == 2


async def test_a_killed_warm_worker_is_replaced_on_the_next_run(make_warm: MakeWarm) -> None:
    warm = make_warm(FIXTURES / "basic")
    assert await warm.prepare(fixture_config("basic", timeout=60.0))
    first = warm.pid
    assert first is not None
    os.kill(first, signal.SIGKILL)
    assert process_gone(first)
    ran = await run_warm("basic", warm, ["tests/test_calc.py::test_add"])
    assert ran.outcomes() == {"tests/test_calc.py::test_add": "passed"}
    assert warm.starts == 2 and warm.forks == 1 and warm.pid != first


@pytest.mark.skipif(not hasattr(os, "pidfd_open"), reason="the fixture waits on a pidfd (Linux)")
async def test_a_run_outlives_its_warm_worker_being_killed(make_warm: MakeWarm) -> None:
    warm = make_warm(FIXTURES / "warm_orphan")
    session = Session(fixture_config("warm_orphan", timeout=60.0), warm=warm)

    def kill_the_warm_worker(event: ev.Event) -> None:
        if isinstance(event, ev.TestStarted) and event.nodeid.endswith("test_a_outlives_the_warm_worker"):
            assert warm.pid is not None
            os.kill(warm.pid, signal.SIGKILL)

    ran = await run_fixture("warm_orphan", session=session, on_event=kill_the_warm_worker)
    assert ran.state == COMPLETE
    assert ran.outcomes() == {"tests/test_orphan.py::test_a_outlives_the_warm_worker": "passed",
                              "tests/test_orphan.py::test_b_after": "passed"}
    assert all(process_gone(pid) for pid in ran.worker_pids())


def test_the_warm_worker_exits_when_the_server_dies() -> None:
    script = (
        "import asyncio, os, sys\n"
        "from covlens import config\n"
        "from covlens.runner.warm import WarmWorker\n"
        "async def main():\n"
        f"    root = {str(FIXTURES / 'basic')!r}\n"
        "    warm = WarmWorker(sys.executable, root)\n"
        "    assert await warm.prepare(config.load(root))\n"
        "    print(warm.pid, flush=True)\n"
        "    os._exit(0)  # no close(): the server is gone, its end of the control socket with it\n"
        "asyncio.run(main())\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert process_gone(int(proc.stdout))


# -- falling back to a cold run -------------------------------------------------------------------------------


async def test_a_missing_interpreter_falls_back_to_cold_and_says_what_to_check(make_warm: MakeWarm) -> None:
    missing = str(FIXTURES / "no-such-python")
    warm = make_warm(FIXTURES / "basic", python=missing)
    result = await Session(fixture_config("basic"), python=missing, warm=warm).run()
    assert result.summary.state == ERROR
    assert "could not start the test worker" in result.summary.message
    assert "interpreter" in result.summary.message
    assert warm.starts == 0 and warm.forks == 0


async def test_a_warm_worker_that_cannot_start_falls_back_to_cold_with_one_warning(
        make_warm: MakeWarm, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    python = tmp_path / "python"
    python.write_text("#!/bin/sh\n"
                      'for arg in "$@"; do [ "$arg" = --warm ] && { echo "no warm worker here" >&2; exit 3; }; done\n'
                      f'exec {sys.executable} "$@"\n')
    python.chmod(0o755)
    warm = make_warm(FIXTURES / "basic", python=str(python))
    session = Session(fixture_config("basic", timeout=60.0), python=str(python), warm=warm)
    with caplog.at_level(logging.WARNING, logger="covlens.runner.warm"):
        first = Ran(await session.run(["tests/test_calc.py::test_add"]))
        second = Ran(await session.run(["tests/test_calc.py::test_add"]))
    for ran in (first, second):
        assert ran.state == COMPLETE
        assert ran.outcomes() == {"tests/test_calc.py::test_add": "passed"}
    assert warm.starts == 1 and warm.forks == 0  # not started again for each run
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "exited with code 3" in warnings[0] and "no warm worker here" in warnings[0]


async def test_a_project_without_pytest_falls_back_to_cold_which_says_how_to_install_it(
        make_warm: MakeWarm, tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = str(venv / "bin" / "python")
    warm = make_warm(FIXTURES / "basic", python=python)
    result = await Session(fixture_config("basic", timeout=60.0), python=python, warm=warm).run()
    assert result.summary.state == ERROR
    assert "pip install pytest" in result.summary.message
    assert warm.forks == 0


def test_the_warm_worker_started_by_hand_says_it_needs_the_server() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("COVLENS_")}
    proc = subprocess.run([sys.executable, "-m", "covlens.runner.worker", "--warm"], capture_output=True, text=True,
                          env=env, timeout=60)
    assert proc.returncode == 70
    assert "started by covlens's server" in proc.stderr
