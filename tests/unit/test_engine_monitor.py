"""The sys.monitoring engine: first-hit LINE events on instrumented code only, re-armed per context, safe to share."""

from __future__ import annotations

import gc
import importlib
import importlib.abc
import importlib.util
import sys
import textwrap
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from types import CodeType, ModuleType

import pytest

from covlens.instrument.lines import SourceLines
from covlens.instrument.recorder import FileHits, Recorder

pytestmark = pytest.mark.skipif(sys.version_info < (3, 12), reason="sys.monitoring exists only on Python 3.12+")

if sys.version_info >= (3, 12):
    from covlens.instrument.engine_monitor import CANDIDATE_TOOL_IDS, MonitorEngine

NO_FACTS = SourceLines(statements=frozenset(), excluded=frozenset(), first_line={})

LOOP_MODULE = """\
def total(n):
    acc = 0
    for i in range(n):
        acc += i
    return acc
"""


@pytest.fixture
def engine() -> Iterator[MonitorEngine]:
    eng = MonitorEngine()
    try:
        yield eng
    finally:
        eng.close()


@pytest.fixture(autouse=True)
def no_leaked_tool_ids() -> Iterator[None]:
    def held() -> dict[int, str | None]:
        return {tool: sys.monitoring.get_tool(tool) for tool in CANDIDATE_TOOL_IDS}

    before = held()
    yield
    # Every test must leave the ids it took free again, or later engines (and tests) would fail to start.
    assert held() == before


def fresh_hits(name: str = "mod") -> FileHits:
    return FileHits(path=f"/virtual/{name}.py", module=name, lines=NO_FACTS)


def load(engine: MonitorEngine, source: str, target: FileHits) -> ModuleType:
    code, extra = engine.compile(textwrap.dedent(source), target.path, target)
    module = ModuleType(target.module)
    module.__file__ = target.path
    module.__dict__.update(extra)
    exec(code, module.__dict__)
    return module


def test_module_lines_are_recorded_raw(engine: MonitorEngine) -> None:
    target = fresh_hits()
    mod = load(engine, LOOP_MODULE, target)
    assert target.hits == {1}  # only the def ran at import
    assert mod.total(3) == 3
    assert target.hits == {1, 2, 3, 4, 5}


def test_line_event_disabled_after_first_hit_and_rearmed_by_new_context(engine: MonitorEngine) -> None:
    target = fresh_hits()
    mod = load(engine, LOOP_MODULE, target)
    mod.total(3)
    target.hits.clear()

    # Disabled: the loop body ran in the first call, and no event fires for it again in this context.
    mod.total(5)
    assert target.hits == set()

    engine.new_context()
    mod.total(1)
    assert target.hits == {2, 3, 4, 5}


def test_new_context_rearms_only_the_code_objects_that_fired(engine: MonitorEngine) -> None:
    target = fresh_hits()
    mod = load(engine, LOOP_MODULE + "\ndef other():\n    return 1\n", target)
    mod.total(2)
    mod.other()
    engine.new_context()
    target.hits.clear()
    mod.total(2)  # only total() runs in this context
    assert target.hits == {2, 3, 4, 5}
    engine.new_context()
    target.hits.clear()
    mod.other()  # re-armed two contexts ago and never fired since: still armed
    mod.total(0)
    assert target.hits == {2, 3, 5, 8}


def test_touched_names_the_hit_sets_of_the_files_that_ran_since_the_last_context(engine: MonitorEngine) -> None:
    recorder = Recorder()
    a = recorder.file("/virtual/a.py", "a", NO_FACTS)
    b = recorder.file("/virtual/b.py", "b", NO_FACTS)
    mod_a = load(engine, LOOP_MODULE, a)
    load(engine, "def g():\n    return 2\n", b)
    assert sorted(map(id, engine.touched())) == sorted([id(a.hits), id(b.hits)])  # both ran at import
    engine.new_context()
    assert engine.touched() == []  # nothing ran since: a switch now looks at no file at all

    mod_a.total(2)
    mod_a.total(3)  # the same set once, however many of its code objects fired
    touched = engine.touched()
    assert [id(s) for s in touched] == [id(a.hits)]


def test_a_drain_given_the_touched_sets_looks_only_at_their_files(engine: MonitorEngine) -> None:
    from covlens.instrument.lines import analyze

    other = "def g():\n    return 2\n"
    recorder = Recorder()
    a = recorder.file("/virtual/a.py", "a", analyze(LOOP_MODULE, "/virtual/a.py"))
    b = recorder.file("/virtual/b.py", "b", analyze(other, "/virtual/b.py"))
    mod_a = load(engine, LOOP_MODULE, a)
    load(engine, other, b)
    assert recorder.drain(engine.touched()) == {a.path: frozenset({1}), b.path: frozenset({1})}
    engine.new_context()

    mod_a.total(1)
    b.hits.add(2)  # as if another thread's hit landed in b's set during a switch, after touched() was taken
    assert recorder.drain(engine.touched()) == {a.path: frozenset({2, 3, 4, 5})}
    engine.new_context()
    # A drain that looks at every file (the final one does) still finds b's line: late, never lost.
    assert recorder.drain() == {b.path: frozenset({2})}


def test_a_code_object_whose_every_line_ran_has_its_events_off_until_the_next_context(engine: MonitorEngine) -> None:
    # A loop within one line keeps a probe that no event ever removes; CPython checks it at every iteration. Once
    # all of a code object's lines have run, nothing is left to learn from it in this context: its events go off.
    target = fresh_hits()
    mod = load(engine, "def squares(n):\n    out = [i * i for i in range(n)]\n    return out\n", target)
    code = mod.squares.__code__
    line = sys.monitoring.events.LINE
    assert sys.monitoring.get_local_events(engine.tool_id, code) == line
    assert mod.squares(3) == [0, 1, 4]
    assert target.hits == {1, 2, 3}
    assert sys.monitoring.get_local_events(engine.tool_id, code) == 0

    engine.new_context()
    assert sys.monitoring.get_local_events(engine.tool_id, code) == line
    target.hits.clear()
    mod.squares(2)
    assert target.hits == {2, 3}  # every line recorded afresh in the new context
    assert sys.monitoring.get_local_events(engine.tool_id, code) == 0


@pytest.mark.parametrize("made_by", ["build", "a bare code object", "a build for other code"])
def test_a_code_object_goes_off_once_its_lines_ran_whether_or_not_build_worked_them_out(
        engine: MonitorEngine, monkeypatch: pytest.MonkeyPatch, made_by: str) -> None:
    # build() works out each code object's event lines, cached with the code: its first event then reads them instead
    # of walking the line table. Code from elsewhere (a bare code object, or lines that do not fit it) still works.
    import covlens.instrument.engine_monitor as engine_monitor

    source = "def squares(n):\n    out = [i * i for i in range(n)]\n    return out\n"
    target = measured_hits(source)
    built = engine.build(source, target.path, target.lines)
    walked: list[str] = []
    real = engine_monitor._event_lines
    monkeypatch.setattr(engine_monitor, "_event_lines", lambda code: walked.append(code.co_name) or real(code))
    if made_by == "a bare code object":
        built = built[0]
    elif made_by == "a build for other code":
        built = (built[0], built[1] + (frozenset({99}),))
    code, _ = engine.bind(built, target.path, target)
    namespace: dict[str, object] = {}
    exec(code, namespace)
    squares = namespace["squares"]
    assert squares(3) == [0, 1, 4]  # type: ignore[operator]
    assert target.hits == {1, 2, 3}
    assert local_events(engine, squares.__code__) == 0  # type: ignore[attr-defined]
    assert walked == ([] if made_by == "build" else ["squares"])  # the comprehension is inlined (PEP 709)


def _collections_started_by(call: Callable[[], object]) -> list[int]:
    """The garbage collections `call` starts when the young generation is exactly at its threshold: any object it
    allocates that the collector tracks starts one."""
    started: list[int] = []

    def on_gc(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            started.append(info["generation"])

    threshold = gc.get_threshold()
    gc.collect()
    keep: list[list[int]] = []
    try:
        gc.set_threshold(500)
        while gc.get_count()[0] < 500:
            keep.append([])
        gc.callbacks.append(on_gc)
        try:
            call()
        finally:
            gc.callbacks.remove(on_gc)
    finally:
        gc.set_threshold(*threshold)
    return started


def test_the_line_callback_starts_no_garbage_collection_once_a_code_object_has_run(engine: MonitorEngine) -> None:
    # A test that re-enables the collector with a million young objects, then collects: a collection started by
    # covlens in between costs milliseconds plain pytest never spends (boltons' gcutils tests did).
    target = fresh_hits()
    mod = load(engine, "def step(a):\n    b = a + 1\n    return b\n", target)
    mod.step(1)  # the first event of a code object makes its set of unseen lines (once)
    engine.new_context()
    assert _collections_started_by(lambda: mod.step(1)) == []
    assert target.hits == {1, 2, 3}
    assert sys.monitoring.get_local_events(engine.tool_id, mod.step.__code__) == 0  # every line ran: switched off
    assert _collections_started_by(set) == [0]  # the probe sees an allocation


def test_a_code_object_with_lines_still_unrun_keeps_recording_them(engine: MonitorEngine) -> None:
    target = fresh_hits()
    source = "def sign(x):\n    if x < 0:\n        return -1\n    return 1\n"
    mod = load(engine, source, target)
    code = mod.sign.__code__
    mod.sign(5)
    assert target.hits == {1, 2, 4}
    assert sys.monitoring.get_local_events(engine.tool_id, code) == sys.monitoring.events.LINE
    mod.sign(-5)  # the last unrun line: now all ran, and its events go off
    assert target.hits == {1, 2, 3, 4}
    assert sys.monitoring.get_local_events(engine.tool_id, code) == 0


def test_each_live_engine_rearms_its_own_code_only() -> None:
    first, second = MonitorEngine(), MonitorEngine()
    try:
        a, b = fresh_hits("a"), fresh_hits("b")
        mod_a, mod_b = load(first, LOOP_MODULE, a), load(second, LOOP_MODULE, b)
        mod_a.total(1)
        mod_b.total(1)
        first.new_context()
        a.hits.clear()
        b.hits.clear()
        mod_a.total(1)
        mod_b.total(1)
        assert (a.hits, b.hits) == ({2, 3, 4, 5}, set())
        second.new_context()
        mod_b.total(1)
        assert b.hits == {2, 3, 4, 5}
    finally:
        second.close()
        first.close()


def test_only_instrumented_code_objects_get_events(engine: MonitorEngine) -> None:
    target = fresh_hits()
    load(engine, LOOP_MODULE, target)
    target.hits.clear()

    plain_ns: dict[str, object] = {}
    exec(compile(LOOP_MODULE, "/virtual/plain.py", "exec"), plain_ns)
    plain_total = plain_ns["total"]
    assert callable(plain_total)
    plain_total(4)

    tool = engine.tool_id
    assert sys.monitoring.get_events(tool) == 0  # never global events
    assert sys.monitoring.get_local_events(tool, plain_total.__code__) == 0  # type: ignore[attr-defined]
    assert target.hits == set()


def test_identical_functions_in_two_files_record_into_their_own_file(engine: MonitorEngine) -> None:
    # Code objects compare equal by content (the filename is not part of it): keying by equality would mix files.
    first, second = fresh_hits("first"), fresh_hits("second")
    mod_first = load(engine, LOOP_MODULE, first)
    mod_second = load(engine, LOOP_MODULE, second)
    assert mod_first.total.__code__ == mod_second.total.__code__
    first.hits.clear()
    second.hits.clear()

    mod_second.total(2)
    assert first.hits == set()
    assert second.hits == {2, 3, 4, 5}


def test_nested_code_objects_are_all_instrumented(engine: MonitorEngine) -> None:
    source = """\
    class Box:
        def __init__(self, items):
            self.items = items

        def doubled(self):
            def twice(x):
                return x * 2
            return [twice(i) for i in self.items]

        def evens(self):
            return sum(
                i for i in self.items if i % 2 == 0
            )

    square = lambda x: (
        x * x
    )
    """
    target = fresh_hits()
    mod = load(engine, source, target)
    assert target.hits == {1, 2, 5, 10, 15}
    target.hits.clear()

    box = mod.Box([1, 2, 3])
    assert box.doubled() == [2, 4, 6]
    assert box.evens() == 2
    assert mod.square(3) == 9
    assert target.hits == {3, 6, 7, 8, 11, 12, 16}


def test_reload_keeps_counting_into_same_hits(engine: MonitorEngine, tmp_path: Path) -> None:
    path = tmp_path / "reloaded_by_monitor_test.py"
    path.write_text(LOOP_MODULE)
    target = FileHits(path=str(path), module=path.stem, lines=NO_FACTS)

    class EngineFinder(importlib.abc.MetaPathFinder, importlib.abc.SourceLoader):
        """The smallest real hook: importlib.reload finds the module through it again and gets fresh code objects."""

        def find_spec(self, fullname: str, search_path: object = None, target_module: object = None) -> object:
            if fullname != path.stem:
                return None
            return importlib.util.spec_from_file_location(fullname, path, loader=self)

        def get_filename(self, fullname: str) -> str:
            return str(path)

        def get_data(self, filename: str) -> bytes:
            return Path(filename).read_bytes()

        def source_to_code(self, data: bytes, path: str = "", *, _optimize: int = -1) -> CodeType:  # type: ignore[override]
            code, _ = engine.compile(data.decode(), path, target)
            return code

    finder = EngineFinder()
    sys.meta_path.insert(0, finder)
    try:
        module = importlib.import_module(path.stem)
        old_total = module.total
        module.total(1)
        assert target.hits == {1, 2, 3, 4, 5}

        # Same file, new code: every line moves down one, and the reloaded code records into the very same set.
        path.write_text("# reloaded\n" + LOOP_MODULE)
        hits_before = target.hits
        target.hits.clear()
        reloaded = importlib.reload(module)
        assert reloaded is module and module.total is not old_total
        module.total(1)
        assert target.hits is hits_before
        assert target.hits == {2, 3, 4, 5, 6}

        # A function captured before the reload still runs the old code, and still records (its old lines).
        target.hits.clear()
        engine.new_context()
        old_total(1)
        assert target.hits == {2, 3, 4, 5}
    finally:
        sys.meta_path.remove(finder)
        sys.modules.pop(path.stem, None)


def test_two_threads_record_their_lines(engine: MonitorEngine) -> None:
    left, right = fresh_hits("left"), fresh_hits("right")
    mod_left = load(engine, LOOP_MODULE, left)
    mod_right = load(engine, "def shout(word):\n    loud = word.upper()\n    return loud + '!'\n", right)
    left.hits.clear()
    right.hits.clear()
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def run(call: object) -> None:
        try:
            barrier.wait()
            for _ in range(200):
                call()  # type: ignore[operator]
        except BaseException as exc:  # surfaced by the assert below, not lost in the thread
            errors.append(exc)

    threads = [
        threading.Thread(target=run, args=(lambda: mod_left.total(10),)),
        threading.Thread(target=run, args=(lambda: mod_right.shout("hi"),)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert left.hits == {2, 3, 4, 5}
    assert right.hits == {2, 3}


def test_compiling_while_other_threads_run_is_safe(engine: MonitorEngine) -> None:
    busy = fresh_hits("busy")
    mod_busy = load(engine, LOOP_MODULE, busy)
    stop = threading.Event()
    started = threading.Event()
    calls = 0
    errors: list[BaseException] = []

    def keep_running() -> None:
        nonlocal calls
        try:
            while not stop.is_set():
                mod_busy.total(5)
                engine.new_context()  # re-arm so callbacks keep firing while the main thread registers code
                calls += 1
                started.set()
        except BaseException as exc:
            errors.append(exc)
            started.set()

    worker = threading.Thread(target=keep_running)
    worker.start()
    try:
        started.wait()
        targets = [fresh_hits(f"m{i}") for i in range(50)]
        modules = [load(engine, LOOP_MODULE, target) for target in targets]
    finally:
        stop.set()
        worker.join()

    assert errors == []
    assert calls > 0
    for module, target in zip(modules, targets):
        module.total(1)
        assert target.hits == {1, 2, 3, 4, 5}
    assert {2, 3, 4, 5} <= busy.hits


def test_close_releases_tool_id() -> None:
    first = MonitorEngine()
    tool = first.tool_id
    assert tool in CANDIDATE_TOOL_IDS
    assert sys.monitoring.get_tool(tool) == "covlens"
    target = fresh_hits()
    mod = load(first, LOOP_MODULE, target)
    first.close()
    first.close()  # idempotent

    assert sys.monitoring.get_tool(tool) is None
    assert sys.monitoring.get_local_events(tool, mod.total.__code__) == 0
    with pytest.raises(RuntimeError, match="after close"):
        first.compile(LOOP_MODULE, "/virtual/late.py", fresh_hits("late"))

    # The next engine gets the id back and inherits neither the old callback nor the old code's events.
    second = MonitorEngine()
    try:
        assert second.tool_id == tool
        target.hits.clear()
        second.new_context()
        mod.total(2)
        assert target.hits == set()
        again = fresh_hits("again")
        load(second, LOOP_MODULE, again)
        assert again.hits == {1}
    finally:
        second.close()


def test_two_live_engines_claim_their_own_ids_and_a_third_is_refused() -> None:
    first = MonitorEngine()
    try:
        second = MonitorEngine()
        try:
            assert {first.tool_id, second.tool_id} == set(CANDIDATE_TOOL_IDS)
            a, b = fresh_hits("a"), fresh_hits("b")
            mod_a = load(first, LOOP_MODULE, a)
            mod_b = load(second, LOOP_MODULE, b)
            a.hits.clear()
            b.hits.clear()
            mod_a.total(1)
            assert (a.hits, b.hits) == ({2, 3, 4, 5}, set())
            mod_b.total(1)
            assert b.hits == {2, 3, 4, 5}

            with pytest.raises(RuntimeError, match=r"tool ids \(3, 4\) are all in use") as refused:
                MonitorEngine()
            assert "'covlens'" in str(refused.value)
            assert 'engine = "ast"' in str(refused.value)
        finally:
            second.close()
    finally:
        first.close()


def test_takes_the_next_id_when_another_tool_holds_the_first() -> None:
    sys.monitoring.use_tool_id(CANDIDATE_TOOL_IDS[0], "someone-else")
    try:
        eng = MonitorEngine()
        try:
            assert eng.tool_id == CANDIDATE_TOOL_IDS[1]
        finally:
            eng.close()
        assert sys.monitoring.get_tool(CANDIDATE_TOOL_IDS[0]) == "someone-else"
    finally:
        sys.monitoring.free_tool_id(CANDIDATE_TOOL_IDS[0])


def test_coexists_with_coverage_sysmon_tool(engine: MonitorEngine) -> None:
    monitoring = sys.monitoring
    coverage_id = monitoring.COVERAGE_ID
    assert engine.tool_id != coverage_id
    seen_by_coverage: list[int] = []
    # If the suite itself runs under coverage.py's sysmon core, id 1 is really taken: that is the case we test.
    fake = monitoring.get_tool(coverage_id) is None
    if fake:
        monitoring.use_tool_id(coverage_id, "coverage.py")
        monitoring.register_callback(coverage_id, monitoring.events.LINE,
                                     lambda code, line: seen_by_coverage.append(line))
    try:
        target = fresh_hits()
        mod = load(engine, LOOP_MODULE, target)
        if fake:
            monitoring.set_local_events(coverage_id, mod.total.__code__, monitoring.events.LINE)
        target.hits.clear()
        mod.total(2)
        assert target.hits == {2, 3, 4, 5}
        if fake:
            # The other tool sees every line event (it never disables), unaffected by our DISABLE.
            assert seen_by_coverage == [2, 3, 4, 3, 4, 3, 5]
    finally:
        if fake:
            monitoring.register_callback(coverage_id, monitoring.events.LINE, None)
            monitoring.set_local_events(coverage_id, mod.total.__code__, 0)
            monitoring.free_tool_id(coverage_id)


class ExplodingSet(set[int]):
    def add(self, element: int) -> None:
        raise MemoryError("simulated failure inside the LINE callback")


def test_callback_error_never_reaches_user_code(engine: MonitorEngine) -> None:
    target = FileHits(path="/virtual/boom.py", module="boom", lines=NO_FACTS, hits=ExplodingSet())
    mod = load(engine, LOOP_MODULE, target)
    assert mod.total(4) == 6  # the user's code ran to the end; only hits were lost


def test_events_on_an_unknown_code_object_are_ignored(engine: MonitorEngine) -> None:
    namespace: dict[str, object] = {}
    exec(compile(LOOP_MODULE, "/virtual/stranger.py", "exec"), namespace)
    stranger = namespace["total"]
    code = stranger.__code__  # type: ignore[attr-defined]
    # Events on a code object the engine never compiled (not in its table): the callback must stay quiet.
    sys.monitoring.set_local_events(engine.tool_id, code, sys.monitoring.events.LINE)
    try:
        assert stranger(3) == 3  # type: ignore[operator]
    finally:
        sys.monitoring.set_local_events(engine.tool_id, code, 0)


def test_syntax_error_is_raised_like_compile(engine: MonitorEngine) -> None:
    with pytest.raises(SyntaxError) as raised:
        engine.compile("def broken(:\n    pass\n", "/virtual/broken.py", fresh_hits("broken"))
    assert raised.value.filename == "/virtual/broken.py"
    assert raised.value.lineno == 1


def test_compiled_code_is_the_plain_bytecode(engine: MonitorEngine) -> None:
    code, extra = engine.compile(LOOP_MODULE, "/virtual/plain.py", fresh_hits())
    assert extra == {}
    plain = compile(LOOP_MODULE, "/virtual/plain.py", "exec", dont_inherit=True)
    assert code == plain and code.co_filename == "/virtual/plain.py"


RUN_ONCE_MODULE = """\
import os

if os.sep:
    sep = os.sep
else:
    sep = None


class Shape:
    sides = 0

    def area(self):
        return 0


def total(n):
    acc = 0
    for i in range(n):
        acc += i
    return acc
"""


def measured_hits(source: str, name: str = "mod") -> FileHits:
    """A FileHits with the real line facts of `source`, as the hook makes it (statement probes need them)."""
    from covlens.instrument.lines import analyze

    path = f"/virtual/{name}.py"
    return FileHits(path=path, module=name, lines=analyze(textwrap.dedent(source), path))


def local_events(engine: MonitorEngine, code: CodeType) -> int:
    return sys.monitoring.get_local_events(engine.tool_id, code)  # type: ignore[no-any-return]


def test_a_module_body_records_through_probes_with_no_events_armed(engine: MonitorEngine) -> None:
    target = measured_hits(RUN_ONCE_MODULE)
    code, _ = engine.compile(RUN_ONCE_MODULE, target.path, target)
    nested = {c.co_name: c for c in code.co_consts if isinstance(c, CodeType)}
    line = sys.monitoring.events.LINE
    assert local_events(engine, code) == 0
    assert local_events(engine, nested["Shape"]) == line and local_events(engine, nested["total"]) == line
    namespace: dict[str, object] = {}
    exec(code, namespace)
    # The module body ran once, through its probes (the branch taken, the class and def lines); the class body through
    # its events.
    assert target.lines.reported(target.hits) == {1, 3, 4, 9, 10, 12, 16}
    namespace["total"](3)  # type: ignore[operator]
    assert target.lines.reported(target.hits) == {1, 3, 4, 9, 10, 12, 16, 17, 18, 19, 20}
    # Nothing of covlens in the module's own namespace.
    assert not [name for name in namespace if "covlens" in name]


def test_functions_keep_the_bytecode_their_author_wrote(engine: MonitorEngine) -> None:
    target = measured_hits(RUN_ONCE_MODULE)
    code, _ = engine.compile(RUN_ONCE_MODULE, target.path, target)
    plain = compile(RUN_ONCE_MODULE, target.path, "exec", dont_inherit=True)

    def functions(module_code: CodeType) -> dict[str, CodeType]:
        from covlens.instrument.engine import code_objects

        return {c.co_qualname: c for c in code_objects(module_code) if c.co_flags & 0x2}  # CO_NEWLOCALS: functions

    ours, theirs = functions(code), functions(plain)
    assert sorted(ours) == ["Shape.area", "total"]
    assert all(ours[name] == theirs[name] for name in ours)


def test_a_traceback_from_a_run_once_body_names_the_authors_line(engine: MonitorEngine) -> None:
    source = "value = 1\n\n\nraise RuntimeError(\n    'at import'\n)\n"
    target = measured_hits(source)
    code, _ = engine.compile(source, target.path, target)
    with pytest.raises(RuntimeError) as raised:
        exec(code, {})
    assert raised.traceback[-1].lineno + 1 == 4  # pytest counts lines from 0
    assert target.lines.reported(target.hits) == {1, 4}


def test_a_module_body_with_a_loop_keeps_line_events(engine: MonitorEngine) -> None:
    # A probe records every time its statement runs; an event is switched off after its first hit.
    source = "names = []\nfor n in range(3):\n    names.append(n)\n\n\nclass Kept:\n    kind = 1\n"
    target = measured_hits(source)
    code, _ = engine.compile(source, target.path, target)
    class_body = next(c for c in code.co_consts if isinstance(c, CodeType))
    line = sys.monitoring.events.LINE
    assert local_events(engine, code) == line and local_events(engine, class_body) == line
    exec(code, {})
    assert target.lines.reported(target.hits) == {1, 2, 3, 6, 7}


def test_a_class_whose_metaclass_invents_every_name_is_measured_by_events(engine: MonitorEngine) -> None:
    # A class body looks names up in the mapping its metaclass prepared; this one answers for any name, so a probe's
    # lookup there would call what it invented. Class bodies keep their author's bytecode and LINE events.
    source = textwrap.dedent(
        """\
        class Inventive(dict):
            def __missing__(self, key):
                return len(key)


        class Meta(type):
            @classmethod
            def __prepare__(mcs, name, bases):
                return Inventive()

            def __new__(mcs, name, bases, namespace):
                return super().__new__(mcs, name, bases, dict(namespace))


        class Numbers(metaclass=Meta):
            first = alpha
            second = (
                beta
            )
        """
    )
    target = measured_hits(source)
    code, _ = engine.compile(source, target.path, target)
    namespace: dict[str, object] = {}
    exec(code, namespace)
    numbers = namespace["Numbers"]
    assert (numbers.first, numbers.second) == (5, 4)  # type: ignore[attr-defined]
    assert not [name for name in vars(numbers) if "covlens" in name]
    assert target.lines.reported(target.hits) == {1, 2, 3, 6, 7, 8, 9, 11, 12, 15, 16, 17}


def test_a_module_imported_during_a_context_reports_its_body_in_that_context(engine: MonitorEngine) -> None:
    from covlens.instrument.lines import analyze

    recorder = Recorder()
    engine.new_context()
    assert recorder.drain(engine.touched()) == {}
    target = recorder.file("/virtual/late.py", "late", analyze(RUN_ONCE_MODULE, "/virtual/late.py"))
    code, _ = engine.compile(RUN_ONCE_MODULE, target.path, target)
    exec(code, {})  # imported by a test: its body ran through probes alone, with no event to mark it
    assert recorder.drain(engine.touched()) == {target.path: frozenset({1, 3, 4, 9, 10, 12, 16})}
    engine.new_context()
    assert engine.touched() == []


def test_probes_of_every_file_share_one_name_in_builtins(engine: MonitorEngine) -> None:
    import builtins

    from covlens.instrument.engine_monitor import ONCE_NAME

    before = {name for name in vars(builtins) if name.startswith("__covlens")}
    first, second = measured_hits(RUN_ONCE_MODULE, "first"), measured_hits(RUN_ONCE_MODULE, "second")
    for target in (first, second):
        code, _ = engine.compile(RUN_ONCE_MODULE, target.path, target)
        exec(code, {})
    # A name added to builtins voids every function's cached lookups of builtins: one for the process, never per file.
    assert {name for name in vars(builtins) if name.startswith("__covlens")} - before <= {ONCE_NAME}
    assert first.lines.reported(first.hits) == second.lines.reported(second.hits) == {1, 3, 4, 9, 10, 12, 16}


def test_reported_lines_per_context_through_the_recorder(engine: MonitorEngine) -> None:
    from covlens.instrument.lines import analyze

    source = textwrap.dedent(
        '''\
        """Docstring."""

        import os


        def describe(value):
            if value > 0:
                text = (
                    "positive"
                )
            else:
                text = "not positive"
            return text


        def unused():  # pragma: no cover
            return os.sep
        '''
    )
    path = "/virtual/describe.py"
    recorder = Recorder()
    target = recorder.file(path, "describe", analyze(source, path))
    code, extra = engine.compile(source, path, target)
    namespace: dict[str, object] = dict(extra)
    exec(code, namespace)

    _, import_hits = recorder.switch_context("test_positive")
    engine.new_context()
    namespace["describe"](1)  # type: ignore[operator]
    first, positive_hits = recorder.switch_context("test_negative")
    engine.new_context()
    namespace["describe"](-1)  # type: ignore[operator]
    second, negative_hits = recorder.switch_context("")

    assert (first, second) == ("test_positive", "test_negative")
    # As coverage.py reports them: the docstring is not a statement, the excluded `def unused` ran but is not shown.
    assert import_hits == {path: frozenset({3, 6})}
    # The three physical lines of the parenthesised assignment are reported at its first line, 8.
    assert positive_hits == {path: frozenset({7, 8, 13})}
    assert negative_hits == {path: frozenset({7, 12, 13})}


TRICKY_MODULE = '''\
"""Constructs whose line events differ between tracing and monitoring, if anything does."""
import functools


def deco(func):
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        return func(*args, **kwargs)
    return wrapper


@deco
def generator(n):
    for i in range(n):
        yield (
            i * 2
        )
    else:
        pass


class Resource:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def flow(values):
    total = 0
    with Resource() as res:
        for v in values:
            if v < 0:
                continue
            try:
                total += 10 // v
            except ZeroDivisionError:
                total -= 1
            finally:
                total += 0
    while total > 100:
        total //= 2
    else:
        total += 1
    squares = {k: k * k for k in values
               if k > 0}
    match values:
        case [first, *_] if first > 1:
            total += first
        case []:
            total = 0
        case _:
            pass
    return total, squares, res, sum(generator(3)), (lambda x:
        x + 1)(2)


async def coroutine(x):
    return x


def never_called():
    return 1
'''


def test_reported_lines_equal_coverage_py_on_tricky_constructs(engine: MonitorEngine, tmp_path: Path) -> None:
    import coverage

    from covlens.instrument.lines import analyze

    path = tmp_path / "tricky_monitor.py"
    path.write_text(TRICKY_MODULE)
    source = path.read_text()

    def run_module(code: CodeType) -> None:
        namespace: dict[str, object] = {"__name__": "tricky_monitor"}
        exec(code, namespace)
        namespace["flow"]([3, 0, -1, 5])  # type: ignore[operator]
        coro = namespace["coroutine"](1)  # type: ignore[operator]
        try:
            coro.send(None)  # type: ignore[attr-defined]
        except StopIteration:
            pass

    cov = coverage.Coverage(data_file=None, include=[str(path)], config_file=False)
    cov.start()
    try:
        run_module(compile(source, str(path), "exec", dont_inherit=True))
    finally:
        cov.stop()
    _, statements, _, missing, _ = cov.analysis2(str(path))
    expected = set(statements) - set(missing)

    target = FileHits(path=str(path), module="tricky_monitor", lines=analyze(source, str(path)))
    code, _ = engine.compile(source, str(path), target)
    run_module(code)
    assert len(source.splitlines()) in missing  # coverage.py did measure the file: never_called's body is missed
    assert target.lines.reported(target.hits) == expected
    # Again in a new context, after the code objects whose every line ran had their events switched off.
    engine.new_context()
    target.hits.clear()
    run_module(code)
    assert target.lines.reported(target.hits) == expected
