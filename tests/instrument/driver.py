"""Runs a snippet under covlens's import hook in a fresh interpreter and returns what the hook saw."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

from covlens.instrument.decision import Decision

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
MARKER = "@@covlens-driver@@"

_BOOT = r"""
import json, sys, traceback
sys.path.insert(0, ROOT)
from covlens import config as _config
from covlens.instrument.hook import Instrumenter
_cfg = _config.load(ROOT).with_overrides(engine=ENGINE)
_engine = None
if FAKE_ENGINE:
    _ns = {}
    exec(FAKE_ENGINE, _ns)
    _engine = _ns["make_engine"]()
INST = Instrumenter(_cfg, engine=_engine)
INST.install()
_error = None
_ns = {"__name__": "__covlens_driver__", "INST": INST}
try:
    exec(compile(SCRIPT, "<driver>", "exec"), _ns)
except BaseException as exc:
    _error = {"type": type(exc).__name__, "message": str(exc), "lineno": getattr(exc, "lineno", None),
              "filename": getattr(exc, "filename", None), "msg": getattr(exc, "msg", None)}
_, _hits = INST.switch_context("")
_decisions = INST.finish()
print(MARKER + json.dumps({
    "decisions": [d.to_json() for d in _decisions],
    "hits": {p: sorted(v) for p, v in _hits.items()},
    "lines": {p: {"statements": sorted(f.statements), "excluded": sorted(f.excluded)}
              for p, f in INST.file_lines().items()},
    "error": _error,
    "result": _ns.get("RESULT"),
    "engine": INST.engine_name,
}))
"""


def workspace(root: Path, files: dict[str, str]) -> Path:
    """A project with no configuration: every module in it is instrumented for reason `workspace`."""
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


@dataclass
class HookRun:
    """What one run under the hook produced."""

    decisions: dict[str, Decision]
    hits: dict[str, list[int]]
    lines: dict[str, dict[str, list[int]]]
    error: dict | None
    result: object
    engine: str
    stdout: str
    stderr: str

    def decision(self, module: str) -> Decision:
        assert module in self.decisions, f"no decision for {module}; have {sorted(self.decisions)}"
        return self.decisions[module]

    def hits_of(self, root: Path, rel: str) -> list[int]:
        return self.hits.get(str((root / rel).resolve()), [])


def run_under_hook(root: Path, script: str, *, engine: str = "auto", fake_engine: str | None = None,
                   env: dict[str, str] | None = None, python: str = sys.executable) -> HookRun:
    """Install the hook for project `root`, exec `script` (it may set RESULT), finish, and report."""
    boot = (
        f"ROOT = {str(root)!r}\nENGINE = {engine!r}\nSCRIPT = {textwrap.dedent(script)!r}\n"
        f"FAKE_ENGINE = {fake_engine!r}\nMARKER = {MARKER!r}\n" + _BOOT
    )
    full_env = {**os.environ, **(env or {})}
    full_env.pop("PYTHONDONTWRITEBYTECODE", None)
    proc = subprocess.run([python, "-c", boot], cwd=root, capture_output=True, text=True, env=full_env, timeout=120)
    payload = next((ln[len(MARKER):] for ln in proc.stdout.splitlines() if ln.startswith(MARKER)), None)
    assert payload is not None, f"driver failed (exit {proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
    data = json.loads(payload)
    return HookRun(
        decisions={d["module"]: Decision.from_json(d) for d in data["decisions"]},
        hits=data["hits"], lines=data["lines"], error=data["error"], result=data["result"], engine=data["engine"],
        stdout=proc.stdout, stderr=proc.stderr,
    )


def run_plain(root: Path, script: str, python: str = sys.executable) -> dict | None:
    """Exec `script` in a plain interpreter (no covlens); return the exception it raised, described, or None."""
    return _plain(root, script, python)["error"]


def plain_result(root: Path, script: str, python: str = sys.executable) -> object:
    """Exec `script` in a plain interpreter (no covlens); return what it set RESULT to."""
    return _plain(root, script, python)["result"]


def _plain(root: Path, script: str, python: str) -> dict:
    boot = (
        f"import json, sys\nsys.path.insert(0, {str(root)!r})\n_e = None\n_ns = {{'__name__': '__plain__'}}\n"
        f"try:\n    exec(compile({textwrap.dedent(script)!r}, '<driver>', 'exec'), _ns)\n"
        "except BaseException as exc:\n"
        "    _e = {'type': type(exc).__name__, 'message': str(exc), 'lineno': getattr(exc, 'lineno', None),"
        " 'filename': getattr(exc, 'filename', None), 'msg': getattr(exc, 'msg', None)}\n"
        f"print({MARKER!r} + json.dumps({{'error': _e, 'result': _ns.get('RESULT')}}))\n"
    )
    proc = subprocess.run([python, "-c", boot], cwd=root, capture_output=True, text=True, timeout=120)
    payload = next((ln[len(MARKER):] for ln in proc.stdout.splitlines() if ln.startswith(MARKER)), None)
    assert payload is not None, f"plain run failed (exit {proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
    return json.loads(payload)
