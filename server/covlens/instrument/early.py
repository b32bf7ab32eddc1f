"""Who imported a module before covlens's hook was installed (sitecustomize, .pth files, start-up)."""

from __future__ import annotations

import ast
import os
import sys
from collections.abc import Iterable


def _imported_names(source: str) -> set[str]:
    names: set[str] = set()
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError):
        return names
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def _read(path: str | None) -> str | None:
    if not path:
        return None
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return handle.read()
    except OSError:
        return None


def startup_importers(site_dirs: Iterable[str]) -> list[tuple[str, set[str]]]:
    """(who, names it imports) for sitecustomize, usercustomize and `import` lines of .pth files."""
    found: list[tuple[str, set[str]]] = []
    for name in ("sitecustomize", "usercustomize"):
        module = sys.modules.get(name)
        path = getattr(module, "__file__", None)
        source = _read(path)
        if source is not None:
            found.append((f"{name} ({path})", _imported_names(source)))
    for folder in site_dirs:
        try:
            entries = sorted(e for e in os.listdir(folder) if e.endswith(".pth"))
        except OSError:
            continue
        for entry in entries:
            text = _read(os.path.join(folder, entry)) or ""
            lines = [ln for ln in text.splitlines() if ln.startswith(("import ", "import\t"))]
            if lines:
                found.append((f"{entry} in {folder}", _imported_names("\n".join(lines))))
    return found


def importer_of(module: str, importers: list[tuple[str, set[str]]]) -> str | None:
    """The start-up file that imported `module`, if any (`import a.b` imports `a` too)."""
    if module in ("sitecustomize", "usercustomize"):
        return "the interpreter's site module at start-up"
    for who, names in importers:
        if any(n == module or n.startswith(module + ".") for n in names):
            return who
    return None
