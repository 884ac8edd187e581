"""``python -m autograder demo``: release, build a sample class, grade it, print the gradebook.

The class is made from the solutions of every assignment present:

* ``correct`` and ``blank`` submit every assignment (full marks; nothing);
* one student per planted mistake (:mod:`autograder.mistakes`; up to four per assignment,
  spread over different tests, unless ``--all-mistakes``) submits that assignment: the
  mistake's test must fail with the mistake's diagnosis, and no test may fail that does not use
  the mistaken function (directly or through another function);
* the ``case-*`` students submit the first assignment broken or cheating in every way the
  grader must survive (:mod:`autograder.demo_cases.cases`).

Each submission's expected status, failing tests and score are predicted from the source
notebook alone (points, and which tests use which functions); the demo prints the gradebook
beside them and fails if any differs.
"""

from __future__ import annotations

import re
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from . import NOTEBOOKS_DIR, SOLUTIONS_DIR
from .batch import Limits, grade_assignments, score_text, source_notebooks
from .demo_cases import Anatomy, student_version
from .demo_cases.cases import Sample, bad_submissions, sample
from .mistakes import Mistake, load_mistakes, plant
from .release import assignments as list_assignments
from .release import release
from .report import text_table
from .engine.results import FAILED, NEEDS_MANUAL, NOT_RUN, OK, PASSED, SubmissionResult
from .engine.written import BLANK

MARKER = ".backprop-lab-demo"
DEFAULT_TIMEOUT = 30.0   # per cell, as for `grade`: a busy machine must not fail a slow correct cell
MISTAKES_PER_ASSIGNMENT = 4   # keeps the demo to a few minutes; --all-mistakes grades every one


class DemoError(RuntimeError):
    """The demo cannot run (no assignments, output folder not ours); says why."""


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:40].rstrip("-")


def pick_mistakes(mistakes: list[Mistake], limit: int | None) -> list[Mistake]:
    """At most ``limit`` mistakes (all when None), spread over as many tests as possible."""
    if limit is None or len(mistakes) <= limit:
        return mistakes
    first = list({m.test: m for m in reversed(mistakes)}.values())[::-1]
    rest = [m for m in mistakes if m not in first]
    chosen = (first + rest)[:limit]
    return [m for m in mistakes if m in chosen]


def class_samples(anatomy: Anatomy, *, with_cases: bool, source_path: Path, escape_dir: Path,
                  isolated: bool, max_mistakes: int | None = MISTAKES_PER_ASSIGNMENT) -> list[Sample]:
    """The sample submissions of one notebook."""
    import nbformat

    a = anatomy
    every = {t for t, _ in a.tests}
    samples = [
        sample(a, "correct", nbformat.writes(a.correct), OK, set(), set(), "every answer right"),
        sample(a, "blank", nbformat.writes(a.release), OK, every, set(), "the released notebook, untouched"),
    ]
    prefix = a.assignment.split("_")[0]
    mistakes = [m for m in load_mistakes(a.assignment) if m.cell in a.answer_defs]
    for mistake in pick_mistakes(mistakes, max_mistakes):
        planted = student_version(plant(a.solution, mistake), a.release)
        samples.append(sample(
            a, f"mistake-{prefix}-{_slug(mistake.name)}", nbformat.writes(planted), OK, {mistake.test},
            a.affected({mistake.cell}), f"planted mistake: {mistake.description}",
            diagnosis=(mistake.test, mistake.diagnosis)))
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


def compare(expected: Sample, result: SubmissionResult | None) -> Row:
    """Check one graded sample against its expectation."""
    problems = []
    if result is None:
        problems.append("not graded")
    else:
        if result.status != expected.status:
            problems.append(f"status {result.status}, expected {expected.status}")
        tests = [q for q in result.questions if q.grade_id not in expected.written]
        failed = {q.grade_id for q in tests if q.status != PASSED}
        for q in result.questions:
            if q.grade_id in expected.written and not (
                    q.status in (NEEDS_MANUAL, NOT_RUN) or (q.status == FAILED and q.diagnosis == BLANK)):
                problems.append(f"written answer {q.grade_id}: {q.status}, expected to await manual grading")
        if expected.must_fail - failed:
            problems.append("passed " + ", ".join(sorted(expected.must_fail - failed)) + ", expected to fail")
        if failed - expected.must_fail - expected.may_fail:
            problems.append("failed " + ", ".join(sorted(failed - expected.must_fail - expected.may_fail))
                            + ", expected to pass")
        low, high = expected.score_range
        if not low - 1e-9 <= result.score <= high + 1e-9:
            problems.append(f"score {result.score:g}, expected {_range(expected)}")
        if expected.diagnosis:
            test, word = expected.diagnosis
            question = next((q for q in result.questions if q.grade_id == test), None)
            if question is None or question.status != FAILED or question.diagnosis != word:
                got = f"{question.status} [{question.diagnosis}]" if question else "missing"
                problems.append(f"{test}: {got}, expected failed [{word}]")
    for path in expected.must_not_exist:
        if Path(path).exists():
            problems.append(f"wrote {path} outside its folder")
    return Row(expected, result, tuple(problems))


def _range(expected: Sample) -> str:
    low, high = expected.score_range
    return f"{high:g}" if low == high else f"{low:g}-{high:g}"


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
            table.append((s.student_id, s.assignment, score_text(r) if r else "-",
                          _range(s), r.status if r else "-", "ok" if row.ok else "MISMATCH",
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
    from .engine.sandbox import BWRAP, resolve

    return resolve(sandbox)[0] == BWRAP


def run_demo(out_dir: Path, *, solutions_dir: Path = SOLUTIONS_DIR,
             notebooks_dir: Path = NOTEBOOKS_DIR, workers: int | None = None,
             timeout: float | None = None, progress: bool = True, sandbox: str = "auto",
             release_first: bool = True,
             max_mistakes: int | None = MISTAKES_PER_ASSIGNMENT) -> DemoOutcome:
    """Release, build the sample class in ``out_dir/submissions``, grade it into ``out_dir``
    (against a copy of the solutions in ``out_dir/solutions``)."""
    started = time.perf_counter()
    if not list_assignments(solutions_dir):
        raise DemoError(f"no assignments in {solutions_dir}: nothing to demonstrate")
    out_dir = out_dir.resolve()
    _prepare(out_dir)
    # Grade against a snapshot, so that editing a solution meanwhile cannot skew the demo.
    solutions_dir = shutil.copytree(solutions_dir, out_dir / "solutions",
                                    ignore=shutil.ignore_patterns(".*", "__pycache__"))
    names = release(solutions_dir, notebooks_dir) if release_first else list_assignments(solutions_dir)
    isolated = _isolated(sandbox)
    escape_dir = out_dir / "escape-check"
    escape_dir.mkdir()
    samples: list[Sample] = []
    for assignment in names:
        for source in source_notebooks(assignment, solutions_dir):
            anatomy = Anatomy.read(assignment, source, notebooks_dir / assignment / source.name)
            samples += class_samples(anatomy, with_cases=not samples, source_path=source,
                                     escape_dir=escape_dir, isolated=isolated,
                                     max_mistakes=max_mistakes)
    submissions = out_dir / "submissions"
    write_samples(samples, submissions)
    # later notebooks train models and take longest: start them first to keep the tail short
    results = grade_assignments(
        names[::-1], submissions, out_dir, source_dir=solutions_dir, workers=workers, progress=progress,
        limits=Limits(timeout=timeout or DEFAULT_TIMEOUT, sandbox=sandbox))
    found = {(r.student_id, r.assignment, r.notebook): r for r in results}
    rows = [compare(s, found.get((s.student_id, s.assignment, s.notebook))) for s in samples]
    return DemoOutcome(rows, results, out_dir, time.perf_counter() - started, isolated, names)
