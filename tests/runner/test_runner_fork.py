"""`covlens run` forks its test worker from itself; the child is indistinguishable from a spawned worker."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from covlens.runner.fork_start import NO_FORK_ENV
from tests.runner.conftest import FIXTURES

PROJECT = FIXTURES / "fidelity"


def _cli_run(tmp_path: Path, tag: str, **env: str) -> tuple[dict[str, Any], dict[str, Any], str]:
    """`python -m covlens run` on a fresh copy of the fixture: what its test saw of its process, the JSON report,
    the output, with the copy's path written as P. A copy each: no store or code cache left by an earlier run
    (another Python, another covlens) makes one run differ from the other."""
    project = tmp_path / tag / "fidelity"
    shutil.copytree(PROJECT, project, ignore=shutil.ignore_patterns("__pycache__", ".covlens"))
    state, report = tmp_path / f"{tag}-state.json", tmp_path / f"{tag}-report.json"
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "COVLENS_"))}
    environ.update(env, COVLENS_FIXTURE_STATE=str(state))
    done = subprocess.run([sys.executable, "-m", "covlens", "run", str(project), "--json", str(report)],
                          env=environ, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    seen, written = (_replace_paths(json.loads(f.read_text()), str(project), "P") for f in (state, report))
    return seen, written, done.stdout.replace(str(project), "P")


def test_the_forked_worker_is_the_spawned_worker_seen_from_inside_and_reports_the_same(tmp_path: Path) -> None:
    forked, forked_report, forked_out = _cli_run(tmp_path, "forked")
    spawned, spawned_report, spawned_out = _cli_run(tmp_path, "spawned", **{NO_FORK_ENV: "0"})
    # The one thing a fork cannot change: the kernel's record of the command line (what `ps` shows).
    assert forked.pop("cmdline")[:3] == [sys.executable, "-m", "covlens"]
    assert spawned.pop("cmdline")[:3] == [sys.executable, "-m", "covlens.runner.worker"]
    spawned["environ"].pop(NO_FORK_ENV)
    for seen in (forked, spawned):
        seen["environ"].pop("COVLENS_FIXTURE_STATE")  # a file of each run's own
        seen["fds"].sort()  # the same open files and pipes; their numbers are whatever the CLI's pipes got
    assert forked == spawned
    assert forked["main"][0] == "covlens.runner.worker" and forked["group_leader"] and forked["stdin"] == "/dev/null"
    assert forked["startup_frozen"]  # its start-up objects are out of the collector's sight; its tests' are not
    assert forked_report["files"] == spawned_report["files"]  # lines hit, per file and per test
    assert forked_report["totals"] == spawned_report["totals"]
    assert forked_report["covlens"]["decisions"] == spawned_report["covlens"]["decisions"]
    outcomes = [{nodeid: t["outcome"] for t in report["covlens"]["tests"] for nodeid in [t["nodeid"]]}
                for report in (forked_report, spawned_report)]
    assert outcomes[0] == outcomes[1] and set(outcomes[0].values()) == {"passed"}
    duration = re.compile(r" in \d+\.\d+s")  # pytest's closing line says how long it took
    assert (duration.sub("", forked_out).replace("forked-report", "report")
            == duration.sub("", spawned_out).replace("spawned-report", "report"))


def test_the_cli_spawns_when_forking_would_not_give_a_spawned_workers_process(monkeypatch) -> None:
    from covlens.runner import fork_start

    # At start-up: the state of the CLI's process (its standby child would inherit it).
    monkeypatch.setattr(sys, "orig_argv", [sys.executable, "-X", "importtime", "-m", "covlens", "run"])
    assert "options" in (fork_start.refusal() or "")
    monkeypatch.setattr(sys, "orig_argv", [sys.executable, "-m", "cProfile", "-m", "covlens", "run"])
    assert "not its own program" in (fork_start.refusal() or "")
    monkeypatch.setattr(sys, "orig_argv", [sys.executable, "-m", "covlens", "run"])
    monkeypatch.setenv(NO_FORK_ENV, "0")
    assert NO_FORK_ENV in (fork_start.refusal() or "")
    monkeypatch.delenv(NO_FORK_ENV)
    previous = sys.gettrace()
    sys.settrace(lambda *args: None)
    try:
        assert "tracer or profiler" in (fork_start.refusal() or "")
    finally:
        sys.settrace(previous)
    # At the run: whether it can take the standby child.
    monkeypatch.setattr(fork_start, "_baseline", None)
    assert "did not import the worker first" in (fork_start.unavailable(sys.executable) or "")
    monkeypatch.setattr(fork_start, "_baseline", frozenset(sys.modules))
    monkeypatch.setattr(fork_start, "_refusal", "the CLI runs threads")
    assert fork_start.unavailable(sys.executable) == "the CLI runs threads"
    monkeypatch.setattr(fork_start, "_standby", fork_start._Standby(os.getpid(), -1, -1, -1))
    assert "another interpreter" in (fork_start.unavailable("/bin/sh") or "")
    assert fork_start.unavailable(sys.executable) is None


def test_a_cli_that_never_runs_its_tests_leaves_no_standby_child(tmp_path: Path) -> None:
    # A configuration error ends the CLI before its run: the child forked at start-up must end with it.
    (tmp_path / "pyproject.toml").write_text("[tool.covlens]\nsource = [\"missing\"]\n")
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "COVLENS_"))}
    script = ("import os, subprocess, sys\n"
              "cli = subprocess.Popen([sys.executable, '-m', 'covlens', 'run', sys.argv[1]], stdout=subprocess.PIPE,"
              " stderr=subprocess.STDOUT)\n"
              "out = cli.stdout.read()\n"  # EOF: the CLI and every process holding its output are gone
              "print(cli.wait(), out.decode())\n")
    done = subprocess.run([sys.executable, "-c", script, str(tmp_path)], env=environ, capture_output=True,
                          text=True, timeout=60)
    code, _, output = done.stdout.partition(" ")
    assert code == "2" and "invalid configuration" in output and "pyproject.toml" in output


def _replace_paths(tree: Any, old: str, new: str) -> Any:
    """`tree` (JSON data) with `old` replaced by `new` in every string and key."""
    if isinstance(tree, str):
        return tree.replace(old, new)
    if isinstance(tree, list):
        return [_replace_paths(item, old, new) for item in tree]
    if isinstance(tree, dict):
        return {_replace_paths(k, old, new): _replace_paths(v, old, new) for k, v in tree.items()}
    return tree
