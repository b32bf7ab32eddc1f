"""Editor settings (initializationOptions, the `covlens` configuration section), validated and layered over Config."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from lsprotocol import types

from covlens.config import ENGINES, Config
from covlens.instrument.decision import REASONS

SEVERITIES: dict[str, types.DiagnosticSeverity | None] = {
    "error": types.DiagnosticSeverity.Error,
    "warning": types.DiagnosticSeverity.Warning,
    "information": types.DiagnosticSeverity.Information,
    "hint": types.DiagnosticSeverity.Hint,
    "off": None,
}

# What a reason's diagnostic looks like unless the user says otherwise (docs/protocol.md "Settings"):
# what needs attention stands out, plainly instrumented modules stay quiet.
DEFAULT_SEVERITY: dict[str, str] = {
    "error": "error",
    "already-imported": "warning",
    "not-imported": "warning",
    "guard": "warning",
    "excluded": "information",
    "outside-source": "information",
    "test-file": "information",
    "pragma": "information",
    "source": "hint",
    "workspace": "hint",
}

# Reasons of modules outside the workspace: they have no document to put a diagnostic on.
NOT_PUBLISHED = frozenset({"stdlib", "third-party", "self", "no-source"})


@dataclass(frozen=True)
class Settings:
    """The editor-side settings of docs/protocol.md; every field has the documented default."""

    auto_run: bool = True
    pytest_args: tuple[str, ...] = ()
    debounce_ms: int = 300
    save_debounce_ms: int = 20  # an editor's save is one deliberate change: start (almost) at once
    test_selection: str = "affected"  # "affected": the tests a change affects first; "all": every test each time
    follow_up_full_run: bool = True  # after an affected run, every test in the background
    warm_worker: bool = True  # fork each run from a process with pytest already imported (POSIX)
    interpreter: str | None = None
    engine: str | None = None  # None: as pyproject.toml says (itself "auto" by default)
    timeout: float | None = None  # None: as pyproject.toml says
    severity: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_SEVERITY))
    missed_lines_as_hints: bool = False

    @property
    def python(self) -> str:
        """The interpreter that runs the tests."""
        return self.interpreter or sys.executable

    def severity_of(self, reason: str) -> types.DiagnosticSeverity | None:
        """The diagnostic severity of a decision with `reason`, None when it is not published."""
        if reason in NOT_PUBLISHED:
            return None
        return SEVERITIES[self.severity.get(reason, "hint")]

    def apply_to(self, config: Config) -> Config:
        """The project's Config with the editor's overrides on top (pytestArgs come after pyproject's)."""
        changes: dict[str, Any] = {}
        if self.pytest_args:
            changes["pytest_args"] = (*config.pytest_args, *self.pytest_args)
        if self.engine is not None:
            changes["engine"] = self.engine
        if self.timeout is not None:
            changes["timeout"] = self.timeout
        return config.with_overrides(**changes) if changes else config

    def merged(self, data: Any) -> tuple[Settings, list[str]]:
        """These settings with those in `data` (a client's object) on top, and a message for each value ignored."""
        if data is None:
            return self, []
        if not isinstance(data, Mapping):
            return self, [f"covlens settings must be an object, got {_show(data)}; using the defaults"]
        problems: list[str] = []
        changes: dict[str, Any] = {}
        for key, value in data.items():
            reader = _READERS.get(key)
            if reader is None:
                problems.append(f"unknown covlens setting `{key}` ignored; known: {', '.join(sorted(_READERS))}")
                continue
            try:
                name, parsed = reader(value, self)
            except ValueError as exc:
                problems.append(f"covlens setting `{key}` ignored: {exc}")
                continue
            changes[name] = parsed
        return replace(self, **changes), problems


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _bool(key: str) -> Any:
    def read(value: Any, _: Settings) -> tuple[str, bool]:
        if not isinstance(value, bool):
            raise ValueError(f"must be true or false, got {_show(value)}")
        return key, value
    return read


def _pytest_args(value: Any, _: Settings) -> tuple[str, tuple[str, ...]]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"must be a list of strings, got {_show(value)}")
    return "pytest_args", tuple(value)


def _debounce(value: Any, _: Settings) -> tuple[str, int]:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise ValueError(f"must be a number of milliseconds >= 0, got {_show(value)}")
    return "debounce_ms", int(value)


def _save_debounce(value: Any, _: Settings) -> tuple[str, int]:
    return "save_debounce_ms", _debounce(value, _)[1]


SELECTIONS = ("affected", "all")


def _test_selection(value: Any, _: Settings) -> tuple[str, str]:
    if value not in SELECTIONS:
        raise ValueError(f"must be one of {', '.join(SELECTIONS)}, got {_show(value)}")
    return "test_selection", value


def _interpreter(value: Any, _: Settings) -> tuple[str, str | None]:
    if value is None or value == "":
        return "interpreter", None
    if not isinstance(value, str):
        raise ValueError(f"must be the path of a Python executable, got {_show(value)}")
    return "interpreter", value


def _engine(value: Any, _: Settings) -> tuple[str, str]:
    if value not in ENGINES:
        raise ValueError(f"must be one of {', '.join(ENGINES)}, got {_show(value)}")
    return "engine", value


def _timeout(value: Any, _: Settings) -> tuple[str, float]:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise ValueError(f"must be a positive number of seconds, got {_show(value)}")
    return "timeout", float(value)


def _severity(value: Any, current: Settings) -> tuple[str, dict[str, str]]:
    if not isinstance(value, Mapping):
        raise ValueError(f"must be an object of reason -> severity, got {_show(value)}")
    merged = dict(current.severity)
    for reason, level in value.items():
        if reason not in REASONS:
            raise ValueError(f"unknown reason {reason!r}; reasons are listed in docs/reasons.md")
        if level not in SEVERITIES:
            raise ValueError(f"severity of {reason!r} must be one of {', '.join(SEVERITIES)}, got {_show(level)}")
        merged[reason] = level
    return "severity", merged


_READERS = {
    "autoRun": _bool("auto_run"),
    "pytestArgs": _pytest_args,
    "debounceMs": _debounce,
    "saveDebounceMs": _save_debounce,
    "testSelection": _test_selection,
    "followUpFullRun": _bool("follow_up_full_run"),
    "warmWorker": _bool("warm_worker"),
    "interpreter": _interpreter,
    "engine": _engine,
    "timeout": _timeout,
    "severity": _severity,
    "missedLinesAsHints": _bool("missed_lines_as_hints"),
}
