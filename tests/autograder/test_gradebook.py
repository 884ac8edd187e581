"""The record of grades: grades.csv, an nbgrader gradebook of our grades, and the plain
nbgrader workflow on the same course files."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbgrader.api import Gradebook

from autograder import NBGRADER_CONFIG, REPO_ROOT
from autograder.gradebook import (
    COURSE_ID, load_results, read_csv, save_results, write_grade_files,
)
from autograder.release import _nbgrader_env
from autograder.engine.results import FAILED, INVALID, NOT_RUN, OK, PARTIAL, PASSED, QuestionResult, SubmissionResult
from tests.autograder.test_release import HIDDEN_LINE, example_course


def _result(student: str, status: str, points: float, reason: str = "") -> SubmissionResult:
    question = QuestionResult("test_relu", points, 2, PASSED if points else FAILED if status == OK else NOT_RUN)
    return SubmissionResult(student, "00_example", "example", points, 2, status, reason, (question,))


@pytest.fixture()
def course(tmp_path: Path) -> Path:
    return example_course(tmp_path / "course")


def _source(course: Path) -> Path:
    return course / "solutions" / "00_example" / "example.ipynb"


def test_csv_keeps_status_and_reason_of_failed_submissions(course: Path, tmp_path: Path) -> None:
    """Does grades.csv say why a 0 is a 0, with one column per question?"""
    out = tmp_path / "out"
    save_results(out, "00_example", [
        _result("ann", OK, 2), _result("bob", INVALID, 0, "example.ipynb: malformed JSON"),
        _result("cyd", PARTIAL, 0, "the notebook stopped at cell 5: the process died")], [_source(course)])
    csv_path, _ = write_grade_files(out)
    rows = read_csv(csv_path)
    assert [(r["student_id"], r["score"], r["status"]) for r in rows] == [
        ("ann", "2", OK), ("bob", "0", INVALID), ("cyd", "0", PARTIAL)]
    assert rows[1]["reason"] == "example.ipynb: malformed JSON"
    assert rows[0]["example:test_relu"] == "2" and rows[0]["max_score"] == "2"


def test_results_of_several_assignments_merge_and_regrading_replaces(course: Path, tmp_path: Path) -> None:
    """Does grading a second assignment keep the first's rows, and re-grading one replace only its own?"""
    out = tmp_path / "out"
    save_results(out, "00_example", [_result("ann", OK, 2), _result("bob", OK, 0)], [_source(course)])
    other = SubmissionResult("ann", "01_other", "other", 1, 1, OK, "", (QuestionResult("test_x", 1, 1, PASSED),))
    save_results(out, "01_other", [other], [])
    write_grade_files(out)
    assert len(read_csv(out / "grades.csv")) == 3
    save_results(out, "00_example", [_result("ann", OK, 0)], [_source(course)])
    csv_path, _ = write_grade_files(out)
    rows = read_csv(csv_path)
    assert [(r["student_id"], r["assignment"], r["score"]) for r in rows] == [
        ("ann", "00_example", "0"), ("ann", "01_other", "1")]
    assert rows[0]["other:test_x"] == "" and rows[1]["other:test_x"] == "1"
    results, sources = load_results(out)
    assert results[0] == _result("ann", OK, 0) and sources[("00_example", "example")] == _source(course)


def test_gradebook_holds_our_grades_for_nbgrader(course: Path, tmp_path: Path) -> None:
    """Can nbgrader's own API read our scores, with failed submissions flagged?"""
    out = tmp_path / "out"
    save_results(out, "00_example", [_result("ann", OK, 2), _result("bob", INVALID, 0, "bad JSON")],
                 [_source(course)])
    _, db = write_grade_files(out)
    with Gradebook(f"sqlite:///{db}", course_id=COURSE_ID) as gb:
        assert [s.id for s in gb.students] == ["ann", "bob"]
        ann = gb.find_submission_notebook("example", "00_example", "ann")
        bob = gb.find_submission_notebook("example", "00_example", "bob")
        assert (ann.score, ann.max_score, ann.flagged) == (2, 2, False)
        assert (bob.score, bob.flagged) == (0, True)
        assert gb.find_source_cell("test_relu", "example", "00_example").locked


@pytest.mark.slow
def test_nbgrader_export_reads_our_gradebook_with_status(course: Path, tmp_path: Path) -> None:
    """Does `nbgrader export` (with our exporter) list our scores with status and reason?"""
    out = tmp_path / "out"
    save_results(out, "00_example", [_result("ann", OK, 2), _result("bob", INVALID, 0, "bad JSON")],
                 [_source(course)])
    _, db = write_grade_files(out)
    export = tmp_path / "export.csv"
    proc = subprocess.run(
        [sys.executable, "-m", "nbgrader", "export", f"--db=sqlite:///{db}", f"--to={export}",
         "--exporter=autograder.gradebook.StatusCsvExportPlugin", "--log-level=WARN"],
        cwd=REPO_ROOT, env=_nbgrader_env(), capture_output=True, text=True)    # as the README says
    assert proc.returncode == 0, proc.stderr
    rows = {r["student_id"]: r for r in read_csv(export)}
    assert rows["ann"]["score"] == "2.0" and rows["ann"]["status"] == OK
    assert rows["bob"]["score"] == "0.0" and rows["bob"]["status"] == INVALID
    assert "bad JSON" in rows["bob"]["reason"]


def _readme_plain_commands() -> list[list[str]]:
    """The nbgrader commands of the README's plain-nbgrader section, in order."""
    text = (REPO_ROOT / "README.md").read_text()
    section = text[text.index("### Plain nbgrader"):]
    block = section[section.index("```bash") + 7:]
    block = block[:block.index("```")]
    return [line.split("#")[0].split() for line in block.splitlines() if line.startswith("nbgrader ")]


@pytest.mark.slow
def test_plain_nbgrader_workflow_as_the_readme_says(course: Path) -> None:
    """Run from a course's root with its nbgrader_config.py, do the README's plain-nbgrader
    commands work as written: generate (keeping other files of the release folder), autograde
    (warning about checksums only for test cells with hidden tests, as the README explains),
    feedback without hidden tests, and export to grades.csv in the root?"""
    shutil.copy(REPO_ROOT / "nbgrader_config.py", course / "nbgrader_config.py")
    (course / "autograder").mkdir()
    shutil.copy(NBGRADER_CONFIG, course / "autograder" / "nbgrader_config.py")
    commands = [[arg.replace("01_gradients", "00_example") for arg in cmd] for cmd in _readme_plain_commands()]
    assert [cmd[1] for cmd in commands] == ["generate_assignment", "autograde", "generate_feedback", "export"]
    env = {k: v for k, v in _nbgrader_env().items() if k != "BACKPROP_LAB_COURSE_ROOT"}

    def run(cmd: list[str]) -> subprocess.CompletedProcess:
        proc = subprocess.run([sys.executable, "-m", *cmd], cwd=course, env=env, capture_output=True, text=True)
        assert proc.returncode == 0, f"{' '.join(cmd)} failed:\n{proc.stdout}{proc.stderr}"
        return proc

    extra = course / "notebooks" / "00_example" / "data.csv"
    extra.parent.mkdir(parents=True)
    extra.write_text("x\n1\n")
    run(commands[0])
    released = course / "notebooks" / "00_example" / "example.ipynb"
    assert extra.read_text() == "x\n1\n" and (course / "gradebook.db").is_file()
    nb = nbformat.read(released, as_version=4)
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("solution"):
            cell.source = "def relu(x):\n    return np.maximum(x, 0)"
    submitted = course / "submitted" / "ann" / "00_example" / "example.ipynb"
    submitted.parent.mkdir(parents=True)
    nbformat.write(nb, submitted)
    shutil.copytree(submitted.parent, course / "submitted" / "bob" / "00_example")
    shutil.copy(released, course / "submitted" / "bob" / "00_example" / "example.ipynb")
    log = run(commands[1]).stderr
    warned = re.findall(r"Attribute 'checksum' for cell (\w+) has changed", log)
    with_hidden = [c.metadata["nbgrader"]["grade_id"] for c in nbformat.read(_source(course), as_version=4).cells
                   if "BEGIN HIDDEN TESTS" in c.source]
    assert sorted(warned) == sorted(with_hidden * 2), log          # two students, no other warning
    assert "Attribute 'checksum' for cell test_… has changed!" in (REPO_ROOT / "README.md").read_text()
    run(commands[2])
    run(commands[3])
    rows = {r["student_id"]: r for r in read_csv(course / "grades.csv")}
    assert (rows["ann"]["score"], rows["bob"]["score"]) == ("2.0", "0.0")
    feedback = (course / "feedback" / "ann" / "00_example" / "example.html").read_text()
    assert "relu" in feedback and HIDDEN_LINE not in feedback
    run(commands[0])                                    # regenerating keeps the other file
    assert extra.is_file() and json.loads(released.read_text())["cells"]
