"""Moving published lines with unsaved edits: a map from the lines a result was measured on to the buffer's lines."""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from lsprotocol import types


class LineMap:
    """Where each line of the measured text (0-based) is now in the buffer, or None when the edit removed it.

    A line is anchored at its start: an edit that begins before a line's first character and ends after it
    swallows the line (it is dropped); lines wholly after the edit move by the number of lines it added or removed.
    """

    def __init__(self, line_count: int) -> None:
        self._now: list[int | None] = list(range(line_count))
        self.moved = False  # True once any edit touched the map (the published lines are then stale)

    @classmethod
    def between(cls, measured: str, buffer: str) -> LineMap:
        """The map from `measured` to `buffer` when only both texts are known (full-text changes, start-up)."""
        old, new = _lines(measured), _lines(buffer)
        result = cls(len(old))
        if old == new:
            return result
        result.moved = True
        result._now = [None] * len(old)
        matcher = difflib.SequenceMatcher(None, old, new, autojunk=False)
        for block in matcher.get_matching_blocks():
            for k in range(block.size):
                result._now[block.a + k] = block.b + k
        return result

    def apply_texts(self, old_text: str, new_text: str) -> None:
        """Follow a change known only by the texts before and after it (a full-text didChange): diff them."""
        self.moved = True
        step = LineMap.between(old_text, new_text)
        self._now = [None if n is None else step.to_buffer(n) for n in self._now]

    def apply(self, change: types.TextDocumentContentChangePartial) -> None:
        """Follow one ranged content change of didChange."""
        self.moved = True
        start, end = change.range.start, change.range.end
        delta = change.text.count("\n") - (end.line - start.line)
        now: list[int | None] = []
        for line in self._now:
            if line is None:
                now.append(None)
            elif (line, 0) < (start.line, start.character):
                now.append(line)  # before the edit
            elif (line, 0) >= (end.line, end.character):
                now.append(line + delta)  # after it
            else:
                now.append(None)  # its first character was replaced
        self._now = now

    def to_buffer(self, line: int) -> int | None:
        """Where measured line `line` (0-based) is now."""
        return self._now[line] if 0 <= line < len(self._now) else None

    def to_measured(self, line: int) -> int | None:
        """Which measured line is now at buffer line `line`, if any."""
        for measured, now in enumerate(self._now):
            if now == line:
                return measured
        return None

    def lines(self, measured: Iterable[int]) -> list[int]:
        """The buffer lines of the measured `lines` that still exist, sorted."""
        return sorted(n for n in (self.to_buffer(line) for line in measured) if n is not None)


@dataclass
class Document:
    """An open document: its buffer, and how the lines of the published results map onto it."""

    uri: str
    path: str
    version: int | None
    text: str
    line_map: LineMap | None = None  # None: the buffer is the text the results were measured on

    @property
    def moved(self) -> bool:
        return self.line_map is not None and self.line_map.moved

    def to_buffer(self, line: int) -> int | None:
        return line if self.line_map is None else self.line_map.to_buffer(line)

    def to_measured(self, line: int) -> int | None:
        return line if self.line_map is None else self.line_map.to_measured(line)

    def measured_on(self, text: str | None) -> None:
        """New results were measured on `text` (None: unknown, e.g. the file is gone): map them onto the buffer."""
        if text is None or text == self.text:
            self.line_map = None
        else:
            self.line_map = LineMap.between(text, self.text)


class OpenDocuments:
    """The documents the client has open, by uri and by (normalised) path."""

    def __init__(self) -> None:
        self._by_uri: dict[str, Document] = {}

    def __iter__(self) -> Iterator[Document]:
        return iter(list(self._by_uri.values()))

    def get(self, uri: str) -> Document | None:
        return self._by_uri.get(uri)

    def by_path(self, path: str) -> Document | None:
        key = _norm(path)
        for doc in self._by_uri.values():
            if _norm(doc.path) == key:
                return doc
        return None

    def open(self, uri: str, path: str, version: int | None, text: str, measured: str | None) -> Document:
        doc = Document(uri, path, version, text)
        doc.measured_on(measured)
        self._by_uri[uri] = doc
        return doc

    def change(self, uri: str, version: int | None, changes: Sequence[types.TextDocumentContentChangeEvent],
               new_text: str) -> Document | None:
        """Follow didChange: move the mapped lines with each change; `new_text` is the buffer after all of them."""
        doc = self._by_uri.get(uri)
        if doc is None:
            return None
        if doc.line_map is None:
            doc.line_map = LineMap(len(_lines(doc.text)))
        if all(isinstance(c, types.TextDocumentContentChangePartial) for c in changes):
            for change in changes:
                doc.line_map.apply(change)
        else:
            doc.line_map.apply_texts(doc.text, new_text)
        doc.text = new_text
        doc.version = version
        return doc

    def close(self, uri: str) -> None:
        self._by_uri.pop(uri, None)


def _lines(text: str) -> list[str]:
    # LSP's line breaks only: str.splitlines would also split at form feeds and other separators.
    return _BREAK.split(text)


_BREAK = re.compile(r"\r\n|\r|\n")


def _norm(path: str) -> str:
    return os.path.normcase(os.path.realpath(path))
