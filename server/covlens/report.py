"""The terminal report: failures, then a `coverage report -m`-style table with the decision reason of every module."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from covlens.instrument.decision import INSTRUMENTED, NOT_IMPORTED, Decision
from covlens.model import RunSummary, TestOutcome
from covlens.store.export_common import display_percent
from covlens.store.project import ProjectCoverage

# Reasons shown as one count each on a single line instead of a row per module: there are many of them and
# nothing in them is the user's code under measure.
SUMMARISED = ("stdlib", "third-party", "no-source", "self", "test-file")


@dataclass(frozen=True)
class Row:
    """One line of the table; counts are None for a module whose statements are unknown (skipped, not measured)."""

    name: str
    reason: str
    statements: int | None
    missed: int | None
    percent: float | None
    missing: str


def format_ranges(statements: Iterable[int], missing: Iterable[int]) -> str:
    """Missed lines as ranges, joined across non-statement lines as `coverage report -m` does: "3-5, 9"."""
    stmts = sorted(statements)
    miss = set(missing)
    ranges: list[tuple[int, int]] = []
    start = end = None
    for line in stmts:
        if line in miss:
            if start is None:
                start = line
            end = line
        elif start is not None:
            ranges.append((start, end))  # type: ignore[arg-type]
            start = None
    if start is not None:
        ranges.append((start, end))  # type: ignore[arg-type]
    return ", ".join(str(a) if a == b else f"{a}-{b}" for a, b in ranges)


def _inside(root: str, path: str | None) -> bool:
    if not path:
        return False
    try:
        return os.path.commonpath([os.path.abspath(path), root]) == root
    except ValueError:
        return False


def rows(project: ProjectCoverage, *, all_modules: bool = False) -> tuple[list[Row], Counter[str]]:
    """The table's rows (workspace modules, sorted by path) and the per-reason counts of the summarised modules.

    With `all_modules`, stdlib, third-party and the other summarised modules are rows too (listed after the
    workspace's, by name), each with its reason.
    """
    listed: dict[str, Row] = {}
    others: Counter[str] = Counter()
    outside: list[Row] = []
    seen: set[str] = set()
    for fc in project.files.values():
        seen.add(os.path.normcase(fc.path))
        d = fc.decision
        if d.action in (INSTRUMENTED, NOT_IMPORTED):
            n = len(fc.statements)
            listed[fc.path] = Row(d.module or fc.module, d.reason, n, len(fc.missing), fc.percent,
                                  format_ranges(fc.statements, fc.missing))
        else:
            listed[fc.path] = Row(d.module or fc.module, d.reason, None, None, None, "")
    for d in project.decisions:
        if d.path and os.path.normcase(d.path) in seen:
            continue
        if not all_modules and (d.reason in SUMMARISED or not _inside(project.root, d.path)):
            others[d.reason] += 1
            continue
        if d.path is None or not _inside(project.root, d.path):
            outside.append(Row(d.module, d.reason, None, None, None, ""))
            continue
        assert d.path is not None
        seen.add(os.path.normcase(d.path))
        listed[d.path] = Row(d.module, d.reason, None, None, None, "")
    ordered = [listed[p] for p in sorted(listed, key=lambda p: project.relpath(p))]
    return ordered + sorted(outside, key=lambda r: r.name), others


def coverage_table(project: ProjectCoverage, *, show_missing: bool = True, max_rows: int | None = None,
                   all_modules: bool = False) -> str:
    """The table: Module, Reason, Stmts, Miss, Cover, Missing; a TOTAL line; one line counting summarised modules.

    With `max_rows`, only the modules that miss the most lines are listed (in path order), and a line says how many
    more there are.
    """
    table, others = rows(project, all_modules=all_modules)
    hidden = 0
    if max_rows is not None and len(table) > max_rows:
        keep = set(map(id, sorted(table, key=lambda r: -(r.missed or 0))[:max(max_rows, 1)]))
        hidden = len(table) - len(keep)
        table = [r for r in table if id(r) in keep]
    totals = project.totals()
    headers = ["Module", "Reason", "Stmts", "Miss", "Cover"] + (["Missing"] if show_missing else [])
    body: list[list[str]] = []
    for r in table:
        body.append([
            r.name, r.reason,
            "-" if r.statements is None else str(r.statements),
            "-" if r.missed is None else str(r.missed),
            "-" if r.percent is None else display_percent(r.percent) + "%",
        ] + ([r.missing] if show_missing else []))
    total = ["TOTAL", "", str(totals.statements), str(totals.missing), display_percent(totals.percent) + "%"]
    if show_missing:
        total.append("")
    widths = [max(len(cells[i]) for cells in [headers, total, *body]) for i in range(len(headers))]

    def line(cells: Sequence[str]) -> str:
        parts = []
        for i, cell in enumerate(cells):
            if i == len(cells) - 1 and show_missing:
                parts.append(cell)  # the last column is free text: no padding
            elif i >= 2:
                parts.append(cell.rjust(widths[i]))
            else:
                parts.append(cell.ljust(widths[i]))
        return "   ".join(parts).rstrip()

    rule = "-" * len(line([c.ljust(w) for c, w in zip(headers, widths)]))
    out = [line(headers), rule, *(line(cells) for cells in body)]
    if hidden:
        out.append(f"... {hidden} more modules (`covlens report` lists them all)")
    out += [rule, line(total)]
    if others:
        counts = ", ".join(f"{n} {reason}" for reason, n in sorted(others.items(), key=lambda kv: (-kv[1], kv[0])))
        out.append(f"Not listed (modules not measured): {counts} (--all-modules lists each with its reason)")
    return "\n".join(out)


def _where(project_root: str, path: str | None, line: int | None) -> str:
    if not path:
        return ""
    try:
        rel = os.path.relpath(path, project_root)
        shown = path if rel.startswith(os.pardir) else rel.replace(os.sep, "/")
    except ValueError:
        shown = path
    return f"{shown}:{line}" if line else shown


def failures_text(outcomes: Iterable[TestOutcome], root: str) -> str:
    """One block per failed or erroring test: nodeid, where it failed (and where in project code), the message."""
    out: list[str] = []
    for t in sorted(outcomes, key=lambda t: t.nodeid):
        if t.outcome not in ("failed", "error"):
            continue
        where = t.failure
        location = _where(root, where.path, where.line) if where else _where(root, t.path, t.line)
        head = f"{t.outcome.upper()} {t.nodeid}"
        if location:
            head += f" at {location}"
        out.append(head)
        if t.deepest and t.deepest != t.failure:
            out.append(f"    deepest in project code: {_where(root, t.deepest.path, t.deepest.line)}")
        if t.message:
            message = t.message.strip().splitlines()
            out.extend("    " + m for m in message[:6])
            if len(message) > 6:
                out.append(f"    ... ({len(message) - 6} more lines)")
    return "\n".join(out)


def summary_line(summary: RunSummary | None) -> str:
    """"3 passed, 1 failed in 0.52s", with the run's state when it did not complete."""
    if summary is None:
        return "no run recorded yet: run `covlens run`"
    order = ("failed", "passed", "error", "skipped", "xfailed", "xpassed")
    counts = ", ".join(f"{summary.counts[k]} {k}" for k in order if summary.counts.get(k))
    counts = counts or "no tests ran"
    took = f" in {summary.finished - summary.started:.2f}s" if summary.finished else ""
    text = f"{counts}{took}"
    if summary.state != "complete":
        text += f" — run {summary.state}"
        if summary.message:
            text += f": {summary.message}"
    return text


def full_report(project: ProjectCoverage, *, outcomes: Iterable[TestOutcome] | None = None,
                summary: RunSummary | None = None, all_modules: bool = False) -> str:
    """Failures, the table, and the run's summary line (the text `covlens run` and `covlens report` print)."""
    parts = []
    fails = failures_text(project.tests.values() if outcomes is None else outcomes, project.root)
    if fails:
        parts.append(fails)
    parts.append(coverage_table(project, all_modules=all_modules))
    run = summary or project.last_run
    parts.append(summary_line(run))
    if project.stale:
        parts.append("(the last run did not complete: results of the tests it did not finish are from earlier runs)")
    for message in project.messages:
        parts.append(f"note: {message}")
    return "\n\n".join(parts)


def decision_line(decision: Decision) -> str:
    """"shop.cart  instrumented (source): under source root /x/shop"."""
    return f"{decision.module}  {decision.action} ({decision.reason}): {decision.detail}"
