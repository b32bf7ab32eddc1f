"""Entry of the test subprocess: install the import hook first, run pytest in-process, stream events, exit hard.

Run as ``python -m covlens.runner.worker`` by the session, with the project's interpreter, cwd = project root,
and two environment variables (both removed from ``os.environ`` before any test code runs):

- ``COVLENS_JOB``: path of a JSON file ``{"config": <Config.to_json()>, "pytest_args": [...], "only": [...] | null}``
  (``only``: the node ids / files the plugin keeps after collection, `WorkerState.only`; null or absent: all)
- ``COVLENS_EVENT_FD``: number of an inherited pipe fd the events are written to, one JSON line each.

Only the standard library and covlens modules that import nothing else are imported before the hook is installed,
so that pytest, its plugins, the conftests and the test modules are all seen by it.

``python -m covlens.runner.worker --warm`` starts the warm worker instead (covlens.runner.warm_process): it forks
one child per run, and each child runs the very same `run_job` as a cold worker.
"""

from __future__ import annotations

# Unused here. pytest imports them first thing, and `covlens run` after it forked the worker: imported with the worker,
# before the fork, they are imported once per run instead of twice (~6 ms of CPU; see fork_start.py).
import argparse  # noqa: F401
import gc
import json
import locale  # noqa: F401
import os
import selectors  # noqa: F401
import signal  # noqa: F401
import sys
import threading
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

from covlens.config import Config
from covlens.instrument.decision import Decision
from covlens.model import COLLECTION_CONTEXT, FileLines
from covlens.runner import events as ev

JOB_ENV = "COVLENS_JOB"
EVENT_FD_ENV = "COVLENS_EVENT_FD"
PLUGIN = "covlens.runner.pytest_plugin"
WARM_FLAG = "--warm"  # `python -m covlens.runner.worker --warm` starts the warm worker (warm_process.py)

# Exit codes of the worker itself when it cannot run pytest (pytest's own are 0-5).
EXIT_NO_JOB = 70
EXIT_NO_PYTEST = 71


# What pytest's exit codes mean to a user reading the run's summary (0 and 1 need no words).
PYTEST_EXIT_MESSAGES = {
    2: "pytest stopped early: errors during collection, -x/--maxfail, or an interruption; see the output",
    3: "pytest hit an internal error; see the output",
    4: "pytest could not start: bad arguments (check `pytest_args` in [tool.covlens] and the ones given) "
       "or a conftest.py that fails to import; see the output",
    5: "no tests were collected",
}


class EventWriter:
    """Writes events as JSON lines to one sink, from any thread; silent in forked children and once the sink broke.

    A line may be held (`hold=True`) instead of written: it goes out in the same write as the next line written, or
    at `flush()`. The plugin holds what it sends between two tests (a test's outcome, the next one's file facts),
    which its next TestStarted follows within microseconds: one write per test instead of two.
    """

    def __init__(self, send: Callable[[str], None]) -> None:
        self._send = send
        self._lock = threading.Lock()
        self._pid = os.getpid()
        self._broken = False
        self._held: list[str] = []
        if hasattr(os, "register_at_fork"):
            os.register_at_fork(after_in_child=self._forked)

    def _forked(self) -> None:
        # A test forked: the child shares our sink, but must never write into it (nor wait on our lock).
        self._lock = threading.Lock()
        self._broken = True
        self._held = []

    def emit(self, event: ev.Event, *, hold: bool = False) -> None:
        self.emit_line(ev.to_line(event), hold=hold)

    def emit_line(self, line: str, *, hold: bool = False) -> None:
        """Write `line`, after the lines held so far (one write); with `hold`, keep it for the next write."""
        if self._broken or os.getpid() != self._pid:
            return
        with self._lock:
            held = self._held
            if hold:
                held.append(line)
                return
            if held:
                held.append(line)
                line = "\n".join(held)
                held.clear()
            self._write(line)

    def flush(self) -> None:
        """Write the lines held so far, if any."""
        if self._broken or os.getpid() != self._pid:
            return
        with self._lock:
            if self._held:
                line = "\n".join(self._held)
                self._held.clear()
                self._write(line)

    def _write(self, line: str) -> None:
        try:
            self._send(line)
        except (OSError, ValueError, EOFError):
            self._broken = True  # the session is gone; keep running the tests quietly
        except Exception:  # noqa: BLE001 - e.g. execnet's channel closed: same thing
            self._broken = True


def fd_sender(fd: int) -> Callable[[str], None]:
    """A sink writing whole lines to `fd` (unbuffered: each event reaches the session as it happens)."""

    expected = _identity(fd)

    def send(line: str) -> None:
        # A test may close fds it does not own, and the number may then name one of its files: never write there.
        if _identity(fd) != expected:
            raise OSError(f"fd {fd} is no longer covlens's event pipe")
        data = (line + "\n").encode("utf-8")
        while data:  # one write as a rule; a large event or a signal may cut it short (the rest is then copied)
            written = os.write(fd, data)
            data = data[written:]

    return send


def _identity(fd: int) -> tuple[int, int] | None:
    """What `fd` is open on (device and inode; None once closed), asked before each write. An fstat: 1.0 us here, where
    reading the /proc/self/fd link (fewer instructions in the process, which is all callgrind counts) took 3.4 us of
    kernel path walking."""
    try:
        st = os.fstat(fd)
    except OSError:
        return None
    return st.st_dev, st.st_ino


class WorkerState:
    """The hook, the event sink and what was already reported, shared by the worker and the pytest plugin."""

    def __init__(self, config: Config, writer: EventWriter, worker: str = "main",
                 only: frozenset[str] | None = None) -> None:
        self.config = config
        self.writer = writer
        self.worker = worker  # "main" or an xdist worker id
        self.only = only  # the job's "only": the node ids / files the plugin keeps after collection; None = all
        self.instrumenter: Any = None
        self.engine: str | None = None
        self.finished = False
        self.interrupted: str | None = None  # set by the plugin when a test stopped the session
        self._files_dirty = False
        self._sent_files: dict[str, FileLines] = {}
        self._hold_decisions = False

    # -- hook ------------------------------------------------------------------------------------------------

    def install(self, preimported: Sequence[str] = ()) -> None:
        """Say hello (WorkerStarted), then install the import hook; on any failure run the tests unmeasured.

        `preimported`: modules a warm worker imported before forking this process that a cold worker would only
        import after installing its hook (pytest and the preloads). The hook must decide them as a cold worker's
        would — `stdlib`, `third-party`..., never `already-imported` — so it does not see them while it installs,
        and they are then recorded as its finder records an import (see `_record_preimported`).
        """
        # A decision for every module imported so far (hundreds): held, and sent in one write at the end.
        self._hold_decisions = True
        try:
            self._install(preimported)
        finally:
            self._hold_decisions = False
            self.writer.flush()

    def _install(self, preimported: Sequence[str]) -> None:
        try:
            from covlens.instrument.hook import Instrumenter

            inst = Instrumenter(self.config, on_decision=self.on_decision)
        except Exception as exc:  # noqa: BLE001 - a broken instrumenter must never stop the tests
            self._started()
            self._broken_hook(exc)
            return
        self.engine = getattr(inst, "engine_name", None)
        self._started()
        hidden = {name: sys.modules.pop(name) for name in preimported if name in sys.modules}
        try:
            inst.install()
        except Exception as exc:  # noqa: BLE001
            self.engine = None
            self._broken_hook(exc)
            return
        finally:
            sys.modules.update(hidden)  # the very same objects, in the same order
        self.instrumenter = inst
        if hidden:
            self._record_preimported(inst, hidden)

    @staticmethod
    def _record_preimported(inst: Any, modules: dict[str, Any]) -> None:
        """Decide pre-imported modules as the hook's finder decides an import: from the spec's origin.

        Built-in modules (the finder never looks at them) and aliases (`sys.modules["py.path"]` set by hand: no
        finder found them) are left to the end-of-run scan, which decides them as in a cold worker.
        """
        from covlens.instrument.decision import INSTRUMENTED, make

        for name, module in modules.items():
            spec = getattr(module, "__spec__", None)
            if spec is None or getattr(spec, "name", None) != name or name in sys.builtin_module_names:
                continue
            origin = spec.origin
            namespace = origin is None and spec.submodule_search_locations is not None
            try:
                decision = inst.policy.decide(name, origin, namespace=namespace)
            except Exception:  # noqa: BLE001 - the end-of-run scan will try again
                continue
            if decision.action == INSTRUMENTED:  # the warm worker refuses such modules: never expected here
                decision = make(name, origin, "already-imported", "imported by covlens's warm worker before it "
                                "forked this run; its code ran without measurement", "warm worker")
            inst._record(decision)

    def _started(self) -> None:
        self.writer.emit(ev.WorkerStarted(os.getpid(), sys.version.split()[0], self.engine, worker=self.worker))

    def _broken_hook(self, exc: Exception) -> None:
        self.notice(f"covlens could not install its import hook ({type(exc).__name__}: {exc}); "
                    "the tests run without coverage. Please report this.")

    def on_decision(self, decision: Decision) -> None:
        """Send a decision the instrumenter made (it calls this once for each new one)."""
        if decision.instrumented or decision.action == "not-imported":
            self._files_dirty = True
        self.writer.emit_line(ev.decision_line(decision), hold=self._hold_decisions)

    def notice(self, message: str) -> None:
        self.writer.emit(ev.Notice(message))

    # -- reporting -------------------------------------------------------------------------------------------

    def switch_context(self, name: str, *, final: bool = False) -> tuple[str, dict[str, frozenset[int]]]:
        """Start context `name`; the previous one's hits ({} when not measuring).

        With `contexts = false` the per-test switches do nothing: every line lands in one context, drained once at
        the end (`final`), and the monitoring engine never re-arms its disabled lines — the cheapest way to measure.
        """
        if self.instrumenter is None or (not final and not self.config.contexts):
            return COLLECTION_CONTEXT, {}
        try:
            return self.instrumenter.switch_context(name, final=final)  # type: ignore[no-any-return]
        except Exception as exc:  # noqa: BLE001
            self.notice(f"covlens failed to switch the coverage context to {name!r}: {type(exc).__name__}: {exc}")
            return COLLECTION_CONTEXT, {}

    def ensure_first(self) -> None:
        if self.instrumenter is None:
            return
        try:
            removed = self.instrumenter.ensure_first()
        except Exception as exc:  # noqa: BLE001
            self.notice(f"covlens could not put its import hook back first: {type(exc).__name__}: {exc}")
            return
        if removed:
            self.notice("a test removed covlens's import hook from sys.meta_path; it was put back, "
                        "modules imported meanwhile ran unmeasured")

    def report_files(self, force: bool = False, *, hold: bool = False) -> None:
        """Send the line facts of files measured since the last call (cheap when nothing new was imported); `hold`
        as for EventWriter.emit."""
        if self.instrumenter is None or not (force or self._files_dirty):
            return
        self._files_dirty = False
        try:
            files = self.instrumenter.file_lines()
        except Exception as exc:  # noqa: BLE001
            self.notice(f"covlens could not list the measured files: {type(exc).__name__}: {exc}")
            return
        new = tuple(fl for path, fl in sorted(files.items()) if self._sent_files.get(path) != fl)
        for fl in new:
            self._sent_files[fl.path] = fl
        if new:
            self.writer.emit(ev.FilesMeasured(new), hold=hold)

    def report_context(self, context: str, hits: dict[str, frozenset[int]], *, hold: bool = False) -> None:
        if hits:
            self.writer.emit(ev.ContextHits(context, hits), hold=hold)

    def finalize(self) -> None:
        """End of the session in this process: last hits outside tests, not-imported files, uninstall. Idempotent."""
        if self.finished:
            return
        self.finished = True
        try:
            self._finish_measuring()
        finally:
            self.writer.flush()  # the last test's outcome, held, when nothing else was sent after it

    def _finish_measuring(self) -> None:
        if self.instrumenter is None:
            return
        # What the end sends (the last hits outside tests, the decisions for files no test imported and for modules
        # imported around the hook) is held, and leaves in one write with the line facts that close it.
        self._hold_decisions = True
        try:
            previous, hits = self.switch_context(COLLECTION_CONTEXT, final=True)
            self.report_context(previous, hits, hold=True)
            try:
                # Each decision it makes now reaches on_decision as it is made, as every earlier one did. The engine
                # stays open: the process ends after pytest's own end, and lines run until then reach no one.
                self.instrumenter.finish(unimported=self.only is None, close_engine=False)
            except Exception as exc:  # noqa: BLE001
                self.notice(f"covlens failed to finish measuring: {type(exc).__name__}: {exc}")
        finally:
            self._hold_decisions = False
        self.report_files(force=True)


_state: WorkerState | None = None


def current() -> WorkerState | None:
    """The state of this process's worker, or None when pytest runs without covlens's worker."""
    return _state


def _read_job() -> tuple[int, dict[str, Any]]:
    fd_text = os.environ.pop(EVENT_FD_ENV, None)
    job_path = os.environ.pop(JOB_ENV, None)
    if fd_text is None or job_path is None:
        raise RuntimeError(f"{EVENT_FD_ENV} and {JOB_ENV} must be set: this module is started by covlens's session, "
                           "not by hand (use `covlens run`)")
    fd = int(fd_text)
    os.set_inheritable(fd, False)  # never leaks into the tests' subprocesses
    with open(job_path, encoding="utf-8") as handle:
        return fd, json.load(handle)


def run() -> int:
    """The cold entry: read the job named by the environment, then `run_job`; the exit code to exit with."""
    try:
        fd, job = _read_job()
    except Exception as exc:  # noqa: BLE001
        sys.stderr.write(f"covlens worker: cannot read its job: {type(exc).__name__}: {exc}\n")
        return EXIT_NO_JOB
    return run_job(job, fd)


def run_job(job: dict[str, Any], event_fd: int, *, preimported: Sequence[str] = ()) -> int:
    """Install the hook, run pytest, report on `event_fd`; the exit code the worker should exit with.

    The one code path of every test process covlens starts: a cold worker and a child of the warm worker (which
    names the modules it imported beforehand in `preimported`, see `WorkerState.install`).
    """
    global _state
    writer = EventWriter(fd_sender(event_fd))
    try:
        config = Config.from_json(job["config"])
        pytest_args = [str(a) for a in job.get("pytest_args", [])]
        only = job.get("only")
        only_set = None if only is None else frozenset(str(n) for n in only)
    except Exception as exc:  # noqa: BLE001
        writer.emit(ev.WorkerFailed(f"covlens worker got an unreadable job ({type(exc).__name__}: {exc}); "
                                    "the server and the worker may be different covlens versions"))
        return EXIT_NO_JOB
    freeze_startup_objects()
    state = _state = WorkerState(config, writer, only=only_set)
    state.install(preimported)  # FIRST: before pytest, its plugins, conftests or tests are imported
    try:
        import pytest
    except ImportError as exc:
        writer.emit(ev.WorkerFailed(f"pytest cannot be imported by {sys.executable} ({exc}); "
                                    f"install it in the project's environment: {sys.executable} -m pip install pytest"))
        return EXIT_NO_PYTEST
    message = ""
    try:
        code = int(pytest.main([*pytest_args, "-p", PLUGIN]))
    except SystemExit as exc:  # pytest.main itself never raises it, but a plugin's configure might
        code = exc.code if isinstance(exc.code, int) else 1
        message = f"pytest exited with SystemExit({exc.code!r})"
    except BaseException as exc:  # noqa: BLE001 - report it; the session must always get an end
        code = 3  # pytest's "internal error"
        message = f"pytest raised {type(exc).__name__}: {exc}"
    state.finalize()  # a no-op when the plugin's pytest_sessionfinish ran
    if state.interrupted and not message:
        message = state.interrupted
    if not message:
        message = PYTEST_EXIT_MESSAGES.get(code, "")
    writer.emit(ev.RunFinished(code, message))
    return code


def freeze_startup_objects() -> None:
    """Take every object alive now out of the garbage collector's sight, before the hook, pytest or a test exists.

    They are the interpreter's start-up, covlens's worker and (in a warm worker's child) the modules it pre-imported:
    alive until the worker ends. Left in, each full collection of the run walks them all, and in a forked worker its
    first walk copies every page it shares with its parent. Frozen, they are never walked (`gc.freeze`): on 3.11,
    17-28 ms less CPU in toolz's session, 35-45 ms in the whole run. Objects the tests create are collected as ever;
    `gc.get_objects()` no longer lists these.
    """
    gc.freeze()


def fresh_import_caches() -> None:
    """Forget what the import system and linecache remember: a forked test process must start as a fresh one."""
    # The import system caches directory listings (checked by mtime): a fresh process has none.
    import importlib

    importlib.invalidate_caches()
    linecache = sys.modules.get("linecache")
    if linecache is not None:
        linecache.clearcache()


def std_streams_to(output_fd: int) -> None:
    """stdin from /dev/null, stdout and stderr into the run's output pipe: a forked test process's, as a spawned
    worker's are."""
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.dup2(output_fd, 1)
    os.dup2(output_fd, 2)
    for fd in {devnull, output_fd} - {0, 1, 2}:
        os.close(fd)


def flush_std_streams() -> None:
    """Flush what the tests printed: the process is about to leave with os._exit, which flushes nothing."""
    for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
        try:
            if stream is not None:
                stream.flush()
        except Exception:  # noqa: BLE001
            pass


def main() -> NoReturn:
    """Run, then leave with os._exit: threads a test started and never ended must not keep the worker alive."""
    code = run()
    flush_std_streams()
    os._exit(exit_status(code))


def live_and_exit(life: Callable[..., int], *args: Any, failed: int = 1) -> NoReturn:
    """The whole life of a forked test process: `life(*args)` (its set-up, then `run_job`), then os._exit with the
    code it returned; an exception is printed on the run's output (stderr) and the code is `failed`."""
    code = failed
    try:
        code = life(*args)
    except BaseException:  # noqa: BLE001 - say why on the run's output; the session reports the exit
        try:
            import traceback

            traceback.print_exc()
        except BaseException:  # noqa: BLE001
            pass
    finally:
        flush_std_streams()
        os._exit(exit_status(code))
    raise AssertionError("unreachable")  # pragma: no cover


def exit_status(code: int) -> int:
    """What os._exit can carry of a pytest exit code."""
    return code & 0xFF if code >= 0 else 1


# -- pytest-xdist workers --------------------------------------------------------------------------------------

# Executed by execnet inside each new xdist worker process before xdist's own code (see pytest_plugin and
# docs/runner.md): installs the hook there too, and hands back a channel the worker's events are sent over.
XDIST_BOOT = """
_boot = channel.receive()  # (config_json, worker_id) or (config_json, worker_id, only: list | None)
config_json, worker_id = _boot[0], _boot[1]
_events = channel.gateway.newchannel()
channel.send(_events)  # first: data sent on a channel the controller does not know yet would be dropped
try:
    from covlens.runner import worker as _covlens_worker
    _covlens_worker.boot_xdist_worker(config_json, worker_id, _events, _boot[2] if len(_boot) > 2 else None)
    channel.send("ok")
except BaseException as exc:
    channel.send("covlens could not set up xdist worker %s: %s: %s" % (worker_id, type(exc).__name__, exc))
"""


def boot_xdist_worker(config_json: str, worker_id: str, channel: Any, only: list[str] | None = None) -> None:
    """In an xdist worker, before xdist loads pytest there: install the hook; events go over the execnet channel."""
    global _state
    writer = EventWriter(channel.send)
    state = WorkerState(Config.from_json(config_json), writer, worker=worker_id,
                        only=None if only is None else frozenset(str(n) for n in only))
    state.channel = channel  # type: ignore[attr-defined]  # execnet keeps channels weakly: hold it
    _state = state
    state.install()


if __name__ == "__main__":
    # Run the module's importable twin, so that the plugin's `from covlens.runner import worker` sees this state.
    if sys.argv[1:] == [WARM_FLAG]:
        # Through this module, so that the warm worker's __main__ is this file, as in a cold worker: the children
        # it forks then report the very same decisions.
        from covlens.runner import warm_process

        warm_process.main()
    from covlens.runner import worker as _twin

    _twin.main()
