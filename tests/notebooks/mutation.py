"""Mutation testing of the course notebooks: does every typical wrong answer fail a visible test?

For each mutant of a solution (:mod:`tests.notebooks.mutants`) the notebook's cells run in this
process (``exec``, no kernel): once set up, each mutant costs only its own tests. A mutant is

- ``visible``: the visible part of a test cell fails (killed, as it should be);
- ``hidden``: only the hidden tests fail, or the mutant crashes there: a SURVIVOR;
- ``untested``: no test fails, yet the mutant's results differ from the solution's on the very
  inputs the tests gave it, or no test calls it (the tests look too little: listed, not a failure);
- ``equivalent``: no test fails and every result equals the solution's (listed, not a failure).

The score of a notebook is visible / (visible + hidden + untested): of the mutants that change
the answer, the share its visible tests catch.  ``python -m tests.notebooks.mutation [-v]``
prints it for each notebook.
"""

from __future__ import annotations

import argparse
import ast
import builtins
import contextlib
import copy
import io
import os
import signal
import sys
import threading
import time
import warnings
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import nbformat  # noqa: E402
import numpy as np  # noqa: E402

from autograder import SOLUTIONS_DIR  # noqa: E402
from autograder.engine.source import strip_hidden  # noqa: E402
from tests.notebooks.cellnames import bound_names, free_names  # noqa: E402
from tests.notebooks.mutants import KINDS, Mutant, mutants  # noqa: E402
from tests.notebooks.recorder import Recorder  # noqa: E402
from utils.testing import DEFAULT_SEED, SEED_VARIABLE  # noqa: E402

VERDICTS = ("visible", "hidden", "untested", "equivalent")
TIMEOUT_S = 20.0
"""CPU seconds one test cell may take with a mutant (CPU, not wall time: a loaded machine is no
reason to fail a test, an endless loop is)."""
_BUILTINS = set(dir(builtins))
_COPIED = (np.ndarray, list, dict, set, np.random.Generator)


@dataclass(frozen=True)
class Outcome:
    """What the tests made of one mutant; ``detail`` names the failing test and its error."""

    mutant: Mutant
    verdict: str
    detail: str = ""

    def __str__(self) -> str:
        return f"{self.mutant}" + (f"\n      {self.detail}" if self.detail else "")


@dataclass
class Report:
    """The outcomes of every mutant of one notebook (or one of its answer cells)."""

    name: str
    outcomes: list[Outcome] = field(default_factory=list)
    seconds: float = 0.0

    def by(self, verdict: str) -> list[Outcome]:
        return [o for o in self.outcomes if o.verdict == verdict]

    @property
    def survivors(self) -> list[Outcome]:
        return self.by("hidden")

    @property
    def answer_changing(self) -> int:
        return len(self.outcomes) - len(self.by("equivalent"))

    def summary(self) -> str:
        killed, changing = len(self.by("visible")), self.answer_changing
        share = f"{100 * killed / changing:.0f}%" if changing else "-"
        return (f"{self.name}: {killed}/{changing} answer-changing mutants killed by the visible tests "
                f"({share}); {len(self.survivors)} survive to the hidden tests, "
                f"{len(self.by('untested'))} change the answer untested, {len(self.by('equivalent'))} "
                f"equivalent ({len(self.outcomes)} mutants, {self.seconds:.1f} s)")

    def by_kind(self) -> str:
        """Visible kills / answer-changing mutants for each kind of mistake, on one line."""
        parts = []
        for kind in KINDS:
            mine = [o for o in self.outcomes if o.mutant.kind == kind and o.verdict != "equivalent"]
            if mine:
                parts.append(f"{kind} {sum(o.verdict == 'visible' for o in mine)}/{len(mine)}")
        return "  by kind: " + ", ".join(parts)


@dataclass(frozen=True)
class _Cell:
    index: int
    kind: str              # answer | test | setup
    grade_id: str
    source: str
    binds: frozenset
    uses: frozenset


class _Timeout(BaseException):
    """A mutant ran past TIMEOUT_S of CPU time (a loop that never ends)."""


def _code(source: str) -> str:
    """Cell source without IPython magics and shell escapes (``%matplotlib inline``)."""
    return "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines())


def _alarm(_signum, _frame):
    raise _Timeout(f"ran past {TIMEOUT_S:g} s of CPU time")


class NotebookSession:
    """A solution notebook set up once in one namespace, ready to try mutants of its answers.

    Only the cells the tests need run: the answer cells, the test cells, and (transitively) every
    other cell that binds a name they use; heavy demos and training are left out.
    """

    def __init__(self, nb: nbformat.NotebookNode, cwd: Path, name: str = "notebook",
                 seed: str = str(DEFAULT_SEED)) -> None:
        self.name, self.cwd, self.seed = name, Path(cwd), seed
        self.cells = self._needed(self._parse(nb))
        self._check_self_contained()
        self.ns: dict = {"__name__": "__main__"}
        with self._context():
            for cell in self.cells:
                if cell.kind != "test":
                    error = self._try(cell, cell.source, timed=False)
                    if error:
                        raise RuntimeError(f"{name}: cell {error} (does it need a name bound only in a test cell?)")
            self.snapshot = dict(self.ns)
            errors = [self._try(cell, cell.source, timed=False) for cell in self.tests(set())]
        errors = [error for error in errors if error]
        if errors:
            raise RuntimeError(f"{name}: the solution itself fails its tests: {'; '.join(errors)}")

    @staticmethod
    def _parse(nb: nbformat.NotebookNode) -> list[_Cell]:
        cells = []
        for index, raw in enumerate(nb.cells):
            if raw.cell_type != "code":
                continue
            meta = raw.metadata.get("nbgrader", {})
            kind = "answer" if meta.get("solution") else "test" if meta.get("grade") else "setup"
            source = _code(raw.source)
            tree = ast.parse(source)
            binds = bound_names(tree)
            cells.append(_Cell(index, kind, meta.get("grade_id", f"cell {index}"), source,
                               frozenset(binds), frozenset(free_names(tree) - binds - _BUILTINS)))
        return cells

    @staticmethod
    def _needed(cells: list[_Cell]) -> list[_Cell]:
        needed = {c.index for c in cells if c.kind in ("answer", "test")}
        changed = True
        while changed:
            changed = False
            for cell in cells:
                users = [other for other in cells if other.index in needed and other.index > cell.index]
                if cell.index not in needed and any(cell.binds & other.uses for other in users):
                    needed.add(cell.index)
                    changed = True
        return [c for c in cells if c.index in needed]

    def _check_self_contained(self) -> None:
        """Refuse a test cell that reads a name only an earlier test cell binds: each mutant runs just
        the tests that reach it, so such a test would fail for every mutant and hide survivors."""
        for test in (c for c in self.cells if c.kind == "test"):
            earlier = [c for c in self.cells if c.index < test.index]
            from_tests = test.uses - set().union(*(c.binds for c in earlier if c.kind != "test"))
            for other in earlier:
                if other.kind == "test" and other.binds & from_tests:
                    names = ", ".join(sorted(other.binds & from_tests))
                    raise RuntimeError(f"{self.name}: test cell {test.grade_id} reads {names}, bound only by "
                                       f"the test cell {other.grade_id}; make each test cell self-contained")

    def answers(self) -> list[str]:
        """The grade_ids of the answer cells, in notebook order."""
        return [c.grade_id for c in self.cells if c.kind == "answer"]

    def tests(self, tainted: set[str]) -> list[_Cell]:
        """The test cells using a name in ``tainted`` (every test cell when it is empty)."""
        return [c for c in self.cells if c.kind == "test" and (not tainted or c.uses & tainted)]

    @contextlib.contextmanager
    def _context(self):
        previous_dir, previous_seed = os.getcwd(), os.environ.get(SEED_VARIABLE)
        os.chdir(self.cwd)
        os.environ[SEED_VARIABLE] = self.seed
        try:
            with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()), \
                    warnings.catch_warnings(), np.errstate(all="ignore"):
                warnings.simplefilter("ignore")
                yield
        finally:
            plt.close("all")
            os.chdir(previous_dir)
            if previous_seed is None:
                os.environ.pop(SEED_VARIABLE, None)
            else:
                os.environ[SEED_VARIABLE] = previous_seed

    def _exec(self, source: str, cell: _Cell) -> None:
        exec(compile(source, f"<{self.name}:{cell.grade_id}>", "exec"), self.ns)  # noqa: S102

    def _try(self, cell: _Cell, source: str, timed: bool = True) -> str:
        """'' when ``source`` runs cleanly, else "<test>: <error>"; when ``timed``, running past
        TIMEOUT_S (an endless loop) counts as an error."""
        timed = timed and threading.current_thread() is threading.main_thread()
        if timed:
            previous = signal.signal(signal.SIGPROF, _alarm)
            signal.setitimer(signal.ITIMER_PROF, TIMEOUT_S)
        try:
            self._exec(source, cell)
            return ""
        except (Exception, _Timeout) as error:  # noqa: BLE001 - any error fails the test
            first = (str(error).strip().splitlines() or [""])[0][:200]
            return f"{cell.grade_id}: {type(error).__name__}: {first}"
        finally:
            if timed:
                signal.setitimer(signal.ITIMER_PROF, 0)
                signal.signal(signal.SIGPROF, previous)

    def _restore(self) -> None:
        self.ns.clear()
        for key, value in self.snapshot.items():
            small = not isinstance(value, np.ndarray) or value.size < 100_000
            self.ns[key] = copy.deepcopy(value) if isinstance(value, _COPIED) and small else value

    def _tainted(self, answer: _Cell) -> set[str]:
        """The names bound by ``answer`` and, transitively, by every other cell using one of them."""
        tainted, changed = set(answer.binds), True
        while changed:
            changed = False
            for other in self.cells:
                if other.kind != "test" and other.uses & tainted and not other.binds <= tainted:
                    tainted |= other.binds
                    changed = True
        return tainted

    def run(self, mutant: Mutant, answer: str) -> Outcome:
        """Plant ``mutant`` (of answer cell ``answer``) and judge it by the tests that reach it."""
        (cell,) = [c for c in self.cells if c.grade_id == answer]
        self._restore()
        with self._context():
            error = self._try(cell, mutant.source)
            if error:
                return Outcome(mutant, "visible", f"the answer cell itself: {error}")
            recorder = Recorder(self.ns[mutant.function], self.snapshot[mutant.function])
            self.ns[mutant.function] = recorder
            tainted = self._tainted(cell)
            for other in self.cells:        # rebind what captured the solution: rules = {"add": add_backward}
                if other.kind == "setup" and other.index > cell.index and other.uses & tainted:
                    error = self._try(other, other.source)
                    if error:                                   # the student sees this cell fail
                        return Outcome(mutant, "visible", f"setup cell {error}")
            tests = self.tests(tainted)
            for test in tests:
                error = self._try(test, strip_hidden(test.source))
                if error:
                    return Outcome(mutant, "visible", error)
            recorder.comparing = True
            for test in tests:
                error = self._try(test, test.source)
                if error:
                    return Outcome(mutant, "hidden", error)
        if not recorder.calls:
            return Outcome(mutant, "untested", "no test calls it")
        return Outcome(mutant, "untested" if recorder.differs else "equivalent")

    def _control(self, cell: _Cell, function: str) -> None:
        """Run the unmutated solution the way the mutants ran: it must pass every test with the same
        results, else a mutant left something behind or the function is not deterministic, and the
        verdicts cannot be trusted."""
        outcome = self.run(Mutant(function, "control", 0, "", "", ast.unparse(ast.parse(cell.source))),
                           cell.grade_id)
        if outcome.verdict != "equivalent" and outcome.detail != "no test calls it":
            raise RuntimeError(f"{self.name}: the unmutated {function} is judged {outcome.verdict!r} "
                               f"after its mutants ran ({outcome.detail or 'results differ'})")

    def report(self, answer: str | None = None) -> Report:
        """Every mutant of one answer cell (all of them when ``answer`` is None), judged."""
        start = time.perf_counter()
        report = Report(self.name if answer is None else f"{self.name}/{answer}")
        for cell in self.cells:
            if cell.kind == "answer" and answer in (None, cell.grade_id):
                found = mutants(cell.source)
                report.outcomes += [self.run(m, cell.grade_id) for m in found]
                if found:
                    self._control(cell, found[0].function)
        report.seconds = time.perf_counter() - start
        return report


def assignments() -> list[str]:
    """The assignments with a solution notebook, in order."""
    return sorted(p.parent.name for p in SOLUTIONS_DIR.glob("*/*.ipynb"))


@lru_cache(maxsize=None)
def session(assignment: str) -> NotebookSession:
    """The assignment's solution notebook, set up once per process."""
    (path,) = sorted((SOLUTIONS_DIR / assignment).glob("*.ipynb"))
    return NotebookSession(nbformat.read(path, as_version=4), path.parent, assignment)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.notebooks.mutation", description=__doc__.split("\n")[0])
    parser.add_argument("assignments", nargs="*", help="assignments to test (default: all)")
    parser.add_argument("-v", "--verbose", action="count", default=0,
                        help="list survivors and untested mutants (-vv: equivalent ones too)")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.assignments) - set(assignments()))
    if unknown:
        parser.error(f"no such assignment: {', '.join(unknown)} (known: {', '.join(assignments())})")
    shown = ("hidden", "untested") + (("equivalent",) if args.verbose > 1 else ())
    survivors = 0
    for assignment in args.assignments or assignments():
        report = session(assignment).report()
        survivors += len(report.survivors)
        print(report.summary())
        if args.verbose:
            print(report.by_kind())
        for verdict in shown if args.verbose else ():
            for outcome in report.by(verdict):
                print(f"  [{verdict}] {outcome}")
    return 1 if survivors else 0


if __name__ == "__main__":
    sys.exit(main())
