"""The record of grades: results files, ``grades.csv`` and an nbgrader gradebook.

A batch saves its :class:`~autograder.engine.results.SubmissionResult` list as
``OUT/results/<assignment>.json``; ``grades.csv`` and ``gradebook.db`` are rebuilt from all
results files of ``OUT`` each time, so re-grading one assignment replaces its rows and keeps
the others'. ``gradebook.db`` is a regular nbgrader gradebook (``nbgrader export`` and
formgrader read it, with ``OUT`` as the course root); a failed submission is ``flagged`` there
and its status and reason are kept in a side table that :class:`StatusCsvExportPlugin` adds
to nbgrader's CSV export::

    nbgrader export --db=sqlite:///OUT/gradebook.db \\
        --exporter=autograder.gradebook.StatusCsvExportPlugin --to=export.csv

Written answers (manually graded cells) enter the gradebook as ``needs_manual_grade`` with no
score, so formgrader's Manual Grading lists them. A TA's score there (and comment) is read back
whenever the grade files are rebuilt, and kept as long as the student's answer is unchanged
(its sha256 is kept in a side table); ``grades.csv`` then shows it in place of
``needs manual grading``.
"""

from __future__ import annotations

import csv
import json
import sqlite3
import warnings
from dataclasses import asdict
from pathlib import Path

import nbformat

from .engine.untrusted import clean_tree
from .outdir import atomic_path, atomic_write_text
from .engine.results import GRADED_BY_HAND, NEEDS_MANUAL, OK, QuestionResult, SubmissionResult

CSV_FIELDS = ("student_id", "assignment", "notebook", "score", "max_score", "pending", "status",
              "reason")
STATUS_TABLE = "backprop_lab_status"
WRITTEN_TABLE = "backprop_lab_written"
PENDING_CELL = NEEDS_MANUAL        # a written answer's column in grades.csv until a TA grades it


def results_path(out_dir: Path, assignment: str) -> Path:
    return out_dir / "results" / f"{assignment}.json"


def save_results(out_dir: Path, assignment: str, results: list[SubmissionResult],
                 sources: list[Path]) -> Path:
    """Write one assignment's results (and which source notebooks graded them)."""
    path = results_path(out_dir, assignment)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "assignment": assignment,
        "sources": {source.stem: str(source) for source in sources},
        "results": [asdict(result) for result in results],
    }
    return atomic_write_text(path, json.dumps(payload, indent=1) + "\n")


def result_from_dict(data: dict) -> SubmissionResult:
    questions = tuple(QuestionResult(**q) for q in data.get("questions", ()))
    return SubmissionResult(**{**data, "questions": questions})


def load_results(out_dir: Path) -> tuple[list[SubmissionResult], dict[tuple[str, str], Path]]:
    """All results saved in ``out_dir`` (sorted by assignment, student, notebook) and the
    source notebook of each (assignment, notebook)."""
    results, sources = [], {}
    for path in sorted((out_dir / "results").glob("*.json")):
        payload = clean_tree(json.loads(path.read_text(encoding="utf-8")))   # older runs stored raw text
        assignment = payload["assignment"]
        results += [result_from_dict(r) for r in payload["results"]]
        sources.update({(assignment, name): Path(p) for name, p in payload["sources"].items()})
    results.sort(key=lambda r: (r.assignment, r.student_id, r.notebook))
    return results, sources


def question_columns(results: list[SubmissionResult]) -> list[str]:
    """Per-question CSV columns, ``<notebook>:<grade_id>``, in notebook order."""
    columns: dict[str, None] = {}
    for result in results:
        for question in result.questions:
            columns.setdefault(f"{result.notebook}:{question.grade_id}")
    return list(columns)


def _cell_value(q: QuestionResult) -> str:
    return PENDING_CELL if q.status == NEEDS_MANUAL else f"{q.points:g}"


def write_csv(results: list[SubmissionResult], path: Path) -> Path:
    """``grades.csv``: one row per student and notebook; a submission that could not be graded
    keeps its status and reason beside its 0. ``score`` counts the points given so far,
    ``pending`` the points of written answers a TA has not graded yet (their question columns
    read ``needs manual grading``)."""
    columns = question_columns(results)
    with atomic_path(path) as temporary, temporary.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow([*CSV_FIELDS, *columns])
        for r in results:
            points = {f"{r.notebook}:{q.grade_id}": _cell_value(q) for q in r.questions}
            writer.writerow([r.student_id, r.assignment, r.notebook, f"{r.score:g}",
                             f"{r.max_score:g}", f"{r.pending:g}", r.status, r.reason,
                             *(points.get(column, "") for column in columns)])
    return path


ManualKey = tuple[str, str, str, str]        # (student_id, assignment, notebook, grade_id)


def manual_grades(db_path: Path) -> dict[ManualKey, tuple[float, str, str]]:
    """A TA's grades of written answers in a gradebook we wrote: key -> (score, comment,
    sha256 of the answer graded). Empty when there is no such gradebook."""
    if not db_path.is_file():
        return {}
    with sqlite3.connect(f"file:{db_path}?mode=ro", uri=True) as db:
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if WRITTEN_TABLE not in tables:
            return {}
        digests = {tuple(row[:4]): row[4] for row in db.execute(f"SELECT * FROM {WRITTEN_TABLE}")}
        query = """SELECT st.id, a.name, n.name, c.name, {value}
                   FROM {table} g JOIN submitted_notebook sn ON g.notebook_id = sn.id
                   JOIN notebook n ON sn.notebook_id = n.id
                   JOIN submitted_assignment sa ON sn.assignment_id = sa.id
                   JOIN assignment a ON sa.assignment_id = a.id JOIN student st ON sa.student_id = st.id
                   JOIN base_cell c ON g.cell_id = c.id WHERE {value} IS NOT NULL"""
        scores = {tuple(row[:4]): row[4] for row in db.execute(query.format(value="g.manual_score", table="grade"))}
        comments = {tuple(row[:4]): row[4] for row in
                    db.execute(query.format(value="g.manual_comment", table="comment"))}
    return {key: (float(score), comments.get(key, ""), digests[key])
            for key, score in scores.items() if key in digests}


def with_manual_grades(results: list[SubmissionResult],
                       manual: dict[ManualKey, tuple[float, str, str]]) -> list[SubmissionResult]:
    """``results`` with a TA's grade in place of each written answer it was given for (while
    the answer is the one the TA graded): status ``graded by hand``, the score counted."""
    from dataclasses import replace

    updated = []
    for r in results:
        questions, gained = [], 0.0
        for q in r.questions:
            found = manual.get((r.student_id, r.assignment, r.notebook, q.grade_id))
            if found and q.answer_sha256 and found[2] == q.answer_sha256 and q.status != GRADED_BY_HAND:
                score, comment, _ = found
                gained += score - q.points
                q = replace(q, points=score, status=GRADED_BY_HAND,
                            message="graded by hand" + (f": {comment}" if comment else ""))
            questions.append(q)
        updated.append(replace(r, score=r.score + gained, questions=tuple(questions)))
    return updated


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _save_cells(gb, assignment: str, source: Path) -> None:
    """Register a source notebook's cells like nbgrader's ``SaveCells`` does."""
    from nbgrader import utils as nbutils

    notebook = source.stem
    gb.update_or_create_notebook(notebook, assignment)
    for cell in nbformat.read(source, as_version=4).cells:
        meta = cell.metadata.get("nbgrader", {})
        grade_id = meta.get("grade_id")
        if not grade_id:
            continue
        if meta.get("grade"):
            gb.update_or_create_grade_cell(grade_id, notebook, assignment,
                                           max_score=float(meta.get("points", 0)),
                                           cell_type=cell.cell_type)
        if meta.get("solution"):
            gb.update_or_create_solution_cell(grade_id, notebook, assignment)
        if meta.get("grade") or meta.get("solution") or meta.get("locked"):
            gb.update_or_create_source_cell(grade_id, notebook, assignment,
                                            cell_type=cell.cell_type, locked=bool(meta.get("locked")),
                                            source=cell.source, checksum=nbutils.compute_checksum(cell))


COURSE_ID = "backprop-lab"  # as in nbgrader_config.py


def _stamp(path: Path) -> None:
    """Create an empty gradebook stamped with nbgrader's schema version, as nbgrader does on
    first use, but asking alembic in-process (nbgrader runs the ``alembic`` command, which
    costs seconds and must be on PATH)."""
    import nbgrader
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(Path(nbgrader.__file__).parent / "alembic"))
    head = ScriptDirectory.from_config(config).get_current_head()
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)")
        db.execute("INSERT INTO alembic_version (version_num) VALUES (?)", (head,))


def _no_fsync(gb) -> None:
    """nbgrader commits after every row; on a file built aside and renamed into place at the
    end, waiting for the disk at each commit buys nothing (it cost most of the time)."""
    from sqlalchemy import event, text

    def pragmas(connection, _record) -> None:
        connection.execute("PRAGMA synchronous=OFF")
        connection.execute("PRAGMA journal_mode=MEMORY")

    event.listen(gb.engine, "connect", pragmas)
    gb.db.execute(text("PRAGMA synchronous=OFF"))
    gb.db.execute(text("PRAGMA journal_mode=MEMORY"))


def fill_gradebook(gb, results: list[SubmissionResult], sources: dict[tuple[str, str], Path]) -> None:
    """Add ``results`` (and the cells of their source notebooks) to the open nbgrader
    gradebook ``gb``, whose assignments hold no submissions yet."""
    notebooks = sorted(set(sources) | {(r.assignment, r.notebook) for r in results})
    for assignment in sorted({a for a, _ in notebooks}):
        gb.update_or_create_assignment(assignment)
    for assignment, notebook in notebooks:
        source = sources.get((assignment, notebook))
        if source is not None and source.is_file():
            _save_cells(gb, assignment, source)
            continue
        gb.update_or_create_notebook(notebook, assignment)   # source gone: cells from results
        for r in results:
            if (r.assignment, r.notebook) == (assignment, notebook):
                for q in r.questions:
                    gb.update_or_create_grade_cell(q.grade_id, notebook, assignment,
                                                   max_score=q.max_points, cell_type="code")
    for student in sorted({r.student_id for r in results}):
        gb.update_or_create_student(student)
    for assignment, student in sorted({(r.assignment, r.student_id) for r in results}):
        gb.add_submission(assignment, student)
    for r in results:
        submitted = gb.find_submission_notebook(r.notebook, r.assignment, r.student_id)
        submitted.flagged = r.status != OK
        for q in r.questions:
            try:
                grade = gb.find_grade(q.grade_id, r.notebook, r.assignment, r.student_id)
            except Exception:  # a question the source no longer has
                continue
            if q.status == NEEDS_MANUAL:             # for a TA, in formgrader's Manual Grading
                grade.auto_score, grade.needs_manual_grade = None, True
            elif q.status == GRADED_BY_HAND:
                grade.auto_score, grade.manual_score, grade.needs_manual_grade = None, q.points, False
                comment = q.message.partition(": ")[2]
                if comment:
                    try:
                        gb.find_comment(q.grade_id, r.notebook, r.assignment,
                                        r.student_id).manual_comment = comment
                    except Exception:
                        pass
            else:
                grade.auto_score = q.points
                grade.needs_manual_grade = False


def write_gradebook(results: list[SubmissionResult], sources: dict[tuple[str, str], Path],
                    path: Path) -> Path:
    """Build ``path`` afresh as an nbgrader gradebook holding ``results``."""
    from nbgrader.api import Gradebook

    building = path.with_name(path.name + ".building")
    building.unlink(missing_ok=True)
    _stamp(building)
    with warnings.catch_warnings(), Gradebook(f"sqlite:///{building}", course_id=COURSE_ID) as gb:
        # nbgrader's add_submission trips SQLAlchemy's autoflush warnings; they are harmless
        warnings.simplefilter("ignore", category=Warning)
        _no_fsync(gb)
        fill_gradebook(gb, results, sources)
        gb.db.commit()
    with sqlite3.connect(building) as db:
        db.execute(f"CREATE TABLE {STATUS_TABLE} (student_id TEXT, assignment TEXT, notebook TEXT, "
                   "status TEXT, reason TEXT, PRIMARY KEY (student_id, assignment, notebook))")
        db.executemany(f"INSERT INTO {STATUS_TABLE} VALUES (?, ?, ?, ?, ?)",
                       [(r.student_id, r.assignment, r.notebook, r.status, r.reason) for r in results])
        db.execute(f"CREATE TABLE {WRITTEN_TABLE} (student_id TEXT, assignment TEXT, notebook TEXT, "
                   "grade_id TEXT, answer_sha256 TEXT, PRIMARY KEY (student_id, assignment, notebook, grade_id))")
        db.executemany(f"INSERT INTO {WRITTEN_TABLE} VALUES (?, ?, ?, ?, ?)",
                       [(r.student_id, r.assignment, r.notebook, q.grade_id, q.answer_sha256)
                        for r in results for q in r.questions if q.answer_sha256])
    building.replace(path)
    return path


def write_grade_files(out_dir: Path, manual_from: Path | None = None,
                      with_gradebook: bool = True) -> tuple[Path, Path | None]:
    """Rebuild ``grades.csv`` and (unless the gradebook lives on a server) ``gradebook.db`` from
    every results file in ``out_dir``, keeping the grades a TA gave written answers in the
    gradebook ``manual_from`` (default: ``out_dir``'s own; a batch staged aside names the one in
    place; see :func:`manual_grades`)."""
    results, sources = load_results(out_dir)
    results = with_manual_grades(results, manual_grades(manual_from or out_dir / "gradebook.db"))
    csv_path = write_csv(results, out_dir / "grades.csv")
    if not with_gradebook:
        return csv_path, None
    db_path = write_gradebook(results, sources, out_dir / "gradebook.db")
    return csv_path, db_path


def statuses(gradebook) -> dict[tuple[str, str], list[tuple[str, str, str]]]:
    """(assignment, student) -> [(notebook, status, reason)] from an open nbgrader
    ``Gradebook`` we wrote (empty for any other gradebook)."""
    from sqlalchemy import inspect, text

    found: dict[tuple[str, str], list[tuple[str, str, str]]] = {}
    if STATUS_TABLE not in inspect(gradebook.engine).get_table_names():
        return found
    rows = gradebook.db.execute(text(f"SELECT student_id, assignment, notebook, status, reason "
                                     f"FROM {STATUS_TABLE} ORDER BY notebook"))
    for student, assignment, notebook, status, reason in rows:
        found.setdefault((assignment, student), []).append((notebook, status, reason))
    return found


def _export_plugin_base():
    from nbgrader.plugins.export import CsvExportPlugin

    return CsvExportPlugin


class StatusCsvExportPlugin(_export_plugin_base()):
    """nbgrader's CSV export plus ``status`` and ``reason`` columns: a submission the
    autograder could not grade says why instead of showing a bare 0."""

    def export(self, gradebook) -> None:
        super().export(gradebook)
        dest = Path(self.to or "grades.csv")
        known = statuses(gradebook)
        with dest.open(newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
        fields = list(rows[0].keys()) if rows else []
        with dest.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=[*fields, "status", "reason"])
            writer.writeheader()
            for row in rows:
                entries = known.get((row["assignment"], row["student_id"]), [])
                if not entries:
                    status, reason = ("missing", "no submission") if not row["timestamp"] else (OK, "")
                else:
                    worst = [e for e in entries if e[1] != OK]
                    status = worst[0][1] if worst else OK
                    reason = "; ".join(f"{nb}: {r}" for nb, s, r in worst if r)
                writer.writerow({**row, "status": status, "reason": reason})
