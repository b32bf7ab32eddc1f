#!/usr/bin/env python3
"""Instructions, not seconds: toolz and boltons inside pytest under callgrind, for every variant of ablate.py.

    python bench/overhead/instructions.py --out bench/RESULTS.md

CPU time on a shared two-core machine moves by ±5-35% from one run to the next (plain pytest's spread in sections 1
and 4), which hides any change worth a few percent. An instruction count does not move: each variant runs once under
`valgrind --tool=callgrind`, and pytest's own session (the stretch plugins/bench_mark.py marks, as the *inside pytest*
rows of section 1) is counted, repeatable to a few thousand instructions in a billion. It answers "did this change
make covlens do less, and where", not "how many milliseconds": callgrind counts no system call, cache miss or wait,
and under it OpenSSL's SHA-256 (covlens's code cache) runs without the CPU's SHA instructions, about 5x the count it
costs. Writes section 5 of --out; see bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import ablate  # noqa: E402
import envs  # noqa: E402
import report  # noqa: E402
import run as overhead  # noqa: E402

MARK = "getpriority"  # the libc function plugins/bench_mark.py calls at each edge of the stretch
# toolz's test_fold forks a multiprocessing Pool: how long its parent waits for the children, and so how many
# instructions it runs meanwhile, depends on the scheduler. Every variant leaves it out.
DESELECT = {"toolz": ("--deselect", "toolz/sandbox/tests/test_parallel.py::test_fold")}
WINDOWS = ("session", "collect", "tests")
SUITES = (*ablate.SUITES, "workloads")


def counted(path: Path) -> int | None:
    """The instructions a callgrind output file holds (its `summary:` or `totals:` line)."""
    with open(path, encoding="utf-8", errors="replace") as handle:
        for line in handle:
            if line.startswith(("summary:", "totals:")):
                return int(line.split()[1])
    return None


def stretch(folder: Path) -> int | None:
    """The instructions between the first and the second mark: the second dump of the process that made them."""
    dumps = sorted(folder.glob("callgrind.*.2"))
    return counted(dumps[0]) if len(dumps) == 1 else None


def command(project: overhead.Project, variant: ablate.Variant, out: Path) -> list[str]:
    cmd = variant.config.command(project.env.python, project.suite, project.folder, out)
    cmd = ["bench_mark" if part == "bench_session" else part for part in cmd]
    if "bench_mark" not in cmd:  # the workloads time each test, not the session: mark the session all the same
        cmd += ["-p", "bench_mark"]
    return [*cmd, *DESELECT.get(project.suite.name, ())]


def environment(variant: ablate.Variant, window: str, source: Path | None = None) -> dict[str, str]:
    # Another checkout's covlens (an earlier commit in a git worktree) goes first on the path, ahead of this one.
    env = ablate.environment(variant, (str(source / "server"),) if source else ())
    env["BENCH_WINDOW"] = window
    return env


def run_once(project: overhead.Project, variant: ablate.Variant, window: str, logs: Path,
             source: Path | None = None) -> dict[str, object]:
    tag = f"instructions-{project.env.version}-{project.suite.name}-{variant.name}-{window}"
    folder = envs.WORK / "callgrind" / tag
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    ablate.prepare(project, variant)
    valgrind = ["valgrind", "--tool=callgrind", f"--dump-before={MARK}", "--dump-instr=no",
                f"--callgrind-out-file={folder}/callgrind.%p"]
    log = logs / f"{tag}.log"
    started = time.time()
    with open(log, "w", encoding="utf-8") as handle:
        done = subprocess.run([*valgrind, *command(project, variant, folder / "out.json")], cwd=project.folder,
                              env=environment(variant, window, source), stdout=handle,
                              stderr=subprocess.STDOUT)
    return {"suite": project.suite.name, "variant": variant.name, "window": window, "returncode": done.returncode,
            "instructions": stretch(folder), "seconds": time.time() - started,
            "log": str(log.relative_to(envs.REPO))}


def warm_up(project: overhead.Project, source: Path | None = None) -> int:
    """Untimed runs without valgrind: plain pytest writes the .pyc files, covlens its code cache. Plain's exit code."""
    codes = []
    for variant in (ablate.VARIANTS[0], ablate.VARIANTS[2]):
        ablate.prepare(project, variant)
        done = subprocess.run(command(project, variant, envs.WORK / "warm-up.json"), cwd=project.folder,
                              env=environment(variant, "session", source), capture_output=True)
        codes.append(done.returncode)
    return codes[0]


def describe(source: Path | None) -> str:
    """The commit measured: this checkout's (report.git_describe), or the other checkout's short hash."""
    if source is None:
        return report.git_describe()
    done = subprocess.run(["git", "-C", str(source), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    return f"{done.stdout.strip() or '?'} (another checkout)"


def baseline_lines(raw: dict[str, object], base: dict[str, object]) -> list[str]:
    """This run's counts against an earlier run's (`--baseline`), variant by variant, for each stretch both have."""
    ours = {(s["suite"], s["variant"], s["window"]): s["instructions"] for s in raw["samples"]}
    theirs = {(s["suite"], s["variant"], s["window"]): s["instructions"] for s in base["samples"]}
    keys = [k for k in ours if k in theirs and ours[k] and theirs[k]]
    if not keys:
        return []
    day = time.strftime("%Y-%m-%d", time.gmtime(base["started"]))
    out = [f"**Against {base['covlens']}** (`{base['command']}`, {day}); *over plain*: the variant's count less plain "
           "pytest's in the same run, what the tool adds.", "",
           "| suite | stretch | variant | before (M) | now (M) | change | over plain before → now (M) |",
           "|---|---|---|---:|---:|---:|---:|"]
    labels = {v.name: v.label for v in ablate.VARIANTS}
    for suite, variant, window in keys:
        before, now = theirs[suite, variant, window], ours[suite, variant, window]
        plains = theirs.get((suite, "plain", window)), ours.get((suite, "plain", window))
        added = "–" if variant == "plain" or not all(plains) else (
            f"{(before - plains[0]) / 1e6:+,.1f} → {(now - plains[1]) / 1e6:+,.1f}")
        out.append(f"| {suite} | {window} | {labels[variant]} | {before / 1e6:,.1f} | {now / 1e6:,.1f} | "
                   f"{(now - before) / before:+.1%} | {added} |")
    return [*out, ""]


def render(raw: dict[str, object]) -> str:
    samples = raw["samples"]
    info = raw["python"]
    windows = raw["windows"]
    date = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(raw["started"]))
    names = [v.name for v in ablate.VARIANTS if any(s["variant"] == v.name for s in samples)]
    labels = {v.name: v.label for v in ablate.VARIANTS}
    out = ["# covlens benchmark results", "",
           "## 5. Instructions inside pytest (`bench/overhead/instructions.py`)", "",
           "Generated by `bench/overhead/instructions.py`; see `bench/README.md`.", "",
           f"- **Command:** `{raw['command']}`",
           f"- **Date:** {date} ({(raw['finished'] - raw['started']) / 60:.0f} min)",
           f"- **covlens:** {raw['covlens']}; **Python {info['version']}**: pytest {info.get('pytest')}, "
           f"coverage {info.get('coverage')}; toolz {raw['toolz']}, boltons {raw['boltons']}; {raw['valgrind']}",
           "- **What is counted:** instructions (callgrind's `Ir`) of the pytest process over the stretch "
           "`plugins/bench_mark.py` marks, one run per variant after untimed warm-up runs (plain pytest, then "
           "covlens). toolz runs without `test_fold` (it forks a Pool: its count depends on the scheduler). "
           "Millions of instructions, and the ratio to plain pytest's.", ""]
    if any(s["suite"] == "workloads" for s in samples):
        out[-1:] = ["- **workloads:** the five CPU-bound tests of section 1, in one pytest session (each test body on "
                    "a thread of its own, as there).", ""]
    by = {(s["suite"], s["variant"], s["window"]): s for s in samples}
    failed = {(s["suite"], s["variant"]) for s in samples if s["returncode"] != raw["plain_codes"][s["suite"]]}
    suites = [suite for suite in SUITES if any(s["suite"] == suite for s in samples)]
    for window in windows:
        out += [f"**Stretch: {window}**", "", "| suite | " + " | ".join(labels[n] for n in names) + " |",
                "|---|" + "---:|" * len(names)]
        for suite in suites:
            plain = (by.get((suite, "plain", window)) or {}).get("instructions")
            cells = []
            for name in names:
                value = (by.get((suite, name, window)) or {}).get("instructions")
                mark = " **FAIL**" if (suite, name) in failed else ""
                ratio = f" ({value / plain:.3f}×)" if value and plain else ""
                cells.append("–" if not value else f"{value / 1e6:,.1f}{ratio}{mark}")
            out.append(f"| {suite} | " + " | ".join(cells) + " |")
        out += ["", "| part | " + " | ".join(suites) + " |", "|---|" + "---:|" * len(suites)]
        for text, with_it, without in ablate.PARTS:
            cells = []
            for suite in suites:
                a = (by.get((suite, with_it, window)) or {}).get("instructions")
                b = (by.get((suite, without, window)) or {}).get("instructions")
                plain = (by.get((suite, "plain", window)) or {}).get("instructions")
                cells.append("–" if not (a and b and plain) else f"{(a - b) / 1e6:+,.1f} M ({(a - b) / plain:+.1%})")
            out.append(f"| {text} | " + " | ".join(cells) + " |")
        out.append("")
    if raw.get("baseline"):
        out += baseline_lines(raw, raw["baseline"])
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--python", default="3.13", metavar="X.Y", help="a Python with sys.monitoring (3.12+)")
    parser.add_argument("--suites", nargs="+", default=list(ablate.SUITES), choices=SUITES,
                        help="toolz and boltons by default; `workloads` (the CPU-bound tests, ~3 min a variant under "
                             "valgrind) on request")
    parser.add_argument("--variants", nargs="+", default=[v.name for v in ablate.VARIANTS],
                        choices=[v.name for v in ablate.VARIANTS], help="plain always runs")
    parser.add_argument("--windows", nargs="+", default=["session"], choices=WINDOWS,
                        help="stretches of the session to count (each is one more run of every variant)")
    parser.add_argument("--out", type=Path, default=envs.BENCH / "RESULTS.md", help="the Markdown report")
    parser.add_argument("--raw", type=Path, default=envs.WORK / "instructions-raw.json", help="raw counts (JSON)")
    parser.add_argument("--report-only", action="store_true", help="re-render --out from --raw")
    parser.add_argument("--covlens-source", type=Path, metavar="DIR",
                        help="measure the covlens of another checkout (its server/ goes first on the path)")
    parser.add_argument("--baseline", type=Path, metavar="RAW",
                        help="the raw counts of an earlier run, to show this run's against (a table of changes)")
    args = parser.parse_args(argv)
    baseline = json.loads(args.baseline.read_text()) if args.baseline else None
    if baseline:
        baseline.pop("baseline", None)  # one level: the table compares two runs
    if args.report_only:
        raw = json.loads(args.raw.read_text())
        if baseline:
            raw["baseline"] = baseline
        envs.write_results(args.out, render(raw))
        return 0
    source = args.covlens_source.resolve() if args.covlens_source else None
    if source is not None and not (source / "server" / "covlens").is_dir():
        parser.error(f"{source} is not a covlens checkout (no server/covlens in it)")
    if shutil.which("valgrind") is None:
        parser.error("valgrind is not installed (Debian: apt-get install valgrind); this benchmark runs under it")
    command_line = "python bench/overhead/instructions.py " + " ".join(sys.argv[1:] if argv is None else argv)
    started = time.time()
    projects = overhead.prepare([args.python], list(args.suites))
    if not projects[0].env.monitoring:
        parser.error(f"Python {args.python} has no sys.monitoring: the variants switch off parts of the monitor engine")
    logs = envs.WORK / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    chosen = [v for v in ablate.VARIANTS if v.name in args.variants or v.name == "plain"]
    plain_codes, samples = {}, []
    for project in projects:
        plain_codes[project.suite.name] = warm_up(project, source)
        for window in args.windows:
            for variant in chosen:
                sample = run_once(project, variant, window, logs, source)
                samples.append(sample)
                count = sample["instructions"]
                print(f"instructions: {project.suite.name:8} {variant.name:17} {window:8} "
                      f"{(count or 0) / 1e6:10,.1f} M, exit {sample['returncode']}, {sample['seconds']:.0f} s",
                      flush=True)
    version = subprocess.run(["valgrind", "--version"], capture_output=True, text=True).stdout.strip()
    raw = {"command": command_line, "started": started, "finished": time.time(),
           "python": report.python_info(projects[0].env), "covlens": describe(source),
           "toolz": envs.sdist_version("toolz"), "boltons": envs.sdist_version("boltons"), "valgrind": version,
           "windows": args.windows, "plain_codes": plain_codes, "samples": samples}
    if baseline:
        raw["baseline"] = baseline
    envs.save_run("instructions", raw, args.raw, args.out, render(raw))
    return 0


if __name__ == "__main__":
    sys.exit(main())
