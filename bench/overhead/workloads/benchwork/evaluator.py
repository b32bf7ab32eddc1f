"""A recursive-descent evaluator for a small expression language: numbers, variables, + - * / % **, comparisons,
`and`/`or`/`not`, `if ... then ... else`, and calls of built-in functions. Parses to a tree, then evaluates it."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Union

FUNCTIONS = {"min": min, "max": max, "abs": abs, "sqrt": lambda x: math.sqrt(abs(x)), "floor": math.floor}
KEYWORDS = {"and", "or", "not", "if", "then", "else"}


@dataclass(frozen=True)
class Num:
    value: float


@dataclass(frozen=True)
class Var:
    name: str


@dataclass(frozen=True)
class Unary:
    op: str
    operand: "Node"


@dataclass(frozen=True)
class Binary:
    op: str
    left: "Node"
    right: "Node"


@dataclass(frozen=True)
class Cond:
    test: "Node"
    then: "Node"
    other: "Node"


@dataclass(frozen=True)
class Call:
    name: str
    args: tuple["Node", ...]


Node = Union[Num, Var, Unary, Binary, Cond, Call]


class SyntaxFault(ValueError):
    pass


def lex(text: str) -> list[str]:
    tokens: list[str] = []
    i = 0
    while i < len(text):
        c = text[i]
        if c.isspace():
            i += 1
        elif c.isdigit() or c == ".":
            j = i
            while j < len(text) and (text[j].isdigit() or text[j] == "."):
                j += 1
            tokens.append(text[i:j])
            i = j
        elif c.isalpha() or c == "_":
            j = i
            while j < len(text) and (text[j].isalnum() or text[j] == "_"):
                j += 1
            tokens.append(text[i:j])
            i = j
        elif text.startswith(("**", "<=", ">=", "==", "!="), i):
            tokens.append(text[i:i + 2])
            i += 2
        elif c in "+-*/%()<>,":
            tokens.append(c)
            i += 1
        else:
            raise SyntaxFault(f"unexpected {c!r} at {i}")
    return tokens


class Parser:
    """expr := cond; cond := 'if' expr 'then' expr 'else' expr | or; or := and ('or' and)*; and := not ('and' not)*;
    not := 'not' not | cmp; cmp := sum (op sum)?; sum := term (('+'|'-') term)*; term := unary (('*'|'/'|'%') unary)*;
    unary := '-' unary | power; power := atom ('**' unary)?; atom := number | name | name '(' args ')' | '(' expr ')'"""

    def __init__(self, tokens: list[str]) -> None:
        self.tokens = tokens
        self.pos = 0

    def peek(self) -> str | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self, expected: str | None = None) -> str:
        token = self.peek()
        if token is None or (expected is not None and token != expected):
            raise SyntaxFault(f"expected {expected or 'a token'} at {self.pos}, got {token!r}")
        self.pos += 1
        return token

    def parse(self) -> Node:
        node = self.expr()
        if self.peek() is not None:
            raise SyntaxFault(f"trailing {self.peek()!r}")
        return node

    def expr(self) -> Node:
        if self.peek() == "if":
            self.take("if")
            test = self.expr()
            self.take("then")
            then = self.expr()
            self.take("else")
            return Cond(test, then, self.expr())
        return self.disjunction()

    def disjunction(self) -> Node:
        node = self.conjunction()
        while self.peek() == "or":
            self.take()
            node = Binary("or", node, self.conjunction())
        return node

    def conjunction(self) -> Node:
        node = self.negation()
        while self.peek() == "and":
            self.take()
            node = Binary("and", node, self.negation())
        return node

    def negation(self) -> Node:
        if self.peek() == "not":
            self.take()
            return Unary("not", self.negation())
        return self.comparison()

    def comparison(self) -> Node:
        node = self.sum()
        if self.peek() in ("<", ">", "<=", ">=", "==", "!="):
            op = self.take()
            node = Binary(op, node, self.sum())
        return node

    def sum(self) -> Node:
        node = self.term()
        while self.peek() in ("+", "-"):
            op = self.take()
            node = Binary(op, node, self.term())
        return node

    def term(self) -> Node:
        node = self.unary()
        while self.peek() in ("*", "/", "%"):
            op = self.take()
            node = Binary(op, node, self.unary())
        return node

    def unary(self) -> Node:
        if self.peek() == "-":
            self.take()
            return Unary("-", self.unary())
        return self.power()

    def power(self) -> Node:
        node = self.atom()
        if self.peek() == "**":
            self.take()
            node = Binary("**", node, self.unary())
        return node

    def atom(self) -> Node:
        token = self.take()
        if token == "(":
            node = self.expr()
            self.take(")")
            return node
        if token[0].isdigit() or token[0] == ".":
            return Num(float(token))
        if token in KEYWORDS:
            raise SyntaxFault(f"unexpected keyword {token!r}")
        if self.peek() == "(":
            self.take("(")
            args = [] if self.peek() == ")" else [self.expr()]
            while self.peek() == ",":
                self.take()
                args.append(self.expr())
            self.take(")")
            return Call(token, tuple(args))
        return Var(token)


def evaluate(node: Node, env: dict[str, float]) -> float:
    if isinstance(node, Num):
        return node.value
    if isinstance(node, Var):
        return env[node.name]
    if isinstance(node, Unary):
        value = evaluate(node.operand, env)
        return -value if node.op == "-" else float(not value)
    if isinstance(node, Cond):
        return evaluate(node.then, env) if evaluate(node.test, env) else evaluate(node.other, env)
    if isinstance(node, Call):
        return float(FUNCTIONS[node.name](*(evaluate(a, env) for a in node.args)))
    op = node.op
    if op == "and":
        return evaluate(node.right, env) if evaluate(node.left, env) else 0.0
    if op == "or":
        left = evaluate(node.left, env)
        return left if left else evaluate(node.right, env)
    return _clip(_arith(op, evaluate(node.left, env), evaluate(node.right, env)))


def _arith(op: str, a: float, b: float) -> float:
    if op == "+":
        return a + b
    if op == "-":
        return a - b
    if op == "*":
        return a * b
    if op == "/":
        return a / b if b else 0.0
    if op == "%":
        return math.fmod(a, b) if b else 0.0
    if op == "**":
        return min(abs(a), 1e3) ** max(min(b, 3.0), 0.0)
    return float({"<": a < b, ">": a > b, "<=": a <= b, ">=": a >= b, "==": a == b, "!=": a != b}[op])


def _clip(value: float) -> float:
    """Keep values finite (generated expressions multiply freely)."""
    if value != value:
        return 0.0
    return max(-LIMIT, min(LIMIT, value))


LIMIT = 1e12


def evaluate_source(text: str, env: dict[str, float]) -> float:
    return evaluate(Parser(lex(text)).parse(), env)


def random_expression(rng: random.Random, depth: int) -> str:
    """A syntactically valid expression over x, y and z, to feed the parser."""
    if depth <= 0 or rng.random() < 0.15:
        return rng.choice(["x", "y", "z", str(rng.randrange(1, 20)), f"{rng.uniform(0, 5):.2f}"])
    kind = rng.randrange(7)
    sub = lambda: random_expression(rng, depth - 1)  # noqa: E731
    if kind == 0:
        return f"(if {sub()} > {sub()} then {sub()} else {sub()})"
    if kind == 1:
        return f"{rng.choice(['min', 'max'])}({sub()}, {sub()})"
    if kind == 2:
        return f"{rng.choice(['abs', 'sqrt', 'floor'])}({sub()})"
    if kind == 3:
        return f"-({sub()})"
    if kind == 4:
        return f"({sub()} {rng.choice(['and', 'or'])} not {sub()})"
    return f"({sub()} {rng.choice(['+', '-', '*', '/', '%', '**'])} {sub()})"
