"""The benchmark's environments: one venv per Python under bench/.work/, the sdists, and private project copies."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
# The benchmark is started as a plain script: put the repository on the path for scripts.fetch_sdist.
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from scripts import fetch_sdist  # noqa: E402
BENCH = REPO / "bench"
WORK = BENCH / ".work"  # gitignored: venvs, sdists, project copies, logs, raw samples
WORKLOADS = Path(__file__).resolve().parent / "workloads"

# Pinned so that two RESULTS.md files compare like with like; bump deliberately and say so in the results.
PINS = ("pytest==9.2.0", "coverage==7.17.3", "slipcover==1.1.0")


@dataclass(frozen=True)
class Env:
    """A venv for one Python version with pytest, coverage.py, slipcover and covlens (editable) installed."""

    version: str  # "3.13"
    base: str  # the interpreter the venv was made from
    folder: Path

    @property
    def python(self) -> str:
        return str(self.folder / "bin" / "python")

    @property
    def monitoring(self) -> bool:
        """Does this Python have sys.monitoring (3.12+)?"""
        return tuple(int(p) for p in self.version.split(".")) >= (3, 12)


def find_python(version: str) -> str:
    """The interpreter for `version`, found by scripts/find-python (PATH, then pyenv)."""
    result = subprocess.run([str(REPO / "scripts" / "find-python"), version], capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(result.stderr.strip() or f"Python {version} not found")
    return result.stdout.strip()


def ensure_env(version: str, log: callable = print) -> Env:
    """Create (or reuse) bench/.work/venv-<version>, installing the pinned tools and covlens from this checkout."""
    base = find_python(version)
    env = Env(version, base, WORK / f"venv-{version}")
    stamp = env.folder / ".bench-installed"
    wanted = "\n".join([*PINS, f"-e {REPO}"]) + "\n"
    if stamp.is_file() and stamp.read_text() == wanted and Path(env.python).exists():
        return env
    log(f"creating {env.folder} from {base}")
    shutil.rmtree(env.folder, ignore_errors=True)
    subprocess.run([base, "-m", "venv", str(env.folder)], check=True)
    pip = [env.python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    subprocess.run([*pip, "--upgrade", "pip"], check=True)
    subprocess.run([*pip, *PINS, "-e", str(REPO)], check=True)
    stamp.write_text(wanted)
    return env


def sdist_tree(name: str, python: str) -> Path:
    """The unpacked pinned sdist of `name` (toolz, boltons), cached under bench/.work/sdists."""
    return fetch_sdist.fetch(name, WORK / "sdists", python)


def sdist_version(name: str) -> str:
    return fetch_sdist.PINS[name].version


def project_copy(source: Path, env: Env, suite: str) -> Path:
    """A private copy of a project for one Python (its .pyc, .covlens store and .coverage stay apart)."""
    target = WORK / "projects" / env.version / suite
    if target.exists():
        shutil.rmtree(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__", ".covlens", ".coverage*",
                                                                     ".pytest_cache"))
    return target


def clean_outputs(folder: Path) -> None:
    """Remove what a previous run left behind (covlens store, coverage data), so every run starts the same."""
    shutil.rmtree(folder / ".covlens", ignore_errors=True)
    for leftover in folder.glob(".coverage*"):
        if leftover.is_file():
            leftover.unlink()


def base_env() -> dict[str, str]:
    """The environment of every measured process: nothing from an outer pytest or coverage run, fixed hash seed."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PYTEST_", "COV_CORE_", "COVERAGE_", "COVLENS_", "PYTHON"))}
    env["PYTHONHASHSEED"] = "0"
    return env
