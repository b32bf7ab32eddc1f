"""The AST engine: a probe call inserted before each counted statement records its line (all Python versions)."""

from __future__ import annotations

import ast
import builtins
import hashlib
import itertools
import threading
from collections.abc import Mapping
from types import CodeType
from typing import Any

from covlens.instrument.lines import SourceLines, compile_tree, parse
from covlens.instrument.recorder import FileHits

# The name probes are compiled with. Dunder on both ends so class bodies never mangle it. After compiling, each
# file's code gets its own name (`__covlens_hit_<hash of its path>__`, the same in every process) bound in `builtins` to that file's `hits.add`: a probe is
# one (specialised) builtins lookup and one C call, and the module's own namespace stays exactly as the user wrote
# it — code that walks `vars(module)` (toolz.curried does) sees nothing of covlens.
HIT_NAME = "__covlens_hit__"

_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
_MATCH = getattr(ast, "Match", None)
_TRY_STAR = getattr(ast, "TryStar", None)


def _located(node: ast.AST, line: int, col: int) -> ast.AST:
    # Probes take the line of the statement they stand for: they add no new line to any line table, so
    # tracebacks, co_firstlineno and inspect see the original numbering.
    node.lineno = node.end_lineno = line  # type: ignore[attr-defined]
    node.col_offset = node.end_col_offset = col  # type: ignore[attr-defined]
    return node


def _hit_call(record: int, line: int, col: int) -> ast.Call:
    call = ast.Call(
        func=_located(ast.Name(id=HIT_NAME, ctx=ast.Load()), line, col),
        args=[_located(ast.Constant(value=record), line, col)],
        keywords=[],
    )
    return _located(call, line, col)  # type: ignore[return-value]


def _probe(record: int, line: int, col: int) -> ast.stmt:
    """`__covlens_hit__(record)` as a statement placed at (line, col)."""
    return _located(ast.Expr(value=_hit_call(record, line, col)), line, col)  # type: ignore[return-value]


def _irrefutable(case: Any) -> bool:
    """Does this case match everything that reaches it? (Then no case after it can exist, nor be appended.)"""
    if case.guard is not None:
        return False
    pattern = case.pattern
    while isinstance(pattern, ast.MatchOr):
        pattern = pattern.patterns[-1]
    while isinstance(pattern, ast.MatchAs) and pattern.pattern is not None:
        pattern = pattern.pattern
    return isinstance(pattern, ast.MatchAs) and pattern.pattern is None


class _Instrumenter:
    """Inserts probes into a module tree in place, walking statement lists with an explicit stack (no recursion)."""

    def __init__(self, statements: frozenset[int], first_line: Mapping[int, int]) -> None:
        self.statements = statements
        self.first_line = first_line

    def first(self, line: int) -> int:
        return self.first_line.get(line, line) or line

    def run(self, tree: ast.Module) -> None:
        # Work items: (node owning the list, field name, the line already recorded on entry to the list or 0,
        # whether the list opens a scope whose docstring must stay first).
        todo: list[tuple[Any, str, int, bool]] = [(tree, "body", 0, True)]
        while todo:
            owner, field, covered, scope = todo.pop()
            setattr(owner, field, self.instrument_body(getattr(owner, field), covered, scope, owner is tree, todo))

    def instrument_body(
        self,
        body: list[ast.stmt],
        covered: int,
        scope: bool,
        module: bool,
        todo: list[tuple[Any, str, int, bool]],
    ) -> list[ast.stmt]:
        statements = self.statements
        out: list[ast.stmt] = []
        index = 0
        if scope and body and _is_docstring(body[0]):
            # A docstring is the first statement or it is not a docstring: probes go after it.
            out.append(body[0])
            index = 1
        if module:
            # `from __future__` imports must precede every other statement; they always run, so record them
            # right after the last one.
            future_lines: list[int] = []
            while index < len(body):
                stmt = body[index]
                if not (isinstance(stmt, ast.ImportFrom) and stmt.module == "__future__"):
                    break
                out.append(stmt)
                future_lines.append(self.first(stmt.lineno))
                index += 1
            if future_lines:
                last = body[index - 1]
                for line in dict.fromkeys(future_lines):
                    if line in statements:
                        out.append(_probe(line, last.lineno, last.col_offset))
        last_line = covered
        for stmt in body[index:]:
            line = self.first(stmt.lineno)
            if isinstance(stmt, _SCOPES) and stmt.decorator_list:
                # Decorators are evaluated before the definition runs: each decorator line counts as run too.
                for record in dict.fromkeys([self.first(d.lineno) for d in stmt.decorator_list] + [line]):
                    if record in statements and record != last_line:
                        out.append(_probe(record, stmt.decorator_list[0].lineno, stmt.col_offset))
            elif line in statements and line != last_line:
                out.append(_probe(line, stmt.lineno, stmt.col_offset))
            last_line = line
            out.append(stmt)
            self.schedule(stmt, line, todo)
        return out

    def schedule(self, stmt: ast.stmt, line: int, todo: list[tuple[Any, str, int, bool]]) -> None:
        """Queue the statement lists nested in `stmt`, and rewrite its clause headers (except, case)."""
        if isinstance(stmt, _SCOPES):
            # A new scope: its body runs later (or never), so nothing it contains is recorded yet.
            todo.append((stmt, "body", 0, True))
            return
        if isinstance(stmt, (ast.If, ast.For, ast.AsyncFor, ast.While, ast.With, ast.AsyncWith)):
            todo.append((stmt, "body", line, False))
            if getattr(stmt, "orelse", None):
                todo.append((stmt, "orelse", line, False))
            return
        if isinstance(stmt, ast.Try) or (_TRY_STAR is not None and isinstance(stmt, _TRY_STAR)):
            todo.append((stmt, "body", line, False))
            for handler in stmt.handlers:  # type: ignore[attr-defined]
                todo.append((handler, "body", self.instrument_handler(handler), False))
            if stmt.orelse:  # type: ignore[attr-defined]
                todo.append((stmt, "orelse", line, False))
            if stmt.finalbody:  # type: ignore[attr-defined]
                todo.append((stmt, "finalbody", line, False))
            return
        if _MATCH is not None and isinstance(stmt, _MATCH):
            self.instrument_match(stmt, todo)

    def instrument_handler(self, handler: ast.ExceptHandler) -> int:
        """Record the `except` line when its type expression is evaluated, matching or not; the line now covered."""
        line = self.first(handler.lineno)
        if line not in self.statements:
            return 0
        if handler.type is None:
            # A bare except matches whatever reaches it: a probe first in its body is exact.
            handler.body.insert(0, _probe(line, handler.lineno, handler.col_offset))
            return line
        kind = handler.type
        # `(__covlens_hit__(line) or E)`: set.add returns None, so this is E, evaluated after the line is recorded
        # (recorded even when evaluating E raises, as a line event would be).
        handler.type = _located(
            ast.BoolOp(op=ast.Or(), values=[_hit_call(line, kind.lineno, kind.col_offset), kind]),
            kind.lineno,
            kind.col_offset,
        )  # type: ignore[assignment]
        handler.type.end_lineno = kind.end_lineno  # type: ignore[union-attr]
        handler.type.end_col_offset = kind.end_col_offset  # type: ignore[union-attr]
        return line

    def instrument_match(self, stmt: Any, todo: list[tuple[Any, str, int, bool]]) -> None:
        """A `case` line runs when its pattern is tried: case k matching means cases 1..k were all tried."""
        tried: list[int] = []
        for case in stmt.cases:
            line = self.first(case.pattern.lineno)
            if line in self.statements and line not in tried:
                tried.append(line)
            body = case.body
            anchor = body[0]
            case.body = [_probe(record, anchor.lineno, anchor.col_offset) for record in tried] + body
            todo.append((case, "body", line, False))
        if tried and not _irrefutable(stmt.cases[-1]):
            # No case matched: every pattern was tried. An appended wildcard records them all and does nothing else.
            last = stmt.cases[-1]
            line, col = last.pattern.lineno, last.pattern.col_offset
            wildcard = _located(ast.MatchAs(pattern=None, name=None), line, col)
            stmt.cases.append(
                ast.match_case(  # type: ignore[attr-defined]
                    pattern=wildcard,
                    guard=None,
                    body=[_probe(record, line, col) for record in tried],
                )
            )


def _is_docstring(stmt: ast.stmt) -> bool:
    return isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant) and isinstance(stmt.value.value, str)


def _rename(code: CodeType, old: str, new: str) -> CodeType:
    """`code` and every code object nested in it, with the global name `old` renamed to `new`."""
    consts = tuple(_rename(c, old, new) if isinstance(c, CodeType) else c for c in code.co_consts)
    names = tuple(new if n == old else n for n in code.co_names)
    return code.replace(co_consts=consts, co_names=names)


def stable_probe_name(path: str) -> str:
    """The probe name of the file at `path`: the same in every process, so cached code can be reused as is."""
    return f"__covlens_hit_{hashlib.sha256(path.encode('utf-8', 'surrogatepass')).hexdigest()[:16]}__"


class AstEngine:
    """Compiles a module with a probe before every statement coverage.py counts."""

    name = "ast"

    _counter = itertools.count()
    _lock = threading.Lock()

    def __init__(self) -> None:
        self._names: dict[str, str] = {}  # path -> its probe's name in builtins
        self._owners: dict[str, str] = {}  # probe name -> its path

    def _probe_name(self, path: str) -> str:
        with self._lock:
            name = self._names.get(path)
            if name is None:
                name = stable_probe_name(path)
                if self._owners.get(name, path) != path:
                    # Two paths with the same 64-bit prefix: never share a probe; this file's code gets renamed.
                    name = f"__covlens_hit_{next(self._counter)}__"
                self._names[path] = name
                self._owners[name] = path
        return name

    def build(self, source: str, filename: str, lines: SourceLines) -> CodeType:
        """The instrumented code, its probes named for `filename` (stable across processes: it can be cached)."""
        tree = parse(source, filename)
        _Instrumenter(lines.statements, lines.first_line).run(tree)
        code = compile_tree(tree, source, filename)
        return _rename(code, HIT_NAME, stable_probe_name(filename))

    def bind(self, code: CodeType, filename: str, target: FileHits) -> tuple[CodeType, dict[str, Any]]:
        """Make built code record into `target`: bind its probe name in builtins to the hit set's `add`."""
        name = self._probe_name(filename)
        stable = stable_probe_name(filename)
        if name != stable:
            code = _rename(code, stable, name)
        # A reload passes the same FileHits (same set): rebinding keeps every copy of the code recording into it.
        setattr(builtins, name, target.hits.add)
        return code, {}

    def compile(self, source: str, filename: str, target: FileHits) -> tuple[CodeType, dict[str, Any]]:
        return self.bind(self.build(source, filename, target.lines), filename, target)

    def new_context(self) -> None:
        # Probes record every time they run: nothing to re-arm.
        pass

    def close(self) -> None:
        # The builtins stay bound: instrumented functions may still run after the run ends (atexit, threads),
        # and a probe must never raise NameError in user code.
        pass
