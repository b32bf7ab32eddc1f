"""The instruction benchmark's marks (bench/overhead/plugins/bench_mark.py) and how it reads callgrind's files."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "overhead"

# Logs, in order, the marks (every call of os.getpriority) and what the project itself does.
RECORDER = """\
import os
_log = os.environ["MARK_LOG"]
def _getpriority(*args, _real=os.getpriority):
    with open(_log, "a") as handle:
        handle.write("mark\\n")
    return _real(*args)
os.getpriority = _getpriority
"""


def _marks(tmp_path: Path, window: str) -> list[str]:
    project = tmp_path / window
    project.mkdir()
    log = project / "log.txt"
    (project / "sitecustomize.py").write_text(RECORDER)
    (project / "conftest.py").write_text(f"open({str(log)!r}, 'a').write('conftest\\n')\n")
    (project / "test_one.py").write_text(f"def test_one():\n    open({str(log)!r}, 'a').write('test\\n')\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "COVLENS_"))}
    env.update(PYTHONPATH=os.pathsep.join([str(project), str(BENCH / "plugins")]), MARK_LOG=str(log),
               BENCH_WINDOW=window)
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "bench_mark",
                           "test_one.py"], cwd=project, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    return log.read_text().split()


@pytest.mark.parametrize("window, expected", [
    ("session", ["mark", "conftest", "test", "mark"]),
    ("collect", ["mark", "conftest", "mark", "test"]),
    ("tests", ["conftest", "mark", "test", "mark"]),
])
def test_the_marks_stand_at_the_edges_of_the_stretch_named(tmp_path: Path, window: str, expected: list[str]) -> None:
    assert _marks(tmp_path, window) == expected


def test_the_stretch_is_the_second_dump_of_the_marking_process(tmp_path: Path) -> None:
    sys.path.insert(0, str(BENCH))
    try:
        import instructions
    finally:
        sys.path.remove(str(BENCH))
    header = "# callgrind format\nversion: 1\ncmd: python -m pytest\npart: {part}\n\nevents: Ir\nsummary: {n}\n\n"
    (tmp_path / "callgrind.100").write_text(header.format(part=1, n=500))  # the CLI: never marks
    (tmp_path / "callgrind.101.1").write_text(header.format(part=1, n=700))  # up to the first mark
    (tmp_path / "callgrind.101.2").write_text(header.format(part=2, n=1234))  # between the marks
    (tmp_path / "callgrind.101").write_text(header.format(part=3, n=90))  # after the second mark
    assert instructions.counted(tmp_path / "callgrind.100") == 500
    assert instructions.stretch(tmp_path) == 1234
    (tmp_path / "callgrind.102.2").write_text(header.format(part=2, n=1))  # two marking processes: no answer
    assert instructions.stretch(tmp_path) is None


def test_a_baseline_run_is_compared_variant_by_variant(tmp_path: Path) -> None:
    sys.path.insert(0, str(BENCH))
    try:
        import instructions
    finally:
        sys.path.remove(str(BENCH))

    def raw(covlens: str, counts: dict[str, int]) -> dict[str, object]:
        return {"covlens": covlens, "command": "python bench/overhead/instructions.py", "started": 0.0,
                "samples": [{"suite": "toolz", "variant": name, "window": "session", "instructions": count}
                            for name, count in counts.items()]}

    now = raw("abc1234", {"plain": 1_000_000_000, "covlens": 1_050_000_000, "no-hook": 1_010_000_000})
    before = raw("e9b58fa", {"plain": 1_000_000_000, "covlens": 1_100_000_000})
    lines = instructions.baseline_lines(now, before)
    assert lines[0].startswith("**Against e9b58fa**")
    rows = [line for line in lines if line.startswith("| toolz")]
    # Only the variants both runs counted; the change is against the earlier count.
    assert rows == [
        "| toolz | session | plain pytest | 1,000.0 | 1,000.0 | +0.0% | – |",
        "| toolz | session | covlens (monitor, contexts off) | 1,100.0 | 1,050.0 | -4.5% | +100.0 → +50.0 |",
    ]
    assert instructions.baseline_lines(now, raw("x", {})) == []


@pytest.mark.parametrize("suite", ["toolz", "boltons", "workloads"])
def test_every_suite_and_variant_runs_with_the_marks_once_and_without_the_session_timer(suite: str) -> None:
    from types import SimpleNamespace

    sys.path.insert(0, str(BENCH))
    try:
        import ablate
        import configs
        import instructions
    finally:
        sys.path.remove(str(BENCH))
    project = SimpleNamespace(env=SimpleNamespace(python="python3"), suite=configs.SUITES[suite],
                              folder=Path("/p"))
    for variant in ablate.VARIANTS:
        cmd = instructions.command(project, variant, Path("/out.json"))  # type: ignore[arg-type]
        assert cmd.count("bench_mark") == 1 and "bench_session" not in cmd, (variant.name, cmd)
        assert cmd[cmd.index("bench_mark") - 1] == "-p"
