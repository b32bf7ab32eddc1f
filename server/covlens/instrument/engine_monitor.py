"""The sys.monitoring engine (3.12+): LINE events, off after a first hit; statement probes in module bodies."""

from __future__ import annotations

import builtins
import dis
import sys
import threading
from collections.abc import Callable
from types import CodeType
from typing import Any

from covlens.instrument.engine import code_objects
from covlens.instrument.lines import SourceLines, compile_tree, parse
from covlens.instrument.probes import ModuleBodyProbes, through_table
from covlens.instrument.recorder import FileHits

# Tool ids 0-2 and 5 are claimed by convention (debugger, coverage.py's sysmon core, profiler, optimizer);
# 3 and 4 are unassigned. Never take COVERAGE_ID: users may run coverage.py next to covlens.
CANDIDATE_TOOL_IDS = (3, 4)
TOOL_NAME = "covlens"
# The dictionary in `builtins` that the probes of module bodies call through: path -> the file's `hits.add`. One
# name, added to `builtins` once per process: adding names there later would void every function's cached lookups of
# builtins (CPython keys them on the dictionary's layout), and the module's own namespace stays as its author wrote it.
ONCE_NAME = "__covlens_once__"
# What build() makes: the module's code, and the event lines of each of its `_evented` code objects, in that order.
Built = tuple[CodeType, tuple[frozenset[int], ...]]


def _line_callback(table: dict[int, set[int]], fired: dict[int, CodeType], unseen: dict[int, set[int]],
                   lines_of: dict[int, frozenset[int]], off: set[int], lock: Any,
                   tool: int) -> Callable[[CodeType, int], Any]:
    """The LINE callback: the hot path, so every name it touches is a fast local bound here.

    It allocates no object the garbage collector tracks, except once per code object ever (its set of unseen lines,
    refilled in place by new_context): an allocation can start a collection, and one started by covlens at the
    wrong moment (right after a test's `gc.enable()`, with a million young objects) cost boltons' suite a 7 ms
    collection that plain pytest never runs.
    """
    disable = sys.monitoring.DISABLE
    set_local_events = sys.monitoring.set_local_events

    def on_line(code: CodeType, line: int, _table: dict[int, set[int]] = table, _fired: dict[int, CodeType] = fired,
                _unseen: dict[int, set[int]] = unseen, _id: Any = id, _disable: Any = disable) -> Any:
        # Keyed by id(code), not by the code object: code objects compare by content (two identical
        # functions in different files are equal, and hashing one walks its constants every time).
        # The engine keeps every registered code object alive, so an id is never reused while it is a key.
        try:
            key = _id(code)
            _table[key].add(line)
            _fired[key] = code  # its events need re-arming at the next context
            left = _unseen.get(key)
            if left is None:
                lines = lines_of.get(key)  # worked out by build() and cached with the code, for every code object
                if lines is None:  # code bound without them (not made by build)
                    lines = lines_of[key] = _event_lines(code)
                left = _unseen[key] = set(lines)
            left.discard(line)
            # Positional: a keyword argument would allocate a dict for it. Never wait: this may run inside
            # new_context().
            if not left and lock.acquire(False):
                try:
                    if not left:  # not refilled by new_context meanwhile
                        # Every line of it has run in this context: its events go off altogether. DISABLE only
                        # removes the probe an event came from; a loop that jumps back within one line (a
                        # comprehension, `for x in y: f(x)`) keeps its probe, which CPython checks on every
                        # iteration without calling us: 12% of a sudoku solver's time.
                        set_local_events(tool, code, 0)
                        off.add(key)
                        return None  # nothing left for DISABLE to remove
                finally:
                    lock.release()
        except Exception:
            # An exception raised here would surface in the user's test at this line; a lost hit is the lesser harm.
            pass
        return _disable

    return on_line


_RESUME = dis.opmap["RESUME"]


def _event_lines(code: CodeType) -> frozenset[int]:
    """Every line a LINE event of `code` can report (a superset: lines of code that never runs too), without its
    prologue up to the first RESUME, which CPython never probes (a function's `def` line)."""
    raw = code.co_code
    after_resume = 0
    for offset in range(0, len(raw), 2):
        if raw[offset] == _RESUME:
            after_resume = offset + 2
            break
    return frozenset(line for start, _end, line in code.co_lines() if line is not None and start >= after_resume)


def _evented(code: CodeType) -> list[CodeType]:
    """The code objects of a module that record through LINE events: those without probes."""
    return [each for each in code_objects(code) if ONCE_NAME not in each.co_names]


def _once_table() -> dict[str, Callable[[int], Any]]:
    """The dictionary behind ONCE_NAME, made on first use and shared by every engine of the process."""
    table = getattr(builtins, ONCE_NAME, None)
    if not isinstance(table, dict):
        table = {}
        setattr(builtins, ONCE_NAME, table)
    return table


def _claim_tool_id() -> int:
    monitoring = sys.monitoring
    for tool in CANDIDATE_TOOL_IDS:
        try:
            monitoring.use_tool_id(tool, TOOL_NAME)
        except ValueError:
            continue  # held by another tool (or another live MonitorEngine)
        return tool
    holders = ", ".join(f"{tool}={monitoring.get_tool(tool)!r}" for tool in CANDIDATE_TOOL_IDS)
    raise RuntimeError(
        f"covlens cannot use sys.monitoring: tool ids {CANDIDATE_TOOL_IDS} are all in use ({holders}); "
        'close the other MonitorEngine or tool holding them, or set engine = "ast" in [tool.covlens]'
    )


class MonitorEngine:
    """Records executed lines with sys.monitoring LINE events set locally on each instrumented code object, and with
    statement probes in the module's own body, which runs once per import (see `build`).

    Each engine claims its own tool id (3, else 4) and frees it in close(), so engines can be created one after
    another in a process. Two can live at once: each sees only the code objects it compiled and re-arms only its
    own in new_context(). A third live engine raises RuntimeError. Other tools (coverage.py's sysmon core running
    alongside) keep what they disabled.

    Code objects are never released before close(): a module reloaded N times keeps N generations alive (and each
    keeps recording into the same FileHits set), the price of an id-keyed table that can never be fooled by a reused id.
    """

    name = "monitor"

    def __init__(self) -> None:
        monitoring = sys.monitoring
        self._events = monitoring.events.LINE
        self._lock = threading.Lock()
        # id(code) -> the hit set of its file. Written only under the lock, and always before the code object's
        # events are switched on, so the callback never sees an armed code object that is not in the table.
        self._table: dict[int, set[int]] = {}
        # id(code) -> code, for every code object that disabled a line event since the last new_context().
        self._fired: dict[int, CodeType] = {}
        # id(code) -> its lines not yet seen in this context (from its first event on): empty, its events go off.
        # new_context refills the set in place: the callback never makes a new one for a code object seen before.
        self._unseen: dict[int, set[int]] = {}
        self._lines_of: dict[int, frozenset[int]] = {}  # id(code) -> _event_lines(code), from build or a first event
        self._off: set[int] = set()  # ids of the code objects switched off in this context: re-armed by one call
        # Strong references keep every registered id valid (and let close() switch their events off).
        self._codes: list[CodeType] = []
        self._once = _once_table()
        # Hit sets of the files bound since the last new_context(): their module bodies record without events.
        self._bound: list[set[int]] = []
        self._tool = _claim_tool_id()
        self._closed = False
        try:
            monitoring.register_callback(self._tool, self._events,
                                         _line_callback(self._table, self._fired, self._unseen, self._lines_of,
                                                       self._off, self._lock, self._tool))
        except BaseException:
            monitoring.free_tool_id(self._tool)
            raise

    @property
    def tool_id(self) -> int:
        return self._tool

    def build(self, source: str, filename: str, lines: SourceLines) -> Built:
        """The module compiled with a probe before each statement of its own body; classes and functions as written;
        with the lines each code object without probes can report (`_event_lines`, in `code_objects` order): worked
        out here, they are cached with the code, and a code object's first event no longer walks its line table
        (175 code objects in toolz's session: 2.9 M of its 1.3 G instructions).

        A module's body runs once per import, where a LINE event costs more than a probe: CPython finds the line of an
        event by scanning the code's line table from its start wherever the line is far from where the offset puts
        it, as in a module body (a `def` line, then the function's lines skipped), so each event costs in proportion
        to the body's size (28 M instructions of toolz's 1.3 G session, in `_PyCode_CheckLineNumber`). A probe is one
        lookup and one call, at the statement's own line: tracebacks and line numbers stay true. A body with a loop
        keeps LINE events (a probe never switches off), and every class and function keeps its author's bytecode.
        """
        tree = parse(source, filename)
        ModuleBodyProbes(lines.statements, lines.first_line, through_table(ONCE_NAME, filename), (ONCE_NAME,)).run(tree)
        code = compile_tree(tree, source, filename)
        return code, tuple(_event_lines(each) for each in _evented(code))

    def bind(self, built: Built | CodeType, filename: str, target: FileHits) -> tuple[CodeType, dict[str, Any]]:
        """Make the code `build` made (or any module code) record into `target`: its probes through ONCE_NAME, and
        LINE events on every code object nested in it that has no probe (the very objects that will run)."""
        code, event_lines = (built, None) if isinstance(built, CodeType) else built
        hits = target.hits  # the set itself: one attribute lookup less in the callback, and the same set on reload
        self._once[filename] = hits.add
        codes = _evented(code)
        if event_lines is not None and len(event_lines) != len(codes):
            event_lines = None  # not what build made for this code: the callback works them out instead
        monitoring = sys.monitoring
        with self._lock:
            if self._closed:
                raise RuntimeError("MonitorEngine.compile() called after close()")
            # The module body runs right after this: its probes' hits belong to the context that is running now.
            self._bound.append(hits)
            self._codes.extend(codes)
            for each in codes:
                self._table[id(each)] = hits
            if event_lines is not None:
                lines_of = self._lines_of
                for each, lines in zip(codes, event_lines):
                    lines_of[id(each)] = lines
            for each in codes:
                monitoring.set_local_events(self._tool, each, self._events)
        return code, {}

    def compile(self, source: str, filename: str, target: FileHits) -> tuple[CodeType, dict[str, Any]]:
        return self.bind(self.build(source, filename, target.lines), filename, target)

    @staticmethod
    def reported_raw(built: Built) -> frozenset[int]:
        """The lines other than statements' first lines that this code can record: its LINE events' (a module body's
        probes record each statement's first line, mapped at build)."""
        return frozenset().union(*built[1])

    def touched(self) -> list[set[int]] | None:
        """The hit sets of the code objects that had a LINE event since the last new_context(), and of the files bound
        since (their module bodies record through probes).

        Every other hit goes through the callback, which marks its code object fired: no other set can have new lines.
        A hit made by another thread while a switch is under way may be marked after this snapshot and unmarked by the
        new_context() that follows: it stays in its set until the file's next drain (the final one looks at every file).
        """
        table = self._table
        sets: dict[int, set[int]] = {}
        try:
            keys = tuple(self._fired)  # copied in C, with the GIL held throughout: no callback can run meanwhile
        except RuntimeError:  # changed size while copied (an interpreter without the GIL): look at every file
            return None
        for key in keys:
            hits = table.get(key)
            if hits is not None:
                sets[id(hits)] = hits
        for hits in tuple(self._bound):
            sets[id(hits)] = hits
        return list(sets.values())

    def new_context(self) -> None:
        """Re-enable every LINE event disabled by a first hit, so the next test records its lines afresh.

        Setting a code object's local events again re-arms its disabled lines, and only the code objects that fired
        need it. restart_events() would do the same for every code object of every tool in the process: CPython
        then re-instruments each one the next time it runs, pytest's own code included, at every test.
        """
        if self._closed:
            return
        self._bound.clear()
        monitoring = sys.monitoring
        fired = self._fired
        off = self._off
        unseen = self._unseen
        lines_of = self._lines_of
        with self._lock:
            # One popitem at a time: a callback in another thread may add a code object meanwhile, and it must be
            # re-armed now or at the next context, never dropped. (A callback's insert and its DISABLE happen with
            # the GIL held throughout: no re-arm can fall between them.)
            while fired:
                try:
                    key, code = fired.popitem()
                except KeyError:
                    break
                left = unseen.get(key)
                if left is not None:
                    left |= lines_of[key]  # every line unseen again, in place: no new set in the callback
                # Each call re-instruments the code object (~0.6 us for a hundred instructions): one suffices for
                # those already off.
                if key not in off:
                    monitoring.set_local_events(self._tool, code, 0)
                monitoring.set_local_events(self._tool, code, self._events)
            off.clear()

    def close(self) -> None:
        """Switch off this engine's events and free its tool id; idempotent. Probes keep recording: a module's code may
        still run after the run ends, and must never fail for want of its table entry."""
        monitoring = sys.monitoring
        with self._lock:
            if self._closed:
                return
            self._closed = True
            # free_tool_id() alone (3.12, 3.13) leaves the callback and the local events in place, and the next
            # claimant of the same id would inherit them: remove both first.
            try:
                monitoring.register_callback(self._tool, self._events, None)
                for code in self._codes:
                    monitoring.set_local_events(self._tool, code, 0)
            finally:
                monitoring.free_tool_id(self._tool)
                self._codes.clear()
                self._table.clear()
                self._unseen.clear()
                self._lines_of.clear()
                self._off.clear()
