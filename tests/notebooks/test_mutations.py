"""Mutation tests: does every typical wrong answer to an exercise fail its visible test?

For each answer cell of each solution notebook, :mod:`tests.notebooks.mutation` plants the
mistakes of :mod:`tests.notebooks.mutants` one at a time and runs the tests that reach the
mutated function. A mutant that only the hidden tests catch (or that crashes only there) is a
survivor: a student whose answer is wrong would see the visible test pass. Mutants that no test
catches are listed by ``python -m tests.notebooks.mutation -v``, not failed here.
"""

from __future__ import annotations

import re

import nbformat
import pytest

from autograder import SOLUTIONS_DIR
from tests.notebooks.mutation import assignments, session


def _answer_cells() -> list[tuple[str, str]]:
    cells = []
    for assignment in assignments():
        (path,) = sorted((SOLUTIONS_DIR / assignment).glob("*.ipynb"))
        nb = nbformat.read(path, as_version=4)
        cells += [(assignment, c.metadata["nbgrader"]["grade_id"]) for c in nb.cells
                  if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("solution")]
    return cells


KNOWN_SURVIVORS: dict[tuple[str, str], str] = {}
"""(assignment, answer cell) -> its survivors on today's solutions (issue 10 asks the notebook
authors to remove them): xfail, not strict, so that a fixed exercise shows as XPASS. Delete the
entry once it passes."""


def _params() -> list:
    return [pytest.param(assignment, answer, id=f"{assignment}-{answer}",
                         marks=[pytest.mark.xfail(strict=False, reason=KNOWN_SURVIVORS[(assignment, answer)])]
                         if (assignment, answer) in KNOWN_SURVIVORS else [])
            for assignment, answer in _answer_cells()]


@pytest.mark.slow
@pytest.mark.parametrize(("assignment", "answer"), _params())
def test_every_answer_changing_mutant_fails_a_visible_test(assignment: str, answer: str) -> None:
    """Does every mutant of this exercise that a hidden test catches also fail the visible test?"""
    report = session(assignment).report(answer)
    assert report.outcomes, f"{assignment}/{answer}: no mutants generated"
    if report.survivors:
        pytest.fail(f"{report.summary()}\nSurvivors (only the hidden tests catch them):\n"
                    + "\n".join(f"  {outcome}" for outcome in report.survivors), pytrace=False)


@pytest.mark.slow
def test_the_score_command_prints_one_line_per_notebook(capsys) -> None:
    """Does ``python -m tests.notebooks.mutation 02_jacobians`` print the notebook's score (visible kills
    out of the answer-changing mutants) and exit 1 exactly when a mutant survives?"""
    from tests.notebooks.mutation import main

    code = main(["-v", "02_jacobians"])
    out = capsys.readouterr().out
    found = re.match(r"02_jacobians: (\d+)/(\d+) answer-changing mutants killed by the visible tests "
                     r"\(\d+%\); (\d+) survive to the hidden tests, \d+ change the answer untested, "
                     r"\d+ equivalent \((\d+) mutants", out)
    assert found, out
    killed, changing, survivors, total = map(int, found.groups())
    assert 0 < killed <= changing <= total
    assert code == (1 if survivors else 0)
    assert out.count("[hidden]") == survivors
    assert re.search(r"^  by kind: transpose \d+/\d+, sign \d+/\d+", out, re.M), out
