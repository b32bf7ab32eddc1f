"""Hover, code lens and commands on one shared server of the shop project (these tests only read its results)."""

from __future__ import annotations

import json

import pytest
import pytest_asyncio
from lsprotocol import types
from pygls.exceptions import JsonRpcException

from tests.lsp.conftest import Client, Servers

pytestmark = pytest.mark.asyncio(loop_scope="module")

CART = "shop/cart.py"
TESTS = "tests/test_cart.py"


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def shop(module_servers: Servers) -> Client:
    client = await module_servers.start("shop")
    await client.run_complete()
    return client


def hover_at(client: Client, rel: str, line: int):
    return client.text_document_hover_async(types.HoverParams(
        types.TextDocumentIdentifier(client.uri(rel)), types.Position(line, 4)))


def lenses(client: Client, rel: str):
    return client.text_document_code_lens_async(types.CodeLensParams(types.TextDocumentIdentifier(client.uri(rel))))


async def test_hover_says_how_many_tests_ran_a_line_naming_a_few_then_how_many_more(shop: Client):
    shop.open(CART)
    try:
        many = await hover_at(shop, CART, 4)
        assert many.contents.value == ("covlens: run by 7 tests — test_total, test_total_of_nothing, "
                                       "test_total_of_repeats[0], test_total_of_repeats[1], "
                                       "test_total_of_repeats[2] +2 more")
        assert many.range.start.line == 4
        assert (await hover_at(shop, CART, 12)).contents.value == "covlens: not run by any test"
        assert (await hover_at(shop, CART, 3)).contents.value == "covlens: run only while importing, by no test"
        assert await hover_at(shop, CART, 1) is None  # a blank line is no statement

        shop.edit(CART, 0, "\n")  # one line down: the hover follows the statement, not the line number
        assert (await hover_at(shop, CART, 5)).contents.value.startswith("covlens: run by 7 tests")
        assert await hover_at(shop, CART, 0) is None  # the line just typed
    finally:
        shop.text_document_did_close(types.DidCloseTextDocumentParams(types.TextDocumentIdentifier(shop.uri(CART))))


async def test_code_lens_at_the_top_gives_the_module_coverage_and_missed_lines_one_based(shop: Client):
    (lens,) = await lenses(shop, CART)
    assert (lens.range.start.line, lens.command.title) == (0, "covlens: 66.7% covered · missed 12–14")
    assert (lens.command.command, list(lens.command.arguments)) == ("covlens.explain", [shop.uri(CART)])
    # After the run VS Code was asked to fetch the lenses again (it can: codeLens.refreshSupport).
    assert shop.inbox.all(types.WORKSPACE_CODE_LENS_REFRESH)


async def test_code_lens_on_each_test_function_gives_its_last_outcome(shop: Client):
    found = [(lens.range.start.line, lens.command.title) for lens in await lenses(shop, TESTS)]
    assert [line for line, _ in found] == [5, 9, 13]
    assert found[0][1].startswith("✓ passed ") and found[0][1].endswith(" ms")
    assert found[2][1] == "✓ 5 passed"  # a parametrized test: its cases together


async def test_run_all_and_run_file_answer_the_id_of_the_run_they_start(shop: Client):
    after = shop.inbox.mark()
    started = await shop.command("covlens.runAll")
    after, done = await shop.run_complete(after)
    assert started["runId"] == done["runId"]

    file_run = await shop.command("covlens.runFile", shop.uri(TESTS))
    after, done = await shop.run_complete(after)
    assert file_run["runId"] == done["runId"] and done["counts"] == {"passed": 7}

    module_run = await shop.command("covlens.runFile", shop.uri(CART))  # the tests that ran it
    _, done = await shop.run_complete(after)
    assert module_run["runId"] == done["runId"] and done["counts"] == {"passed": 7}


async def test_explain_gives_the_decision_and_what_to_do_by_uri_or_module_name(shop: Client):
    explained = await shop.command("covlens.explain", shop.uri(CART))
    assert explained["decision"]["module"] == "shop.cart"
    assert explained["explanation"].startswith("**shop.cart** — instrumented (`workspace`)")
    assert "What to do:" in explained["explanation"]
    assert (await shop.command("covlens.explain", "shop.cart"))["decision"] == explained["decision"]


async def test_exports_write_lcov_and_json_where_asked(shop: Client):
    lcov = await shop.command("covlens.exportLcov")
    assert lcov["path"] == str(shop.path(".covlens/lcov.info"))
    assert "SF:shop/cart.py" in shop.path(".covlens/lcov.info").read_text()
    report = await shop.command("covlens.exportJson", "out/report.json")
    assert report["path"] == str(shop.path("out/report.json"))
    assert json.loads(shop.path("out/report.json").read_text())["files"]["shop/cart.py"]["missing_lines"] == [
        12, 13, 14]


@pytest.mark.parametrize("command, arguments", [
    ("covlens.runFile", []),
    ("covlens.runFile", ["file:///nowhere/at/all.py"]),
    ("covlens.explain", ["no.such.module"]),
    ("covlens.explain", [1, 2]),
    ("covlens.exportLcov", [42]),
    ("covlens.runAll", ["extra"]),
    ("covlens.unknown", []),
])
async def test_bad_command_arguments_are_answered_invalid_params(shop: Client, command, arguments):
    with pytest.raises(JsonRpcException) as caught:
        await shop.command(command, *arguments)
    assert caught.value.code == -32602

