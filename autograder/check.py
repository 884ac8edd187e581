"""A student's self-check: run my notebook's visible tests in a fresh, sandboxed kernel.

The released notebook (``notebooks/<assignment>/<name>.ipynb``) is the reference, so only the
visible tests run and nothing hidden can show; the verdicts carry the checker's diagnosis.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from . import NOTEBOOKS_DIR
from .batch import seed_for
from .engine.results import NEEDS_MANUAL, PASSED, SubmissionResult
from .engine.written import BLANK


class CheckError(ValueError):
    """The notebook cannot be self-checked (not found, not part of a released assignment)."""


def find_release(notebook: Path, notebooks_dir: Path = NOTEBOOKS_DIR,
                 assignment: str | None = None) -> tuple[str, Path]:
    """(assignment, released notebook) that ``notebook`` is a copy of: the assignment named,
    else the folder the notebook sits in, else the released notebook with the same file name."""
    if not notebook.is_file():
        raise CheckError(f"{notebook} does not exist")
    candidates = []
    for name in filter(None, [assignment, notebook.resolve().parent.name]):
        candidates.append((name, notebooks_dir / name / notebook.name))
    candidates += [(p.parent.name, p) for p in sorted(notebooks_dir.glob(f"*/{notebook.name}"))]
    for name, release in candidates:
        if release.is_file() and (assignment is None or name == assignment):
            return name, release
    released = sorted(str(p.relative_to(notebooks_dir)) for p in notebooks_dir.glob("*/*.ipynb"))
    raise CheckError(f"{notebook.name} is not a released notebook"
                     + (f" of assignment {assignment!r}" if assignment else "")
                     + f"; released notebooks: {', '.join(released) or 'none'} (in {notebooks_dir})")


def check_notebook(notebook: Path, *, notebooks_dir: Path = NOTEBOOKS_DIR,
                   assignment: str | None = None, timeout: float = 60.0, memory_mb: int = 1024,
                   sandbox: str = "auto") -> SubmissionResult:
    """Grade ``notebook`` against its released version's visible tests."""
    from .engine.submission import grade_submission

    name, release = find_release(notebook, notebooks_dir, assignment)
    with tempfile.TemporaryDirectory(prefix="backprop-check-") as workdir:
        return grade_submission(release, notebook, student_id="self-check", assignment=name,
                                workdir=Path(workdir), seed=seed_for(name, "self-check"),
                                timeout=timeout, memory_mb=memory_mb, sandbox=sandbox)


def format_check(result: SubmissionResult) -> str:
    """Per-question verdicts with the checker's diagnosis, for the terminal."""
    written = [q for q in result.questions if q.status == NEEDS_MANUAL or q.diagnosis == BLANK]
    tests = [q for q in result.questions if q not in written]
    passed = sum(q.status == PASSED for q in tests)
    lines = [f"Self-check of {result.notebook}.ipynb ({result.assignment}): {passed} of "
             f"{len(tests)} visible test(s) pass, {result.score:g}/{result.max_score - result.pending:g} "
             "point(s)" + (f"; {result.pending:g} more for written answers, graded by hand"
                           if result.pending else "")]
    if result.status != "ok":
        lines.append(f"  status: {result.status}" + (f" ({result.reason})" if result.reason else ""))
    width = max((len(q.grade_id) for q in result.questions), default=0)
    for q in result.questions:
        mark = ("PASS" if q.status == PASSED else "WRITTEN" if q.status == NEEDS_MANUAL
                else "BLANK" if q.diagnosis == BLANK else q.status.upper())
        line = f"  {mark:<8}{q.grade_id:<{width}}  {q.points:g}/{q.max_points:g}"
        message = q.message.strip().splitlines()
        if q.status != PASSED and message:
            line += "  " + message[0]
            line += "".join(f"\n{' ' * (12 + width)}{more}" for more in message[1:6])
        lines.append(line)
    lines.append("Hidden tests run only when your notebook is graded, so the final score can be lower.")
    return "\n".join(lines)
