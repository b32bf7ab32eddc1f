"""Policy decisions: every reason a path can get, with the rule that decided it."""

from __future__ import annotations

import json
import os
from pathlib import Path

from covlens import config
from covlens.instrument.policy import Policy
from tests.instrument.driver import FIXTURES

PROJECT = FIXTURES / "hookproj"


def policy() -> Policy:
    return Policy(config.load(PROJECT))


def test_module_under_configured_source_root_is_instrumented_with_source_reason():
    d = policy().decide("pkg.core", str(PROJECT / "pkg/core.py"))
    assert (d.action, d.reason) == ("instrumented", "source")
    assert "pyproject.toml [tool.covlens] source" in d.rule


def test_module_in_workspace_outside_sources_is_skipped_outside_source():
    d = policy().decide("scripts.tool", str(PROJECT / "scripts/tool.py"))
    assert (d.action, d.reason) == ("skipped", "outside-source")


def test_excluded_pattern_is_named_with_its_config_file():
    d = policy().decide("pkg.generated", str(PROJECT / "pkg/generated/__init__.py"))
    assert d.reason == "excluded"
    assert "'pkg/generated/*'" in d.detail and d.rule == "pyproject.toml [tool.covlens] exclude"


def test_coverage_run_omit_is_honoured_as_an_exclusion(tmp_path: Path):
    (tmp_path / "pyproject.toml").write_text('[tool.coverage.run]\nsource = ["app"]\nomit = ["app/vendored/*"]\n')
    (tmp_path / "app/vendored").mkdir(parents=True)
    d = Policy(config.load(tmp_path)).decide("app.vendored.x", str(tmp_path / "app/vendored/x.py"))
    assert d.reason == "excluded" and d.rule == "pyproject.toml [tool.coverage.run] omit"
    d = Policy(config.load(tmp_path)).decide("app.y", str(tmp_path / "app/y.py"))
    assert d.reason == "source" and "[tool.coverage.run] source" in d.rule


def test_test_files_and_conftest_are_skipped_as_test_file():
    p = policy()
    assert p.decide("tests.test_core", str(PROJECT / "tests/test_core.py")).reason == "test-file"
    assert p.decide("conftest", str(PROJECT / "conftest.py")).reason == "test-file"


def test_workspace_reason_when_no_sources_configured(tmp_path: Path):
    (tmp_path / "mod.py").write_text("X = 1\n")
    d = Policy(config.load(tmp_path)).decide("mod", str(tmp_path / "mod.py"))
    assert (d.action, d.reason) == ("instrumented", "workspace")


def test_stdlib_module_is_skipped_stdlib():
    assert policy().decide("json", json.__file__).reason == "stdlib"


def test_site_packages_module_is_third_party_even_inside_the_workspace(tmp_path: Path):
    venv_file = tmp_path / ".venv/lib/python3.11/site-packages/lib.py"
    assert Policy(config.load(tmp_path)).decide("lib", str(venv_file)).reason == "third-party"
    import pytest

    assert policy().decide("pytest", pytest.__file__).reason == "third-party"


def test_covlens_never_instruments_itself():
    import covlens.instrument.hook as hook

    p = policy()
    assert p.decide("covlens.instrument.hook", hook.__file__).reason == "self"
    # Even a copy of covlens under another name is recognised by its location.
    assert p.decide("renamed", hook.__file__).reason == "self"


def test_builtin_frozen_extension_and_namespace_have_no_source():
    p = policy()
    assert p.decide("sys", "built-in").reason == "no-source"
    assert p.decide("zipimport", "frozen").reason == "no-source"
    import _json  # an extension module on most builds, built-in on others

    origin = getattr(_json, "__file__", None) or "built-in"
    assert p.decide("_json", origin).reason == "no-source"
    assert p.decide("nspkg", None, namespace=True).reason == "no-source"
    assert p.decide("pkg.compiled", str(PROJECT / "pkg/compiled.pyc")).reason == "no-source"


def test_decisions_are_cached_by_path():
    p = policy()
    first = p.decide("pkg.core", str(PROJECT / "pkg/core.py"))
    assert p.decide("pkg.core", str(PROJECT / "pkg/core.py")) is first
    aliased = p.decide("alias.core", str(PROJECT / "pkg/core.py"))
    assert aliased.module == "alias.core" and aliased.reason == first.reason


def test_invalid_config_names_the_file_the_line_and_the_key(tmp_path: Path):
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n\n[tool.covlens]\nengine = "fast"\n')
    try:
        config.load(tmp_path)
    except config.ConfigError as exc:
        assert exc.line == 5 and exc.key == "engine"
        assert str(tmp_path / "pyproject.toml") in str(exc) and "auto, ast, monitor" in str(exc)
    else:
        raise AssertionError("an invalid engine must be rejected")


def test_unknown_config_key_is_rejected_with_its_line(tmp_path: Path):
    (tmp_path / "pyproject.toml").write_text('[tool.covlens]\nsource = []\nsorce = ["x"]\n')
    try:
        config.load(tmp_path)
    except config.ConfigError as exc:
        assert exc.line == 3 and exc.key == "sorce"
    else:
        raise AssertionError("an unknown key must be rejected")


def test_missing_source_root_is_a_config_error(tmp_path: Path):
    (tmp_path / "pyproject.toml").write_text('[tool.covlens]\nsource = ["nope"]\n')
    try:
        config.load(tmp_path)
    except config.ConfigError as exc:
        assert exc.line == 2 and "'nope' does not exist" in str(exc)
    else:
        raise AssertionError("a missing source root must be rejected")


def test_config_round_trips_through_json_for_the_worker():
    cfg = config.load(PROJECT)
    assert config.Config.from_json(cfg.to_json()) == cfg


def test_paths_resolve_as_realpath_does_through_linked_folders_and_linked_files(tmp_path: Path):
    from covlens.instrument.policy import real_path

    real = tmp_path / "real"
    (real / "pkg").mkdir(parents=True)
    (real / "pkg" / "mod.py").write_text("x = 1\n")
    (tmp_path / "elsewhere.py").write_text("y = 2\n")
    (real / "pkg" / "linked.py").symlink_to(tmp_path / "elsewhere.py")
    (tmp_path / "alias").symlink_to(real, target_is_directory=True)
    (real / "other").mkdir()
    (real / "other" / "deep.py").write_text("z = 3\n")
    (real / "pkg" / "sub").symlink_to(Path("..") / "other", target_is_directory=True)  # relative, inside a link
    (real / "pkg" / "again").symlink_to(real / "pkg" / "sub", target_is_directory=True)  # a link to a link
    for path in (tmp_path / "alias" / "pkg" / "mod.py", tmp_path / "alias" / "pkg" / "linked.py",
                 tmp_path / "alias" / "pkg" / ".." / "pkg" / "mod.py", real / "pkg" / "mod.py",
                 tmp_path / "alias" / "pkg" / "sub" / "deep.py", tmp_path / "alias" / "pkg" / "again" / "deep.py",
                 tmp_path / "alias" / "pkg" / "sub" / ".." / "pkg" / "mod.py", real / "other" / "deep.py"):
        assert real_path(str(path)) == os.path.normcase(os.path.realpath(path)), path
    assert real_path(str(tmp_path / "alias" / "pkg" / "linked.py")) == os.path.normcase(str(tmp_path / "elsewhere.py"))
    (real / "pkg" / "dangling.py").symlink_to(tmp_path / "gone.py")
    # Spellings the fast path leaves to the general one, and files that do not exist (or point nowhere).
    for text in (f"{tmp_path}//alias/pkg/mod.py", f"{tmp_path}/alias/pkg/", f"{tmp_path}/alias/./pkg/mod.py",
                 f"{real}/pkg/missing.py", f"{tmp_path}/alias/pkg/dangling.py", "relative/mod.py", "/",
                 f"/{tmp_path.parts[1]}"):
        assert real_path(text) == os.path.normcase(os.path.realpath(text)), text


def test_skip_pragma_is_found_on_a_line_of_its_own_and_nowhere_else():
    from covlens.instrument.policy import has_skip_pragma

    for source in ("# covlens: skip-file\n", "x = 1\n  #covlens:skip-file  \ny = 2\n", "a\n#\tcovlens:\tskip-file"):
        assert has_skip_pragma(source), source
    for source in ("", "x = 1\n", "x = 1  # covlens: skip-file\n", "# covlens : skip-file\n",
                   "# covlens: skip-file-please\n", '"covlens: skip-file"\n', "# covlens: other\n"):
        assert not has_skip_pragma(source), source


def test_relative_paths_are_the_root_relative_posix_paths_relpath_gives(tmp_path: Path):
    (tmp_path / "pyproject.toml").write_text('[tool.covlens]\nsource = ["src/app"]\n')
    (tmp_path / "src/app/deep/er").mkdir(parents=True)
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "linked").symlink_to(tmp_path / "src/app", target_is_directory=True)
    p = Policy(config.load(tmp_path))
    root = os.path.realpath(tmp_path)
    inside = [root, f"{root}/a.py", f"{root}/src/app/deep/er/m.py", f"{root}/linked/deep/m.py", f"{root}/./src/../x.py"]
    for path in inside:
        expected = os.path.relpath(os.path.realpath(path), root).replace(os.sep, "/")
        assert p.relative(path) == expected, path
    # A sibling whose name starts with the root's is not inside it.
    assert not p.relative(f"{root}-other/m.py").startswith(".")
    assert p.relative(f"{root}-other/m.py").endswith(f"{os.path.basename(root)}-other/m.py")
    d = p.decide("app.deep.er.m", f"{root}/src/app/deep/er/m.py")
    assert d.detail == "under source root src/app/ (pyproject.toml [tool.covlens] source)"
