"""``python -m autograder demo``: release, build a sample class, grade it, print the gradebook.

The class is made from the solutions of every assignment present:

* ``correct`` and ``blank`` submit every assignment (full marks; nothing);
* one student per planted mistake (:mod:`autograder.mistakes`) submits that assignment: it
  loses the points of the tests that mistake breaks, and its test names the mistake's diagnosis;
* the ``case-*`` students submit the first assignment broken or cheating in every way the
  grader must survive (:mod:`autograder.demo_cases.cases`).

Each submission's expected status and score are predicted from the source notebook alone
(points, and which tests use which functions); the demo prints the gradebook beside them and
fails if any differs.
"""

from __future__ import annotations

import re
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from . import NOTEBOOKS_DIR, SOLUTIONS_DIR
from .batch import Limits, grade_assignments, source_notebooks
from .demo_cases import Anatomy, student_version
from .demo_cases.cases import Sample, bad_submissions
from .mistakes import load_mistakes, plant
from .release import assignments as list_assignments
from .release import release
from .report import text_table
from .results import FAILED, OK, SubmissionResult

MARKER = ".backprop-lab-demo"
DEFAULT_TIMEOUT = 20.0


class DemoError(RuntimeError):
    """The demo cannot run (no assignments, output folder not ours); says why."""


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:40].rstrip("-")


def class_samples(anatomy: Anatomy, *, with_cases: bool, source_path: Path, escape_dir: Path,
                  isolated: bool) -> list[Sample]:
    """The sample submissions of one notebook."""
    import nbformat

    a, stem = anatomy, Path(anatomy.name).stem
    samples = [
        Sample("correct", a.assignment, stem, a.name, nbformat.writes(a.correct), OK, a.max_score,
               "every answer right"),
        Sample("blank", a.assignment, stem, a.name, nbformat.writes(a.release), OK, 0.0,
               "the released notebook, untouched"),
    ]
    prefix = a.assignment.split("_")[0]
    for mistake in load_mistakes(a.assignment):
        if mistake.cell not in a.answer_defs:
            continue  # a mistake for another notebook of this assignment
        planted = student_version(plant(a.solution, mistake), a.release)
        samples.append(Sample(
            f"mistake-{prefix}-{_slug(mistake.name)}", a.assignment, stem, a.name,
            nbformat.writes(planted), OK, a.score_without({mistake.cell}),
            f"planted mistake: {mistake.description}", diagnosis=(mistake.test, mistake.diagnosis)))
    if with_cases:
        samples += bad_submissions(a, source_path=source_path, escape_dir=escape_dir, isolated=isolated)
    return samples


def write_samples(samples: list[Sample], submissions_dir: Path) -> None:
    """Save each sample in nbgrader's layout, ``<student>/<assignment>/<file>``."""
    for sample in samples:
        path = submissions_dir / sample.student_id / sample.assignment / sample.filename
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(sample.text, encoding="utf-8")


@dataclass(frozen=True)
class Row:
    """One sample submission: what it should get and what it got."""

    sample: Sample
    result: SubmissionResult | None
    problems: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.problems


def compare(sample: Sample, result: SubmissionResult | None) -> Row:
    """Check one graded sample against its expectation."""
    problems = []
    if result is None:
        problems.append("not graded")
    else:
        if result.status != sample.status:
            problems.append(f"status {result.status}, expected {sample.status}")
        if abs(result.score - sample.score) > 1e-9:
            problems.append(f"score {result.score:g}, expected {sample.score:g}")
        if sample.diagnosis:
            test, word = sample.diagnosis
            question = next((q for q in result.questions if q.grade_id == test), None)
            if question is None or question.status != FAILED or question.diagnosis != word:
                got = f"{question.status} [{question.diagnosis}]" if question else "missing"
                problems.append(f"{test}: {got}, expected failed [{word}]")
    for path in sample.must_not_exist:
        if Path(path).exists():
            problems.append(f"wrote {path} outside its folder")
    return Row(sample, result, tuple(problems))


@dataclass
class DemoOutcome:
    """The graded sample class."""

    rows: list[Row]
    results: list[SubmissionResult]
    out_dir: Path
    seconds: float
    isolated: bool
    assignments: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(row.ok for row in self.rows)

    def text(self) -> str:
        header = ("student", "assignment", "score", "expected", "status", "", "what it is")
        table = [header]
        for row in self.rows:
            s, r = row.sample, row.result
            table.append((s.student_id, s.assignment, f"{r.score:g}/{r.max_score:g}" if r else "-",
                          f"{s.score:g}", r.status if r else "-", "ok" if row.ok else "MISMATCH",
                          s.description[:70]))
        widths = [max(len(t[i]) for t in table) for i in range(len(header))]
        lines = ["  ".join(c.ljust(w) for c, w in zip(t, widths)).rstrip() for t in table]
        lines.insert(1, "  ".join("-" * w for w in widths))
        bad = [row for row in self.rows if not row.ok]
        lines += [""] + [f"MISMATCH {row.sample.student_id} ({row.sample.assignment}): "
                         + "; ".join(row.problems) for row in bad]
        lines += ["", text_table(self.results), ""]
        if not self.isolated:
            lines.append("NOTE: bubblewrap is not available, so student code ran with resource limits "
                         "only (reading the solutions was not stopped). Install bubblewrap for isolation.")
        verdict = ("every submission got its expected grade" if self.ok
                   else f"{len(bad)} submission(s) did NOT get their expected grade")
        lines.append(f"Demo: {len(self.rows)} submissions of {len(self.assignments)} assignment(s) "
                     f"graded in {self.seconds:.1f} s; {verdict}.")
        out = self.out_dir
        lines.append(f"gradebook: {out / 'grades.csv'}  report: {out / 'report.html'}  "
                     f"feedback: {out / 'feedback'}/")
        return "\n".join(lines)


def _prepare(out_dir: Path) -> None:
    if out_dir.exists() and any(out_dir.iterdir()):
        if not (out_dir / MARKER).exists():
            raise DemoError(f"{out_dir} exists and was not made by the demo; choose another --out")
        shutil.rmtree(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / MARKER).write_text("made by `python -m autograder demo`; deleted by the next run\n")


def _isolated(sandbox: str) -> bool:
    from .sandbox import BWRAP, resolve

    return resolve(sandbox)[0] == BWRAP


def run_demo(out_dir: Path, *, solutions_dir: Path = SOLUTIONS_DIR,
             notebooks_dir: Path = NOTEBOOKS_DIR, workers: int | None = None,
             timeout: float | None = None, progress: bool = True, sandbox: str = "auto",
             release_first: bool = True) -> DemoOutcome:
    """Release, build the sample class in ``out_dir/submissions``, grade it into ``out_dir``."""
    started = time.perf_counter()
    names = release(solutions_dir, notebooks_dir) if release_first else list_assignments(solutions_dir)
    if not names:
        raise DemoError(f"no assignments in {solutions_dir}: nothing to demonstrate")
    out_dir = out_dir.resolve()
    _prepare(out_dir)
    isolated = _isolated(sandbox)
    escape_dir = out_dir / "escape-check"
    escape_dir.mkdir()
    samples: list[Sample] = []
    for assignment in names:
        for source in source_notebooks(assignment, solutions_dir):
            anatomy = Anatomy.read(assignment, source, notebooks_dir / assignment / source.name)
            samples += class_samples(anatomy, with_cases=not samples, source_path=source,
                                     escape_dir=escape_dir, isolated=isolated)
    submissions = out_dir / "submissions"
    write_samples(samples, submissions)
    results = grade_assignments(
        names, submissions, out_dir, source_dir=solutions_dir, workers=workers, progress=progress,
        limits=Limits(timeout=timeout or DEFAULT_TIMEOUT, sandbox=sandbox))
    found = {(r.student_id, r.assignment, r.notebook): r for r in results}
    rows = [compare(s, found.get((s.student_id, s.assignment, s.notebook))) for s in samples]
    return DemoOutcome(rows, results, out_dir, time.perf_counter() - started, isolated, names)
