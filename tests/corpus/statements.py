"""Simple statements: assert, del, pass, imports in functions, augmented and chained assignment, dead code."""

import os.path as osp

x = y = 0
x += 1
a, *rest = [1, 2, 3]
del rest
assert x == 1, "x is one"
assert (
    y == 0
), "multi-line assert"


def local_import():
    import json
    from collections import (
        OrderedDict,
        defaultdict,
    )

    return json, OrderedDict, defaultdict


def after_return():
    return 1
    unreachable = 2  # never runs, but it is a statement


def constants():
    if False:
        never = 1
    if 0:
        never = 2
    while 0:
        never = 3
    if __debug__:
        debug = True
    if True:
        always = 1
    return "constants"


def star_args(*args, **kwargs):
    pass


def raises():
    raise RuntimeError(
        "multi-line raise"
    )


def one_liners(flag):
    if flag: value = 1
    else: value = 2
    for i in range(2): value += i
    while value > 100: value -= 1
    first = 1; second = 2
    return value, first, second


class Inline: attr = 1


def inline_def(): return "inline"


def main():
    local_import()
    after_return()
    constants()
    star_args(1, k=2)
    one_liners(True)
    inline_def()
    osp.join("a", "b")
