"""The demo: a sample class built from the real solutions, graded once (module-scoped), and
every submission's grade checked against expectations written here from the source alone."""

from __future__ import annotations

import nbformat
import pytest

from autograder import SOLUTIONS_DIR
from autograder.demo import DemoOutcome, run_demo
from autograder.gradebook import read_csv
from autograder.mistakes import load_mistakes
from autograder.release import assignments, protected_lines
from autograder.engine.results import FAILED, FLAGGED, INVALID, MISSING, OK, PARTIAL, PASSED

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not assignments(), reason="no assignments in solutions/ yet")]

# Every bad submission the issue lists, with the status it must get.
CASE_STATUS = {
    "case-malformed-json": INVALID, "case-wrong-filename": MISSING,
    "case-test-deleted": FLAGGED, "case-test-edited": FLAGGED, "case-metadata-edited": FLAGGED,
    "case-duplicated-cells": FLAGGED, "case-kernel-killed": PARTIAL,
    "case-infinite-loop": OK, "case-memory-bomb": OK, "case-output-flood": OK, "case-sys-exit": OK,
    "case-syntax-error": OK, "case-network": OK, "case-read-solutions": OK, "case-write-outside": OK,
    "case-patch-numpy": FLAGGED, "case-patch-gradcheck": FLAGGED, "case-redefine-helpers": FLAGGED,
    "case-hardcoded": OK,
}
FULL_MARKS = {"case-infinite-loop", "case-memory-bomb", "case-output-flood", "case-sys-exit",
              "case-write-outside"}
# Cases whose first exercise is wrong, blank or a cheat: its first test must fail.
FIRST_TEST_FAILS = set(CASE_STATUS) - FULL_MARKS - {"case-malformed-json", "case-wrong-filename",
                                                    "case-kernel-killed"}


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> DemoOutcome:
    root = tmp_path_factory.mktemp("demo")
    (root / "notebooks").mkdir()
    return run_demo(root / "out", notebooks_dir=root / "notebooks", progress=False)


def _graded(assignment: str, written: bool) -> list[tuple[str, float]]:
    (source,) = sorted((SOLUTIONS_DIR / assignment).glob("*.ipynb"))
    nb = nbformat.read(source, as_version=4)
    return [(c.metadata["nbgrader"]["grade_id"], float(c.metadata["nbgrader"]["points"]))
            for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade")
            and (c.cell_type != "code") == written]


def _tests(assignment: str) -> list[tuple[str, float]]:
    """The autograded test cells of an assignment."""
    return _graded(assignment, written=False)


def test_every_submission_gets_its_expected_grade(demo: DemoOutcome) -> None:
    """Does the demo's gradebook match every sample's expected status, failing tests and score?"""
    mismatches = [f"{r.sample.student_id} ({r.sample.assignment}): {'; '.join(r.problems)}"
                  for r in demo.rows if not r.ok]
    assert not mismatches, "\n".join(mismatches)
    assert demo.ok and "every submission got its expected grade" in demo.text()


def test_gradebook_rows_and_statuses(demo: DemoOutcome) -> None:
    """Has grades.csv a row per sample, with correct at full marks, blank at 0, and every bad
    case present with the status written above?"""
    rows = read_csv(demo.out_dir / "grades.csv")
    assert len(rows) == len(demo.rows)
    by_id = {(r["student_id"], r["assignment"]): r for r in rows}
    for assignment in demo.assignments:
        full = sum(points for _, points in _tests(assignment))
        correct, blank = by_id[("correct", assignment)], by_id[("blank", assignment)]
        assert float(correct["score"]) == full
        assert float(blank["score"]) == 0
        # written answers: pending for a TA when answered, 0 when left blank
        written = _graded(assignment, written=True)
        assert float(correct["pending"]) == sum(points for _, points in written)
        assert float(blank["pending"]) == 0
        for grade_id, _ in written:
            column = f"{correct['notebook']}:{grade_id}"
            assert (correct[column], blank[column]) == ("needs manual grading", "0")
    cases = {r["student_id"]: r for r in rows if r["student_id"].startswith("case-")}
    assert set(cases) == set(CASE_STATUS)
    assert {s: r["status"] for s, r in cases.items()} == CASE_STATUS
    first = demo.assignments[0]
    full = sum(points for _, points in _tests(first))
    for student in FULL_MARKS:
        assert float(cases[student]["score"]) == full, student
    for student in ("case-malformed-json", "case-wrong-filename"):
        assert float(cases[student]["score"]) == 0 and cases[student]["reason"]
    first_test, first_points = _tests(first)[0]
    assert float(cases["case-kernel-killed"]["score"]) == first_points   # credit before the crash
    for student in FIRST_TEST_FAILS:
        assert cases[student][f"{cases[student]['notebook']}:{first_test}"] == "0", student
    for student in CASE_STATUS:
        if CASE_STATUS[student] != OK:
            assert cases[student]["reason"], f"{student} has no reason"


def test_each_planted_mistake_fails_its_test_with_its_diagnosis(demo: DemoOutcome) -> None:
    """Does each mistake student fail the mistake's test, diagnosed as the mistake says, and
    lose at least its points?"""
    mistakes = [r for r in demo.rows if r.sample.student_id.startswith("mistake-")]
    assert mistakes, "the demo class has no planted mistakes"
    known = {(m.assignment, m.test, m.diagnosis) for a in demo.assignments for m in load_mistakes(a)}
    for row in mistakes:
        test, word = row.sample.diagnosis
        assert (row.sample.assignment, test, word) in known
        question = next(q for q in row.result.questions if q.grade_id == test)
        assert (question.status, question.diagnosis) == (FAILED, word), row.sample.student_id
        assert row.result.score <= row.result.max_score - question.max_points


def test_feedback_never_shows_hidden_tests(demo: DemoOutcome) -> None:
    """Is no hidden-test line of any source in any feedback page, the solution thief's included?"""
    hidden = [line for a in demo.assignments for source in (SOLUTIONS_DIR / a).glob("*.ipynb")
              for kind, line in protected_lines(source) if kind == "hidden test"]
    pages = list((demo.out_dir / "feedback").rglob("*.html"))
    assert len(pages) == len(demo.rows)
    for page in pages:
        text = page.read_text()
        leaked = [line for line in hidden if line in text]
        assert not leaked, f"{page}: {leaked[:3]}"
    thief = next(demo.out_dir.glob(f"feedback/case-read-solutions/{demo.assignments[0]}/*.html")).read_text()
    assert "Score:" in thief


def test_cheats_did_not_escape(demo: DemoOutcome) -> None:
    """Did the file a submission wrote outside its folder stay unwritten (with bubblewrap)?"""
    if not demo.isolated:
        pytest.skip("bubblewrap is not available here: student code is not isolated")
    assert not any((demo.out_dir / "escape-check").iterdir())


def test_report_and_summary(demo: DemoOutcome) -> None:
    """Are the class report and its chart written, and does the printed gradebook end with the verdict?"""
    report = (demo.out_dir / "report.html").read_text()
    assert "data:image/png;base64," in report and (demo.out_dir / "report.png").is_file()
    for row in demo.rows:
        for q in row.result.questions:
            if q.status == PASSED:
                assert q.grade_id in report
                break
    assert demo.text().splitlines()[-2].startswith("Demo: ")
