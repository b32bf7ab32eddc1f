"""Exclusion pragmas: on a line, an if, a def, a class, an else, a decorator, a multi-line statement."""

import sys


def checked(value):
    if value is None:  # pragma: no cover
        raise ValueError("no value")
        value = 0
    result = value * 2
    debug = False  # pragma: no cover
    return result


def branchy(flag):
    if flag:
        return "yes"
    else:  # pragma: no cover
        return "no"


def platform_specific():  # pragma: no cover
    if sys.platform == "win32":
        return "windows"
    return "other"


class Excluded:  # pragma: no cover
    attr = 1

    def method(self):
        return self.attr


def wrap(func):
    return func


@wrap  # pragma: no cover
def decorated_excluded():
    return "excluded"


def multi_line_statement():
    value = (  # pragma: no cover
        1
        + 2
    )
    other = (
        3
        + 4  # pragma: no cover
    )
    return value, other


def excluded_handler():
    try:
        return 1 / 1
    except ZeroDivisionError:  # pragma: no cover
        return None


def upper_case():
    x = 1  # PRAGMA: NO COVER
    y = 2  #pragma:no cover
    return x + y


def excluded_case(value):
    match value:
        case 1:
            return "one"
        case _:  # pragma: no cover
            return "other"


def excluded_case_body(value):
    match value:
        case 1:
            return "one"
        case _:
            return "other"  # pragma: no cover


def main():
    checked(2)
    branchy(True)
    multi_line_statement()
    excluded_handler()
    upper_case()
    excluded_case(1)
    excluded_case_body(1)
