"""A real `covlens serve` subprocess per test, driven by a pytest-lsp client that records every notification."""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from lsprotocol import types
from pygls.protocol import JsonRPCNotification, default_converter
from pytest_lsp import LanguageClient, LanguageClientProtocol, client_capabilities
from pytest_lsp.client import DEFAULT_CLIENT_FEATURES, register_lsp_features

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "lsp"
WAIT = 60.0  # seconds any single expected message may take before the test fails (a hang, not a pace)

# VS Code registers didChangeWatchedFiles dynamically, so no watchdog runs and every change is one the test sends;
# Neovim 0.11 cannot, so the server watches the disk itself.
VSCODE = "visual_studio_code"
NEOVIM = "neovim@v0.11.0"


class Inbox:
    """Every notification from the server, in order; waits are on their arrival, never on time passing."""

    def __init__(self) -> None:
        self.items: list[tuple[str, Any]] = []
        self._arrived = asyncio.Event()

    def add(self, method: str, params: Any) -> None:
        self.items.append((method, params))
        self._arrived.set()

    def mark(self) -> int:
        """A cursor: later waits can look only at what arrives after now."""
        return len(self.items)

    def all(self, method: str, after: int = 0) -> list[Any]:
        return [p for m, p in self.items[after:] if m == method]

    async def wait(self, method: str, predicate: Callable[[Any], bool] = lambda p: True, after: int = 0,
                   timeout: float = WAIT) -> tuple[int, Any]:
        """The first `method` notification at or after `after` that satisfies `predicate`, and the cursor past it."""
        deadline = time.monotonic() + timeout
        i = after
        while True:
            while i < len(self.items):
                m, p = self.items[i]
                i += 1
                if m == method and predicate(p):
                    return i, p
            self._arrived.clear()
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                seen = [(m, p) for m, p in self.items[after:] if m == method]
                raise AssertionError(f"no matching {method} within {timeout:g} s; got {seen!r}")
            try:
                await asyncio.wait_for(self._arrived.wait(), remaining)
            except asyncio.TimeoutError:
                pass


class RecordingProtocol(LanguageClientProtocol):
    """Keeps covlens's custom notifications as plain JSON (pygls would make namedtuples of them) and records all."""

    inbox: Inbox

    def structure_message(self, data: dict[str, Any]) -> Any:
        method = data.get("method")
        if isinstance(method, str) and method.startswith("covlens/") and "id" not in data:
            return JsonRPCNotification(method=method, jsonrpc=data["jsonrpc"], params=data.get("params"))
        return super().structure_message(data)

    def _handle_notification(self, method_name: str, params: Any) -> None:
        self.inbox.add(method_name, params)
        super()._handle_notification(method_name, params)


class Client(LanguageClient):
    """The test's editor: a root folder, open documents, and helpers named for what an editor does."""

    root: Path
    inbox: Inbox
    versions: dict[str, int]
    registrations: list[types.Registration]

    def uri(self, rel: str) -> str:
        return (self.root / rel).as_uri()

    def path(self, rel: str) -> Path:
        return self.root / rel

    @property
    def process(self) -> asyncio.subprocess.Process:
        assert self._server is not None
        return self._server

    async def run_complete(self, after: int = 0, state: str = "complete") -> tuple[int, dict[str, Any]]:
        """Wait for a run to end in `state`; its last runStatus."""
        return await self.inbox.wait("covlens/runStatus", lambda p: p["state"] == state, after)

    async def coverage_of(self, rel: str, after: int = 0, predicate: Callable[[Any], bool] = lambda p: True
                          ) -> tuple[int, dict[str, Any]]:
        uri = self.uri(rel)
        return await self.inbox.wait("covlens/fileCoverage", lambda p: p["uri"] == uri and predicate(p), after)

    async def diagnostics_of(self, rel: str, predicate: Callable[[list[types.Diagnostic]], bool],
                             after: int = 0) -> tuple[int, list[types.Diagnostic]]:
        uri = self.uri(rel)
        i, params = await self.inbox.wait(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS,
                                          lambda p: p.uri == uri and predicate(list(p.diagnostics)), after)
        return i, list(params.diagnostics)

    def open(self, rel: str) -> str:
        uri = self.uri(rel)
        self.versions[uri] = 1
        self.text_document_did_open(types.DidOpenTextDocumentParams(types.TextDocumentItem(
            uri=uri, language_id="python", version=1, text=self.path(rel).read_text())))
        return uri

    def edit(self, rel: str, line: int, text: str) -> int:
        """Insert `text` at the start of 0-based `line`, unsaved; the document's new version."""
        uri = self.uri(rel)
        self.versions[uri] += 1
        where = types.Position(line, 0)
        self.text_document_did_change(types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=self.versions[uri]),
            content_changes=[types.TextDocumentContentChangePartial(range=types.Range(where, where), text=text)]))
        return self.versions[uri]

    def save(self, rel: str, text: str | None = None) -> None:
        """Write the file (as the editor does on save) and tell the server, with didChangeWatchedFiles as VS Code."""
        if text is not None:
            self.path(rel).write_text(text)
        self.text_document_did_save(types.DidSaveTextDocumentParams(types.TextDocumentIdentifier(self.uri(rel))))

    def command(self, name: str, *arguments: Any) -> Awaitable[Any]:
        return self.workspace_execute_command_async(types.ExecuteCommandParams(command=name,
                                                                                arguments=list(arguments)))


def _register_capability(client: Client, params: types.RegistrationParams) -> None:
    client.registrations.extend(params.registrations)


def _refresh_lenses(client: Client, params: None) -> None:
    client.inbox.add(types.WORKSPACE_CODE_LENS_REFRESH, params)


def make_client(inbox: Inbox) -> Client:
    client = Client(protocol_cls=RecordingProtocol, converter_factory=default_converter)
    client.protocol.inbox = inbox  # type: ignore[attr-defined]
    client.inbox = inbox
    client.versions = {}
    client.registrations = []
    register_lsp_features(client, {**DEFAULT_CLIENT_FEATURES,
                                   types.CLIENT_REGISTER_CAPABILITY: _register_capability,
                                   types.WORKSPACE_CODE_LENS_REFRESH: _refresh_lenses})
    return client


def copy_project(name: str, dest: Path) -> Path:
    root = dest / name
    shutil.copytree(FIXTURES / name, root, ignore=shutil.ignore_patterns("__pycache__", ".covlens", ".pytest_cache"))
    return root


def server_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("COVLENS_JOB", None)
    env.pop("PYTHONPATH", None)
    env.update(extra or {})
    return env


Start = Callable[..., Awaitable[Client]]


class Servers:
    """Starts `covlens serve` subprocesses on copies of fixture projects under `folder`; `close` stops them all."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.clients: list[Client] = []

    async def start(self, project: str | Path, *, client: str = VSCODE, settings: dict[str, Any] | None = None,
                    init: dict[str, Any] | None = None, env: dict[str, str] | None = None) -> Client:
        if isinstance(project, Path):
            root = project
        else:
            root = self.folder / project if (self.folder / project).exists() else copy_project(project, self.folder)
        c = make_client(Inbox())
        c.root = root
        if settings is not None:
            c.set_configuration(settings, section="covlens")
        await c.start_io(sys.executable, "-m", "covlens", "serve", env=server_env(env))
        self.clients.append(c)
        await c.initialize_session(types.InitializeParams(
            capabilities=client_capabilities(client), root_uri=root.as_uri(),
            workspace_folders=[types.WorkspaceFolder(uri=root.as_uri(), name=root.name)],
            initialization_options={"debounceMs": 150, **(init or {})}))
        return c

    async def close(self) -> None:
        for c in self.clients:
            if c._server is not None and c._server.returncode is None:
                await asyncio.wait_for(c.shutdown_session(), WAIT)
            await asyncio.wait_for(c.stop(), WAIT)


@pytest.fixture
async def serve(tmp_path: Path) -> AsyncIterator[Start]:
    """`await serve("shop", settings={...})`: a project copied to tmp, a `covlens serve` on it, initialized."""
    servers = Servers(tmp_path)
    yield servers.start
    await servers.close()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def module_servers(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Servers]:
    """Servers shared by the tests of a module that only read (modules using it run in one module-scoped loop)."""
    servers = Servers(tmp_path_factory.mktemp("shared"))
    yield servers
    await servers.close()
