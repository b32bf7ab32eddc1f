"""Project configuration: `[tool.covlens]` (and `[tool.coverage.run]` source/omit) from pyproject.toml, validated."""

from __future__ import annotations

import json
import os
import re
import sys
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

ENGINES = ("auto", "ast", "monitor")
DEFAULT_TEST_PATTERNS = ("test_*.py", "*_test.py", "conftest.py")
DEFAULT_TIMEOUT = 600.0


class ConfigError(Exception):
    """An invalid configuration, located at a file, line and key, with what to do."""

    def __init__(self, path: str, line: int | None, key: str | None, message: str) -> None:
        self.path = path
        self.line = line
        self.key = key
        self.message = message
        where = f"{path}:{line}" if line else path
        what = f"[{key}] " if key else ""
        super().__init__(f"{where}: {what}{message}")


@dataclass(frozen=True)
class Pattern:
    """A path pattern and where it came from (the rule shown in a Decision)."""

    pattern: str
    origin: str  # e.g. "pyproject.toml [tool.covlens] exclude"


@dataclass(frozen=True)
class Config:
    """Everything covlens needs to know about a project; frozen so it can cross into the worker as JSON."""

    root: str
    sources: tuple[str, ...] = ()
    source_origin: str | None = None
    include: tuple[Pattern, ...] = ()
    exclude: tuple[Pattern, ...] = ()
    test_patterns: tuple[str, ...] = DEFAULT_TEST_PATTERNS
    instrument_tests: bool = False
    pytest_args: tuple[str, ...] = ()
    timeout: float = DEFAULT_TIMEOUT
    engine: str = "auto"
    contexts: bool = True
    config_file: str | None = None

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> Config:
        data = json.loads(text)
        data["sources"] = tuple(data["sources"])
        data["include"] = tuple(Pattern(**p) for p in data["include"])
        data["exclude"] = tuple(Pattern(**p) for p in data["exclude"])
        data["test_patterns"] = tuple(data["test_patterns"])
        data["pytest_args"] = tuple(data["pytest_args"])
        return cls(**data)

    def with_overrides(self, **changes: Any) -> Config:
        return replace(self, **changes)


@dataclass
class _Reader:
    path: str
    text: str
    table: str
    data: dict[str, Any] = field(default_factory=dict)

    def line_of(self, key: str) -> int | None:
        """Best-effort line of `key` inside this file's `[table]` (tomllib keeps no positions)."""
        in_table = False
        header = re.compile(r"^\s*\[([^\]]+)\]\s*(#.*)?$")
        for number, line in enumerate(self.text.splitlines(), start=1):
            m = header.match(line)
            if m:
                in_table = m.group(1).strip() == self.table
                continue
            if in_table and re.match(rf"^\s*{re.escape(key)}\s*=", line):
                return number
        return None

    def strings(self, key: str, default: tuple[str, ...] = ()) -> tuple[str, ...]:
        value = self.data.get(key, None)
        if value is None:
            return default
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(self.path, self.line_of(key), key,
                              f"`{key}` in [{self.table}] must be a list of strings, got {value!r}")
        return tuple(value)

    def boolean(self, key: str, default: bool) -> bool:
        value = self.data.get(key, default)
        if not isinstance(value, bool):
            raise ConfigError(self.path, self.line_of(key), key,
                              f"`{key}` in [{self.table}] must be true or false, got {value!r}")
        return value


KNOWN_KEYS = {"source", "include", "exclude", "test_patterns", "instrument_tests", "pytest_args",
              "timeout", "engine", "contexts"}


def find_root(start: str | os.PathLike[str]) -> Path:
    """The project root: the nearest folder at or above `start` with a pyproject.toml, else `start`."""
    here = Path(start).resolve()
    for folder in (here, *here.parents):
        if (folder / "pyproject.toml").is_file():
            return folder
    return here


def load(root: str | os.PathLike[str]) -> Config:
    """Read and validate the configuration of the project at `root` (raises ConfigError)."""
    root_path = Path(root).resolve()
    pyproject = root_path / "pyproject.toml"
    if not pyproject.is_file():
        return Config(root=str(root_path))
    text = pyproject.read_text(encoding="utf-8", errors="replace")
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        m = re.search(r"line (\d+)", str(exc))
        raise ConfigError(str(pyproject), int(m.group(1)) if m else None, None,
                          f"pyproject.toml is not valid TOML ({exc}); fix the file and save it again") from None
    tool = document.get("tool", {}) if isinstance(document.get("tool", {}), dict) else {}
    ours = _Reader(str(pyproject), text, "tool.covlens", _table(tool, "covlens", pyproject, text))
    theirs = _Reader(str(pyproject), text, "tool.coverage.run",
                     _table(tool.get("coverage", {}) if isinstance(tool.get("coverage"), dict) else {}, "run",
                            pyproject, text))

    unknown = sorted(set(ours.data) - KNOWN_KEYS)
    if unknown:
        key = unknown[0]
        raise ConfigError(str(pyproject), ours.line_of(key), key,
                          f"unknown key `{key}` in [tool.covlens]; known keys: {', '.join(sorted(KNOWN_KEYS))}")

    rel = pyproject.name
    sources: tuple[str, ...] = ()
    source_origin: str | None = None
    if "source" in ours.data:
        sources = ours.strings("source")
        source_origin = f"{rel} [tool.covlens] source"
    elif "source" in theirs.data:
        sources = theirs.strings("source")
        source_origin = f"{rel} [tool.coverage.run] source"
    resolved_sources = tuple(_resolve_source(root_path, s) for s in sources)
    for given, resolved in zip(sources, resolved_sources):
        if not Path(resolved).exists():
            reader = ours if "source" in ours.data else theirs
            raise ConfigError(str(pyproject), reader.line_of("source"), "source",
                              f"source root {given!r} does not exist under {root_path}; fix the path or remove it")

    exclude = tuple(Pattern(p, f"{rel} [tool.covlens] exclude") for p in ours.strings("exclude"))
    exclude += tuple(Pattern(p, f"{rel} [tool.coverage.run] omit") for p in theirs.strings("omit"))
    include = tuple(Pattern(p, f"{rel} [tool.covlens] include") for p in ours.strings("include"))

    engine = ours.data.get("engine", "auto")
    if engine not in ENGINES:
        raise ConfigError(str(pyproject), ours.line_of("engine"), "engine",
                          f"`engine` must be one of {', '.join(ENGINES)}, got {engine!r}")
    timeout = ours.data.get("timeout", DEFAULT_TIMEOUT)
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0:
        raise ConfigError(str(pyproject), ours.line_of("timeout"), "timeout",
                          f"`timeout` must be a positive number of seconds, got {timeout!r}")

    return Config(
        root=str(root_path),
        sources=resolved_sources,
        source_origin=source_origin,
        include=include,
        exclude=exclude,
        test_patterns=ours.strings("test_patterns", DEFAULT_TEST_PATTERNS),
        instrument_tests=ours.boolean("instrument_tests", False),
        pytest_args=ours.strings("pytest_args"),
        timeout=float(timeout),
        engine=engine,
        contexts=ours.boolean("contexts", True),
        config_file=str(pyproject),
    )


def _table(parent: dict[str, Any], name: str, path: Path, text: str) -> dict[str, Any]:
    value = parent.get(name, {})
    if not isinstance(value, dict):
        raise ConfigError(str(path), None, name, f"`{name}` must be a table")
    return value


def _resolve_source(root: Path, source: str) -> str:
    candidate = (root / source).resolve()
    if candidate.exists():
        return str(candidate)
    # coverage.py also accepts package names as sources: "pkg.sub" -> pkg/sub or src/pkg/sub.
    dotted = source.replace(".", os.sep)
    for base in (root, root / "src"):
        if (base / dotted).exists():
            return str((base / dotted).resolve())
    return str(candidate)
