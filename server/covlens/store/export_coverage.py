"""A coverage.py data file written with coverage's public data API, one coverage context per test."""

from __future__ import annotations

import os
from collections.abc import Mapping

from coverage import CoverageData

from covlens.model import COLLECTION_CONTEXT
from covlens.store.export_common import measured_files
from covlens.store.project import ProjectCoverage


def write_coverage_data(project: ProjectCoverage, contexts: Mapping[str, Mapping[str, frozenset[int]]],
                        dest: str | os.PathLike[str]) -> None:
    """Write `dest` so that `coverage report/html/xml --data-file=dest` show covlens's results.

    `contexts` is `Store.context_hits()`: each test's lines become the coverage context named by its nodeid
    (`coverage html --show-contexts` lists them); lines run at import time go to coverage's default context.
    Measured files that nothing ran are recorded as measured, so coverage.py reports them at 0%.
    """
    dest = os.path.abspath(dest)
    # Written next to the destination then moved, so a reader never opens a half-written database.
    tmp = f"{dest}.covlens-tmp"
    for leftover in (tmp, f"{tmp}-journal"):
        if os.path.exists(leftover):
            os.unlink(leftover)
    measured = {fc.path for _, fc in measured_files(project)}
    data = CoverageData(basename=tmp, suffix=False)
    for context in sorted(contexts):
        per_file = {path: sorted(lines) for path, lines in contexts[context].items() if path in measured and lines}
        if not per_file:
            continue
        data.set_context(None if context == COLLECTION_CONTEXT else context)
        data.add_lines(per_file)
    data.touch_files(sorted(measured))
    data.write()
    data.close()  # release the SQLite handle before the file moves (Windows cannot rename an open file)
    os.replace(tmp, dest)
