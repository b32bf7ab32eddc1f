"""Statement probes placed in a module's tree: a call before each statement coverage.py counts, at its own line."""

from __future__ import annotations

import ast
from collections.abc import Callable, Mapping
from typing import Any

from covlens.instrument.lines import irrefutable

# The names probes are compiled with. Dunder on both ends so class bodies never mangle them. HIT_NAME probes are
# whole statements; REC_NAME probes sit inside an expression (`except` types). The engines decide what they call:
# the AST engine renames both per file and binds them in `builtins` (see engine_ast), the monitoring engine calls
# through one dictionary in `builtins` (see engine_monitor).
HIT_NAME = "__covlens_hit__"
REC_NAME = "__covlens_rec__"

_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
_MATCH = getattr(ast, "Match", None)
_TRY_STAR = getattr(ast, "TryStar", None)


def _located(node: ast.AST, line: int, col: int) -> ast.AST:
    # Probes take the line of the statement they stand for: they add no new line to any line table, so
    # tracebacks, co_firstlineno and inspect see the original numbering.
    node.lineno = node.end_lineno = line  # type: ignore[attr-defined]
    node.col_offset = node.end_col_offset = col  # type: ignore[attr-defined]
    return node


def by_name(name: str, line: int, col: int) -> ast.expr:
    """The callee of a probe as the global name itself (`__covlens_hit__`), the AST engine's."""
    return _located(ast.Name(id=name, ctx=ast.Load()), line, col)  # type: ignore[return-value]


# What a probe calls: from the probe's kind (HIT_NAME or REC_NAME) and its place, the expression to call.
Callee = Callable[[str, int, int], ast.expr]


def through_table(table: str, key: str) -> Callee:
    """The callee `<table>[<key>]`, whatever the probe's kind: one dictionary lookup, then the call."""

    def callee(name: str, line: int, col: int) -> ast.expr:
        lookup = ast.Subscript(value=_located(ast.Name(id=table, ctx=ast.Load()), line, col),
                               slice=_located(ast.Constant(value=key), line, col), ctx=ast.Load())
        return _located(lookup, line, col)  # type: ignore[return-value]

    return callee


class StatementProbes:
    """Inserts probes into a module tree in place, walking statement lists with an explicit stack (no recursion)."""

    def __init__(self, statements: frozenset[int], first_line: Mapping[int, int], callee: Callee = by_name,
                 names: tuple[str, ...] = (HIT_NAME, REC_NAME)) -> None:
        self.statements = statements
        self.first_line = first_line
        self.callee = callee
        self.names = names  # the global names the callee looks up

    def first(self, line: int) -> int:
        return self.first_line.get(line, line) or line

    def hit_call(self, record: int, line: int, col: int, name: str = HIT_NAME) -> ast.Call:
        """The call recording `record`, placed at (line, col)."""
        call = ast.Call(func=self.callee(name, line, col), args=[_located(ast.Constant(value=record), line, col)],
                        keywords=[])
        return _located(call, line, col)  # type: ignore[return-value]

    def probe(self, record: int, line: int, col: int) -> ast.stmt:
        """`__covlens_hit__(record)` (or what the callee makes of it) as a statement placed at (line, col)."""
        return _located(ast.Expr(value=self.hit_call(record, line, col)), line, col)  # type: ignore[return-value]

    def run(self, tree: ast.Module) -> None:
        # Work items: (node owning the list, field name, the line already recorded on entry to the list or 0,
        # whether the list opens a scope whose docstring must stay first).
        todo: list[tuple[Any, str, int, bool]] = [(tree, "body", 0, True)]
        while todo:
            owner, field, covered, scope = todo.pop()
            body = self.instrument_body(getattr(owner, field), covered, scope, owner is tree, todo)
            if isinstance(owner, ast.ClassDef) and field == "body":
                body = self.global_names(body)
            setattr(owner, field, body)

    def global_names(self, body: list[ast.stmt]) -> list[ast.stmt]:
        """`body` (a class's) declaring the probes' names global, after its docstring.

        A class body looks a name up first in the mapping its metaclass prepared, and that mapping may answer for any
        name (a `__missing__` that invents values): the probe would then call what it invented. Declared global, the
        names are looked up in the module and in builtins only. A declaration makes no bytecode and no line.
        """
        at = 1 if body and _is_docstring(body[0]) else 0
        anchor = body[at] if at < len(body) else body[-1]
        declaration = _located(ast.Global(names=list(self.names)), anchor.lineno, anchor.col_offset)
        return [*body[:at], declaration, *body[at:]]  # type: ignore[list-item]

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
                        out.append(self.probe(line, last.lineno, last.col_offset))
        last_line = covered
        for stmt in body[index:]:
            line = self.first(stmt.lineno)
            if isinstance(stmt, _SCOPES) and stmt.decorator_list:
                # Decorators are evaluated before the definition runs: each decorator line counts as run too.
                for record in dict.fromkeys([self.first(d.lineno) for d in stmt.decorator_list] + [line]):
                    if record in statements and record != last_line:
                        out.append(self.probe(record, stmt.decorator_list[0].lineno, stmt.col_offset))
            elif line in statements and line != last_line:
                out.append(self.probe(line, stmt.lineno, stmt.col_offset))
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
            handler.body.insert(0, self.probe(line, handler.lineno, handler.col_offset))
            return line
        kind = handler.type
        # `(__covlens_rec__(line) or E)`: set.add returns None, so this is E, evaluated after the line is recorded
        # (recorded even when evaluating E raises, as a line event would be).
        handler.type = _located(
            ast.BoolOp(op=ast.Or(), values=[self.hit_call(line, kind.lineno, kind.col_offset, REC_NAME), kind]),
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
            case.body = [self.probe(record, anchor.lineno, anchor.col_offset) for record in tried] + body
            todo.append((case, "body", line, False))
        if tried and not irrefutable(stmt.cases[-1]):  # then no case can follow it
            # No case matched: every pattern was tried. An appended wildcard records them all and does nothing else.
            last = stmt.cases[-1]
            line, col = last.pattern.lineno, last.pattern.col_offset
            wildcard = _located(ast.MatchAs(pattern=None, name=None), line, col)
            stmt.cases.append(
                ast.match_case(  # type: ignore[attr-defined]
                    pattern=wildcard,
                    guard=None,
                    body=[self.probe(record, line, col) for record in tried],
                )
            )


def _is_docstring(stmt: ast.stmt) -> bool:
    return isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant) and isinstance(stmt.value.value, str)


_LOOPS = (ast.For, ast.AsyncFor, ast.While)


def loop_free(body: list[ast.stmt]) -> bool:
    """Does every statement of `body` run at most once per run of it? (No loop in it; nested scopes aside.)"""
    stack: list[Any] = list(body)
    while stack:
        node = stack.pop()
        if isinstance(node, _LOOPS):
            return False
        if isinstance(node, _SCOPES):
            continue
        for field in ("body", "orelse", "finalbody", "handlers", "cases"):
            stack.extend(getattr(node, field, None) or ())
    return True


class ModuleBodyProbes(StatementProbes):
    """Probes only in the module's own body, which runs once per import, and only when no loop is in it. Every class
    and function body is left exactly as written: a class body looks its names up in whatever mapping its metaclass
    prepared, which may answer for any name (a probe's lookup would then call what it invented)."""

    def run(self, tree: ast.Module) -> None:
        if loop_free(tree.body):
            super().run(tree)

    def schedule(self, stmt: ast.stmt, line: int, todo: list[tuple[Any, str, int, bool]]) -> None:
        if isinstance(stmt, _SCOPES):
            return
        super().schedule(stmt, line, todo)
