"""`covlens serve`: the pygls language server; registers the features and serves stdio or one TCP client."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Sequence
from typing import Any

from lsprotocol import types
from pygls.lsp.server import LanguageServer

from covlens import __version__
from covlens.lsp import codelens, commands, hover
from covlens.lsp.coordinator import Coordinator
from covlens.lsp.protocol import CovlensProtocol
from covlens.lsp.transport import FdWriter, StreamWriterAdapter, stdin_reader, until_done

log = logging.getLogger("covlens.lsp")

HOST = "127.0.0.1"  # never another interface: the server runs the project's tests on request


class CovlensServer(LanguageServer):
    """The language server; all state lives in its Coordinator."""

    protocol: CovlensProtocol

    def __init__(self) -> None:
        super().__init__("covlens", __version__, text_document_sync_kind=types.TextDocumentSyncKind.Incremental,
                         protocol_cls=CovlensProtocol)
        self.coordinator = Coordinator(self)


def build() -> CovlensServer:
    """A server with every feature of docs/protocol.md registered."""
    ls = CovlensServer()
    co = ls.coordinator

    @ls.feature(types.INITIALIZE)
    async def initialize(params: types.InitializeParams) -> None:
        co.initialize(params)

    @ls.feature(types.INITIALIZED)
    async def initialized(params: types.InitializedParams) -> None:
        await co.start()

    @ls.feature(types.SHUTDOWN)
    async def shutdown(params: Any) -> None:
        await co.close()

    @ls.feature(types.TEXT_DOCUMENT_DID_OPEN)
    async def did_open(params: types.DidOpenTextDocumentParams) -> None:
        co.opened(params)

    @ls.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    async def did_change(params: types.DidChangeTextDocumentParams) -> None:
        co.changed(params)

    @ls.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    async def did_close(params: types.DidCloseTextDocumentParams) -> None:
        co.closed(params)

    @ls.feature(types.TEXT_DOCUMENT_DID_SAVE, types.SaveOptions(include_text=False))
    async def did_save(params: types.DidSaveTextDocumentParams) -> None:
        co.saved(params)

    @ls.feature(types.WORKSPACE_DID_CHANGE_WATCHED_FILES)
    async def watched(params: types.DidChangeWatchedFilesParams) -> None:
        co.watched_files_changed(params)

    @ls.feature(types.WORKSPACE_DID_CHANGE_CONFIGURATION)
    async def configuration(params: types.DidChangeConfigurationParams) -> None:
        await co.configuration_changed(params)

    @ls.feature(types.WINDOW_WORK_DONE_PROGRESS_CANCEL)
    async def progress_cancel(params: types.WorkDoneProgressCancelParams) -> None:
        co.progress_cancelled(params)

    @ls.feature(types.TEXT_DOCUMENT_HOVER)
    async def on_hover(params: types.HoverParams) -> types.Hover | None:
        return await hover.hover(co, params)

    @ls.feature(types.TEXT_DOCUMENT_CODE_LENS, types.CodeLensOptions(resolve_provider=False))
    async def on_code_lens(params: types.CodeLensParams) -> list[types.CodeLens]:
        return codelens.code_lenses(co, params)

    for name, handler in commands.COMMANDS.items():
        ls.command(name)(_command(co, handler))
    return ls


def _command(co: Coordinator, handler: Any) -> Any:
    async def command(*args: Any) -> Any:
        return await handler(co, *args)
    return command


# ----------------------------------------------------------------------------------------------- serving


async def serve_stdio(ls: CovlensServer, stdin_fd: int, stdout_fd: int) -> int:
    """Serve the client on the other end of stdin/stdout until `exit` or until it closes the pipe."""
    broken = asyncio.Event()
    ls.protocol.set_writer(FdWriter(stdout_fd, broken.set))
    try:
        why = await until_done(ls.protocol, stdin_reader(stdin_fd), broken)
        log.info("covlens serve: %s", why)
    finally:
        await ls.coordinator.close()
    return ls.protocol.exit_code or 0


async def serve_tcp(ls: CovlensServer, port: int) -> int:
    """Serve one client connecting to 127.0.0.1:`port` (0: any free port); leave when it is gone."""
    done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    busy = False

    async def connected(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal busy
        if busy:  # one editor per server: a second connection would see the other's documents
            writer.close()
            return
        busy = True
        ls.protocol.set_writer(StreamWriterAdapter(writer))
        try:
            why = await until_done(ls.protocol, reader, asyncio.Event())
            log.info("covlens serve: %s", why)
        finally:
            writer.close()
            if not done.done():
                done.set_result(None)

    server = await asyncio.start_server(connected, HOST, port)
    bound = server.sockets[0].getsockname()[1]
    log.info("covlens serve: listening on %s:%d", HOST, bound)
    print(f"covlens: listening on {HOST}:{bound}", file=sys.stderr, flush=True)
    try:
        async with server:
            await done
    finally:
        await ls.coordinator.close()
    return ls.protocol.exit_code or 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="covlens serve", description="The covlens language server.")
    parser.add_argument("--stdio", action="store_true", help="serve on stdin/stdout (the default)")
    parser.add_argument("--tcp", action="store_true", help=f"serve one client over TCP on {HOST}")
    parser.add_argument("--port", type=int, default=2087, help="the TCP port (default 2087; 0 = any free port)")
    parser.add_argument("--log-level", default=os.environ.get("COVLENS_LOG", "WARNING"),
                        choices=("DEBUG", "INFO", "WARNING", "ERROR"), help="what goes to stderr")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry of `covlens serve`; returns the process's exit code."""
    if argv is None:
        argv = sys.argv[1:]
        if argv[:1] == ["serve"]:
            argv = argv[1:]
    args = _parser().parse_args(list(argv))
    logging.basicConfig(stream=sys.stderr, level=args.log_level,
                        format="covlens %(levelname)s %(name)s: %(message)s")
    logging.getLogger("pygls").setLevel(max(logging.WARNING, logging.getLevelName(args.log_level)))
    ls = build()
    if args.tcp:
        return asyncio.run(serve_tcp(ls, args.port))
    stdin_fd = sys.stdin.fileno()
    # The protocol owns stdout: anything else printed there (a stray print, a warning) would corrupt it.
    stdout_fd = os.dup(sys.stdout.fileno())
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    sys.stdout = sys.stderr
    return asyncio.run(serve_stdio(ls, stdin_fd, stdout_fd))
