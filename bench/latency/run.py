#!/usr/bin/env python3
"""Save-to-gutter latency and the server under load: covlens serve vs pytest-watcher + pytest-cov.

    python bench/latency/run.py --edits 20 --out bench/RESULTS.md

Needs only a Python 3.10+ to start it and the interpreter for --python (found by scripts/find-python). It creates
bench/.work/venv-latency-X.Y (the overhead benchmark's pins plus pytest-cov and pytest-watcher, covlens editable),
generates the project (bench/latency/generate.py) under bench/.work/latency/project, times a full plain pytest
run (after a warm-up run) and a `covlens run`, then:

1. starts `covlens serve` (stdio) and drives it as an editor would: for each edit, change the buffer, write the
   file, send didSave, and time the file's fresh covlens/fileCoverage, the end of that run and the return to
   idle; hover and code lens requests are timed while runs are going, and the server's RSS sampled throughout;
2. restores the project and runs `ptw --now --patterns '**/*.py' . --cov=latproj --cov-report=lcov -q` on it,
   timing the same edits to a complete coverage.lcov with the new line hit and to pytest's closing line.

It writes the raw results to bench/.work/latency-raw.json and sections 2 and 3 of --out (other sections are
kept). Logs: bench/.work/logs/latency-*. See bench/README.md for what is measured and how to read it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "overhead"))

import envs  # noqa: E402  (bench/overhead: venvs, base environment, results file)
import report as overhead_report  # noqa: E402  (bench/overhead: machine description)
import tables  # noqa: E402
from generate import DEFAULT_WORK, Generated, generate, pick_edits  # noqa: E402
from serverphase import ServerPhase, ServerResult  # noqa: E402
from timed import run_timed  # noqa: E402  (bench/overhead)
from watcherphase import WatcherPhase, WatchResult  # noqa: E402

# Pinned like the overhead benchmark's tools, in a venv of their own so that its measurements never load them.
# watchdog too: with watchdog 7.1, pytest-watcher 0.6.3 (the latest) is handed its events' paths as bytes, calls each
# one "not under watched root" and never re-runs; 7.0.0 is the last it works with.
EXTRA_PINS = ("pytest-cov==7.1.0", "pytest-watcher==0.6.3", "watchdog==7.0.0")
VENV_NAME = "venv-latency"
PROJECT = envs.WORK / "latency" / "project"
LOGS = envs.WORK / "logs"


def say(message: str) -> None:
    print(f"bench: {message}", flush=True)


# ----------------------------------------------------------------------------------------------- facts


def python_facts(env: envs.Env) -> dict[str, Any]:
    """Versions of the interpreter and the tools in the venv, and coverage.py's default core there."""
    script = ("import sys, importlib.metadata as m, coverage\n"
              "c = coverage.Coverage(data_file=None); c.start(); c.stop()\n"
              "print(sys.version.split()[0])\n"
              "print(*(m.version(p) for p in ('pytest', 'coverage', 'pytest-cov', 'pytest-watcher', 'covlens')))\n"
              "print(dict(c.sys_info()).get('core', 'unknown'))\n")
    out = subprocess.run([env.python, "-c", script], capture_output=True, text=True, env=envs.base_env(),
                         cwd=envs.WORK, timeout=120)
    lines = out.stdout.splitlines()
    if out.returncode != 0 or len(lines) < 3:
        return {"executable": env.base, "version": "?", "error": out.stderr.strip()[-500:]}
    names = ("pytest", "coverage", "pytest-cov", "pytest-watcher", "covlens")
    return {"executable": env.base, "version": lines[0], **dict(zip(names, lines[1].split())),
            "coverage_core": lines[2]}


def covlens_commit() -> str:
    """The checkout's commit, read from .git without running git (short hash; 'unknown' if there is none)."""
    git = envs.REPO / ".git"
    try:
        head = (git / "HEAD").read_text().strip()
        if not head.startswith("ref: "):
            return head[:7]
        ref = head[5:]
        if (git / ref).is_file():
            return (git / ref).read_text().strip()[:7]
        for line in (git / "packed-refs").read_text().splitlines():
            if line.endswith(" " + ref):
                return line.split()[0][:7]
    except OSError:
        pass
    return "unknown"


def timed(command: list[str], cwd: Path, log: Path, timeout: float) -> dict[str, Any]:
    """Run `command` to its end: wall and CPU (user+sys of the process tree) seconds, exit code."""
    result = run_timed(command, cwd, envs.base_env(), log, timeout)
    return {"wall": result.wall, "cpu": result.cpu, "returncode": result.returncode,
            "log": str(log.relative_to(envs.REPO))}


# ----------------------------------------------------------------------------------------------- steps


def prepare(args: argparse.Namespace) -> tuple[envs.Env, Generated]:
    env = envs.ensure_env(args.python, log=say, extra=EXTRA_PINS, name=VENV_NAME)
    info = generate(PROJECT, modules=args.modules, functions_per_module=args.functions,
                    tests_per_module=args.tests_per_module, work=args.work, seed=args.seed)
    say(f"generated {info.modules} modules, {info.tests} tests in {info.root}")
    return env, info


def baselines(env: envs.Env, info: Generated, timeout: float) -> dict[str, Any]:
    """A warm-up plain run (writes the .pyc files), a timed plain run, and `covlens run` (fills the store)."""
    pytest = [env.python, "-m", "pytest", "-q"]
    warm = timed(pytest, info.root, LOGS / "latency-plain-warmup.log", timeout)
    say(f"plain pytest warm-up: {warm['wall']:.1f} s, exit {warm['returncode']}")
    plain = timed(pytest, info.root, LOGS / "latency-plain.log", timeout)
    say(f"plain pytest: {plain['wall']:.1f} s wall, {plain['cpu']:.1f} s CPU, exit {plain['returncode']}")
    if plain["returncode"] != 0:
        raise SystemExit(f"bench: plain pytest failed on the generated project; see {plain['log']}")
    covlens = str(Path(env.python).parent / "covlens")
    cli = timed([covlens, "run", "--quiet", "."], info.root, LOGS / "latency-covlens-run.log", timeout)
    say(f"covlens run: {cli['wall']:.1f} s wall, exit {cli['returncode']}")
    return {"warmup": warm, "plain": plain, "covlens_run": cli}


def restore(info: Generated, originals: dict[str, str]) -> None:
    for rel, text in originals.items():
        (info.root / rel).write_text(text)


async def measure(env: envs.Env, info: Generated, args: argparse.Namespace,
                  edits: list[Any]) -> tuple[ServerResult, WatchResult]:
    originals = {f.path: (info.root / f.path).read_text() for f in edits}
    bin_dir = Path(env.python).parent
    options = {"debounceMs": args.debounce_ms} if args.debounce_ms is not None else None
    with (LOGS / "latency-server.log").open("w") as stderr, (LOGS / "latency-lsp.log").open("w") as lsp_log:
        command = [str(bin_dir / "covlens"), "serve", "--log-level", "INFO"]
        phase = ServerPhase(command, info.root, envs.base_env(), edits, args.timeout,
                            args.quiet, args.probe_gap, options, stderr, lsp_log, say)
        say("covlens serve: starting")
        server = await phase.run()
    restore(info, originals)
    watcher = WatchResult()
    if not args.no_watcher:
        with (LOGS / "latency-ptw.log").open("w") as ptw_log:
            alt = WatcherPhase(bin_dir, info.root, info.package, envs.base_env(), edits, args.timeout, args.quiet,
                               ptw_log, say)
            say("ptw: starting")
            watcher = await alt.run()
        restore(info, originals)
    return server, watcher


def write(raw: dict[str, Any], out: Path, raw_path: Path) -> None:
    raw_path.parent.mkdir(parents=True, exist_ok=True)
    raw_path.write_text(json.dumps(raw, indent=1))
    envs.write_results(out, tables.render(raw))
    say(f"wrote sections 2 and 3 of {out} and {raw_path}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--edits", type=int, default=20, help="one-function edits, timed for both tools")
    parser.add_argument("--python", default="3.13", metavar="X.Y", help="the Python of the venv (default 3.13)")
    parser.add_argument("--modules", type=int, default=200, help="modules of the generated project")
    parser.add_argument("--functions", type=int, default=5, help="functions per module")
    parser.add_argument("--tests-per-module", type=int, default=10)
    parser.add_argument("--work", type=int, default=DEFAULT_WORK, help="loop rounds per function (CPU per test)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--timeout", type=float, default=900.0,
                        help="seconds any one wait may take (a full run with coverage must fit)")
    parser.add_argument("--quiet", type=float, default=1.5,
                        help="seconds with no new run (covlens) or output (ptw) before a tool counts as idle")
    parser.add_argument("--probe-gap", type=float, default=0.05, help="seconds between hover/codeLens requests")
    parser.add_argument("--debounce-ms", type=int, help="covlens debounceMs (default: the server's own)")
    parser.add_argument("--no-watcher", action="store_true", help="skip the ptw + pytest-cov half (development)")
    parser.add_argument("--out", type=Path, default=envs.BENCH / "RESULTS.md", help="the Markdown report")
    parser.add_argument("--raw", type=Path, default=envs.WORK / "latency-raw.json", help="raw results (JSON)")
    parser.add_argument("--note", action="append", default=[], metavar="TEXT",
                        help="a sentence printed under Notes in section 2 (repeatable)")
    parser.add_argument("--report-only", action="store_true",
                        help="re-render --out from the --raw results of an earlier run (with its --note), no runs")
    args = parser.parse_args(argv)
    if args.report_only:
        raw = json.loads(args.raw.read_text())
        raw["notes"] = raw.get("notes", []) + args.note
        write(raw, args.out, args.raw)
        return 0
    if args.edits < 1:
        parser.error("--edits must be at least 1")
    command = "python bench/latency/run.py " + " ".join(sys.argv[1:] if argv is None else argv)
    LOGS.mkdir(parents=True, exist_ok=True)
    started = time.time()
    commit = covlens_commit()  # the server runs the code checked out now: a commit made during the run is not it
    machine = overhead_report.machine()
    env, info = prepare(args)
    project = {**info.to_json(), **baselines(env, info, args.timeout)}
    edits = pick_edits(info, args.edits)
    server, watcher = asyncio.run(measure(env, info, args, edits))
    raw = {
        "command": command, "started": started, "finished": time.time(),
        "machine_before": machine, "machine_after": overhead_report.machine(),
        "python": python_facts(env), "covlens_commit": _moved(commit, covlens_commit()), "project": project,
        "settings": {"initialization_options": {"debounceMs": args.debounce_ms} if args.debounce_ms is not None
                     else None, "quiet": args.quiet, "probe_gap": args.probe_gap,
                     "timeout": args.timeout, "watcher": not args.no_watcher},
        "edits": [asdict(f) for f in edits],
        "server": server.to_json(), "watcher": watcher.to_json(), "notes": list(args.note),
    }
    write(raw, args.out, args.raw)
    failed = (server.errors or watcher.errors or any(e.error for e in server.edits)
              or any(e.error for e in watcher.edits))
    return 1 if failed else 0


def _moved(at_start: str, at_end: str) -> str:
    """The commit measured, and the one the checkout moved to during the run if it did."""
    if at_start == at_end:
        return at_start
    return f"{at_start} (checked out at the start; {at_end} was committed during the run and is not what ran)"


if __name__ == "__main__":
    sys.exit(main())
