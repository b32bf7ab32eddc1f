"""The cache of line facts and built code under .covlens/cache: hits, misses, corruption, equivalence, location."""

from __future__ import annotations

from pathlib import Path

import pytest

from covlens.instrument.engine import monitoring_available
from tests.instrument.driver import run_under_hook

ENGINES = ["ast", "monitor"] if monitoring_available() else ["ast"]

MODULE = '''\
"""A module with most of what the engines treat specially."""
import os

TOTAL = (1 +
         2)


def classify(n):
    try:
        if n < 0:
            raise ValueError(n)
        kind = "even" if n % 2 == 0 else "odd"
    except ValueError:
        kind = "negative"
    for _ in range(2):
        n += 1
    match n:
        case 3:
            kind += "!"
        case _:
            pass
    return kind


class Box:
    def __init__(self, value):
        self.value = value

    def never(self):  # pragma: no cover
        return os.sep


def unused():
    return 1
'''

SCRIPT = '''
from covlens.instrument import lines
ANALYZED = []
_analyze = lines.analyze
def _counting(source, filename):
    ANALYZED.append(filename)
    return _analyze(source, filename)
lines.analyze = _counting
import mod
RESULT = {"values": [mod.classify(1), mod.classify(-1), mod.classify(2), mod.Box(3).value],
          "analyzed": ANALYZED,  # the list itself: it also shows what finish() analyzes, after this
          "cache": None if INST.cache is None else {"hits": INST.cache.hits, "misses": INST.cache.misses,
                                                    "writes": INST.cache.writes, "errors": INST.cache.errors}}
'''

# The same engine, but with `compile` overridden: the cache never applies to it (the baseline "no cache" run).
UNCACHED = '''
from covlens.instrument.engine_ast import AstEngine
from covlens.instrument.engine import create_engine
def make_engine():
    base = type(create_engine(ENGINE_NAME))
    class Uncached(base):
        def compile(self, source, filename, target):
            return super().compile(source, filename, target)
    return Uncached()
'''


def workspace(tmp_path: Path, source: str = MODULE) -> Path:
    root = tmp_path / "proj"
    root.mkdir(parents=True)
    (root / "mod.py").write_text(source, encoding="utf-8")
    (root / "lonely.py").write_text("def alone():\n    return 2\n", encoding="utf-8")
    return root


def entries(root: Path) -> list[Path]:
    return sorted((root / ".covlens" / "cache").glob("*.bin"))


def mod_path(root: Path) -> str:
    return str((root / "mod.py").resolve())


@pytest.mark.parametrize("engine", ENGINES)
def test_second_run_takes_lines_and_code_from_the_cache_without_analyzing(tmp_path: Path, engine: str) -> None:
    root = workspace(tmp_path)
    first = run_under_hook(root, SCRIPT, engine=engine)
    assert first.error is None, first.error
    assert first.result["analyzed"] == [mod_path(root), str(root / "lonely.py")]
    assert first.result["cache"] == {"hits": 0, "misses": 1, "writes": 1, "errors": 0}
    # mod.py imported, lonely.py analyzed at finish for its not-imported lines: one entry each.
    assert len(entries(root)) == 2

    second = run_under_hook(root, SCRIPT, engine=engine)
    assert second.error is None, second.error
    assert second.result["analyzed"] == []  # neither the imported module nor the not-imported one
    assert second.result["cache"] == {"hits": 1, "misses": 0, "writes": 0, "errors": 0}
    assert second.result["values"] == first.result["values"] == ["odd!", "negative", "even", 3]
    assert second.hits == first.hits
    assert second.lines == first.lines
    assert second.decision("mod").action == first.decision("mod").action == "instrumented"
    assert second.decision("lonely").action == "not-imported"


@pytest.mark.parametrize("engine", ENGINES)
def test_changed_source_misses_the_cache_and_reports_the_new_lines(tmp_path: Path, engine: str) -> None:
    root = workspace(tmp_path)
    first = run_under_hook(root, SCRIPT, engine=engine)
    (root / "mod.py").write_text(MODULE + "\nEXTRA = 1\nMORE = 2\n", encoding="utf-8")
    second = run_under_hook(root, SCRIPT, engine=engine)
    assert second.error is None, second.error
    assert second.result["analyzed"] == [mod_path(root)]
    assert second.result["cache"]["misses"] == 1 and second.result["cache"]["writes"] == 1
    count = MODULE.count("\n")
    new_lines = {count + 2, count + 3}
    assert new_lines <= set(second.lines[mod_path(root)]["statements"])
    assert new_lines <= set(second.hits[mod_path(root)])
    assert not new_lines & set(first.lines[mod_path(root)]["statements"])
    assert len(entries(root)) == 2  # the entry was overwritten, not added to


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("damage", ["truncated", "flipped", "garbage", "empty"])
def test_corrupt_cache_entry_is_ignored_and_rewritten(tmp_path: Path, engine: str, damage: str) -> None:
    root = workspace(tmp_path)
    first = run_under_hook(root, SCRIPT, engine=engine)
    for entry in entries(root):
        data = entry.read_bytes()
        if damage == "truncated":
            data = data[: len(data) // 2]
        elif damage == "flipped":
            data = data[:-10] + bytes([data[-10] ^ 0xFF]) + data[-9:]
        elif damage == "garbage":
            data = b"\x00not a cache entry" * 10
        else:
            data = b""
        entry.write_bytes(data)
    second = run_under_hook(root, SCRIPT, engine=engine)
    assert second.error is None, second.error
    assert second.result["cache"] == {"hits": 0, "misses": 1, "writes": 1, "errors": 0}
    assert second.result["values"] == first.result["values"]
    assert second.hits == first.hits
    assert second.lines == first.lines
    third = run_under_hook(root, SCRIPT, engine=engine)
    assert third.result["cache"]["hits"] == 1 and third.result["analyzed"] == []
    assert third.hits == first.hits


@pytest.mark.parametrize("engine", ENGINES)
def test_hits_and_lines_are_identical_with_and_without_the_cache(tmp_path: Path, engine: str) -> None:
    plain_root = workspace(tmp_path / "plain")
    uncached = run_under_hook(plain_root, SCRIPT, engine=engine, fake_engine=f"ENGINE_NAME = {engine!r}\n" + UNCACHED)
    assert uncached.result["cache"] is None
    assert not (plain_root / ".covlens").exists()

    root = workspace(tmp_path / "cached")
    cold = run_under_hook(root, SCRIPT, engine=engine)
    warm = run_under_hook(root, SCRIPT, engine=engine)
    assert warm.result["cache"]["hits"] == 1

    def relative(run, base: Path) -> tuple[dict, dict]:
        prefix = str(base.resolve()) + "/"
        return ({p.removeprefix(prefix): v for p, v in run.hits.items()},
                {p.removeprefix(prefix): v for p, v in run.lines.items()})

    assert relative(uncached, plain_root) == relative(cold, root) == relative(warm, root)
    assert relative(warm, root)[0]["mod.py"]  # something was measured at all


def test_cache_writes_only_under_dot_covlens_cache(tmp_path: Path) -> None:
    root = workspace(tmp_path)
    before = {p for p in root.rglob("*")}
    run_under_hook(root, SCRIPT, engine="ast")
    run_under_hook(root, SCRIPT, engine="ast")
    created = {p.relative_to(root).as_posix() for p in root.rglob("*") if p not in before}
    # __pycache__ is Python's own (the driver's interpreter compiling nothing of ours there: covlens execs its code).
    ours = {p for p in created if not p.startswith("__pycache__")}
    assert ours == {".covlens", ".covlens/.gitignore", ".covlens/cache"} | {
        p.relative_to(root).as_posix() for p in entries(root)}
    assert (root / ".covlens" / ".gitignore").read_text(encoding="utf-8") == "*\n"
    assert all(p.endswith(".bin") for p in ours if p.startswith(".covlens/cache/"))


def test_no_entry_is_written_when_python_writes_no_bytecode(tmp_path: Path) -> None:
    root = workspace(tmp_path)
    run = run_under_hook(root, "import sys\nsys.dont_write_bytecode = True\n" + SCRIPT, engine="ast")
    assert run.error is None, run.error
    assert run.result["cache"] == {"hits": 0, "misses": 1, "writes": 0, "errors": 0}
    assert run.lines[mod_path(root)]["statements"]
    assert not (root / ".covlens").exists()


DECODES = '''
import importlib.util
DECODED = []
_decode = importlib.util.decode_source
def _counting(data):
    DECODED.append(bytes(data))
    return _decode(data)
importlib.util.decode_source = _counting
'''


@pytest.mark.parametrize("engine", ENGINES)
def test_a_cache_hit_reads_the_file_but_decodes_none_of_it(tmp_path: Path, engine: str) -> None:
    root = workspace(tmp_path)
    script = DECODES + SCRIPT + "RESULT['decoded'] = sum(b'def classify' in d for d in DECODED)\n"
    cold = run_under_hook(root, script, engine=engine)
    assert cold.error is None, cold.error
    assert cold.result["decoded"] == 1  # a miss: analysed and compiled from the text
    warm = run_under_hook(root, script, engine=engine)
    assert warm.result["cache"]["hits"] == 1
    assert warm.result["decoded"] == 0
    assert warm.result["values"] == cold.result["values"] and warm.hits == cold.hits


@pytest.mark.parametrize("engine", ENGINES)
def test_a_module_with_a_coding_cookie_reads_the_same_from_the_cache(tmp_path: Path, engine: str) -> None:
    root = tmp_path / "proj"
    root.mkdir()
    (root / "latin.py").write_bytes(b"# -*- coding: latin-1 -*-\nWORD = 'caf\xe9'\n\n\ndef word():\n"
                                    b"    return WORD + '\xe0'\n")
    script = "import latin\nRESULT = latin.word()\n"
    cold = run_under_hook(root, script, engine=engine)
    warm = run_under_hook(root, script, engine=engine)
    assert cold.error is None and warm.error is None, (cold.error, warm.error)
    assert cold.result == warm.result == "caf\u00e9\u00e0"
    assert cold.hits == warm.hits and cold.hits_of(root, "latin.py") == [2, 5, 6]
    assert len(entries(root)) == 1


@pytest.mark.parametrize("engine", ENGINES)
def test_a_pragma_found_in_the_bytes_still_skips_the_file_on_every_run(tmp_path: Path, engine: str) -> None:
    root = workspace(tmp_path, MODULE + "\n# covlens: skip-file\n")
    for _ in range(2):
        run = run_under_hook(root, SCRIPT, engine=engine)
        assert run.error is None, run.error
        assert run.decision("mod").reason == "pragma"
        assert mod_path(root) not in run.hits


DOCUMENTED = '''\
"""A module docstring
over several lines,
which no event can report."""


def call(a, b):
    """And a function's,
    also long."""
    return max(a,
               b)


VALUE = call(
    1,
    2,
)
'''


@pytest.mark.skipif("monitor" not in ENGINES, reason="the monitor engine needs sys.monitoring (3.12+)")
def test_a_cached_entry_keeps_the_first_lines_only_of_lines_an_event_can_report(tmp_path: Path) -> None:
    from covlens.instrument import lines
    from covlens.instrument.engine_monitor import MonitorEngine

    root = workspace(tmp_path, DOCUMENTED)
    script = "import mod\nRESULT = mod.VALUE\n"
    cold = run_under_hook(root, script, engine="monitor")
    warm = run_under_hook(root, script, engine="monitor")
    uncached = run_under_hook(workspace(tmp_path / "plain", DOCUMENTED), script, engine="monitor",
                              fake_engine="ENGINE_NAME = 'monitor'\n" + UNCACHED)
    assert cold.result == warm.result == uncached.result == 2
    assert cold.hits == warm.hits and cold.lines == warm.lines
    assert warm.hits_of(root, "mod.py") == uncached.hits_of(tmp_path / "plain" / "proj", "mod.py") == [6, 9, 13]

    full = lines.analyze(DOCUMENTED, "mod.py")
    engine = MonitorEngine()
    try:
        built = engine.build(DOCUMENTED, "mod.py", full)
    finally:
        engine.close()  # its tool id, for the tests that run after this one in this process
    trimmed = full.mapping_only(MonitorEngine.reported_raw(built))
    assert {2, 3, 8} <= set(full.first_line.multi_line)  # docstring lines map to their first
    assert dict(trimmed.first_line.multi_line) == {10: 9}  # the one line inside a statement an event reports
    assert (trimmed.statements, trimmed.excluded, len(trimmed.first_line)) == (
        full.statements, full.excluded, len(full.first_line))
