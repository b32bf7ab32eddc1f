"""Helpers shared by the exports: which files are measured, percentages as coverage.py shows them, atomic writes."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator

from covlens.instrument.decision import INSTRUMENTED, NOT_IMPORTED
from covlens.model import FileCoverage
from covlens.store.project import ProjectCoverage


def measured_files(project: ProjectCoverage) -> Iterator[tuple[str, FileCoverage]]:
    """(path relative to the root, coverage) of every instrumented or not-imported file, sorted by path."""
    rows = [(project.relpath(fc.path), fc) for fc in project.files.values()
            if fc.decision.action in (INSTRUMENTED, NOT_IMPORTED)]
    yield from sorted(rows, key=lambda row: row[0])


def display_percent(percent: float, precision: int = 0) -> str:
    """A percentage as coverage.py displays it: "0" only when nothing ran, "100" only when everything did."""
    near0 = 1.0 / 10**precision
    if 0 < percent < near0:
        percent = near0
    elif 100.0 - near0 < percent < 100:
        percent = 100.0 - near0
    else:
        percent = round(percent, precision)
    return f"{percent:.{precision}f}"


def write_atomic(dest: str | os.PathLike[str], text: str) -> None:
    """Write `text` to `dest` through a temporary file in the same folder and os.replace."""
    folder = os.path.dirname(os.path.abspath(dest))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".covlens-", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
            f.write(text)
        os.replace(tmp, dest)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
