"""Medians, ratios to plain pytest and the issue-7 targets, rendered as bench/RESULTS.md from the raw samples."""

from __future__ import annotations

import datetime as dt
import os
import platform
import statistics
import subprocess
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import envs
import paired

SHORT_TEST_NAMES = {
    "tests/test_nbody.py": "n-body",
    "tests/test_sudoku.py": "sudoku",
    "tests/test_tokenizer.py": "tokenizer/parser",
    "tests/test_evaluator.py": "expression evaluator",
    "tests/test_graphs.py": "graph search (BFS, Dijkstra)",
}
METRICS = (("cpu", "CPU time (user+sys)"), ("wall", "wall-clock time"))


# ------------------------------------------------------------------------------------------------ facts


def machine() -> dict[str, Any]:
    info: dict[str, Any] = {"platform": platform.platform(), "logical_cpus": os.cpu_count()}
    try:
        cpuinfo = open("/proc/cpuinfo", encoding="utf-8").read()
        models = [line.split(":", 1)[1].strip() for line in cpuinfo.splitlines() if line.startswith("model name")]
        info["cpu_model"] = models[0] if models else "unknown"
        cores = {line.split(":", 1)[1].strip() for line in cpuinfo.splitlines() if line.startswith("cpu cores")}
        info["cores_per_socket"] = ", ".join(sorted(cores)) or "unknown"
        mem = [line for line in open("/proc/meminfo", encoding="utf-8") if line.startswith("MemTotal")]
        info["memory"] = mem[0].split(":", 1)[1].strip() if mem else "unknown"
        info["loadavg"] = open("/proc/loadavg", encoding="utf-8").read().split()[:3]
    except OSError:
        pass
    return info


def python_info(env: envs.Env) -> dict[str, Any]:
    script = ("import sys, importlib.metadata as m; print(sys.version.split()[0]); "
              "print(*(m.version(p) for p in ('pytest', 'coverage', 'slipcover', 'covlens')))")
    out = subprocess.run([env.python, "-c", script], capture_output=True, text=True).stdout.split("\n")
    info: dict[str, Any] = {"executable": env.base, "version": out[0].strip()}
    info.update(zip(("pytest", "coverage", "slipcover", "covlens"), out[1].split()))
    for label, extra in (("coverage_core_default", {}), ("coverage_core_sysmon", {"COVERAGE_CORE": "sysmon"})):
        if extra and not env.monitoring:
            continue
        env_vars = envs.base_env()
        env_vars.update(extra)
        probe = ("import coverage; c = coverage.Coverage(data_file=None); c.start(); c.stop(); "
                 "print(dict(c.sys_info()).get('core', 'unknown'))")
        text = subprocess.run([env.python, "-c", probe], capture_output=True, text=True, env=env_vars,
                              cwd=envs.WORK).stdout.strip()
        cores = [text] if text else []
        info[label] = cores[0] if cores else "unknown"
    return info


def git_describe() -> str:
    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(envs.REPO), *args], capture_output=True, text=True).stdout.strip()

    head = git("rev-parse", "--short", "HEAD") or "unknown"
    dirty = git("status", "--porcelain", "--untracked-files=no", "--", "server")
    return f"{head}{' + uncommitted changes in server/' if dirty else ''}"


# ------------------------------------------------------------------------------------------------ numbers


@dataclass(frozen=True)
class Cell:
    median: float | None  # None: failed or not run
    ratio: float | None
    n: int
    failure: str | None = None


INSIDE_PYTEST = "(inside pytest)"


def _sample_rows(s: dict[str, Any]) -> Iterator[tuple[str, dict[str, float]]]:
    """The rows one sample times, with its timings there: each workload test (call phase), the suite's whole process,
    and the toolz and boltons sessions inside pytest."""
    for nodeid, t in sorted(s["per_test"].items()):
        yield SHORT_TEST_NAMES.get(nodeid.split("::")[0], nodeid), t
    yield (f"{s['suite']} (whole process)" if s["suite"] == "workloads" else f"{s['suite']} test suite"), s
    if s.get("session"):  # samples of runs before the session plugin existed have none
        yield f"{s['suite']} test suite {INSIDE_PYTEST}", s["session"]


def _rows(raw: dict[str, Any], python: str) -> dict[str, dict[str, dict[str, list[float]]]]:
    """row -> config -> metric -> values."""
    rows: dict[str, dict[str, dict[str, list[float]]]] = defaultdict(lambda: defaultdict(lambda: defaultdict(list)))
    for s in raw["samples"]:
        if s["python"] == python:
            for row, timing in _sample_rows(s):
                for metric, _ in METRICS:
                    rows[row][s["config"]][metric].append(timing[metric])
    return rows


def _by_round(raw: dict[str, Any], python: str, metric: str) -> dict[str, dict[str, dict[int, float]]]:
    """row -> config -> round -> value, to pair each configuration with plain pytest's run of the same round."""
    out: dict[str, dict[str, dict[int, float]]] = defaultdict(lambda: defaultdict(dict))
    for s in raw["samples"]:
        if s["python"] == python:
            for row, timing in _sample_rows(s):
                out[row][s["config"]][s["round"]] = timing[metric]
    return out


@dataclass(frozen=True)
class PairedRow:
    """A row's per-round ratios of one configuration to another: their interval, or the configuration's failure."""

    text: str  # the row's name with its interval (or failure), as a verdict lists it
    interval: paired.Interval | None
    failed: bool = False

    def against(self, limit: float, *, strict: bool = False) -> str:
        return paired.MISSED if self.failed else paired.against(self.interval, limit, strict=strict)


def intervals(raw: dict[str, Any], python: str, config: str, base: str = "plain",
              metric: str = "cpu") -> list[PairedRow]:
    """Each row's 95% interval of the median of `config`'s per-round ratios to `base`. A row where `config` failed
    is kept as failed; one where only `base` failed (coverage.py, when it is the base) is left out."""
    out = []
    by_row = _by_round(raw, python, metric)
    for row in _ordered(by_row):
        by_config = by_row[row]
        failure = raw["failures"].get(f"{python}/{_suite_of(row)}/{config}")
        if failure:
            out.append(PairedRow(f"{row} (FAIL, exit {failure['returncode']})", None, failed=True))
        elif config in by_config and base in by_config and not raw["failures"].get(f"{python}/{_suite_of(row)}/{base}"):
            iv = paired.median_interval(paired.ratios(by_config[config], by_config[base]))
            out.append(PairedRow(f"{row} {iv.text() if iv else '(too few rounds)'}", iv))
    return out


def _suite_of(row: str) -> str:
    return row.split(" ")[0] if row.endswith(("(whole process)", "test suite", INSIDE_PYTEST)) else "workloads"


def table(raw: dict[str, Any], python: str, metric: str) -> tuple[list[str], dict[str, dict[str, Cell]]]:
    """(configs in plan order, row -> config -> Cell)."""
    configs: list[str] = []
    for key, names in raw["plan"].items():
        if key.startswith(python + "/"):
            configs += [n for n in names if n not in configs]
    rows = _rows(raw, python)
    out: dict[str, dict[str, Cell]] = {}
    for row, by_config in rows.items():
        plain = by_config.get("plain", {}).get(metric)
        base = statistics.median(plain) if plain else None
        cells = {}
        for config in configs:
            failure = raw["failures"].get(f"{python}/{_suite_of(row)}/{config}")
            values = by_config.get(config, {}).get(metric, [])
            label = f"FAIL (exit {failure['returncode']})" if failure else None
            if values:
                med = statistics.median(values)
                cells[config] = Cell(med, med / base if base else None, len(values), label)
            elif label:
                cells[config] = Cell(None, None, 0, label)
            else:
                cells[config] = Cell(None, None, 0)
        out[row] = cells
    return configs, {r: out[r] for r in _ordered(out)}


def _ordered(rows: Iterable[str]) -> list[str]:
    """The workload tests in their own order, then the suites by name."""
    rows = list(rows)
    order = [name for name in SHORT_TEST_NAMES.values() if name in rows]
    return order + sorted(r for r in rows if r not in order)


def spread(raw: dict[str, Any], python: str, row: str, config: str, metric: str) -> float | None:
    values = _rows(raw, python).get(row, {}).get(config, {}).get(metric, [])
    if len(values) < 2:
        return None
    return (max(values) - min(values)) / 2 / statistics.median(values)


# ------------------------------------------------------------------------------------------------ targets


@dataclass(frozen=True)
class Target:
    text: str
    python: str
    config: str
    limit: float | None  # a ratio; None: compare with coverage.py instead


TARGETS = [
    Target("covlens monitor engine (contexts off) ≤ 1.05× on 3.13", "3.13", "covlens-monitor-noctx", 1.05),
    Target("covlens AST engine ≤ 1.30× on 3.11 (default settings: contexts on)", "3.11", "covlens-ast", 1.30),
    Target("covlens AST engine ≤ 1.30× on 3.11, contexts off", "3.11", "covlens-ast-noctx", 1.30),
    Target("covlens with per-test contexts on (monitor engine) ≤ 1.15× on 3.13", "3.13", "covlens-monitor", 1.15),
]
COVERAGE_CONFIGS = ("coverage", "coverage-sysmon")
# Default settings (contexts on), then like for like: coverage.py runs without per-test contexts (its sysmon core
# cannot record them at all), as covlens does with contexts off.
COVLENS_CONFIGS = ("covlens-ast", "covlens-monitor", "covlens-ast-noctx", "covlens-monitor-noctx")


def _verdict(checks: list[tuple[str, bool]]) -> str:
    if not checks:
        return "not measured"
    misses = [row for row, ok in checks if not ok]
    if not misses:
        return f"**met** ({len(checks)}/{len(checks)} rows)"
    return f"**not met** ({len(checks) - len(misses)}/{len(checks)} rows; missed: {', '.join(misses)})"


def _paired_limit(raw: dict[str, Any], t: Target) -> str:
    """The verdict from each row's interval of per-round CPU ratios, against the target's limit."""
    assert t.limit is not None
    return paired.verdict([(r.text, r.against(t.limit)) for r in intervals(raw, t.python, t.config)])


def _paired_lower(raw: dict[str, Any], python: str, covlens: str, cov: str) -> str:
    """The verdict from each row's interval of per-round CPU ratios of covlens to coverage.py: below 1 is lower."""
    return paired.verdict([(r.text, r.against(1.0, strict=True)) for r in intervals(raw, python, covlens, base=cov)])


def target_lines(raw: dict[str, Any]) -> list[str]:
    lines = ["| target | worst row (CPU) | verdict on CPU time | verdict on wall-clock time | verdict on CPU time, "
             "95% confidence (paired per-round ratios) |", "|---|---|---|---|---|"]
    pythons = set(raw["pythons"])
    for t in TARGETS:
        if t.python not in pythons:
            lines.append(f"| {t.text} | – | not measured (Python {t.python} not run) | | |")
            continue
        verdicts = []
        worst = "–"
        for metric, _ in METRICS:
            _, rows = table(raw, t.python, metric)
            checks, ratios = [], []
            for row, cells in rows.items():
                cell = cells.get(t.config)
                if cell is None:
                    continue
                if cell.failure:
                    checks.append((f"{row} ({cell.failure})", False))
                elif cell.ratio is not None:
                    checks.append((f"{row} {cell.ratio:.2f}×", cell.ratio <= t.limit))
                    ratios.append((cell.ratio, row))
            verdicts.append(_verdict(checks))
            if metric == "cpu" and ratios:
                r, row = max(ratios)
                worst = f"{r:.2f}× ({row})"
        lines.append(f"| {t.text} | {worst} | {verdicts[0]} | {verdicts[1]} | {_paired_limit(raw, t)} |")
    # Lower than coverage.py's ratio on every workload, per covlens configuration and coverage.py core.
    for python in sorted(pythons):
        for covlens in COVLENS_CONFIGS:
            for cov in COVERAGE_CONFIGS:
                verdicts = []
                for metric, _ in METRICS:
                    configs, rows = table(raw, python, metric)
                    if covlens not in configs or cov not in configs:
                        break
                    checks = []
                    for row, cells in rows.items():
                        a, b = cells[covlens], cells[cov]
                        if a.failure:
                            checks.append((f"{row} (covlens {a.failure})", False))
                        elif a.ratio is not None and b.ratio is not None and not b.failure:
                            checks.append((f"{row} {a.ratio:.2f}× vs {b.ratio:.2f}×", a.ratio < b.ratio))
                        elif b.failure:
                            checks.append((f"{row} (coverage.py {b.failure})", True))
                    verdicts.append(_verdict(checks))
                if len(verdicts) == 2:
                    lines.append(f"| {covlens} lower than {cov} on every workload, {python} | | "
                                 f"{verdicts[0]} | {verdicts[1]} | {_paired_lower(raw, python, covlens, cov)} |")
    return lines


# ------------------------------------------------------------------------------------------------ render


def _ranks_example(runs: int) -> str:
    found = paired.ranks(runs)
    return f": the {_nth(found[0])} and {_nth(found[1])} of {runs} rounds" if found else ""


def _nth(n: int) -> str:
    return f"{n}{'th' if 10 <= n % 100 <= 20 else {1: 'st', 2: 'nd', 3: 'rd'}.get(n % 10, 'th')}"


def render(raw: dict[str, Any]) -> str:
    m = raw["machine_before"]
    after = raw["machine_after"]
    date = dt.datetime.fromtimestamp(raw["started"], dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    minutes = (raw["finished"] - raw["started"]) / 60
    out = [
        "# covlens benchmark results",
        "",
        "## 1. Overhead of measuring (`bench/overhead`)",
        "",
        "Generated by `bench/overhead/run.py`; see `bench/README.md` for what is measured and how to read it.",
        "",
        f"- **Command:** `{raw['command']}`",
        f"- **Date:** {date} ({minutes:.0f} min)",
        f"- **Machine:** {m.get('cpu_model', '?')}, {m.get('logical_cpus')} logical CPUs "
        f"(cpu cores per socket: {m.get('cores_per_socket', '?')}), {m.get('memory', '?')} RAM, {m.get('platform')}",
        f"- **Load average** (1/5/15 min) at start {' / '.join(m.get('loadavg', []))}, at end "
        f"{' / '.join(after.get('loadavg', []))} — the machine was shared with other jobs; see *Noise* below.",
        f"- **covlens:** {raw['versions']['covlens']}; toolz {raw['versions']['toolz']}, "
        f"boltons {raw['versions']['boltons']} (pinned sdists, their own test suites)",
    ]
    for python, info in sorted(raw["pythons"].items()):
        cores = f"coverage.py core: default = {info.get('coverage_core_default', '?')}"
        if "coverage_core_sysmon" in info:
            cores += f", with COVERAGE_CORE=sysmon = {info['coverage_core_sysmon']}"
        out.append(f"- **Python {info['version']}** ({info['executable']}): pytest {info.get('pytest')}, "
                   f"coverage {info.get('coverage')}, slipcover {info.get('slipcover')}; {cores}")
    runs = max((s["round"] for s in raw["samples"]), default=0)
    out += ["", f"Rounds: {runs} timed (plus warm-up runs per suite, discarded: plain pytest, which writes the "
            "`.pyc` files, and covlens with each engine, which fills its code cache); each round runs every "
            "configuration once, in an order rotated every round.", ""]

    out += ["### Targets (issue 7)", "",
            "A target is met only when it holds on every row of the table (each workload test, the whole "
            "workloads process, toolz and boltons both as whole processes and inside pytest). Verdicts on the "
            "primary metric, CPU time, and on wall-clock time, from the medians of the tables below; the last "
            "column judges CPU time beyond noise, from paired ratios (see *Noise*).", ""]
    out += target_lines(raw)

    out += ["", "### Noise", "",
            "The machine is shared: other jobs ran on its two cores during the run. CPU time is the primary metric "
            "because it is far less disturbed by them than wall-clock time, but it still moves (shared caches): the "
            "last column of each table gives plain pytest's spread (half the range over its median). Ratios "
            "within that spread of a target are not a clear pass or miss; `-noctx` and its contexts-on twin "
            "(or two runs of the same configuration) differing by a few percent is noise.",
            "",
            "The last column of the targets judges each row by its paired ratios instead: in every round, a "
            "configuration's time over plain pytest's time in the same round (or over coverage.py's, for the "
            "comparisons), which cancels the load that changes from one round to the next. Each row shows the "
            "median of those ratios and the interval that holds the true median with 95% confidence, from the "
            f"ranks alone (x₍ₖ₎ to x₍ₙ₊₁₋ₖ₎ with k from the binomial distribution{_ranks_example(runs)}), so no shape "
            "of noise is assumed. A row is met when its whole interval is within the target, missed when the whole "
            "interval is beyond it, and within noise otherwise: that run cannot tell, and a target with such a row "
            "is **unsettled**, neither met nor missed."]
    if raw.get("notes"):
        out += ["", "### Notes", ""] + [f"- {note}" for note in raw["notes"]]
    if raw["failures"]:
        out += ["", "### Failures", ""]
        for key, f in sorted(raw["failures"].items()):
            tail = f["tail"].replace("`", "'").replace("|", "/").splitlines()[-4:]
            out.append(f"- `{key}`: exit {f['returncode']}: " + " / ".join(line.strip() for line in tail))

    out.append("")
    for python in sorted(raw["pythons"]):
        for metric, title in METRICS:
            configs, rows = table(raw, python, metric)
            out += ["", f"### Python {raw['pythons'][python]['version']} — {title}, median seconds (ratio to plain)",
                    ""]
            labels = [c for c in configs]
            out.append("| workload | " + " | ".join(labels) + " | plain ±half-range |")
            out.append("|---|" + "---:|" * len(labels) + "---:|")
            for row, cells in rows.items():
                parts = []
                for config in configs:
                    cell = cells.get(config)
                    if cell is None or (cell.median is None and not cell.failure):
                        parts.append("–")
                    elif cell.failure:
                        timed = f" {cell.median:.2f} ({cell.ratio:.2f}×)" if cell.ratio else ""
                        parts.append(f"**{cell.failure}**{timed}")
                    elif config == "plain":
                        parts.append(f"{cell.median:.2f}")
                    else:
                        parts.append(f"{cell.median:.2f} ({cell.ratio:.2f}×)" if cell.ratio else f"{cell.median:.2f}")
                noise = spread(raw, python, row, "plain", metric)
                parts.append(f"±{noise * 100:.0f}%" if noise is not None else "–")
                out.append(f"| {row} | " + " | ".join(parts) + " |")
    out += ["", "Configurations: `plain` = `python -m pytest`; `covlens-ast` / `covlens-monitor` = "
            "`covlens run --json F --engine ast|monitor -- <pytest args>` with `contexts = true` in "
            "`[tool.covlens]` (`-noctx`: `contexts = false`); `coverage` = `coverage run -m pytest` "
            "(line coverage, no contexts), `coverage-sysmon` the same with `COVERAGE_CORE=sysmon`; "
            "`slipcover` = `python -m slipcover --source PKG --json --out F -m pytest`. Rows named after a workload "
            "time the test's call phase inside pytest (conftest hook; the test body runs on a fresh thread, so every "
            "configuration runs it at the same frame-stack depth); rows marked *(inside pytest)* time the pytest "
            "process from just before its conftest files load to the end of its session (collection, every test, "
            "each tool's end-of-session work in that process; a `-p` plugin, the same in every configuration); the "
            "other rows time the whole process (interpreter start, collection, every test, writing the data: for "
            "covlens the CLI, its worker, the SQLite store and the report)."]
    return "\n".join(out) + "\n"
