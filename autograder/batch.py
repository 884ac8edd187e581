"""Grade a class: every student's submission of one assignment, in parallel, into one folder.

Submissions use nbgrader's layout, ``SUBMISSIONS/<student_id>/<assignment>/<notebook>.ipynb``;
every folder of ``SUBMISSIONS`` holding an ``<assignment>`` folder is a student. Each
submission is graded by :func:`autograder.engine.submission.grade_submission` (sandboxed run, judged in
a clean process) in a pool of worker processes forked after the heavy imports, so start-up is
paid once per batch, not once per student. The output folder gets::

    OUT/results/<assignment>.json             every SubmissionResult (the record the rest is made from)
    OUT/grades.csv                            one row per student and notebook (all assignments)
    OUT/gradebook.db                          the same grades in an nbgrader gradebook
    OUT/autograded/<student>/<assignment>/    graded notebooks (nbgrader's layout, for formgrader)
    OUT/feedback/<student>/<assignment>/      one HTML page per notebook
    OUT/report.html, OUT/report.png           which mistakes the class made, per question

Grading again replaces everything this assignment produced before (stale grades, feedback and
graded notebooks of students who are gone), and the same submissions give the same gradebook:
each student's hidden-test seed is derived from (assignment, student).

``OUT`` is crash-safe (:mod:`autograder.outdir`): a batch holds an exclusive lock on it (a
second run is refused), writes everything into ``OUT/.staging`` and moves it into place only
once it is complete, so an interrupted run leaves the old results or the new ones, never a mix.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import stat
import sys
import tempfile
import threading
import time
import traceback
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, replace
from pathlib import Path

import nbformat

from . import SOLUTIONS_DIR
from .feedback import write_feedback
from .gradebook import save_results, write_grade_files
from .engine.cleanup import remove_tree
from .engine.untrusted import clean_text
from .outdir import OutBusy, Staging, locked
from .progress import TimeLeft, format_seconds, round_robin
from .report import write_report
from .engine.results import ERROR, INVALID, MISSING, NOT_RUN, STATUSES, QuestionResult, SubmissionResult


class GradingError(ValueError):
    """The batch cannot start (unknown assignment, missing folder, bad option); says why."""


@dataclass(frozen=True)
class Job:
    """One student's notebook to grade, and where its outputs go."""

    student_id: str
    assignment: str
    source: Path
    submission: Path
    seed: int
    autograded_path: Path
    feedback_path: Path


@dataclass(frozen=True)
class Limits:
    """Limits passed to the engine: ``timeout`` per cell or test (the whole notebook gets a
    multiple), ``memory_mb`` for the student's process, and which ``sandbox``."""

    timeout: float = 30.0
    memory_mb: int = 1024
    sandbox: str = "auto"


def seed_for(assignment: str, student_id: str) -> int:
    """The hidden-test seed of one student's assignment: fixed, so re-grading is reproducible,
    and different per student, so one student's hidden inputs tell another nothing."""
    digest = hashlib.sha256(f"backprop-lab/{assignment}/{student_id}".encode()).digest()
    return int.from_bytes(digest[:4], "little")


def source_notebooks(assignment: str, source_dir: Path = SOLUTIONS_DIR) -> list[Path]:
    """The instructor notebooks of ``assignment``; raises :class:`GradingError` if there are none."""
    folder = source_dir / assignment
    found = sorted(folder.glob("*.ipynb")) if folder.is_dir() else []
    if not found:
        known = sorted(p.name for p in source_dir.iterdir() if p.is_dir()) if source_dir.is_dir() else []
        raise GradingError(f"no assignment {assignment!r} in {source_dir} "
                           f"(assignments there: {', '.join(known) or 'none'})")
    return found


def students(submissions_dir: Path, assignment: str) -> list[str]:
    """Student ids: folders of ``submissions_dir`` that hold an ``<assignment>`` folder."""
    if not submissions_dir.is_dir():
        raise GradingError(f"submissions folder {submissions_dir} does not exist")
    return sorted(p.name for p in submissions_dir.iterdir()
                  if p.is_dir() and not p.name.startswith(".") and (p / assignment).is_dir())


def not_regular(submission: Path) -> str:
    """Why ``SUBMISSIONS/<student>/<assignment>/<notebook>`` must not be read ("" when it is a
    regular file in real folders): a symbolic link anywhere on that path could point at the
    solutions or another student's notebook, a device or a pipe is no notebook."""
    for path, what in ((submission.parent.parent, "the student folder"),
                       (submission.parent, "the assignment folder"), (submission, "the notebook")):
        try:
            info = path.lstat()
        except OSError as err:
            return f"{what} {path.name} cannot be read ({err.strerror or err})"
        if stat.S_ISLNK(info.st_mode):
            return (f"{what} {clean_text(path.name)} is a symbolic link, which is not graded "
                    "(submit the notebook file itself)")
        wanted = stat.S_ISREG if path is submission else stat.S_ISDIR
        if not wanted(info.st_mode):
            return f"{what} {clean_text(path.name)} is not a regular {'file' if path is submission else 'folder'}"
    return ""


def empty_questions(source: Path) -> tuple[QuestionResult, ...]:
    """Every graded test cell of ``source``, not run and worth 0: for unreadable submissions."""
    nb = nbformat.read(source, as_version=4)
    questions = []
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("grade"):
            questions.append(QuestionResult(meta["grade_id"], 0.0, float(meta.get("points", 0)), NOT_RUN))
    return tuple(questions)


def ungraded(job: Job, status: str, reason: str) -> SubmissionResult:
    """A result of 0 points with ``status`` and ``reason`` (missing file, grader failure)."""
    questions = tuple(replace(q, message=reason) for q in empty_questions(job.source))
    return SubmissionResult(
        student_id=job.student_id, assignment=job.assignment, notebook=job.source.stem,
        score=0.0, max_score=sum(q.max_points for q in questions), status=status,
        reason=reason, questions=questions)


def _missing_reason(job: Job) -> str:
    others = sorted(p.name for p in job.submission.parent.glob("*.ipynb"))
    found = f" (found: {', '.join(others)})" if others else " (the folder is empty)"
    return f"no {job.submission.name} in {job.student_id}/{job.assignment}/{found}"


def grade_job(job: Job, limits: Limits) -> SubmissionResult:
    """Grade one notebook and write its feedback page; never raises (a grader failure becomes
    status ``error`` with the exception as reason)."""
    from .engine.submission import grade_submission

    started = time.perf_counter()
    refused = not_regular(job.submission)       # the folders first: never list through a link
    if refused.startswith("the notebook") and not os.path.lexists(job.submission):
        result = ungraded(job, MISSING, _missing_reason(job))
    elif refused:
        result = ungraded(job, INVALID, refused)
    else:
        job.autograded_path.parent.mkdir(parents=True, exist_ok=True)
        try:
            workdir = tempfile.mkdtemp(prefix="backprop-grade-")
            try:
                result = grade_submission(
                    job.source, job.submission, student_id=job.student_id,
                    assignment=job.assignment, workdir=Path(workdir), seed=job.seed,
                    timeout=limits.timeout, memory_mb=limits.memory_mb, sandbox=limits.sandbox,
                    autograded_path=job.autograded_path)
            finally:
                remove_tree(workdir)   # any depth, any permissions the student left
        except Exception as err:  # a grader bug must not stop the batch
            detail = traceback.format_exception_only(type(err), err)[-1].strip()
            result = ungraded(job, ERROR, f"the grader failed: {detail}")
        if result.status not in STATUSES:
            result = ungraded(job, ERROR, f"the grader returned an unknown status {result.status!r}")
    graded = job.autograded_path if job.autograded_path.is_file() else None
    try:
        write_feedback(result, job.feedback_path, source=job.source, graded=graded,
                       submission=None if refused else job.submission)   # never through a link
    except Exception as err:
        detail = traceback.format_exception_only(type(err), err)[-1].strip()
        result = replace(result, reason=(result.reason + "; " if result.reason else "")
                         + f"feedback not written: {detail}")
    return replace(result, seconds=round(time.perf_counter() - started, 3))


def plan(assignment: str, submissions_dir: Path, out_dir: Path,
         source_dir: Path = SOLUTIONS_DIR) -> list[Job]:
    """The jobs of one batch: every student times every notebook of the assignment."""
    sources = source_notebooks(assignment, source_dir)
    jobs = []
    for folder in students(submissions_dir, assignment):
        student_id = clean_text(folder)        # a folder name need not be valid UTF-8
        for source in sources:
            shown = Path(student_id) / assignment
            jobs.append(Job(
                student_id=student_id, assignment=assignment, source=source,
                submission=submissions_dir / folder / assignment / source.name,
                seed=seed_for(assignment, student_id),
                autograded_path=out_dir / "autograded" / shown / source.name,
                feedback_path=out_dir / "feedback" / shown / f"{source.stem}.html"))
    return jobs


def _preload() -> None:
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot  # noqa: F401
        import nbgrader.api  # noqa: F401
    except Exception:  # loading early is an optimisation only
        pass


def run_jobs(jobs: list[Job], limits: Limits, workers: int, progress: bool = True,
             label: str = "grading") -> list[SubmissionResult]:
    """Grade ``jobs`` on ``workers`` processes, with a progress bar; results in job order."""
    from tqdm import tqdm

    from .engine import submission  # noqa: F401  (imported before forking: workers start warm)

    results: dict[int, SubmissionResult] = {}

    time_left = TimeLeft([(job.assignment, job.source.name) for job in jobs],
                         1 if len(jobs) <= 1 else workers)

    def progress_bar():
        # the time left comes from TimeLeft (per-notebook costs), not from tqdm's rate
        return tqdm(total=len(jobs), desc=label, unit="nb", disable=not progress, file=sys.stderr,
                    dynamic_ncols=True,
                    bar_format="{desc}: {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} [{elapsed}{postfix}]")

    def done(bar, index: int) -> None:
        time_left.finished(index, results[index].seconds)
        bar.set_postfix_str(f"{format_seconds(time_left.seconds_left())}; "
                            f"{jobs[index].student_id}: {results[index].status}")
        bar.update()

    if workers <= 1 or len(jobs) <= 1:
        with progress_bar() as bar:
            for index, job in enumerate(jobs):
                results[index] = grade_job(job, limits)
                done(bar, index)
    else:
        # Fork the workers before any thread exists (tqdm's monitor, the pool's manager).
        context = multiprocessing.get_context("fork")
        with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
            futures = {pool.submit(grade_job, job, limits): index for index, job in enumerate(jobs)}
            # what the gradebook and the report need loads while the workers grade
            threading.Thread(target=_preload, daemon=True).start()
            with progress_bar() as bar:
                for future in as_completed(futures):
                    index = futures[future]
                    try:
                        results[index] = future.result()
                    except Exception as err:  # the worker process itself died
                        results[index] = ungraded(jobs[index], ERROR, f"grading worker failed: {err!r}")
                    done(bar, index)
    return [results[index] for index in range(len(jobs))]


def default_workers() -> int:
    """One worker per core this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def grade_assignments(
    assignments: list[str], submissions_dir: Path, out_dir: Path, *,
    source_dir: Path = SOLUTIONS_DIR, workers: int | None = None, limits: Limits = Limits(),
    progress: bool = True, scheduler: str | None = None, db: str | None = None,
) -> list[SubmissionResult]:
    """Grade every submission of each of ``assignments`` in one pool (in the order given) and
    (re)write all of ``out_dir``'s grade files, feedback and report. With ``scheduler`` (a Dask
    scheduler's address) the submissions are graded on that cluster (:mod:`autograder.cluster`);
    with ``db`` (an SQLAlchemy URL) the nbgrader gradebook is written to that database
    (:mod:`autograder.gradebook_server`) instead of ``OUT/gradebook.db``."""
    if limits.timeout <= 0:
        raise GradingError(f"--timeout must be positive seconds, got {limits.timeout}")
    if limits.memory_mb <= 0:
        raise GradingError(f"--memory must be positive megabytes, got {limits.memory_mb}")
    if workers is not None and workers < 1:
        raise GradingError(f"--jobs must be at least 1, got {workers}")
    if scheduler and workers is not None:
        raise GradingError("--jobs is for local grading; on a cluster, the workers' threads decide")
    from .engine.sandbox import SandboxError, resolve

    try:
        if not scheduler:                    # on a cluster, each worker checks its own
            resolve(limits.sandbox)
    except SandboxError as err:
        raise GradingError(str(err)) from None
    if db:
        from .gradebook_server import check_url
        check_url(db)
    for assignment in assignments:             # a bad batch is refused before OUT is touched
        source_notebooks(assignment, source_dir)
        students(submissions_dir, assignment)
    try:
        with locked(out_dir):
            return _grade_into(assignments, submissions_dir, out_dir, source_dir, workers, limits,
                               progress, scheduler, db)
    except OutBusy as err:
        raise GradingError(str(err)) from None


def _grade_into(assignments: list[str], submissions_dir: Path, out_dir: Path, source_dir: Path,
                workers: int | None, limits: Limits, progress: bool, scheduler: str | None = None,
                db: str | None = None) -> list[SubmissionResult]:
    """Grade into ``OUT/.staging`` and move the complete result into ``OUT`` at the end (an
    interrupted batch leaves ``OUT`` as it was); the caller holds the lock."""
    staging = Staging(out_dir)
    try:
        jobs = [job for assignment in assignments
                for job in plan(assignment, submissions_dir, staging.root, source_dir)]
        label = f"grading {assignments[0]}" if len(assignments) == 1 else "grading"
        if scheduler:
            from .cluster import run_on_cluster
            results = run_on_cluster(jobs, limits, scheduler, progress, label)
        else:
            # one notebook of each kind in turn, so that the time left is known after the first round
            order = round_robin(range(len(jobs)), kind=lambda i: (jobs[i].assignment, jobs[i].source.name))
            ran = run_jobs([jobs[i] for i in order], limits, workers or default_workers(), progress, label)
            results = [result for _, result in sorted(zip(order, ran), key=lambda pair: pair[0])]
        staging.keep_results(assignments)
        for assignment in assignments:
            save_results(staging.root, assignment,
                         [r for j, r in zip(jobs, results) if j.assignment == assignment],
                         source_notebooks(assignment, source_dir))
        write_grade_files(staging.root, manual_from=out_dir / "gradebook.db",   # keeps a TA's grades
                          with_gradebook=not db)
        if db:      # before the commit: a database that fails leaves OUT as it was too
            from .gradebook_server import write_server_gradebook
            write_server_gradebook(db, assignments, results, {
                (a, source.stem): source for a in assignments for source in source_notebooks(a, source_dir)})
        write_report(staging.root)
        staging.commit(assignments)
    finally:
        if not staging.committed:
            staging.abandon()
    return results


def grade_assignment(assignment: str, submissions_dir: Path, out_dir: Path, **options) -> list[SubmissionResult]:
    """Grade every submission of ``assignment``; see :func:`grade_assignments`."""
    return grade_assignments([assignment], submissions_dir, out_dir, **options)


def _cut(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def score_text(r: SubmissionResult) -> str:
    """``score/max``, and the points awaiting manual grading: ``3/5 (+2 pending)``."""
    return f"{r.score:g}/{r.max_score:g}" + (f" (+{r.pending:g} pending)" if r.pending else "")


def summary_table(results: list[SubmissionResult], seconds: float | None = None) -> str:
    """A plain-text table: one line per graded notebook, then counts by status."""
    header = ("student", "notebook", "score", "status", "reason")
    rows = [(r.student_id, r.notebook, score_text(r), r.status, _cut(r.reason, 60)) for r in results]
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(str(cell).ljust(width) for cell, width in zip(row, widths)).rstrip()
             for row in [header, tuple("-" * w for w in widths), *rows]]
    counts = {status: sum(r.status == status for r in results) for status in STATUSES}
    tally = ", ".join(f"{n} {status}" for status, n in counts.items() if n)
    total = f"{len(results)} notebook(s) graded"
    pending = [r for r in results if r.pending]
    if pending:
        tally += (f"; {len(pending)} with written answers that need manual grading "
                  f"({sum(r.pending for r in pending):g} points pending)")
    if seconds is not None:
        total += f" in {seconds:.1f} s"
    if results:
        mean = sum(r.score / r.max_score for r in results if r.max_score) / len(results)
        total += f": {tally}; mean score {100 * mean:.0f}%"
    return "\n".join([*lines, "", total])
