"""`covlens explain`: a module's decision, the rule and config file behind it, and what to change to flip it."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import TextIO

from covlens.config import Config, load
from covlens.instrument.decision import INSTRUMENTED, REASONS, Decision
from covlens.store import Store

EXIT_OK = 0
EXIT_UNKNOWN = 4


def _line_of(config_file: str | None, table: str, key: str) -> int | None:
    """The line of `key = ...` inside `[table]` of a TOML file (for messages that say where to edit)."""
    if not config_file:
        return None
    try:
        text = Path(config_file).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    in_table = False
    for number, line in enumerate(text.splitlines(), start=1):
        header = re.match(r"^\s*\[([^\]]+)\]", line)
        if header:
            in_table = header.group(1).strip() == table
        elif in_table and re.match(rf"^\s*{re.escape(key)}\s*=", line):
            return number
    return None


def _where(config: Config, rule: str | None) -> str:
    """"pyproject.toml:12 ([tool.covlens] exclude)" for a rule like "pyproject.toml [tool.covlens] exclude"."""
    m = re.match(r"^(\S+) \[([^\]]+)\] (\w+)$", rule or "")
    if not m or not config.config_file:
        return rule or "a built-in rule"
    line = _line_of(config.config_file, m.group(2), m.group(3))
    return f"{config.config_file}{f':{line}' if line else ''} ([{m.group(2)}] {m.group(3)})"


def _resolve(target: str, root: Path, store_decisions: tuple[Decision, ...]) -> tuple[str, str | None]:
    """(module name, path or None) for a target given as a path or a dotted module name."""
    as_path = Path(target)
    if not as_path.is_absolute():
        as_path = (Path.cwd() / target) if (Path.cwd() / target).exists() else root / target
    if as_path.is_file():
        path = str(as_path.resolve())
        for d in store_decisions:
            if d.path and os.path.normcase(os.path.realpath(d.path)) == os.path.normcase(path):
                return d.module, d.path
        from covlens.instrument.discover import module_name

        return module_name(path, str(root)), path
    for d in store_decisions:
        if d.module == target:
            return d.module, d.path
    # Not seen in a run: find the file the name would import from, inside the project.
    rel = target.replace(".", os.sep)
    for base in (root, root / "src"):
        for candidate in (base / f"{rel}.py", base / rel / "__init__.py"):
            if candidate.is_file():
                return target, str(candidate.resolve())
    return target, None


def _advice(decision: Decision, config: Config, rel: str) -> list[str]:
    """Concrete changes that would flip the decision, beyond the reason's generic what-to-do."""
    reason = decision.reason
    cfg = config.config_file or os.path.join(config.root, "pyproject.toml")
    if reason == "excluded":
        m = re.search(r"matches '([^']+)'", decision.detail)
        pattern = m.group(1) if m else "the pattern"
        return [f"to measure it: remove or narrow {pattern!r} in {_where(config, decision.rule)}"]
    if reason == "outside-source":
        folder = os.path.dirname(rel) or "."
        line = _line_of(config.config_file, "tool.covlens", "source")
        at = f"{cfg}:{line}" if line else f"[tool.covlens] of {cfg}"
        return [f"to measure it: add {folder!r} to `source` ({at})"]
    if reason in ("source", "workspace"):
        return [f"to stop measuring it: add {rel!r} to `exclude` in [tool.covlens] of {cfg}"]
    if reason == "not-imported":
        return ["to measure it: import it from a test",
                f"to drop it from the report: add {rel!r} to `exclude` in [tool.covlens] of {cfg}"]
    if reason == "test-file":
        return [f"to measure test files: set `instrument_tests = true` in [tool.covlens] of {cfg}"]
    if reason == "pragma" and decision.path:
        line = _pragma_line(decision.path)
        return ["to measure it: delete the `# covlens: skip-file` comment"
                + (f" at {rel}:{line}" if line else f" in {rel}")]
    return []


def _pragma_line(path: str) -> int | None:
    try:
        for number, line in enumerate(Path(path).read_text(encoding="utf-8", errors="replace").splitlines(), 1):
            if re.match(r"^[ \t]*#[ \t]*covlens:[ \t]*skip-file", line):
                return number
    except OSError:
        return None
    return None


def explain(target: str, root: Path, out: TextIO) -> int:
    """Print the explanation for `target` (a module name or a path); 0, or 4 when nothing is known about it."""
    config = load(root)  # a ConfigError reaches the CLI, which reports it with file, line and key
    recorded: tuple[Decision, ...] = ()
    last = None
    if (root / ".covlens" / "covlens.db").is_file():
        project = Store(root).project()
        recorded = project.decisions
        last = project.last_run
    module, path = _resolve(target, root, recorded)
    stored = next((d for d in recorded if d.module == module and (path is None or d.path == path)), None)
    if stored is None and path is not None:
        stored = next((d for d in recorded if d.path and os.path.realpath(d.path) == os.path.realpath(path)), None)
    current = None
    if path is not None:
        from covlens.instrument.policy import Policy, has_skip_pragma

        current = Policy(config).decide(module, path)
        if current.action == INSTRUMENTED:
            try:
                if has_skip_pragma(Path(path).read_text(encoding="utf-8", errors="replace")):
                    current = Decision(module, path, "skipped", "pragma",
                                       "the file opts out with `# covlens: skip-file`", "# covlens: skip-file")
            except OSError:
                pass
    decision = stored or current
    if decision is None:
        print(f"covlens: nothing is known about {target!r}: it is not a file under {root}, and no run imported a "
              f"module of that name. Run `covlens run` first, or give the file's path.", file=out)
        return EXIT_UNKNOWN
    rel = os.path.relpath(decision.path, root) if decision.path else "(no file)"
    reason = REASONS[decision.reason]
    lines = [
        f"{decision.module}  ({rel})",
        f"  decision: {decision.action} — reason `{decision.reason}`",
        f"  why:      {decision.detail}",
        f"  rule:     {_where(config, decision.rule)}",
        f"  config:   {config.config_file or 'none (no pyproject.toml: defaults apply)'}",
        f"  meaning:  {reason.meaning}",
        f"  to do:    {reason.what_to_do}",
    ]
    lines += [f"            {a}" for a in _advice(decision, config, rel.replace(os.sep, '/'))]
    if stored is None:
        lines.append("  (from the current configuration: no recorded run has imported it yet)")
    else:
        lines.append(f"  (recorded by run {last.run_id if last else '?'}; see docs/reasons.md#{decision.reason})")
        # Decisions that depend on what happened at run time (imports, guards) cannot be predicted from config.
        runtime_only = stored.reason in ("already-imported", "guard", "error", "pragma") or (
            stored.reason == "not-imported" and current is not None and current.action == INSTRUMENTED)
        if current is not None and current.reason != stored.reason and not runtime_only:
            lines.append(f"  note: with the configuration as it is now, it would be `{current.reason}`: "
                         f"{current.detail} — run again to update")
    print("\n".join(lines), file=out)
    return EXIT_OK
