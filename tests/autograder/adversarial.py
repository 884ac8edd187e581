"""Shared scaffolding of the adversarial tests (``test_adversarial_*.py``): one tiny course whose
tests compute references *after* calling the student's function (as real notebooks do), a
way to write a student's notebook from answer sources, and helpers that read ``OUT`` back."""

from __future__ import annotations

import copy
import csv
import hashlib
import sqlite3
from pathlib import Path

import nbformat

from autograder import authoring
from autograder.release import release

ASSIGNMENT = "00_attack"
NOTEBOOK = "attack"

SETUP = '''import numpy as np

from utils.gradcheck import assert_close


def show(value):
    """Test helper: print a value the way the tests do."""
    print("value:", value)'''

DOUBLE = '''def double(x):
    """Twice x, element by element; x: array -> same shape."""
    ### BEGIN SOLUTION
    return 2 * x
    ### END SOLUTION
    raise NotImplementedError("Exercise 0.1: double")'''

TEST_DOUBLE = '''"""Does double return twice its input?"""
x = np.array([1.0, -2.0, 3.0])
assert_close(double(x), 2 * x, name="double")
show(double(np.ones(2)))
### BEGIN HIDDEN TESTS
from utils.testing import fresh_rng
v = fresh_rng("test_double").normal(size=4)
assert_close(double(v), 2 * v, name="double", hidden=True)
### END HIDDEN TESTS'''

TOTAL = '''def total(weights):
    """The sum of the values of a dict of numbers."""
    ### BEGIN SOLUTION
    return float(sum(weights.values()))
    ### END SOLUTION
    raise NotImplementedError("Exercise 0.2: total")'''

TEST_TOTAL = '''"""Does total add up every weight?"""
weights = {"a": 1.0, "b": 2.5, "c": -0.5}
assert total(weights) == sum(weights.values()), "total: wrong sum"'''

POINTS = {"test_double": 2.0, "test_total": 1.0}
RIGHT = {"double": "def double(x):\n    return 2 * x",
         "total": "def total(weights):\n    return float(sum(weights.values()))"}


def course(root: Path) -> Path:
    """Write the course (solutions and released notebooks) under ``root``; returns ``root``."""
    nb = authoring.notebook([
        authoring.markdown("# Attack course\nTwo small exercises.", "intro"),
        authoring.code(SETUP, "imports"),
        authoring.answer(DOUBLE, "double"),
        authoring.test(TEST_DOUBLE, "test_double", points=POINTS["test_double"]),
        authoring.answer(TOTAL, "total"),
        authoring.test(TEST_TOTAL, "test_total", points=POINTS["test_total"]),
    ])
    authoring.write(nb, root / "solutions" / ASSIGNMENT / f"{NOTEBOOK}.ipynb")
    (root / "notebooks").mkdir(parents=True, exist_ok=True)
    release(root / "solutions", root / "notebooks")
    return root


def released(root: Path) -> nbformat.NotebookNode:
    return nbformat.read(root / "notebooks" / ASSIGNMENT / f"{NOTEBOOK}.ipynb", as_version=4)


def student_notebook(root: Path, answers: dict[str, str] | None = None,
                     extra: list[tuple[str, str]] = ()) -> nbformat.NotebookNode:
    """The released notebook with ``answers`` (grade_id -> source; the right answers by
    default) and ``extra`` ordinary code cells, each ``(after grade_id, source)``."""
    nb = copy.deepcopy(released(root))
    answers = {**RIGHT, **(answers or {})}
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if cell.metadata.get("nbgrader", {}).get("solution") and grade_id in answers:
            cell.source = answers[grade_id]
    for after, source in extra:
        index = next(i for i, c in enumerate(nb.cells)
                     if c.metadata.get("nbgrader", {}).get("grade_id") == after)
        nb.cells.insert(index + 1, nbformat.v4.new_code_cell(source))
    return nb


def submission_path(submissions: Path, student: str) -> Path:
    return submissions / student / ASSIGNMENT / f"{NOTEBOOK}.ipynb"


def submit(submissions: Path, student: str, nb: nbformat.NotebookNode | str) -> Path:
    """Write ``nb`` (a notebook or raw text) as ``student``'s submission."""
    path = submission_path(submissions, student)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(nb if isinstance(nb, str) else nbformat.writes(nb), encoding="utf-8")
    return path


def csv_rows(out: Path) -> dict[str, dict[str, str]]:
    """grades.csv of ``out``, by student id."""
    with (out / "grades.csv").open(newline="", encoding="utf-8") as handle:
        return {row["student_id"]: row for row in csv.DictReader(handle)}


def gradebook_rows(out: Path) -> dict[str, tuple[str, str]]:
    """The status table of ``out``'s gradebook: student -> (status, reason)."""
    with sqlite3.connect(out / "gradebook.db") as db:
        return {s: (status, reason) for s, status, reason in
                db.execute("SELECT student_id, status, reason FROM backprop_lab_status")}


def gradebook_scores(out: Path) -> dict[str, float]:
    """Each student's total auto score in ``out``'s gradebook (what nbgrader exports)."""
    with sqlite3.connect(out / "gradebook.db") as db:
        rows = db.execute(
            "SELECT student.id, SUM(grade.auto_score) FROM grade "
            "JOIN submitted_notebook ON grade.notebook_id = submitted_notebook.id "
            "JOIN submitted_assignment ON submitted_notebook.assignment_id = submitted_assignment.id "
            "JOIN student ON submitted_assignment.student_id = student.id GROUP BY student.id")
        return {student: float(score or 0) for student, score in rows}


def tree(out: Path) -> dict[str, str]:
    """Every file under ``out`` (but the lock) -> a digest of its bytes."""
    return {p.relative_to(out).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(out.rglob("*")) if p.is_file() and p.name != ".lock"}


def assert_consistent(out: Path) -> None:
    """grades.csv, the gradebook, the feedback pages and the graded notebooks of ``out`` tell
    one story: the same students, scores and statuses."""
    rows = csv_rows(out)
    assert {s: (r["status"], r["reason"]) for s, r in rows.items()} == gradebook_rows(out)
    assert {s: float(r["score"]) for s, r in rows.items()} == gradebook_scores(out)
    pages = {p.parent.parent.name for p in (out / "feedback").glob(f"*/{ASSIGNMENT}/{NOTEBOOK}.html")}
    assert pages == set(rows)
    for student, row in rows.items():
        page = (out / "feedback" / student / ASSIGNMENT / f"{NOTEBOOK}.html").read_text(encoding="utf-8")
        assert f"Score: {float(row['score']):g} / {float(row['max_score']):g}" in page
    graded = {p.parent.parent.name for p in (out / "autograded").glob(f"*/{ASSIGNMENT}/{NOTEBOOK}.ipynb")}
    assert graded <= set(rows)
    assert not (out / ".staging").exists()
