"""Bench only (bench/overhead/ablate.py): switch parts of covlens off, as COVLENS_BENCH_ABLATE names them.

`events`: the monitoring engine arms no LINE event (it still compiles, caches and registers every code object, and
the probes of module bodies still record);
`hook`: the worker installs no import hook at all (so no events either); `plugin`: pytest runs without covlens's
plugin (no per-test outcomes; the worker's end-of-session work then runs after pytest's session). Applied in the
CLI process before it forks its worker, so the worker inherits them. Without the variable this does nothing.
"""

import os

_PARTS = {part for part in os.environ.get("COVLENS_BENCH_ABLATE", "").split(",") if part}

if _PARTS:
    from covlens.runner import worker as _worker

    if "hook" in _PARTS:
        def _install(self, preimported=()):
            self._started()  # the hello the session waits for, with engine None: no hook

        _worker.WorkerState.install = _install
    if "plugin" in _PARTS:
        _worker.PLUGIN = "bench_noop"  # a plugin with nothing in it, in this folder
    if "events" in _PARTS:
        from covlens.instrument import engine_monitor as _engine

        _init, _close = _engine.MonitorEngine.__init__, _engine.MonitorEngine.close

        def _no_events_init(self):
            _init(self)
            self._line, self._events = self._events, 0  # every set_local_events call now arms nothing

        def _close_with_events(self):
            self._events = self._line  # close() unregisters the callback of the LINE event it registered
            _close(self)

        _engine.MonitorEngine.__init__ = _no_events_init
        _engine.MonitorEngine.close = _close_with_events
