import json

from benchwork.tokenizer import document, dumps, parse, tokenize


def test_tokenizer_parser_round_trips_documents():
    doc = document(seed=7, records=2_000)
    text = dumps(doc)
    for _ in range(ROUNDS):
        assert parse(text) == doc
    assert json.loads(text) == doc
    assert len(tokenize(text)) > 50_000


ROUNDS = 8
