"""Line hits per file for the current context (one test), drained at each context switch."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass, field

from covlens.instrument.lines import SourceLines


@dataclass(eq=False)
class FileHits:
    """The hit set of one instrumented file; engines add raw line numbers to `hits` (the same set object for life)."""

    path: str
    module: str
    lines: SourceLines
    hits: set[int] = field(default_factory=set)


class Recorder:
    """All instrumented files and their hits; `switch_context` hands back the finished context's lines."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._files: dict[str, FileHits] = {}
        self._all: tuple[FileHits, ...] = ()  # the same, for drain(): read at every context switch, rarely changed
        self._by_hits: dict[int, FileHits] = {}  # id(fh.hits) -> fh: the set lives as long as its FileHits
        self.context = ""

    def file(self, path: str, module: str, lines: SourceLines) -> FileHits:
        """The FileHits of `path`, created once; a reload keeps the same set so hits keep counting."""
        with self._lock:
            current = self._files.get(path)
            if current is None:
                current = self._files[path] = FileHits(path, module, lines)
                self._all = (*self._all, current)
                self._by_hits[id(current.hits)] = current
            elif current.lines != lines:
                # The source changed under a reload: keep the set object (probes hold it), update the facts.
                current.lines = lines
            return current

    def files(self) -> dict[str, FileHits]:
        with self._lock:
            return dict(self._files)

    def drain(self, touched: Iterable[set[int]] | None = None) -> dict[str, frozenset[int]]:
        """Reported lines hit since the last drain, per path (files with no hits are left out); clears the sets.

        `touched`: the only hit sets written to since the last drain, when the engine knows them; None looks at every
        file. A test touches a few of the files imported, and there are two switches per test: looking at every file
        each time cost boltons' suite (30 files, 672 tests) 14.5 ms, and grows with the size of the project.
        """
        out: dict[str, frozenset[int]] = {}
        files: Iterable[FileHits] = self._all
        if touched is not None:
            by_hits = self._by_hits
            files = [fh for fh in (by_hits.get(id(hits)) for hits in touched) if fh is not None]
        for fh in files:
            hits = fh.hits
            if not hits:
                continue
            raw = hits.copy()
            # Clear in place: probes keep a reference to this very set. A hit racing with the copy above
            # lands in the next context, never lost twice over.
            hits.difference_update(raw)
            reported = fh.lines.reported(raw)
            if reported:
                out[fh.path] = reported
        return out

    def switch_context(self, name: str,
                       touched: Iterable[set[int]] | None = None) -> tuple[str, dict[str, frozenset[int]]]:
        """Start context `name`; return the previous context's name and its hits (`touched` as for drain)."""
        previous = self.context
        hits = self.drain(touched)
        self.context = name
        return previous, hits
