"""Helpers shared by the exports: which files are measured, percentages as coverage.py shows them, atomic writes."""

from __future__ import annotations

import os
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
    """Write `text` to `dest` through a temporary file in the same folder and os.replace.

    The temporary file is made with the permissions of any new file (0666 less the umask): `tempfile.mkstemp`'s
    0600 would follow it into the report, which a CI step or another user then could not read.
    """
    folder = os.path.dirname(os.path.abspath(dest))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = _new_file(folder)
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


def _new_file(folder: str) -> tuple[int, str]:
    """(fd, path) of a new, empty file in `folder` whose name no other process picked."""
    for _ in range(100):
        path = os.path.join(folder, f".covlens-{os.getpid()}-{os.urandom(6).hex()}.tmp")
        try:
            return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o666), path
        except FileExistsError:
            continue
    raise FileExistsError(f"no free temporary file name in {folder}")

