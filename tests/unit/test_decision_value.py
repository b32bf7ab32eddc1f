"""Decision is a frozen value whatever builds it: fields, equality, hashing, copies, and refusal of unknown codes."""

from __future__ import annotations

import dataclasses
import pickle

import pytest

from covlens.instrument.decision import Decision, make


def test_a_decision_holds_its_fields_by_position_or_name_and_compares_by_value() -> None:
    by_position = Decision("pkg.mod", "/p/pkg/mod.py", "skipped", "stdlib", "part of Python's standard library")
    by_name = Decision(module="pkg.mod", path="/p/pkg/mod.py", action="skipped", reason="stdlib",
                       detail="part of Python's standard library", rule=None)
    made = make("pkg.mod", "/p/pkg/mod.py", "stdlib", "part of Python's standard library")
    assert by_position == by_name == made
    assert hash(by_position) == hash(made)
    assert (made.module, made.path, made.action, made.reason, made.detail, made.rule) == (
        "pkg.mod", "/p/pkg/mod.py", "skipped", "stdlib", "part of Python's standard library", None)
    assert made != make("pkg.mod", "/p/pkg/mod.py", "stdlib", "another detail")
    assert repr(made).startswith("Decision(module='pkg.mod', path='/p/pkg/mod.py', action='skipped'")


def test_a_decision_cannot_be_changed_but_can_be_copied_with_changes() -> None:
    decision = make("app", "/p/app.py", "workspace", "inside the workspace", "default")
    with pytest.raises(dataclasses.FrozenInstanceError):
        decision.detail = "edited"  # type: ignore[misc]
    copy = dataclasses.replace(decision, module="app2")
    assert copy.module == "app2" and copy.path == decision.path and copy.rule == "default"
    assert pickle.loads(pickle.dumps(decision)) == decision
    assert [f.name for f in dataclasses.fields(Decision)] == ["module", "path", "action", "reason", "detail", "rule"]


@pytest.mark.parametrize("action, reason", [("skipped", "no-such-reason"), ("maybe", "stdlib")])
def test_a_decision_with_an_unknown_reason_or_action_is_refused(action: str, reason: str) -> None:
    with pytest.raises(ValueError, match="unknown decision"):
        Decision("m", None, action, reason, "detail")
