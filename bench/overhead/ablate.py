#!/usr/bin/env python3
"""Where covlens's overhead goes: toolz and boltons inside pytest, with parts of covlens switched off, round-robin.

    python bench/overhead/ablate.py --runs 15 --out bench/RESULTS.md

Uses the environments and suite copies of bench/overhead/run.py (made on first use). On one Python with
sys.monitoring (3.13 by default), each round runs every variant of each suite once, in a rotated order: plain
pytest, coverage.py's sysmon core, covlens (monitor engine, contexts off; and on), and covlens with its LINE events,
its import hook, its pytest plugin, or both of the latter switched off (plugins/ablate/sitecustomize.py). The
differences of the medians say what each part costs. Writes section 4 of --out; see bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import envs  # noqa: E402
import paired  # noqa: E402
import report  # noqa: E402
import run as overhead  # noqa: E402
from configs import BY_NAME, PLUGINS, Config  # noqa: E402
from timed import run_timed  # noqa: E402

ABLATE = PLUGINS / "ablate"
SUITES = ("toolz", "boltons")


@dataclass(frozen=True)
class Variant:
    """One way of running a suite: a configuration of run.py, and the parts of covlens switched off."""

    name: str
    label: str
    config: Config
    off: tuple[str, ...] = ()


MONITOR = BY_NAME["covlens-monitor-noctx"]
VARIANTS = (
    Variant("plain", "plain pytest", BY_NAME["plain"]),
    Variant("coverage-sysmon", "coverage.py, sysmon core", BY_NAME["coverage-sysmon"]),
    Variant("covlens", "covlens (monitor, contexts off)", MONITOR),
    Variant("covlens-contexts", "covlens, contexts on", BY_NAME["covlens-monitor"]),
    Variant("no-events", "no LINE events", MONITOR, ("events",)),
    Variant("no-hook", "no import hook", MONITOR, ("hook",)),
    Variant("no-plugin", "no pytest plugin", MONITOR, ("plugin",)),
    Variant("bare", "neither hook nor plugin", MONITOR, ("hook", "plugin")),
)
# (what it is, the variant with it, the variant without it): each part's cost is the median of their per-round
# differences.
PARTS = (
    ("covlens in all, contexts off", "covlens", "plain"),
    ("its LINE events (CPython's instrumentation and covlens's callback)", "covlens", "no-events"),
    ("its import hook, besides the events (finder, decisions, code cache)", "no-events", "no-hook"),
    ("its pytest plugin (per-test outcomes, the session's end)", "covlens", "no-plugin"),
    ("the worker without hook or plugin (forked from the CLI)", "bare", "plain"),
    ("per-test contexts (contexts on against off)", "covlens-contexts", "covlens"),
    ("for reference: coverage.py's sysmon core in all", "coverage-sysmon", "plain"),
)


def prepare(project: overhead.Project, variant: Variant) -> None:
    """The project folder as `variant` runs in it: earlier outputs gone, its [tool.covlens] table written."""
    envs.clean_outputs(project.folder)
    table = variant.config.covlens_table(project.suite)
    (project.folder / "pyproject.toml").write_text(project.pyproject + table, encoding="utf-8")


def environment(variant: Variant, first: tuple[str, ...] = ()) -> dict[str, str]:
    """The environment `variant` runs with; `first`: folders ahead of everything on a covlens variant's path."""
    env = envs.base_env()
    env.update(variant.config.env)
    # Every covlens variant has the ablation's sitecustomize on its path (a no-op without COVLENS_BENCH_ABLATE).
    path = [*first, str(PLUGINS), str(ABLATE)] if variant.config.tool == "covlens" else [str(PLUGINS)]
    env["PYTHONPATH"] = ":".join(path)
    if variant.off:
        env["COVLENS_BENCH_ABLATE"] = ",".join(variant.off)
    return env


def run_once(project: overhead.Project, variant: Variant, round_no: int, logs: Path) -> dict[str, object]:
    folder = project.folder
    prepare(project, variant)
    tag = f"ablate-{project.env.version}-{project.suite.name}-{variant.name}-r{round_no}"
    session, out, log = logs / f"{tag}.session.json", logs / f"{tag}.out", logs / f"{tag}.log"
    session.unlink(missing_ok=True)
    env = environment(variant)
    env["BENCH_SESSION"] = str(session)
    result = run_timed(variant.config.command(project.env.python, project.suite, folder, out), folder, env, log,
                       overhead.RUN_TIMEOUT)
    inside = json.loads(session.read_text()) if session.is_file() else {}
    return {"suite": project.suite.name, "variant": variant.name, "round": round_no, "returncode": result.returncode,
            "cpu": inside.get("cpu"), "wall": inside.get("wall"), "log": str(log.relative_to(envs.REPO))}


def render(raw: dict[str, object]) -> str:
    samples = raw["samples"]
    m = raw["machine_before"]
    date = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(raw["started"]))
    info = raw["python"]
    out = ["# covlens benchmark results", "", "## 4. Where covlens's overhead goes (`bench/overhead/ablate.py`)", "",
           "Generated by `bench/overhead/ablate.py`; see `bench/README.md`.", "",
           f"- **Command:** `{raw['command']}`",
           f"- **Date:** {date} ({(raw['finished'] - raw['started']) / 60:.0f} min)",
           f"- **Machine:** {m.get('cpu_model', '?')}, {m.get('logical_cpus')} logical CPUs, load average at start "
           f"{' / '.join(m.get('loadavg', []))}, at end {' / '.join(raw['machine_after'].get('loadavg', []))}",
           f"- **covlens:** {raw['covlens']}; **Python {info['version']}**: pytest {info.get('pytest')}, "
           f"coverage {info.get('coverage')}; toolz {raw['toolz']}, boltons {raw['boltons']}",
           f"- **Rounds:** {raw['runs']}, every variant once per round in a rotated order. CPU time of the pytest "
           "process from just before its conftest files load to the end of its session (the *inside pytest* rows "
           "of section 1), median milliseconds.", ""]
    medians: dict[tuple[str, str], float] = {}
    failed = {(s["suite"], s["variant"]) for s in samples if s["returncode"] != raw["plain_codes"][s["suite"]]}
    for suite in SUITES:
        for variant in VARIANTS:
            values = [s["cpu"] for s in samples if s["suite"] == suite and s["variant"] == variant.name and s["cpu"]]
            if values:
                medians[suite, variant.name] = statistics.median(values) * 1000
    out += ["| suite | " + " | ".join(v.label for v in VARIANTS) + " | plain ±half-range |",
            "|---|" + "---:|" * (len(VARIANTS) + 1)]
    for suite in SUITES:
        plain = medians.get((suite, "plain"))
        cells = []
        for variant in VARIANTS:
            value = medians.get((suite, variant.name))
            mark = " **FAIL**" if (suite, variant.name) in failed else ""
            ratio = f" ({value / plain:.2f}×)" if value is not None and plain else ""
            cells.append("–" if value is None else f"{value:.0f}{ratio}{mark}")
        plains = [s["cpu"] for s in samples if s["suite"] == suite and s["variant"] == "plain" and s["cpu"]]
        half = (max(plains) - min(plains)) / 2 / statistics.median(plains) if len(plains) > 1 else None
        cells.append(f"±{half:.0%}" if half is not None else "–")
        out.append(f"| {suite} | " + " | ".join(cells) + " |")
    bad = [s for s in samples if s["returncode"] != raw["plain_codes"][s["suite"]]]
    if bad:
        out += ["", "**FAIL**: an exit status other than plain pytest's (its time is still counted):"]
        out += [f"- {s['suite']}, {s['variant']}, round {s['round']}: exit {s['returncode']}; {_first_failure(s)}"
                for s in bad]
    out += ["", "What each part costs, paired by round: in each round, the CPU time with the part less the time "
            "without it (both ran within a minute of each other), in ms and in percent of plain pytest's median; "
            "the median of those differences, and in brackets the interval that holds the true median with 95% "
            "confidence (from the ranks alone, as in section 1). An interval that spans 0 means that this run "
            "cannot tell the part from noise. The parts need not add up to the whole: a part can cost more or "
            "less when another is off (fewer objects for the collector to walk, for one).", "",
            "| part | " + " | ".join(SUITES) + " |", "|---|" + "---:|" * len(SUITES)]
    for text, with_it, without in PARTS:
        cells = []
        for suite in SUITES:
            plain = medians.get((suite, "plain"))
            a, b = (_by_round(samples, suite, name) for name in (with_it, without))
            diffs = [(a[r] - b[r]) * 1000 for r in sorted(a) if r in b]
            if not diffs or not plain:
                cells.append("–")
            else:
                median = statistics.median(diffs)
                iv = paired.median_interval(diffs)
                bracket = f" [{iv.low:+.0f}, {iv.high:+.0f}]" if iv else ""
                cells.append(f"{median:+.0f} ms ({median / plain:+.1%}){bracket}")
        out.append(f"| {text} | " + " | ".join(cells) + " |")
    return "\n".join(out) + "\n"


def _first_failure(sample: dict) -> str:
    """The first FAILED line of the run's log, or where the log is."""
    log = envs.REPO / sample["log"]
    try:
        lines = log.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        lines = []
    failed = [line.strip() for line in lines if line.startswith(("FAILED", "ERROR"))]
    return f"`{failed[0]}`" if failed else f"see `{sample['log']}`"


def _by_round(samples: list[dict], suite: str, variant: str) -> dict[int, float]:
    """round -> CPU time of `variant` on `suite` (rounds it failed to time are left out)."""
    return {s["round"]: s["cpu"] for s in samples if s["suite"] == suite and s["variant"] == variant and s["cpu"]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=15, help="timed rounds; every variant runs once per round")
    parser.add_argument("--python", default="3.13", metavar="X.Y", help="a Python with sys.monitoring (3.12+)")
    parser.add_argument("--out", type=Path, default=envs.BENCH / "RESULTS.md", help="the Markdown report")
    parser.add_argument("--raw", type=Path, default=envs.WORK / "ablate-raw.json", help="raw samples (JSON)")
    parser.add_argument("--report-only", action="store_true",
                        help="re-render --out from the --raw samples of an earlier run, no runs")
    args = parser.parse_args(argv)
    if args.report_only:
        envs.write_results(args.out, render(json.loads(args.raw.read_text())))
        print(f"ablate: wrote {args.out} from {args.raw}")
        return 0
    command_line = "python bench/overhead/ablate.py " + " ".join(sys.argv[1:] if argv is None else argv)
    started, machine_before = time.time(), report.machine()
    projects = overhead.prepare([args.python], list(SUITES))
    if not projects[0].env.monitoring:
        parser.error(f"Python {args.python} has no sys.monitoring: the variants switch off parts of the monitor engine")
    logs = envs.WORK / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    plain_codes = {}
    for project in projects:
        # Warm-up, discarded: plain pytest writes the .pyc files and covlens its code cache, which every later run
        # reuses (as a user's second run finds them). Plain's exit code is the norm.
        plain_codes[project.suite.name] = run_once(project, VARIANTS[0], 0, logs)["returncode"]
        run_once(project, VARIANTS[2], 0, logs)
    samples = []
    for round_no in range(1, args.runs + 1):
        shift = (round_no - 1) % len(VARIANTS)
        for project in projects:
            for variant in VARIANTS[shift:] + VARIANTS[:shift]:
                sample = run_once(project, variant, round_no, logs)
                samples.append(sample)
                print(f"ablate: r{round_no} {project.suite.name:8} {variant.name:17} "
                      f"{(sample['cpu'] or 0) * 1000:6.0f} ms cpu inside pytest, exit {sample['returncode']}",
                      flush=True)
    raw = {"command": command_line, "started": started, "finished": time.time(), "machine_before": machine_before,
           "machine_after": report.machine(), "python": report.python_info(projects[0].env),
           "covlens": report.git_describe(), "toolz": envs.sdist_version("toolz"),
           "boltons": envs.sdist_version("boltons"), "runs": args.runs, "plain_codes": plain_codes,
           "samples": samples}
    envs.save_run("ablate", raw, args.raw, args.out, render(raw))
    return 0


if __name__ == "__main__":
    sys.exit(main())
