"""The AST engine: probes record coverage.py's executed lines and leave the program's behaviour and lines intact."""

from __future__ import annotations

import inspect
import linecache
import sys
import textwrap
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


def test_new_context_and_close_are_no_ops() -> None:
    engine = AstEngine()
    engine.new_context()
    engine.close()
    engine.close()
    module, target = run("x = 1\n")
    assert executed(target) == {1}


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

    start = time.perf_counter()
    compile(source, "big.py", "exec", dont_inherit=True)
    plain = time.perf_counter() - start

    start = time.perf_counter()
    facts = analyze(source, "big.py")
    analyzed = time.perf_counter() - start
    target = FileHits("big.py", "big", facts)
    start = time.perf_counter()
    code, extra = AstEngine().compile(source, "big.py", target)
    instrumented = time.perf_counter() - start

    # Per block: decorator, def, try, c =, except, c = 0, return (the docstring and the excluded if do not count).
    assert len(facts.statements) == 2 + 7 * (50_000 // 12 + 1)
    namespace = dict(extra)
    exec(code, namespace)
    assert namespace["f7"](1, 2) == 0.5
    # Relative to compiling the same text on the same machine, so a loaded CI box cannot make this flaky:
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
