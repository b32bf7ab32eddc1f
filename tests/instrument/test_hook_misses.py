"""A module no finder has: looked for once under the hook, and failing exactly as it fails without covlens."""

from __future__ import annotations

from pathlib import Path

from tests.instrument.driver import plain_result, run_under_hook, workspace


# Run both under the hook and in a plain interpreter; RESULT must come out the same.
COUNTING = '''
import importlib, importlib.util, sys, traceback

class Counting:
    """A finder after covlens's, counting how often it is asked for each name."""
    asked = {}
    def find_spec(self, name, path=None, target=None):
        self.asked[name] = self.asked.get(name, 0) + 1
        return None

sys.meta_path.append(Counting())

def failure(attempt, trace=True):
    try:
        attempt()
    except ImportError as exc:
        frames = [(f.filename, f.name) for f in traceback.extract_tb(exc.__traceback__)] if trace else None
        return [type(exc).__name__, str(exc), exc.name, frames]
    return None

def by_statement():
    import nosuch_statement

def by_from_import():
    from pkg import nosuch_sub

def by_import_module():
    importlib.import_module("nosuch_function")
'''


def test_a_missing_module_is_looked_for_once_and_fails_as_without_covlens(tmp_path: Path):
    root = workspace(tmp_path, {"pkg/__init__.py": "P = 1\n"})
    script = COUNTING + '''
RESULT = {
    "statement": failure(by_statement),
    "from": failure(by_from_import),
    # importlib.import_module's traceback keeps importlib's frames, which differ by one step; its error does not.
    "import_module": failure(by_import_module, trace=False),
    "asked": {k: v for k, v in Counting.asked.items() if "nosuch" in k},
}
'''
    plain = plain_result(root, script)
    run = run_under_hook(root, script)
    assert run.error is None
    assert run.result == plain
    assert plain["statement"][:3] == ["ModuleNotFoundError", "No module named 'nosuch_statement'", "nosuch_statement"]
    assert plain["from"][0] == "ImportError" and plain["import_module"][2] == "nosuch_function"
    assert run.result["asked"] == {"nosuch_statement": 1, "pkg.nosuch_sub": 1, "nosuch_function": 1}
    assert run.decision("pkg").reason == "workspace"
    assert not any("nosuch" in name for name in run.decisions)


def test_find_spec_and_reload_of_a_missing_module_still_get_their_answers(tmp_path: Path):
    files = {"gone.py": "G = 1\n"}  # each run deletes it: one copy each
    script = COUNTING + '''
import os, gone
os.remove(gone.__file__)
importlib.invalidate_caches()
RESULT = {
    "find_spec": importlib.util.find_spec("nosuch_probe"),
    "reload": failure(lambda: importlib.reload(gone), trace=False),
}
'''
    plain = plain_result(workspace(tmp_path / "plain", files), script)
    run = run_under_hook(workspace(tmp_path / "hook", files), script)
    assert run.error is None
    assert run.result == plain
    assert plain["find_spec"] is None
    assert plain["reload"][:2] == ["ModuleNotFoundError", "spec not found for the module 'gone'"]


def test_a_finder_covlens_cannot_ask_is_still_asked_by_python(tmp_path: Path):
    """Python 3.11 and older still call a legacy finder's find_module; 3.12 and later skip it. Either way the hook
    must leave the outcome to Python."""
    root = workspace(tmp_path, {})
    script = '''
import sys, types, warnings
warnings.simplefilter("ignore", ImportWarning)

class Loader:
    def create_module(self, spec):
        return None
    def exec_module(self, module):
        module.X = 42

class Legacy:
    def find_module(self, name, path=None):
        return Loader() if name == "legacy_mod" else None

sys.meta_path.append(Legacy())
try:
    import legacy_mod
    RESULT = legacy_mod.X
except ImportError as exc:
    RESULT = [type(exc).__name__, str(exc)]
'''
    plain = plain_result(root, script)
    run = run_under_hook(root, script)
    assert run.error is None
    assert run.result == plain
