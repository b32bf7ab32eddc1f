"""Affected-test selection: blocks and their checksums, line remaps, and the plan a change gives."""

from __future__ import annotations

from pathlib import Path

from covlens.runner.blocks import MODULE, blocks_of, line_map, remap
from covlens.runner.selection import Selection, keeps, plan

SOURCE = '''"""A module."""
import os

LIMIT = 3


def double(x):
    return x * 2


@staticmethod
def helper(y):
    # a comment
    def inner():
        return y
    return inner()


class Cart:
    size = 0

    def add(self, n):
        return self.size + n
'''


def test_each_function_and_method_is_a_block_and_the_rest_is_the_module_block():
    blocks = blocks_of(SOURCE).blocks
    assert set(blocks) == {"double", "helper", "Cart.add", MODULE}
    assert (blocks["helper"].start, blocks["helper"].end) == (11, 16)  # decorator to last line, inner included
    assert (blocks["Cart.add"].start, blocks["Cart.add"].end) == (22, 23)


def test_a_body_edit_changes_only_that_block():
    edited = SOURCE.replace("return x * 2", "return x * 3")
    assert blocks_of(SOURCE).changed(blocks_of(edited)) == {"double"}


def test_comments_blank_lines_and_moves_change_no_block():
    moved = SOURCE.replace("# a comment", "# another comment").replace('import os\n', 'import os\n\n\n\n')
    assert blocks_of(SOURCE).changed(blocks_of(moved)) == frozenset()


def test_a_new_function_is_a_new_block_not_a_module_change():
    added = SOURCE + "\n\ndef fresh():\n    return 1\n"
    assert blocks_of(SOURCE).changed(blocks_of(added)) == {"fresh"}


def test_module_level_and_class_level_statements_are_the_module_block():
    assert blocks_of(SOURCE).changed(blocks_of(SOURCE.replace("LIMIT = 3", "LIMIT = 4"))) == {MODULE}
    assert blocks_of(SOURCE).changed(blocks_of(SOURCE.replace("size = 0", "size = 1"))) == {MODULE}


def test_lines_move_with_an_edit_and_rewritten_lines_are_dropped():
    old = "a\nb\nc\nd\n"
    new = "x\na\nb\nC\nd\n"
    mapping = line_map(old, new)
    assert mapping == {1: 2, 2: 3, 4: 5}
    assert remap({1, 3, 4}, mapping) == {2, 5}


class FakeHistory:
    """Stored texts and per-test lines, as the store would give them."""

    def __init__(self, sources: dict[str, str], hits: dict[str, dict[str, frozenset[int]]],
                 tests: dict[str, str]) -> None:
        self.sources, self.hits, self.tests = sources, hits, tests

    def source_of(self, path: str) -> str | None:
        return self.sources.get(path)

    def hits_in(self, path: str) -> dict[str, frozenset[int]]:
        return {ctx: files[path] for ctx, files in self.hits.items() if path in files}

    def test_ids(self) -> dict[str, str]:
        return self.tests


def project(tmp_path: Path) -> tuple[Path, FakeHistory]:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "tests").mkdir()
    mod = tmp_path / "pkg" / "mod.py"
    mod.write_text(SOURCE)
    (tmp_path / "tests" / "test_mod.py").write_text("def test_a(): pass\n")
    (tmp_path / "tests" / "conftest.py").write_text("")
    path = str(mod)
    history = FakeHistory(
        {path: SOURCE},
        {"tests/test_mod.py::test_double": {path: frozenset({7, 8})},
         "tests/test_mod.py::test_helper": {path: frozenset({11, 12, 14, 15, 16})},
         "tests/test_cart.py::test_add": {path: frozenset({22, 23})}},
        {"tests/test_mod.py::test_double": "passed", "tests/test_mod.py::test_helper": "passed",
         "tests/test_cart.py::test_add": "passed", "tests/test_other.py::test_broken": "failed"})
    return mod, history


def plan_for(tmp_path: Path, history: FakeHistory, *changed: Path, also: tuple[str, ...] = ()):
    return plan([str(p) for p in changed], history, root=str(tmp_path), test_patterns=("test_*.py",), also=also)


def test_a_change_affecting_test_a_but_not_b_runs_a_and_the_failing_tests_only(tmp_path):
    mod, history = project(tmp_path)
    mod.write_text(SOURCE.replace("return x * 2", "return x * 3"))
    result = plan_for(tmp_path, history, mod)
    assert result.affected == {"tests/test_mod.py::test_double"}
    assert result.selection is not None
    assert set(result.selection.only or ()) == {"tests/test_mod.py::test_double", "tests/test_other.py::test_broken"}
    assert result.selection.targets == ("tests/test_mod.py", "tests/test_other.py")  # the affected file first
    (edit,) = result.edits
    assert edit.path == str(mod) and edit.mapping[22] == 22


def test_tests_still_owed_by_an_unfinished_run_are_taken_along(tmp_path):
    mod, history = project(tmp_path)
    mod.write_text(SOURCE.replace("return x * 2", "return x * 3"))
    result = plan_for(tmp_path, history, mod, also=("tests/test_cart.py::test_add",))
    assert "tests/test_cart.py::test_add" in (result.selection.only or ())


def test_a_module_level_change_runs_every_test_that_ran_the_file(tmp_path):
    mod, history = project(tmp_path)
    mod.write_text(SOURCE.replace("LIMIT = 3", "LIMIT = 4"))
    assert plan_for(tmp_path, history, mod).affected == {
        "tests/test_mod.py::test_double", "tests/test_mod.py::test_helper", "tests/test_cart.py::test_add"}


def test_a_comment_only_edit_runs_nothing_new_but_moves_the_lines(tmp_path):
    mod, history = project(tmp_path)
    mod.write_text("# top\n" + SOURCE)
    result = plan_for(tmp_path, history, mod)
    assert result.affected == frozenset()
    assert result.edits[0].mapping[7] == 8


def test_a_conftest_change_runs_all(tmp_path):
    _, history = project(tmp_path)
    result = plan_for(tmp_path, history, tmp_path / "tests" / "conftest.py")
    assert result.selection is None and "conftest.py" in result.reason


def test_a_changed_test_file_runs_whole(tmp_path):
    _, history = project(tmp_path)
    result = plan_for(tmp_path, history, tmp_path / "tests" / "test_mod.py")
    assert result.affected == {"tests/test_mod.py"}


def test_an_unmeasured_or_removed_module_runs_all(tmp_path):
    _, history = project(tmp_path)
    helper = tmp_path / "pkg" / "new.py"
    helper.write_text("X = 1\n")
    assert plan_for(tmp_path, history, helper).selection is None
    helper.unlink()
    assert plan_for(tmp_path, history, helper).selection is None


def test_a_syntax_error_runs_every_test_that_ran_the_file(tmp_path):
    mod, history = project(tmp_path)
    mod.write_text(SOURCE.replace("return x * 2", "return x *"))
    assert len(plan_for(tmp_path, history, mod).affected) == 3


def test_nothing_stored_yet_runs_all(tmp_path):
    mod, _ = project(tmp_path)
    assert plan_for(tmp_path, FakeHistory({}, {}, {}), mod).selection is None


def test_only_keeps_listed_node_ids_and_whole_files():
    sel = Selection.tests(["tests/a.py::t1", "tests/b.py"])
    assert sel.targets == ("tests/a.py", "tests/b.py")
    assert keeps(sel.only or (), "tests/a.py::t1")
    assert not keeps(sel.only or (), "tests/a.py::t2")
    assert keeps(sel.only or (), "tests/b.py::anything[1]")
