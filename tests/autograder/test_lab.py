"""`python -m autograder lab`: which grades it opens and how its JupyterLab is set up (the
browser tests in test_lab_browser.py drive a running one)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from autograder import PACKAGE_DIR
from autograder.__main__ import main
from autograder.lab import COURSE_FILE, find_output, lab_command, last_output_file, record_output


def test_lab_without_grades_says_what_to_run(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """With nothing graded yet, or a folder that holds no gradebook, does `lab` exit 2 and say
    which command makes grades?"""
    assert main(["lab"]) == 2
    assert "run `python -m autograder demo` or `grade`" in capsys.readouterr().err
    assert main(["lab", "--grades", str(tmp_path)]) == 2
    assert "holds no gradebook.db" in capsys.readouterr().err


def test_last_output_is_remembered(tmp_path: Path) -> None:
    """Does recording an output make it the default for `lab`, with its course and submissions?"""
    out = tmp_path / "out"
    out.mkdir()
    (out / "gradebook.db").write_bytes(b"")
    record_output(out, tmp_path / "course", tmp_path / "subs")
    assert last_output_file().read_text().strip() == str(out.resolve())
    assert find_output(None) == out.resolve()
    assert json.loads((out / COURSE_FILE).read_text()) == {
        "course_root": str((tmp_path / "course").resolve()), "submissions": str((tmp_path / "subs").resolve())}


def test_lab_points_nbgrader_at_the_grades(tmp_path: Path) -> None:
    """Is the server's root the folder holding course and grades (so formgrader's links need no
    '..'), its nbgrader settings the course's with the gradebook, graded notebooks, submissions
    and exchange of OUT, token authentication on and no browser opened?"""
    out, course = tmp_path / "grades" / "out", tmp_path / "course"
    out.mkdir(parents=True)
    record_output(out, course, tmp_path / "subs")
    argv, env, root = lab_command(out, 9123)
    assert root == tmp_path.resolve()
    assert argv[1:4] == ["-m", "jupyter", "lab"] and "--no-browser" in argv and "--port=9123" in argv
    assert f"--ServerApp.root_dir={root}" in argv and not any("token" in a for a in argv)
    assert env["JUPYTER_CONFIG_PATH"].split(os.pathsep)[0] == str(PACKAGE_DIR)
    assert (env["BACKPROP_LAB_GRADES"], env["BACKPROP_LAB_COURSE_ROOT"]) == (str(out.resolve()), str(course.resolve()))
    assert (out / "exchange").is_dir()

    import subprocess
    import sys

    probe = ("from nbgrader.apps import NbGrader\nfrom nbgrader.coursedir import CourseDirectory\n"
             "from nbgrader.exchange.default.exchange import Exchange\n"
             "app = NbGrader(); app.load_config_file()\n"
             "cd = CourseDirectory(config=app.config); ex = Exchange(config=app.config)\n"
             "print(cd.root, cd.db_url, cd.autograded_directory, cd.submitted_directory, ex.root, cd.notebook_id)")
    seen = subprocess.run([sys.executable, "-c", probe], env=env, cwd=tmp_path, capture_output=True,
                          text=True, check=True).stdout.split()
    o = out.resolve()
    assert seen == [str(course.resolve()), f"sqlite:///{o}/gradebook.db", f"{o}/autograded",
                    str((tmp_path / "subs").resolve()), f"{o}/exchange", "?*"]


def test_grades_csv_is_rebuilt_with_the_tas_grades_when_the_lab_stops(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """When JupyterLab exits, does `lab` rebuild grades.csv so that a written answer graded in
    formgrader shows its score instead of 'needs manual grading'?"""
    import sys

    from nbgrader.api import Gradebook

    import autograder.lab
    from autograder.engine.results import NEEDS_MANUAL, OK, PASSED, QuestionResult, SubmissionResult
    from autograder.gradebook import COURSE_ID, read_csv, save_results, write_grade_files

    out = tmp_path / "out"
    result = SubmissionResult("ann", "00_written", "written", 2, 5, OK, "", (
        QuestionResult("test_double", 2, 2, PASSED),
        QuestionResult("written_delta", 0, 3, NEEDS_MANUAL, answer_sha256="cd" * 32)))
    save_results(out, "00_written", [result], [])
    write_grade_files(out)
    assert read_csv(out / "grades.csv")[0]["written:written_delta"] == "needs manual grading"
    with Gradebook(f"sqlite:///{out / 'gradebook.db'}", course_id=COURSE_ID) as gb:
        gb.find_grade("written_delta", "written", "00_written", "ann").manual_score = 3
        gb.db.commit()
    fake = ([sys.executable, "-c", "pass"], dict(os.environ), tmp_path)   # a server that stops at once
    monkeypatch.setattr(autograder.lab, "lab_command", lambda *args: fake)
    assert main(["lab", "--grades", str(out)]) == 0
    row = read_csv(out / "grades.csv")[0]
    assert (row["score"], row["pending"], row["written:written_delta"]) == ("5", "0", "3")
