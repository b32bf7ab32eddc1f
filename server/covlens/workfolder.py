"""The project's `.covlens/` folder: created on first use, always with a `.gitignore` that keeps it out of git."""

from __future__ import annotations

from pathlib import Path


def ensure_covlens_folder(root: str | Path) -> Path:
    """`<root>/.covlens`, created if needed; everything in it is local state (results, caches): never committed."""
    folder = Path(root) / ".covlens"
    folder.mkdir(parents=True, exist_ok=True)
    ignore = folder / ".gitignore"
    if not ignore.exists():
        ignore.write_text("*\n", encoding="utf-8")
    return folder
