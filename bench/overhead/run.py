#!/usr/bin/env python3
"""Overhead of measuring: plain pytest vs covlens (AST, monitor), coverage.py and slipcover, round-robin.

    python bench/overhead/run.py --runs 5 --pythons 3.11 3.13 --out bench/RESULTS.md

Needs only a Python 3.10+ to start it and the requested interpreters (found by scripts/find-python). It creates
bench/.work/venv-X.Y with the pinned tools and covlens (editable), downloads the toolz and boltons sdists (with
scripts/fetch_sdist.py), copies the three suites under bench/.work/projects/, then runs every configuration of
every suite on every Python once per round, rotating the order each round, for --runs rounds (plus a warm-up run
of plain pytest). It writes the raw samples to bench/.work/overhead-raw.json and the tables to --out.
See bench/README.md for what is measured and how to read it.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import envs  # noqa: E402
import report  # noqa: E402
from configs import BY_NAME, PLUGINS, SUITES, Config, Suite, configs_for  # noqa: E402
from timed import run_timed  # noqa: E402

RUN_TIMEOUT = 600.0  # seconds; one run of one suite, only to stop a hang


@dataclass
class Sample:
    """One timed run of one configuration on one suite."""

    python: str
    suite: str
    config: str
    round: int
    wall: float  # seconds, whole process (for covlens: the CLI, its worker, the store and the report)
    cpu: float  # user+sys seconds of the process and its waited-for children
    returncode: int
    per_test: dict[str, dict[str, float]]  # nodeid -> {"wall", "cpu"} of the call phase (our workloads only)
    log: str
    session: dict[str, float] = field(default_factory=dict)  # {"wall", "cpu"} inside pytest (toolz, boltons)


@dataclass
class Project:
    env: envs.Env
    suite: Suite
    folder: Path
    pyproject: str  # the original text; each run appends its own [tool.covlens]


def run_once(project: Project, config: Config, round_no: int, logs: Path) -> Sample:
    folder = project.folder
    envs.clean_outputs(folder)
    (folder / "pyproject.toml").write_text(project.pyproject + config.covlens_table(project.suite), encoding="utf-8")
    tag = f"{project.env.version}-{project.suite.name}-{config.name}-r{round_no}"
    out = logs / f"{tag}.out"
    timings = logs / f"{tag}.timings.json"
    session = logs / f"{tag}.session.json"
    for stale in (out, timings, session):
        stale.unlink(missing_ok=True)
    env = envs.base_env()
    env.update(config.env)
    if project.suite.per_test:
        env["BENCH_TIMINGS"] = str(timings)
    if project.suite.session:
        env["BENCH_SESSION"] = str(session)
        env["PYTHONPATH"] = str(PLUGINS)
    command = config.command(project.env.python, project.suite, folder, out)
    log = logs / f"{tag}.log"
    result = run_timed(command, folder, env, log, RUN_TIMEOUT)
    per_test = json.loads(timings.read_text()) if timings.is_file() else {}
    inside = json.loads(session.read_text()) if session.is_file() else {}
    return Sample(project.env.version, project.suite.name, config.name, round_no, result.wall, result.cpu,
                  result.returncode, per_test, str(log.relative_to(envs.REPO)), inside)


def log_tail(path: str, lines: int = 12) -> str:
    text = (envs.REPO / path).read_text(errors="replace")
    return "\n".join(text.rstrip().splitlines()[-lines:])


def failure_summary(path: str) -> str:
    """The lines that say why a run failed: pytest's FAILED/ERROR lines and exceptions, else the log's tail."""
    lines = (envs.REPO / path).read_text(errors="replace").splitlines()
    starts = ("FAILED", "ERROR", "INTERNALERROR>", "E   ")
    wanted = [line.strip() for line in lines if line.startswith(starts) or "Error:" in line or "Warning:" in line]
    return "\n".join(dict.fromkeys(wanted[-6:])) if wanted else log_tail(path)


def prepare(versions: list[str], suites: list[str]) -> list[Project]:
    projects = []
    for version in versions:
        env = envs.ensure_env(version, log=lambda m: print(f"bench: {m}", flush=True))
        for name in suites:
            suite = SUITES[name]
            source = envs.WORKLOADS if name == "workloads" else envs.sdist_tree(name, env.python)
            folder = envs.project_copy(source, env, name)
            projects.append(Project(env, suite, folder, (folder / "pyproject.toml").read_text(encoding="utf-8")))
    return projects


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5, help="timed rounds; every configuration runs once per round")
    parser.add_argument("--pythons", nargs="+", default=["3.11", "3.13"], metavar="X.Y")
    parser.add_argument("--suites", nargs="+", default=list(SUITES), choices=list(SUITES))
    parser.add_argument("--configs", nargs="+", choices=sorted(BY_NAME), metavar="NAME",
                        help=f"only these (plain always runs); default: all that the Python supports. "
                             f"Names: {', '.join(BY_NAME)}")
    parser.add_argument("--out", type=Path, default=envs.BENCH / "RESULTS.md", help="the Markdown report")
    parser.add_argument("--raw", type=Path, default=envs.WORK / "overhead-raw.json", help="raw samples (JSON)")
    parser.add_argument("--note", action="append", default=[], metavar="TEXT",
                        help="a sentence printed under Notes in the report (repeatable)")
    parser.add_argument("--report-only", action="store_true",
                        help="re-render --out from the --raw samples of an earlier run (with its --note), no runs")
    args = parser.parse_args(argv)
    if args.report_only:
        raw = json.loads(args.raw.read_text())
        raw["notes"] = raw.get("notes", []) + args.note
        args.raw.write_text(json.dumps(raw, indent=1))
        envs.write_results(args.out, report.render(raw))
        print(f"bench: wrote {args.out} from {args.raw}")
        return 0
    command_line = "python bench/overhead/run.py " + " ".join(sys.argv[1:] if argv is None else argv)

    started = time.time()
    machine_before = report.machine()
    projects = prepare(args.pythons, args.suites)
    logs = envs.WORK / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    plan = {(p.env.version, p.suite.name): configs_for(p.env.version, p.env.monitoring, args.configs)
            for p in projects}

    # Warm-up, discarded: plain pytest once per suite and Python writes the .pyc files every later run reuses, and
    # one covlens run per engine its code cache (a user's second run finds both warm; a fresh copy has neither).
    for project in projects:
        engines = {c.engine: c for c in plan[(project.env.version, project.suite.name)] if c.tool == "covlens"}
        for config in [BY_NAME["plain"], *engines.values()]:
            sample = run_once(project, config, 0, logs)
            print(f"bench: warm-up {project.env.version} {project.suite.name} {config.name}: {sample.wall:.1f}s "
                  f"exit {sample.returncode}", flush=True)

    samples: list[Sample] = []
    for round_no in range(1, args.runs + 1):
        for project in projects:
            key = (project.env.version, project.suite.name)
            configs = plan[key]
            shift = (round_no - 1) % len(configs)
            for config in configs[shift:] + configs[:shift]:  # rotate: no configuration always runs first
                sample = run_once(project, config, round_no, logs)
                samples.append(sample)
                status = "" if sample.returncode == 0 else f" exit {sample.returncode}"
                print(f"bench: r{round_no} {key[0]} {key[1]:9} {config.name:22} {sample.wall:6.2f}s wall "
                      f"{sample.cpu:6.2f}s cpu{status}", flush=True)

    # A configuration failed when any of its runs ended differently from plain pytest's first run (plain: when
    # it failed). It is still timed every round; the report marks it and no target counts it.
    plain_codes = {(s.python, s.suite): s.returncode for s in reversed(samples) if s.config == "plain"}
    failed: dict[tuple[str, str, str], Sample] = {}
    for s in samples:
        key3 = (s.python, s.suite, s.config)
        expected = 0 if s.config == "plain" else plain_codes.get((s.python, s.suite), 0)
        if s.returncode != expected and key3 not in failed:
            failed[key3] = s
            print(f"bench: {'/'.join(key3)} FAILED (exit {s.returncode}); log {s.log}:\n{log_tail(s.log)}",
                  flush=True)

    finished = time.time()
    raw = {
        "command": command_line,
        "started": started,
        "finished": finished,
        "machine_before": machine_before,
        "machine_after": report.machine(),
        "pythons": {p.env.version: report.python_info(p.env) for p in projects},
        "versions": {"toolz": envs.sdist_version("toolz"), "boltons": envs.sdist_version("boltons"),
                     "pins": list(envs.PINS), "covlens": report.git_describe()},
        "plan": {f"{v}/{s}": [c.name for c in cs] for (v, s), cs in plan.items()},
        "failures": {"/".join(k): {"returncode": s.returncode, "log": s.log, "tail": failure_summary(s.log)}
                     for k, s in failed.items()},
        "notes": list(args.note),
        "samples": [asdict(s) for s in samples],
    }
    args.raw.parent.mkdir(parents=True, exist_ok=True)
    args.raw.write_text(json.dumps(raw, indent=1))
    envs.write_results(args.out, report.render(raw))
    print(f"bench: wrote {args.out} and {args.raw} in {(finished - started) / 60:.1f} min", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
