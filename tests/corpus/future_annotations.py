"""A module with a docstring, then a __future__ import, then annotations that are never evaluated."""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Config:
    name: UndefinedName
    values: list[int] = field(default_factory=list)

    def total(self) -> AlsoUndefined:
        return sum(self.values)


def annotated(x: NotDefined, *, y: int = 1) -> str:
    z: SomeType = x
    return str(z)


counter: int = 0
declared_only: int


def unused(a: int) -> int:
    return a


def main():
    Config("c", [1, 2]).total()
    annotated(1)
