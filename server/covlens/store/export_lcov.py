"""LCOV export (SF/DA/LF/LH records), the format Coverage Gutters and Codecov read."""

from __future__ import annotations

import os

from covlens.store.export_common import measured_files, write_atomic
from covlens.store.project import ProjectCoverage


def lcov_text(project: ProjectCoverage) -> str:
    """The LCOV tracefile of every measured file, paths relative to the project root.

    A DA count is the number of tests that ran the line; a line run only while importing counts 1, a missed line 0.
    """
    out: list[str] = []
    for rel, fc in measured_files(project):
        out.append("TN:")
        out.append(f"SF:{rel}")
        for line in sorted(fc.statements):
            count = fc.hits.get(line, 1) if line in fc.executed else 0
            out.append(f"DA:{line},{count}")
        out.append(f"LF:{len(fc.statements)}")
        out.append(f"LH:{len(fc.covered)}")
        out.append("end_of_record")
    return "\n".join(out) + ("\n" if out else "")


def write_lcov(project: ProjectCoverage, dest: str | os.PathLike[str]) -> None:
    """Write the LCOV tracefile to `dest` (atomically: a reader never sees half a file)."""
    write_atomic(dest, lcov_text(project))
