"""Written answers (nbgrader's manually graded answer cells) through release, grade, the
gradebook, grades.csv, feedback, the report and the self-check: pending for a TA, never a
silent 0, the student's own (sanitised) text kept, a TA's grade read back."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import nbformat
import pytest

from autograder import authoring
from autograder.__main__ import main
from autograder.engine.results import BLANK, FAILED, GRADED_BY_HAND, NEEDS_MANUAL, PASSED
from autograder.engine.written import sanitise
from autograder.gradebook import COURSE_ID, PENDING_CELL, load_results, read_csv, write_grade_files
from autograder.release import find_leaks, release

MODEL_ANSWER = "Because the upstream gradient delta is shared by every weight of the layer."
QUESTION = "**Question.** Why is δ computed once and reused?"


def written_course(root: Path) -> Path:
    """One notebook: an autograded exercise (2 points) and a written question (3 points)."""
    nb = authoring.notebook([
        authoring.markdown("# Written\nOne exercise, one question.", "intro"),
        authoring.code("import numpy as np", "imports"),
        authoring.answer("def double(x):\n    ### BEGIN SOLUTION\n    return 2 * x\n    ### END SOLUTION\n"
                         '    raise NotImplementedError("Exercise 0.1: double")', "double"),
        authoring.test('"""Is double right on 3?"""\nassert double(3) == 6, "[wrong] double(3)"',
                       "test_double", points=2),
        authoring.markdown(QUESTION),
        authoring.written(MODEL_ANSWER, "written_delta", points=3),
    ])
    authoring.write(nb, root / "solutions" / "00_written" / "written.ipynb")
    (root / "notebooks").mkdir(parents=True)
    release(root / "solutions", root / "notebooks")
    return root


@pytest.fixture(scope="module")
def course(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return written_course(tmp_path_factory.mktemp("written") / "course")


def _released(course: Path) -> Path:
    return course / "notebooks" / "00_written" / "written.ipynb"


def _submission(course: Path, answer: str | None, code: str = "def double(x):\n    return 2 * x") -> dict:
    nb = json.loads(_released(course).read_text())
    for cell in nb["cells"]:
        meta = cell["metadata"].get("nbgrader", {})
        if meta.get("grade_id") == "double":
            cell["source"] = code
        if meta.get("grade_id") == "written_delta" and answer is not None:
            cell["source"] = answer
    return nb


def _grade(course: Path, out: Path, answers: dict[str, str | None]) -> None:
    subs = out.parent / (out.name + "-submissions")
    for student, answer in answers.items():
        path = subs / student / "00_written" / "written.ipynb"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(_submission(course, answer)))
    code = main(["grade", "00_written", "--submissions", str(subs), "--out", str(out),
                 "--source", str(course / "solutions"), "--quiet", "--timeout", "20"])
    assert code == 0


ANN = "Reuse it:\n\n$\\delta < 1$ <script>alert('x')</script> [link](javascript:alert(1))"


def test_authoring_written_cell_is_an_nbgrader_manual_answer() -> None:
    """Does authoring.written make a markdown cell with nbgrader's manual-answer metadata, and
    refuse a cell worth no points or with no model answer?"""
    cell = authoring.written("model", "written_x", points=2)
    assert cell.cell_type == "markdown"
    assert cell.metadata["nbgrader"] == {"grade": True, "solution": True, "locked": False, "points": 2,
                                         "grade_id": "written_x", "schema_version": 3, "task": False}
    with pytest.raises(ValueError, match="points > 0"):
        authoring.written("model", "written_x", points=0)
    with pytest.raises(ValueError, match="model answer"):
        authoring.written("  ", "written_x", points=1)


def test_release_replaces_the_model_answer(course: Path) -> None:
    """Does the release show YOUR ANSWER HERE instead of the model answer, and would a model
    answer pasted into a released file be caught as a leak?"""
    text = _released(course).read_text()
    assert "YOUR ANSWER HERE" in text and MODEL_ANSWER not in text
    assert find_leaks(course / "solutions", [_released(course)]) == []
    leaky = course / "leaky.md"
    leaky.write_text(MODEL_ANSWER + "\n")
    assert [(leak.kind, leak.line) for leak in find_leaks(course / "solutions", [leaky])] == [
        ("written answer", MODEL_ANSWER)]


def test_sanitise_keeps_markdown_and_math_but_not_html() -> None:
    """Is raw HTML (a script, an onerror image) shown as text and a javascript: link defused,
    while markdown and '$a < b$' survive?"""
    clean = sanitise("*yes* $a < b$ <script>x</script><img src=x onerror=alert(1)> "
                     "[l](javascript:alert(1))\x00")
    assert "*yes* $a < b$" in clean
    assert "<script" not in clean and "<img" not in clean and "&lt;script>" in clean
    assert "javascript:" not in clean and "\x00" not in clean
    assert len(sanitise("x" * 50_000)) < 21_000


@pytest.mark.slow
def test_written_answers_are_pending_everywhere_and_a_tas_grade_is_kept(course: Path, tmp_path: Path) -> None:
    """After `grade`: is a written answer 'needs manual grading' (0 now, its points pending) in
    the results, grades.csv, the nbgrader gradebook (needs_manual_grade), feedback and the
    report; a blank one 0 with a reason; the student's sanitised text in the graded notebook?
    Then: does a TA's score in the gradebook reach grades.csv, survive a regrade of the same
    answer, and lapse when the answer changes?"""
    out = tmp_path / "out"
    _grade(course, out, {"ann": ANN, "bob": None})
    results, _ = load_results(out)
    ann, bob = results
    q_ann = {q.grade_id: q for q in ann.questions}
    assert q_ann["test_double"].status == PASSED
    assert (q_ann["written_delta"].status, q_ann["written_delta"].points) == (NEEDS_MANUAL, 0)
    assert (ann.score, ann.max_score, ann.pending) == (2, 5, 3)
    q_bob = {q.grade_id: q for q in bob.questions}["written_delta"]
    assert (q_bob.status, q_bob.diagnosis, bob.pending) == (FAILED, BLANK, 0)
    assert "no answer written" in q_bob.message

    graded = nbformat.read(out / "autograded" / "ann" / "00_written" / "written.ipynb", as_version=4)
    answer = next(c for c in graded.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "written_delta")
    assert answer.cell_type == "markdown" and answer.source.startswith("Reuse it:")
    assert "&lt;script>" in answer.source and "<script" not in answer.source
    assert MODEL_ANSWER not in json.dumps(graded)

    rows = {r["student_id"]: r for r in read_csv(out / "grades.csv")}
    assert (rows["ann"]["score"], rows["ann"]["max_score"], rows["ann"]["pending"]) == ("2", "5", "3")
    assert rows["ann"]["written:written_delta"] == PENDING_CELL == "needs manual grading"
    assert (rows["bob"]["pending"], rows["bob"]["written:written_delta"]) == ("0", "0")

    from nbgrader.api import Gradebook
    with Gradebook(f"sqlite:///{out / 'gradebook.db'}", course_id=COURSE_ID) as gb:
        grade = gb.find_grade("written_delta", "written", "00_written", "ann")
        assert grade.needs_manual_grade and grade.auto_score is None and grade.max_score == 3
        assert gb.find_submission_notebook("written", "00_written", "ann").needs_manual_grade
        assert not gb.find_submission_notebook("written", "00_written", "bob").needs_manual_grade
        assert [s.student.id for s in gb.find_assignment("00_written").submissions
                if s.needs_manual_grade] == ["ann"]

    feedback = (out / "feedback" / "ann" / "00_written" / "written.html").read_text()
    assert "needs manual grading" in feedback and "pending / 3" in feedback
    assert "Reuse it:" in feedback and "<script>alert" not in feedback and MODEL_ANSWER not in feedback
    assert "needs manual grading" in (out / "report.html").read_text()

    # a TA grades ann's answer in formgrader: the gradebook gets a manual score and a comment
    with Gradebook(f"sqlite:///{out / 'gradebook.db'}", course_id=COURSE_ID) as gb:
        gb.find_grade("written_delta", "written", "00_written", "ann").manual_score = 2.5
        gb.find_comment("written_delta", "written", "00_written", "ann").manual_comment = "say why"
        gb.db.commit()
    write_grade_files(out)
    row = {r["student_id"]: r for r in read_csv(out / "grades.csv")}["ann"]
    assert (row["score"], row["pending"], row["written:written_delta"]) == ("4.5", "0", "2.5")

    _grade(course, out, {"ann": ANN, "bob": None})          # same answer: the TA's grade stays
    row = {r["student_id"]: r for r in read_csv(out / "grades.csv")}["ann"]
    assert (row["score"], row["pending"]) == ("4.5", "0")
    with Gradebook(f"sqlite:///{out / 'gradebook.db'}", course_id=COURSE_ID) as gb:
        grade = gb.find_grade("written_delta", "written", "00_written", "ann")
        assert (grade.manual_score, grade.needs_manual_grade) == (2.5, False)
        assert gb.find_comment("written_delta", "written", "00_written", "ann").manual_comment == "say why"
    assert GRADED_BY_HAND in (out / "report.html").read_text()

    _grade(course, out, {"ann": ANN + " (revised)", "bob": None})   # a new answer needs a new grade
    row = {r["student_id"]: r for r in read_csv(out / "grades.csv")}["ann"]
    assert (row["score"], row["pending"], row["written:written_delta"]) == ("2", "3", PENDING_CELL)


@pytest.mark.slow
def test_self_check_counts_written_answers_apart(course: Path, tmp_path: Path,
                                                capsys: pytest.CaptureFixture) -> None:
    """Does `check` pass a notebook whose tests pass and whose written answer awaits a TA,
    say that its points are graded by hand, and fail one whose written answer is blank?"""
    work = tmp_path / "00_written"
    work.mkdir()
    nbformat.write(nbformat.from_dict(_submission(course, "My answer.")), work / "written.ipynb")
    assert main(["check", str(work / "written.ipynb"), "--release", str(course / "notebooks")]) == 0
    out = capsys.readouterr().out
    assert "1 of 1 visible test(s) pass, 2/2 point(s); 3 more for written answers" in out
    assert "WRITTEN" in out and "written_delta" in out
    nbformat.write(nbformat.from_dict(_submission(course, None)), work / "written.ipynb")
    assert main(["check", str(work / "written.ipynb"), "--release", str(course / "notebooks")]) == 1
    assert "BLANK" in capsys.readouterr().out


def test_sqlite_side_table_names_every_written_answer(course: Path, tmp_path: Path) -> None:
    """Does the gradebook keep the digest of each written answer, so a TA's grade can be
    matched to the answer graded (and nothing for questions that are not written)?"""
    from autograder.engine.results import OK, QuestionResult, SubmissionResult
    from autograder.gradebook import WRITTEN_TABLE, save_results

    out = tmp_path / "out"
    result = SubmissionResult("ann", "00_written", "written", 2, 5, OK, "", (
        QuestionResult("test_double", 2, 2, PASSED),
        QuestionResult("written_delta", 0, 3, NEEDS_MANUAL, answer_sha256="ab" * 32)))
    save_results(out, "00_written", [result], [course / "solutions" / "00_written" / "written.ipynb"])
    _, db = write_grade_files(out)
    with sqlite3.connect(db) as con:
        assert con.execute(f"SELECT grade_id, answer_sha256 FROM {WRITTEN_TABLE}").fetchall() == [
            ("written_delta", "ab" * 32)]


@pytest.mark.slow
def test_demo_expects_written_answers_to_await_a_ta(course: Path, tmp_path: Path) -> None:
    """Do the demo's expectations hold for a notebook with a written question (the correct
    student's answer pending, the blank one's 0), and would a written answer scored by the
    grader itself be reported as a mismatch?"""
    from dataclasses import replace

    from autograder.batch import grade_assignments
    from autograder.demo import class_samples, compare, write_samples
    from autograder.demo_cases import Anatomy

    anatomy = Anatomy.read("00_written", course / "solutions" / "00_written" / "written.ipynb",
                           _released(course))
    assert anatomy.tests == [("test_double", 2.0)] and anatomy.written == [("written_delta", 3.0)]
    samples = class_samples(anatomy, with_cases=False, source_path=course / "solutions",
                            escape_dir=tmp_path, isolated=True)
    write_samples(samples, tmp_path / "subs")
    results = grade_assignments(["00_written"], tmp_path / "subs", tmp_path / "out",
                                source_dir=course / "solutions", progress=False)
    found = {r.student_id: r for r in results}
    rows = {s.student_id: compare(s, found[s.student_id]) for s in samples}
    assert rows["correct"].ok and rows["blank"].ok, [r.problems for r in rows.values()]
    assert (found["correct"].score, found["correct"].pending) == (2, 3)
    scored = replace(found["correct"], questions=tuple(
        replace(q, status=PASSED, points=q.max_points) if q.grade_id == "written_delta" else q
        for q in found["correct"].questions))
    assert "written answer written_delta: passed" in "; ".join(compare(samples[0], scored).problems)
