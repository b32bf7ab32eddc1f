"""Assignment expressions and f-strings, including multi-line and nested ones."""

import re


def first_word(text):
    if (match := re.match(r"\w+", text)) is not None:
        return match.group()
    return None


def chunks(data):
    out = []
    while (size := len(data)) > 2:
        out.append(size)
        data = data[2:]
    return [y for x in out if (y := x * 2) > 4]


def render(name, value, width=8):
    header = f"{name!r:>{width}}"
    body = (
        f"value={value:.2f} "
        f"{'big' if value > 10 else 'small'}"
    )
    multi = f"""
    {name}
    {
        value
    }
    """
    return header + body + multi


def never_called(x):
    return f"{x=}"


def main():
    first_word("hello world")
    first_word("!")
    chunks("abcdefg")
    render("n", 3.14159)
