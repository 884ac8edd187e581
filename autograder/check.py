"""A student's self-check: run my notebook's visible tests in a fresh, sandboxed kernel.

The released notebook (``notebooks/<assignment>/<name>.ipynb``) is the reference, so only the
visible tests run and nothing hidden can show; the verdicts carry the checker's diagnosis.
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

from . import NOTEBOOKS_DIR
from .batch import seed_for
from .engine.results import NEEDS_MANUAL, PASSED, SubmissionResult
from .engine.written import BLANK


class CheckError(ValueError):
    """The notebook cannot be self-checked (not found, not part of a released assignment)."""


_COPY_SUFFIX = re.compile(r"(-Copy\d*|[ _-]?\(\d+\)|[ _-]copy\d*)$", re.I)


def original_name(notebook: Path) -> str:
    """The file name ``notebook`` had before Jupyter or a download renamed the copy
    (``gradients-Copy1.ipynb``, ``gradients (2).ipynb`` -> ``gradients.ipynb``)."""
    return _COPY_SUFFIX.sub("", notebook.stem) + notebook.suffix


def _by_assignment(notebook: Path, notebooks_dir: Path, assignment: str) -> tuple[str, Path]:
    """The released notebook of ``assignment`` that ``notebook`` (any name) is a copy of."""
    folder = notebooks_dir / assignment
    released = sorted(folder.glob("*.ipynb"))
    if not released:
        known = sorted(p.name for p in notebooks_dir.iterdir() if p.is_dir() and any(p.glob("*.ipynb"))) \
            if notebooks_dir.is_dir() else []
        raise CheckError(f"no released assignment {assignment!r} in {notebooks_dir}; "
                         f"assignments: {', '.join(known) or 'none'}")
    if len(released) == 1:
        return assignment, released[0]
    for name in (notebook.name, original_name(notebook)):
        if (folder / name).is_file():
            return assignment, folder / name
    raise CheckError(f"assignment {assignment!r} has {len(released)} notebooks "
                     f"({', '.join(p.name for p in released)}): rename {notebook.name} to the one "
                     "it is a copy of")


def find_release(notebook: Path, notebooks_dir: Path = NOTEBOOKS_DIR,
                 assignment: str | None = None) -> tuple[str, Path]:
    """(assignment, released notebook) that ``notebook`` is a copy of: the assignment named
    (whatever the copy is called), else the released notebook of the same file name in the
    folder the notebook sits in, or in any assignment. A renamed copy without ``assignment``
    is refused with the rename or the option that would check it."""
    if not notebook.is_file():
        raise CheckError(f"{notebook} does not exist")
    if assignment is not None:
        return _by_assignment(notebook, notebooks_dir, assignment)
    candidates = [(notebook.resolve().parent.name, notebooks_dir / notebook.resolve().parent.name / notebook.name)]
    candidates += [(p.parent.name, p) for p in sorted(notebooks_dir.glob(f"*/{notebook.name}"))]
    for name, release in candidates:
        if release.is_file():
            return name, release
    originals = sorted(notebooks_dir.glob(f"*/{original_name(notebook)}"))
    if originals:
        hints = " or ".join(f"rename it to {p.name} or pass --assignment {p.parent.name}" for p in originals)
        raise CheckError(f"{notebook.name} is not the name of a released notebook: {hints}")
    released = sorted(str(p.relative_to(notebooks_dir)) for p in notebooks_dir.glob("*/*.ipynb"))
    raise CheckError(f"{notebook.name} is not a released notebook; released notebooks: "
                     f"{', '.join(released) or 'none'} (in {notebooks_dir}). Rename your copy to "
                     "its released name, or pass --assignment NAME to check it under any name")


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
