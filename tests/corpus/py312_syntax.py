"""Python 3.12 syntax: type aliases, generic functions and classes, nested quotes in f-strings."""
# covlens-corpus: requires 3.12

type Pair[T] = tuple[T, T]
type Never = int


def first[T](items: list[T]) -> T:
    return items[0]


class Box[T]:
    def __init__(self, item: T) -> None:
        self.item = item

    def unused[U](self, other: U) -> tuple[T, U]:
        return self.item, other


def quotes(d):
    return f"{d["key"]} and {
        d["other"]
    }"


def never_called():
    return f"{"nested"}"


def main():
    first([1, 2])
    Box(1)
    quotes({"key": 1, "other": 2})
