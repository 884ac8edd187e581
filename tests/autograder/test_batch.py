"""Grading a class: `python -m autograder grade` on a small course, with the real engine."""

from __future__ import annotations

import copy
import shutil
import sqlite3
from pathlib import Path

import nbformat
import pytest

from autograder.__main__ import main
from autograder.batch import Limits, grade_assignment, seed_for, students, summary_table
from autograder.gradebook import read_csv
from autograder.release import release
from tests.autograder.test_release import HIDDEN_LINE, example_course, solved

pytestmark = pytest.mark.slow
ASSIGNMENT = "00_example"


def _submit(submissions: Path, student: str, text: str, name: str = "example.ipynb") -> None:
    path = submissions / student / ASSIGNMENT / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def _class(course: Path, submissions: Path, *, with_leaver: bool) -> None:
    """good, blank, broken JSON, renamed file, killed process, edited test (and a leaver)."""
    release_nb = nbformat.read(course / "notebooks" / ASSIGNMENT / "example.ipynb", as_version=4)
    good = solved(release_nb)
    killer = copy.deepcopy(good)
    killer.cells.insert(3, nbformat.v4.new_code_cell("import os\nos._exit(3)"))
    tamper = copy.deepcopy(release_nb)
    tamper.cells[-1].source = "print('all tests pass')"
    _submit(submissions, "good", nbformat.writes(good))
    _submit(submissions, "blank", nbformat.writes(release_nb))
    _submit(submissions, "broken", nbformat.writes(good)[:100])
    _submit(submissions, "renamed", nbformat.writes(good), name="example-Copy1.ipynb")
    _submit(submissions, "killer", nbformat.writes(killer))
    _submit(submissions, "tamper", nbformat.writes(tamper))
    if with_leaver:
        _submit(submissions, "leaver", nbformat.writes(good))


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """One class graded three times: via the CLI, re-graded after a student left, and the
    same inputs graded into a fresh folder."""
    root = tmp_path_factory.mktemp("batch")
    course = example_course(root / "course")
    release(course / "solutions", course / "notebooks")
    submissions = root / "submissions"
    _class(course, submissions, with_leaver=True)
    out = root / "out"
    code = main(["grade", ASSIGNMENT, "--submissions", str(submissions), "--out", str(out),
                 "--source", str(course / "solutions"), "--jobs", "2", "--timeout", "20", "--quiet"])
    first = read_csv(out / "grades.csv")
    shutil.rmtree(submissions / "leaver")
    again = grade_assignment(ASSIGNMENT, submissions, out, source_dir=course / "solutions",
                             workers=2, limits=Limits(timeout=20), progress=False)
    fresh = root / "fresh"
    grade_assignment(ASSIGNMENT, submissions, fresh, source_dir=course / "solutions",
                     workers=2, limits=Limits(timeout=20), progress=False)
    return {"code": code, "first": first, "again": again, "out": out, "fresh": fresh,
            "submissions": submissions}


def _by_student(rows: list[dict]) -> dict[str, dict]:
    return {row["student_id"]: row for row in rows}


def test_cli_exits_zero_and_grades_every_student(graded: dict, capsys: pytest.CaptureFixture) -> None:
    """Does a batch with failed submissions still complete, each row saying why?"""
    assert graded["code"] == 0
    rows = _by_student(graded["first"])
    assert sorted(rows) == ["blank", "broken", "good", "killer", "leaver", "renamed", "tamper"]
    expected = {"good": ("2", "ok"), "leaver": ("2", "ok"), "blank": ("0", "ok"),
                "broken": ("0", "invalid"), "renamed": ("0", "missing"),
                "killer": ("0", "partial"), "tamper": ("0", "flagged")}
    assert {s: (r["score"], r["status"]) for s, r in rows.items()} == expected
    for student in ("broken", "renamed", "killer", "tamper"):
        assert rows[student]["reason"], f"{student} has no reason"
    assert "example-Copy1.ipynb" in rows["renamed"]["reason"]
    assert rows["good"]["example:test_relu"] == "2"


def test_feedback_and_report_written(graded: dict) -> None:
    """Is there a feedback page per student (hidden test absent) and a class report?"""
    out = graded["out"]
    pages = sorted(p.relative_to(out / "feedback").as_posix() for p in (out / "feedback").rglob("*.html"))
    assert pages == [f"{s}/{ASSIGNMENT}/example.html"
                     for s in ("blank", "broken", "good", "killer", "renamed", "tamper")]
    for page in (out / "feedback").rglob("*.html"):
        assert HIDDEN_LINE not in page.read_text()
    assert "Exercise 0.1: relu" in (out / "feedback" / "blank" / ASSIGNMENT / "example.html").read_text()
    assert (out / "report.png").is_file() and "test_relu" in (out / "report.html").read_text()


def test_regrading_clears_stale_grades_and_is_reproducible(graded: dict) -> None:
    """After a student leaves, are their grade, feedback and graded notebook gone, and does
    re-grading give exactly what grading the same inputs afresh gives?"""
    out, fresh = graded["out"], graded["fresh"]
    assert "leaver" not in {r.student_id for r in graded["again"]}
    assert not (out / "feedback" / "leaver").exists() and not (out / "autograded" / "leaver").exists()
    assert (out / "grades.csv").read_text() == (fresh / "grades.csv").read_text()

    def gradebook(db: Path) -> list[tuple]:
        with sqlite3.connect(db) as con:
            return sorted(con.execute(
                "SELECT student.id, notebook.name, base_cell.name, grade.auto_score, submitted_notebook.flagged "
                "FROM grade JOIN submitted_notebook ON grade.notebook_id = submitted_notebook.id "
                "JOIN submitted_assignment ON submitted_notebook.assignment_id = submitted_assignment.id "
                "JOIN student ON submitted_assignment.student_id = student.id "
                "JOIN notebook ON submitted_notebook.notebook_id = notebook.id "
                "JOIN base_cell ON grade.cell_id = base_cell.id").fetchall())

    assert gradebook(out / "gradebook.db") == gradebook(fresh / "gradebook.db")
    assert [row[0] for row in gradebook(out / "gradebook.db")] == [
        "blank", "broken", "good", "killer", "renamed", "tamper"]


def test_seeds_are_fixed_per_student_and_assignment() -> None:
    """Is the hidden-test seed the same on every run, and different between students?"""
    assert seed_for("01_gradients", "ann") == seed_for("01_gradients", "ann")
    assert len({seed_for(a, s) for a in ("01", "02") for s in ("ann", "bob")}) == 4


def test_summary_table_counts_statuses(graded: dict) -> None:
    """Does the summary end with counts by status?"""
    text = summary_table(graded["again"], seconds=1.0)
    assert text.splitlines()[-1].startswith("6 notebook(s) graded in 1.0 s: 2 ok, 1 partial, 1 flagged, "
                                            "1 invalid, 1 missing")


def test_students_are_folders_with_the_assignment(tmp_path: Path) -> None:
    """Are folders without this assignment, and hidden folders, not students?"""
    for folder in ("ann/00_example", "bob/01_other", ".ipynb_checkpoints/00_example"):
        (tmp_path / folder).mkdir(parents=True)
    assert students(tmp_path, ASSIGNMENT) == ["ann"]
