"""Sample submissions for the demo class, made from an assignment's solution and release.

:class:`Anatomy` reads one source notebook: its test cells and points, the functions each
answer cell defines, and — statically, from the source's code — which tests a broken answer
may break: every test that mentions a function that is, or calls, one of the broken functions.
That static prediction bounds the demo's expectations: grading must fail no test outside it.
"""

from __future__ import annotations

import ast
import copy
import re
import uuid
from dataclasses import dataclass
from pathlib import Path

import nbformat

_SOLUTION_MARKER = re.compile(r"^[ \t]*###\s*(BEGIN|END) SOLUTION[^\n]*\n?", re.M)
_MAGIC = re.compile(r"^(\s*)[%!].*$", re.M)


def nbgrader_meta(cell: nbformat.NotebookNode) -> dict:
    return cell.metadata.get("nbgrader", {})


def parse(source: str) -> ast.Module | None:
    """The AST of a cell (magics blanked), or None when it does not parse."""
    try:
        return ast.parse(_MAGIC.sub(r"\1pass", source))
    except SyntaxError:
        return None


def names_used(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}


def student_version(solution: nbformat.NotebookNode, release: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The release with every answer cell filled in from the solution, as a student who got
    everything right would submit it (solution markers gone, nbgrader metadata untouched)."""
    answers = {nbgrader_meta(c)["grade_id"]: c.source for c in solution.cells
               if nbgrader_meta(c).get("solution")}
    done = copy.deepcopy(release)
    for cell in done.cells:
        grade_id = nbgrader_meta(cell).get("grade_id")
        if nbgrader_meta(cell).get("solution") and grade_id in answers:
            cell.source = _SOLUTION_MARKER.sub("", answers[grade_id])
    return done


def new_cell(source: str) -> nbformat.NotebookNode:
    """An ordinary code cell a student added (fresh cell id, as Jupyter gives it)."""
    cell = nbformat.v4.new_code_cell(source)
    cell["id"] = uuid.uuid4().hex[:12]
    return cell


@dataclass
class Anatomy:
    """One assignment notebook, read for building and predicting sample submissions."""

    assignment: str
    name: str                               # notebook file name, e.g. gradients.ipynb
    solution: nbformat.NotebookNode
    release: nbformat.NotebookNode

    def __post_init__(self) -> None:
        self.correct = student_version(self.solution, self.release)
        graded = [(c, nbgrader_meta(c)["grade_id"], float(nbgrader_meta(c).get("points", 0)))
                  for c in self.release.cells if nbgrader_meta(c).get("grade")]
        self.tests = [(grade_id, points) for c, grade_id, points in graded if c.cell_type == "code"]
        # written answers (manually graded markdown cells): pending for a TA, never auto-scored
        self.written = [(grade_id, points) for c, grade_id, points in graded if c.cell_type != "code"]
        self.max_score = sum(points for _, points in self.tests)     # the auto-graded points
        self.answer_defs: dict[str, list[str]] = {}     # answer grade_id -> function names
        self.calls: dict[str, set[str]] = {}            # function -> names its body uses
        self.test_names: dict[str, set[str]] = {}       # test grade_id -> names it uses
        self.helpers: list[str] = []                    # functions bound by locked code cells
        for cell in self.solution.cells:
            if cell.cell_type != "code":
                continue
            meta, tree = nbgrader_meta(cell), parse(cell.source)
            if tree is None:
                continue
            if meta.get("grade"):
                self.test_names[meta["grade_id"]] = names_used(tree)
                continue
            defs = [n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
            for node in defs:
                self.calls[node.name] = names_used(node) - {node.name}
            if meta.get("solution"):
                self.answer_defs[meta["grade_id"]] = [n.name for n in defs]
            elif meta.get("locked"):
                self.helpers += [n.name for n in defs]
                self.helpers += [a.asname or a.name for n in tree.body if isinstance(n, ast.ImportFrom)
                                 for a in n.names if a.name != "*" and a.name[:1].islower()]
        self.exercises = [name for names in self.answer_defs.values() for name in names]
        self.target_test = self.tests[0][0]
        used = self.test_names.get(self.target_test, set())
        self.target_answer = next((a for a, names in self.answer_defs.items() if used & set(names)),
                                  next(iter(self.answer_defs)))

    @classmethod
    def read(cls, assignment: str, solution_path: Path, release_path: Path) -> "Anatomy":
        return cls(assignment, solution_path.name, nbformat.read(solution_path, as_version=4),
                   nbformat.read(release_path, as_version=4))

    def points(self, tests: set[str]) -> float:
        return sum(points for grade_id, points in self.tests if grade_id in tests)

    def broken_functions(self, answers: set[str]) -> set[str]:
        """Functions defined by ``answers`` and every function that (transitively) calls one."""
        broken = {name for a in answers for name in self.answer_defs.get(a, [])}
        grew = True
        while grew:
            more = {f for f, used in self.calls.items() if used & broken} - broken
            broken |= more
            grew = bool(more)
        return broken

    def affected(self, answers: set[str]) -> set[str]:
        """The tests a wrong answer in ``answers`` should fail: each test that uses a broken function."""
        broken = self.broken_functions(answers)
        return {t for t, used in self.test_names.items() if used & broken}

    def direct(self, answers: set[str]) -> set[str]:
        """The tests that name a function defined by ``answers``."""
        names = {name for a in answers for name in self.answer_defs.get(a, [])}
        return {t for t, used in self.test_names.items() if used & names}

    def index(self, nb: nbformat.NotebookNode, grade_id: str) -> int:
        return next(i for i, c in enumerate(nb.cells) if nbgrader_meta(c).get("grade_id") == grade_id)
