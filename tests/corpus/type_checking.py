"""TYPE_CHECKING blocks, `...` bodies, protocols and overloads."""

from __future__ import annotations

import typing
from typing import TYPE_CHECKING, Protocol, overload

if TYPE_CHECKING:
    from collections.abc import Sequence

if typing.TYPE_CHECKING:
    import os


class Greeter(Protocol):
    def greet(self, name: str) -> str: ...

    def farewell(
        self,
        name: str,
    ) -> str:
        ...


@overload
def double(x: int) -> int: ...
@overload
def double(x: str) -> str: ...
def double(x):
    return x * 2


def stub() -> None:
    ...


def placeholder():
    pass


def main():
    double(2)
    placeholder()
