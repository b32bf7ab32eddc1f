"""Lifecycle: shutdown/exit, the client going away mid-run, malformed input, TCP on localhost only."""

from __future__ import annotations

import asyncio
import json
import sys

import pytest
from lsprotocol import types
from pygls.exceptions import JsonRpcException

from tests.lsp.conftest import NEOVIM, WAIT, Client, Inbox, Start, copy_project, make_client, server_env
from tests.lsp.test_runs import gone, running_with_a_test_done, worker_pids


async def test_shutdown_then_exit_stops_the_server_with_code_0(serve: Start):
    client = await serve("shop")
    await client.run_complete()
    await client.shutdown_async(None)
    with pytest.raises(JsonRpcException) as caught:  # between shutdown and exit, requests are refused
        await client.text_document_hover_async(types.HoverParams(
            types.TextDocumentIdentifier(client.uri("shop/cart.py")), types.Position(4, 4)))
    assert caught.value.code == -32600
    client.exit(None)
    assert await asyncio.wait_for(client.process.wait(), WAIT) == 0


async def test_closing_the_client_pipe_mid_run_stops_the_worker_and_the_watcher_and_the_server(serve: Start):
    client = await serve("blocking", client=NEOVIM)  # Neovim: the server runs a watchdog observer too
    await client.inbox.wait("covlens/runStatus", running_with_a_test_done)
    (pid,) = worker_pids(client)
    assert not gone(pid)

    client.process.stdin.close()  # the editor died: no shutdown, no exit
    assert await asyncio.wait_for(client.process.wait(), WAIT) == 0
    assert gone(pid), "the test worker outlived the server"


async def raw(client: Client, payload: bytes) -> None:
    stdin = client.process.stdin
    stdin.write(b"Content-Length: %d\r\n\r\n" % len(payload) + payload)
    await stdin.drain()


async def test_malformed_and_unknown_requests_get_json_rpc_errors_and_the_server_keeps_serving(serve: Start):
    client = await serve("shop")
    await client.run_complete()
    errors: list[dict] = []
    received = asyncio.Event()
    original = client.protocol.structure_message

    def spy(data: dict) -> object:
        if "error" in data and "id" in data and not isinstance(data["id"], str):
            errors.append(data)
            received.set()
        return original(data)

    client.protocol.structure_message = spy  # type: ignore[method-assign]

    async def answer(payload: bytes) -> dict:
        received.clear()
        count = len(errors)
        await raw(client, payload)
        while len(errors) == count:
            await asyncio.wait_for(received.wait(), WAIT)
            received.clear()
        return errors[-1]

    parse = await answer(b"{not json")
    assert (parse["id"], parse["error"]["code"]) == (None, -32700)
    batch = await answer(b"[1, 2]")
    assert (batch["id"], batch["error"]["code"]) == (None, -32600)
    unknown = await answer(json.dumps({"jsonrpc": "2.0", "id": 901, "method": "covlens/noSuchThing"}).encode())
    assert (unknown["id"], unknown["error"]["code"]) == (901, -32601)
    bad_params = await answer(json.dumps({"jsonrpc": "2.0", "id": 902, "method": "textDocument/hover",
                                          "params": {"textDocument": {"uri": 7}, "position": "top"}}).encode())
    assert (bad_params["id"], bad_params["error"]["code"]) == (902, -32602)
    assert "textDocument/hover" in bad_params["error"]["message"]
    bad_command = await answer(json.dumps({"jsonrpc": "2.0", "id": 903, "method": "workspace/executeCommand",
                                           "params": {"command": "covlens.nope"}}).encode())
    assert (bad_command["id"], bad_command["error"]["code"]) == (903, -32602)
    bad_args = await answer(json.dumps({"jsonrpc": "2.0", "id": 904, "method": "workspace/executeCommand",
                                        "params": {"command": "covlens.explain", "arguments": [1, 2]}}).encode())
    assert (bad_args["id"], bad_args["error"]["code"]) == (904, -32602)
    no_version = await answer(json.dumps({"id": 905, "method": "shutdown"}).encode())
    assert (no_version["id"], no_version["error"]["code"]) == (905, -32600)

    # Still serving: a real request gets a real answer.
    explained = await client.command("covlens.explain", "shop.cart")
    assert explained["decision"]["reason"] == "workspace"


async def test_requests_before_initialize_are_refused_with_server_not_initialized():
    client = make_client(Inbox())
    await client.start_io(sys.executable, "-m", "covlens", "serve", env=server_env())
    try:
        client.capabilities = types.ClientCapabilities()
        try:
            await asyncio.wait_for(client.text_document_hover_async(types.HoverParams(
                types.TextDocumentIdentifier("file:///x.py"), types.Position(0, 0))), WAIT)
        except Exception as exc:  # noqa: BLE001 - pygls raises the JSON-RPC error as an exception
            assert "not initialized" in str(exc)
        else:
            raise AssertionError("hover before initialize was answered")
    finally:
        client.exit(None)
        await asyncio.wait_for(client.process.wait(), WAIT)
        await client.stop()


async def test_tcp_serves_one_client_on_localhost(tmp_path):
    root = copy_project("shop", tmp_path)
    server = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "covlens", "serve", "--tcp", "--port", "0", env=server_env(),
        stdin=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
    try:
        assert server.stderr is not None
        line = (await asyncio.wait_for(server.stderr.readline(), WAIT)).decode()
        assert line.startswith("covlens: listening on 127.0.0.1:")
        port = int(line.rsplit(":", 1)[1])
        client = make_client(Inbox())
        client.root = root
        await client.start_tcp("127.0.0.1", port)
        await client.initialize_session(types.InitializeParams(
            capabilities=types.ClientCapabilities(), root_uri=root.as_uri()))
        await client.run_complete()
        _, cart = await client.coverage_of("shop/cart.py")
        assert cart["missed"] == [11, 12, 13]
        await client.shutdown_async(None)
        client.exit(None)
        assert await asyncio.wait_for(server.wait(), WAIT) == 0
        await client.stop()
    finally:
        if server.returncode is None:
            server.kill()
            await server.wait()
