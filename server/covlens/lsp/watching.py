"""How the server hears of changes on disk: the client's file watcher when it can register one, else watchdog."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from lsprotocol import types
from pygls.lsp.server import LanguageServer

from covlens.watch.observer import WATCHED_FILES, ProjectObserver

log = logging.getLogger("covlens.lsp")

REGISTRATION = "covlens-watched-files"


async def watch(ls: LanguageServer, root: str, on_change: Callable[[frozenset[str]], None]) -> ProjectObserver | None:
    """Register didChangeWatchedFiles with the client, or start an observer calling `on_change` on the loop.

    Returns the observer to stop at shutdown (None when the client watches). Raises OSError when neither works.
    """
    caps = ls.client_capabilities.workspace
    watched = caps.did_change_watched_files if caps else None
    if watched and watched.dynamic_registration:
        options = types.DidChangeWatchedFilesRegistrationOptions(
            watchers=[types.FileSystemWatcher(glob_pattern=f"**/{pattern}") for pattern in WATCHED_FILES])
        try:
            await ls.client_register_capability_async(types.RegistrationParams(registrations=[types.Registration(
                id=REGISTRATION, method=types.WORKSPACE_DID_CHANGE_WATCHED_FILES, register_options=options)]))
            return None
        except Exception as exc:  # noqa: BLE001 - fall back to watching the disk ourselves
            log.warning("the client refused to watch files (%s); covlens watches the disk itself", exc)
    loop = asyncio.get_running_loop()
    # watchdog calls from its own thread: hop onto the loop before touching any state.
    observer = ProjectObserver(root, lambda paths: loop.call_soon_threadsafe(on_change, paths))
    await asyncio.to_thread(observer.start)
    return observer
