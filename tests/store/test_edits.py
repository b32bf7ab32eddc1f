"""The store's side of test selection: kept source texts, lines moved through an edit, forgotten tests."""

from __future__ import annotations

from covlens.model import COLLECTION_CONTEXT
from covlens.runner.blocks import line_map
from covlens.store import Store
from tests.store.conftest import CALC

ADD = "tests/test_calc.py::test_add"
SUB = "tests/test_calc.py::test_sub"


def test_a_run_keeps_the_text_each_measured_file_had_and_forgets_texts_it_was_not_given(project):
    store = Store(project.root)
    store.record(project.result(), sources={project.calc: CALC})
    assert store.source_of(project.calc) == CALC
    store.record(project.result())  # e.g. `covlens run` from the CLI: no texts
    assert store.source_of(project.calc) is None


def test_an_edit_moves_every_tests_lines_and_takes_the_new_statements(project):
    store = Store(project.root)
    store.record(project.result(
        outcomes={ADD: "passed", SUB: "passed"},
        hits={COLLECTION_CONTEXT: {project.calc: [1, 5]}, ADD: {project.calc: [2]}, SUB: {project.calc: [6]}}),
        sources={project.calc: CALC})
    new = "import os\n\n" + CALC.replace("return a - b", "x = a - b\n    return x")
    store.apply_edit(project.calc, new, line_map(CALC, new))

    calc = store.project().files[project.calc]
    assert store.hits_in(project.calc) == {ADD: {4}}  # sub's line was rewritten: dropped until it runs again
    assert calc.executed == {3, 4, 7}
    assert calc.statements == {1, 3, 4, 7, 8, 9}
    assert store.source_of(project.calc) == new


def test_forgotten_tests_lose_their_outcome_and_lines(project):
    store = Store(project.root)
    store.record(project.result(outcomes={ADD: "passed", SUB: "failed"},
                                hits={ADD: {project.calc: [2]}, SUB: {project.calc: [6]}}))
    store.forget_tests([SUB])
    pc = store.project()
    assert set(pc.tests) == {ADD}
    assert pc.files[project.calc].hits == {2: 1}
