"""Module and class bodies without loops (statement probes under the monitoring engine), and what is left to events."""

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
