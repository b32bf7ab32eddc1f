"""The Decision value: what the instrumenter did with one module, and why."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# Actions.
INSTRUMENTED = "instrumented"
SKIPPED = "skipped"
FAILED = "failed"
NOT_IMPORTED = "not-imported"

ACTIONS = (INSTRUMENTED, SKIPPED, FAILED, NOT_IMPORTED)


@dataclass(frozen=True)
class Reason:
    """A stable reason code with its documentation (docs/reasons.md is generated from these)."""

    code: str
    action: str
    meaning: str
    what_to_do: str


REASONS: dict[str, Reason] = {
    r.code: r
    for r in (
        Reason("source", INSTRUMENTED, "The module is under a configured source root.",
               "Nothing: this is what you asked for. Remove the root from `source` to stop measuring it."),
        Reason("workspace", INSTRUMENTED,
               "No sources are configured, and the module lives inside the workspace and matches no exclusion.",
               "Set `source = [...]` in `[tool.covlens]` to measure only some folders."),
        Reason("stdlib", SKIPPED, "The module belongs to Python's standard library.",
               "Nothing: covlens measures your code, not Python's."),
        Reason("third-party", SKIPPED, "The module was loaded from a site-packages or dist-packages folder.",
               "If it is your own package installed normally, install it in editable mode (`pip install -e .`) "
               "so that it is imported from the workspace."),
        Reason("outside-source", SKIPPED,
               "The module is outside the configured source roots (or outside the workspace).",
               "Add its folder to `source` in `[tool.covlens]` (or `[tool.coverage.run]`) to measure it."),
        Reason("excluded", SKIPPED,
               "The module's path matched an exclusion pattern; the detail names the pattern and the file that set it.",
               "Remove or narrow the pattern in `exclude` (`[tool.covlens]`) or `omit` (`[tool.coverage.run]`)."),
        Reason("test-file", SKIPPED, "The module is a test module or a conftest.py.",
               "Set `instrument_tests = true` in `[tool.covlens]` to measure test files too, "
               "or change `test_patterns`."),
        Reason("self", SKIPPED, "The module is part of covlens itself; the instrumenter never instruments itself.",
               "Nothing: measuring the instrumenter with itself would recurse."),
        Reason("no-source", SKIPPED,
               "The module has no Python source to instrument: built-in, frozen, an extension module, bytecode only, "
               "or a namespace package.",
               "Nothing, unless you expected source: check that the `.py` file is on the path ahead of compiled "
               "copies."),
        Reason("already-imported", SKIPPED,
               "The module was imported before covlens installed its import hook, so its code was never instrumented; "
               "the detail says by whom when it can be known.",
               "Move the import out of `sitecustomize`, a `.pth` file or interpreter start-up, "
               "or import it lazily."),
        Reason("pragma", SKIPPED, "The file opts out with a `# covlens: skip-file` comment.",
               "Remove the comment to measure the file."),
        Reason("guard", SKIPPED,
               "A safety guard declined to instrument the module: it was imported re-entrantly while covlens itself "
               "was importing, its code is nested too deep to instrument, or covlens's hook had been removed from "
               "`sys.meta_path` when it was imported. The module was imported normally.",
               "Usually nothing. For deep nesting, split the construct; for a removed hook, stop the test from "
               "editing `sys.meta_path`."),
        Reason("error", FAILED,
               "Instrumenting the module raised; it was imported normally instead and your tests ran as without "
               "covlens. The detail has the exception.",
               "Please report it with the detail: it is a covlens bug."),
        Reason("not-imported", NOT_IMPORTED, "The file is under the measured sources but no test imported it.",
               "Write a test that imports it, or exclude it if it is not meant to be tested."),
    )
}


@dataclass(frozen=True)
class Decision:
    """What the instrumenter decided for one module: `action`, stable `reason`, human `detail`, the deciding `rule`."""

    module: str
    path: str | None
    action: str
    reason: str
    detail: str
    rule: str | None = None

    def __init__(self, module: str, path: str | None, action: str, reason: str, detail: str,
                 rule: str | None = None) -> None:
        # Written out, where dataclass would generate it: a frozen dataclass's own __init__ sets each field with an
        # object.__setattr__ call, and those six calls were half of what making a Decision cost (15.6k instructions
        # by callgrind, 8.0k this way). Every import is decided, and the session parses every decision again.
        # Equality, hashing, repr and frozenness are still the dataclass's.
        if reason not in REASONS:
            raise ValueError(f"unknown decision reason {reason!r}")
        if action not in ACTIONS:
            raise ValueError(f"unknown decision action {action!r}")
        fields = self.__dict__
        fields["module"], fields["path"], fields["action"] = module, path, action
        fields["reason"], fields["detail"], fields["rule"] = reason, detail, rule

    @property
    def instrumented(self) -> bool:
        return self.action == INSTRUMENTED

    def to_json(self) -> dict[str, Any]:
        # Not dataclasses.asdict, which deep-copies field by field: hundreds of decisions are written per run.
        return {"module": self.module, "path": self.path, "action": self.action, "reason": self.reason,
                "detail": self.detail, "rule": self.rule}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Decision:
        return cls(
            module=str(data["module"]),
            path=data.get("path"),
            action=str(data["action"]),
            reason=str(data["reason"]),
            detail=str(data.get("detail", "")),
            rule=data.get("rule"),
        )


def make(module: str, path: str | None, reason: str, detail: str, rule: str | None = None) -> Decision:
    """A Decision whose action follows from its reason."""
    return Decision(module, path, REASONS[reason].action, reason, detail, rule)
