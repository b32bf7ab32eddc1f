#!/usr/bin/env python3
"""Deterministic generator of the latency benchmark's project: a package of many small modules and their tests.

    python bench/latency/generate.py DEST [--modules 200] [--functions 5] [--tests-per-module 10] [--work N]

The project (`latproj/`, `tests/`, `pyproject.toml`) depends only on the arguments and the seed: no wall clock,
no hash randomisation. Module i defines `f<i>_0` (a leaf: it calls nothing) and `f<i>_1`, … which spend about
`work` loop rounds each and may call the leaf of an earlier module, so a function is also run by other modules'
tests. Each test file has one test per function and one parametrized test over the remaining cases; the tests
assert only properties that the benchmark's edits (`apply_edit`) keep, so every edit leaves the suite passing.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

PACKAGE = "latproj"
MARKER = ".latproj-generated"  # a folder holding it was made here and may be replaced by the next generate()
MOD = 1_000_003
DEFAULT_WORK = 180_000  # loop rounds per function; see bench/README.md for the tuning (full run >= 20 s)
SMALL = {"modules": 10, "functions_per_module": 3, "tests_per_module": 5, "work": 20}  # 50 quick tests
EDIT_TAG = "# bench edit"


@dataclass(frozen=True)
class Function:
    """A generated function whose body the benchmark may edit."""

    module: str  # "latproj.m017"
    path: str  # "latproj/m017.py", relative to the project root
    name: str  # "f017_2"
    leaf: bool  # f<i>_0: called by later modules' functions, so by their tests too


@dataclass(frozen=True)
class Generated:
    """What generate() made."""

    root: Path
    package: str
    modules: int
    tests: int
    functions: tuple[Function, ...]
    work: int
    seed: int

    def to_json(self) -> dict[str, object]:
        return {"root": str(self.root), "package": self.package, "modules": self.modules, "tests": self.tests,
                "functions": len(self.functions), "work": self.work, "seed": self.seed}


# ----------------------------------------------------------------------------------------------- source text


def _module_name(i: int) -> str:
    return f"m{i:03d}"


def _leaf(i: int, rng: random.Random, work: int) -> str:
    loops = max(1, work // 4 + rng.randrange(max(1, work // 8)))
    return (f"def f{i:03d}_0(x: int) -> int:\n"
            f'    """Mix `x` through {loops} rounds (a leaf: called by later modules)."""\n'
            f"    acc = x * {rng.randrange(3, 97)} + 1\n"
            f"    for step in range({loops}):\n"
            f"        acc = (acc + step * {rng.randrange(3, 97)}) % MOD\n"
            f"    return acc\n")


def _function(i: int, j: int, rng: random.Random, work: int, callees: list[int]) -> str:
    """Function j of module i: a loop of about `work` rounds, then a branch that may call another module's leaf."""
    loops = max(1, work // 2 + rng.randrange(max(1, work)))
    kind = rng.randrange(3)
    lines = [f"def f{i:03d}_{j}(x: int) -> int:",
             f'    """Mix `x` through {loops} rounds, then branch on the result."""',
             f"    acc = x + {rng.randrange(1, 1000)}"]  # the edit anchor: apply_edit() inserts after this line
    if kind == 0:
        lines += [f"    for step in range({loops}):",
                  f"        acc = (acc * {rng.randrange(3, 97)} + step) % MOD"]
    elif kind == 1:
        lines += ["    step = 0",
                  f"    while step < {loops}:",
                  f"        acc = (acc ^ (step * {rng.randrange(3, 97)})) % MOD",
                  "        step += 1"]
    else:
        lines += [f"    values = [(acc + k * {rng.randrange(3, 97)}) % {rng.randrange(50, 500)} "
                  f"for k in range({loops})]",
                  "    acc = (acc + sum(values) + max(values)) % MOD"]
    call = (f"{_module_name(callees[0])}.f{callees[0]:03d}_0(acc % 97)" if callees
            else f"f{i:03d}_0(acc % 89)")
    lines += [f"    if acc % {rng.choice((2, 3))} == 0:",
              f"        acc = acc + {call}",
              "    else:",
              f"        acc = acc - {rng.randrange(1, 100)}"]
    if len(callees) > 1:
        lines += ["    if acc % 5 == 1:",
                  f"        acc = acc + {_module_name(callees[1])}.f{callees[1]:03d}_0(acc % 83)"]
    lines.append("    return acc % MOD")
    return "\n".join(lines) + "\n"


def _module(i: int, functions: int, rng: random.Random, work: int) -> tuple[str, list[Function]]:
    # Calls go to earlier modules only: no import cycles, and early modules' leaves are run by many tests.
    pool = list(range(i))
    bodies = [_leaf(i, rng, work)]
    imported: set[int] = set()
    for j in range(1, functions):
        callees = sorted(rng.sample(pool, min(len(pool), rng.choice((0, 1, 1, 2))))) if pool else []
        imported.update(callees)
        bodies.append(_function(i, j, rng, work, callees))
    name = _module_name(i)
    head = [f'"""Generated module {i} of {PACKAGE} (bench/latency/generate.py)."""', ""]
    if imported:
        head += [f"from {PACKAGE} import {', '.join(_module_name(k) for k in sorted(imported))}", ""]
    head += [f"MOD = {MOD}", ""]
    text = "\n".join(head) + "\n\n" + "\n\n".join(bodies)
    funcs = [Function(f"{PACKAGE}.{name}", f"{PACKAGE}/{name}.py", f"f{i:03d}_{j}", j == 0) for j in range(functions)]
    return text, funcs


def _tests(i: int, functions: int, per_module: int, rng: random.Random) -> str:
    """One test per function (up to `per_module`), then one parametrized test with the remaining cases."""
    name = _module_name(i)
    plain = min(functions, per_module)
    out = [f'"""Tests of {PACKAGE}.{name} (generated by bench/latency/generate.py)."""', "", "import pytest", "",
           f"from {PACKAGE} import {name}", ""]
    for j in range(plain):
        out += ["", f"def test_f{i:03d}_{j}() -> None:",
                f"    assert 0 <= {name}.f{i:03d}_{j}({rng.randrange(1000)}) < {name}.MOD", ""]
    cases = per_module - plain
    if cases > 0:
        args = [(rng.randrange(functions), rng.randrange(1000)) for _ in range(cases)]
        out += ["", f"@pytest.mark.parametrize(('function', 'x'), {args!r})",
                f"def test_many_{i:03d}(function: int, x: int) -> None:",
                f'    result = getattr({name}, f"f{i:03d}_{{function}}")(x)',
                f"    assert isinstance(result, int) and 0 <= result < {name}.MOD", ""]
    return "\n".join(out).rstrip("\n") + "\n"


PYPROJECT = f"""# Generated by bench/latency/generate.py: the latency benchmark's project (not committed).
[project]
name = "{PACKAGE}"
version = "0"
requires-python = ">=3.10"

[tool.covlens]
source = ["{PACKAGE}"]

[tool.coverage.run]
source = ["{PACKAGE}"]

[tool.pytest.ini_options]
testpaths = ["tests"]
pythonpath = ["."]
addopts = "-p no:cacheprovider"
"""


# ----------------------------------------------------------------------------------------------- generate


def generate(dest: Path | str, modules: int = 200, functions_per_module: int = 5, tests_per_module: int = 10,
             work: int = DEFAULT_WORK, seed: int = 0) -> Generated:
    """Write the project into `dest` (created, or replaced when an earlier generate() made it); what it made."""
    if modules < 1 or functions_per_module < 1 or tests_per_module < 1 or work < 1:
        raise ValueError("modules, functions_per_module, tests_per_module and work must be at least 1")
    root = Path(dest).resolve()
    _clear(root)
    settings = {"modules": modules, "functions_per_module": functions_per_module,
                "tests_per_module": tests_per_module, "work": work, "seed": seed}
    # One stream per module and one per test file: a module's text does not depend on the modules after it.
    functions: list[Function] = []
    package = root / PACKAGE
    tests = root / "tests"
    package.mkdir(parents=True)
    tests.mkdir()
    (package / "__init__.py").write_text(f'"""The latency benchmark\'s generated package ({modules} modules)."""\n')
    for i in range(modules):
        text, funcs = _module(i, functions_per_module, random.Random(f"{seed}:module:{i}"), work)
        (package / f"{_module_name(i)}.py").write_text(text)
        functions += funcs
        test_rng = random.Random(f"{seed}:tests:{i}")
        (tests / f"test_{_module_name(i)}.py").write_text(
            _tests(i, functions_per_module, tests_per_module, test_rng))
    (root / "pyproject.toml").write_text(PYPROJECT)
    (root / MARKER).write_text(json.dumps(settings, sort_keys=True) + "\n")
    return Generated(root, PACKAGE, modules, modules * tests_per_module, tuple(functions), work, seed)


def generate_small(dest: Path | str, seed: int = 0) -> Generated:
    """The quick variant for tests: 10 modules, 50 tests, a fraction of a second under plain pytest."""
    return generate(dest, seed=seed, **SMALL)


def _clear(root: Path) -> None:
    """Make `root` an empty folder; refuse to empty one that generate() did not make."""
    if root.exists():
        if not (root / MARKER).is_file() and any(root.iterdir()):
            raise FileExistsError(f"{root} exists and was not made by generate(); not replacing it")
        shutil.rmtree(root)
    root.mkdir(parents=True)


# ----------------------------------------------------------------------------------------------- edits


def pick_edits(info: Generated, count: int) -> list[Function]:
    """`count` functions to edit, in different modules while there are enough, every fourth a leaf.

    Deterministic; spread over the package (a stride coprime with the number of modules) so that early modules
    (whose leaves many tests run) and late ones (run by their own tests only) both come up.
    """
    by_module: dict[str, list[Function]] = {}
    for f in info.functions:
        by_module.setdefault(f.module, []).append(f)
    modules = sorted(by_module)
    stride = next(s for s in (37, 41, 43, 47, 53, 1) if len(modules) % s or s == 1)
    picked = []
    for k in range(count):
        funcs = by_module[modules[(11 + k * stride) % len(modules)]]
        leaves = [f for f in funcs if f.leaf]
        others = [f for f in funcs if not f.leaf] or funcs
        picked.append(leaves[0] if k % 4 == 3 and leaves else others[(k // 4 + k) % len(others)])
    return picked


def apply_edit(text: str, function: Function, number: int) -> tuple[str, int]:
    """Insert the statement `marker = <number>` into `function`'s body; (the new text, its 0-based line).

    It goes right after the first statement of the body (which every call runs), so a fresh coverage of the
    file must show that line covered. Works on already edited text: edits accumulate.
    """
    lines = text.splitlines(keepends=True)
    anchor = anchor_line(text, function.name)
    lines.insert(anchor + 1, f"    marker = {number}  {EDIT_TAG} {number}\n")
    return "".join(lines), anchor + 1


def anchor_line(text: str, name: str) -> int:
    """0-based line of the first statement of function `name`'s body (`acc = …`: every call runs it)."""
    lines = text.splitlines()
    start = next((n for n, line in enumerate(lines) if line.startswith(f"def {name}(")), None)
    anchor = None if start is None else next(
        (n for n in range(start + 1, len(lines)) if lines[n].startswith("    acc = ")), None)
    if anchor is None:
        raise ValueError(f"no function {name} with a first statement `acc = …` in this text")
    return anchor


# ----------------------------------------------------------------------------------------------- script


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dest", type=Path, help="the project folder (replaced if an earlier run made it)")
    parser.add_argument("--modules", type=int, default=200)
    parser.add_argument("--functions", type=int, default=5, help="functions per module")
    parser.add_argument("--tests-per-module", type=int, default=10)
    parser.add_argument("--work", type=int, default=DEFAULT_WORK, help="loop rounds per function (CPU per test)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--small", action="store_true", help=f"the quick variant: {SMALL}")
    args = parser.parse_args(argv)
    if args.small:
        info = generate_small(args.dest, args.seed)
    else:
        info = generate(args.dest, args.modules, args.functions, args.tests_per_module, args.work, args.seed)
    print(json.dumps(info.to_json()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
