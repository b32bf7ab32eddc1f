"""The README's plain `vim.lsp.config('covlens', ...)` snippet, with no plugin, against a real `covlens serve`."""

from __future__ import annotations

import sys
from pathlib import Path

from tests.e2e.conftest import Nvim, readme_neovim_snippet
from tests.e2e.test_nvim_with_server import CART_FAILURE_LINE, CART_MISSED


def test_readme_plain_config_gives_decision_failure_and_missed_line_diagnostics_without_the_plugin(
        nvim: Nvim, shop: Path, tmp_path: Path) -> None:
    # The snippet runs verbatim; its `python3` is the Python running these tests.
    init = tmp_path / "readme_init.lua"
    init.write_text(readme_neovim_snippet())
    venv_bin = Path(sys.executable).parent
    assert (venv_bin / "python3").exists(), f"no python3 beside {sys.executable} for the README's cmd"
    results = nvim.run("""
        local buf = H.open('shop/cart.py')
        H.client(buf)
        vim.cmd.write()
        H.wait('the end of a run with decision, failure and missed-line diagnostics', function()
          return H.progress['end'] > 0 and #H.with_code(buf, 'source') > 0
            and #H.with_code(buf, 'test-failed') > 0 and #H.with_code(buf, 'missed-line') > 0
        end, nil, function() return { progress = H.progress, diagnostics = H.diagnostics(buf) } end)
        H.record('diagnostics', H.diagnostics(buf))
        H.record('plugin_loaded', package.loaded['covlens'] ~= nil)
        H.record('sign_namespace', vim.api.nvim_get_namespaces()['covlens.coverage'] ~= nil)
    """, project=shop, init=init, path_first=venv_bin)
    assert results["plugin_loaded"] is False and results["sign_namespace"] is False

    by_code: dict[str, list[tuple[int, str]]] = {}
    for d in results["diagnostics"]:
        assert d["source"] == "covlens"
        by_code.setdefault(d["code"], []).append((d["line"], d["severity"]))
    assert by_code == {
        "source": [(1, "HINT")],
        "test-failed": [(CART_FAILURE_LINE, "ERROR")],
        "missed-line": [(line, "HINT") for line in CART_MISSED],
    }
