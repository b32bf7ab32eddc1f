"""workspace/executeCommand: run all, run a file's tests, explain a module, export LCOV/JSON, cancel."""

from __future__ import annotations

import asyncio

import fnmatch
import os
from collections.abc import Callable, Coroutine
from typing import Any

from pygls.exceptions import JsonRpcInvalidParams

from covlens.instrument.decision import REASONS, Decision
from covlens.lsp.coordinator import Coordinator
from covlens.model import COLLECTION_CONTEXT

RUN_ALL = "covlens.runAll"
RUN_FILE = "covlens.runFile"
EXPLAIN = "covlens.explain"
EXPORT_LCOV = "covlens.exportLcov"
EXPORT_JSON = "covlens.exportJson"
CANCEL = "covlens.cancel"

DEFAULT_LCOV = os.path.join(".covlens", "lcov.info")
DEFAULT_JSON = os.path.join(".covlens", "coverage.json")


def _bad(message: str) -> JsonRpcInvalidParams:
    return JsonRpcInvalidParams(message)


def _at_most(args: tuple[Any, ...], count: int, command: str) -> None:
    if len(args) > count:
        raise _bad(f"{command} takes {'no' if count == 0 else f'at most {count}'} argument"
                   f"{'s' if count != 1 else ''}, got {len(args)}")


def _string(args: tuple[Any, ...], command: str, what: str) -> str:
    if len(args) != 1 or not isinstance(args[0], str) or not args[0]:
        raise _bad(f"{command} takes one argument, {what}; got {list(args)!r}")
    return args[0]


# How long a command sent right after `initialized` waits for the server's start-up to finish.
START_WAIT = 60.0


async def _started(coordinator: Coordinator) -> None:
    if coordinator.root is None:
        raise _bad("covlens has not started yet: send `initialize` and `initialized` first")
    if not coordinator.ready.is_set():
        # The client cannot know when start-up is over: hold the command until it is, rather than refuse it.
        try:
            await asyncio.wait_for(coordinator.ready.wait(), START_WAIT)
        except asyncio.TimeoutError:
            raise _bad("covlens has not started yet: send `initialized` first") from None
    if coordinator.scheduler is None:
        raise _bad("covlens could not start; see its log (covlens: Show Output)")


async def run_all(coordinator: Coordinator, *args: Any) -> dict[str, Any]:
    _at_most(args, 0, RUN_ALL)
    await _started(coordinator)
    return {"runId": coordinator.run_now()}


async def run_file(coordinator: Coordinator, *args: Any) -> dict[str, Any]:
    """The tests of a test file, or the tests that ran a module (all tests when none is known yet)."""
    uri = _string(args, RUN_FILE, "the uri of a file")
    await _started(coordinator)
    path = coordinator.path_of(uri)
    if path is None or not os.path.isfile(path):
        raise _bad(f"{RUN_FILE}: {uri} is not a file of the workspace")
    return {"runId": coordinator.run_now(await _selection_for(coordinator, path))}


async def _selection_for(coordinator: Coordinator, path: str) -> list[str] | None:
    assert coordinator.root is not None
    rel = os.path.relpath(path, coordinator.root).replace(os.sep, "/")
    name = os.path.basename(path)
    view_decision = coordinator.decision_of(path)
    patterns = coordinator.test_patterns()
    if (view_decision is not None and view_decision.reason == "test-file") or \
            any(fnmatch.fnmatchcase(name, p) for p in patterns) or coordinator.outcomes_in(path):
        return [rel]
    nodeids = await coordinator.tests_that_ran(path)
    return sorted(n for n in nodeids if n != COLLECTION_CONTEXT) or None


async def explain(coordinator: Coordinator, *args: Any) -> dict[str, Any]:
    target = _string(args, EXPLAIN, "a file's uri or a module name")
    decision = None
    if target.startswith("file:"):
        path = coordinator.path_of(target)
        decision = coordinator.decision_of(path) if path else None
    else:
        decision = coordinator.decision_of_module(target)
    if decision is None:
        raise _bad(f"covlens has no decision for {target!r}: no test run has imported it (or it is not a module "
                   "of this workspace); run the tests first")
    return {"decision": decision.to_json(), "explanation": explanation(decision)}


def explanation(decision: Decision) -> str:
    """A module's decision in markdown: what, why, by which rule, and what to do about it."""
    reason = REASONS[decision.reason]
    lines = [f"**{decision.module}** — {decision.action} (`{decision.reason}`)", ""]
    if decision.detail:
        lines += [decision.detail, ""]
    if decision.rule:
        lines += [f"Rule: {decision.rule}", ""]
    lines += [f"Why: {reason.meaning}", "", f"What to do: {reason.what_to_do}"]
    return "\n".join(lines)


async def export_lcov(coordinator: Coordinator, *args: Any) -> dict[str, Any]:
    from covlens.store.export_lcov import write_lcov

    return await _export(coordinator, args, EXPORT_LCOV, DEFAULT_LCOV, write_lcov)


async def export_json(coordinator: Coordinator, *args: Any) -> dict[str, Any]:
    from covlens.store.export_json import write_json

    return await _export(coordinator, args, EXPORT_JSON, DEFAULT_JSON, write_json)


async def _export(coordinator: Coordinator, args: tuple[Any, ...], command: str, default: str,
                  write: Callable[..., Any]) -> dict[str, Any]:
    _at_most(args, 1, command)
    if args and args[0] is not None and not isinstance(args[0], str):
        raise _bad(f"{command} takes an optional path (a string), got {args[0]!r}")
    await _started(coordinator)
    assert coordinator.root is not None
    if coordinator.project is None:
        raise _bad(f"{command}: there are no results yet; run the tests first")
    dest = args[0] if args and args[0] else default
    if dest.startswith("file:"):
        dest = coordinator.path_of(dest) or dest
    full = os.path.abspath(os.path.join(coordinator.root, dest))
    try:
        await coordinator.in_thread(write, coordinator.project, full)
    except OSError as exc:
        raise _bad(f"{command}: cannot write {full}: {exc.strerror or exc}") from None
    return {"path": full}


async def cancel(coordinator: Coordinator, *args: Any) -> dict[str, Any]:
    _at_most(args, 0, CANCEL)
    return {"cancelled": coordinator.cancel()}


COMMANDS: dict[str, Callable[..., Coroutine[Any, Any, dict[str, Any]]]] = {
    RUN_ALL: run_all,
    RUN_FILE: run_file,
    EXPLAIN: explain,
    EXPORT_LCOV: export_lcov,
    EXPORT_JSON: export_json,
    CANCEL: cancel,
}
