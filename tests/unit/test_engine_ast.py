"""The AST engine: probes record coverage.py's executed lines and leave the program's behaviour and lines intact."""

from __future__ import annotations

import inspect
import linecache
import sys
import textwrap
import threading
import time
import traceback
import types
from pathlib import Path
from typing import Any

import pytest

from covlens.instrument.engine_ast import AstEngine
from covlens.instrument.lines import analyze
from covlens.instrument.recorder import FileHits


def instrument(source: str, filename: str = "example.py") -> tuple[types.ModuleType, FileHits, Any]:
    """Compile `source` with the AST engine; return an empty module to run it in, its hits, and the code."""
    source = textwrap.dedent(source)
    target = FileHits(filename, "example", analyze(source, filename))
    code, extra = AstEngine().compile(source, filename, target)
    module = types.ModuleType("example")
    module.__file__ = filename
    module.__dict__.update(extra)
    return module, target, code


def run(source: str, filename: str = "example.py") -> tuple[types.ModuleType, FileHits]:
    module, target, code = instrument(source, filename)
    exec(code, module.__dict__)
    return module, target


def executed(target: FileHits) -> frozenset[int]:
    return target.lines.reported(target.hits)


def test_statements_run_are_recorded_and_others_are_not() -> None:
    _, target = run(
        """\
        def f(x):
            if x:
                return 1
            return 2
        f(0)
        """
    )
    assert executed(target) == {1, 2, 4, 5}


def test_docstring_stays_a_docstring_after_instrumentation() -> None:
    module, target = run(
        '''\
        """Module doc."""
        class C:
            """Class doc."""
            def m(self):
                """Method doc."""
                return 1
        def f():
            """Function doc."""
        C().m()
        '''
    )
    assert module.__doc__ == "Module doc."
    assert module.C.__doc__ == "Class doc."
    assert module.C.m.__doc__ == "Method doc."
    assert module.f.__doc__ == "Function doc."
    assert executed(target) == {2, 4, 6, 7, 9}


def test_future_import_still_first_after_instrumentation() -> None:
    module, target = run(
        '''\
        """Doc."""
        from __future__ import annotations
        from __future__ import division
        def f(x: Undefined) -> AlsoUndefined:
            return x
        '''
    )
    assert module.f.__annotations__ == {"x": "Undefined", "return": "AlsoUndefined"}
    assert module.__doc__ == "Doc."
    assert executed(target) == {2, 3, 4}


def test_tracebacks_keep_original_line_numbers(tmp_path: Path) -> None:
    path = tmp_path / "boom.py"
    source = textwrap.dedent(
        """\
        import functools

        @functools.wraps(print)
        def deco(f):
            return f

        @deco
        def fail(
            x,
        ):
            y = x + 1
            raise ValueError(
                y,
            )
        """
    )
    path.write_text(source)
    module, _, code = instrument(source, str(path))
    exec(code, module.__dict__)
    assert module.fail.__code__.co_firstlineno == 7
    linecache.checkcache(str(path))
    assert inspect.getsourcelines(module.fail)[1] == 7
    with pytest.raises(ValueError) as caught:
        module.fail(1)
    frames = traceback.extract_tb(caught.value.__traceback__)
    assert (frames[-1].filename, frames[-1].lineno, frames[-1].name) == (str(path), 12, "fail")


def test_except_line_counts_when_type_evaluated_but_not_matched() -> None:
    _, target = run(
        """\
        try:
            try:
                raise KeyError
            except ValueError:
                unreachable = 1
            except (TypeError,
                    IndexError) as e:
                unreachable = 2
        except KeyError:
            caught = True
        try:
            pass
        except OSError:
            never = True
        """
    )
    assert executed(target) == {1, 2, 3, 4, 6, 9, 10, 11, 12}


def test_except_line_counts_even_when_its_type_expression_raises() -> None:
    _, target = run(
        """\
        try:
            try:
                raise KeyError
            except UndefinedName:
                unreachable = 1
        except NameError:
            caught = True
        """
    )
    assert executed(target) == {1, 2, 3, 4, 6, 7}


def test_bare_except_line_counts_when_its_handler_runs() -> None:
    _, target = run(
        """\
        try:
            raise KeyError
        except:
            caught = True
        try:
            pass
        except:
            never = True
        """
    )
    assert executed(target) == {1, 2, 3, 4, 5, 6}


@pytest.mark.skipif(sys.version_info < (3, 11), reason="except* is 3.11 syntax")
def test_except_star_types_are_recorded_when_evaluated() -> None:
    _, target = run(
        """\
        try:
            raise ExceptionGroup("g", [KeyError()])
        except* ValueError:
            never = 1
        except* KeyError:
            caught = 2
        """
    )
    assert executed(target) == {1, 2, 3, 5, 6}


def test_match_records_cases_tried_up_to_the_matching_one() -> None:
    module, target = run(
        """\
        def f(v):
            match v:
                case 1:
                    return "one"
                case [a, b] if a > b:
                    return "pair"
                case str():
                    return "str"
                case _:
                    return "other"
        result = f("s")
        """
    )
    assert module.result == "str"
    assert executed(target) == {1, 2, 3, 5, 7, 8, 11}


def test_match_without_default_records_every_case_when_nothing_matches() -> None:
    module, target = run(
        """\
        def f(v):
            match v:
                case 1:
                    return "one"
                case (
                    2
                ):
                    return "two"
            return "none"
        result = f(3)
        """
    )
    assert module.result == "none"
    assert executed(target) == {1, 2, 3, 5, 9, 10}


def test_match_ending_in_a_capture_pattern_keeps_its_behaviour() -> None:
    module, target = run(
        """\
        match 5:
            case 1 | 2:
                x = "small"
            case 3 as three:
                x = three
            case other:
                x = other
        """
    )
    assert module.x == 5
    assert executed(target) == {1, 2, 4, 6, 7}


def test_decorator_lines_count_when_the_definition_runs() -> None:
    _, target = run(
        """\
        def deco(f):
            return f
        @deco
        @(
            deco
        )
        class C:
            @staticmethod
            def s():
                return 1
        """
    )
    assert executed(target) == {1, 2, 3, 4, 7, 8, 9}


def test_lines_coverage_does_not_count_get_no_probe() -> None:
    _, _, code = instrument(
        """\
        def f():
            global g
            g = 1
        if x:  # pragma: no cover
            y = 2
        """
    )
    probes = [c for c in _all_code(code) for name in c.co_names if name.startswith("__covlens_hit_")]
    # The module body probes `def f` (line 1) only; f's body probes `g = 1` only.
    assert len(probes) == 2


def test_class_bodies_nested_scopes_and_name_mangling_work() -> None:
    module, target = run(
        """\
        class A:
            __private = 1
            def get(self):
                __local = self.__private
                def inner():
                    nonlocal __local
                    __local += 1
                    return __local
                return inner()
        value = A().get()
        """
    )
    assert module.value == 2
    assert executed(target) == {1, 2, 3, 4, 5, 7, 8, 9, 10}  # 6 is `nonlocal`: no code, no statement


def test_generators_async_walrus_and_comprehensions_behave_as_uninstrumented() -> None:
    source = """\
        import asyncio
        def gen(n):
            for i in range(n):
                yield i
        async def agen():
            yield 1
        async def main():
            return [x async for x in agen()] + [await asyncio.sleep(0, 2)]
        squares = [y for x in gen(4) if (y := x * x) > 1]
        doubled = (lambda k: k * 2)(3)
        text = f"{squares!r:>{doubled}}"
        result = asyncio.run(main())
        """
    plain: dict[str, Any] = {}
    exec(compile(textwrap.dedent(source), "plain.py", "exec"), plain)
    module, target = run(source)
    for name in ("squares", "doubled", "text", "result"):
        assert getattr(module, name) == plain[name]
    assert executed(target) == {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}


def test_hits_go_into_the_same_set_object_across_drains() -> None:
    module, target = run("def f():\n    return 1\n")
    hits = target.hits
    hits.clear()  # as the recorder drains it, in place
    module.f()
    assert target.hits is hits
    assert hits == {2}


def test_syntax_error_from_engine_compile_is_exactly_compiles() -> None:
    source = "def f():\n    return 1\nnonlocal x\n"
    with pytest.raises(SyntaxError) as expected:
        compile(source, "bad.py", "exec", dont_inherit=True)
    target = FileHits("bad.py", "bad", analyze("x = 1\n", "bad.py"))
    with pytest.raises(SyntaxError) as raised:
        AstEngine().compile(source, "bad.py", target)
    assert raised.value.args == expected.value.args


def test_deep_nesting_raises_recursion_error_out_of_compile() -> None:
    source = "x = " + "+".join(["1"] * 200_000) + "\n"
    with pytest.raises(RecursionError):
        compile(source, "deep.py", "exec", dont_inherit=True)
    target = FileHits("deep.py", "deep", analyze("x = 1\n", "deep.py"))
    with pytest.raises(RecursionError):
        AstEngine().compile(source, "deep.py", target)


def test_close_is_idempotent_and_probes_keep_recording_after_it() -> None:
    engine = AstEngine()
    source = "def f():\n    return 1\n"
    target = FileHits("example.py", "example", analyze(source, "example.py"))
    code, extra = engine.compile(source, "example.py", target)
    namespace = dict(extra)
    exec(code, namespace)
    engine.close()
    engine.close()
    namespace["f"]()
    assert executed(target) == {1, 2}


# Probes switch themselves off after their first hit in a context on CPython 3.11 (see engine_ast._Switch).
SWITCHES = sys.implementation.name == "cpython" and sys.version_info[:2] == (3, 11)

CONTEXT_PROGRAM = """\
def total(n, skip=None):
    acc = 0
    for i in range(n):
        if i == skip:
            continue
        try:
            acc += 10 // (i - 3)
        except ZeroDivisionError:
            acc -= 1
    return acc


def fact(n):
    if n <= 1:
        return 1
    return n * fact(n - 1)


def gen(n):
    for i in range(n):
        yield i * 2
    return -1
"""

# One "test" per entry: the calls it makes.
CONTEXT_CALLS = [
    "total(2)",
    "total(6, skip=1)",
    "total(6, skip=1)",
    "fact(30) + fact(1)",
    "list(gen(3)) + [total(1)]",
    "total(0)",
    "fact(5)",
]


def _traced_contexts(source: str, calls: list[str]) -> list[frozenset[int]]:
    """The oracle: coverage.py's executed lines of each call, from a sys.settrace line tracer on plain code."""
    facts = analyze(source, "ctx.py")
    namespace: dict[str, Any] = {}
    exec(compile(source, "ctx.py", "exec"), namespace)
    seen: set[int] = set()

    def tracer(frame: types.FrameType, event: str, arg: Any) -> Any:
        if frame.f_code.co_filename != "ctx.py":
            return None
        if event == "line":
            seen.add(frame.f_lineno)
        return tracer

    out = []
    for call in calls:
        seen.clear()
        sys.settrace(tracer)
        try:
            eval(call, namespace)
        finally:
            sys.settrace(None)
        out.append(facts.reported(seen))
    return out


def _engine_contexts(engine: AstEngine, source: str, calls: list[str], *, contexts: bool = True,
                     repeat: int = 1) -> list[frozenset[int]]:
    target = FileHits("ctx.py", "ctx", analyze(source, "ctx.py"))
    code, extra = engine.compile(source, "ctx.py", target)
    namespace = dict(extra)
    exec(code, namespace)
    out = []
    for call in calls:
        target.hits.clear()
        if contexts:
            engine.new_context()
        for _ in range(repeat):
            eval(call, namespace)
        out.append(target.lines.reported(target.hits))
    return out


def test_every_context_records_the_lines_it_ran_again_after_a_switch() -> None:
    # Lines already seen in an earlier context (and switched off there) are recorded again in each new one.
    assert _engine_contexts(AstEngine(), CONTEXT_PROGRAM, CONTEXT_CALLS) == _traced_contexts(CONTEXT_PROGRAM,
                                                                                                CONTEXT_CALLS)


def test_contexts_stay_exact_when_code_has_warmed_up_before_the_switch() -> None:
    # Repeating each call lets CPython specialise the instrumented code while probes are switched off.
    assert _engine_contexts(AstEngine(), CONTEXT_PROGRAM, CONTEXT_CALLS, repeat=50) == \
        _traced_contexts(CONTEXT_PROGRAM, CONTEXT_CALLS)


def test_without_context_switches_probes_record_each_line_once_for_the_whole_run() -> None:
    engine = AstEngine()
    target = FileHits("ctx.py", "ctx", analyze(CONTEXT_PROGRAM, "ctx.py"))
    code, extra = engine.compile(CONTEXT_PROGRAM, "ctx.py", target)
    namespace = dict(extra)
    exec(code, namespace)
    expected: set[int] = set()
    for call, lines in zip(CONTEXT_CALLS, _traced_contexts(CONTEXT_PROGRAM, CONTEXT_CALLS)):
        eval(call, namespace)
        expected |= lines
    assert target.lines.reported(target.hits) == expected | {1, 13, 19}  # the defs ran at import


@pytest.mark.skipif(not SWITCHES, reason="probes switch themselves off on CPython 3.11 only")
def test_a_warm_probe_is_a_jump_over_itself_after_its_first_hit_until_the_next_context() -> None:
    import dis

    engine = AstEngine()
    source = "def f(n):\n    for i in range(n):\n        n -= 1\n    return n\n"
    target = FileHits("example.py", "example", analyze(source, "example.py"))
    code, extra = engine.compile(source, "example.py", target)
    namespace = dict(extra)
    exec(code, namespace)
    f = namespace["f"]

    def jumps() -> int:
        return sum(1 for ins in dis.get_instructions(f, adaptive=True) if ins.opname == "JUMP_FORWARD")

    assert f(1) == 0
    assert jumps() == 0  # cold code (CPython has not warmed it up yet): its probes keep recording
    assert f(20) == 0  # twenty loop turns warm it up
    engine.new_context()
    target.hits.clear()
    assert jumps() == 0
    assert f(3) == 0
    assert jumps() == 3  # the for, the loop body and the return: each probe now jumps over itself
    assert executed(target) == {2, 3, 4}
    engine.new_context()
    target.hits.clear()
    assert jumps() == 0  # every probe is back on
    assert f(0) == 0
    assert executed(target) == {2, 4}


@pytest.mark.skipif(not SWITCHES, reason="probes switch themselves off on CPython 3.11 only")
def test_cold_code_records_every_run_without_being_switched_off() -> None:
    engine = AstEngine()
    source = "x = 1\ndef f():\n    return 2\n"
    target = FileHits("example.py", "example", analyze(source, "example.py"))
    code, extra = engine.compile(source, "example.py", target)
    namespace = dict(extra)
    exec(code, namespace)  # a module body runs once: it is never worth switching off
    namespace["f"]()
    assert not engine._switch.patched  # type: ignore[union-attr]
    target.hits.clear()
    namespace["f"]()
    assert executed(target) == {3}


def test_long_functions_with_many_constants_are_recorded_exactly() -> None:
    # Past 256 constants, a probe's line number needs an EXTENDED_ARG: such probes must work like the others.
    body = "".join(f"    x = x + {i}.5\n    if x < 0:\n        x = -{i}\n" for i in range(400))
    source = f"def f():\n    x = 0.0\n{body}    return x\n"
    expected = _traced_contexts(source, ["f()", "f()"])
    engine = AstEngine()
    got = _engine_contexts(engine, source, ["f()", "f()"], repeat=10)
    assert got == expected
    assert len(got[0]) == 1 + 2 * 400 + 1
    if SWITCHES:
        # Every one of them, late ones included, was switched off after its hit once the code was warm.
        assert len(engine._switch.patched) == 1 + 2 * 400 + 1  # type: ignore[union-attr]


def test_threads_running_instrumented_code_across_context_switches_stay_correct() -> None:
    engine = AstEngine()
    target = FileHits("ctx.py", "ctx", analyze(CONTEXT_PROGRAM, "ctx.py"))
    code, extra = engine.compile(CONTEXT_PROGRAM, "ctx.py", target)
    namespace = dict(extra)
    exec(code, namespace)
    plain: dict[str, Any] = {}
    exec(compile(CONTEXT_PROGRAM, "plain.py", "exec"), plain)
    expected = plain["total"](40, skip=7) + plain["fact"](20)
    results: list[int] = []
    stop = threading.Event()

    def work() -> None:
        while not stop.is_set():
            results.append(namespace["total"](40, skip=7) + namespace["fact"](20))

    threads = [threading.Thread(target=work) for _ in range(3)]
    for thread in threads:
        thread.start()
    try:
        for _ in range(200):
            engine.new_context()
            target.hits.clear()
            time.sleep(0.0005)
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    assert results and set(results) == {expected}
    engine.new_context()
    target.hits.clear()
    namespace["total"](6, skip=1)
    assert target.lines.reported(target.hits) == _traced_contexts(CONTEXT_PROGRAM, ["total(6, skip=1)"])[0]


def test_a_copy_of_instrumented_code_keeps_recording_and_disassembles() -> None:
    import dis

    module, target = run("def f(n):\n    for i in range(n):\n        n -= 1\n    return n\n")
    assert module.f(4) == 0
    g = types.FunctionType(module.f.__code__.replace(co_name="g"), vars(module))
    list(dis.get_instructions(module.f, adaptive=True))
    list(dis.get_instructions(g))
    target.hits.clear()
    assert g(5) == 0
    assert module.f(1) == 0


def test_fifty_thousand_line_module_analyzes_and_instruments() -> None:
    block = textwrap.dedent(
        '''\
        @decorator
        def f{i}(a, b=1):
            """Doc."""
            if a > b:  # pragma: no cover
                return [x for x in range(a)
                        if x % 2]
            try:
                c = a / b
            except ZeroDivisionError:
                c = 0
            return c

        '''
    )
    source = "def decorator(f):\n    return f\n\n" + "".join(block.format(i=i) for i in range(50_000 // 12 + 1))
    assert source.count("\n") >= 50_000

    start = time.process_time()
    compile(source, "big.py", "exec", dont_inherit=True)
    plain = time.process_time() - start

    start = time.process_time()
    facts = analyze(source, "big.py")
    analyzed = time.process_time() - start
    target = FileHits("big.py", "big", facts)
    start = time.process_time()
    code, extra = AstEngine().compile(source, "big.py", target)
    instrumented = time.process_time() - start

    # Per block: decorator, def, try, c =, except, c = 0, return (the docstring and the excluded if do not count).
    assert len(facts.statements) == 2 + 7 * (50_000 // 12 + 1)
    namespace = dict(extra)
    exec(code, namespace)
    assert namespace["f7"](1, 2) == 0.5
    # Relative to compiling the same text in the same process, and in CPU time, not wall-clock time, so that other
    # processes on a loaded box (the test suites of two Pythons side by side) cannot make this flaky:
    # analysis is one tokenize pass and one compile, instrumenting one parse, one walk and one compile.
    assert analyzed < 8 * plain + 0.5, (analyzed, plain)
    assert instrumented < 8 * plain + 0.5, (instrumented, plain)


def _all_code(code: types.CodeType) -> list[types.CodeType]:
    found, stack = [], [code]
    while stack:
        each = stack.pop()
        found.append(each)
        stack.extend(c for c in each.co_consts if isinstance(c, types.CodeType))
    return found
