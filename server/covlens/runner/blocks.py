"""Blocks of a Python file (each function, and everything else as the module block) with checksums, and line remaps."""

from __future__ import annotations

import ast
import copy
import difflib
import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

MODULE = "<module>"  # the name of the block holding every line outside a function


@dataclass(frozen=True)
class Block:
    """A function (decorators to last line, nested functions included) or the module block; lines are 1-based."""

    name: str  # qualified: "Cart.total", "helper", "outer" (a function nested in `outer` is part of it)
    start: int
    end: int
    checksum: str  # of the code's syntax tree: comments, blank lines and moves do not change it


@dataclass(frozen=True)
class FileBlocks:
    """The blocks of one version of a file; `of_line` says which block a line belongs to."""

    blocks: Mapping[str, Block]

    def of_line(self, line: int) -> str:
        # Functions never overlap (nested ones are inside their parent's block), so the first match is the one.
        for block in self.blocks.values():
            if block.name != MODULE and block.start <= line <= block.end:
                return block.name
        return MODULE

    def changed(self, newer: FileBlocks) -> frozenset[str]:
        """Names of the blocks added, removed or edited between this version and `newer`."""
        names = set(self.blocks) | set(newer.blocks)
        return frozenset(n for n in names if _sum(self.blocks.get(n)) != _sum(newer.blocks.get(n)))


def _sum(block: Block | None) -> str | None:
    return None if block is None else block.checksum


class Unparsable(ValueError):
    """The source is not valid Python: its blocks cannot be known."""


def blocks_of(source: str) -> FileBlocks:
    """Split `source` into blocks; raises Unparsable on a syntax error."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError) as exc:
        raise Unparsable(str(exc)) from None
    found: dict[str, Block] = {}
    body = _split(tree, "", found)
    last = max((getattr(n, "end_lineno", 0) or 0 for n in ast.walk(tree)), default=0)
    found[MODULE] = Block(MODULE, 1, max(last, 1), _checksum(body))
    return FileBlocks(found)


_FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef)
_CONTAINERS = tuple(getattr(ast, n) for n in ("Module", "ClassDef", "If", "Try", "TryStar", "With", "AsyncWith",
                                              "For", "AsyncFor", "While", "ExceptHandler") if hasattr(ast, n))


def _split(node: ast.AST, prefix: str, found: dict[str, Block]) -> ast.AST:
    """Record the functions under `node` (through classes and compound statements); return `node` without them.

    Functions leave the module block entirely, so adding or removing one changes only its own block: the tests
    that ran it are the ones affected (a new function has none; the tests that call it changed too).
    """
    if not isinstance(node, _CONTAINERS):
        return node
    inner = prefix + node.name + "." if isinstance(node, ast.ClassDef) else prefix
    stripped = _shallow(node)
    for field in ("body", "orelse", "finalbody", "handlers"):
        items = getattr(node, field, None)
        if not isinstance(items, list):
            continue
        kept = []
        for item in items:
            if isinstance(item, _FUNCTIONS):
                name = _unique(inner + item.name, found)
                start = min([item.lineno, *(d.lineno for d in item.decorator_list)])
                found[name] = Block(name, start, item.end_lineno or item.lineno, _checksum(item))
            else:
                kept.append(_split(item, inner, found))
        setattr(stripped, field, kept)
    return stripped


def _shallow(node: ast.AST) -> ast.AST:
    return copy.copy(node)  # the lists it holds are replaced, never changed in place


def _unique(name: str, found: Mapping[str, Block]) -> str:
    # A name defined twice (conditional definitions, overloads) keeps both blocks apart in order.
    if name not in found:
        return name
    n = 2
    while f"{name}#{n}" in found:
        n += 1
    return f"{name}#{n}"


def _checksum(node: ast.AST) -> str:
    dump = ast.dump(node, annotate_fields=False, include_attributes=False)
    return hashlib.sha256(dump.encode("utf-8")).hexdigest()[:20]


def line_map(old: str, new: str) -> dict[int, int]:
    """1-based old line → new line for every line whose text is unchanged in an unchanged run of lines."""
    a, b = old.splitlines(), new.splitlines()
    mapping: dict[int, int] = {}
    for tag, i1, i2, j1, _ in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if tag == "equal":
            for k in range(i2 - i1):
                mapping[i1 + k + 1] = j1 + k + 1
    return mapping


def remap(lines: Iterable[int], mapping: Mapping[int, int]) -> frozenset[int]:
    """`lines` moved through an edit; lines the edit removed or rewrote are dropped."""
    return frozenset(mapping[n] for n in lines if n in mapping)
