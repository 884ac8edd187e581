"""Feedback pages: scores and diagnoses for the student, never the hidden tests."""

from __future__ import annotations

from pathlib import Path

import nbformat

from autograder import authoring
from autograder.feedback import HIDDEN_NOTE, render_feedback, strip_hidden_tests, write_feedback
from autograder.engine.results import FAILED, NOT_RUN, OK, PASSED, QuestionResult, SubmissionResult

HIDDEN_LINE = "assert np.allclose(secret_reference(big), expected_big_answer)"
TEST_SOURCE = ('"""Is relu right on a small vector?"""\n'
               "assert np.allclose(relu(np.array([-1.0, 2.0])), [0.0, 2.0])\n"
               "### BEGIN HIDDEN TESTS\nbig = np.linspace(-3, 3, 7)\n" + HIDDEN_LINE + "\n"
               "### END HIDDEN TESTS\nprint('visible tail')")


def _graded_notebook() -> nbformat.NotebookNode:
    """A graded notebook as the engine writes it: student cells, instructor test cells with
    their hidden blocks, and outputs."""
    answer = authoring.answer("def relu(x):\n    ### BEGIN SOLUTION\n    return x\n    ### END SOLUTION",
                              "relu")
    answer.source = "def relu(x):\n    return x  # <script>alert(1)</script>"
    student = authoring.code("print('hello from the student')")
    student.outputs = [nbformat.v4.new_output("stream", name="stdout", text="hello from the student\n" * 500)]
    test = authoring.test(TEST_SOURCE, "test_relu", points=2)
    test.outputs = [nbformat.v4.new_output("stream", name="stdout", text="Hidden tests passed.\n"),
                    nbformat.v4.new_output("error", ename="AssertionError", evalue=HIDDEN_LINE,
                                           traceback=[HIDDEN_LINE])]
    return authoring.notebook([authoring.markdown("# ReLU <b>bold</b>"), answer, student, test])


def _result(status: str = OK) -> SubmissionResult:
    return SubmissionResult(
        student_id="ada", assignment="00_example", notebook="example", score=1, max_score=3,
        status=status, reason="",
        questions=(
            QuestionResult("test_relu", 0, 2, FAILED, "transposed",
                           "[transposed] dW1: your gradient is the transpose of the correct one"),
            QuestionResult("test_other", 1, 1, PASSED),
        ))


def test_hidden_blocks_are_cut_from_test_sources() -> None:
    """Does stripping remove every hidden block (and an unterminated one) but keep the rest?"""
    stripped = strip_hidden_tests(TEST_SOURCE)
    assert HIDDEN_LINE not in stripped and "linspace" not in stripped
    assert "assert np.allclose(relu(np.array([-1.0, 2.0]))" in stripped
    assert "print('visible tail')" in stripped and HIDDEN_NOTE in stripped
    unterminated = "x = 1\n### BEGIN HIDDEN TESTS\nsecret = 2\n"
    assert "secret" not in strip_hidden_tests(unterminated)
    twice = TEST_SOURCE + "\n" + TEST_SOURCE
    assert HIDDEN_LINE not in strip_hidden_tests(twice)


def test_page_shows_scores_and_diagnosis_but_no_hidden_test() -> None:
    """Does the page give each question's score and diagnosis message, and no hidden code,
    even where the graded notebook's test output quotes a hidden line?"""
    page = render_feedback(_result(), _graded_notebook(), hidden=[HIDDEN_LINE])
    assert "Score: 1 / 3" in page
    assert "[transposed] dW1: your gradient is the transpose of the correct one" in page
    assert "test_other" in page and "1 / 1" in page
    assert HIDDEN_LINE not in page and "linspace" not in page
    assert "assert np.allclose(relu(np.array([-1.0, 2.0])), [0.0, 2.0])" in page
    assert "Hidden tests passed." in page  # the test's visible output stays


def test_page_escapes_student_html_and_truncates_floods() -> None:
    """Is a student's markup shown as text, and a 500-line output cut short?"""
    page = render_feedback(_result(), _graded_notebook())
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert page.count("hello from the student") < 60
    assert "more lines" in page


def test_last_guard_redacts_a_hidden_line_anywhere() -> None:
    """If a message ever quoted a hidden line, would the page still not show it?"""
    leaky = SubmissionResult("ada", "a", "nb", 0, 2, OK, questions=(
        QuestionResult("test_relu", 0, 2, FAILED, "", f"AssertionError: {HIDDEN_LINE}"),))
    page = render_feedback(leaky, None, hidden=[HIDDEN_LINE])
    assert HIDDEN_LINE not in page and "[hidden]" in page


def test_written_page_without_a_notebook(tmp_path: Path) -> None:
    """Does an unreadable submission still get a page that says why and shows its 0?"""
    result = SubmissionResult("bob", "00_example", "example", 0, 2, "invalid",
                              reason="example.ipynb: malformed JSON at line 1",
                              questions=(QuestionResult("test_relu", 0, 2, NOT_RUN),))
    graded = tmp_path / "missing.ipynb"
    path = write_feedback(result, tmp_path / "out" / "example.html", graded=graded)
    page = path.read_text()
    assert "malformed JSON" in page and "Score: 0 / 2" in page and "Your notebook" not in page


def test_page_renders_math_as_mathml() -> None:
    """Does the notebook's LaTeX reach the page as MathML, with no raw ``$$`` left?"""
    nb = authoring.notebook([authoring.markdown(
        r"$$\theta^{new} = \theta^{old} - \alpha \nabla_{\theta} J(\theta)$$ with step $\alpha$.")])
    page = render_feedback(_result(), nb)
    assert page.count("<math ") == 2 and "$$" not in page and "\\theta" not in page


def test_page_shows_the_students_figures_checked_and_capped(tmp_path: Path) -> None:
    """Does a figure the student's notebook displayed appear under its graded cell, re-encoded,
    while a forged image output does not reach the page?"""
    import base64

    from tests.autograder.test_figures import PNG

    plot_source = "plt.plot([1, 2, 3])"
    graded = authoring.notebook([authoring.code(plot_source), authoring.code("forged()")])
    submitted = authoring.notebook([authoring.code(plot_source), authoring.code("forged()")])
    submitted.cells[0].outputs = [nbformat.v4.new_output(
        "display_data", data={"image/png": base64.b64encode(PNG).decode()})]
    submitted.cells[1].outputs = [nbformat.v4.new_output(
        "display_data", data={"image/png": 'AAAA"><script>alert(1)</script>'})]
    paths = {name: tmp_path / f"{name}.ipynb" for name in ("graded", "submitted")}
    nbformat.write(graded, paths["graded"])
    nbformat.write(submitted, paths["submitted"])
    page = write_feedback(_result(), tmp_path / "page.html", graded=paths["graded"],
                          submission=paths["submitted"]).read_text()
    image = f'src="data:image/png;base64,{base64.b64encode(PNG).decode()}"'
    assert page.count("<img") == 1 and image in page
    assert page.index(plot_source) < page.index(image) < page.index("forged()")
    assert "<script>" not in page
