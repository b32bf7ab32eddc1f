"""A small scripted LSP client on a subprocess's stdio: Content-Length framing, requests, timestamped notifications."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

END_STATES = frozenset({"complete", "cancelled", "timeout", "crashed", "error"})
# What the client says it supports: like an editor with a covlens plugin but without a file watcher of its own
# (Neovim on Linux), so the server watches the disk itself as well as hearing didSave.
CAPABILITIES: dict[str, Any] = {
    "workspace": {"configuration": True, "workspaceFolders": True, "codeLens": {"refreshSupport": True},
                  "didChangeConfiguration": {"dynamicRegistration": False}},
    "window": {"workDoneProgress": True, "showMessage": {}},
    "textDocument": {
        "synchronization": {"didSave": True, "dynamicRegistration": False},
        "hover": {"contentFormat": ["plaintext", "markdown"]},
        "codeLens": {},
        "publishDiagnostics": {"relatedInformation": True},
    },
}


class LspError(Exception):
    """The server answered a request with an error, or did not answer in time, or went away."""


@dataclass(frozen=True)
class Message:
    """A notification from the server, with the monotonic time (time.perf_counter) it was read at."""

    at: float
    method: str
    params: Any


@dataclass
class Run:
    """One run as covlens/runStatus tells it."""

    run_id: str
    started: float  # when its first runStatus (state running) arrived
    scope: str | None = None
    ended: float | None = None
    state: str | None = None
    total: int | None = None


class LspClient:
    """Drives one server process: answers its requests, keeps every notification, tracks runs from runStatus."""

    def __init__(self, proc: asyncio.subprocess.Process, log: TextIO) -> None:
        self.proc = proc
        self.log = log
        self.messages: list[Message] = []
        self.runs: dict[str, Run] = {}
        self._next_id = 0
        self._pending: dict[int, asyncio.Future[Any]] = {}
        self._arrived = asyncio.Event()  # set (and replaced) on every notification
        self._reader = asyncio.ensure_future(self._read_loop())
        self.closed: str | None = None  # why reading stopped

    @classmethod
    async def start(cls, command: list[str], cwd: Path, env: dict[str, str], stderr: TextIO, log: TextIO) -> LspClient:
        proc = await asyncio.create_subprocess_exec(
            *command, cwd=str(cwd), env=env, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=stderr, start_new_session=True, limit=2**24)
        return cls(proc, log)

    @property
    def pid(self) -> int:
        return self.proc.pid

    # ------------------------------------------------------------------------------------------- wire

    def _send(self, payload: dict[str, Any]) -> None:
        if self.proc.stdin is None or self.closed:
            raise LspError(f"the server is gone ({self.closed})")
        body = json.dumps(payload, separators=(",", ":")).encode("utf-8")
        self.proc.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)

    async def _read_loop(self) -> None:
        assert self.proc.stdout is not None
        stream = self.proc.stdout
        try:
            while True:
                length = None
                while True:
                    line = await stream.readline()
                    if not line:
                        raise EOFError("the server closed its stdout")
                    line = line.strip()
                    if not line:
                        break
                    name, _, value = line.decode("ascii").partition(":")
                    if name.lower() == "content-length":
                        length = int(value.strip())
                if length is None:
                    raise ValueError("a message without Content-Length")
                body = await stream.readexactly(length)
                self._dispatch(json.loads(body), time.perf_counter())
        except (EOFError, asyncio.IncompleteReadError, ValueError, OSError) as exc:
            self.closed = str(exc) or type(exc).__name__
        finally:
            for future in self._pending.values():
                if not future.done():
                    future.set_exception(LspError(f"the server is gone ({self.closed})"))
            self._wake()

    def _dispatch(self, message: dict[str, Any], at: float) -> None:
        if "method" in message and "id" in message:
            self._answer(message)
        elif "method" in message:
            self._notified(Message(at, message["method"], message.get("params")))
        elif message.get("id") in self._pending:
            future = self._pending.pop(message["id"])
            if not future.done():
                if "error" in message:
                    future.set_exception(LspError(json.dumps(message["error"])))
                else:
                    future.set_result((at, message.get("result")))

    def _answer(self, request: dict[str, Any]) -> None:
        """Server-to-client requests: nothing to configure, accept progress tokens and registrations."""
        method = request["method"]
        result: Any = None
        if method == "workspace/configuration":
            result = [None for _ in request.get("params", {}).get("items", [])]
        self.log.write(f"{time.perf_counter():.3f} <- request {method}\n")
        self._send({"jsonrpc": "2.0", "id": request["id"], "result": result})

    def _notified(self, message: Message) -> None:
        self.messages.append(message)
        if message.method == "covlens/runStatus":
            self._track(message)
            self.log.write(f"{message.at:.3f} runStatus {json.dumps(message.params)}\n")
        elif message.method in ("window/logMessage", "window/showMessage"):
            self.log.write(f"{message.at:.3f} {message.method} {message.params.get('message')}\n")
        self._wake()

    def _track(self, message: Message) -> None:
        params = message.params or {}
        run_id, state = params.get("runId"), params.get("state")
        if not run_id or state == "idle":
            return  # the stored run described at start-up
        run = self.runs.get(run_id)
        if run is None:
            run = self.runs[run_id] = Run(run_id, message.at)
        run.scope = params.get("scope", run.scope)
        run.total = params.get("total", run.total)
        if state in END_STATES and run.ended is None:
            run.ended, run.state = message.at, state

    def _wake(self) -> None:
        self._arrived.set()
        self._arrived = asyncio.Event()

    # ------------------------------------------------------------------------------------------- API

    async def request(self, method: str, params: Any, timeout: float) -> tuple[float, Any]:
        """Send a request; (the time the answer was read, its result). Raises LspError on error or time-out."""
        self._next_id += 1
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[self._next_id] = future
        self._send({"jsonrpc": "2.0", "id": self._next_id, "method": method, "params": params})
        try:
            return await asyncio.wait_for(future, timeout)
        except asyncio.TimeoutError:
            self._pending.pop(self._next_id, None)
            raise LspError(f"{method}: no answer in {timeout:.0f} s") from None

    def notify(self, method: str, params: Any) -> None:
        self._send({"jsonrpc": "2.0", "method": method, "params": params})

    async def wait_for(self, found: Callable[[Message], bool], timeout: float, since: int = 0,
                       what: str = "a notification") -> Message:
        """The first notification from index `since` on for which `found` is true; LspError after `timeout`."""
        deadline = time.perf_counter() + timeout
        index = since
        while True:
            while index < len(self.messages):
                message = self.messages[index]
                index += 1
                if found(message):
                    return message
            if self.closed:
                raise LspError(f"waiting for {what}: the server is gone ({self.closed})")
            left = deadline - time.perf_counter()
            if left <= 0:
                raise LspError(f"waiting for {what}: nothing in {timeout:.0f} s")
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._arrived.wait(), left)

    async def wait_until(self, condition: Callable[[], bool], timeout: float, what: str) -> None:
        """Wait until `condition()` holds, re-checked at every notification; LspError after `timeout`."""
        deadline = time.perf_counter() + timeout
        while not condition():
            if self.closed:
                raise LspError(f"waiting for {what}: the server is gone ({self.closed})")
            left = deadline - time.perf_counter()
            if left <= 0:
                raise LspError(f"waiting for {what}: not within {timeout:.0f} s")
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._arrived.wait(), left)

    def running(self) -> Run | None:
        """The run in progress (started, not ended), if any."""
        going = [run for run in self.runs.values() if run.ended is None]
        return max(going, key=lambda r: r.started) if going else None

    async def initialize(self, root: Path, options: dict[str, Any] | None, timeout: float) -> None:
        uri = root.as_uri()
        await self.request("initialize", {
            "processId": os.getpid(), "rootUri": uri, "rootPath": str(root),
            "workspaceFolders": [{"uri": uri, "name": root.name}], "capabilities": CAPABILITIES,
            "initializationOptions": options, "clientInfo": {"name": "covlens-bench-latency"},
        }, timeout)
        self.notify("initialized", {})

    async def close(self, timeout: float) -> int | None:
        """shutdown + exit, then wait; kill the whole process group (server and test workers) if it lingers."""
        try:
            if not self.closed:
                with contextlib.suppress(LspError):
                    await self.request("shutdown", None, timeout)
                with contextlib.suppress(LspError, OSError, RuntimeError):
                    self.notify("exit", None)
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self.proc.wait(), timeout)
        finally:
            kill_group(self.proc.pid)
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self.proc.wait(), 5)
            self._reader.cancel()
        return self.proc.returncode


def kill_group(pid: int) -> None:
    """SIGKILL the process group led by `pid` (started with start_new_session), if any of it is left."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)
