"""LSP work-done progress for one run: "covlens: running tests", cancellable, with "Running 42 tests… 17 done"."""

from __future__ import annotations

import logging

from lsprotocol import types
from pygls.lsp.server import LanguageServer

log = logging.getLogger("covlens.lsp")

TITLE = "covlens: running tests"


def supported(ls: LanguageServer) -> bool:
    """Whether the client accepts server-initiated progress (window.workDoneProgress)."""
    window = ls.client_capabilities.window
    return bool(window and window.work_done_progress)


class RunProgress:
    """The progress of one run; every call is a no-op when the client does not support progress."""

    def __init__(self, ls: LanguageServer, run_id: str) -> None:
        self._ls = ls
        self.token = f"covlens-run-{run_id}"
        self.active = False

    async def begin(self, message: str) -> None:
        if not supported(self._ls):
            return
        try:
            await self._ls.work_done_progress.create_async(self.token)
        except Exception as exc:  # noqa: BLE001 - the client refused: the run goes on without a progress bar
            log.info("client refused work-done progress %s: %s", self.token, exc)
            return
        self.active = True
        self._ls.work_done_progress.begin(self.token, types.WorkDoneProgressBegin(
            title=TITLE, cancellable=True, message=message, percentage=0))

    def report(self, message: str, percentage: int | None) -> None:
        if self.active:
            self._ls.work_done_progress.report(self.token, types.WorkDoneProgressReport(
                message=message, percentage=percentage, cancellable=True))

    def end(self, message: str) -> None:
        if not self.active:
            return
        self.active = False
        self._ls.work_done_progress.end(self.token, types.WorkDoneProgressEnd(message=message))
        self._ls.work_done_progress.tokens.pop(self.token, None)
