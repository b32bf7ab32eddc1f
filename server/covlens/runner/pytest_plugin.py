"""The pytest plugin inside the worker: per-test coverage contexts, outcomes, failure locations, xdist wiring."""

from __future__ import annotations

import os
import re
import sysconfig
import traceback
from collections.abc import Iterable, Iterator
from fnmatch import fnmatch
from types import TracebackType
from typing import Any

import pytest

from covlens.model import COLLECTION_CONTEXT, Location, TestOutcome
from covlens.runner import events as ev
from covlens.runner import worker as worker_mod

MAX_MESSAGE = 4000

_COVLENS_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_STDLIB_DIRS = tuple(
    os.path.realpath(p) for p in {sysconfig.get_paths().get("stdlib"), sysconfig.get_paths().get("platstdlib")} if p
)
# "path/to/file.py:12: in func" (pytest's short and long tracebacks) and 'File "path", line 12' (native, SyntaxError).
_SHORT_LOC = re.compile(r"^(?P<path>[^\s:][^:\n]*?\.py):(?P<line>\d+):", re.MULTILINE)
_NATIVE_LOC = re.compile(r'File "(?P<path>[^"\n]+\.py)", line (?P<line>\d+)')


def _shorten(text: str) -> str:
    text = text.strip()
    return text if len(text) <= MAX_MESSAGE else text[: MAX_MESSAGE - 1] + "…"


class Locator:
    """Which frames are the test's, which are the project's own code (not tests, libraries, stdlib or covlens)."""

    def __init__(self, root: str, test_patterns: Iterable[str]) -> None:
        self.root = os.path.realpath(root)
        self.test_patterns = tuple(test_patterns)

    def absolute(self, path: str) -> str:
        return os.path.realpath(path if os.path.isabs(path) else os.path.join(self.root, path))

    def is_test_file(self, path: str) -> bool:
        name = os.path.basename(path)
        return any(fnmatch(name, p) for p in self.test_patterns)

    def is_project_code(self, path: str) -> bool:
        real = self.absolute(path)
        if not real.endswith(".py") or not (real == self.root or real.startswith(self.root + os.sep)):
            return False
        if real.startswith(_COVLENS_DIR + os.sep) or any(real.startswith(d + os.sep) for d in _STDLIB_DIRS):
            return False
        parts = real[len(self.root):].split(os.sep)
        return not any(p in ("site-packages", "dist-packages") for p in parts)

    def locate(self, frames: list[tuple[str, int]], test_path: str | None) -> tuple[Location | None, Location | None]:
        """(failing line in the test, deepest frame in project code) from innermost-last (path, line) pairs."""
        test_real = self.absolute(test_path) if test_path else None
        failure = deepest = fallback = None
        for path, line in frames:
            if not self.is_project_code(path):
                continue
            real = self.absolute(path)
            if test_real is not None and real == test_real:
                failure = Location(real, line)
            elif self.is_test_file(real):
                fallback = Location(real, line)
            else:
                deepest = Location(real, line)
        return failure or fallback, deepest

    def locate_in_text(self, text: str, test_path: str | None) -> tuple[Location | None, Location | None]:
        """The same, from a formatted report (xdist controller, collection errors): every `path:line` it names."""
        found: list[tuple[int, str, int]] = []
        for pattern in (_SHORT_LOC, _NATIVE_LOC):
            for m in pattern.finditer(text):
                path = m.group("path").strip()
                if os.path.exists(self.absolute(path)):
                    found.append((m.start(), path, int(m.group("line"))))
        return self.locate([(p, n) for _, p, n in sorted(found)], test_path)


def _tb_frames(tb: TracebackType | None) -> list[tuple[str, int]]:
    return [(frame.f_code.co_filename, lineno) for frame, lineno in traceback.walk_tb(tb)]


def _longrepr_text(report: Any) -> str:
    try:
        return str(report.longreprtext or "")
    except Exception:  # noqa: BLE001
        return str(getattr(report, "longrepr", "") or "")


def _skip_reason(report: Any) -> str:
    longrepr = getattr(report, "longrepr", None)
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2])
    return _longrepr_text(report)


class _TestRecord:
    """What the phases of one test reported."""

    def __init__(self) -> None:
        self.reports: dict[str, Any] = {}
        self.excinfo: dict[str, Any] = {}
        self.duration = 0.0


class CovlensPlugin:
    """Registered in every process that runs or dispatches tests; `role` says which part it plays."""

    def __init__(self, config: pytest.Config, state: worker_mod.WorkerState) -> None:
        self.config = config
        self.state = state
        self.locator = Locator(state.config.root, state.config.test_patterns)
        if hasattr(config, "workerinput"):
            self.role = "xdist-worker"
        elif _xdist_active(config):
            self.role = "xdist-controller"
        else:
            self.role = "main"
        self._records: dict[str, _TestRecord] = {}
        self._collected_sent = False
        self._xdist_channels: list[Any] = []
        self._crashed_reported: set[str] = set()

    # -- set-up ----------------------------------------------------------------------------------------------

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_newgateway(self, gateway: Any) -> None:
        """A new xdist worker process exists but xdist has not started pytest in it: install the hook there first."""
        channel = gateway.remote_exec(worker_mod.XDIST_BOOT)
        only = getattr(self.state, "only", None)
        channel.send((self.state.config.to_json(), str(gateway.id), None if only is None else sorted(only)))
        try:
            events = channel.receive(timeout=120)
            # The worker's events arrive in execnet's receiver thread; pass them on, in order, as they come.
            events.setcallback(self.state.writer.emit_line)
            self._xdist_channels.append(events)
            status = channel.receive(timeout=120)
            channel.waitclose(timeout=120)
        except Exception as exc:  # noqa: BLE001
            self.state.notice(f"covlens could not set up xdist worker {gateway.id}: {type(exc).__name__}: {exc}; "
                              "its tests run unmeasured")
            return
        if status != "ok":
            self.state.notice(f"{status}; its tests run unmeasured")

    # -- collection ------------------------------------------------------------------------------------------

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(self, config: pytest.Config, items: list[pytest.Item]) -> None:
        """Keep only the tests a selection names (node ids, or whole files), when it names some."""
        only = getattr(self.state, "only", None)
        if only is None or self.role == "xdist-controller":
            return
        # Here, not at the top: selection brings block analysis (~3 ms of imports) that only a selected run needs.
        from covlens.runner.selection import keeps

        kept: list[pytest.Item] = []
        dropped: list[pytest.Item] = []
        for item in items:
            (kept if keeps(only, item.nodeid) else dropped).append(item)
        if dropped:
            config.hook.pytest_deselected(items=dropped)
            items[:] = kept

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        if self.role == "main":
            self.state.writer.emit(ev.Collected(len(session.items)))
        self.state.report_files()

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_node_collection_finished(self, node: Any, ids: list[str]) -> None:
        if not self._collected_sent:
            self._collected_sent = True
            self.state.writer.emit(ev.Collected(len(ids)))

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        # Under xdist the controller reports collection errors once (xdist forwards them, deduplicated).
        if not report.failed or self.role == "xdist-worker":
            return
        text = _longrepr_text(report)
        file_part = report.nodeid.split("::")[0] if report.nodeid else ""
        test_path = self.locator.absolute(file_part) if file_part else None
        failure, deepest = self.locator.locate_in_text(text, test_path)
        if failure is None and test_path and os.path.isfile(test_path):
            failure = Location(test_path, 1)
        message = _collection_message(text)
        outcome = TestOutcome(nodeid=report.nodeid or "<collection>", outcome="error", path=test_path,
                              line=1 if test_path else None, message=message, failure=failure, deepest=deepest)
        self.state.writer.emit(ev.TestFinished(outcome, {}, self.state.worker))

    # -- tests -----------------------------------------------------------------------------------------------

    @pytest.hookimpl(hookwrapper=True, tryfirst=True)
    def pytest_runtest_protocol(self, item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
        state = self.state
        nodeid = item.nodeid
        path, line = _item_place(item)
        # What is sent between two tests is held, and leaves in one write with the next TestStarted (or at the end
        # of the session): only pytest's own loop runs in between.
        previous, hits = state.switch_context(nodeid)
        state.report_context(previous, hits, hold=True)
        state.report_files(hold=True)
        record = self._records[nodeid] = _TestRecord()
        state.writer.emit_line(ev.test_started_line(nodeid, path, line, state.worker))
        outcome = yield
        _, hits = state.switch_context(COLLECTION_CONTEXT)
        state.ensure_first()
        state.report_files(hold=True)
        self._records.pop(nodeid, None)
        stopped = outcome.excinfo[1] if outcome.excinfo else None
        kind, message, failure, deepest = self._outcome(record, path, line, stopped)
        state.writer.emit_line(ev.finished_line(nodeid, kind, record.duration, path, line, message, failure, deepest,
                                                hits, state.worker), hold=True)
        if stopped is not None:
            state.interrupted = (f"{type(stopped).__name__} raised in {nodeid} stopped pytest; "
                                 "the tests after it did not run")

    # Plain hooks, not a makereport wrapper: pytest calls them with the very report of each phase, and the
    # exception of each phase that failed, and a wrapper costs ~1.5 us more per phase (three per test).
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        record = self._records.get(report.nodeid)
        if record is None:
            return  # not a test this process runs (an xdist controller hears its workers' reports)
        record.reports[report.when] = report
        record.duration += float(getattr(report, "duration", 0.0) or 0.0)

    def pytest_exception_interact(self, node: Any, call: pytest.CallInfo[Any], report: Any) -> None:
        # Called for the phases that failed or errored (not for skips and xfails, whose messages come from the report).
        record = self._records.get(getattr(node, "nodeid", None))
        when = getattr(report, "when", None)
        if record is not None and when is not None and call.excinfo is not None:
            record.excinfo[when] = call.excinfo

    def _outcome(self, record: _TestRecord, path: str | None, line: int | None, stopped: BaseException | None
                 ) -> tuple[str, str | None, Location | None, Location | None]:
        """The test's outcome, message, failing line in the test and deepest line in project code."""
        reports = record.reports
        setup, call, teardown = reports.get("setup"), reports.get("call"), reports.get("teardown")
        kind, phase = "passed", None
        if stopped is not None:
            kind, phase = "failed", None
        elif setup is not None and setup.failed:
            kind, phase = "error", "setup"
        elif setup is not None and setup.skipped:
            kind, phase = ("xfailed" if hasattr(setup, "wasxfail") else "skipped"), "setup"
        elif call is not None and call.failed:
            kind, phase = "failed", "call"
        elif call is not None and call.skipped:
            kind, phase = ("xfailed" if hasattr(call, "wasxfail") else "skipped"), "call"
        elif call is not None and call.passed and hasattr(call, "wasxfail"):
            kind, phase = "xpassed", "call"
        elif teardown is not None and teardown.failed:
            kind, phase = "error", "teardown"
        elif not reports:
            kind = "skipped"  # deselected inside the protocol by some plugin; nothing ran
        message = failure = deepest = None
        if stopped is not None:
            message = _shorten(f"{type(stopped).__name__}: {stopped}".rstrip(": ") +
                               " (pytest stopped the run here)")
            failure, deepest = self.locator.locate(_tb_frames(stopped.__traceback__), path)
        elif phase is not None:
            report = reports[phase]
            excinfo = record.excinfo.get(phase)
            if kind in ("skipped",):
                message = _shorten(_skip_reason(report).removeprefix("Skipped: "))
            elif kind in ("xfailed", "xpassed"):
                reason = str(getattr(report, "wasxfail", "") or "")
                message = _shorten(f"{kind}: {reason}" if reason else kind)
            else:
                if excinfo is not None:
                    message = _shorten(excinfo.exconly(tryshort=True))
                    failure, deepest = self.locator.locate(_tb_frames(excinfo.tb), path)
                else:
                    text = _longrepr_text(report)
                    message = _shorten(text.splitlines()[-1] if text else kind)
                    failure, deepest = self.locator.locate_in_text(text, path)
                if phase != "call":
                    message = f"error in {phase}: {message}"
                if failure is None and path is not None and line is not None:
                    failure = Location(self.locator.absolute(path), line)
        return kind, message, failure, deepest

    # -- xdist: a worker process died ------------------------------------------------------------------------

    @pytest.hookimpl(optionalhook=True)
    def pytest_handlecrashitem(self, crashitem: str, report: Any, sched: Any) -> None:
        if crashitem in self._crashed_reported:
            return
        self._crashed_reported.add(crashitem)
        location = getattr(report, "location", None) or (None, None, None)
        path = self.locator.absolute(location[0]) if location[0] else None
        line = location[1] + 1 if isinstance(location[1], int) else None
        gateway = getattr(getattr(report, "node", None), "gateway", None)
        worker = str(getattr(gateway, "id", "?"))
        outcome = TestOutcome(nodeid=crashitem, outcome="failed", path=path, line=line,
                              message=f"the xdist worker {worker} crashed while running this test "
                                      "(os._exit, a signal...); its hits are lost, see the output",
                              failure=Location(path, line) if path and line else None)
        self.state.writer.emit(ev.TestFinished(outcome, {}, worker))

    # -- end -------------------------------------------------------------------------------------------------

    @pytest.hookimpl(hookwrapper=True, trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> Iterator[None]:
        # After the plain implementations (session-scoped fixtures are torn down there, and their lines count), and,
        # as the innermost wrapper, before xdist's own wrapper tells the controller that this worker is done.
        self.state.writer.flush()  # the last test's outcome, before any other plugin's end-of-session work
        yield
        self.state.finalize()


def _xdist_active(config: pytest.Config) -> bool:
    try:
        numprocesses = config.getoption("numprocesses", None)
        dist = config.getoption("dist", "no")
        tx = config.getoption("tx", None)
    except ValueError:
        return False
    return bool(numprocesses) or (dist not in (None, "no")) or bool(tx)


def _item_place(item: pytest.Item) -> tuple[str | None, int | None]:
    path: str | None
    try:
        path = str(item.path)
    except Exception:  # noqa: BLE001
        path = None
    line = None
    try:
        loc = item.location
        if isinstance(loc[1], int):
            line = loc[1] + 1
    except Exception:  # noqa: BLE001
        pass
    return path, line


def _collection_message(text: str) -> str:
    """The `E   ...` lines of a collection error, else its last line."""
    errors = [ln[1:].strip() for ln in text.splitlines() if ln.startswith("E ")]
    if errors:
        return _shorten("\n".join(errors))
    lines = [ln for ln in text.strip().splitlines() if ln.strip()]
    return _shorten(lines[-1] if lines else "collection error")


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests() -> None:
    # pytest put its assertion rewriter first by now; conftests load next: be first again.
    state = worker_mod.current()
    if state is not None:
        state.ensure_first()


def pytest_configure(config: pytest.Config) -> None:
    state = worker_mod.current()
    if state is None:
        # pytest was started without covlens's worker (e.g. a test runs pytest with `-p covlens...`): stay out.
        return
    config.pluginmanager.register(CovlensPlugin(config, state), "covlens-runner")
