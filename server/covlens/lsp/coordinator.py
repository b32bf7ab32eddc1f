"""The server's state and runs: settings, config, store, scheduler and watcher in; notifications and diagnostics out."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from lsprotocol import types
from pygls.lsp.server import LanguageServer
from pygls.uris import to_fs_path

from covlens import config as config_module
from covlens.config import Config, ConfigError
from covlens.instrument.decision import Decision
from covlens.lsp import diagnostics as diag
from covlens.lsp import watching
from covlens.lsp.edits import Document, OpenDocuments
from covlens.lsp.progress import RunProgress
from covlens.lsp.publish import IDLE, RUN_STATUS, FileView, Publisher, Throttle, run_status
from covlens.lsp.settings import Settings
from covlens.lsp.uris import Locations, norm
from covlens.model import CANCELLED, COMPLETE, ERROR, RUNNING, FileCoverage, RunResult, TestOutcome
from covlens.runner import events as ev
from covlens.runner import selection as select
from covlens.runner.session import Session
from covlens.runner.settled import SettledFiles
from covlens.runner.warm import PRELOAD_REASONS, WarmWorker
from covlens.store import ProjectCoverage, Store, StoreError
from covlens.watch.observer import IgnoreRules, ProjectObserver
from covlens.watch.scheduler import RunEnded, RunRequest, Scheduler

log = logging.getLogger("covlens.lsp")

CONFIG_SECTION = "covlens"
CLOSE_TIMEOUT = 20.0  # seconds the server waits for a run to stop at shutdown before leaving anyway

# What a run covers (runStatus `scope`): every test; the tests a change affects; every test again after an
# affected run (in the background); tests the user asked for.
ALL, AFFECTED, FOLLOW_UP, SELECTION = "all", "affected", "follow-up", "selection"


@dataclass
class LiveRun:
    """The run in progress, as the editor sees it."""

    run_id: str
    progress: RunProgress
    scope: str = ALL
    total: int | None = None
    done: int = 0
    counts: Counter[str] = field(default_factory=Counter)
    measured_texts: dict[str, str | None] = field(default_factory=dict)  # open documents' text on disk at start
    settled: SettledFiles | None = None  # a run of every test: publishes each file as soon as its tests are done


class Coordinator:
    """Owns one workspace: turns LSP input into runs through the scheduler, and results into notifications."""

    def __init__(self, ls: LanguageServer) -> None:
        self.ls = ls
        self.root: str | None = None  # resolved project root (as the worker and the store see it)
        self.settings = Settings()
        self._init_options: Any = None
        self._client_settings: Any = None
        self.config: Config | None = None  # the last valid pyproject.toml configuration
        self.config_error: ConfigError | None = None
        self.store: Store | None = None
        self.project: ProjectCoverage | None = None
        self.outcomes: dict[str, TestOutcome] = {}  # each test's latest outcome, the current run's included
        self._outcomes_by_path: dict[str, dict[str, TestOutcome]] = {}  # by norm(path), for code lens
        self.docs = OpenDocuments()
        self.at = Locations(os.getcwd(), self.docs)  # paths <-> the client's URIs; rooted by `initialize`
        self.publisher = Publisher(ls, self.docs, self.at)
        self.scheduler: Scheduler[RunResult | None] | None = None
        self.rules: IgnoreRules | None = None
        self._observer: ProjectObserver | None = None
        self._session: Session | None = None
        self._run_task: asyncio.Task[Any] | None = None
        self.live: LiveRun | None = None
        self._started = 0  # number of the last run the scheduler started
        # Set once start() has finished (successfully or not): commands sent right after `initialized` wait on it.
        self.ready = asyncio.Event()
        self._stamp = time.strftime("%Y%m%d-%H%M%S")
        self._doc_uri = ""
        self._status = Throttle(self._send_status)
        self._tasks: set[asyncio.Task[Any]] = set()
        self._closed = False
        self._close_task: asyncio.Task[None] | None = None
        # Selected tests whose run has not completed yet: a later affected run takes them along.
        self._owed: set[str] = set()
        self._follow_up_next = False  # the next "run everything" is the follow-up of an affected run
        self._stats: dict[str, tuple[int, int] | None] = {}  # path -> (mtime_ns, size) when last scheduled
        self._kept: dict[str, select.Stamp] = {}  # path -> stamp of the text the store keeps for it
        self._warm: WarmWorker | None = None  # each run forks from it (POSIX), when the warmWorker setting is on

    # ------------------------------------------------------------------------------------------- start-up

    def initialize(self, params: types.InitializeParams) -> None:
        """Remember the root and the initializationOptions (nothing slow: the client waits for the answer)."""
        root_uri = None
        if params.workspace_folders:
            root_uri = params.workspace_folders[0].uri
        elif params.root_uri:
            root_uri = params.root_uri
        root = to_fs_path(root_uri) if root_uri else params.root_path
        if not root:
            root = os.getcwd()
            log.warning("the client gave no workspace folder; covlens serves %s", root)
        self.at.set_root(root)
        self.root = self.at.root
        self.rules = IgnoreRules(self.root)
        self._init_options = params.initialization_options
        self._apply_settings(announce=False)

    async def start(self) -> None:
        """After `initialized`: settings, config, stored results (stale), watching, then the first run."""
        try:
            await self._start()
        finally:
            self.ready.set()

    async def _start(self) -> None:
        assert self.root is not None
        await self._pull_settings()
        self._apply_settings()  # now with the user told of any value ignored, whichever layer it came from
        self._load_config()
        try:
            self.store = await asyncio.to_thread(Store, self.root)
        except StoreError as exc:
            self._show(types.MessageType.Error, f"covlens cannot keep results: {exc}")
        self._doc_uri = await asyncio.to_thread(diag.reasons_doc, self.root)
        if os.name == "posix":
            self._warm = WarmWorker(self.settings.python, self.root)
        if self.store is not None:
            for message in self.store.messages:
                self._show(types.MessageType.Warning, f"covlens: {message}")
            await self._refresh_project()
            if self._warm is not None and self.project is not None:
                # What the last session's runs imported from outside the project: the first run starts warm too.
                self._warm.set_preload(d.module for d in self.project.decisions if d.reason in PRELOAD_REASONS)
            self.publisher.stale = True  # whatever is stored predates this session
            last = self.project.last_run if self.project else None
            self.publisher.run_id = last.run_id if last else None
            self._publish_all()
        self._status.update(self._idle_status(), force=True)
        self.scheduler = Scheduler(self._execute, debounce=self.settings.debounce_ms / 1000, cancel=self._cancel_run,
                                   on_started=self._on_started, on_ended=self._on_ended)
        await self._watch()
        if self.settings.auto_run and not self._closed:
            self._keep(self.scheduler.run_now())

    async def _watch(self) -> None:
        assert self.root is not None
        try:
            self._observer = await watching.watch(self.ls, self.root, self._observed)
        except OSError as exc:
            self._show(types.MessageType.Warning, f"covlens cannot watch the project for changes ({exc}); "
                                                  "saving a file in the editor still re-runs the tests")

    # ------------------------------------------------------------------------------------------- settings

    async def _pull_settings(self) -> None:
        """Ask the client for its `covlens` configuration section, when it can answer."""
        caps = self.ls.client_capabilities.workspace
        if not (caps and caps.configuration):
            return
        try:
            values = await self.ls.workspace_configuration_async(types.ConfigurationParams(
                items=[types.ConfigurationItem(section=CONFIG_SECTION, scope_uri=self.at.root_uri)]))
        except Exception as exc:  # noqa: BLE001 - a client that cannot answer keeps the other layers
            log.warning("workspace/configuration failed: %s", exc)
            return
        self._client_settings = values[0] if values else None

    async def configuration_changed(self, params: types.DidChangeConfigurationParams) -> None:
        caps = self.ls.client_capabilities.workspace
        if caps and caps.configuration:
            await self._pull_settings()
        elif isinstance(params.settings, dict) and CONFIG_SECTION in params.settings:
            self._client_settings = params.settings[CONFIG_SECTION]
        self._apply_settings()
        self.publisher.explain(self.settings, self._doc_uri)
        self._publish_diagnostics(self.publisher.all_uris(self._failures(), self.config_error))

    def _apply_settings(self, announce: bool = True) -> None:
        settings, problems = Settings().merged(self._init_options)
        settings, more = settings.merged(self._client_settings)
        self.settings = settings
        if self.scheduler is not None:
            self.scheduler.debounce = settings.debounce_ms / 1000
        for problem in problems + more:
            log.warning("%s", problem)
            if announce:
                self._show(types.MessageType.Warning, problem)

    def _load_config(self) -> Config | None:
        """Read pyproject.toml (on the loop: it is small); see `_use_config`."""
        return self._use_config(*self._read_config())

    def _read_config(self) -> tuple[Config | None, ConfigError | None]:
        """pyproject.toml's configuration or its error; touches no state, so it can run in a thread."""
        assert self.root is not None
        try:
            return config_module.load(self.root), None
        except ConfigError as exc:
            return None, exc

    def _use_config(self, config: Config | None, error: ConfigError | None) -> Config | None:
        """An invalid configuration becomes a diagnostic at its line (and no run starts); settings go on top."""
        previous, self.config_error = self.config_error, error
        if config is not None:
            self.config = config
        if previous is not None or error is not None:
            self._publish_diagnostics({self.at.uri(e.path) for e in (previous, error) if e is not None})
        return None if config is None else self.settings.apply_to(config)

    # ------------------------------------------------------------------------------------------- changes in

    def _observed(self, paths: frozenset[str]) -> None:
        """From the watchdog observer (already on the loop)."""
        self.files_changed(paths)

    def files_changed(self, paths: Iterable[str], *, saved: bool = False) -> None:
        """Files changed on disk (a save, a watched-files event, the observer): schedule a run after the debounce.

        One save reaches us up to three times (didSave, the client's file watcher, our observer): a path whose
        size and mtime are what they were when it was last scheduled is the same change, and is ignored.
        """
        if self._closed or self.scheduler is None or self.rules is None:
            return
        watched = [p for p in paths if self.rules.relevant(p)]
        relevant = {p for p in watched if self._is_new_change(p)}
        if not relevant:
            if saved and watched and self.settings.auto_run:
                self.scheduler.hurry(self.settings.save_debounce_ms / 1000)  # the watcher saw it first
            return
        if any(os.path.basename(p) == "pyproject.toml" for p in relevant):
            self._load_config()  # the diagnostic changes at once, whether or not a run follows
        dependencies = [p for p in relevant if select.changes_everything(p) and os.path.basename(p) != "conftest.py"]
        if dependencies and self._warm is not None:
            self._warm.invalidate(f"{os.path.basename(dependencies[0])} changed")
        if self.settings.auto_run:
            delay = self.settings.save_debounce_ms / 1000 if saved else None
            self.scheduler.notify_changed(relevant, delay=delay)

    def _is_new_change(self, path: str) -> bool:
        stamp = select.stamp_of(path)
        if path in self._stats and self._stats[path] == stamp:
            return False
        self._stats[path] = stamp
        return True

    def watched_files_changed(self, params: types.DidChangeWatchedFilesParams) -> None:
        self.files_changed(p for p in (self.at.path(change.uri) for change in params.changes) if p)

    def saved(self, params: types.DidSaveTextDocumentParams) -> None:
        path = self.at.path(params.text_document.uri)
        if path:
            self.files_changed([path], saved=True)

    def opened(self, params: types.DidOpenTextDocumentParams) -> None:
        item = params.text_document
        path = self.at.path(item.uri)
        if not path:
            return
        # Stored results were measured on what is on disk now (the best guess we have).
        self.docs.open(item.uri, path, item.version, item.text, _read(path))
        self._publish_file(item.uri)

    def changed(self, params: types.DidChangeTextDocumentParams) -> None:
        uri = params.text_document.uri
        text = self.ls.workspace.get_text_document(uri).source
        doc = self.docs.change(uri, params.text_document.version, params.content_changes, text)
        if doc is not None and self.view_of(uri) is not None:
            self._publish_file(uri)

    def closed(self, params: types.DidCloseTextDocumentParams) -> None:
        uri = params.text_document.uri
        self.docs.close(uri)
        if self.view_of(uri) is not None:
            self._publish_file(uri)  # back to the lines on disk, version null

    # ------------------------------------------------------------------------------------------- runs

    def run_id_of(self, number: int) -> str:
        return f"r-{self._stamp}-{number:04d}"

    def next_run_id(self) -> str:
        """The id of the next run the scheduler starts (the one `run_now` asks for)."""
        return self.run_id_of(self._started + 1)

    def run_now(self, selection: Iterable[str] | None = None) -> str:
        """Start a run now (cancelling the one going); its run id."""
        if self.scheduler is None:
            raise RuntimeError("covlens is not started yet")
        run_id = self.next_run_id()
        self._keep(self.scheduler.run_now(None if selection is None else list(selection)))
        return run_id

    def cancel(self) -> bool:
        """Stop the run in progress (and forget pending changes); whether one was going."""
        if self.scheduler is None:
            return False
        going = self.scheduler.running is not None
        self.scheduler.cancel()
        return going

    def progress_cancelled(self, params: types.WorkDoneProgressCancelParams) -> None:
        if self.live is not None and params.token == self.live.progress.token:
            self.cancel()

    def _on_started(self, request: RunRequest) -> None:
        self._started = request.number

    def _on_ended(self, ended: RunEnded[RunResult | None]) -> None:
        if ended.error is not None and not isinstance(ended.error, asyncio.CancelledError):
            self._show(types.MessageType.Error, f"covlens: the run failed: {ended.error}")

    def _cancel_run(self) -> None:
        """The scheduler's cancel hook: ask the worker to stop (its results so far are kept)."""
        if self._session is not None:
            self._session.cancel()
        elif self._run_task is not None:
            self._run_task.cancel()  # still starting (progress, config): nothing to keep

    async def _execute(self, request: RunRequest) -> RunResult | None:
        """One run for the scheduler: progress and status, the session, the store, then publish everything."""
        self._run_task = asyncio.current_task()
        run_id = self.run_id_of(request.number)
        live = LiveRun(run_id, RunProgress(self.ls, run_id))
        self.live = live
        try:
            config = self._use_config(*await asyncio.to_thread(self._read_config))
            if config is None:
                error = self.config_error
                self._status.update(self._live_status(ERROR, f"invalid configuration: {error}"), force=True)
                return None
            clock = [time.perf_counter()]  # phase ends, for the log line that says where a run's time went
            selection, live.scope = await self._choose(request, config)
            clock.append(time.perf_counter())
            live.measured_texts = {doc.path: _read(doc.path) for doc in self.docs}
            live.settled = await self._settling(live.scope, config)
            started_ns = time.time_ns()
            self._status.update(self._live_status(RUNNING, "Starting the tests…"), force=True)
            await live.progress.begin("Starting the tests…")
            warm = self._warm if self.settings.warm_worker else None
            session = Session(config, python=self.settings.python, warm=warm)
            self._session = session
            try:
                clock.append(time.perf_counter())
                result = await session.run(selection, on_event=self._on_event)
                clock.append(time.perf_counter())
            finally:
                self._session = None
            early = await self._record(result, started_ns, live.scope, selection, first=request.changed)
            if early and not self._closed:
                self._publish_early(early, run_id, live.measured_texts)
            if self.store is not None:
                await self._refresh_project()
            clock.append(time.perf_counter())
            if not self._closed:
                self.publisher.stale = result.summary.state != COMPLETE
                self.publisher.run_id = run_id
                self._publish_all(measured_texts=live.measured_texts, first=request.changed)
                message = result.summary.message
                if result.summary.state not in (COMPLETE, CANCELLED) and result.output.strip():
                    log.warning("run %s ended %s; last output:\n%s", run_id, result.summary.state,
                                result.output[-4000:])
                self._finish(live, result.summary.state, message)
                clock.append(time.perf_counter())
                log.info("run %s (%s, %s): plan %.0f ms, start %.0f ms, tests %.0f ms, store %.0f ms, publish %.0f ms",
                         run_id, live.scope, result.summary.state,
                         *(1000 * (b - a) for a, b in zip(clock, clock[1:])))
                if live.scope == AFFECTED and result.summary.state == COMPLETE and self.settings.follow_up_full_run:
                    self._follow_up_next = True
                    self._keep(self.scheduler.run_now(None))  # type: ignore[union-attr]
            return result
        except asyncio.CancelledError:
            self._finish(live, CANCELLED, "cancelled")
            raise
        finally:
            self._run_task = None
            if self.live is live:
                self.live = None

    async def _choose(self, request: RunRequest, config: Config) -> tuple[select.Selection, str]:
        """The tests this run runs, and its scope: asked for, affected by the changes, or all."""
        if request.selection is not None:
            return select.Selection.coerce(request.selection), SELECTION
        if request.manual:
            scope = FOLLOW_UP if self._follow_up_next else ALL
            self._follow_up_next = False
            return select.Selection.all(), scope
        self._follow_up_next = False
        if (self.settings.test_selection != "affected" or self.store is None or not config.contexts
                or not request.changed):
            return select.Selection.all(), ALL
        try:
            plan = await asyncio.to_thread(self._plan, request.changed, config)
        except StoreError as exc:
            log.warning("test selection failed, running everything: %s", exc)
            return select.Selection.all(), ALL
        if plan.selection is None:
            log.info("running every test: %s", plan.reason)
            return select.Selection.all(), ALL
        log.info("running the tests the change affects: %s", plan.reason)
        self._owed |= set(plan.selection.only or ())
        return plan.selection, AFFECTED

    async def _settling(self, scope: str, config: Config) -> SettledFiles | None:
        """For a run of every test: what tells, as its tests finish, which files it has settled (see SettledFiles).

        It needs each test's lines in the store from an earlier run, and per-test contexts in this one. A run of
        some tests (affected, or asked for) adds to the stored lines of the others instead: it publishes at its end.
        """
        if scope not in (ALL, FOLLOW_UP) or not config.contexts or self.store is None:
            return None
        try:
            expected = await asyncio.to_thread(self.store.tests_by_file)
        except StoreError as exc:
            log.warning("files are published when the run ends: %s", exc)
            return None
        return SettledFiles(expected) if expected else None

    def _plan(self, changed: Iterable[str], config: Config) -> select.Plan:
        """(In a thread.) Plan the affected run and move the stored lines of the edited files with the edits."""
        assert self.store is not None
        plan = select.plan(self._store_paths(changed), self.store, root=config.root, test_patterns=config.test_patterns,
                           also=self._owed)
        for edit in plan.edits:
            self.store.apply_edit(edit.path, edit.text, edit.mapping)
            self._kept.pop(edit.path, None)  # stamped again when a run records it
        return plan

    def _finish(self, live: LiveRun, state: str, message: str) -> None:
        live.progress.end(message)
        if not self._closed:
            self._status.update(self._live_status(state, message, live), force=True)

    async def _record(self, result: RunResult, started_ns: int = 0, scope: str = ALL,
                      selection: select.Selection | None = None, first: Iterable[str] = ()) -> list[FileCoverage]:
        """Store the run (then refresh `project`); the fresh coverage of the `first` paths when the run was an
        affected one that completed, read on their own so that they can be published before everything else."""
        finished = {o.nodeid for o in result.outcomes}
        complete = result.summary.state == COMPLETE
        if complete and scope in (ALL, FOLLOW_UP):
            self._owed.clear()
        elif complete and selection is not None:
            self._owed -= set(selection.only or ())
        self._owed -= finished
        if self.store is None:
            return []
        early_paths = self._store_paths(first) if complete and scope == AFFECTED else []

        def record() -> list[FileCoverage]:
            assert self.store is not None
            measured = set(result.files) | {p for per_file in result.hits.values() for p in per_file}
            if complete and scope in (ALL, FOLLOW_UP):
                self._kept.clear()  # an authoritative run: keep every text again, whatever happened before
            texts, stamps = select.texts_as_of(measured, started_ns, self._kept)
            self.store.record(result, sources=texts)
            for path, text in texts.items():
                if text is None:
                    self._kept.pop(path, None)
            self._kept.update(stamps)
            if complete and scope == AFFECTED and selection is not None and selection.only is not None:
                # A test file run whole: its tests that did not run are gone (deleted or renamed).
                files = {e for e in selection.only if "::" not in e}
                gone = [n for n in self.store.test_ids() if n.split("::", 1)[0] in files and n not in finished]
                if gone:
                    self.store.forget_tests(gone)
            return [c for c in map(self.store.file_coverage, early_paths) if c is not None]
        try:
            return await asyncio.to_thread(record)
        except StoreError as exc:
            self._show(types.MessageType.Error, f"covlens could not store the results: {exc}")
            return []

    def _store_paths(self, paths: Iterable[str]) -> list[str]:
        """`paths` (as the editor or the watcher names them) as the store keys the files, where it knows them."""
        known = {os.path.realpath(p): p for p in (self.project.files if self.project else {})}
        return [known.get(os.path.realpath(p), p) for p in paths]

    def _publish_early(self, files: list[FileCoverage], run_id: str, measured_texts: dict[str, str | None]) -> None:
        """The edited files' fresh coverage, before the whole project is read and published (the user is looking
        at them)."""
        self.publisher.stale = False
        self.publisher.run_id = run_id
        for coverage in files:
            uri = self._take_fresh(coverage, measured_texts)
            if uri is not None:
                self.publisher.coverage(uri)

    def _publish_settled(self, coverage: FileCoverage, live: LiveRun) -> None:
        """A file the running run has settled: its fresh coverage now rather than when the run ends."""
        uri = self._take_fresh(coverage, live.measured_texts, settled_by=live.run_id)
        if uri is not None:
            self._publish_file(uri)
            if self.docs.get(uri) is not None:
                self.publisher.refresh_lenses()  # its percentage at the top is the run's word now, not at its end

    def _take_fresh(self, coverage: FileCoverage, measured_texts: dict[str, str | None],
                    settled_by: str | None = None) -> str | None:
        """Show one file's fresh coverage, mapped onto its open document from the text it was measured on; its uri."""
        uri = self.publisher.update(coverage, settled_by=settled_by)
        if uri is not None:
            doc = self.docs.get(uri)
            if doc is not None and doc.path in measured_texts:
                doc.measured_on(measured_texts[doc.path])
        return uri

    async def _refresh_project(self) -> None:
        assert self.store is not None
        try:
            self.project = await asyncio.to_thread(self.store.project)
        except StoreError as exc:
            self._show(types.MessageType.Error, f"covlens cannot read its results: {exc}")
            return
        self.outcomes = {}
        self._outcomes_by_path = {}
        for outcome in self.project.tests.values():
            self._set_outcome(outcome)

    def _on_event(self, event: ev.Event) -> None:
        """A worker event: counts for progress, and a failing test's diagnostics at once."""
        live = self.live
        if live is None or self._closed:
            return
        if live.settled is not None:
            for coverage in live.settled.add(event):
                self._publish_settled(coverage, live)
        if isinstance(event, ev.Collected):
            live.total = event.total
        elif isinstance(event, ev.TestFinished):
            outcome = event.outcome
            live.done += 1
            live.counts[outcome.outcome] += 1
            before = self.outcomes.get(outcome.nodeid)
            self._set_outcome(outcome)
            touched = _failure_uris(before, self.at.uri) | _failure_uris(outcome, self.at.uri)
            if touched:
                self._publish_diagnostics(touched)
        elif isinstance(event, (ev.Notice, ev.WorkerFailed)):
            self.ls.window_log_message(types.LogMessageParams(types.MessageType.Warning, f"covlens: {event.message}"))
        else:
            return
        self._status.update(self._live_status(RUNNING, _running_message(live)))

    # ------------------------------------------------------------------------------------------- status

    def _percent(self) -> float | None:
        if self.project is None or self.project.last_complete_run is None:
            return None
        return self.project.totals().percent

    def _idle_status(self) -> dict[str, Any]:
        last = self.project.last_run if self.project else None
        counts = dict(last.counts) if last else {}
        message = last.message if last else "no results yet"
        return run_status(last.run_id if last else None, IDLE, total=last.total if last else None,
                          done=sum(counts.values()), counts=counts, percent=self._percent(), message=message)

    def _live_status(self, state: str, message: str, live: LiveRun | None = None) -> dict[str, Any]:
        live = live or self.live
        assert live is not None
        return run_status(live.run_id, state, total=live.total, done=live.done, counts=live.counts,
                          percent=self._percent(), message=message, scope=live.scope)

    def _send_status(self, params: dict[str, Any]) -> None:
        self.ls.protocol.notify(RUN_STATUS, params)
        live = self.live
        if live is not None and params["state"] == RUNNING and params["runId"] == live.run_id:
            percentage = int(100 * live.done / live.total) if live.total else None
            live.progress.report(params["message"], percentage)

    # ------------------------------------------------------------------------------------------- publishing

    def _publish_all(self, measured_texts: dict[str, str | None] | None = None, first: Iterable[str] = ()) -> None:
        """Every workspace file's coverage and every diagnostic, from the current project; `first` paths first
        (the files just edited: the ones the user is looking at)."""
        self.publisher.load(self.project, self.settings, self._doc_uri)
        for doc in self.docs:
            if measured_texts is not None and doc.path in measured_texts:
                doc.measured_on(measured_texts[doc.path])
        early = list(dict.fromkeys(uri for uri in (self.at.uri(p) for p in first) if uri in self.publisher.files))
        for uri in [*early, *(u for u in self.publisher.files if u not in early)]:
            self.publisher.coverage(uri)
        self._publish_diagnostics(self.publisher.all_uris(self._failures(), self.config_error))
        self.publisher.refresh_lenses()

    def _publish_file(self, uri: str) -> None:
        self.publisher.coverage(uri)
        self._publish_diagnostics([uri])

    def _publish_diagnostics(self, uris: Iterable[str]) -> None:
        self.publisher.diagnostics(uris, failures=self._failures(), settings=self.settings,
                                   config_error=self.config_error)

    def _failures(self) -> list[TestOutcome]:
        return [o for o in self.outcomes.values() if o.outcome in diag.FAILING]

    # ------------------------------------------------------------------------------------------- for features

    def view_of(self, uri: str) -> FileView | None:
        """The published facts of the file at `uri`, if covlens has any."""
        return self.publisher.files.get(uri)

    def document(self, uri: str) -> Document | None:
        return self.docs.get(uri)

    def outcomes_in(self, path: str) -> list[TestOutcome]:
        """The latest outcomes of the tests defined in the file at `path`."""
        return list(self._outcomes_by_path.get(norm(path), {}).values())

    def _set_outcome(self, outcome: TestOutcome) -> None:
        before = self.outcomes.get(outcome.nodeid)
        if before is not None and before.path:
            self._outcomes_by_path.get(norm(before.path), {}).pop(outcome.nodeid, None)
        self.outcomes[outcome.nodeid] = outcome
        if outcome.path:
            self._outcomes_by_path.setdefault(norm(outcome.path), {})[outcome.nodeid] = outcome

    async def tests_for_line(self, path: str, line: int) -> list[str]:
        """Node ids of the tests that ran 1-based `line` of `path` (from the store)."""
        if self.store is None:
            return []
        return await asyncio.to_thread(self.store.tests_for_line, path, line)

    def is_stale(self, uri: str) -> bool:
        return self.publisher.is_stale(uri)

    def decision_of(self, path: str) -> Decision | None:
        return self.project.decision_for_path(path) if self.project else None

    def decision_of_module(self, module: str) -> Decision | None:
        return self.project.decision_for_module(module) if self.project else None

    def test_patterns(self) -> tuple[str, ...]:
        return self.config.test_patterns if self.config else config_module.DEFAULT_TEST_PATTERNS

    async def tests_that_ran(self, path: str) -> set[str]:
        """Node ids of the tests whose latest run executed any line of `path`."""
        if self.store is None:
            return set()
        contexts = await asyncio.to_thread(self.store.context_hits)
        key = norm(path)
        return {context for context, files in contexts.items() if any(norm(p) == key for p in files)}

    async def in_thread(self, function: Any, *args: Any) -> Any:
        return await asyncio.to_thread(function, *args)

    def path_of(self, uri: str) -> str | None:
        return self.at.path(uri)

    # ------------------------------------------------------------------------------------------- helpers

    def _show(self, kind: types.MessageType, message: str) -> None:
        log.warning("%s", message)
        if not self._closed:
            self.ls.window_show_message(types.ShowMessageParams(type=kind, message=message))

    def _keep(self, future: asyncio.Future[Any]) -> None:
        """Hold a reference to a background future and log what it raised (nobody else awaits it)."""
        self._tasks.add(future)  # type: ignore[arg-type]

        def done(f: asyncio.Future[Any]) -> None:
            self._tasks.discard(f)  # type: ignore[arg-type]
            if not f.cancelled() and f.exception() is not None:
                log.error("covlens background task failed", exc_info=f.exception())

        future.add_done_callback(done)

    # ------------------------------------------------------------------------------------------- shutdown

    async def close(self) -> None:
        """Stop the run (its worker is killed), the watcher and the store; idempotent, safe from any handler."""
        if self._close_task is None:
            self._close_task = asyncio.ensure_future(self._close())
        await asyncio.shield(self._close_task)

    async def _close(self) -> None:
        self._closed = True
        self.publisher.closed = True
        self._status.close()
        try:
            if self.scheduler is not None:
                await asyncio.wait_for(self.scheduler.close(), CLOSE_TIMEOUT)
        except (asyncio.TimeoutError, Exception) as exc:  # noqa: BLE001 - leave anyway, but kill the worker
            log.error("the run did not stop in time at shutdown: %s", exc)
            if self._session is not None:
                self._session.cancel()
        if self._observer is not None:
            with contextlib.suppress(Exception):
                await asyncio.to_thread(self._observer.stop)
            self._observer = None
        for task in list(self._tasks):
            task.cancel()
        if self._warm is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._warm.close(), CLOSE_TIMEOUT)
        if self.store is not None:
            with contextlib.suppress(Exception):
                self.store.close()


def _running_message(live: LiveRun) -> str:
    if live.total is None:
        return f"Running tests… {live.done} done"
    return f"Running {live.total} tests… {live.done} done"


def _failure_uris(outcome: TestOutcome | None, to_uri: Any) -> set[str]:
    if outcome is None or outcome.outcome not in diag.FAILING:
        return set()
    return set(diag.failure_diagnostics([outcome], to_uri))


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8", newline="") as f:
            return f.read()
    except (OSError, UnicodeDecodeError):
        return None
