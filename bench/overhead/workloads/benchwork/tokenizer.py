"""A JSON tokenizer and parser written character by character (no re, no json), plus a serializer to round-trip."""

from __future__ import annotations

import random
from typing import Any

WHITESPACE = " \t\n\r"
PUNCTUATION = "{}[]:,"
ESCAPES = {'"': '"', "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}


class ParseError(ValueError):
    pass


def tokenize(text: str) -> list[tuple[str, Any]]:
    """(kind, value) pairs; kinds: punct, string, number, literal."""
    tokens: list[tuple[str, Any]] = []
    i = 0
    n = len(text)
    while i < n:
        c = text[i]
        if c in WHITESPACE:
            i += 1
        elif c in PUNCTUATION:
            tokens.append(("punct", c))
            i += 1
        elif c == '"':
            value, i = _string(text, i + 1)
            tokens.append(("string", value))
        elif c == "-" or c.isdigit():
            value, i = _number(text, i)
            tokens.append(("number", value))
        elif text.startswith("true", i):
            tokens.append(("literal", True))
            i += 4
        elif text.startswith("false", i):
            tokens.append(("literal", False))
            i += 5
        elif text.startswith("null", i):
            tokens.append(("literal", None))
            i += 4
        else:
            raise ParseError(f"unexpected {c!r} at {i}")
    return tokens


def _string(text: str, i: int) -> tuple[str, int]:
    out: list[str] = []
    while True:
        c = text[i]
        if c == '"':
            return "".join(out), i + 1
        if c == "\\":
            e = text[i + 1]
            if e == "u":
                out.append(chr(int(text[i + 2:i + 6], 16)))
                i += 6
                continue
            out.append(ESCAPES[e])
            i += 2
            continue
        out.append(c)
        i += 1


def _number(text: str, i: int) -> tuple[int | float, int]:
    start = i
    if text[i] == "-":
        i += 1
    while i < len(text) and text[i].isdigit():
        i += 1
    is_float = False
    if i < len(text) and text[i] == ".":
        is_float = True
        i += 1
        while i < len(text) and text[i].isdigit():
            i += 1
    if i < len(text) and text[i] in "eE":
        is_float = True
        i += 1
        if text[i] in "+-":
            i += 1
        while i < len(text) and text[i].isdigit():
            i += 1
    literal = text[start:i]
    return (float(literal) if is_float else int(literal)), i


class Parser:
    def __init__(self, tokens: list[tuple[str, Any]]) -> None:
        self.tokens = tokens
        self.pos = 0

    def parse(self) -> Any:
        value = self.value()
        if self.pos != len(self.tokens):
            raise ParseError(f"trailing tokens at {self.pos}")
        return value

    def value(self) -> Any:
        kind, value = self.tokens[self.pos]
        if kind == "punct":
            if value == "{":
                return self.obj()
            if value == "[":
                return self.array()
            raise ParseError(f"unexpected {value!r}")
        self.pos += 1
        return value

    def expect(self, punct: str) -> None:
        kind, value = self.tokens[self.pos]
        if kind != "punct" or value != punct:
            raise ParseError(f"expected {punct!r}, got {value!r}")
        self.pos += 1

    def peek_punct(self, punct: str) -> bool:
        kind, value = self.tokens[self.pos]
        return kind == "punct" and value == punct

    def obj(self) -> dict[str, Any]:
        self.expect("{")
        result: dict[str, Any] = {}
        if self.peek_punct("}"):
            self.pos += 1
            return result
        while True:
            kind, key = self.tokens[self.pos]
            if kind != "string":
                raise ParseError("object keys are strings")
            self.pos += 1
            self.expect(":")
            result[key] = self.value()
            if self.peek_punct(","):
                self.pos += 1
                continue
            self.expect("}")
            return result

    def array(self) -> list[Any]:
        self.expect("[")
        result: list[Any] = []
        if self.peek_punct("]"):
            self.pos += 1
            return result
        while True:
            result.append(self.value())
            if self.peek_punct(","):
                self.pos += 1
                continue
            self.expect("]")
            return result


def parse(text: str) -> Any:
    return Parser(tokenize(text)).parse()


def dumps(value: Any) -> str:
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
    if isinstance(value, list):
        return "[" + ", ".join(dumps(v) for v in value) + "]"
    return "{" + ", ".join(dumps(k) + ": " + dumps(v) for k, v in value.items()) + "}"


def document(seed: int, records: int) -> Any:
    """A deterministic document shaped like an API response: a list of nested records."""
    rng = random.Random(seed)
    words = ["alpha", "beta", "gamma", "delta", 'quote"d', "back\\slash", "line\nbreak", "caf\u00e9"]
    out = []
    for i in range(records):
        out.append({
            "id": i,
            "name": rng.choice(words) + str(rng.randrange(1000)),
            "score": round(rng.uniform(-1e3, 1e3), 4),
            "tags": [rng.choice(words) for _ in range(rng.randrange(5))],
            "active": rng.random() < 0.5,
            "parent": None if i == 0 else rng.randrange(i),
            "geo": {"lat": rng.uniform(-90, 90), "lon": rng.uniform(-180, 180), "alt": rng.randrange(-400, 9000)},
        })
    return out
