"""The benchmark's environments: one venv per Python under bench/.work/, the sdists, and private project copies."""

from __future__ import annotations

import json
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


def ensure_env(version: str, log: callable = print, extra: tuple[str, ...] = (), name: str = "venv") -> Env:
    """Create (or reuse) bench/.work/<name>-<version>, installing the pinned tools and covlens from this checkout.

    `extra` pins more packages (another benchmark's tools); give such a venv its own `name` so that this one's
    measurements never load them.
    """
    base = find_python(version)
    env = Env(version, base, WORK / f"{name}-{version}")
    stamp = env.folder / ".bench-installed"
    pins = (*PINS, *extra)
    wanted = "\n".join([*pins, f"-e {REPO}"]) + "\n"
    if stamp.is_file() and stamp.read_text() == wanted and Path(env.python).exists():
        return env
    log(f"creating {env.folder} from {base}")
    shutil.rmtree(env.folder, ignore_errors=True)
    subprocess.run([base, "-m", "venv", str(env.folder)], check=True)
    pip = [env.python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    subprocess.run([*pip, "--upgrade", "pip"], check=True)
    subprocess.run([*pip, *pins, "-e", str(REPO)], check=True)
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
    """Remove what a previous run left behind (covlens store, coverage data), so every run starts the same.

    covlens's code cache (`.covlens/cache/`) stays, as the `.pyc` files plain pytest loads do: a user's second run
    finds both warm.
    """
    covlens_dir = folder / ".covlens"
    if covlens_dir.is_dir():
        for child in covlens_dir.iterdir():
            if child.name == "cache":
                continue
            if child.is_dir() and not child.is_symlink():
                shutil.rmtree(child, ignore_errors=True)
            else:
                child.unlink(missing_ok=True)
    for leftover in folder.glob(".coverage*"):
        if leftover.is_file():
            leftover.unlink()


def base_env() -> dict[str, str]:
    """The environment of every measured process: nothing from an outer pytest or coverage run, fixed hash seed."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PYTEST_", "COV_CORE_", "COVERAGE_", "COVLENS_", "PYTHON"))}
    env["PYTHONHASHSEED"] = "0"
    return env


def save_run(name: str, raw: dict, raw_path: Path, out: Path, rendered: str) -> None:
    """Write a benchmark's raw samples (JSON) and its sections of the results file; say where and how long it took."""
    raw_path.parent.mkdir(parents=True, exist_ok=True)
    raw_path.write_text(json.dumps(raw, indent=1))
    write_results(out, rendered)
    print(f"{name}: wrote {out} and {raw_path} in {(raw['finished'] - raw['started']) / 60:.1f} min", flush=True)


def write_results(path: Path, rendered: str) -> None:
    """Write the `## N.` sections of `rendered` into the results file at `path`, keeping its other sections.

    Each benchmark renders only its own sections (under the file's `# ` title); a section already in the file is
    replaced in place, a new one is inserted in the order of its number, and every other section stays as it was.
    """
    def split(text: str) -> tuple[str, list[str]]:
        head, sections = [], []
        for line in text.splitlines(keepends=True):
            if line.startswith("## "):
                sections.append(line)
            elif sections:
                sections[-1] += line
            else:
                head.append(line)
        return "".join(head), sections

    def key(section: str) -> tuple[float, str]:
        """(its number, "") for a numbered section, else (inf, its title): unnumbered ones go last, by title."""
        title = section.split("\n", 1)[0]
        token = title[3:].split(" ", 1)[0].rstrip(".")
        try:
            return float(token), ""
        except ValueError:
            return float("inf"), title

    old_head, old = split(path.read_text(encoding="utf-8")) if path.is_file() else ("", [])
    new_head, new = split(rendered)
    merged = {key(s): s for s in old}
    merged.update({key(s): s for s in new})
    body = [s.rstrip("\n") + "\n\n" for _, s in sorted(merged.items())]
    text = (old_head or new_head) + "".join(body)
    path.write_text(text.rstrip("\n") + "\n", encoding="utf-8")
