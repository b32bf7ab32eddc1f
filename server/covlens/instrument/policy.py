"""Module/path -> Decision: which modules to instrument, and the reason for each choice."""

from __future__ import annotations

import fnmatch
import functools
import os
import re
import site
import stat
import sys
import sysconfig
import threading
from pathlib import PurePosixPath

from covlens.config import DEFAULT_TEST_PATTERNS, Config
from covlens.instrument.decision import Decision, make

SOURCE_SUFFIXES = (".py", ".pyw")
EXTENSION_SUFFIXES = tuple(s for s in (".so", ".pyd", ".dylib"))
PRAGMA_RE = re.compile(r"^[ \t]*#[ \t]*covlens:[ \t]*skip-file[ \t]*$", re.MULTILINE)
_SELF_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


_PLAIN_SEP = os.sep == "/" and os.altsep is None


@functools.lru_cache(maxsize=None)
def _norm(path: str) -> str:
    """`path` resolved as realpath resolves it, in the platform's case (cached too: asked of every decided path at the
    session's end, where normcase's own call costs more than the lookup)."""
    return os.path.normcase(_real(path))


@functools.lru_cache(maxsize=None)
def _real(path: str) -> str:
    # Cached, for files and folders alike: a run asks for the same few hundred paths (every module in sys.modules at
    # start and at the end), and a warm worker's children inherit the cache it filled. realpath lstats every component
    # of a path (37 us for a module in site-packages, 8 lstats for a new stdlib package's folder); from the parent's
    # cached answer a path not seen yet costs one lstat of its own.
    if _PLAIN_SEP:
        # str.rpartition and one lstat: what split, join and islink do for an absolute path without doubled
        # separators, at a third of the instructions (each new module's path comes here once).
        parent, _, name = path.rpartition("/")
        if parent and name and name not in (".", "..") and not parent.endswith("/"):
            base = _real(parent)
            real = f"{base}{name}" if base.endswith("/") else f"{base}/{name}"
            try:
                link = stat.S_ISLNK(os.lstat(real).st_mode)
            except (OSError, ValueError):
                link = False  # what islink says of a path that does not exist
            return os.path.realpath(real) if link else real
    parent, name = os.path.split(path)
    if not name or name in (".", "..") or parent == path:
        return os.path.realpath(path)  # a root, a trailing separator, or a component realpath must resolve in order
    real = os.path.join(_real(parent), name)
    return os.path.realpath(real) if os.path.islink(real) else real


real_path = _norm  # for the hook: the same normalised, cached form of a path


def _prefix(folder: str) -> str:
    """What every path under `folder` (the folder itself aside) starts with."""
    return folder.rstrip(os.sep) + os.sep


def _under(path: str, folder: str) -> bool:
    return path == folder or path.startswith(_prefix(folder))


def _prefixes(folders: tuple[str, ...]) -> tuple[str, ...]:
    """`_prefix` of each folder, for one `str.startswith` call over them all."""
    return tuple(_prefix(f) for f in folders)


def _site_dirs() -> tuple[str, ...]:
    dirs: set[str] = set()
    try:
        dirs.update(site.getsitepackages())
    except AttributeError:  # some virtualenv builds lack it
        pass
    user = site.getusersitepackages() if hasattr(site, "getusersitepackages") else None
    if user:
        dirs.add(user)
    for name in ("purelib", "platlib"):
        dirs.add(sysconfig.get_paths()[name])
    dirs.update(p for p in sys.path if p and os.path.basename(p) in ("site-packages", "dist-packages"))
    return tuple(sorted({_norm(d) for d in dirs}))


def _stdlib_dirs() -> tuple[str, ...]:
    paths = sysconfig.get_paths()
    dirs = {paths["stdlib"], paths["platstdlib"]}
    # A virtualenv's sys.prefix differs from the base interpreter's, where the stdlib lives.
    dirs.add(os.path.dirname(os.__file__))
    return tuple(sorted({_norm(d) for d in dirs}))


def has_skip_pragma(source: str) -> bool:
    # The substring test first: the regex tries every position of the file (~0.16 ms for 20 KB of source, 4.8 ms
    # over boltons' 30 modules), the substring search none of them in a file that cannot match.
    return "covlens:" in source and PRAGMA_RE.search(source) is not None


class Policy:
    """Decides, for a module name and the origin of its spec, whether to instrument it and why (cached by path)."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.root = _norm(config.root)
        self.sources = tuple(_norm(s) for s in config.sources)
        self.site_dirs = _site_dirs()
        self.stdlib_dirs = _stdlib_dirs()
        # Every import is decided: one C-level startswith over all folders, not a generator of _under calls.
        self._site_prefixes = _prefixes(self.site_dirs)
        self._stdlib_prefixes = _prefixes(self.stdlib_dirs)
        self.self_dir = _norm(_SELF_DIR)
        self._root_prefix = _prefix(self.root)
        self._site_marker, self._dist_marker = f"{os.sep}site-packages{os.sep}", f"{os.sep}dist-packages{os.sep}"
        # The `source` decisions name their root: worked out once, not at every import.
        self._source_names = {source: self.relative(source) for source in self.sources}
        self._cache: dict[str, Decision] = {}
        self._lock = threading.Lock()

    # -- helpers -----------------------------------------------------------------------------------------

    def relative(self, path: str) -> str:
        """`path` relative to the project root, in posix form (for patterns and messages)."""
        norm = _norm(path)
        if os.sep == "/" and norm.startswith(self._root_prefix):
            # Every workspace import asks: the slice is what relpath gives a resolved path, at a tenth of the cost.
            return norm[len(self._root_prefix):]
        if _under(norm, self.root):
            return PurePosixPath(*os.path.relpath(norm, self.root).split(os.sep)).as_posix()
        return PurePosixPath(*norm.split(os.sep)).as_posix()

    def _matches(self, pattern: str, path: str, rel: str) -> bool:
        if os.path.isabs(pattern):
            return fnmatch.fnmatchcase(path, os.path.normcase(pattern))
        pat = pattern[2:] if pattern.startswith("./") else pattern
        # A bare folder name or "pkg/" excludes everything under it, as users expect.
        candidates = [pat]
        if not any(ch in pat for ch in "*?[") or pat.endswith("/"):
            candidates.append(pat.rstrip("/") + "/*")
        return any(fnmatch.fnmatchcase(rel, c) for c in candidates)

    def _is_test_file(self, rel: str) -> str | None:
        name = rel.rsplit("/", 1)[-1]
        for pattern in self.config.test_patterns:
            target = rel if "/" in pattern else name
            if fnmatch.fnmatchcase(target, pattern):
                return pattern
        return None

    # -- deciding -----------------------------------------------------------------------------------------

    def decide(self, module: str, origin: str | None, *, namespace: bool = False) -> Decision:
        """The Decision for `module` whose spec has `origin` (None for namespace packages and the like)."""
        if module == "covlens" or module.startswith("covlens."):
            return make(module, origin, "self", "covlens never instruments itself", "built-in rule: covlens package")
        if namespace or origin is None:
            what = "a namespace package (no __init__.py)" if namespace else "a module without a file"
            return make(module, origin, "no-source", f"{module} is {what}", "built-in rule: no source file")
        if origin in ("built-in", "frozen"):
            return make(module, None, "no-source", f"{module} is a {origin} module", "built-in rule: no source file")
        with self._lock:
            cached = self._cache.get(origin)
        if cached is not None:
            return cached if cached.module == module else Decision(
                module, cached.path, cached.action, cached.reason, cached.detail, cached.rule)
        decision = self._decide_path(module, origin)
        with self._lock:
            self._cache[origin] = decision
        return decision

    def _decide_path(self, module: str, origin: str) -> Decision:
        path = _norm(origin)
        if _under(path, self.self_dir):
            return make(module, origin, "self", "part of covlens itself; never instrumented",
                        "built-in rule: covlens package")
        lower = origin.lower()
        if not lower.endswith(SOURCE_SUFFIXES):
            if lower.endswith((".pyc", ".pyo")):
                kind = "bytecode only (no .py source next to it)"
            elif lower.endswith(EXTENSION_SUFFIXES) or ".cpython-" in lower:
                kind = "an extension module (compiled code)"
            else:
                kind = f"loaded from {os.path.basename(origin)!r}, which is not Python source"
            return make(module, origin, "no-source", f"{module} is {kind}", "built-in rule: no source file")
        # site-packages sits inside the stdlib folder of many layouts: test it first. (A file's folder named so: as a
        # component, so with a separator on both sides.)
        if (self._site_marker in path or self._dist_marker in path or path.startswith(self._site_prefixes)
                or path in self.site_dirs):
            return make(module, origin, "third-party", f"installed in {self._site_dir_of(path)}",
                        "built-in rule: site-packages")
        if path.startswith(self._stdlib_prefixes) or path in self.stdlib_dirs:
            return make(module, origin, "stdlib", "part of Python's standard library", "built-in rule: stdlib")
        rel = self.relative(origin)
        in_root = _under(path, self.root)
        if self.config.include and in_root:
            if not any(self._matches(p.pattern, path, rel) for p in self.config.include):
                patterns = ", ".join(repr(p.pattern) for p in self.config.include)
                return make(module, origin, "outside-source", f"{rel} matches none of the include patterns {patterns}",
                            self.config.include[0].origin)
        for pattern in self.config.exclude:
            if self._matches(pattern.pattern, path, rel):
                return make(module, origin, "excluded", f"{rel} matches {pattern.pattern!r} ({pattern.origin})",
                            pattern.origin)
        if not self.config.instrument_tests and in_root:
            pattern = self._is_test_file(rel)
            if pattern is not None:
                origin_of = ("pyproject.toml [tool.covlens] test_patterns"
                             if self.config.config_file and self.config.test_patterns != DEFAULT_TEST_PATTERNS
                             else "default test_patterns")
                return make(module, origin, "test-file", f"{rel} matches the test pattern {pattern!r}", origin_of)
        if self.sources:
            for source in self.sources:
                if _under(path, source):
                    return make(module, origin, "source",
                                f"under source root {self._source_names[source]}/ ({self.config.source_origin})",
                                self.config.source_origin)
            roots = ", ".join(self._source_names[s] + "/" for s in self.sources)
            where = "in the workspace" if in_root else "outside the workspace"
            return make(module, origin, "outside-source", f"{rel} is {where} but outside the source roots {roots}",
                        self.config.source_origin)
        if in_root:
            return make(module, origin, "workspace", f"{rel} is inside the workspace and no exclusion matches",
                        "default: the workspace when no source is configured")
        return make(module, origin, "outside-source", f"{origin} is outside the workspace {self.root}",
                    "default: the workspace when no source is configured")

    def _site_dir_of(self, path: str) -> str:
        for d in self.site_dirs:
            if _under(path, d):
                return d
        parts = path.split(os.sep)
        for marker in ("site-packages", "dist-packages"):
            if marker in parts:
                return os.sep.join(parts[: parts.index(marker) + 1])
        return os.path.dirname(path)
