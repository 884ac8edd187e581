"""The class report: how many students made which mistake, per question."""

from __future__ import annotations

from pathlib import Path

from autograder.gradebook import save_results
from autograder.report import NOT_IMPLEMENTED, categories, outcome, outcome_counts, text_table, write_report
from autograder.engine.results import FAILED, NOT_RUN, OK, PASSED, VOIDED, QuestionResult, SubmissionResult


def _submission(student: str, *questions: QuestionResult) -> SubmissionResult:
    return SubmissionResult(student, "01_gradients", "gradients", sum(q.points for q in questions),
                            sum(q.max_points for q in questions), OK, questions=questions)


CLASS = [
    _submission("ann", QuestionResult("test_a", 1, 1, PASSED), QuestionResult("test_b", 2, 2, PASSED)),
    _submission("bob", QuestionResult("test_a", 0, 1, FAILED, "transposed", "[transposed] dW: ..."),
                QuestionResult("test_b", 0, 2, FAILED, "", "NotImplementedError: Exercise 1.2")),
    _submission("cyd", QuestionResult("test_a", 0, 1, FAILED, "transposed", "[transposed] dW: ..."),
                QuestionResult("test_b", 0, 2, NOT_RUN, "", "not run: the notebook stopped")),
    _submission("dee", QuestionResult("test_a", 0, 1, FAILED, "sign", "[sign] dW: ..."),
                QuestionResult("test_b", 0, 2, VOIDED, "", "tampered")),
]


def test_each_question_gets_one_outcome() -> None:
    """Are failures counted by diagnosis, and stubs, stops and voids kept apart?"""
    assert [outcome(q) for s in CLASS for q in s.questions] == [
        PASSED, PASSED, "transposed", NOT_IMPLEMENTED, "transposed", NOT_RUN, "sign", VOIDED]
    counts = outcome_counts(CLASS)
    assert counts[("01_gradients", "gradients", "test_a")] == {PASSED: 1, "transposed": 2, "sign": 1}
    assert categories(counts) == [PASSED, "transposed", "sign", NOT_IMPLEMENTED, NOT_RUN, VOIDED]


def test_report_files_hold_table_and_chart(tmp_path: Path) -> None:
    """Does report.html tabulate the counts and embed the chart written to report.png?"""
    save_results(tmp_path, "01_gradients", CLASS, sources=[])
    html_path, png_path = write_report(tmp_path)
    page = html_path.read_text()
    assert png_path is not None and png_path.read_bytes().startswith(b"\x89PNG")
    assert "data:image/png;base64," in page
    assert "<th>transposed</th>" in page and "<td>test_a</td>" in page
    row = page.split("<td>test_a</td>")[1].split("</tr>")[0]
    assert row.count("<td>2</td>") == 1 and row.count("<td>1</td>") == 2
    table = text_table(CLASS)
    assert "01_gradients:test_a" in table.splitlines()[1] and "transposed" in table.splitlines()[0]


def test_empty_class_gives_a_report_without_chart(tmp_path: Path) -> None:
    """Does a batch with no submissions still write a (chartless) report?"""
    save_results(tmp_path, "01_gradients", [], sources=[])
    html_path, png_path = write_report(tmp_path)
    assert png_path is None and "0 graded notebook(s)" in html_path.read_text()
