"""The plugin in real headless Neovim 0.11 against a real `covlens serve` on the `shop` fixture project."""

from __future__ import annotations

import json
from pathlib import Path

from tests.e2e.conftest import Nvim

# tests/fixtures/e2e/shop/shop/cart.py, 1-based: `refund` is never called; the rest runs.
CART_COVERED = [4, 5, 6, 7, 8, 11, 12, 13, 14, 15, 16, 19]
CART_MISSED = [20, 21, 22]
# test_unknown_code_fails_on_purpose fails at tests/test_cart.py:17, deepest in project code at cart.py:16.
CART_FAILURE_LINE = 16
TEST_FAILURE_LINE = 17

# Open cart.py, save it (a save starts a run) and wait for the signs of that run: the run is over and the
# signs drawn are not stale.
SAVE_AND_WAIT = """
local buf = H.open('shop/cart.py')
H.client(buf)
vim.cmd.write()
local covlens = require('covlens')
H.wait('the signs of a complete run', function()
  local status, drawn = covlens.status(buf), covlens.file_coverage(buf)
  return status ~= nil and status.state == 'complete' and drawn ~= nil and not drawn.stale
    and drawn.runId == status.runId and H.sign_count(buf) > 0
end, nil, function() return { status = covlens.status(buf), signs = H.signs(buf) } end)
H.wait('the failure diagnostic in cart.py', function() return #H.with_code(buf, 'test-failed') > 0 end,
  nil, function() return H.diagnostics(buf) end)
"""


def test_saving_a_module_shows_its_covered_and_missed_lines_as_signs_and_its_decision_diagnostic(
        nvim: Nvim, shop: Path) -> None:
    results = nvim.run(SAVE_AND_WAIT + """
        H.record('signs', H.signs(buf))
        H.record('diagnostics', H.diagnostics(buf))
        H.record('statusline', covlens.statusline())
        local test_buf = H.open('tests/test_cart.py')
        H.wait('the failure diagnostic in the test file', function()
          return #H.with_code(test_buf, 'test-failed') > 0
        end, nil, function() return H.diagnostics(test_buf) end)
        H.record('test_file_failures', H.with_code(test_buf, 'test-failed'))
    """, project=shop)
    signs = results["signs"]
    assert (signs["covered"], signs["missed"], signs["partial"]) == (CART_COVERED, CART_MISSED, [])
    assert signs["groups"] == ["CovlensCovered", "CovlensMissed"]

    diagnostics = results["diagnostics"]
    decision = [d for d in diagnostics if d["code"] == "source"]
    assert [(d["line"], d["severity"], d["source"]) for d in decision] == [(1, "HINT", "covlens")]
    assert decision[0]["message"].startswith("covlens: instrumented (source)")
    failures = [d for d in diagnostics if d["code"] == "test-failed"]
    assert [(d["line"], d["severity"]) for d in failures] == [(CART_FAILURE_LINE, "ERROR")]
    assert "unknown discount code" in failures[0]["message"]
    assert [(d["line"], d["severity"]) for d in results["test_file_failures"]] == [(TEST_FAILURE_LINE, "ERROR")]

    assert results["statusline"] == "covlens 80.0% 1 failed"


def test_toggle_hides_the_signs_and_shows_them_again(nvim: Nvim, shop: Path) -> None:
    results = nvim.run(SAVE_AND_WAIT + """
        vim.cmd('CovlensToggle')
        H.record('hidden', H.signs(buf))
        vim.cmd('CovlensToggle')
        H.record('shown', H.signs(buf))
    """, project=shop)
    hidden, shown = results["hidden"], results["shown"]
    assert (hidden["covered"], hidden["missed"]) == ([], [])
    assert hidden["hidden"] == len(CART_COVERED) + len(CART_MISSED)
    assert (shown["covered"], shown["missed"], shown["hidden"]) == (CART_COVERED, CART_MISSED, 0)


def test_inserting_lines_above_moves_the_signs_with_the_code_and_the_server_marks_them_stale(
        nvim: Nvim, shop: Path) -> None:
    results = nvim.run(SAVE_AND_WAIT + """
        vim.api.nvim_buf_set_lines(buf, 0, 0, false, { '# inserted one', '# inserted two' })
        H.record('moved_by_extmarks', H.signs(buf))
        -- The server answers the didChange with the lines it moved itself, marked stale.
        H.wait('stale signs from the server', function() return H.signs(buf).stale end,
          nil, function() return H.signs(buf) end)
        H.record('moved_by_server', H.signs(buf))
    """, project=shop)
    shifted_covered = [line + 2 for line in CART_COVERED]
    shifted_missed = [line + 2 for line in CART_MISSED]
    moved = results["moved_by_extmarks"]
    assert (moved["covered"], moved["missed"], moved["stale"]) == (shifted_covered, shifted_missed, False)
    stale = results["moved_by_server"]
    assert (stale["covered"], stale["missed"]) == (shifted_covered, shifted_missed)
    assert stale["groups"] == ["CovlensCoveredStale", "CovlensMissedStale"]


def test_explain_shows_the_decision_of_the_current_module_in_a_floating_window(nvim: Nvim, shop: Path) -> None:
    results = nvim.run(SAVE_AND_WAIT + """
        local function float()
          for _, win in ipairs(vim.api.nvim_list_wins()) do
            if vim.api.nvim_win_get_config(win).relative ~= '' then return win end
          end
        end
        vim.cmd('CovlensExplain')
        H.wait('the explanation float', function() return float() ~= nil end)
        local win = float()
        H.record('title', vim.api.nvim_win_get_config(win).title)
        H.record('filetype', vim.bo[vim.api.nvim_win_get_buf(win)].filetype)
        H.record('text', table.concat(vim.api.nvim_buf_get_lines(vim.api.nvim_win_get_buf(win), 0, -1, false), '\\n'))
    """, project=shop)
    assert results["title"] == [[" covlens: shop.cart "]]
    assert results["filetype"] == "markdown"
    assert results["text"].startswith("**shop.cart** — instrumented (`source`)")
    assert "pyproject.toml [tool.covlens] source" in results["text"]


def test_export_writes_the_last_run_as_lcov_by_default_and_as_json_on_request(nvim: Nvim, shop: Path) -> None:
    results = nvim.run(SAVE_AND_WAIT + """
        vim.cmd('CovlensExport')
        H.wait('.covlens/lcov.info', function() return vim.uv.fs_stat(H.path('.covlens/lcov.info')) ~= nil end)
        vim.cmd('CovlensExport json ' .. vim.fn.fnameescape(H.path('out/coverage.json')))
        H.wait('out/coverage.json', function() return vim.uv.fs_stat(H.path('out/coverage.json')) ~= nil end)
    """, project=shop)
    lcov = (shop / ".covlens" / "lcov.info").read_text()
    cart = next(record for record in lcov.split("end_of_record") if "cart.py" in record)
    assert sorted(int(line.split(",")[0][3:]) for line in cart.splitlines() if line.endswith(",0")) == CART_MISSED
    exported = json.loads((shop / "out" / "coverage.json").read_text())
    assert exported["files"]["shop/cart.py"]["missing_lines"] == CART_MISSED
    assert f"covlens: wrote {shop / 'out' / 'coverage.json'}" in results["messages"]


def test_run_and_run_file_commands_start_runs_that_the_statusline_follows(nvim: Nvim, shop: Path) -> None:
    results = nvim.run(SAVE_AND_WAIT + """
        local function next_complete_run(after, what)
          H.wait(what, function()
            local s = covlens.status()
            return s ~= nil and s.runId ~= after and s.state == 'complete'
          end, nil, function() return covlens.status() end)
          return covlens.status()
        end
        local states = {}
        vim.api.nvim_create_autocmd('User', { pattern = 'CovlensRunStatus', callback = function(ev)
          states[#states + 1] = ev.data.state
        end })
        vim.cmd('CovlensRun')
        local all = next_complete_run(covlens.status().runId, 'the run of :CovlensRun')
        H.record('all', { total = all.total, counts = all.counts, statusline = covlens.statusline() })
        H.record('states', states)
        H.open('tests/test_cart.py')
        vim.cmd('CovlensRunFile')
        local file = next_complete_run(all.runId, 'the run of :CovlensRunFile')
        H.record('file', { total = file.total, counts = file.counts })
    """, project=shop)
    assert results["all"] == {"total": 4, "counts": {"passed": 3, "failed": 1}, "statusline": "covlens 80.0% 1 failed"}
    assert "running" in results["states"] and results["states"][-1] == "complete"
    assert results["file"] == {"total": 4, "counts": {"passed": 3, "failed": 1}}
