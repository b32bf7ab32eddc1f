"""Diagnostics: a module's decision, a failing test (at the test and deepest in project code), config, missed lines."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

from lsprotocol import types

import covlens
from covlens.config import ConfigError
from covlens.instrument.decision import REASONS, Decision
from covlens.lsp.settings import Settings
from covlens.model import Location, TestOutcome
from covlens.store.export_common import write_atomic

SOURCE = "covlens"
TEST_FAILED = "test-failed"
CONFIG = "config"
MISSED_LINE = "missed-line"
FAILING = ("failed", "error")

ToUri = Callable[[str], str]


def _line_range(line: int) -> types.Range:
    """The whole of 0-based `line` (to the start of the next, so no buffer text is needed)."""
    line = max(line, 0)
    return types.Range(types.Position(line, 0), types.Position(line + 1, 0))


def reasons_doc(root: str) -> str:
    """A file:// URI of docs/reasons.md: the checkout's, else one generated under the project's .covlens/."""
    checkout = Path(covlens.__file__).resolve().parents[2] / "docs" / "reasons.md"
    if checkout.is_file():
        return checkout.as_uri()
    generated = Path(root) / ".covlens" / "reasons.md"
    try:
        write_atomic(generated, reasons_markdown())
    except OSError:
        return checkout.as_uri()  # nowhere to write: still the right name, for a checkout found later
    return generated.as_uri()


def reasons_markdown() -> str:
    """docs/reasons.md's content: a section per reason, whose heading's anchor is the reason itself."""
    out = ["# Why covlens instrumented or skipped a module", ""]
    for reason in REASONS.values():
        out += [f"## {reason.code}", "", f"*{reason.action}* — {reason.meaning}", "",
                f"What to do: {reason.what_to_do}", ""]
    return "\n".join(out)


def decision_message(decision: Decision) -> str:
    """'covlens: skipped (already-imported) — imported by sitecustomize'."""
    head = f"covlens: {decision.action} ({decision.reason})"
    return f"{head} — {decision.detail}" if decision.detail else head


def decision_diagnostic(decision: Decision, settings: Settings, doc_uri: str) -> types.Diagnostic | None:
    """The diagnostic at line 0 that explains `decision`, or None when its severity is "off"."""
    severity = settings.severity_of(decision.reason)
    if severity is None:
        return None
    return types.Diagnostic(
        range=_line_range(0),
        message=decision_message(decision),
        severity=severity,
        code=decision.reason,
        code_description=types.CodeDescription(href=f"{doc_uri}#{decision.reason}"),
        source=SOURCE,
        data=decision.to_json(),
    )


def failure_diagnostics(outcomes: Iterable[TestOutcome], to_uri: ToUri) -> dict[str, list[types.Diagnostic]]:
    """uri -> the diagnostics of the failing tests: at the failing line of the test and at the deepest project frame."""
    out: dict[str, list[types.Diagnostic]] = {}
    for outcome in outcomes:
        if outcome.outcome not in FAILING:
            continue
        # No failing line known (a crash blamed on the test): put it on the test's own line.
        at_test = outcome.failure or (Location(outcome.path, outcome.line) if outcome.path and outcome.line else None)
        if at_test is None:
            continue
        what = "failed" if outcome.outcome == "failed" else "errored"
        message = (outcome.message or "").strip() or "(no message)"
        deepest = outcome.deepest if outcome.deepest and outcome.deepest != at_test else None
        test_loc = types.Location(to_uri(at_test.path), _line_range(at_test.line - 1))
        related_to_deep = []
        if deepest is not None:
            deep_loc = types.Location(to_uri(deepest.path), _line_range(deepest.line - 1))
            related_to_deep = [types.DiagnosticRelatedInformation(deep_loc, f"{outcome.nodeid} failed in here")]
            out.setdefault(deep_loc.uri, []).append(types.Diagnostic(
                range=deep_loc.range, message=f"covlens: {outcome.nodeid} {what} here: {message}",
                severity=types.DiagnosticSeverity.Error, code=TEST_FAILED, source=SOURCE,
                related_information=[types.DiagnosticRelatedInformation(test_loc, f"{outcome.nodeid} {what}")],
            ))
        out.setdefault(test_loc.uri, []).append(types.Diagnostic(
            range=test_loc.range, message=f"covlens: {outcome.nodeid} {what}: {message}",
            severity=types.DiagnosticSeverity.Error, code=TEST_FAILED, source=SOURCE,
            related_information=related_to_deep or None,
        ))
    return out


def config_diagnostic(error: ConfigError) -> types.Diagnostic:
    """An invalid [tool.covlens] as an error at its line of pyproject.toml."""
    return types.Diagnostic(
        range=_line_range((error.line or 1) - 1),
        message=f"covlens: {error.message}",
        severity=types.DiagnosticSeverity.Error,
        code=CONFIG,
        source=SOURCE,
    )


def missed_line_hints(lines: Iterable[int]) -> list[types.Diagnostic]:
    """One Hint per missed (0-based) line, for clients that draw no coverage of their own."""
    return [types.Diagnostic(range=_line_range(line), message="covlens: not run by any test",
                             severity=types.DiagnosticSeverity.Hint, code=MISSED_LINE, source=SOURCE)
            for line in lines]
