"""Ends an import's search for a module no finder has, so that Python does not ask every finder a second time."""

from __future__ import annotations

import sys
from collections.abc import Callable
from importlib import _bootstrap  # type: ignore[attr-defined]  # the frozen module the import system runs
from typing import Any

# covlens's finder, first on sys.meta_path, asks every other finder for the spec itself. When none has one,
# returning None makes Python ask them all over again (each sys.path entry's directory looked up a second time):
# 340k instructions a failed import in toolz's suite (6.1 M for its 18, 13 of them `cytoolz`). Raising
# ModuleNotFoundError ends the search, but only an import may be told so: importlib.util.find_spec and
# importlib.reload call the same `_find_spec` and expect None.
NOT_FOUND: Any = object()

_FIND_SPEC = getattr(getattr(_bootstrap, "_find_spec", None), "__code__", None)
_LOAD_UNLOCKED = getattr(getattr(_bootstrap, "_find_and_load_unlocked", None), "__code__", None)

# The error must read and trace exactly as Python's own, which `_find_and_load_unlocked` raises when `_find_spec`
# returns None. CPython removes every importlib frame from an ImportError's traceback when an import statement
# fails, recognising them by this file name; the function that raises is compiled under it so that it is removed
# too (its name still says covlens where importlib.import_module's traceback, which keeps importlib's frames,
# shows it). The finder's own frames have returned by then.
_IMPORTLIB_FILE = "<frozen importlib._bootstrap>"
_FIND_SPEC_SOURCE = '''
def covlens_find_spec(self, fullname, path=None, target=None):
    spec = self._search(fullname, path, target)
    if spec is NOT_FOUND:
        raise ModuleNotFoundError(f"No module named {fullname!r}", name=fullname)
    return spec
'''


def importing(depth: int) -> bool:
    """True when the frame `depth` calls above the caller is importlib's `_find_spec` looking for a module to import
    it (not importlib.util.find_spec, importlib.reload or anyone else asking)."""
    try:
        frame = sys._getframe(depth + 1)
    except ValueError:  # a stack that shallow was not called by importlib
        return False
    if _FIND_SPEC is None or frame.f_code is not _FIND_SPEC:
        return False
    caller = frame.f_back
    return caller is not None and caller.f_code is _LOAD_UNLOCKED


def find_spec_method(owner: str, module: str) -> Callable[..., Any]:
    """The finder's `find_spec`: calls `self._search`, and raises Python's own error when it says NOT_FOUND."""
    namespace: dict[str, Any] = {"NOT_FOUND": NOT_FOUND, "__name__": module}
    exec(compile(_FIND_SPEC_SOURCE, _IMPORTLIB_FILE, "exec"), namespace)
    method = namespace["covlens_find_spec"]
    method.__qualname__ = f"{owner}.find_spec"
    method.__module__ = module
    method.__doc__ = "The spec for `fullname`, asked of the other meta-path finders (see covlens.instrument.miss)."
    return method
