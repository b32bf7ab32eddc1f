"""Decorators: single, stacked, multi-line, with arguments, on classes and methods."""

import functools


def trace(func):
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        return func(*args, **kwargs)

    return wrapper


def tagged(
    name,
    *,
    level=1,
):
    def deco(obj):
        obj.tag = (name, level)
        return obj

    return deco


@trace
def simple(x):
    return x + 1


@trace
@tagged("stacked",
        level=2)
@functools.lru_cache(
    maxsize=None,
)
def stacked(x):
    if x > 100:
        return "big"
    return "small"


@tagged(
    "never",
)
def never_called():
    return "nope"


@tagged("cls")
class Decorated:
    @property
    def value(self):
        return 42

    @value.setter
    def value(self, new):
        raise AttributeError("read only")

    @staticmethod
    def static(
        a,
        b,
    ):
        return a * b

    @classmethod
    def build(cls):
        return cls()


def main():
    simple(1)
    stacked(3)
    d = Decorated.build()
    d.value
    Decorated.static(2, 3)
