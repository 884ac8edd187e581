"""The class report: how many students made which mistake, per question."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

from autograder.gradebook import question_columns, save_results
from autograder.report import NOT_IMPLEMENTED, categories, outcome, outcome_counts, text_table, write_report
from autograder.engine.results import (FAILED, FLAGGED, NOT_RUN, OK, PARTIAL, PASSED, VOIDED, QuestionResult,
                                      SubmissionResult)


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
    """Does report.html tabulate each question's outcomes and embed the chart in report.png?"""
    save_results(tmp_path, "01_gradients", CLASS, sources=[])
    html_path, png_path = write_report(tmp_path)
    page = html_path.read_text()
    assert png_path is not None and png_path.read_bytes().startswith(b"\x89PNG")
    assert "data:image/png;base64," in page
    row = page.split("<td class=\"id\">gradients:test_a</td>")[1].split("</tr>")[0]
    assert "<td class=\"n\">4</td><td class=\"n\">1</td><td class=\"t\">transposed 2, sign 1</td>" in row


def _rows(page: str, heading: str) -> list[list[str]]:
    """The cells of the first table after ``heading``, header row first."""
    table = page.split(f"<h2>{heading}</h2>")[1].split("</table>")[0]
    return [re.findall(r"<t[hd](?:\s[^>]*)?>(.*?)</t[hd]>", row) for row in table.split("</tr>")[:-1]]


def test_report_names_flagged_students_and_why(tmp_path: Path) -> None:
    """Does the report list each flagged (or otherwise not ok) submission with its reason,
    flagged first, and leave out the ones graded normally?"""
    flagged = replace(CLASS[3], status=FLAGGED, reason="the test cell 'test_b' was edited")
    partial = replace(CLASS[2], status=PARTIAL, reason="the notebook ran out of time")
    save_results(tmp_path, "01_gradients", [CLASS[0], CLASS[1], partial, flagged], sources=[])
    rows = _rows(write_report(tmp_path)[0].read_text(), "Submissions to look at")
    assert rows == [["student", "assignment", "notebook", "status", "why"],
                    ["dee", "01_gradients", "gradients", "flagged", "the test cell &#x27;test_b&#x27; was edited"],
                    ["cyd", "01_gradients", "gradients", "partial", "the notebook ran out of time"]]


def test_report_says_who_made_which_mistake(tmp_path: Path) -> None:
    """Can a TA read off which students made which mistake on which question?"""
    save_results(tmp_path, "01_gradients", CLASS, sources=[])
    rows = _rows(write_report(tmp_path)[0].read_text(), "Who made which mistake")
    assert ["01_gradients", "gradients:test_a", "transposed", "2", "bob, cyd"] in rows
    assert ["01_gradients", "gradients:test_a", "sign", "1", "dee"] in rows
    assert ["01_gradients", "gradients:test_b", NOT_IMPLEMENTED, "1", "bob"] in rows
    assert not [row for row in rows if "ann" in row[-1]]


def test_every_report_column_has_a_header(tmp_path: Path) -> None:
    """Does every table of the report name each of its columns, with as many cells per row?"""
    flagged = replace(CLASS[3], status=FLAGGED, reason="edited")
    save_results(tmp_path, "01_gradients", [*CLASS[:3], flagged], sources=[])
    page = write_report(tmp_path)[0].read_text()
    for heading in re.findall(r"<h2>(.*?)</h2>", page):
        header, *body = _rows(page, heading)
        assert header and all(cell.strip() for cell in header), heading
        assert all(len(row) == len(header) for row in body), heading


def test_console_table_names_questions_as_grades_csv_does(tmp_path: Path) -> None:
    """Are the console table's question names grades.csv's column names, under a header?"""
    table = text_table(CLASS).splitlines()
    assert table[0].split()[:3] == ["question", "students", "passed"]
    names = [line.split()[0] for line in table[1:]]
    assert names == question_columns(CLASS) == ["gradients:test_a", "gradients:test_b"]
    assert "transposed 2, sign 1" in table[1]


def test_empty_class_gives_a_report_without_chart(tmp_path: Path) -> None:
    """Does a batch with no submissions still write a (chartless) report?"""
    save_results(tmp_path, "01_gradients", [], sources=[])
    html_path, png_path = write_report(tmp_path)
    assert png_path is None and "0 graded notebook(s)" in html_path.read_text()
