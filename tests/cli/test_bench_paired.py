"""The overhead bench's paired verdicts (bench/overhead/paired.py): a target is met or missed only beyond noise."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "overhead"


@pytest.fixture()
def bench(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.syspath_prepend(str(BENCH))
    monkeypatch.syspath_prepend(str(BENCH.parents[1]))  # envs imports scripts.fetch_sdist
    names = ("paired", "report", "envs", "ablate", "run", "configs", "timed")
    for name in names:
        sys.modules.pop(name, None)
    import ablate
    import paired
    import report

    yield paired, report, ablate
    for name in names:  # top-level names of the bench's folder: not left for other tests to import by mistake
        sys.modules.pop(name, None)


def test_the_interval_of_fifteen_rounds_is_their_4th_and_12th(bench: Any) -> None:
    paired, _, _ = bench
    samples = [float(x) for x in (15, 3, 9, 1, 12, 7, 5, 14, 2, 10, 6, 13, 4, 11, 8)]
    interval = paired.median_interval(samples)
    assert (interval.median, interval.low, interval.high, interval.rounds) == (8.0, 4.0, 12.0, 15)
    assert paired.ranks(15) == (4, 12)
    assert paired.ranks(6) == (1, 6)  # 2/64 = 3.1% outside: still 95%
    assert paired.ranks(5) is None and paired.median_interval([1.0] * 5) is None  # 2/32 = 6.25%: too few


def test_a_row_is_met_or_missed_only_when_its_whole_interval_is_on_one_side(bench: Any) -> None:
    paired, _, _ = bench
    interval = paired.Interval(1.04, 1.02, 1.06, 15)
    assert paired.against(interval, 1.10) == paired.MET
    assert paired.against(interval, 1.06) == paired.MET
    assert paired.against(interval, 1.06, strict=True) == paired.UNSETTLED
    assert paired.against(interval, 1.05) == paired.UNSETTLED
    assert paired.against(interval, 1.01) == paired.MISSED
    assert paired.against(None, 2.0) == paired.UNSETTLED
    assert paired.verdict([("a", paired.MET), ("b", paired.UNSETTLED)]).startswith("**unsettled** (1/2 rows met")
    assert paired.verdict([("a", paired.MISSED), ("b", paired.UNSETTLED)]) == \
        "**not met** (missed beyond noise: a; within noise: b)"
    assert paired.verdict([("a", paired.MET)]) == "**met** (1/1 rows)"


def _raw(plain: list[float], covlens: list[float], failures: dict[str, Any] | None = None) -> dict[str, Any]:
    samples = []
    for config, values in (("plain", plain), ("covlens-monitor-noctx", covlens)):
        for round_no, value in enumerate(values, start=1):
            samples.append({"python": "3.13", "suite": "toolz", "config": config, "round": round_no, "cpu": value,
                            "wall": value, "per_test": {}, "session": {"cpu": value / 2, "wall": value / 2}})
    return {"samples": samples, "failures": failures or {}}


def test_each_round_is_compared_with_plain_pytest_of_the_same_round(bench: Any) -> None:
    _, report, _ = bench
    # The machine's load triples some rounds, for both: the medians of the two columns say little, the pairs a lot.
    load = [1.0, 3.0, 1.2, 2.8, 1.1, 3.1, 1.0, 2.9, 1.3, 3.0, 1.1, 2.7, 1.2, 3.2, 1.0]
    plain = [0.4 * x for x in load]
    covlens = [1.03 * p for p in plain]
    rows = report.intervals(_raw(plain, covlens), "3.13", "covlens-monitor-noctx")
    assert [r.text for r in rows] == ["toolz test suite 1.03× [1.03–1.03]",
                                      "toolz test suite (inside pytest) 1.03× [1.03–1.03]"]
    assert {r.against(1.05) for r in rows} == {"met"}
    # Shifted by one round, the same numbers pair a quiet round with a loaded one: no conclusion.
    shifted = report.intervals(_raw(plain, covlens[1:] + covlens[:1]), "3.13", "covlens-monitor-noctx")
    assert {r.against(1.05) for r in shifted} == {"unsettled"}


def test_a_failed_configuration_misses_its_rows(bench: Any) -> None:
    _, report, _ = bench
    failures = {"3.13/toolz/covlens-monitor-noctx": {"returncode": 1, "tail": "boom"}}
    rows = report.intervals(_raw([0.4] * 8, [0.41] * 8, failures), "3.13", "covlens-monitor-noctx")
    assert [(r.text, r.against(1.05)) for r in rows] == [("toolz test suite (FAIL, exit 1)", "missed"),
                                                         ("toolz test suite (inside pytest) (FAIL, exit 1)", "missed")]


def test_the_ablation_costs_a_part_by_its_per_round_differences(bench: Any) -> None:
    _, _, ablate = bench
    load = [1.0, 2.5, 1.1, 2.8, 1.0, 2.6, 1.2, 2.9]  # rounds a loaded machine makes 2-3 times slower
    samples = []
    for suite in ablate.SUITES:
        for variant in ablate.VARIANTS:
            extra = 0.010 if variant.name == "covlens" else 0.0  # 10 ms more than every other variant, each round
            for round_no, factor in enumerate(load, start=1):
                samples.append({"suite": suite, "variant": variant.name, "round": round_no, "returncode": 0,
                                "cpu": 0.2 * factor + extra, "wall": 0.2 * factor + extra, "log": "x.log"})
    failing = next(s for s in samples if s["suite"] == "boltons" and s["variant"] == "covlens-contexts")
    failing["returncode"], failing["log"] = 1, "does/not/exist.log"
    raw = {"command": "ablate", "started": 0.0, "finished": 60.0, "machine_before": {}, "machine_after": {},
           "python": {"version": "3.13.0"}, "covlens": "abc", "toolz": "1", "boltons": "2", "runs": len(load),
           "plain_codes": {"toolz": 0, "boltons": 0}, "samples": samples}
    text = ablate.render(raw)
    part = next(line for line in text.splitlines() if line.startswith("| covlens in all, contexts off"))
    # The medians of the two columns differ by 10 ms too here, but only the pairs give an interval this narrow.
    assert part.count("+10 ms") == 2 and part.count("[+10, +10]") == 2, part
    lines = next(line for line in text.splitlines() if line.startswith("| its LINE events"))
    assert lines.count("+10 ms") == 2
    assert "- boltons, covlens-contexts, round 1: exit 1; see `does/not/exist.log`" in text
