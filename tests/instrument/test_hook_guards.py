"""The hook's guards: re-entrancy, fallback on errors, threads, reload, tampering, syntax, depth, bytecode."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from covlens.instrument.engine import monitoring_available
from tests.instrument.driver import FIXTURES, run_plain, run_under_hook, workspace


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A private copy of the hook fixture project (tests write files into it)."""
    root = tmp_path / "hookproj"
    shutil.copytree(FIXTURES / "hookproj", root, ignore=shutil.ignore_patterns("__pycache__"))
    return root


REENTRANT_ENGINE = '''
from covlens.instrument.engine_ast import AstEngine
class ReentrantEngine(AstEngine):
    def compile(self, source, filename, target):
        import side  # an import made while covlens itself is busy instrumenting
        return super().compile(source, filename, target)
def make_engine():
    return ReentrantEngine()
'''


def test_imports_made_while_instrumenting_go_the_normal_way(tmp_path: Path):
    root = workspace(tmp_path, {"main.py": "X = 1\n", "side.py": "Y = 2\n"})
    run = run_under_hook(root, "import main\nRESULT = main.X", fake_engine=REENTRANT_ENGINE)
    assert run.result == 1 and run.error is None
    side = run.decision("side")
    assert (side.action, side.reason) == ("skipped", "guard")
    assert "busy importing main" in side.detail
    assert run.decision("main").reason == "workspace"
    assert str(root / "side.py") not in run.lines  # side's code was never instrumented


def test_covlens_modules_imported_under_the_hook_are_never_instrumented(tmp_path: Path):
    root = workspace(tmp_path, {"main.py": "import covlens.report_probe_does_not_exist\n"})
    run = run_under_hook(root, "import covlens.instrument.discover, importlib\n"
                         "import sys; sys.modules.pop('covlens.instrument.early')\n"
                         "import covlens.instrument.early\n")
    assert run.error is None
    assert run.decision("covlens.instrument.early").reason == "self"
    assert not any("covlens" in p.split("/")[-3:-1] for p in run.lines)


BROKEN_ENGINE = '''
class BrokenEngine:
    name = "broken"
    def compile(self, source, filename, target):
        raise RuntimeError("engine exploded")
    def new_context(self): pass
    def close(self): pass
def make_engine():
    return BrokenEngine()
'''


def test_engine_exception_falls_back_to_plain_import_with_error_decision(tmp_path: Path):
    root = workspace(tmp_path, {"main.py": "def f():\n    return 41 + 1\n"})
    run = run_under_hook(root, "import main\nRESULT = main.f()", fake_engine=BROKEN_ENGINE)
    assert run.error is None and run.result == 42
    d = run.decision("main")
    assert (d.action, d.reason) == ("failed", "error")
    assert "RuntimeError: engine exploded" in d.detail and "imported normally" in d.detail


def test_policy_exception_falls_back_to_plain_import_with_error_decision(tmp_path: Path):
    root = workspace(tmp_path, {"main.py": "X = 5\n"})
    script = """
        def boom(*a, **k):
            raise ValueError("policy broke")
        INST.policy.decide = boom
        import main
        RESULT = main.X
    """
    run = run_under_hook(root, script)
    assert run.error is None and run.result == 5
    d = run.decision("main")
    assert d.reason == "error" and "ValueError: policy broke" in d.detail


def test_two_threads_importing_at_once_both_get_instrumented(tmp_path: Path):
    files = {f"mod{i}.py": f"def f():\n    return {i}\nVALUE = f()\n" for i in range(8)}
    root = workspace(tmp_path, files)
    script = """
        import threading, importlib
        barrier = threading.Barrier(8)
        results = {}
        def work(i):
            barrier.wait()
            results[i] = importlib.import_module(f"mod{i}").VALUE
            importlib.import_module("mod0")  # the same module from every thread at once
        threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
        [t.start() for t in threads]
        [t.join() for t in threads]
        RESULT = sorted(results.values())
    """
    run = run_under_hook(root, script)
    assert run.error is None and run.result == list(range(8))
    for i in range(8):
        assert run.decision(f"mod{i}").reason == "workspace"
        assert run.hits_of(root, f"mod{i}.py") == [1, 2, 3]


def test_reload_of_an_instrumented_module_keeps_counting(tmp_path: Path):
    root = workspace(tmp_path, {"mod.py": "def f(x):\n    if x:\n        return 1\n    return 2\n"})
    script = """
        import importlib, mod
        mod.f(True)
        _, first = INST.switch_context("after-first")
        mod = importlib.reload(mod)
        mod.f(False)
        _, second = INST.switch_context("after-reload")
        RESULT = [sorted(v) for v in first.values()] + [sorted(v) for v in second.values()]
    """
    run = run_under_hook(root, script)
    assert run.error is None
    assert run.result == [[1, 2, 3], [1, 2, 4]]
    assert run.decision("mod").reason == "workspace"


def test_hook_removed_from_meta_path_is_put_back_and_misses_are_explained(tmp_path: Path):
    root = workspace(tmp_path, {"a.py": "A = 1\n", "b.py": "B = 2\n", "c.py": "C = 3\n"})
    script = """
        import sys
        sys.meta_path.remove(INST.finder)   # a test tampering with the import system
        import b                             # imported while the hook was gone
        removed = INST.ensure_first()        # what the pytest plugin does after each test
        import c
        RESULT = [removed, sys.meta_path[0] is INST.finder]
    """
    run = run_under_hook(root, "import a\n" + script.replace("\n        ", "\n"))
    assert run.error is None and run.result == [True, True]
    assert run.decision("a").reason == "workspace"
    b = run.decision("b")
    assert b.reason == "guard" and "not on sys.meta_path" in b.detail
    assert run.decision("c").reason == "workspace" and run.hits_of(root, "c.py") == [1]


def test_deleting_sys_modules_entries_reimports_instrumented(tmp_path: Path):
    root = workspace(tmp_path, {"mod.py": "import sys\nCOUNT = getattr(sys, '_covlens_count', 0) + 1\n"
                                          "sys._covlens_count = COUNT\n"})
    script = """
        import sys, mod
        del sys.modules["mod"]
        import mod
        RESULT = mod.COUNT
    """
    run = run_under_hook(root, script)
    assert run.error is None and run.result == 2
    assert run.decision("mod").reason == "workspace"
    assert run.hits_of(root, "mod.py") == [1, 2, 3]


def test_syntax_error_is_the_same_as_without_covlens(tmp_path: Path):
    root = workspace(tmp_path, {"bad.py": "def f(:\n    pass\n"})
    plain = run_plain(root, "import bad")
    run = run_under_hook(root, "import bad")
    assert plain is not None and plain["type"] == "SyntaxError"
    assert run.error == plain
    assert run.decision("bad").reason == "error" and "SyntaxError" in run.decision("bad").detail


def test_encoding_cookie_future_import_and_docstring_keep_working(tmp_path: Path):
    root = tmp_path
    (root / "latin.py").write_bytes(
        b'# -*- coding: latin-1 -*-\n"""Docstring \xe9t\xe9."""\nfrom __future__ import annotations\n'
        b"def f(x: Undefined) -> Nope:\n    return 'caf\xe9'\n"
    )
    script = """
        import latin
        RESULT = [latin.__doc__, latin.f(1), latin.f.__annotations__["x"]]
    """
    run = run_under_hook(root, script)
    assert run.error is None
    assert run.result == ["Docstring \u00e9t\u00e9.", "caf\u00e9", "Undefined"]
    assert run.decision("latin").reason == "workspace"
    assert run.hits_of(root, "latin.py") == [3, 4, 5]


def test_five_thousand_branch_elif_chain_behaves_as_plain_python_and_never_breaks_the_import(tmp_path: Path):
    body = "def pick(x):\n    if x == 0:\n        return 0\n"
    body += "".join(f"    elif x == {i}:\n        return {i}\n" for i in range(1, 5000))
    root = workspace(tmp_path, {"chain.py": body})
    plain = run_plain(root, "import chain\nassert chain.pick(4321) == 4321")
    run = run_under_hook(root, "import chain\nRESULT = chain.pick(4321)")
    assert run.error == plain  # whatever plain Python does, covlens does the same
    d = run.decision("chain")
    if plain is None:  # 3.12+: CPython compiles it, and so does covlens
        assert run.result == 4321 and d.reason == "workspace"
        assert 2 * 4321 + 2 in run.hits_of(root, "chain.py")
    else:  # 3.11: CPython's own compiler gives up; covlens says why it did not instrument
        assert plain["type"] == "RecursionError"
        assert d.reason == "guard" and "nested too deep" in d.detail


DEEP_ENGINE = '''
class DeepEngine:
    name = "deep"
    def compile(self, source, filename, target):
        def down(n):
            return down(n + 1)
        down(0)  # what a recursive AST walk does on code nested deeper than the recursion limit
    def new_context(self): pass
    def close(self): pass
def make_engine():
    return DeepEngine()
'''


def test_recursion_error_while_instrumenting_falls_back_with_the_depth_guard_reason(tmp_path: Path):
    root = workspace(tmp_path, {"mod.py": "def f():\n    return 7\n"})
    run = run_under_hook(root, "import mod\nRESULT = mod.f()", fake_engine=DEEP_ENGINE)
    assert run.error is None and run.result == 7
    d = run.decision("mod")
    assert (d.action, d.reason, d.rule) == ("skipped", "guard", "depth guard")
    assert "RecursionError" in d.detail and "imported normally" in d.detail


def test_thousands_of_nested_brackets_behave_exactly_as_without_covlens(tmp_path: Path):
    root = workspace(tmp_path, {"nest.py": "X = " + "[" * 3000 + "]" * 3000 + "\n",
                                "deep.py": "Y = " + "(" * 150 + "1" + ")" * 150 + "\n"})
    for script in ("import nest", "import deep\nRESULT = deep.Y"):
        plain = run_plain(root, script)
        run = run_under_hook(root, script)
        assert run.error == plain
        assert "RecursionError" not in (run.stderr or "")
    assert run_under_hook(root, "import deep\nRESULT = deep.Y").result == 1


def test_fifty_thousand_line_module_instruments_and_counts(tmp_path: Path):
    text = "".join(f"def f{i}():\n    return {i}\n" for i in range(25000))
    root = workspace(tmp_path, {"big.py": text})
    run = run_under_hook(root, "import big\nRESULT = big.f24999() + big.f0()")
    assert run.error is None and run.result == 24999
    assert run.decision("big").reason == "workspace"
    hits = run.hits_of(root, "big.py")
    assert len(hits) == 25000 + 2 and 50000 in hits and 2 in hits


def test_instrumented_code_never_writes_bytecode_where_python_would_load_it(project: Path):
    run = run_under_hook(project, "import pkg.core, pkg.sub.deep\nRESULT = pkg.sub.deep.twice(2)")
    assert run.error is None and run.result == 4
    instrumented = [project / "pkg/__init__.py", project / "pkg/core.py", project / "pkg/sub/__init__.py",
                    project / "pkg/sub/deep.py"]
    assert all(run.decision(m).reason == "source" for m in ("pkg", "pkg.core", "pkg.sub", "pkg.sub.deep"))
    written = [p for p in project.rglob("*.pyc") if p.name.split(".")[0] in {s.stem for s in instrumented}
               and p.parent.parent in {s.parent for s in instrumented}]
    assert written == []
    # The plain-imported modules (excluded, say) still get their usual bytecode cache: only covlens's code is kept out.
    import importlib.util

    cached = Path(importlib.util.cache_from_source(str(project / "scripts/tool.py")))
    run_under_hook(project, "import scripts.tool")
    assert cached.exists()


def test_module_imported_by_sitecustomize_before_hook_is_reported_already_imported(tmp_path: Path):
    root = workspace(tmp_path, {"early_mod.py": "E = 1\n", "sitecustomize.py": "import early_mod\n",
                                "late.py": "L = 1\n"})
    run = run_under_hook(root, "import late, early_mod\nRESULT = early_mod.E",
                         env={"PYTHONPATH": str(root)})
    d = run.decision("early_mod")
    assert (d.action, d.reason) == ("skipped", "already-imported")
    assert "sitecustomize" in d.detail and str(root / "sitecustomize.py") in d.detail
    assert run.decision("late").reason == "workspace"


def test_instrumented_module_namespace_holds_only_what_the_user_wrote(tmp_path: Path):
    root = workspace(tmp_path, {"mod.py": "import os\nX = 1\ndef f():\n    return X\n"})
    import sys

    for engine in ["ast"] + (["monitor"] if sys.version_info >= (3, 12) else []):
        script = """
            import mod
            mod.f()
            RESULT = sorted(k for k in vars(mod) if not (k.startswith("__") and k.endswith("__") and k[2:-2].isalpha()))
        """
        run = run_under_hook(root, script, engine=engine)
        assert run.error is None and run.result == ["X", "f", "os"], engine
        assert run.decision("mod").reason == "workspace" and run.hits_of(root, "mod.py") == [1, 2, 3, 4]


@pytest.mark.skipif(not monitoring_available(), reason="the monitor engine needs sys.monitoring (3.12+)")
@pytest.mark.parametrize("final, rearmed", [(False, [2, 3]), (True, [])])
def test_the_final_context_switch_rearms_no_line(tmp_path: Path, final: bool, rearmed: list[int]):
    # After the last switch nothing is drained: a line that ran before must cost no event when it runs again.
    root = workspace(tmp_path, {"mod.py": "def f(x):\n    y = x + 1\n    return y\n"})
    script = f"""
        import mod
        mod.f(1)
        _, before = INST.switch_context("last", final={final})
        mod.f(2)
        RESULT = [sorted(v) for v in before.values()] + [sorted(INST.recorder.files()[mod.__file__].hits)]
    """
    run = run_under_hook(root, script, engine="monitor")
    assert run.error is None, run.error
    assert run.result == [[1, 2, 3], rearmed]
