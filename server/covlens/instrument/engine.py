"""The engine interface, and the choice between the AST and sys.monitoring engines."""

from __future__ import annotations

import sys
from collections.abc import Collection
from types import CodeType
from typing import Any, Protocol

from covlens.instrument.recorder import FileHits


class Engine(Protocol):
    """Turns a module's source into code that records its executed lines into a FileHits."""

    name: str

    def compile(self, source: str, filename: str, target: FileHits) -> tuple[CodeType, dict[str, Any]]:
        """Instrumented code for the module, and names to place in its globals before it runs.

        Raises SyntaxError exactly as compile() would; RecursionError when the code is nested too deep.
        """
        ...

    def new_context(self) -> None:
        """Called at every context switch (re-arm disabled events, if the engine disables them)."""
        ...

    def touched(self) -> Collection[set[int]] | None:
        """The hit sets (`FileHits.hits`) written to since the last new_context(), or None when the engine cannot
        tell (every file is then looked at). Optional: an engine without it is treated as answering None."""
        ...

    def close(self) -> None:
        """Release global resources (tool ids, callbacks)."""
        ...


def monitoring_available() -> bool:
    return sys.version_info >= (3, 12) and hasattr(sys, "monitoring")


def resolve_engine_name(requested: str) -> str:
    """'auto' -> 'monitor' where sys.monitoring exists, else 'ast'; an explicit 'monitor' needs 3.12+."""
    if requested == "auto":
        return "monitor" if monitoring_available() else "ast"
    if requested == "monitor" and not monitoring_available():
        raise ValueError(
            f"engine 'monitor' needs Python 3.12 or newer (this is {sys.version.split()[0]}); "
            "set engine = \"ast\" or \"auto\" in [tool.covlens]"
        )
    if requested not in ("ast", "monitor"):
        raise ValueError(f"unknown engine {requested!r}; use 'auto', 'ast' or 'monitor'")
    return requested


def create_engine(requested: str = "auto") -> Engine:
    name = resolve_engine_name(requested)
    if name == "monitor":
        from covlens.instrument.engine_monitor import MonitorEngine

        return MonitorEngine()
    from covlens.instrument.engine_ast import AstEngine

    return AstEngine()


def code_objects(code: CodeType) -> list[CodeType]:
    """`code` and every code object nested in its constants (functions, classes, lambdas, genexps), iteratively."""
    found = [code]
    stack = [code]
    while stack:
        for const in stack.pop().co_consts:
            if isinstance(const, CodeType):
                found.append(const)
                stack.append(const)
    return found
