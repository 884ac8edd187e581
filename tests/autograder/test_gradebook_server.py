"""The nbgrader gradebook on a real PostgreSQL server (`grade --db URL`): written by a batch,
read by nbgrader, replaced idempotently, all-or-nothing, and shared by two instructors at once."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

from tests.autograder.servers import NOT_INSTALLED, POSTGRES_BINARIES, free_port, postgres

pytestmark = [pytest.mark.skipif(not POSTGRES_BINARIES, reason=NOT_INSTALLED),
              pytest.mark.xdist_group("postgresql")]
pytest.importorskip("psycopg", reason="the PostgreSQL gradebook needs psycopg (pip install -r requirements.txt)")

from sqlalchemy import create_engine, text  # noqa: E402

from autograder import NBGRADER_CONFIG  # noqa: E402
from autograder import gradebook_server  # noqa: E402
from autograder.__main__ import main  # noqa: E402
from autograder.batch import GradingError  # noqa: E402
from autograder.engine.results import FAILED, INVALID, OK, PASSED, QuestionResult, SubmissionResult  # noqa: E402
from autograder.gradebook import read_csv  # noqa: E402
from autograder.gradebook_server import write_server_gradebook  # noqa: E402
from autograder.release import _nbgrader_env, release  # noqa: E402
from tests.autograder.test_release import example_course, solved  # noqa: E402


@pytest.fixture(scope="module")
def server() -> str:
    """The URL of a PostgreSQL server's maintenance database (each test makes its own)."""
    with postgres() as url:
        yield url


def _database(server: str, name: str) -> str:
    """A fresh empty database ``name`` on the server; its URL."""
    engine = create_engine(server, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text(f"DROP DATABASE IF EXISTS {name}"))
        connection.execute(text(f"CREATE DATABASE {name}"))
    engine.dispose()
    return server.rsplit("/", 1)[0] + f"/{name}"


@pytest.fixture(scope="module")
def course(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example course with a second assignment (the same notebook, renamed)."""
    root = example_course(tmp_path_factory.mktemp("pg") / "course")
    other = root / "solutions" / "01_other" / "other.ipynb"
    other.parent.mkdir(parents=True)
    shutil.copy(root / "solutions" / "00_example" / "example.ipynb", other)
    return root


def _sources(course: Path) -> dict[tuple[str, str], Path]:
    return {("00_example", "example"): course / "solutions" / "00_example" / "example.ipynb",
            ("01_other", "other"): course / "solutions" / "01_other" / "other.ipynb"}


def _result(student: str, assignment: str, points: float, status: str = OK, reason: str = "") -> SubmissionResult:
    notebook = {"00_example": "example", "01_other": "other"}[assignment]
    question = QuestionResult("test_relu", points, 2, PASSED if points else FAILED)
    return SubmissionResult(student, assignment, notebook, points, 2, status, reason, (question,))


def _content(url: str) -> list[tuple]:
    """Every grade in the gradebook with its student, assignment, notebook, cell and flag, and
    our status rows."""
    engine = create_engine(url)
    with engine.connect() as connection:
        grades = connection.execute(text(
            "SELECT student.id, assignment.name, notebook.name, base_cell.name, grade.auto_score, "
            "submitted_notebook.flagged FROM grade "
            "JOIN submitted_notebook ON grade.notebook_id = submitted_notebook.id "
            "JOIN submitted_assignment ON submitted_notebook.assignment_id = submitted_assignment.id "
            "JOIN assignment ON submitted_assignment.assignment_id = assignment.id "
            "JOIN student ON submitted_assignment.student_id = student.id "
            "JOIN notebook ON submitted_notebook.notebook_id = notebook.id "
            "JOIN base_cell ON grade.cell_id = base_cell.id")).fetchall()
        status = connection.execute(text("SELECT * FROM backprop_lab_status")).fetchall()
    engine.dispose()
    return sorted(tuple(row) for row in grades) + sorted(tuple(row) for row in status)


def test_regrading_replaces_one_assignment_idempotently(server: str, course: Path) -> None:
    """Does writing the same results again leave the same gradebook, and does re-grading one
    assignment (a student gone) replace only that assignment's rows?"""
    url = _database(server, "regrading")
    first = [_result("ann", "00_example", 2), _result("bob", "00_example", 0, INVALID, "bad JSON")]
    write_server_gradebook(url, ["00_example"], first, _sources(course))
    write_server_gradebook(url, ["01_other"], [_result("ann", "01_other", 2)], _sources(course))
    once = _content(url)
    assert ("bob", "00_example", "example", "test_relu", 0.0, True) in once
    assert ("bob", "00_example", "example", "invalid", "bad JSON") in once
    write_server_gradebook(url, ["00_example"], first, _sources(course))
    assert _content(url) == once
    write_server_gradebook(url, ["00_example"], [_result("ann", "00_example", 0)], _sources(course))
    assert _content(url) == [
        ("ann", "00_example", "example", "test_relu", 0.0, False),
        ("ann", "01_other", "other", "test_relu", 2.0, False),
        ("ann", "00_example", "example", OK, ""), ("ann", "01_other", "other", OK, "")]


def test_a_write_that_fails_half_way_changes_nothing(server: str, course: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """Is a batch's gradebook write one transaction: after a failure part-way, are the old
    grades all still there?"""
    url = _database(server, "halfway")
    write_server_gradebook(url, ["00_example"], [_result("ann", "00_example", 2)], _sources(course))
    before = _content(url)
    real_fill = gradebook_server.fill_gradebook

    def fill_then_fail(gb, results, sources) -> None:
        real_fill(gb, results, sources)
        raise RuntimeError("the disk of the database server filled up")

    monkeypatch.setattr(gradebook_server, "fill_gradebook", fill_then_fail)
    with pytest.raises(RuntimeError, match="filled up"):
        write_server_gradebook(url, ["00_example"], [_result("bob", "00_example", 0)], _sources(course))
    assert _content(url) == before


WRITER = """
import sys, time
from pathlib import Path
from autograder.engine.results import OK, PASSED, QuestionResult, SubmissionResult
from autograder.gradebook_server import write_server_gradebook
url, assignment, notebook, source, students, go = sys.argv[1:]
results = [SubmissionResult(f"s{i:03d}", assignment, notebook, 2.0, 2.0, OK, "",
                            (QuestionResult("test_relu", 2.0, 2.0, PASSED),))
           for i in range(int(students))]
Path(go + "." + assignment).touch()
while not Path(go).exists():
    time.sleep(0.01)
write_server_gradebook(url, [assignment], results, {(assignment, notebook): Path(source)})
"""


def test_two_instructors_grading_at_once_lose_nothing(server: str, course: Path, tmp_path: Path) -> None:
    """Do two processes writing different assignments into one new database at the same moment
    both end up complete (schema set-up and shared student rows included)?"""
    url = _database(server, "together")
    students, go = 40, tmp_path / "go"
    writers = [subprocess.Popen([sys.executable, "-c", WRITER, url, assignment, notebook,
                                 str(_sources(course)[(assignment, notebook)]), str(students), str(go)],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
               for assignment, notebook in (("00_example", "example"), ("01_other", "other"))]
    deadline = time.monotonic() + 120
    while not all(Path(f"{go}.{a}").exists() for a in ("00_example", "01_other")):
        assert time.monotonic() < deadline and all(w.poll() is None for w in writers), \
            [w.communicate() for w in writers]
        time.sleep(0.05)
    go.touch()
    for writer in writers:
        _, stderr = writer.communicate(timeout=300)
        assert writer.returncode == 0, stderr[-3000:]
    content = _content(url)
    for assignment, notebook in (("00_example", "example"), ("01_other", "other")):
        assert [row[0] for row in content if len(row) == 6 and row[1] == assignment] == \
            [f"s{i:03d}" for i in range(students)]
        assert sum(1 for row in content if len(row) == 5 and row[1] == assignment) == students


def test_grade_writes_to_postgres_and_nbgrader_reads_it_there(server: str, course: Path,
                                                            tmp_path: Path) -> None:
    """Does `grade --db URL` put the class in the server's gradebook (not OUT/gradebook.db),
    where nbgrader (configured as formgrader is, by BACKPROP_LAB_DB_URL) exports it?"""
    url = _database(server, "cli")
    release(course / "solutions", course / "notebooks")
    released = nbformat.read(course / "notebooks" / "00_example" / "example.ipynb", as_version=4)
    good = solved(released)
    for student, nb in (("ann", good), ("bob", released)):
        path = tmp_path / "submissions" / student / "00_example" / "example.ipynb"
        path.parent.mkdir(parents=True)
        nbformat.write(nb, path)
    path.write_text("{not json")
    out = tmp_path / "out"
    assert main(["grade", "00_example", "--submissions", str(tmp_path / "submissions"), "--out", str(out),
                 "--source", str(course / "solutions"), "--db", url, "--jobs", "2", "--quiet"]) == 0
    assert not (out / "gradebook.db").exists()
    assert [(r["student_id"], r["score"]) for r in read_csv(out / "grades.csv")] == [("ann", "2"), ("bob", "0")]
    export = tmp_path / "export.csv"
    env = dict(_nbgrader_env(), BACKPROP_LAB_DB_URL=url, BACKPROP_LAB_COURSE_ROOT=str(out))
    proc = subprocess.run(
        [sys.executable, "-m", "nbgrader", "export", f"--to={export}", "--log-level=WARN",
         "--exporter=autograder.gradebook.StatusCsvExportPlugin"],
        cwd=NBGRADER_CONFIG.parent, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    rows = {r["student_id"]: r for r in read_csv(export) if r["assignment"] == "00_example"}
    assert (rows["ann"]["score"], rows["ann"]["status"]) == ("2.0", OK)
    assert (rows["bob"]["score"], rows["bob"]["status"]) == ("0.0", INVALID)
    assert "malformed JSON" in rows["bob"]["reason"]


def test_a_db_that_cannot_be_used_is_refused_before_grading(server: str, tmp_path: Path) -> None:
    """Are a non-PostgreSQL URL and a server nobody answers refused with the reason, before
    a single submission is graded?"""
    with pytest.raises(GradingError, match="takes a PostgreSQL URL"):
        gradebook_server.check_url(f"sqlite:///{tmp_path / 'x.db'}")
    nobody = f"postgresql+psycopg://postgres:secret@127.0.0.1:{free_port()}/gradebook"
    with pytest.raises(GradingError, match=r"cannot use the gradebook database postgresql\+psycopg://postgres:\*\*\*@") as err:
        gradebook_server.check_url(nobody)
    assert "secret" not in str(err.value)
