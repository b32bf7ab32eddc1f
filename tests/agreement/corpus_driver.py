"""Runs a corpus module as the agreement test does: under coverage.py in a subprocess, or with an engine in-process."""

from __future__ import annotations

import importlib.util
import sys
import types
from typing import Any


def run_module(path: str, name: str, code: Any = None, extra_globals: dict[str, Any] | None = None) -> None:
    """Run the module at `path` as module `name` (registered in sys.modules, as dataclasses need), then its main()."""
    if code is None:
        with open(path, "rb") as f:
            source = importlib.util.decode_source(f.read())
        code = compile(source, path, "exec", dont_inherit=True)
    module = types.ModuleType(name)
    module.__file__ = path
    module.__dict__.update(extra_globals or {})
    sys.modules[name] = module
    try:
        exec(code, module.__dict__)
        main = module.__dict__.get("main")
        if callable(main):
            main()
    finally:
        del sys.modules[name]


if __name__ == "__main__":
    for index, each in enumerate(sys.argv[1:]):
        run_module(each, f"covlens_corpus_{index}")
