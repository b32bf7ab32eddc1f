import math
import random

from benchwork.evaluator import Parser, evaluate, lex, random_expression


def test_evaluator_parses_and_evaluates_generated_expressions():
    rng = random.Random(11)
    sources = [random_expression(rng, depth=6) for _ in range(EXPRESSIONS)]
    trees = [Parser(lex(source)).parse() for source in sources]
    total = 0.0
    for i in range(POINTS):
        env = {"x": i * 0.37, "y": 3.0 - i * 0.11, "z": float(i % 7)}
        for tree in trees:
            total += evaluate(tree, env)
    assert math.isfinite(total)
    assert total != 0.0


EXPRESSIONS = 200
POINTS = 130
