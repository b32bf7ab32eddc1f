"""Structural pattern matching: literals, captures, sequences, mappings, classes, or-patterns, guards."""

from dataclasses import dataclass


@dataclass
class Point:
    x: int
    y: int


def describe(value):
    match value:
        case 0:
            return "zero"
        case 1 | 2 | 3:
            return "small"
        case [first, *rest] if len(rest) > 2:
            return "long list"
        case [first, second]:
            return "pair"
        case {"kind": "circle", "radius": r}:
            return f"circle {r}"
        case Point(x=0, y=0):
            return "origin"
        case Point(
            x=px,
            y=py,
        ) if px == py:
            return "diagonal"
        case str() as text:
            return text
        case _:
            return "other"


def no_default(command):
    result = "unknown"
    match command.split():
        case ["go", direction]:
            result = f"going {direction}"
        case ["stop"]:
            result = "stopping"
        case ["look", *_]:
            result = "looking"
    return result


def capture_last(value):
    match value:
        case int():
            return "int"
        case anything:
            return anything


def main():
    describe(0)
    describe(2)
    describe([1, 2])
    describe(Point(3, 3))
    no_default("go north")
    no_default("dance")
    capture_last("x")
