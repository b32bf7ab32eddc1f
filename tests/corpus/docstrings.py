"""Module docstring
that spans
several lines."""

import textwrap


class Documented:
    """Class docstring."""

    def one_line(self):
        """Method docstring."""
        return 1

    def multi_line(self):
        """
        A method docstring over
        several lines.
        """
        text = """not a docstring:
        an assigned string"""
        return text


def function():
    """Function docstring."""


def no_docstring():
    value = 1
    """A string after the first statement is a plain expression."""
    return value


class OnlyDoc:
    """A class whose body is only a docstring."""


def main():
    Documented().one_line()
    function()
    no_docstring()
    textwrap.dedent("x")
