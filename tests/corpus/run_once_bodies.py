"""Module bodies without loops (statement probes under the monitor engine), class bodies, what is left to events."""

import sys

try:
    import covlens_corpus_no_such_module  # noqa: F401
except ImportError:
    fallback = True
else:
    fallback = False

try:
    raise KeyError("caught at import")
except (
    ValueError,
    KeyError,
) as caught:
    message = str(caught)
finally:
    cleaned = True

if sys.version_info >= (3, 0):
    def picked():
        return "new"
else:
    def picked():
        return "old"

with open(__file__, encoding="utf-8") as handle:
    first_line = handle.readline()

match first_line.split():
    case ['"""Module', *_]:
        shape = "docstring"
    case []:
        shape = "empty"
    case _:
        shape = "other"

total = sum(
    n * n
    for n in range(4)
    if n % 2
)
squares = [
    n * n for n in range(3)
]
scale = lambda n: (  # noqa: E731
    n * 3
)
assert total == 10
del handle


def decorate(cls):
    cls.decorated = True
    return cls


@decorate
class Outer:
    """A class body without a loop, with a class nested in it."""

    limit = 3
    if limit > 5:
        big = True
    else:
        big = False

    class Inner:
        value = (
            1
            + 2
        )

        def get(self):
            return self.value

    def method(self):
        return self.Inner().get()


class Looping:
    names = []
    for suffix in ("a", "b"):
        names.append(suffix)
    del suffix

    class InsideLooping:
        flag = True

    def count(self):
        return len(self.names)


class Inventive(dict):
    """A class namespace that answers for any name: probes must never look theirs up in it."""

    def __missing__(self, key):
        return len(key)


class InventiveMeta(type):
    @classmethod
    def __prepare__(mcs, name, bases):
        return Inventive()

    def __new__(mcs, name, bases, namespace):
        return super().__new__(mcs, name, bases, dict(namespace))


class Numbers(metaclass=InventiveMeta):
    """Names it never defined are their own lengths."""

    first = alpha  # noqa: F821
    if first > 100:
        huge = True
    try:
        second = gamma  # noqa: F821
    except KeyError:
        second = None


def factory(kind):
    class Made:
        made_kind = kind
        if kind == "never":
            never = True

    return Made


def main():
    Outer().method()
    Looping().count()
    factory("once")
    picked()
    scale(2)
