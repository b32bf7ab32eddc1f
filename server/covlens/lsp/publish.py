"""Publishing: `covlens/fileCoverage`, `covlens/runStatus` (throttled) and the push diagnostics of each file."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from lsprotocol import types
from pygls.lsp.server import LanguageServer

from covlens.config import ConfigError
from covlens.instrument.decision import INSTRUMENTED, NOT_IMPORTED, Decision
from covlens.lsp import diagnostics as diag
from covlens.lsp.edits import Document, LineMap, OpenDocuments
from covlens.lsp.settings import NOT_PUBLISHED, Settings
from covlens.lsp.uris import Locations
from covlens.model import FileCoverage, TestOutcome
from covlens.store import ProjectCoverage

log = logging.getLogger("covlens.lsp")

FILE_COVERAGE = "covlens/fileCoverage"
RUN_STATUS = "covlens/runStatus"

IDLE = "idle"


def _wire(lines: Iterable[int], line_map: LineMap | None) -> list[int]:
    """1-based measured lines -> sorted 0-based lines of the buffer (moved by unsaved edits when mapped)."""
    zero = (line - 1 for line in lines)
    return line_map.lines(zero) if line_map is not None else sorted(zero)


def file_coverage(uri: str, decision: Decision, coverage: FileCoverage | None, *, version: int | None, stale: bool,
                  run_id: str | None, line_map: LineMap | None = None) -> dict[str, Any]:
    """The `covlens/fileCoverage` params of one file; a module that was not measured has empty line lists."""
    hits: dict[str, int] = {}
    if coverage is not None:
        for line, count in sorted(coverage.hits.items()):
            now = line - 1 if line_map is None else line_map.to_buffer(line - 1)
            if now is not None:
                hits[str(now)] = count
        statements, covered, missed = len(coverage.statements), len(coverage.covered), len(coverage.missing)
        percent = round(coverage.percent, 2)
    else:
        statements = covered = missed = 0
        percent = None
    return {
        "uri": uri,
        "version": version,
        "covered": _wire(coverage.covered, line_map) if coverage else [],
        "missed": _wire(coverage.missing, line_map) if coverage else [],
        "partial": _wire(coverage.partial, line_map) if coverage else [],
        "excluded": _wire(coverage.excluded, line_map) if coverage else [],
        "hits": hits,
        "decision": decision.to_json(),
        "summary": {"statements": statements, "covered": covered, "missed": missed, "percent": percent},
        "stale": stale,
        "runId": run_id,
    }


def run_status(run_id: str | None, state: str, *, total: int | None, done: int, counts: Mapping[str, int],
               percent: float | None, message: str, scope: str | None = None) -> dict[str, Any]:
    """The `covlens/runStatus` params."""
    return {
        "runId": run_id,
        "state": state,
        "scope": scope,
        "total": total,
        "done": done,
        "counts": dict(counts),
        "percent": None if percent is None else round(percent, 2),
        "message": message,
    }


class Throttle:
    """Sends the latest of a stream of updates at most every `interval` seconds; `force` sends at once.

    A state change is forced (the client must see every one); updates in between are coalesced, and the last
    one is always delivered.
    """

    def __init__(self, send: Callable[[Any], None], interval: float = 0.1) -> None:
        self._send = send
        self._interval = interval
        self._last = 0.0
        self._pending: Any = None
        self._timer: asyncio.TimerHandle | None = None

    def update(self, value: Any, *, force: bool = False) -> None:
        now = time.monotonic()
        if force or now - self._last >= self._interval:
            self._emit(value)
            return
        self._pending = value
        if self._timer is None:
            loop = asyncio.get_running_loop()
            self._timer = loop.call_later(self._interval - (now - self._last), self._flush)

    def _flush(self) -> None:
        self._timer = None
        if self._pending is not None:
            self._emit(self._pending)

    def _emit(self, value: Any) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._pending = None
        self._last = time.monotonic()
        self._send(value)

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None


@dataclass(frozen=True)
class FileView:
    """What is published for one workspace file: its module's decision and, when measured, its coverage."""

    path: str
    decision: Decision
    coverage: FileCoverage | None


class Publisher:
    """Sends each file's coverage and diagnostics; diagnostics only when a file's list changed (push, never pull:
    Neovim <= 0.11 does not re-pull after a background run)."""

    def __init__(self, ls: LanguageServer, docs: OpenDocuments, locations: Locations) -> None:
        self._ls = ls
        self._docs = docs
        self._at = locations
        self.files: dict[str, FileView] = {}  # uri -> view
        self.stale = True  # the results on screen are not from a complete run of this session
        self.run_id: str | None = None  # the run the results on screen come from
        # uri -> the running run that settled the file (see `update`): fresh, whatever `stale` says of the rest.
        self.settled: dict[str, str] = {}
        self.closed = False
        self._decisions: dict[str, list[types.Diagnostic]] = {}
        self._sent: dict[str, list[types.Diagnostic]] = {}

    def load(self, project: ProjectCoverage | None, settings: Settings, doc_uri: str) -> None:
        """Take the files of `project`: every workspace file with a publishable decision, measured or not."""
        views: dict[str, FileView] = {}
        if project is not None:
            for decision in project.decisions:
                if not decision.path or decision.reason in NOT_PUBLISHED or not self._at.contains(decision.path):
                    continue
                measured = decision.action in (INSTRUMENTED, NOT_IMPORTED)
                views[self._at.uri(decision.path)] = FileView(
                    decision.path, decision, project.file(decision.path) if measured else None)
            for path, coverage in project.files.items():
                uri = self._at.uri(path)
                if uri not in views and self._at.contains(path):
                    views[uri] = FileView(path, coverage.decision, coverage)
        self.files = views
        self.settled = {}
        self.explain(settings, doc_uri)

    def update(self, coverage: FileCoverage, *, settled_by: str | None = None) -> str | None:
        """Take one measured file's fresh coverage ahead of the whole project (see `load`); its uri, if shown.

        `settled_by`: the id of the run, still going, that settled the file; it is published as that run's, not
        stale, until the next `load`."""
        if not self._at.contains(coverage.path):
            return None
        uri = self._at.uri(coverage.path)
        self.files[uri] = FileView(coverage.path, coverage.decision, coverage)
        if settled_by is not None:
            self.settled[uri] = settled_by
        return uri

    def explain(self, settings: Settings, doc_uri: str) -> None:
        """The decision diagnostic of every file, at the severities of `settings`."""
        self._decisions = {}
        for uri, view in self.files.items():
            found = diag.decision_diagnostic(view.decision, settings, doc_uri)
            if found is not None:
                self._decisions[uri] = [found]

    def is_stale(self, uri: str) -> bool:
        """Whether the lines of `uri` come from the store or an unfinished run, or were moved by edits."""
        doc = self._docs.get(uri)
        return (self.stale and uri not in self.settled) or bool(doc and doc.moved)

    def coverage(self, uri: str) -> None:
        """Send the `covlens/fileCoverage` of `uri` (nothing when covlens knows nothing of it)."""
        view = self.files.get(uri)
        if view is None or self.closed:
            return
        doc = self._docs.get(uri)
        self._ls.protocol.notify(FILE_COVERAGE, file_coverage(
            uri, view.decision, view.coverage, version=doc.version if doc else None, stale=self.is_stale(uri),
            run_id=self.settled.get(uri, self.run_id), line_map=doc.line_map if doc and doc.moved else None))

    def all_uris(self, failures: Iterable[TestOutcome], config_error: ConfigError | None) -> set[str]:
        """Every uri that has, or had, something published."""
        uris = set(self.files) | set(self._sent) | set(diag.failure_diagnostics(failures, self._at.uri))
        if config_error is not None:
            uris.add(self._at.uri(config_error.path))
        return uris

    def diagnostics(self, uris: Iterable[str], *, failures: Iterable[TestOutcome], settings: Settings,
                    config_error: ConfigError | None) -> None:
        """Push the diagnostics of `uris` whose list changed."""
        uris = set(uris)
        if not uris or self.closed:
            return
        failing = diag.failure_diagnostics(failures, self._at.uri)
        config_uri = self._at.uri(config_error.path) if config_error is not None else None
        for uri in sorted(uris):
            doc = self._docs.get(uri)
            found = list(self._decisions.get(uri, []))
            at_lines = [*failing.get(uri, []), *self._hints(uri, settings)]
            found += _moved(at_lines, doc) if doc is not None and doc.moved else at_lines
            if config_error is not None and uri == config_uri:
                found.append(diag.config_diagnostic(config_error))
            if self._sent.get(uri, []) == found:
                continue
            if found:
                self._sent[uri] = found
            else:
                self._sent.pop(uri, None)
            self._ls.text_document_publish_diagnostics(types.PublishDiagnosticsParams(
                uri=uri, diagnostics=found, version=doc.version if doc else None))

    def refresh_lenses(self) -> None:
        """Ask the client to re-request code lenses (their percentages and outcomes changed), if it can."""
        caps = self._ls.client_capabilities.workspace
        if caps and caps.code_lens and caps.code_lens.refresh_support and not self.closed:
            future = self._ls.protocol.send_request(types.WORKSPACE_CODE_LENS_REFRESH, None)
            future.add_done_callback(_quietly)

    def _hints(self, uri: str, settings: Settings) -> list[types.Diagnostic]:
        view = self.files.get(uri)
        if not settings.missed_lines_as_hints or view is None or view.coverage is None:
            return []
        return diag.missed_line_hints(sorted(line - 1 for line in view.coverage.missing))


def _moved(found: list[types.Diagnostic], doc: Document) -> list[types.Diagnostic]:
    """Diagnostics at measured lines, moved to where those lines are in the edited buffer (dropped if deleted)."""
    out = []
    for d in found:
        line = doc.to_buffer(d.range.start.line)
        if line is not None:
            out.append(types.Diagnostic(
                range=types.Range(types.Position(line, 0), types.Position(line + 1, 0)), message=d.message,
                severity=d.severity, code=d.code, code_description=d.code_description, source=d.source,
                related_information=d.related_information, data=d.data))
    return out


def _quietly(future: Any) -> None:
    """Consume the outcome of a request nobody waits for (a client may well refuse it)."""
    if not future.cancelled() and future.exception() is not None:
        log.info("the client refused a request: %s", future.exception())
