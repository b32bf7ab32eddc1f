"""Hover on a line: how many tests ran it and which ("+N more" beyond a few), or that none did."""

from __future__ import annotations

from lsprotocol import types

from covlens.lsp.coordinator import Coordinator

SHOWN = 5  # test names listed before "+N more"


def short_name(nodeid: str) -> str:
    """'tests/test_cart.py::TestCart::test_total[2]' -> 'test_total[2]'."""
    return nodeid.rsplit("::", 1)[-1]


def describe(tests: list[str], executed: bool) -> str:
    """The hover text of a statement run by `tests` (`executed`: it ran at all, e.g. only at import)."""
    if tests:
        names = ", ".join(short_name(t) for t in tests[:SHOWN])
        more = f" +{len(tests) - SHOWN} more" if len(tests) > SHOWN else ""
        return f"covlens: run by {len(tests)} test{'s' if len(tests) != 1 else ''} — {names}{more}"
    if executed:
        return "covlens: run only while importing, by no test"
    return "covlens: not run by any test"


async def hover(coordinator: Coordinator, params: types.HoverParams) -> types.Hover | None:
    uri = params.text_document.uri
    view = coordinator.view_of(uri)
    if view is None or view.coverage is None:
        return None
    doc = coordinator.document(uri)
    line = params.position.line
    measured = doc.to_measured(line) if doc is not None else line
    if measured is None or measured + 1 not in view.coverage.statements:
        return None  # not a statement (or a line typed since the run): nothing to say
    executed = measured + 1 in view.coverage.executed
    tests = await coordinator.tests_for_line(view.path, measured + 1) if executed else []
    return types.Hover(
        contents=types.MarkupContent(kind=types.MarkupKind.PlainText, value=describe(tests, executed)),
        range=types.Range(types.Position(line, 0), types.Position(line + 1, 0)),
    )
