"""Line hits per file for the current context (one test), drained at each context switch."""

from __future__ import annotations

import threading
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
        self.context = ""

    def file(self, path: str, module: str, lines: SourceLines) -> FileHits:
        """The FileHits of `path`, created once; a reload keeps the same set so hits keep counting."""
        with self._lock:
            current = self._files.get(path)
            if current is None:
                current = self._files[path] = FileHits(path, module, lines)
                self._all = (*self._all, current)
            elif current.lines != lines:
                # The source changed under a reload: keep the set object (probes hold it), update the facts.
                current.lines = lines
            return current

    def files(self) -> dict[str, FileHits]:
        with self._lock:
            return dict(self._files)

    def drain(self) -> dict[str, frozenset[int]]:
        """Reported lines hit since the last drain, per path (files with no hits are left out); clears the sets."""
        out: dict[str, frozenset[int]] = {}
        for fh in self._all:
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

    def switch_context(self, name: str) -> tuple[str, dict[str, frozenset[int]]]:
        """Start context `name`; return the previous context's name and its hits."""
        previous = self.context
        hits = self.drain()
        self.context = name
        return previous, hits
