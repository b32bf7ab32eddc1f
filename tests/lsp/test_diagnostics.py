"""Diagnostics: a decision per workspace module, failing tests at both ends, invalid configuration, missed lines."""

from __future__ import annotations

import pytest
import pytest_asyncio
from lsprotocol import types

from tests.lsp.conftest import Client, Servers, Start, copy_project

REASON_OF = {
    "app/core.py": ("source", types.DiagnosticSeverity.Hint),
    "app/never.py": ("not-imported", types.DiagnosticSeverity.Warning),
    "app/generated/__init__.py": ("excluded", types.DiagnosticSeverity.Information),
    "app/optout.py": ("pragma", types.DiagnosticSeverity.Information),
    "app/broken.py": ("error", types.DiagnosticSeverity.Error),
    "app/late.py": ("guard", types.DiagnosticSeverity.Warning),
    "app/early.py": ("already-imported", types.DiagnosticSeverity.Warning),
    "scripts/tool.py": ("outside-source", types.DiagnosticSeverity.Information),
    "tests/test_reasons.py": ("test-file", types.DiagnosticSeverity.Information),
}


async def test_every_reason_a_workspace_module_can_have_is_a_diagnostic_at_line_0_linking_to_its_doc(
        serve: Start, tmp_path):
    root = copy_project("reasons", tmp_path)
    # sitecustomize on the path imports app.early before covlens's hook is in: the "already-imported" case.
    client = await serve(root, env={"PYTHONPATH": str(root / "boot")})
    await client.run_complete()
    got = {}
    for rel in REASON_OF:
        found = client.diagnostics.get(client.uri(rel), [])
        got[rel] = [(d.code, d.severity) for d in found]
    assert got == {rel: [expected] for rel, expected in REASON_OF.items()}
    for rel, (reason, _) in REASON_OF.items():
        (d,) = client.diagnostics[client.uri(rel)]
        assert d.source == "covlens"
        assert d.range == types.Range(types.Position(0, 0), types.Position(1, 0))
        assert d.message.startswith(f"covlens: {d.data['action']} ({reason}) — ")
        assert d.data["reason"] == reason and d.data["path"] == str(client.path(rel))
        assert d.code_description is not None and d.code_description.href.startswith("file://")
        assert d.code_description.href.endswith(f"/reasons.md#{reason}")
    early = client.diagnostics[client.uri("app/early.py")][0]
    assert "imported before covlens installed its hook" in early.message


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def failing(module_servers: Servers) -> Client:
    client = await module_servers.start("failing")
    await client.run_complete()
    return client


@pytest.mark.asyncio(loop_scope="module")
async def test_failing_test_is_an_error_at_its_failing_line_and_at_the_deepest_project_frame(failing: Client):
    client = failing
    test_uri, calc_uri = client.uri("tests/test_calc.py"), client.uri("app/calc.py")
    at_test = [d for d in client.diagnostics[test_uri] if d.code == "test-failed"]
    at_calc = [d for d in client.diagnostics[calc_uri] if d.code == "test-failed"]
    assert len(at_test) == 1 and len(at_calc) == 1
    (test_d,), (calc_d,) = at_test, at_calc
    nodeid = "tests/test_calc.py::test_ratio_by_zero_is_zero"
    assert (test_d.range.start.line, test_d.severity, test_d.source) == (8, types.DiagnosticSeverity.Error, "covlens")
    assert test_d.message.startswith(f"covlens: {nodeid} failed: ") and "ZeroDivisionError" in test_d.message
    assert (calc_d.range.start.line, calc_d.severity) == (5, types.DiagnosticSeverity.Error)
    assert calc_d.message.startswith(f"covlens: {nodeid} failed here: ")
    assert [(r.location.uri, r.location.range.start.line) for r in test_d.related_information] == [(calc_uri, 5)]
    assert [(r.location.uri, r.location.range.start.line) for r in calc_d.related_information] == [(test_uri, 8)]


@pytest.mark.asyncio(loop_scope="module")
async def test_failing_test_function_has_a_code_lens_with_its_failure(failing: Client):
    found = await failing.text_document_code_lens_async(types.CodeLensParams(
        types.TextDocumentIdentifier(failing.uri("tests/test_calc.py"))))
    titles = [(lens.range.start.line, lens.command.title) for lens in found]
    assert titles[0][0] == 3 and titles[0][1].startswith("✓ passed ")
    assert titles[1][0] == 7 and titles[1][1].startswith("✗ failed: ") and "ZeroDivisionError" in titles[1][1]
    (module,) = await failing.text_document_code_lens_async(types.CodeLensParams(
        types.TextDocumentIdentifier(failing.uri("app/calc.py"))))
    assert module.command.title == "covlens: 100.0% covered · nothing missed"


async def test_fixing_the_failure_and_saving_clears_both_diagnostics(serve: Start):
    client = await serve("failing")
    after, _ = await client.run_complete()
    calc = "app/calc.py"
    client.save(calc, client.path(calc).read_text().replace("    return scale * a / b",
                                                             "    return scale * a / b if b else 0"))
    await client.run_complete(after)
    assert [d.code for d in client.diagnostics[client.uri(calc)]] == ["source"]
    assert [d.code for d in client.diagnostics[client.uri("tests/test_calc.py")]] == ["test-file"]


async def test_invalid_configuration_is_an_error_at_its_line_of_pyproject_until_fixed(serve: Start, tmp_path):
    root = copy_project("shop", tmp_path)
    pyproject = root / "pyproject.toml"
    good = pyproject.read_text()
    pyproject.write_text(good + "\n[tool.covlens]\nengine = \"turbo\"\n")
    client = await serve(root)
    after, status = await client.inbox.wait("covlens/runStatus", lambda p: p["state"] == "error")
    assert "engine" in status["message"]
    _, found = await client.diagnostics_of("pyproject.toml", lambda ds: bool(ds))
    (d,) = found
    assert (d.code, d.severity, d.range.start.line) == ("config", types.DiagnosticSeverity.Error, 8)
    assert "`engine` must be one of auto, ast, monitor" in d.message

    client.save("pyproject.toml", good)
    await client.diagnostics_of("pyproject.toml", lambda ds: ds == [], after)
    await client.run_complete(after)


async def test_missed_lines_become_hints_and_severities_follow_the_settings(serve: Start):
    client = await serve("shop", settings={"missedLinesAsHints": True, "severity": {"workspace": "off"}})
    await client.run_complete()
    found = client.diagnostics[client.uri("shop/cart.py")]
    assert [(d.code, d.range.start.line, d.severity) for d in found] == [
        ("missed-line", line, types.DiagnosticSeverity.Hint) for line in (11, 12, 13)]
    assert client.diagnostics.get(client.uri("shop/__init__.py"), []) == []
