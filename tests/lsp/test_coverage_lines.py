"""`covlens/fileCoverage`: exact lines after a save, lines moved by unsaved edits, and the module's decision."""

from __future__ import annotations

from tests.lsp.conftest import Start, copy_project

CART = "shop/cart.py"
EARLY_RETURN = "    if not prices:\n        return 0\n"


async def test_saving_a_file_publishes_its_exact_lines_for_the_saved_version(serve: Start):
    client = await serve("shop")
    after, _ = await client.run_complete()
    client.open(CART)
    after, opened = await client.coverage_of(CART, after)
    assert (opened["covered"], opened["missed"], opened["version"], opened["stale"]) == (
        [3, 4, 5, 6, 7, 10], [11, 12, 13], 1, False)
    assert opened["hits"] == {"4": 7, "5": 7, "6": 5, "7": 7}  # the def lines ran at import, in no test
    assert opened["summary"] == {"statements": 9, "covered": 6, "missed": 3, "percent": 66.67}

    version = client.edit(CART, 4, EARLY_RETURN)
    text = client.path(CART).read_text().splitlines(keepends=True)
    client.save(CART, "".join(text[:4]) + EARLY_RETURN + "".join(text[4:]))
    after, running = await client.inbox.wait("covlens/runStatus", lambda p: p["state"] == "running", after)
    _, done = await client.run_complete(after)
    assert done["runId"] == running["runId"]
    # A run's files are published before its final runStatus.
    _, saved = await client.coverage_of(CART, after, lambda p: p["runId"] == done["runId"])
    assert (saved["covered"], saved["missed"], saved["version"], saved["stale"]) == (
        [3, 4, 5, 6, 7, 8, 9, 12], [13, 14, 15], version, False)
    assert saved["hits"] == {"4": 7, "5": 2, "6": 5, "7": 5, "8": 5, "9": 5}


async def test_unsaved_edits_move_the_published_lines_and_mark_them_stale(serve: Start):
    client = await serve("shop")
    after, _ = await client.run_complete()
    client.open(CART)
    after, _ = await client.coverage_of(CART, after)

    version = client.edit(CART, 0, "import math\n\n")  # two lines above everything
    after, moved = await client.coverage_of(CART, after)
    assert (moved["covered"], moved["missed"], moved["version"], moved["stale"]) == (
        [5, 6, 7, 8, 9, 12], [13, 14, 15], version, True)
    assert moved["hits"] == {"6": 7, "7": 7, "8": 5, "9": 7}

    version = client.edit(CART, 13, "        # a comment typed inside discount()\n")
    _, moved = await client.coverage_of(CART, after)
    assert (moved["covered"], moved["missed"], moved["version"]) == ([5, 6, 7, 8, 9, 12], [14, 15, 16], version)


async def test_a_module_in_a_workspace_without_sources_is_measured_with_reason_workspace(serve: Start):
    client = await serve("shop")
    await client.run_complete()
    _, cart = await client.coverage_of(CART)
    assert cart["decision"]["reason"] == "workspace" and cart["decision"]["action"] == "instrumented"
    _, found = await client.diagnostics_of(CART, lambda ds: bool(ds))
    assert [(d.code, d.severity, d.range.start.line) for d in found] == [("workspace", 4, 0)]
    _, test_file = await client.coverage_of("tests/test_cart.py")
    assert test_file["decision"]["reason"] == "test-file"
    assert (test_file["covered"], test_file["missed"], test_file["hits"]) == ([], [], {})


async def test_a_workspace_opened_through_a_symlink_is_answered_in_the_clients_own_uris(serve: Start, tmp_path):
    real = copy_project("shop", tmp_path)
    link = tmp_path / "linked"
    link.symlink_to(real, target_is_directory=True)
    client = await serve(link)
    after, _ = await client.run_complete()
    _, cart = await client.coverage_of(CART)  # client.uri() is under the link
    assert cart["missed"] == [11, 12, 13]

    client.open(CART)
    client.edit(CART, 0, "\n")
    text = client.path(CART).read_text()
    client.save(CART, "\n" + text)
    _, done = await client.run_complete(after)
    _, saved = await client.coverage_of(CART, after, lambda p: p["runId"] == done["runId"])
    assert (saved["missed"], saved["version"], saved["stale"]) == ([12, 13, 14], 2, False)
