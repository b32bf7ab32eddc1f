"""Which extra pytest arguments narrow a run: a narrowed run updates only the tests it ran, and keeps the others."""

from __future__ import annotations

import re
from collections.abc import Sequence

# Options that change what pytest prints or how it runs the tests, never which tests are collected and run to the
# end. Anything else (a path or node id, -k, -m, --lf, -x, --deselect, --ignore, -p, -c, -o, an option covlens
# does not know) narrows, as far as covlens can tell: the safe side, since a narrowed run loses nothing.
_SHORT_FLAGS = re.compile(r"-[qvsl]+")  # -q, -vv, -sv, -l...
_LONG_FLAGS = frozenset({
    "--quiet", "--verbose", "--showlocals", "--no-header", "--no-summary", "--disable-warnings",
    "--disable-pytest-warnings", "--full-trace", "--no-showlocals",
})
# Options taking a value, as `--tb=short`, `--tb short`, or (short ones) `-rA`, `-r A`.
_VALUED_LONG = frozenset({
    "--tb", "--color", "--code-highlight", "--durations", "--durations-min", "--pythonwarnings", "--capture",
    "--numprocesses",  # pytest-xdist: the same tests, in more processes
})
_VALUED_SHORT = frozenset({"-r", "-W", "-n"})
# `-p no:cacheprovider` only stops pytest's cache (which --lf/--ff, themselves narrowing, would read).
_HARMLESS_PLUGIN_SWITCHES = frozenset({"no:cacheprovider"})


def narrowing_argument(pytest_args: Sequence[str]) -> str | None:
    """The first of `pytest_args` that may narrow the run (None when none does: the run is a full one)."""
    args = list(pytest_args)
    i = 0
    while i < len(args):
        arg = args[i]
        if arg in _LONG_FLAGS or _SHORT_FLAGS.fullmatch(arg):
            i += 1
            continue
        name, eq, _ = arg.partition("=")
        if name in _VALUED_LONG:
            i += 1 if eq else 2
            continue
        if arg[:2] in _VALUED_SHORT:
            i += 1 if len(arg) > 2 else 2
            continue
        if arg == "-p" and i + 1 < len(args) and args[i + 1] in _HARMLESS_PLUGIN_SWITCHES:
            i += 2
            continue
        if arg.startswith("-p") and arg[2:] in _HARMLESS_PLUGIN_SWITCHES:
            i += 1
            continue
        return arg
    return None
