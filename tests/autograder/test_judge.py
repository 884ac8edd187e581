"""The judge's pieces: hidden-test segments, student-facing failure messages that never leak
hidden tests, and notebook parsing/assembly (autograder.engine.source)."""

from __future__ import annotations

import json

import pytest

from autograder import authoring
from autograder.engine.judge import StudentStopped, _describe, _student_error, hidden_lines, segments
from autograder.engine.source import (ANSWER, FREE, SETUP, TEST, NotebookError, assemble, parse_source,
                               read_notebook, strip_hidden)

CELL = '''"""doc"""
x = 1
assert x == 1
### BEGIN HIDDEN TESTS
secret = 42
assert secret == 41, f"secret was {secret}"
### END HIDDEN TESTS
print("after")'''


def test_segments_split_at_the_hidden_markers_with_line_numbers() -> None:
    """Are visible and hidden runs separated, markers dropped, first lines kept?"""
    parts = segments(CELL)
    assert [(hidden, start) for _, hidden, start in parts] == [(False, 1), (True, 5), (False, 8)]
    assert "secret = 42" in parts[1][0] and "BEGIN" not in "".join(p[0] for p in parts)
    assert hidden_lines(CELL) == {4, 5, 6, 7}
    assert "secret" not in strip_hidden(CELL) and 'print("after")' in strip_hidden(CELL)


def _raise(code: str, filename: str = "<test t>") -> BaseException:
    try:
        exec(compile(code, filename, "exec"), {})
    except BaseException as exc:                           # noqa: BLE001
        return exc
    raise AssertionError("no exception")


def test_hidden_failures_reveal_no_code_or_values() -> None:
    """Does a failing hidden assert show only a generic line (no message, values, source)?"""
    exc = _raise('secret = 42\nassert secret == 41, f"secret was {secret}"')
    described = _describe(exc, True, "<test t>", {1, 2})
    assert described["message"] == "A hidden test failed (AssertionError)."
    assert "42" not in json.dumps(described) and "traceback" not in described


def test_student_errors_in_hidden_tests_hide_their_message_unless_safe() -> None:
    """Is a student's NotImplementedError shown, but a ValueError's message (which may echo
    hidden inputs) hidden?"""
    stub = _describe(_student_error("relu", "NotImplementedError", "Exercise 0.1: relu"), True, "<t>", set())
    assert stub["message"] == "Hidden test: your function relu raised NotImplementedError: Exercise 0.1: relu"
    leak = _describe(_student_error("relu", "ValueError", "shapes (7,3) and (9,)"), True, "<t>", set())
    assert "(7,3)" not in leak["message"] and "ValueError" in leak["message"]


def test_visible_failures_carry_message_diagnosis_and_traceback() -> None:
    """Does a visible checker failure give its [diagnosis] word and full first line?"""
    exc = _raise('x = 1\nraise AssertionError("[sign] dW: your gradient has the wrong sign")')
    described = _describe(exc, False, "<test t>", set())
    assert described["diagnosis"] == "sign"
    assert described["message"] == "[sign] dW: your gradient has the wrong sign"
    assert any("line 2" in line for line in described["traceback"])
    stopped = _describe(StudentStopped("timed out after 2 s"), False, "<test t>", set())
    assert stopped["ename"] == "NotebookStopped" and stopped["message"] == "timed out after 2 s"


def test_student_exceptions_are_rebuilt_as_plain_types() -> None:
    """Are builtin exception types rebuilt as themselves and others as a generic class?"""
    assert type(_student_error("f", "KeyError", "k")) is KeyError
    custom = _student_error("f", "MyError", "boom")
    assert type(custom).__name__ == "StudentException" and "MyError: boom" in str(custom)
    assert type(_student_error("f", "SystemExit", "")).__name__ == "StudentException"


# --- source notebooks and assembly -------------------------------------------------------

def _source(tmp_path):
    nb = authoring.notebook([
        authoring.code("import numpy as np", "imports"),
        authoring.answer("def f(x):\n    ### BEGIN SOLUTION\n    return x\n    ### END SOLUTION\n\n\n"
                         "def g(x):\n    return f(x)", "f"),
        authoring.test('"""t"""\nassert f(1) == 1', "test_f", points=2),
        authoring.code("print('demo', f(2))"),
    ])
    return authoring.write(nb, tmp_path / "source.ipynb")


def test_source_roles_points_and_exercise_names(tmp_path) -> None:
    """Are cell roles read from nbgrader metadata, and every top-level def an exercise?"""
    source = parse_source(_source(tmp_path))
    assert [c.kind for c in source.cells] == [SETUP, ANSWER, TEST, FREE]
    assert source.exercises == ("f", "g") and source.answer_of == {"f": "f", "g": "f"}
    assert source.tests[0].points == 2


def test_assembly_keeps_student_extras_in_place_and_source_order(tmp_path) -> None:
    """Are a student's scratch cells kept after the cell they followed, and moved graded
    cells put back in source order?"""
    path = _source(tmp_path)
    source = parse_source(path)
    nb = read_notebook(path)
    nb["cells"].insert(2, {"cell_type": "code", "metadata": {}, "source": "scratch = 1",
                           "outputs": [], "execution_count": None})
    nb["cells"][1], nb["cells"][3] = nb["cells"][3], nb["cells"][1]      # test before answer
    assembled = assemble(source, nb)
    kinds = [(c.kind, c.grade_id or c.source[:11]) for c in assembled.cells]
    assert kinds == [(SETUP, "imports"), (ANSWER, "f"), (FREE, "print('demo"), (TEST, "test_f"),
                     (FREE, "scratch = 1")]
    assert assembled.findings == []


@pytest.mark.parametrize("text, words", [
    ("not json", "malformed JSON at line 1, column 1"),
    ('{"nbformat": 4}', "no list of cells"),
    ("\udcff", "not UTF-8"),
])
def test_read_notebook_names_the_fault(tmp_path, text, words) -> None:
    """Does each unreadable notebook get a reason naming the file and the fault?"""
    path = tmp_path / "bad.ipynb"
    path.write_bytes(text.encode("utf-8", "surrogateescape"))
    with pytest.raises(NotebookError, match=words) as err:
        read_notebook(path)
    assert "bad.ipynb" in str(err.value)
