"""Executable lines, excluded lines and the multi-line statement map of a module, as coverage.py counts them."""

from __future__ import annotations

import ast
import functools
import io
import re
import tokenize
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from types import CodeType
from typing import Any

# coverage.py's default `exclude_lines` (7.x), joined the way coverage joins a list of patterns. They are data,
# not code: agreeing with coverage's excluded lines means matching exactly these patterns, and joining them
# (rather than running them one by one) matters because alternatives compete for the same text in one scan.
DEFAULT_EXCLUDE_PATTERNS: tuple[str, ...] = (
    r"#\s*(pragma|PRAGMA)[:\s]?\s*(no|NO)\s*(cover|COVER)",
    r"^\s*(((async )?def .*?)?[\])]+(\s*->.*?)?:\s*)?\.\.\.\s*(#|$)",
    r"^\s*if (typing\.)?TYPE_CHECKING:",
)


@functools.cache
def _exclude_re() -> re.Pattern[str]:
    # Compiled when first needed: a run whose files all come from the code cache never analyses a source (~1 ms).
    return re.compile("|".join(f"(?:{p})" for p in DEFAULT_EXCLUDE_PATTERNS), re.MULTILINE)


# Token types that never start or continue a statement's text.
_NON_CODE = frozenset({tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT,
                       tokenize.ENDMARKER})
_DEFS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
_SCOPES = (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
# The fields of statement nodes that hold statements, except handlers or match cases, in ast's field order.
_STATEMENT_FIELDS = ("body", "handlers", "orelse", "finalbody", "cases")

try:  # the C tokenizer behind tokenize (3.12+), private: used only through _raw_tokens, with a fallback
    from _tokenize import TokenizerIter as _TokenizerIter  # type: ignore[import-not-found]
except ImportError:  # 3.11 and older: tokenize is pure Python
    _TokenizerIter = None


class FirstLines(Mapping[int, int]):
    """Physical line -> first line of its statement, for lines 1..line_count; stored sparsely (multi-line ones only).

    A dense dict would cost ~100 bytes per line of every imported module for what is, in most lines, the identity.
    """

    __slots__ = ("_multi", "_count")

    def __init__(self, multi: dict[int, int], line_count: int) -> None:
        self._multi = multi
        self._count = line_count

    def __getitem__(self, line: int) -> int:
        if not 1 <= line <= self._count:
            raise KeyError(line)
        return self._multi.get(line, line)

    def get(self, line: int, default: int | None = None) -> int | None:  # type: ignore[override]
        # The hot path of reported(): one dict lookup, no exception handling.
        return self._multi.get(line, line if 1 <= line <= self._count else default)

    def __iter__(self) -> Iterator[int]:
        return iter(range(1, self._count + 1))

    def __len__(self) -> int:
        return self._count

    @property
    def multi_line(self) -> Mapping[int, int]:
        """Only the lines of multi-line statements (the lines for which the map is not the identity)."""
        return self._multi

    def __eq__(self, other: object) -> bool:
        if isinstance(other, FirstLines):
            return self._count == other._count and self._multi == other._multi
        return Mapping.__eq__(self, other)

    def __hash__(self) -> int:
        return hash((self._count, frozenset(self._multi.items())))

    def __repr__(self) -> str:
        return f"FirstLines(lines={self._count}, multi_line={self._multi!r})"


@dataclass(frozen=True)
class SourceLines:
    """The line facts of one source file: statements, pragma exclusions, and physical line -> statement's first line."""

    statements: frozenset[int]
    excluded: frozenset[int]
    first_line: Mapping[int, int]

    def mapping_only(self, raw: Iterable[int]) -> SourceLines:
        """The same facts, their first-line map kept for the lines in `raw` alone (the raw lines an engine's code can
        record: reported() is never asked about another), and only where it is not the identity. A docstring's
        every line maps to its first, for nothing when no event can record them; in toolz that map was the largest
        part of a cache entry to load."""
        first = self.first_line
        if not isinstance(first, FirstLines):
            return self
        keep = raw if isinstance(raw, (set, frozenset)) else frozenset(raw)
        multi = {line: to for line, to in first.multi_line.items() if to != line and line in keep}
        return SourceLines(self.statements, self.excluded, FirstLines(multi, len(first)))

    def reported(self, raw: Iterable[int]) -> frozenset[int]:
        """Executed lines as coverage.py reports them, from raw line numbers an engine saw."""
        # coverage: translate_lines(raw) & statements, where translating maps each line to its statement's first.
        first = self.first_line
        if not isinstance(first, FirstLines):
            return self.statements.intersection([first.get(line, line) for line in raw])
        multi = first.multi_line
        if not multi:
            return self.statements.intersection(raw)
        # Set operations in C rather than a lookup per line in Python: the per-test contexts drain every test's lines
        # through here, and only a few of them (a multi-line statement's later lines) map anywhere but to themselves.
        if not isinstance(raw, set):
            raw = set(raw)  # any other iterable (an iterator is read once): a set of its own, to take lines from
        moved = multi.keys() & raw
        if not moved:
            return self.statements.intersection(raw)
        translated = raw.difference(moved)  # the one new set: the moved lines' first lines go in its place
        translated.update(map(multi.__getitem__, moved))
        return self.statements.intersection(translated)


def normalize_source(source: str) -> str:
    """The text coverage.py analyzes for a file: LF newlines, form feeds as spaces, ending in a newline, no BOM."""
    if source.startswith("\ufeff"):
        source = source[1:]
    if "\r" in source:
        source = source.replace("\r\n", "\n").replace("\r", "\n")
    if "\f" in source:
        # coverage replaces form feeds (bpo-19035: tokenize and the compiler disagreed about their columns).
        source = source.replace("\f", " ")
    if source and not source.endswith("\n"):
        source += "\n"
    return source


def parse(source: str, filename: str) -> ast.Module:
    """The module's AST, raising SyntaxError (or ValueError) exactly as compile() would for `source`."""
    if source.startswith("\ufeff"):
        # A decoder that kept the byte-order mark (utf-8 rather than utf-8-sig): it is not part of the program.
        source = source[1:]
    try:
        return compile(source, filename, "exec", ast.PyCF_ONLY_AST, dont_inherit=True)  # type: ignore[no-any-return]
    except (SyntaxError, ValueError):
        _raise_as_compile(source, filename)
        raise


def compile_tree(tree: ast.Module, source: str, filename: str) -> CodeType:
    """Compile a parsed (possibly transformed) tree; errors the compiler finds are raised as compile(source) would."""
    try:
        return compile(tree, filename, "exec", dont_inherit=True)
    except (SyntaxError, ValueError):
        # Symbol-table errors (nonlocal at module level, return outside a function...) are only found here.
        _raise_as_compile(source, filename)
        raise


def _raise_as_compile(source: str, filename: str) -> None:
    """Re-raise a failure through compile() itself, so the exception (type, message, offsets, text) is the real one."""
    if source.startswith("\ufeff"):
        source = source[1:]
    compile(source, filename, "exec", dont_inherit=True)


def analyze(source: str, filename: str) -> SourceLines:
    """Analyze `source` (raises SyntaxError exactly as compile() would)."""
    tree = parse(source, filename)
    code = compile_tree(tree, source, filename)
    return analyze_parsed(source, tree, code)


def analyze_parsed(source: str, tree: ast.Module, code: CodeType) -> SourceLines:
    """Analyze a module whose tree and code (compiled from that same, untransformed tree) are already at hand."""
    text = normalize_source(source)
    line_count = text.count("\n")
    multi, excluded, empty = _scan_tokens(text)
    raw_statements = set() if empty else _code_lines(code)
    excluded = {multi.get(line, line) for line in excluded}
    docstrings = _extend_by_ast(tree, excluded, raw_statements)
    ignore = excluded | docstrings
    statements = {multi.get(line, line) for line in raw_statements if line not in ignore}
    statements.difference_update(ignore)
    return SourceLines(
        statements=frozenset(statements),
        excluded=frozenset(excluded),
        first_line=FirstLines(multi, line_count),
    )


def _code_lines(code: CodeType) -> set[int]:
    """Every line number in the line tables of `code` and the code objects nested in it."""
    lines: set[int] = set()
    stack = [code]
    while stack:
        each = stack.pop()
        stack.extend([const for const in each.co_consts if isinstance(const, CodeType)])
        # 3.14 compiles deferred annotations into `__annotate__` functions that almost never run; coverage skips
        # such a code object's own lines (the code nested in it still counts, as in any user function so named).
        if each.co_name != "__annotate__":
            lines.update([line for _, _, line in each.co_lines()])
    lines.discard(None)  # type: ignore[arg-type]
    lines.discard(0)
    return lines


def _pattern_lines(text: str) -> set[int]:
    """Lines touched by a match of the default exclusion patterns (a match may span lines)."""
    found: set[int] = set()
    line = 1
    pos = 0
    for match in _exclude_re().finditer(text):
        start, end = match.span()
        line += text.count("\n", pos, start)
        pos = start
        found.update(range(line, line + text.count("\n", start, end) + 1))
    return found


def _raw_tokens(text: str) -> Iterable[tuple[int, str, tuple[int, int], tuple[int, int], str]]:
    """Token tuples for `text`, lazily; the C tokenizer's plain tuples where there is one (3.12+).

    tokenize.generate_tokens wraps every token in a TokenInfo namedtuple, which costs as much as tokenizing;
    the fields are the same, so read the tuples directly. Any failure to set that up falls back to tokenize.
    """
    readline = io.StringIO(text).readline
    if _TokenizerIter is not None:
        try:
            return _TokenizerIter(readline, extra_tokens=True)  # type: ignore[no-any-return]
        except TypeError:  # another private signature: use the public API
            readline = io.StringIO(text).readline
    return tokenize.generate_tokens(readline)


def _scan_tokens(text: str) -> tuple[dict[int, int], set[int], bool]:
    """One tokenize pass: the multi-line map, the pragma-excluded lines (with the suites they open), and emptiness."""
    excluded = _pattern_lines(text)
    try:
        if excluded:
            multi, empty = _scan_with_exclusions(_raw_tokens(text), excluded)
        else:
            multi, empty = _scan_multi_line(_raw_tokens(text))
    except (tokenize.TokenError, SyntaxError):
        # compile() accepted the original text, but its normalized form does not tokenize (a form feed used as
        # indentation turned into a space). coverage gives up on such a file; count what the compiler sees.
        return {}, excluded, False
    return multi, excluded, empty


def _scan_multi_line(
        tokens: Iterable[tuple[int, str, tuple[int, int], tuple[int, int], str]]) -> tuple[dict[int, int], bool]:
    """The multi-line map and emptiness: the fast path for the (usual) file with no exclusion to propagate."""
    multi: dict[int, int] = {}
    non_code = _NON_CODE
    newline = tokenize.NEWLINE
    first_line = 0
    empty = True
    for kind, string, start, end, _ in tokens:
        if kind == newline:
            if first_line and end[0] != first_line:
                for line in range(first_line, end[0] + 1):
                    multi[line] = first_line
            first_line = 0
        elif not first_line and kind not in non_code and string.strip():
            first_line = start[0]
            empty = False
    return multi, empty


def _scan_with_exclusions(
    tokens: Iterable[tuple[int, str, tuple[int, int], tuple[int, int], str]], excluded: set[int]
) -> tuple[dict[int, int], bool]:
    """The multi-line map and emptiness, extending `excluded` (in place) from block headers to their suites.

    The rules are coverage.py's: when the header of a block (the statement up to a colon outside brackets) touches
    an excluded line, every statement of the block is excluded too. Excluded lines are recorded as the last line of
    each excluded statement's first token; the caller maps them to statement first lines.
    """
    multi: dict[int, int] = {}
    non_code = _NON_CODE
    newline = tokenize.NEWLINE
    indent_type = tokenize.INDENT
    dedent_type = tokenize.DEDENT
    op_type = tokenize.OP
    indent = 0
    exclude_indent = 0
    excluding = False
    first_line = 0
    nesting = 0
    empty = True
    for kind, string, (start_line, _), (end_line, _), _ in tokens:
        if kind == op_type:
            if string == ":" and nesting == 0:
                if not excluding and any(line in excluded for line in range(first_line, end_line + 1)):
                    # A colon ends a block header: exclude the whole suite it opens (the pragma may sit on any
                    # line of the header, including the colon's own).
                    excluded.add(end_line)
                    exclude_indent = indent
                    excluding = True
            elif string in "([{":
                nesting += 1
            elif string in ")]}":
                nesting -= 1
        elif kind == newline:
            if first_line and end_line != first_line:
                for line in range(first_line, end_line + 1):
                    multi[line] = first_line
            first_line = 0
            continue
        elif kind == indent_type:
            indent += 1
            continue
        elif kind == dedent_type:
            indent -= 1
            continue
        elif kind in non_code or not string.strip():
            continue
        # A token with text: the first of a statement starts it (and may end an excluded suite).
        empty = False
        if not first_line:
            first_line = start_line
            if excluding and indent <= exclude_indent:
                excluding = False
            if excluding:
                excluded.add(end_line)
    return multi, empty


def _extend_by_ast(tree: ast.Module, excluded: set[int], raw_statements: set[int]) -> set[int]:
    """Docstring lines; and, in `excluded`, whole definitions whose decorators or signature are excluded, and
    irrefutable `case` lines whose whole body is excluded (the `else:` of a match)."""
    docstrings: set[int] = set()
    match_case = getattr(ast, "match_case", None)
    scopes = _SCOPES
    defs = _DEFS
    # Parents before children, so a definition excluded from its decorator covers everything nested in it first.
    # Only the fields that hold statements are visited: expressions never contain statements.
    todo: list[Any] = [tree]
    pop = todo.pop
    extend = todo.extend
    while todo:
        node = pop()
        if isinstance(node, scopes):
            body = node.body
            first = body[0] if body else None  # only a module's body can be empty
            if (
                first is not None
                and first.__class__ is ast.Expr
                and first.value.__class__ is ast.Constant
                and isinstance(first.value.value, str)
            ):
                docstrings.update(range(first.lineno, (first.end_lineno or first.lineno) + 1))
            if excluded and isinstance(node, defs):
                start = min([d.lineno for d in node.decorator_list], default=node.lineno)
                if any(line in excluded for line in range(start, node.lineno + 1)):
                    excluded.update(range(start, (node.end_lineno or node.lineno) + 1))
            extend(body)
            continue
        if match_case is not None and node.__class__ is match_case:
            if excluded and irrefutable(node):
                body_lines = range(node.body[0].lineno, (node.body[-1].end_lineno or node.body[-1].lineno) + 1)
                body_statements = raw_statements.intersection(body_lines)
                if body_statements and body_statements <= excluded:
                    pattern = node.pattern
                    excluded.update(range(pattern.lineno, (pattern.end_lineno or pattern.lineno) + 1))
            extend(node.body)
            continue
        for field in _STATEMENT_FIELDS:
            children = getattr(node, field, None)
            if children:
                extend(children)
    return docstrings


def irrefutable(case: ast.match_case) -> bool:
    """Does this case match anything that reaches it (`case _:`, `case name:`, an or-pattern ending in one)?"""
    if case.guard is not None:
        return False
    pattern = case.pattern
    while isinstance(pattern, ast.MatchOr):
        pattern = pattern.patterns[-1]
    while isinstance(pattern, ast.MatchAs) and pattern.pattern is not None:
        pattern = pattern.pattern
    return isinstance(pattern, ast.MatchAs) and pattern.pattern is None
