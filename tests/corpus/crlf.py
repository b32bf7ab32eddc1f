"""Windows line endings (CRLF) throughout, including inside a multi-line string and call."""


def joined(*parts):
    text = """first
second"""
    return text.join(
        parts,
    )


def unused():
    return "crlf"


def main():
    joined("a", "b")
