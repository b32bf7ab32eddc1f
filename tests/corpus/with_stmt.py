"""with statements: single, multi-item, parenthesized, nested, suppressing exceptions."""

import contextlib
import io


@contextlib.contextmanager
def managed(name):
    log = [name]
    try:
        yield log
    finally:
        log.append("closed")


def single():
    with managed("a") as log:
        log.append("body")
    return log


def multi():
    with managed("a") as first, managed("b") as second:
        first.append(second)


def parenthesized():
    with (
        managed("a") as first,
        managed("b") as second,
        io.StringIO() as buf,
    ):
        buf.write("x")
        return first, second


def suppressed():
    with contextlib.suppress(KeyError):
        {}["missing"]
        never = True
    return "after"


def never_called():
    with managed("z"):
        pass


def main():
    single()
    multi()
    parenthesized()
    suppressed()
