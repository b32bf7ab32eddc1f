"""Nested functions and classes, closures, global and nonlocal."""

COUNTER = 0


def bump():
    global COUNTER
    COUNTER += 1
    return COUNTER


def make_counter():
    count = 0

    def increment(step=1):
        nonlocal count
        count += step
        return count

    def reset():
        nonlocal count
        count = 0

    return increment, reset


class Outer:
    class Inner:
        def method(self):
            def helper():
                return "helper"

            return helper()

    def unused(self):
        class Local:
            attr = 1

        return Local


def factory():
    class Made:
        def __init__(self):
            self.value = 1

        def never(self):
            return self.value

    return Made()


def main():
    bump()
    inc, _reset = make_counter()
    inc()
    Outer.Inner().method()
    factory()
