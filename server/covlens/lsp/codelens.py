"""Code lenses: the module's coverage at its top, and each test function's last outcome."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from lsprotocol import types

from covlens.lsp.coordinator import Coordinator
from covlens.model import TestOutcome

EXPLAIN = "covlens.explain"
RUN_FILE = "covlens.runFile"
MISSED_SHOWN = 4  # ranges of missed lines listed before "…"


def line_ranges(lines: Iterable[int]) -> str:
    """[3, 4, 5, 9] -> '3–5, 9' (the lines as given: 1-based for people)."""
    out: list[str] = []
    ordered = sorted(lines)
    i = 0
    while i < len(ordered):
        j = i
        while j + 1 < len(ordered) and ordered[j + 1] == ordered[j] + 1:
            j += 1
        out.append(str(ordered[i]) if i == j else f"{ordered[i]}–{ordered[j]}")
        i = j + 1
    if len(out) > MISSED_SHOWN:
        return ", ".join(out[:MISSED_SHOWN]) + ", …"
    return ", ".join(out)


def module_title(percent: float, missed: Iterable[int], stale: bool) -> str:
    """'covlens: 83.3% covered · missed 8–9' (1-based lines, as the editor numbers them)."""
    missing = list(missed)
    tail = f"missed {line_ranges(missing)}" if missing else "nothing missed"
    return f"covlens: {percent:.1f}% covered · {tail}" + (" (stale)" if stale else "")


def outcome_title(outcomes: list[TestOutcome]) -> str:
    """'✓ passed 12 ms' / '✗ failed: assert 1 == 2' for one test; a tally for a parametrized one."""
    if len(outcomes) == 1:
        o = outcomes[0]
        if o.outcome in ("failed", "error"):
            first = (o.message or "").strip().splitlines()
            return f"✗ {o.outcome}: {first[0][:80]}" if first else f"✗ {o.outcome}"
        mark = {"passed": "✓", "skipped": "○", "xfailed": "○", "xpassed": "!"}.get(o.outcome, "·")
        return f"{mark} {o.outcome} {o.duration * 1000:.0f} ms"
    failing = [o for o in outcomes if o.outcome in ("failed", "error")]
    if failing:
        return f"✗ {len(failing)} of {len(outcomes)} failed"
    return f"✓ {len(outcomes)} passed" if all(o.outcome == "passed" for o in outcomes) else \
        f"{len(outcomes)} cases: " + ", ".join(sorted({o.outcome for o in outcomes}))


def code_lenses(coordinator: Coordinator, params: types.CodeLensParams) -> list[types.CodeLens]:
    uri = params.text_document.uri
    doc = coordinator.document(uri)
    lenses: list[types.CodeLens] = []

    def at(line: int) -> types.Range | None:
        now = doc.to_buffer(line) if doc is not None else line
        return None if now is None else types.Range(types.Position(now, 0), types.Position(now, 0))

    view = coordinator.view_of(uri)
    if view is not None and view.coverage is not None and view.coverage.statements:
        top = at(0) or types.Range(types.Position(0, 0), types.Position(0, 0))
        title = module_title(view.coverage.percent, view.coverage.missing, coordinator.is_stale(uri))
        lenses.append(types.CodeLens(range=top, command=types.Command(title, EXPLAIN, arguments=[uri])))
    path = coordinator.path_of(uri)
    by_line: dict[int, list[TestOutcome]] = defaultdict(list)
    for outcome in coordinator.outcomes_in(path) if path else []:
        if outcome.line:
            by_line[outcome.line].append(outcome)
    for line, outcomes in sorted(by_line.items()):
        where = at(line - 1)
        if where is not None:
            command = types.Command(outcome_title(outcomes), RUN_FILE, arguments=[uri])
            lenses.append(types.CodeLens(range=where, command=command))
    return lenses
