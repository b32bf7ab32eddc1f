"""Multi-line statements: calls, literals, backslashes, chained comparisons, conditional expressions."""

import os


def compute(a,
            b=2,
            *rest,
            **options):
    total = (a +
             b +
             sum(rest))
    if (total > 10 and
            options.get("strict")):
        return None
    return total


DATA = {
    "a": 1,
    "b": [
        1,
        2,
    ],
}

LONG = "first part " \
    "second part"

VALUE = compute(
    1,
    2,
    3,
)


def compare(x):
    if (0
            < x
            <= 10
            != 11):
        return "in"
    elif x > \
            100:
        return "huge"
    else:
        return "out"


def conditional(flag):
    result = (
        "yes"
        if flag
        else "no"
    )
    return result


TEXT = """a multi-line
string statement
value"""

"""A bare string in the middle of a module is not a docstring."""

PATH = os.path.join(
    "a",
    "b") if LONG else None


def main():
    compare(5)
    compare(500)
    conditional(True)
    compute(1, 2, 3, strict=False)
