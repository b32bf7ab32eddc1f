"""Generators: yield, yield from, send, early close, a generator never started."""


def count_up(limit):
    n = 0
    while n < limit:
        yield n
        n += 1
    return "done"


def delegate():
    result = yield from count_up(2)
    yield result


def accumulator():
    total = 0
    while True:
        value = yield total
        if value is None:
            break
        total += value
    yield "closed"


def never_started():
    yield 1
    yield 2


def stops_early():
    try:
        yield 1
        yield 2
    finally:
        cleanup = True


def main():
    list(count_up(3))
    list(delegate())
    acc = accumulator()
    next(acc)
    acc.send(5)
    acc.send(None)
    never_started()
    gen = stops_early()
    next(gen)
    gen.close()
