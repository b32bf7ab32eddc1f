"""Loops: while/for with else, break, continue, infinite loops, nested loops, empty iterables."""


def find(items, target):
    for index, item in enumerate(items):
        if item == target:
            break
    else:
        return -1
    return index


def skip_odd(limit):
    total = 0
    for n in range(limit):
        if n % 2:
            continue
        total += n
    return total


def countdown(n):
    while n > 0:
        n -= 1
        if n == 100:
            break
    else:
        finished = True
    return n


def forever():
    i = 0
    while True:
        i += 1
        if i > 3:
            return i


def nested(rows):
    cells = []
    for row in rows:
        for cell in row:
            cells.append(cell)
    return cells


def empty():
    for _ in []:
        never = True
    while False:
        never = True
    return "empty"


def main():
    find([1, 2, 3], 2)
    find([], 2)
    skip_odd(5)
    countdown(3)
    forever()
    nested([[1], [2, 3]])
    empty()
