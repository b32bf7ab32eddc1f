"""Where the messages come from: stdio (a daemon reader thread, so a blocked read never holds the process) or one
TCP connection on 127.0.0.1; both frame LSP messages by Content-Length."""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from collections.abc import Callable

from covlens.lsp.protocol import CovlensProtocol

log = logging.getLogger("covlens.lsp")

_CHUNK = 1 << 16


async def read_messages(reader: asyncio.StreamReader, protocol: CovlensProtocol) -> None:
    """Feed each framed message body to the protocol until EOF (the client closed its end)."""
    while True:
        length: int | None = None
        while True:
            try:
                line = await reader.readline()
            except ValueError:  # a header line longer than the buffer: garbage, skip it
                continue
            if not line:
                return
            if not line.strip():
                if length is not None:
                    break
                continue  # a stray blank line before any header
            name, _, value = line.decode("ascii", "replace").partition(":")
            if name.strip().lower() == "content-length":
                try:
                    length = int(value.strip())
                except ValueError:
                    log.warning("ignoring a bad Content-Length header: %r", line)
                    length = None
                if length is not None and length < 0:
                    length = None
        try:
            body = await reader.readexactly(length)
        except asyncio.IncompleteReadError:
            return
        protocol.receive(body)


class FdWriter:
    """Writes whole messages to a file descriptor; a closed pipe calls `on_broken` once instead of raising."""

    def __init__(self, fd: int, on_broken: Callable[[], None]) -> None:
        self._fd = fd
        self._on_broken = on_broken
        self._broken = False

    def write(self, data: bytes) -> None:
        if self._broken:
            return
        view = memoryview(data)
        try:
            while view:
                view = view[os.write(self._fd, view):]
        except OSError:  # BrokenPipeError and friends: the client is gone
            self._broken = True
            self._on_broken()

    def close(self) -> None:
        pass  # stdout is closed by the interpreter on exit


class StreamWriterAdapter:
    """pygls' writer interface over an asyncio StreamWriter (TCP)."""

    def __init__(self, writer: asyncio.StreamWriter) -> None:
        self._writer = writer

    def write(self, data: bytes) -> None:
        if not self._writer.is_closing():
            self._writer.write(data)

    def close(self) -> None:
        self._writer.close()


def stdin_reader(fd: int) -> asyncio.StreamReader:
    """An asyncio reader of `fd`, filled by a daemon thread (portable, and never keeps the process alive)."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=_CHUNK)

    def pump() -> None:
        while True:
            try:
                chunk = os.read(fd, _CHUNK)
            except OSError:
                chunk = b""
            try:
                if not chunk:
                    loop.call_soon_threadsafe(reader.feed_eof)
                    return
                loop.call_soon_threadsafe(reader.feed_data, chunk)
            except RuntimeError:  # the loop is closed: the server is leaving
                return

    threading.Thread(target=pump, name="covlens-stdin", daemon=True).start()
    return reader


async def until_done(protocol: CovlensProtocol, reader: asyncio.StreamReader, broken: asyncio.Event) -> str:
    """Serve until `exit`, EOF on the input, or a broken output; which of them happened."""
    reading = asyncio.ensure_future(read_messages(reader, protocol))
    exited = asyncio.ensure_future(protocol.stopped.wait())
    lost = asyncio.ensure_future(broken.wait())
    try:
        await asyncio.wait({reading, exited, lost}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (reading, exited, lost):
            task.cancel()
        await asyncio.gather(reading, exited, lost, return_exceptions=True)
    if protocol.stopped.is_set():
        return "exit"
    return "output closed" if broken.is_set() else "input closed"
