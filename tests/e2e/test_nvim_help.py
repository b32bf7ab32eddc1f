"""`:help covlens`: the doc file builds tags without errors, opens, and every link in it leads somewhere."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from tests.e2e.conftest import PLUGIN, Nvim


def test_helptags_build_and_help_covlens_opens_the_doc_with_every_link_resolved(
        nvim: Nvim, tmp_path: Path) -> None:
    # A copy: :helptags writes a `tags` file next to the doc, which must not land in the repository.
    runtime = tmp_path / "runtime"
    shutil.copytree(PLUGIN / "doc", runtime / "doc")
    results = nvim.run(f"""
        vim.v.errmsg = ''
        vim.cmd.helptags(vim.fn.fnameescape({str(runtime / 'doc')!r}))
        H.record('helptags_error', vim.v.errmsg)
        vim.opt.runtimepath:append({str(runtime)!r})
        vim.cmd.help('covlens')
        H.record('help_file', vim.fs.basename(vim.api.nvim_buf_get_name(0)))
        H.record('help_line', vim.api.nvim_get_current_line())
        vim.cmd.help(':CovlensExplain')
        H.record('explain_line', vim.api.nvim_get_current_line())
        H.record('vimruntime', vim.env.VIMRUNTIME)
    """, project=tmp_path)
    assert results["helptags_error"] == ""
    assert results["help_file"] == "covlens.txt"
    assert "*covlens*" in results["help_line"]
    assert "*:CovlensExplain*" in results["explain_line"]

    ours = {line.split("\t")[0] for line in (runtime / "doc" / "tags").read_text().splitlines()}
    builtin = {line.split("\t")[0] for line in (Path(results["vimruntime"]) / "doc" / "tags").read_text().splitlines()}
    text = (PLUGIN / "doc" / "covlens.txt").read_text()
    # |links| outside code examples (lines indented by 4+ spaces after a `>` are code).
    prose = "\n".join(line for line in text.splitlines() if not line.startswith("    "))
    links = set(re.findall(r"\|([^|\s]+)\|", prose))
    assert links, "the doc has no links to check"
    assert sorted(links - ours - builtin) == []
    assert {"covlens", "covlens.setup()", "covlens.statusline()", ":CovlensRun", ":CovlensRunFile",
            ":CovlensExplain", ":CovlensToggle", ":CovlensExport", ":CovlensCancel", "CovlensCovered",
            "CovlensMissed", "CovlensPartial", "CovlensStale"} <= ours
