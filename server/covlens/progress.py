"""The progress line of a run in the terminal: one rewriting line on a TTY, a few plain lines otherwise."""

from __future__ import annotations

import os
import sys
from collections import Counter
from typing import Any, TextIO


class Progress:
    """Fed the runner's events (`on_event`); shows tests done/collected and the counts per outcome."""

    def __init__(self, out: TextIO, *, tty: bool | None = None) -> None:
        self.out = out
        self.tty = out.isatty() if tty is None else tty
        self.total: int | None = None
        self.done = 0
        self.counts: Counter[str] = Counter()
        self._shown_step = -1
        self._line_open = False

    def on_event(self, event: Any) -> None:
        """Called by the session for every event; ignores kinds it does not know."""
        kind = getattr(event, "kind", None)
        if kind == "collected":
            self.total = event.total
            if not self.tty:
                self._print(f"collected {self.total} test{'s' if self.total != 1 else ''}")
        elif kind == "test-finished":
            self.done += 1
            self.counts[event.outcome.outcome] += 1
            if event.outcome.outcome in ("failed", "error"):
                self._print(f"{event.outcome.outcome.upper()} {event.outcome.nodeid}")
            self._show()
        elif kind in ("notice", "worker-failed"):
            self._print(f"covlens: {event.message}")

    def _status(self) -> str:
        of = f"/{self.total}" if self.total is not None else ""
        counts = ", ".join(f"{n} {k}" for k, n in sorted(self.counts.items()))
        return f"running tests: {self.done}{of} done" + (f" ({counts})" if counts else "")

    def _show(self) -> None:
        if self.tty:
            width = _width()
            self.out.write("\r" + self._status()[:width].ljust(width))
            self.out.flush()
            self._line_open = True
            return
        # Plain output (a log, CI): a line at every tenth of the run rather than one per test.
        if self.total:
            step = self.done * 10 // self.total
            if step != self._shown_step:
                self._shown_step = step
                self._print(self._status())

    def _print(self, text: str) -> None:
        if self._line_open:
            self.out.write("\r" + " " * _width() + "\r")
            self._line_open = False
        self.out.write(text + "\n")
        self.out.flush()
        if self.tty and self.done:
            self._show()

    def finish(self) -> None:
        """Clear the rewriting line (TTY) so the report starts on a clean line."""
        if self._line_open:
            self.out.write("\r" + " " * _width() + "\r")
            self.out.flush()
            self._line_open = False


def _width() -> int:
    """Columns of the terminal the status line rewrites, minus one."""
    return terminal_columns() - 1


def terminal_columns() -> int:
    """The terminal's width as shutil.get_terminal_size finds it: $COLUMNS, else stdout's terminal, else 80.

    Without shutil: importing it (and with it bz2, lzma, zlib) costs ~3 ms, and the CLI asks for the width at every
    start (argparse sizes a help formatter for each argument it adds).
    """
    try:
        columns = int(os.environ.get("COLUMNS", "0"))
    except ValueError:
        columns = 0
    if columns > 0:
        return columns
    try:
        columns = os.get_terminal_size(sys.__stdout__.fileno()).columns  # type: ignore[union-attr]
    except (AttributeError, ValueError, OSError):
        columns = 0
    return columns if columns > 0 else 80
