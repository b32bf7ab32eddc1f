"""Comprehensions, generator expressions and lambdas, on one line and spread over several."""

SQUARES = [x * x for x in range(5)]
EVENS = {
    x
    for x in range(10)
    if x % 2 == 0
}
INDEX = {name: i for i, name in enumerate(["a", "b"])}
NESTED = [[y for y in range(x)] for x in range(3)]
TOTAL = sum(
    x
    for x in range(4)
    if x
)

add = lambda a, b: a + b  # noqa: E731
pick = (
    lambda items:
    items[0]
)
unused = lambda: (  # noqa: E731
    "never"
)


def sort_by_length(words):
    return sorted(words, key=lambda w: (
        len(w),
        w,
    ))


def never_called():
    return [
        item
        for item in range(3)
    ]


def lazy():
    gen = (i for i in range(3))
    return gen


def main():
    add(1, 2)
    pick([1])
    sort_by_length(["bb", "a"])
    lazy()
