"""The plugin draws hand-made `covlens/fileCoverage` and `covlens/runStatus` notifications in real Neovim."""

from __future__ import annotations

import json
from pathlib import Path

from tests.e2e.conftest import Nvim

# No server: the notifications are handed to the handlers the plugin registered in vim.lsp.config('covlens').
NO_SERVER = {"autostart": False}

PRELUDE = """
local handlers = vim.lsp.config.covlens.handlers
local function file_coverage(params)
  handlers['covlens/fileCoverage'](nil, params, { method = 'covlens/fileCoverage', client_id = 1 })
end
local function run_status(params)
  handlers['covlens/runStatus'](nil, params, { method = 'covlens/runStatus', client_id = 1 })
end
local function uri(relative) return vim.uri_from_fname(H.path(relative)) end
"""


def coverage(covered=(), missed=(), partial=(), *, version=None, stale=False, uri="shop/cart.py") -> str:
    """A `covlens/fileCoverage` params table as a Lua expression (0-based lines, as on the wire)."""
    params = {"covered": list(covered), "missed": list(missed), "partial": list(partial), "excluded": [],
              "stale": stale, "summary": {"statements": 3, "covered": 2, "missed": 1, "percent": 66.67},
              "decision": {"module": "shop.cart", "action": "instrumented", "reason": "source"}}
    fields = ", ".join(f"{k} = vim.json.decode({json.dumps(json.dumps(v))})" for k, v in params.items())
    version_lua = "nil" if version is None else str(version)
    return f"{{ uri = uri({json.dumps(uri)}), version = {version_lua}, {fields} }}"


def test_file_coverage_draws_covered_missed_and_partial_signs_in_their_groups(nvim: Nvim, shop: Path) -> None:
    # A partial line is also listed as covered: it gets the partial sign. Line 500 is past the end: left out.
    results = nvim.run(PRELUDE + f"""
        local buf = H.open('shop/cart.py')
        file_coverage({coverage(covered=[3, 4, 13, 500], missed=[19, 20], partial=[13])})
        H.record('signs', H.signs(buf))
    """, project=shop, setup=NO_SERVER)
    signs = results["signs"]
    assert (signs["covered"], signs["missed"], signs["partial"]) == ([4, 5], [20, 21], [14])
    assert signs["groups"] == ["CovlensCovered", "CovlensMissed", "CovlensPartial"]
    assert signs["texts"] == {"covered": "▎", "missed": "✗", "partial": "◐"}
    assert signs["stale"] is False


def test_stale_coverage_is_drawn_in_the_stale_groups_which_link_to_covlens_stale(nvim: Nvim, shop: Path) -> None:
    results = nvim.run(PRELUDE + f"""
        local buf = H.open('shop/cart.py')
        file_coverage({coverage(covered=[3], missed=[19], partial=[11], stale=True)})
        H.record('signs', H.signs(buf))
        H.record('links', vim.tbl_map(function(name)
          return vim.api.nvim_get_hl(0, {{ name = name }}).link
        end, {{ 'CovlensCoveredStale', 'CovlensMissedStale', 'CovlensPartialStale', 'CovlensStale' }}))
    """, project=shop, setup=NO_SERVER)
    signs = results["signs"]
    assert (signs["covered"], signs["missed"], signs["partial"]) == ([4], [20], [12])
    assert signs["groups"] == ["CovlensCoveredStale", "CovlensMissedStale", "CovlensPartialStale"]
    assert results["links"] == ["CovlensStale", "CovlensStale", "CovlensStale", "Comment"]


def test_coverage_for_an_older_document_version_is_dropped_unless_stale(nvim: Nvim, shop: Path) -> None:
    # The buffer is at version 7 (as the LSP client would have sent it in didChange).
    results = nvim.run(PRELUDE + f"""
        local buf = H.open('shop/cart.py')
        vim.lsp.util.buf_versions[buf] = 7
        file_coverage({coverage(covered=[3], version=7)})
        H.record('current', H.signs(buf).covered)
        file_coverage({coverage(covered=[4], version=5)})
        H.record('older', H.signs(buf).covered)
        file_coverage({coverage(covered=[5], version=5, stale=True)})
        H.record('older_but_stale', H.signs(buf).covered)
        file_coverage({coverage(covered=[6])})
        H.record('without_version', H.signs(buf).covered)
    """, project=shop, setup=NO_SERVER)
    assert results["current"] == [4]
    assert results["older"] == [4]
    assert results["older_but_stale"] == [6]
    assert results["without_version"] == [7]


def test_a_file_opened_after_its_coverage_came_gets_its_signs_and_again_after_a_wipe(nvim: Nvim, shop: Path) -> None:
    results = nvim.run(PRELUDE + f"""
        local other = H.open('tests/test_cart.py')
        file_coverage({coverage(covered=[3, 4], missed=[19])})
        local buf = H.open('shop/cart.py')
        H.record('on_open', H.signs(buf))
        vim.cmd.edit(vim.fn.fnameescape(H.path('tests/test_cart.py')))
        vim.cmd.bwipeout(buf)
        local again = H.open('shop/cart.py')
        H.record('new_buffer', again ~= buf)
        H.record('after_wipe', H.signs(again))
    """, project=shop, setup=NO_SERVER)
    for seen in (results["on_open"], results["after_wipe"]):
        assert (seen["covered"], seen["missed"]) == ([4, 5], [20])
    assert results["new_buffer"] is True


def test_toggle_hides_the_signs_and_shows_them_on_the_lines_edits_moved_them_to(nvim: Nvim, shop: Path) -> None:
    results = nvim.run(PRELUDE + f"""
        local buf = H.open('shop/cart.py')
        file_coverage({coverage(covered=[3, 4], missed=[19, 20])})
        vim.cmd('CovlensToggle')
        H.record('hidden', H.signs(buf))
        vim.api.nvim_buf_set_lines(buf, 0, 0, false, {{ '# one', '# two' }})  -- moves every line down by 2
        vim.api.nvim_buf_set_lines(buf, 22, 23, false, {{}})                    -- deletes line 23 (was 21)
        vim.cmd('CovlensToggle')
        H.record('shown', H.signs(buf))
    """, project=shop, setup=NO_SERVER)
    hidden = results["hidden"]
    assert (hidden["covered"], hidden["missed"], hidden["hidden"]) == ([], [], 4)
    shown = results["shown"]
    assert (shown["covered"], shown["missed"], shown["hidden"]) == ([6, 7], [22], 0)


def test_highlight_groups_link_by_default_keep_user_definitions_and_survive_a_colorscheme(
        nvim: Nvim, tmp_path: Path, shop: Path) -> None:
    # The user's own CovlensMissed (defined before setup) wins over the default link.
    init = tmp_path / "init_override.lua"
    init.write_text("vim.api.nvim_set_hl(0, 'CovlensMissed', { fg = '#ff00ff' })\n"
                    f"dofile({json.dumps(str(Path(__file__).parent / 'lua' / 'init_plugin.lua'))})\n")
    results = nvim.run("""
        local function links()
          local out = {}
          for _, name in ipairs({ 'CovlensCovered', 'CovlensMissed', 'CovlensPartial', 'CovlensStale' }) do
            local hl = vim.api.nvim_get_hl(0, { name = name })
            out[name] = hl.link or (hl.fg and ('#%06x'):format(hl.fg))
          end
          return out
        end
        H.record('after_setup', links())
        vim.cmd.colorscheme('default')
        H.record('after_colorscheme', links())
    """, project=shop, init=init, setup=NO_SERVER)
    assert results["after_setup"] == {"CovlensCovered": "DiagnosticOk", "CovlensMissed": "#ff00ff",
                                      "CovlensPartial": "DiagnosticWarn", "CovlensStale": "Comment"}
    # `:colorscheme` clears every group; the defaults come back (a user override belongs in a ColorScheme autocmd).
    assert results["after_colorscheme"]["CovlensCovered"] == "DiagnosticOk"
    assert results["after_colorscheme"]["CovlensStale"] == "Comment"


def test_statusline_shows_workspace_coverage_and_run_state(nvim: Nvim, shop: Path) -> None:
    results = nvim.run(PRELUDE + """
        local covlens = require('covlens')
        H.record('before_any_status', covlens.statusline())
        run_status({ runId = 'r1', state = 'running', total = 42, done = 17, counts = { passed = 17 },
                     percent = 81.26, message = 'Running 42 tests… 17 done' })
        H.record('running', covlens.statusline())
        run_status({ runId = 'r1', state = 'complete', total = 42, done = 42, counts = { passed = 41, failed = 1 },
                     percent = 83.333, message = '41 passed, 1 failed' })
        H.record('complete_with_failure', covlens.statusline())
        run_status({ runId = 'r2', state = 'complete', total = 3, done = 3, counts = { passed = 3 },
                     message = '3 passed' })
        H.record('complete_without_percent', covlens.statusline())
        run_status({ runId = 'r3', state = 'cancelled', done = 1, counts = {}, percent = 50, message = '' })
        H.record('cancelled', covlens.statusline())
    """, project=shop, setup=NO_SERVER)
    assert results["before_any_status"] == ""
    assert results["running"] == "covlens 81.3% running 17/42"
    assert results["complete_with_failure"] == "covlens 83.3% 1 failed"
    assert results["complete_without_percent"] == "covlens –% passed"
    assert results["cancelled"] == "covlens 50.0% cancelled"


def test_checkhealth_reports_a_working_server_command_and_a_missing_one(nvim: Nvim, shop: Path) -> None:
    results = nvim.run("""
        local function health()
          vim.cmd('checkhealth covlens')
          local text = table.concat(vim.api.nvim_buf_get_lines(0, 0, -1, false), '\\n')
          vim.cmd.bwipeout()
          return text
        end
        H.record('working', health())
        require('covlens').setup({ autostart = false, cmd = { 'no-such-covlens-binary', 'serve' } })
        H.record('missing', health())
    """, project=shop, setup=NO_SERVER)
    assert "OK server command works:" in results["working"]
    assert "ERROR" not in results["working"]
    assert "ERROR server command not found: no-such-covlens-binary serve" in results["missing"]


def test_plugin_on_runtimepath_configures_the_server_for_vim_lsp_enable_without_setup(
        nvim: Nvim, tmp_path: Path, shop: Path) -> None:
    init = tmp_path / "init_rtp_only.lua"
    init.write_text("vim.opt.runtimepath:prepend(vim.env.COVLENS_E2E_PLUGIN)\n")
    results = nvim.run("""
        local config = vim.lsp.config.covlens
        H.record('filetypes', config.filetypes)
        H.record('root_markers', config.root_markers)
        H.record('serve', config.cmd[#config.cmd])
        H.record('has_handlers', config.handlers ~= nil)
        local buf = H.open('shop/cart.py')
        local root
        config.root_dir(buf, function(dir) root = dir end)
        H.record('root', root)
    """, project=shop, init=init)
    assert results["filetypes"] == ["python"]
    assert results["root_markers"] == ["pyproject.toml", ".git"]
    assert results["serve"] == "serve"
    assert results["has_handlers"] is False
    assert results["root"] == str(shop)
