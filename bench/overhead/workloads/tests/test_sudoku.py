from benchwork.sudoku import PUZZLES, Stats, is_valid, solve


def test_sudoku_solves_hard_puzzles():
    stats = Stats()
    for _ in range(ROUNDS):
        for puzzle in PUZZLES:
            solution = solve(puzzle, stats)
            assert solution is not None and is_valid(solution)
            assert all(p in ".0" or p == s for p, s in zip(puzzle, solution))
    assert stats.guesses > 100


ROUNDS = 10
