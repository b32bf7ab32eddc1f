"""Sudoku: constraint propagation plus depth-first search over candidate sets (after Peter Norvig's solver)."""

from __future__ import annotations

DIGITS = "123456789"
ROWS = "ABCDEFGHI"
COLS = DIGITS


def _cross(a: str, b: str) -> list[str]:
    return [x + y for x in a for y in b]


SQUARES = _cross(ROWS, COLS)
UNITS_LIST = (
    [_cross(ROWS, c) for c in COLS]
    + [_cross(r, COLS) for r in ROWS]
    + [_cross(rs, cs) for rs in ("ABC", "DEF", "GHI") for cs in ("123", "456", "789")]
)
UNITS = {s: [u for u in UNITS_LIST if s in u] for s in SQUARES}
PEERS = {s: set(sum(UNITS[s], [])) - {s} for s in SQUARES}


class Stats:
    """How much work a solve took (the test checks the search really searched)."""

    def __init__(self) -> None:
        self.assignments = 0
        self.guesses = 0


def parse_grid(grid: str, stats: Stats) -> dict[str, str] | None:
    values = {s: DIGITS for s in SQUARES}
    cells = [c for c in grid if c in DIGITS or c in "0."]
    if len(cells) != 81:
        raise ValueError(f"a grid has 81 cells, got {len(cells)}")
    for square, digit in zip(SQUARES, cells):
        if digit in DIGITS and not assign(values, square, digit, stats):
            return None
    return values


def assign(values: dict[str, str], square: str, digit: str, stats: Stats) -> dict[str, str] | None:
    stats.assignments += 1
    others = values[square].replace(digit, "")
    for other in others:
        if not eliminate(values, square, other):
            return None
    return values


def eliminate(values: dict[str, str], square: str, digit: str) -> dict[str, str] | None:
    if digit not in values[square]:
        return values
    values[square] = values[square].replace(digit, "")
    remaining = values[square]
    if not remaining:
        return None
    if len(remaining) == 1:
        last = remaining
        for peer in PEERS[square]:
            if not eliminate(values, peer, last):
                return None
    for unit in UNITS[square]:
        places = [s for s in unit if digit in values[s]]
        if not places:
            return None
        if len(places) == 1:
            if not _assign_quiet(values, places[0], digit):
                return None
    return values


def _assign_quiet(values: dict[str, str], square: str, digit: str) -> dict[str, str] | None:
    for other in values[square].replace(digit, ""):
        if not eliminate(values, square, other):
            return None
    return values


def search(values: dict[str, str] | None, stats: Stats) -> dict[str, str] | None:
    if values is None:
        return None
    if all(len(values[s]) == 1 for s in SQUARES):
        return values
    _, square = min((len(values[s]), s) for s in SQUARES if len(values[s]) > 1)
    for digit in values[square]:
        stats.guesses += 1
        result = search(assign(dict(values), square, digit, stats), stats)
        if result is not None:
            return result
    return None


def solve(grid: str, stats: Stats | None = None) -> str | None:
    stats = stats or Stats()
    solved = search(parse_grid(grid, stats), stats)
    return None if solved is None else "".join(solved[s] for s in SQUARES)


def is_valid(solution: str) -> bool:
    values = dict(zip(SQUARES, solution))
    return all(sorted(values[s] for s in unit) == list(DIGITS) for unit in UNITS_LIST)


# Hard puzzles (Arto Inkala's "world's hardest", and from Norvig's hardest list / top95).
PUZZLES = [
    "8..........36......7..9.2...5...7.......457.....1...3...1....68..85...1..9....4..",
    "4.....8.5.3..........7......2.....6.....8.4......1.......6.3.7.5..2.....1.4......",
    "52...6.........7.13...........4..8..6......5...........418.........3..2...87.....",
    "6.....8.3.4.7.................5.4.7.3..2.....1.6.......2.....5.....8.6......1....",
    "48.3............71.2.......7.5....6....2..8.............1.76...3.....4......5....",
    "....14....3....2...7..........9...3.6.1.............8.2.....1.4....5.6.....7.8...",
    "..............3.85..1.2.......5.7.....4...1...9.......5......73..2.1........4...9",
]
