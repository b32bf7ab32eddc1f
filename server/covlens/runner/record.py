"""What one run's events and its worker's end add up to: results so far, the output's tail, the RunResult."""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Iterator

from covlens.config import Config
from covlens.instrument.decision import FAILED, INSTRUMENTED, NOT_IMPORTED, Decision
from covlens.lazylog import LazyLogger
from covlens.model import (CANCELLED, COMPLETE, CRASHED, ERROR, OUTCOMES, TIMEOUT, FileLines, Location, RunResult,
                           RunSummary, TestOutcome)
from covlens.runner import events as ev
from covlens.runner.launch import describe_exit

log = LazyLogger("covlens.runner.session")

DEFAULT_OUTPUT_LIMIT = 256 * 1024  # bytes of the worker's stdout+stderr kept (its tail)

_ACTION_RANK = {INSTRUMENTED: 0, FAILED: 1, NOT_IMPORTED: 3}


class Results:
    """What the events said so far; merged across the main worker and any xdist workers."""

    def __init__(self) -> None:
        self.decisions: dict[tuple[str, str | None], Decision] = {}
        self.outcomes: dict[str, TestOutcome] = {}
        self.hits: dict[str, dict[str, frozenset[int]]] = {}
        self.files: dict[str, FileLines] = {}
        self.running: dict[str, ev.TestStarted] = {}
        self.notices: list[str] = []
        self.total: int | None = None
        self.engine: str | None = None
        self.finished: ev.RunFinished | None = None
        self.failed: ev.WorkerFailed | None = None
        self.bad_lines = 0

    def add(self, event: ev.Event) -> None:
        if isinstance(event, ev.DecisionMade):
            d = event.decision
            key = (d.module, d.path)
            old = self.decisions.get(key)
            # The same module in several processes (xdist): measured anywhere beats skipped beats never imported.
            if old is None or _ACTION_RANK.get(d.action, 2) < _ACTION_RANK.get(old.action, 2):
                self.decisions[key] = d
        elif isinstance(event, ev.TestStarted):
            self.running[event.nodeid] = event
        elif isinstance(event, ev.TestFinished):
            self.running.pop(event.outcome.nodeid, None)
            self.outcomes[event.outcome.nodeid] = event.outcome
            self._add_hits(event.outcome.nodeid, event.hits)
        elif isinstance(event, ev.ContextHits):
            self._add_hits(event.context, event.hits)
        elif isinstance(event, ev.FilesMeasured):
            for fl in event.files:
                self.files[fl.path] = fl
        elif isinstance(event, ev.Collected):
            self.total = event.total
        elif isinstance(event, ev.WorkerStarted):
            if event.worker == "main" or self.engine is None:
                self.engine = event.engine
        elif isinstance(event, ev.Notice):
            if event.message not in self.notices:
                self.notices.append(event.message)
        elif isinstance(event, ev.RunFinished):
            self.finished = event
        elif isinstance(event, ev.WorkerFailed):
            self.failed = event

    def _add_hits(self, context: str, hits: ev.Hits) -> None:
        if not hits:
            return
        per_path = self.hits.setdefault(context, {})
        for path, lines in hits.items():
            # Kept as they came (a context's lines usually come once); a second batch makes a new union.
            old = per_path.get(path)
            per_path[path] = frozenset(lines) if old is None else old | lines

    def final_decisions(self) -> tuple[Decision, ...]:
        # A path measured in one process is not "not imported" because another process never imported it.
        measured = {d.path for d in self.decisions.values() if d.path and d.action != NOT_IMPORTED}
        return tuple(d for d in self.decisions.values() if not (d.action == NOT_IMPORTED and d.path in measured))



class RunRecord:
    """The bookkeeping of one run, whichever driver watches its worker (the event loop's, or the CLI's blocking one).

    `feed` turns the event pipe's bytes into events and results; `keep_output` keeps the tail of what the worker
    printed; once the worker is gone and its flags are set, `conclude` says how the run ended.
    """

    def __init__(self, config: Config, targets: tuple[str, ...] | None, output_limit: int) -> None:
        self.config = config
        self.targets = targets
        self.output_limit = output_limit
        self.run_id = time.strftime("%Y%m%dT%H%M%S") + "-" + os.urandom(4).hex()
        self.started = time.time()
        self.results = Results()
        self.returncode: int | None = None
        self.lost: str | None = None  # why the worker's exit status is unknown (its warm parent died)
        self.cancelled = False
        self.timed_out = False
        self._tail = bytearray()
        self._dropped = 0
        self._partial = bytearray()  # the start of a line whose end has not arrived yet
        self._last_data = time.monotonic()

    def feed(self, chunk: bytes) -> Iterator[ev.Event]:
        """The events of the complete lines `chunk` ends (an empty chunk: the pipe's end), each added to the results
        before it is yielded."""
        self._last_data = time.monotonic()
        if not chunk:
            rest, self._partial = bytes(self._partial), bytearray()
            if rest.strip():
                event = self._parse(rest)  # a last line cut short by a crash is most likely garbage
                if event is not None:
                    yield event
            return
        buffer = self._partial
        buffer += chunk
        start = 0
        while True:
            end = buffer.find(b"\n", start)
            if end < 0:
                break
            event = self._parse(bytes(buffer[start:end]))
            start = end + 1
            if event is not None:
                yield event
        del buffer[:start]

    def _parse(self, line: bytes) -> ev.Event | None:
        if not line.strip():
            return None
        try:
            event = ev.from_line(line)
        except ev.WireError as exc:
            self.results.bad_lines += 1
            if self.results.bad_lines <= 3:
                log.warning("ignoring a malformed event from the test worker: %s", exc)
            return None
        self.results.add(event)
        return event

    def keep_output(self, data: bytes) -> None:
        """Keep only the tail of the worker's output: a test printing 100 MB must cost no memory."""
        self._last_data = time.monotonic()
        limit = self.output_limit
        if len(data) >= limit:
            self._dropped += len(self._tail) + len(data) - limit
            self._tail[:] = data[-limit:] if limit else b""
            return
        self._tail += data
        excess = len(self._tail) - limit
        if excess > 0:
            del self._tail[:excess]
            self._dropped += excess

    # -- the report ------------------------------------------------------------------------------------------

    def _output(self) -> str:
        text = self._tail.decode("utf-8", errors="replace")
        if self._dropped:
            text = f"[... {self._dropped} earlier bytes of output not kept ...]\n" + text
        return text

    def _worker_ended(self) -> str:
        """'the test worker exited with code 3', or why its end is unknown."""
        if self.lost is not None:
            return f"the test worker ended without a known exit status ({self.lost})"
        return f"the test worker {describe_exit(self.returncode)}"

    def conclude(self) -> RunResult:
        """The RunResult of a run whose worker is gone, from what it reported and how it ended."""
        res = self.results
        returncode = self.returncode
        running = list(res.running.values())
        where = (" while running " + ", ".join(t.nodeid for t in running)) if running else ""
        kept = len(res.outcomes)
        if res.finished is not None:
            message = res.finished.message
            return self.result(COMPLETE, message, exit_code=res.finished.exit_code)
        if self.cancelled:
            return self.result(CANCELLED, f"cancelled{where}; {kept} test results reported before it were kept")
        if self.timed_out:
            text = (f"the run timed out after {self.config.timeout:g} s{where} (raise `timeout` in [tool.covlens] "
                    f"if the tests need longer); {kept} test results reported before it were kept")
            self._blame(running, f"still running when the run timed out after {self.config.timeout:g} s")
            return self.result(TIMEOUT, text, exit_code=returncode)
        if res.failed is not None:
            return self.result(ERROR, res.failed.message, exit_code=returncode)
        if not res.outcomes and not res.decisions and returncode not in (None, 0) and res.engine is None \
                and not running:
            return self.result(ERROR, f"{self._worker_ended()} before it could start; see the output",
                                exit_code=returncode)
        text = (f"{self._worker_ended()}{where} before the run finished; "
                f"{kept} test results reported before it were kept")
        self._blame(running, f"{self._worker_ended()} while this test ran")
        return self.result(CRASHED, text, exit_code=returncode)

    def _blame(self, running: list[ev.TestStarted], message: str) -> None:
        for started in running:
            failure = Location(started.path, started.line) if started.path and started.line else None
            self.results.outcomes[started.nodeid] = TestOutcome(
                nodeid=started.nodeid, outcome="failed", path=started.path, line=started.line, message=message,
                failure=failure)

    def result(self, state: str, message: str, exit_code: int | None = None) -> RunResult:
        res = self.results
        counts = Counter(o.outcome for o in res.outcomes.values())
        summary_counts = {k: counts[k] for k in OUTCOMES if counts.get(k)}
        if state == COMPLETE:
            tally = ", ".join(f"{n} {k}" for k, n in summary_counts.items()) or "no tests ran"
            message = f"{tally}; {message}" if message else tally
        if res.notices:
            message = message + " | " + " | ".join(res.notices)
        summary = RunSummary(
            run_id=self.run_id, state=state, started=self.started, finished=time.time(), counts=summary_counts,
            total=res.total, exit_code=exit_code, message=message, engine=res.engine,
            selection=self.targets)
        return RunResult(
            summary=summary,
            decisions=res.final_decisions(),
            outcomes=tuple(res.outcomes.values()),
            hits={ctx: dict(paths) for ctx, paths in res.hits.items()},
            files=dict(res.files),
            output=self._output(),
        )
