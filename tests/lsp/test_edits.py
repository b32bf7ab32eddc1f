"""LineMap: where the lines a result was measured on are in a buffer being edited (unit tests, no server)."""

from __future__ import annotations

from lsprotocol import types

from covlens.lsp.edits import LineMap, OpenDocuments


def insert(line: int, character: int, text: str) -> types.TextDocumentContentChangePartial:
    at = types.Position(line, character)
    return types.TextDocumentContentChangePartial(range=types.Range(at, at), text=text)


def replace(start: tuple[int, int], end: tuple[int, int], text: str) -> types.TextDocumentContentChangePartial:
    return types.TextDocumentContentChangePartial(
        range=types.Range(types.Position(*start), types.Position(*end)), text=text)


def test_lines_inserted_above_shift_the_lines_below_and_leave_those_above():
    m = LineMap(5)
    m.apply(insert(2, 0, "a\nb\n"))
    assert [m.to_buffer(n) for n in range(5)] == [0, 1, 4, 5, 6]
    assert m.to_measured(4) == 2 and m.to_measured(2) is None


def test_enter_at_the_end_of_a_line_moves_only_the_lines_after_it():
    m = LineMap(3)
    m.apply(insert(0, 12, "\n    "))
    assert [m.to_buffer(n) for n in range(3)] == [0, 2, 3]


def test_a_deleted_line_has_no_place_and_the_rest_close_up():
    m = LineMap(4)
    m.apply(replace((1, 0), (2, 0), ""))
    assert [m.to_buffer(n) for n in range(4)] == [0, None, 1, 2]
    assert m.lines([0, 1, 3]) == [0, 2]


def test_a_full_text_change_is_followed_by_diffing_the_texts():
    m = LineMap(3)
    m.apply_texts("a\nb\nc\n", "new\na\nc\n")
    assert [m.to_buffer(n) for n in range(3)] == [1, None, 2]


def test_an_open_document_maps_onto_the_text_its_results_were_measured_on():
    docs = OpenDocuments()
    doc = docs.open("file:///p/m.py", "/p/m.py", 1, "x = 1\ny = 2\n", measured="y = 2\n")
    assert doc.moved and doc.to_buffer(0) == 1
    same = docs.open("file:///p/n.py", "/p/n.py", 1, "z = 3\n", measured="z = 3\n")
    assert not same.moved and same.to_buffer(0) == 0
