"""Test execution: the worker subprocess, its pytest plugin, the wire events and the asyncio session that drives it.

The worker imports this package before its import hook is installed, so nothing is imported here eagerly;
`from covlens.runner import Session, Selection` loads them on first use.
"""

from __future__ import annotations

from typing import Any

__all__ = ["Selection", "Session"]


def __getattr__(name: str) -> Any:
    if name == "Session":
        from covlens.runner.session import Session

        return Session
    if name == "Selection":
        from covlens.runner.selection import Selection

        return Selection
    raise AttributeError(f"module 'covlens.runner' has no attribute {name!r}")
