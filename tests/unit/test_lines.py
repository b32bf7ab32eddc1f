"""Line facts of a module: statements, exclusions, multi-line map and reported lines, as coverage.py counts them."""

from __future__ import annotations

import random
import textwrap

import pytest

from covlens.instrument.lines import SourceLines, analyze


def lines_of(source: str) -> SourceLines:
    return analyze(textwrap.dedent(source), "example.py")


def test_statements_are_the_first_lines_of_compiled_statements() -> None:
    facts = lines_of(
        """\
        import os

        def f(a):
            # a comment is not a statement
            b = a + 1
            return b
        """
    )
    assert facts.statements == {1, 3, 5, 6}
    assert facts.excluded == frozenset()


def test_multi_line_statement_maps_every_physical_line_to_its_first() -> None:
    facts = lines_of(
        """\
        total = (1 +
                 2 +
                 3)
        text = "a" \\
            "b"
        if (total and
                text):
            pass
        """
    )
    assert facts.statements == {1, 4, 6, 8}
    assert [facts.first_line[n] for n in range(1, 9)] == [1, 1, 1, 4, 4, 6, 6, 8]
    assert len(facts.first_line) == 8
    with pytest.raises(KeyError):
        facts.first_line[9]


def test_reported_maps_raw_lines_to_first_lines_and_drops_non_statements() -> None:
    facts = lines_of(
        """\
        x = [
            1,
        ]
        def f():
            \"\"\"Doc.\"\"\"
            return 1
        """
    )
    # 2 is inside x's statement; 5 is a docstring; 40 is no line of the file.
    assert facts.reported({2, 5, 6, 40}) == {1, 6}
    assert facts.reported([]) == frozenset()


def test_reported_is_each_raw_line_mapped_to_its_statements_first_then_kept_if_a_statement() -> None:
    facts = lines_of(
        """\
        total = sum([
            1,
            2,
        ])
        def f(a,
              b):
            \"\"\"Doc
            string.\"\"\"
            return (a +
                    b)
        if total:
            f(1,
              2)
        """
    )
    assert facts.first_line.multi_line  # the map is not the identity: every way through reported() is taken below
    rng = random.Random(7)
    for _ in range(300):
        raw = set(rng.sample(range(0, 16), rng.randint(0, 10)))
        expected = facts.statements.intersection(facts.first_line.get(line, line) for line in raw)
        assert facts.reported(raw) == expected
        assert facts.reported(sorted(raw)) == expected  # any iterable, not only a set
        assert facts.reported(iter(sorted(raw))) == expected  # one that can be read only once
        assert facts.reported(frozenset(raw)) == expected
        trimmed = facts.mapping_only(raw)  # as a cache entry keeps it: only the lines events can report
        assert trimmed.reported(raw) == expected


def test_docstrings_are_not_statements_but_other_strings_are() -> None:
    facts = lines_of(
        '''\
        """Module
        docstring."""

        class C:
            """Class docstring."""

        def f():
            """Function
            docstring."""
            x = 1
            """Just a string."""
        '''
    )
    assert facts.statements == {4, 7, 10, 11}


def test_pragma_on_a_line_excludes_that_statement_only() -> None:
    facts = lines_of(
        """\
        a = 1
        b = 2  # pragma: no cover
        c = 3
        """
    )
    assert facts.excluded == {2}
    assert facts.statements == {1, 3}


def test_pragma_on_an_if_excludes_its_whole_block() -> None:
    facts = lines_of(
        """\
        def f(x):
            if x:  # pragma: no cover
                y = 1
                z = 2
            return 3
        """
    )
    assert facts.excluded == {2, 3, 4}
    assert facts.statements == {1, 5}


def test_pragma_on_an_else_excludes_the_else_suite() -> None:
    facts = lines_of(
        """\
        if x:
            a = 1
        else:  # pragma: no cover
            a = 2
        """
    )
    assert facts.excluded == {3, 4}
    assert facts.statements == {1, 2}


def test_pragma_on_a_decorator_excludes_the_whole_function_including_blank_lines() -> None:
    facts = lines_of(
        """\
        @decorator  # pragma: no cover
        def f():

            return 1
        g = 2
        """
    )
    assert facts.excluded == {1, 2, 3, 4}
    assert facts.statements == {5}


def test_pragma_on_a_class_excludes_its_body() -> None:
    facts = lines_of(
        """\
        class C:  # pragma: no cover
            x = 1

            def m(self):
                return 2
        y = 3
        """
    )
    assert facts.excluded == {1, 2, 3, 4, 5}
    assert facts.statements == {6}


def test_pragma_inside_a_multi_line_statement_excludes_the_statement() -> None:
    facts = lines_of(
        """\
        value = (
            1  # pragma: no cover
        )
        other = 2
        """
    )
    assert facts.excluded == {1}
    assert facts.statements == {4}


def test_type_checking_blocks_and_ellipsis_bodies_are_excluded_by_default() -> None:
    facts = lines_of(
        """\
        from typing import TYPE_CHECKING
        if TYPE_CHECKING:
            import os
        def stub(): ...
        def body():
            ...
        """
    )
    # coverage's `...` pattern may run across the newline after `def body():`, so that def is excluded as a whole;
    # the match ending at the end of the text reaches one line past it, which coverage lists too.
    assert facts.excluded == {2, 3, 4, 5, 6, 7}
    assert facts.statements == {1}


def test_irrefutable_case_with_excluded_body_is_excluded_too() -> None:
    facts = lines_of(
        """\
        match x:
            case 1:
                y = 1
            case _:
                y = 2  # pragma: no cover
        """
    )
    assert facts.excluded == {4, 5}
    assert facts.statements == {1, 2, 3}


def test_syntax_error_is_raised_exactly_as_compile_raises_it() -> None:
    broken = [
        "def f(:\n    pass\n",  # the parser's
        "x = 1\nnonlocal y\n",  # the symbol table's: found only when compiling the tree
        "def f():\n\treturn 1\n        return 2\n",  # inconsistent tabs
        "x = 1\0\n",  # a null byte
    ]
    for source in broken:
        with pytest.raises((SyntaxError, ValueError)) as expected:
            compile(source, "broken.py", "exec", dont_inherit=True)
        with pytest.raises(type(expected.value)) as raised:
            analyze(source, "broken.py")
        assert raised.value.args == expected.value.args
        if isinstance(expected.value, SyntaxError):
            got = raised.value
            assert isinstance(got, SyntaxError)
            assert (got.filename, got.lineno, got.offset, got.text) == (
                expected.value.filename,
                expected.value.lineno,
                expected.value.offset,
                expected.value.text,
            )


def test_crlf_cr_and_lf_sources_give_the_same_lines() -> None:
    source = 'x = (\n    1,\n)\ns = """a\nb"""\nif x:  # pragma: no cover\n    y = 2\nz = 3\n'
    lf = analyze(source, "lf.py")
    assert analyze(source.replace("\n", "\r\n"), "crlf.py") == lf
    assert analyze(source.replace("\n", "\r"), "cr.py") == lf
    assert lf.statements == {1, 4, 8}


def test_form_feeds_and_tabs_are_read_like_coverage_reads_them() -> None:
    facts = analyze("def f():\n\treturn (1 +\n\t\t2)\n\x0c\ndef g():\n\tpass\n", "ff.py")
    assert facts.statements == {1, 2, 5, 6}
    assert facts.first_line[3] == 2


def test_byte_order_mark_and_encoding_cookie_do_not_shift_lines() -> None:
    source = "# -*- coding: latin-1 -*-\nname = 'caf\xe9'\nother = 2\n"
    assert analyze(source, "cookie.py").statements == {2, 3}
    assert analyze("\ufeff" + source, "bom.py").statements == {2, 3}


def test_future_import_and_docstring_module_lines() -> None:
    facts = lines_of(
        '''\
        """Doc."""
        from __future__ import annotations
        x: Undefined = 1
        '''
    )
    assert facts.statements == {2, 3}


def test_empty_and_comment_only_modules_have_no_statements() -> None:
    assert analyze("", "empty.py").statements == frozenset()
    assert analyze("# only a comment\n\n", "comment.py").statements == frozenset()
    assert analyze('"""Only a docstring."""\n', "doc.py").statements == frozenset()


def test_global_and_nonlocal_are_not_statements() -> None:
    facts = lines_of(
        """\
        def f():
            global g
            g = 1
        """
    )
    assert facts.statements == {1, 3}


def test_same_source_gives_equal_and_hashable_facts() -> None:
    source = "a = (\n1)\nb = 2\n"
    first, second = analyze(source, "a.py"), analyze(source, "a.py")
    assert first == second
    assert hash(first) == hash(second)
    assert first != analyze(source + "c = 3\n", "a.py")
