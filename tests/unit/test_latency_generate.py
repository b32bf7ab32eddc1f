"""The latency benchmark's project generator: deterministic, its small variant passes, its edits keep it passing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench.latency.generate import SMALL, apply_edit, generate, generate_small, pick_edits


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_same_arguments_give_identical_files(tmp_path: Path) -> None:
    first = generate(tmp_path / "a", **SMALL)
    second = generate_small(tmp_path / "b")
    assert _files(first.root) == _files(second.root)
    assert first.functions == second.functions
    again = generate(tmp_path / "a", **SMALL)  # replacing an earlier generation is allowed
    assert _files(again.root) == _files(second.root)


def test_a_different_seed_gives_a_different_project(tmp_path: Path) -> None:
    assert _files(generate(tmp_path / "a", **SMALL).root) != _files(generate(tmp_path / "b", seed=1, **SMALL).root)


def test_shape(tmp_path: Path) -> None:
    info = generate(tmp_path / "p", **SMALL)
    assert info.modules == 10 and info.tests == 50
    assert len(info.functions) == 30
    assert len(list((info.root / "latproj").glob("m*.py"))) == 10
    assert len(list((info.root / "tests").glob("test_m*.py"))) == 10
    pyproject = (info.root / "pyproject.toml").read_text()
    assert '[tool.covlens]\nsource = ["latproj"]' in pyproject
    # Later modules call earlier modules' leaves: some functions are run by other modules' tests.
    assert any("from latproj import" in (info.root / f"latproj/m{i:03d}.py").read_text() for i in range(1, 10))


def test_refuses_to_replace_a_folder_it_did_not_make(tmp_path: Path) -> None:
    (tmp_path / "mine.txt").write_text("keep me")
    with pytest.raises(FileExistsError):
        generate(tmp_path, **SMALL)
    assert (tmp_path / "mine.txt").read_text() == "keep me"


def test_edits_are_distinct_and_insert_one_statement(tmp_path: Path) -> None:
    info = generate(tmp_path / "p", **SMALL)
    edits = pick_edits(info, 5)
    assert edits == pick_edits(info, 5)
    assert len({e.module for e in edits}) == 5
    assert any(e.leaf for e in edits) and any(not e.leaf for e in edits)
    path = info.root / edits[0].path
    text = path.read_text()
    new, line = apply_edit(text, edits[0], 1)
    assert new.splitlines()[line] == "    marker = 1  # bench edit 1"
    assert len(new.splitlines()) == len(text.splitlines()) + 1
    again, line2 = apply_edit(new, edits[0], 2)  # edits accumulate
    assert line2 == line and again.splitlines()[line + 1] == new.splitlines()[line]


def test_the_small_variant_passes_under_plain_pytest_with_edits(tmp_path: Path) -> None:
    info = generate(tmp_path / "p", **SMALL)
    for number, function in enumerate(pick_edits(info, 4), start=1):
        path = info.root / function.path
        path.write_text(apply_edit(path.read_text(), function, number)[0])
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "COV_CORE_", "COVERAGE_"))}
    result = subprocess.run([sys.executable, "-m", "pytest", "-q"], cwd=info.root, env=env, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "50 passed" in result.stdout
