"""Affected-test selection in the server: a save runs the tests it affects first, then everything in the background."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from bench.latency.generate import SMALL, apply_edit, generate, pick_edits
from covlens.config import load
from covlens.runner.session import Session
from covlens.store import Store
from tests.lsp.conftest import Client, Start


def picture(root: Path) -> dict[str, Any]:
    """The stored coverage of a project, by relative path: statements, executed lines, tests per line."""
    project = Store(root).project()
    return {project.relpath(path): (sorted(fc.statements), sorted(fc.executed), dict(sorted(fc.hits.items())))
            for path, fc in project.files.items()}


async def from_scratch(root: Path, dest: Path) -> dict[str, Any]:
    """The same project measured by one complete run in a fresh copy."""
    shutil.copytree(root, dest, ignore=shutil.ignore_patterns(".covlens", "__pycache__"))
    result = await Session(load(dest)).run()
    Store(dest).record(result)
    return picture(dest)


def ended(scope: str):
    return lambda p: p["state"] not in ("running", "idle") and p.get("scope") == scope


async def edit(client: Client, rel: str, old: str, new: str) -> int:
    """Save an edit of `rel` (as the editor does); a cursor from before it."""
    mark = client.inbox.mark()
    text = client.path(rel).read_text()
    assert old in text
    client.save(rel, text.replace(old, new))
    return mark


async def test_editing_one_function_runs_only_its_tests_then_everything_in_the_background(serve: Start, tmp_path):
    client = await serve("selecting")
    _, first = await client.run_complete()
    assert first["scope"] == "all" and first["counts"] == {"passed": 5}

    mark = await edit(client, "lib/alpha.py", "result = x * 3", "result = 3 * x")
    after, fast = await client.inbox.wait("covlens/runStatus", ended("affected"), mark)
    assert (fast["state"], fast["total"], fast["counts"]) == ("complete", 1, {"passed": 1})
    _, alpha = await client.coverage_of("lib/alpha.py", mark, lambda p: p["runId"] == fast["runId"])
    assert not alpha["stale"] and 10 in alpha["covered"]  # 0-based: `result = 3 * x`
    published = [p["uri"] for p in client.inbox.all("covlens/fileCoverage", mark) if p["runId"] == fast["runId"]]
    assert published[0] == client.uri("lib/alpha.py"), "the edited file goes out first"

    _, full = await client.inbox.wait("covlens/runStatus", ended("follow-up"), after)
    assert (full["state"], full["counts"]) == ("complete", {"passed": 5})
    assert picture(client.root) == await from_scratch(client.root, tmp_path / "fresh")


async def test_after_an_affected_run_alone_coverage_equals_a_from_scratch_run(serve: Start, tmp_path):
    client = await serve("selecting", init={"followUpFullRun": False})
    await client.run_complete()
    # Lines above move too: the lines of tests that are not run again must follow them.
    mark = await edit(client, "lib/alpha.py", '"""Arithmetic helpers."""\n',
                      '"""Arithmetic helpers."""\n# moved\n\n')
    _, moved = await client.inbox.wait("covlens/runStatus", ended("affected"), mark)
    assert (moved["state"], moved["total"]) == ("complete", None)  # nothing to run: no code changed
    mark = await edit(client, "lib/alpha.py", "return x * FACTOR", "value = x * FACTOR\n    return value")
    _, fast = await client.inbox.wait("covlens/runStatus", ended("affected"), mark)
    # double ran in test_double and in both test_quad cases, through beta.
    assert (fast["state"], fast["total"]) == ("complete", 3)
    assert picture(client.root) == await from_scratch(client.root, tmp_path / "fresh")


async def test_a_conftest_change_runs_every_test(serve: Start):
    client = await serve("selecting", init={"followUpFullRun": False})
    await client.run_complete()
    mark = await edit(client, "tests/conftest.py", "return 7", "return 7  # lucky")
    _, run = await client.inbox.wait("covlens/runStatus", lambda p: p["state"] == "complete", mark)
    assert (run["scope"], run["counts"]) == ("all", {"passed": 5})


async def test_a_new_test_runs_with_its_file_and_a_removed_one_is_forgotten(serve: Start):
    client = await serve("selecting", init={"followUpFullRun": False})
    await client.run_complete()
    text = client.path("tests/test_alpha.py").read_text()
    text = text.replace("def test_bump():", "def test_bump_renamed():") + "\n\ndef test_new():\n    assert True\n"
    mark = client.inbox.mark()
    client.save("tests/test_alpha.py", text)
    _, run = await client.inbox.wait("covlens/runStatus", ended("affected"), mark)
    assert (run["state"], run["counts"]) == ("complete", {"passed": 4})
    tests = set(Store(client.root).project().tests)
    assert "tests/test_alpha.py::test_new" in tests and "tests/test_alpha.py::test_bump" not in tests


async def test_an_edit_no_test_runs_moves_the_lines_and_runs_nothing(serve: Start):
    client = await serve("selecting", init={"followUpFullRun": False})
    _, first = await client.run_complete()
    _, before = await client.coverage_of("lib/beta.py")
    mark = await edit(client, "lib/beta.py", '"""Built on alpha."""\n', '"""Built on alpha."""\n\n\n')
    _, run = await client.inbox.wait("covlens/runStatus", ended("affected"), mark)
    assert run["counts"] == {}
    _, after = await client.coverage_of("lib/beta.py", mark, lambda p: p["runId"] == run["runId"])
    assert after["covered"] == [n + 2 if n > 0 else n for n in before["covered"]]
    assert after["missed"] == [n + 2 for n in before["missed"]]


async def save_edits(client: Client, info: Any, count: int, *, follow_up: bool) -> None:
    """Make `count` one-function edits of the generated project, waiting for each one's runs to end."""
    for number, function in enumerate(pick_edits(info, count), 1):
        text, line = apply_edit(client.path(function.path).read_text(), function, number)
        mark = client.inbox.mark()
        client.save(function.path, text)
        after, fast = await client.inbox.wait("covlens/runStatus", ended("affected"), mark)
        assert fast["state"] == "complete" and fast["counts"].get("failed") is None
        _, fresh = await client.coverage_of(function.path, mark, lambda p: p["runId"] == fast["runId"])
        assert line in fresh["covered"], "the edited line must show as run after the affected run"
        if follow_up:
            _, full = await client.inbox.wait("covlens/runStatus", ended("follow-up"), after)
            assert full["state"] == "complete"


async def test_on_a_generated_project_affected_runs_alone_give_from_scratch_coverage(serve: Start, tmp_path):
    info = generate(tmp_path / "gen", **SMALL)
    client = await serve(info.root, init={"followUpFullRun": False})
    await client.run_complete()
    await save_edits(client, info, 4, follow_up=False)
    assert picture(client.root) == await from_scratch(client.root, tmp_path / "fresh")


async def test_on_a_generated_project_the_follow_up_run_gives_from_scratch_coverage(serve: Start, tmp_path):
    info = generate(tmp_path / "gen", **SMALL)
    client = await serve(info.root)
    await client.run_complete()
    await save_edits(client, info, 2, follow_up=True)
    assert picture(client.root) == await from_scratch(client.root, tmp_path / "fresh")
