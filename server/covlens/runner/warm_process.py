"""Entry of the warm worker: import pytest once, then fork one child per run that runs it exactly like a cold worker.

Started by `covlens.runner.warm.WarmWorker` as ``python -m covlens.runner.worker --warm`` with the project's
interpreter, cwd = project root, in its own session, and the environment of a cold worker plus two variables that
are removed before anything else happens:

- ``COVLENS_WARM_FD``: an inherited AF_UNIX stream socket, the control socket to the server;
- ``COVLENS_WARM_INIT``: ``{"config": <Config.to_json()>, "preload": [module names]}``.

It imports pytest, pytest's own plugins, covlens's hook and plugin, and the `preload` modules (standard library and
third-party only: anything found inside the project root, outside site-packages, is refused, and so is a module
whose import pulled in project code or started a thread), then serves the control socket. JSON lines both ways:

server → warm
    ``{"op": "run", "id": n, "job": {...}}`` with two fds attached (SCM_RIGHTS): the event pipe's write end and the
    output pipe's write end (stdout and stderr of the run). ``{"op": "retire"}``: exit once no run is left.
    ``{"op": "modules", "id": n}``: which modules are imported here (for tests and debugging).
warm → server
    ``{"op": "ready", ...}`` once, or ``{"op": "failed", "message": ...}`` and exit; then per run
    ``{"op": "started", "id", "pid"}`` or ``{"op": "spawn-failed", "id", "message"}``, and later
    ``{"op": "exited", "id", "pid", "returncode"}`` (negative: killed by that signal, as subprocess says it).

EOF on the control socket means the server is gone: every run still going is killed (its process group) and the
warm worker exits. Each child: `setsid` (it leads its own process group, as a cold worker started with
``start_new_session``), stdin = /dev/null, stdout and stderr = the output pipe, the control socket and every fd
meant for another run closed, signal handlers as before serving, the modules only this file needed forgotten, then
`worker.run_job` — which installs the import hook first — and ``os._exit``.

Nothing above the standard library modules a cold worker imports anyway is imported before the preloading is done
(see `_forgettable`).
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any, NamedTuple, NoReturn

from covlens.runner import worker

CONTROL_FD_ENV = "COVLENS_WARM_FD"
INIT_ENV = "COVLENS_WARM_INIT"
PROTOCOL = 1  # bumped when a message changes meaning; the server refuses a warm worker of another version

# Exit codes of the warm worker itself.
EXIT_BAD_START = 70
EXIT_FAILED = 71

# Modules never preloaded: importing them does something (prints the Zen of Python, opens a web browser...).
NEVER_PRELOAD = frozenset({"__main__", "__mp_main__", "this", "antigravity", "idlelib.idle"})
_ALLOWED_REASONS = ("stdlib", "third-party", "self", "no-source")
_RECV_FDS = 16


def main() -> NoReturn:
    """Pre-import, say ready, serve until the server goes away."""
    try:
        fd = int(os.environ.pop(CONTROL_FD_ENV))
        init = json.loads(os.environ.pop(INIT_ENV))
    except (KeyError, ValueError) as exc:
        sys.stderr.write(f"covlens warm worker: started without {CONTROL_FD_ENV}/{INIT_ENV} ({exc}): it is started "
                         "by covlens's server, not by hand\n")
        os._exit(EXIT_BAD_START)
    outcome = _preload(init)
    # Everything imported from here on is the warm machinery's own: its children forget it (see _forgettable).
    baseline = frozenset(sys.modules)
    _Server(fd, outcome.startup, baseline).serve(outcome)


# -- preloading -----------------------------------------------------------------------------------------------


class _Preloaded:
    """What preloading did: the modules imported, those not (and why), and what a cold worker has at its start."""

    def __init__(self, startup: frozenset[str]) -> None:
        self.startup = startup  # the modules a cold worker also has when it installs its hook
        self.preloaded: list[str] = []
        self.skipped: dict[str, str] = {}
        self.tainted: dict[str, str] = {}  # module -> why this process must not fork runs
        self.failure: str | None = None  # why it cannot serve at all


def _preload(init: dict[str, Any]) -> _Preloaded:
    """Import what every run imports, then the preload list."""
    from covlens.config import Config

    # A cold worker imports the hook's modules before installing it: importing them here changes no decision.
    from covlens.instrument.hook import Instrumenter  # noqa: F401
    from covlens.instrument.policy import Policy

    config = Config.from_json(init["config"])
    vetter = _Vetter(Policy(config))
    out = _Preloaded(vetter.startup)
    early = vetter.project_modules(set(sys.modules))
    if early:  # a sitecustomize or .pth file imported them: forked runs would keep their code of this moment
        out.failure = (f"project modules were imported when the interpreter started ({', '.join(sorted(early)[:5])}, "
                       "by a sitecustomize or .pth file); a warm process would keep their code as it is now, so "
                       "runs start cold")
        return out
    try:
        why = vetter.refusal("pytest")
    except Exception as exc:  # noqa: BLE001 - e.g. a broken pytest install
        why = f"cannot be found ({type(exc).__name__}: {exc})"
    if why is not None:
        out.failure = f"pytest {why}; the warm worker cannot pre-import it"
        return out
    try:
        import _pytest.config
        import pytest  # noqa: F401
    except BaseException as exc:  # noqa: BLE001 - the cold worker will say what to do
        out.failure = f"pytest cannot be imported by {sys.executable} ({type(exc).__name__}: {exc})"
        return out
    leaked = vetter.project_modules(set(sys.modules))
    if leaked:  # e.g. a sitecustomize-like hook in pytest's own import: nothing to drop, this process is unusable
        out.failure = f"importing pytest imported project modules ({', '.join(sorted(leaked)[:5])})"
        return out
    # pytest imports its own plugins before it installs its assert rewriter: importing them here changes nothing.
    # Not covlens's plugin: pytest imports `-p` plugins after, and warns if it finds one already imported.
    names = [f"_pytest.{p}" for p in _pytest.config.default_plugins]
    names.extend(str(n) for n in init.get("preload", ()))
    vetter.named_plugins.update(_plugin_args(config.pytest_args))
    for name in dict.fromkeys(names):
        refused = vetter.load(name)
        if refused is None:
            out.preloaded.append(name)
        elif refused.taints:
            out.tainted[name] = refused.why
        else:
            out.skipped[name] = refused.why
    return out


class _Refused(NamedTuple):
    why: str
    taints: bool = False  # it was imported anyway (and did harm): this process must not fork runs


def _plugin_args(args: tuple[str, ...]) -> set[str]:
    """Top-level packages of the plugins `-p name` / `-pname` loads (not `-p no:name`)."""
    names: set[str] = set()
    for i, arg in enumerate(args):
        if arg == "-p":
            value = args[i + 1] if i + 1 < len(args) else ""
        elif arg.startswith("-p"):
            value = arg[2:]
        else:
            continue
        if value and not value.startswith("no:"):
            names.add(value.split(".")[0])
    return names


class _Vetter:
    """Imports a module only if neither it nor its packages live in the project; says why when it does not."""

    def __init__(self, policy: Any) -> None:
        import threading

        self.policy = policy
        self.root = policy.root
        self.site_dirs = policy.site_dirs
        self._threads = threading.active_count
        self.startup = frozenset(sys.modules)  # what a cold worker has imported, too, when it installs its hook
        self._plugins: frozenset[str] | None = None
        self.named_plugins: set[str] = set()  # plugins named by `-p` in pytest_args: pytest imports them itself

    def plugin_packages(self) -> frozenset[str]:
        """Top-level packages of installed pytest plugins (distributions with `pytest11` entry points)."""
        if self._plugins is None:
            import importlib.metadata

            found = set(self.named_plugins)
            try:
                for dist in importlib.metadata.distributions():
                    points = [ep for ep in dist.entry_points if ep.group == "pytest11"]
                    if not points:
                        continue
                    found.update(ep.value.partition(":")[0].strip().split(".")[0] for ep in points)
                    for file in dist.files or ():
                        parts = file.parts
                        if parts and parts[-1].endswith(".py") and ".." not in parts:
                            found.add(parts[0][:-3] if len(parts) == 1 else parts[0])
            except Exception:  # noqa: BLE001 - a broken distribution: pre-import no plugin at all then
                found.add("*")
            self._plugins = frozenset(found)
        return self._plugins

    def load(self, name: str) -> _Refused | None:
        """Import `name` (and its packages) when allowed: None when it is imported, else why not."""
        import importlib

        if name in NEVER_PRELOAD or not name or name.startswith("."):
            return _Refused("never pre-imported")
        parts = name.split(".")
        plugins = self.plugin_packages()
        if parts[0] in plugins or "*" in plugins:
            # pytest imports a plugin itself to rewrite its asserts, and warns when it finds it already imported.
            return _Refused("belongs to a pytest plugin, which pytest imports itself")
        for depth in range(1, len(parts) + 1):
            prefix = ".".join(parts[:depth])
            if prefix in sys.modules:
                continue
            try:
                why = self.refusal(prefix)
            except BaseException as exc:  # noqa: BLE001 - find_spec imports the parent package
                return _Refused(f"cannot be found ({type(exc).__name__}: {exc})")
            if why is not None:
                return _Refused(why)
            before = set(sys.modules)
            threads = self._thread_count()
            error: BaseException | None = None
            try:
                importlib.import_module(prefix)
            except BaseException as exc:  # noqa: BLE001 - SystemExit too: a library must not stop the server
                error = exc
            leaked = self.project_modules(set(sys.modules) - before)
            if leaked:
                return _Refused(f"importing it imported project modules ({', '.join(sorted(leaked)[:5])})", True)
            if self._thread_count() > threads:
                return _Refused("importing it started a thread; forking a process with threads can deadlock", True)
            if error is not None:
                return _Refused(f"raised {type(error).__name__} when imported: {error}")
        return None

    def refusal(self, name: str) -> str | None:
        """Why `name` must not be imported here (found in the project, or not stdlib/third-party), else None."""
        import importlib.util

        spec = importlib.util.find_spec(name)
        if spec is None:
            return "is not installed"
        locations = [spec.origin] if spec.origin not in (None, "built-in", "frozen") else []
        locations.extend(spec.submodule_search_locations or ())
        for location in locations:
            if self._in_project(location):
                return f"is part of the project ({location}); project code is never imported before the hook"
        namespace = spec.origin is None and spec.submodule_search_locations is not None
        decision = self.policy.decide(name, spec.origin, namespace=namespace)
        if decision.reason not in _ALLOWED_REASONS:
            return f"is not a standard library or third-party module ({decision.reason}: {decision.detail})"
        return None

    def project_modules(self, names: set[str]) -> set[str]:
        """Which of `names` are project code: loaded from the project, or what the hook would instrument."""
        found: set[str] = set()
        for name in names - self.startup:
            module = sys.modules.get(name)
            spec = getattr(module, "__spec__", None)
            origin = getattr(spec, "origin", None)
            locations = [getattr(module, "__file__", None), origin]
            locations.extend(getattr(module, "__path__", None) or ())
            if any(isinstance(loc, str) and self._in_project(loc) for loc in locations):
                found.add(name)
                continue
            try:
                if isinstance(origin, str) and self.policy.decide(name, origin).action == "instrumented":
                    found.add(name)  # e.g. under a source root outside the project folder
            except Exception:  # noqa: BLE001
                found.add(name)
        return found

    def _in_project(self, location: str) -> bool:
        if not os.path.isabs(location):
            return False  # "built-in", "frozen", a namespace package's placeholder...
        # A virtualenv inside the project (`.venv/`) is not project code: what is in site-packages is third-party.
        path = os.path.normcase(os.path.realpath(location))
        if not _under(path, self.root):
            return False
        parts = path.split(os.sep)
        if "site-packages" in parts or "dist-packages" in parts:
            return False
        return not any(_under(path, d) for d in self.site_dirs)

    def _thread_count(self) -> int:
        # Threads a C extension starts are invisible to `threading`; /proc sees them (Linux).
        try:
            return len(os.listdir("/proc/self/task"))
        except OSError:
            return self._threads()


def _under(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def site_dirs() -> list[str]:
    """The folders installs change (their mtime moves when a distribution is added or removed)."""
    import site
    import sysconfig

    dirs: list[str] = []
    try:
        dirs.extend(site.getsitepackages())
    except AttributeError:
        pass
    user = getattr(site, "getusersitepackages", lambda: None)()
    if user:
        dirs.append(user)
    for name in ("purelib", "platlib"):
        dirs.append(sysconfig.get_paths()[name])
    dirs.extend(p for p in sys.path if p and os.path.basename(p) in ("site-packages", "dist-packages"))
    return sorted(set(dirs))


# -- serving --------------------------------------------------------------------------------------------------


class _Server:
    """The control loop: fork a child per run request, report its pid and its exit."""

    def __init__(self, fd: int, startup: frozenset[str], baseline: frozenset[str]) -> None:
        import select
        import signal
        import socket

        self._select = select.select
        self._signal = signal
        self.sock = socket.socket(fileno=fd)
        self.sock.set_inheritable(False)
        self.sock.setblocking(True)
        self._recv_fds = socket.recv_fds
        self.startup = startup
        self.baseline = baseline
        self.children: dict[int, Any] = {}  # pid -> run id
        self.fds: list[int] = []  # received with requests not read yet
        self.buffer = b""
        self.retiring = False
        # How the signals were set before serving: the children get them back (only SIGCHLD is changed here).
        self.handlers = {}
        for sig in signal.valid_signals():
            try:
                handler = signal.getsignal(sig)
            except (ValueError, OSError):
                continue
            if handler is not None:
                self.handlers[sig] = handler
        self.wake_r, self.wake_w = os.pipe()
        for fd_ in (self.wake_r, self.wake_w):
            os.set_blocking(fd_, False)
        signal.signal(signal.SIGCHLD, _ignore)
        signal.set_wakeup_fd(self.wake_w, warn_on_full_buffer=False)

    def send(self, message: dict[str, Any]) -> None:
        self.sock.sendall((json.dumps(message) + "\n").encode())

    def serve(self, outcome: _Preloaded) -> NoReturn:
        try:
            if outcome.failure is not None:
                self.send({"op": "failed", "message": outcome.failure, "site_dirs": site_dirs()})
                os._exit(EXIT_FAILED)
            self.send({"op": "ready", "protocol": PROTOCOL, "pid": os.getpid(), "python": sys.version.split()[0],
                       "executable": sys.executable, "site_dirs": site_dirs(), "preloaded": outcome.preloaded,
                       "skipped": outcome.skipped, "tainted": outcome.tainted})
            while True:
                readable, _, _ = self._select([self.sock, self.wake_r], [], [])
                if self.wake_r in readable:
                    self._drain_wakeups()
                self._reap()
                if self.sock in readable:
                    messages = self._receive()
                    if messages is None:
                        self._server_gone()
                    for message in messages:
                        child = self._handle(message)
                        if child is not None:
                            # The forked child, here rather than deeper: its tests start about as few frames down
                            # as a cold worker's (a deeply recursive test crosses the chunks of CPython's frame
                            # stack more often the deeper it starts, and each crossing maps and unmaps memory).
                            worker.live_and_exit(self._child, *child, failed=EXIT_FAILED)
                if self.retiring and not self.children:
                    os._exit(0)
        except BaseException:  # noqa: BLE001 - the server's socket broke, or a bug: never linger
            self._server_gone()

    def _receive(self) -> list[dict[str, Any]] | None:
        """The requests that arrived (None once the server closed the socket)."""
        data, fds, _, _ = self._recv_fds(self.sock, 1 << 16, _RECV_FDS)
        self.fds.extend(fds)
        if not data:
            return None
        self.buffer += data
        messages = []
        while b"\n" in self.buffer:
            line, self.buffer = self.buffer.split(b"\n", 1)
            if line.strip():
                messages.append(json.loads(line))
        return messages

    def _handle(self, message: dict[str, Any]) -> tuple[dict[str, Any], int, int] | None:
        """Carry out a request; in the child forked for a run, what it runs: (job, event fd, output fd)."""
        op = message.get("op")
        if op == "run":
            event_fd, output_fd = self.fds[0], self.fds[1]
            del self.fds[:2]
            return self._fork(message.get("id"), message["job"], event_fd, output_fd)
        if op == "retire":
            self.retiring = True
        elif op == "modules":
            self.send({"op": "modules", "id": message.get("id"), "names": sorted(sys.modules)})
        return None

    def _fork(self, run_id: Any, job: dict[str, Any], event_fd: int,
              output_fd: int) -> tuple[dict[str, Any], int, int] | None:
        worker.flush_std_streams()  # nothing buffered here may come out of the child
        try:
            pid = os.fork()
        except OSError as exc:
            os.close(event_fd)
            os.close(output_fd)
            self.send({"op": "spawn-failed", "id": run_id, "message": f"fork failed: {exc}"})
            return None
        if pid == 0:
            return job, event_fd, output_fd
        os.close(event_fd)
        os.close(output_fd)
        self.children[pid] = run_id
        self.send({"op": "started", "id": run_id, "pid": pid})
        return None

    def _child(self, job: dict[str, Any], event_fd: int, output_fd: int) -> int:
        """The life of the child forked for a run: a cold worker's process, then its run (the pytest exit code)."""
        os.setsid()  # its own session and process group: killpg(pid) ends it and all it starts
        self._signal.set_wakeup_fd(-1)
        for sig, handler in self.handlers.items():
            try:
                self._signal.signal(sig, handler)
            except (ValueError, OSError):
                pass
        self.sock.close()  # a run never talks to the server's control socket
        for fd in (self.wake_r, self.wake_w, *self.fds):
            _close(fd)
        worker.std_streams_to(output_fd)
        os.set_inheritable(event_fd, False)  # as in a cold worker: no subprocess of a test gets it
        for name in _forgettable(self.baseline):
            sys.modules.pop(name, None)
        del sys.argv[1:]  # `--warm`: a cold worker's argv is just the module's path
        worker.fresh_import_caches()
        # What a cold worker imports only after its hook is installed: the hook decides them as it would there.
        preimported = [name for name in sys.modules if name not in self.startup]
        return worker.run_job(job, event_fd, preimported=preimported)

    def _drain_wakeups(self) -> None:
        try:
            while os.read(self.wake_r, 512):
                pass
        except (BlockingIOError, InterruptedError):
            pass

    def _reap(self) -> None:
        while self.children:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            run_id = self.children.pop(pid, None)
            self.send({"op": "exited", "id": run_id, "pid": pid, "returncode": os.waitstatus_to_exitcode(status)})

    def _server_gone(self) -> NoReturn:
        # No one is left to report to, and no one could stop the runs: end them with us.
        for pid in list(self.children):
            try:
                os.killpg(pid, self._signal.SIGKILL)
            except OSError:
                pass
        os._exit(0)


def _forgettable(baseline: frozenset[str]) -> list[str]:
    """Modules a cold worker would not have imported by now: the ones only the warm machinery needed.

    Everything imported after preloading (select, socket...) and this module itself. Forgetting them makes a test
    that imports one import it afresh, through the hook, and report it exactly as a cold worker would.
    """
    return [name for name in list(sys.modules) if name not in baseline] + [__name__]


def _close(fd: int) -> None:
    try:
        os.close(fd)
    except OSError:
        pass


def _ignore(signum: int, frame: Any) -> None:
    """SIGCHLD handler: the wake-up fd does the work."""
