"""A watchdog observer of the project's source files that ignores VCS folders, virtualenvs, caches and build output."""

from __future__ import annotations

import fnmatch
import logging
import os
import threading
from collections.abc import Callable, Iterable

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer

log = logging.getLogger("covlens.watch")

# Folders whose changes never call for a run (and that can hold many thousands of files).
IGNORED_DIRS = frozenset({
    ".git", ".hg", ".svn", ".venv", "venv", "node_modules", "__pycache__", ".covlens", "build", "dist",
    ".tox", ".nox", ".mypy_cache", ".pytest_cache", ".ruff_cache", ".idea", ".vscode",
})
IGNORED_DIR_PATTERNS = ("*.egg-info",)

# Files whose change can change a test's outcome or coverage. Data files are left out on purpose: tests that
# write into the project folder would otherwise trigger themselves forever.
WATCHED_FILES = ("*.py", "*.pyi", "*.pth", "pyproject.toml", "setup.cfg", "setup.py", "pytest.ini", "tox.ini",
                 ".coveragerc")


class IgnoreRules:
    """Whether a path under the root is ignored; remembers which folders are virtualenvs (have a pyvenv.cfg)."""

    def __init__(self, root: str, watched: Iterable[str] = WATCHED_FILES) -> None:
        self.root = os.path.abspath(root)
        self.watched = tuple(watched)
        self._venv: dict[str, bool] = {}
        self._lock = threading.Lock()

    def ignored_dir(self, folder: str) -> bool:
        """True for a folder covlens never watches (by name, or a virtualenv whatever its name)."""
        name = os.path.basename(folder)
        if name in IGNORED_DIRS or any(fnmatch.fnmatchcase(name, p) for p in IGNORED_DIR_PATTERNS):
            return True
        with self._lock:
            cached = self._venv.get(folder)
        if cached is None:
            cached = os.path.isfile(os.path.join(folder, "pyvenv.cfg"))
            with self._lock:
                self._venv[folder] = cached
        return cached

    def ignored(self, path: str) -> bool:
        """True when a change of `path` (file or folder) must not trigger a run."""
        path = os.path.abspath(path)
        rel = os.path.relpath(path, self.root)
        if rel.startswith(os.pardir):
            return True
        parts = rel.split(os.sep)
        folder = self.root
        for part in parts[:-1]:
            folder = os.path.join(folder, part)
            if self.ignored_dir(folder):
                return True
        return False

    def relevant(self, path: str) -> bool:
        """True when a change of the file at `path` calls for a run."""
        name = os.path.basename(path)
        return not self.ignored(path) and any(fnmatch.fnmatchcase(name, p) for p in self.watched)


class _Handler(FileSystemEventHandler):
    def __init__(self, owner: ProjectObserver) -> None:
        self.owner = owner

    def on_any_event(self, event: FileSystemEvent) -> None:
        try:
            self.owner._event(event)
        except Exception as exc:  # noqa: BLE001 - a bad event must not kill the observer thread
            log.error("covlens watch: cannot handle %r: %s", event, exc, exc_info=exc)


class ProjectObserver:
    """Calls `on_change(paths)` from watchdog's thread when relevant files under `root` change.

    The root is watched on its own and each top-level folder recursively, except ignored ones: so a `.venv` or
    `node_modules` never costs an inotify watch per folder. A top-level folder created later is watched too.
    """

    def __init__(self, root: str, on_change: Callable[[frozenset[str]], None], *,
                 watched: Iterable[str] = WATCHED_FILES) -> None:
        self.root = os.path.abspath(root)
        self.rules = IgnoreRules(self.root, watched)
        self._on_change = on_change
        self._observer = Observer()
        self._handler = _Handler(self)
        self._watched: dict[str, object] = {}
        self._lock = threading.Lock()

    def start(self) -> None:
        """Start watching (returns once the watches are in place)."""
        self._observer.schedule(self._handler, self.root, recursive=False)
        try:
            entries = sorted(os.scandir(self.root), key=lambda e: e.name)
        except OSError as exc:
            raise OSError(f"cannot watch {self.root}: {exc.strerror}") from None
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                self._watch_dir(entry.path)
        self._observer.start()

    def stop(self) -> None:
        """Stop watching and wait for watchdog's threads to end."""
        self._observer.stop()
        if self._observer.is_alive():
            self._observer.join(timeout=10)

    def _watch_dir(self, folder: str) -> bool:
        """Watch a top-level folder recursively; True if a new watch was added."""
        if self.rules.ignored_dir(folder):
            return False
        with self._lock:
            if folder in self._watched:
                return False
            try:
                self._watched[folder] = self._observer.schedule(self._handler, folder, recursive=True)
            except OSError as exc:  # it vanished, or the watch limit was reached
                log.warning("covlens watch: cannot watch %s: %s", folder, exc)
                return False
        return True

    def _relevant_under(self, folder: str) -> Iterable[str]:
        for parent, dirs, files in os.walk(folder):
            dirs[:] = [d for d in dirs if not self.rules.ignored_dir(os.path.join(parent, d))]
            for name in files:
                path = os.path.join(parent, name)
                if self.rules.relevant(path):
                    yield path

    @property
    def watched_dirs(self) -> frozenset[str]:
        """The top-level folders watched recursively (the root itself is watched on its own)."""
        with self._lock:
            return frozenset(self._watched)

    def _event(self, event: FileSystemEvent) -> None:
        paths = [os.fsdecode(event.src_path)]
        dest = getattr(event, "dest_path", "")
        if dest:
            paths.append(os.fsdecode(dest))
        if event.event_type in ("opened", "closed_no_write"):
            return  # reads (including our own) change nothing
        if event.is_directory:
            for path in paths:
                if os.path.dirname(path) == self.root and event.event_type in ("created", "moved") and \
                        os.path.isdir(path) and self._watch_dir(path):
                    # Files written into the folder before its watch existed would be missed: report them now.
                    found = frozenset(self._relevant_under(path))
                    if found:
                        self._on_change(found)
            # A folder moved or deleted takes its modules with it: let the run find out.
            changed = frozenset(p for p in paths if event.event_type in ("moved", "deleted")
                                and not self.rules.ignored(p) and not self.rules.ignored_dir(p))
        else:
            changed = frozenset(p for p in paths if self.rules.relevant(p))
        if changed:
            self._on_change(changed)
