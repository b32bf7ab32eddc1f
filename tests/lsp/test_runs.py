"""Runs: stored results first (stale), one run per burst of changes, cancel-and-restart, cancelling from the client."""

from __future__ import annotations

import os

from lsprotocol import types

from covlens.config import load
from covlens.runner.session import Session
from covlens.store import Store
from tests.lsp.conftest import NEOVIM, Client, Start, copy_project


def running_with_a_test_done(p: dict) -> bool:
    return p["state"] == "running" and p["done"] >= 1


def worker_pids(client: Client) -> list[int]:
    return [int(line) for line in client.path("worker.pids").read_text().split()]


def gone(pid: int) -> bool:
    """True when no process `pid` (nor its process group, which the worker leads) exists any more."""
    for kill in (os.kill, os.killpg):
        try:
            kill(pid, 0)
        except ProcessLookupError:
            continue
        return False
    return True


def changed(client: Client, rel: str, text: str) -> None:
    """Write a file and report it as VS Code's file watcher does."""
    client.path(rel).write_text(text)
    client.workspace_did_change_watched_files(types.DidChangeWatchedFilesParams(changes=[
        types.FileEvent(uri=client.uri(rel), type=types.FileChangeType.Changed)]))


async def test_stored_results_are_published_at_once_marked_stale_then_a_run_refreshes_them(serve: Start, tmp_path):
    root = copy_project("shop", tmp_path)
    stored = await Session(load(root)).run()
    Store(root).record(stored)

    client = await serve(root)
    after, first = await client.coverage_of("shop/cart.py")
    assert (first["stale"], first["runId"]) == (True, stored.summary.run_id)
    assert (first["covered"], first["missed"]) == ([3, 4, 5, 6, 7, 10], [11, 12, 13])
    started, running = await client.inbox.wait("covlens/runStatus", lambda p: p["state"] == "running")
    assert started > after, "the stored results must be on screen before the run starts"
    _, fresh = await client.coverage_of("shop/cart.py", after, lambda p: not p["stale"])
    assert fresh["runId"] == running["runId"] != stored.summary.run_id


async def test_a_burst_of_changes_on_disk_gives_one_run(serve: Start):
    client = await serve("shop", client=NEOVIM, init={"debounceMs": 500})  # no watched-files support: watchdog
    assert client.registrations == []
    mark, _ = await client.run_complete()
    bulk = client.path("shop/bulk")
    bulk.mkdir()
    for n in range(1000):  # like a `git checkout` of 1,000 files
        (bulk / f"m{n:03d}.py").write_text(f"VALUE = {n}\n")
    cart = client.path("shop/cart.py")
    cart.write_text(cart.read_text() + "\n\ndef more():\n    return 1\n")

    _, done = await client.run_complete(mark)
    statuses = client.inbox.all("covlens/runStatus", mark)
    assert {p["runId"] for p in statuses} == {done["runId"]}
    assert [p["state"] for p in statuses if p["state"] != "running"] == ["complete"]
    number = int(done["runId"].rsplit("-", 1)[1])
    # The next run started is the one asked for now: nothing else ran after the burst's run.
    asked = await client.command("covlens.runAll")
    assert int(asked["runId"].rsplit("-", 1)[1]) == number + 1
    _, never = await client.coverage_of("shop/bulk/m999.py", mark)
    assert never["decision"]["reason"] == "not-imported"


async def test_a_change_during_a_run_cancels_it_and_runs_again_after_the_debounce(serve: Start):
    client = await serve("blocking")
    after, first = await client.inbox.wait("covlens/runStatus", running_with_a_test_done)
    # VS Code watches the files for the server (so the server runs no watchdog of its own).
    assert [r.method for r in client.registrations] == [types.WORKSPACE_DID_CHANGE_WATCHED_FILES]
    (pid,) = worker_pids(client)

    changed(client, "app/work.py", client.path("app/work.py").read_text().replace("return 1", "return 2"))
    after, cancelled = await client.inbox.wait("covlens/runStatus", lambda p: p["state"] == "cancelled", after)
    assert cancelled["runId"] == first["runId"]
    assert gone(pid), "the cancelled run's worker is still alive"
    after, second = await client.inbox.wait("covlens/runStatus", lambda p: p["state"] == "running", after)
    assert second["runId"] != first["runId"]

    client.path("go").touch()
    _, done = await client.run_complete(after)
    assert done["runId"] == second["runId"] and done["counts"] == {"passed": 2}
    _, work = await client.coverage_of("app/work.py", after, lambda p: p["runId"] == done["runId"])
    assert (work["covered"], work["missed"], work["stale"]) == ([3, 4], [], False)
    assert len(worker_pids(client)) == 2


async def test_cancelling_the_progress_in_the_client_stops_the_run_and_its_worker(serve: Start):
    client = await serve("blocking")
    after, running = await client.inbox.wait("covlens/runStatus", running_with_a_test_done)
    token = f"covlens-run-{running['runId']}"
    begin = client.progress_reports[token][0]
    assert (begin.kind, begin.title, begin.cancellable) == ("begin", "covlens: running tests", True)
    _, report = await client.inbox.wait("$/progress", lambda p: p.token == token and p.value["kind"] == "report"
                                        and p.value.get("percentage") == 50)
    assert report.value["message"] == "Running 2 tests… 1 done"
    (pid,) = worker_pids(client)

    client.window_work_done_progress_cancel(types.WorkDoneProgressCancelParams(token=token))
    _, cancelled = await client.inbox.wait("covlens/runStatus", lambda p: p["state"] == "cancelled", after)
    assert cancelled["runId"] == running["runId"] and cancelled["counts"] == {"passed": 1}
    assert gone(pid)
    assert client.progress_reports[token][-1].kind == "end"


async def test_the_cancel_command_stops_the_run_in_progress(serve: Start):
    client = await serve("blocking")
    after, running = await client.inbox.wait("covlens/runStatus", running_with_a_test_done)
    (pid,) = worker_pids(client)
    assert (await client.command("covlens.cancel"))["cancelled"] is True
    await client.inbox.wait("covlens/runStatus", lambda p: p["state"] == "cancelled", after)
    assert gone(pid)
    assert (await client.command("covlens.cancel"))["cancelled"] is False


async def test_a_command_sent_right_after_initialized_waits_for_start_up_instead_of_failing(serve):
    client = await serve("shop", init={"autoRun": False})  # initialize + initialized, nothing awaited after
    started = await client.command("covlens.runAll")
    _, done = await client.run_complete()
    assert started["runId"] == done["runId"] and done["counts"] == {"passed": 7}
    explained = await client.command("covlens.explain", "shop.cart")
    assert explained["decision"]["module"] == "shop.cart"


async def test_an_open_file_settled_mid_run_has_its_code_lens_refreshed_before_the_run_ends(serve: Start, tmp_path):
    root = copy_project("settling", tmp_path)
    (root / "go").touch()
    Store(root).record(await Session(load(root)).run())
    (root / "go").unlink()
    client = await serve(root, init={"autoRun": False})
    uri = client.open("app/early.py")
    mark = client.inbox.mark()
    run_id = (await client.command("covlens.runAll"))["runId"]

    after, _ = await client.coverage_of("app/early.py", mark, lambda p: p["runId"] == run_id)
    await client.inbox.wait(types.WORKSPACE_CODE_LENS_REFRESH, after=after)
    assert all(p["state"] == "running" for p in client.inbox.all("covlens/runStatus", mark) if p["runId"] == run_id)
    (top, *_) = await client.text_document_code_lens_async(types.CodeLensParams(types.TextDocumentIdentifier(uri)))
    assert top.command.title == "covlens: 75.0% covered · missed 7"  # lines 4-7 (1-based); 7 is missed

    (root / "go").touch()
    await client.run_complete(mark)


async def test_a_run_of_every_test_publishes_each_file_once_the_tests_that_ran_it_are_done(serve: Start, tmp_path):
    root = copy_project("settling", tmp_path)
    (root / "go").touch()
    Store(root).record(await Session(load(root)).run())  # which tests run which file: known from an earlier run
    (root / "go").unlink()
    client = await serve(root, init={"autoRun": False})
    mark = client.inbox.mark()
    run_id = (await client.command("covlens.runAll"))["runId"]

    # test_b_late waits for `go`: whatever is published meanwhile is published mid-run.
    after, early = await client.coverage_of("app/early.py", mark, lambda p: p["runId"] == run_id)
    assert all(p["state"] == "running" for p in client.inbox.all("covlens/runStatus", mark) if p["runId"] == run_id)
    assert not [p for p in client.inbox.all("covlens/fileCoverage", mark)
                if p["uri"] == client.uri("app/late.py") and p["runId"] == run_id]
    assert (early["missed"], early["hits"], early["stale"]) == ([6], {"4": 1, "5": 1}, False)

    (root / "go").touch()
    _, done = await client.run_complete(mark)
    assert done["runId"] == run_id
    _, final = await client.coverage_of("app/early.py", after, lambda p: p["runId"] == run_id)
    assert final == early  # the end of the run says the same of it
    _, late = await client.coverage_of("app/late.py", mark, lambda p: p["runId"] == run_id)
    assert (late["missed"], late["hits"], late["stale"]) == ([], {"4": 1}, False)
