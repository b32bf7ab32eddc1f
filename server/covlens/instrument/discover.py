"""Source files of the project, with their module names: the candidates for `not-imported`."""

from __future__ import annotations

import os
from collections.abc import Iterator

# Folders that never hold the project's own importable source.
SKIP_DIRS = frozenset({
    "__pycache__", "node_modules", "build", "dist", "site-packages", "dist-packages",
    "venv", "env", ".covlens",
})


def _skip_dir(parent: str, name: str) -> bool:
    if name.startswith(".") or name in SKIP_DIRS or name.endswith(".egg-info"):
        return True
    # Any virtual environment, whatever its name.
    return os.path.exists(os.path.join(parent, name, "pyvenv.cfg"))


def module_name(path: str, base: str) -> str:
    """The dotted name `path` would be imported as when `base` (or the folder above its package) is on sys.path."""
    # Climb out of regular packages: a source root that is itself a package ("pkg") names modules "pkg.x".
    anchor = os.path.dirname(path)
    while os.path.isfile(os.path.join(anchor, "__init__.py")) and os.path.dirname(anchor) != anchor:
        anchor = os.path.dirname(anchor)
    if len(anchor) > len(base) and anchor.startswith(base):
        anchor = base  # namespace folders between base and the package count as parts of the name
    rel = os.path.relpath(path, anchor)[: -len(".py")]
    parts = rel.split(os.sep)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def source_files(roots: tuple[str, ...]) -> Iterator[tuple[str, str]]:
    """(absolute path, the base to name it from) of every .py file under `roots`, skipping virtualenvs, caches and
    hidden folders; `module_name(path, base)` names it (asked only of the files no test imported: it looks at the
    folders above the file)."""
    seen: set[str] = set()
    for root in roots:
        if os.path.isfile(root):
            if root.endswith(".py") and root not in seen:
                seen.add(root)
                yield root, os.path.dirname(root)
            continue
        for folder, dirs, files in os.walk(root):
            dirs[:] = sorted(d for d in dirs if not _skip_dir(folder, d))
            for name in sorted(files):
                if name.endswith(".py"):
                    path = os.path.join(folder, name)
                    if path not in seen:
                        seen.add(path)
                        yield path, root
