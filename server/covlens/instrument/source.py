"""A module's source read once: its bytes key the code cache, its text is decoded only when something needs it."""

from __future__ import annotations

import importlib.util

from covlens.instrument.policy import has_skip_pragma

_MARKER = b"covlens:"  # what every skip-file pragma contains; source encodings are ASCII-compatible (PEP 263)


class Source:
    """The bytes of a source file (as a SourceFileLoader reads them), or the text another loader gave.

    On a cache hit nothing needs the text: decoding it (the coding cookie, the newlines) is left until analysis or
    compilation asks for it, which is only on a miss.
    """

    __slots__ = ("_data", "_text")

    def __init__(self, data: bytes | None = None, text: str | None = None) -> None:
        if data is None and text is None:
            raise ValueError("a Source needs its bytes or its text")
        self._data = data
        self._text = text

    @property
    def data(self) -> bytes:
        """What the cache key hashes: the file's bytes, or the UTF-8 of the text a loader gave."""
        if self._data is None:
            assert self._text is not None
            self._data = self._text.encode("utf-8", "surrogatepass")
        return self._data

    @property
    def text(self) -> str:
        if self._text is None:
            assert self._data is not None
            self._text = importlib.util.decode_source(self._data)
        return self._text

    def skips(self) -> bool:
        """True if the file opts out with `# covlens: skip-file`; decodes nothing when the marker is not there."""
        if self._text is None and _MARKER not in self.data:
            return False
        return has_skip_pragma(self.text)
