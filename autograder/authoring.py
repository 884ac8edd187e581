"""Build nbgrader-tagged notebooks from Python: what an instructor uses to write a lesson.

Each helper returns an ``nbformat`` cell carrying the nbgrader metadata that
``generate_assignment`` and ``autograde`` read::

    nb = notebook([
        markdown("# Gradients"),
        code("import numpy as np"),
        answer('def square(x):\\n    ### BEGIN SOLUTION\\n    return x * x\\n    ### END SOLUTION\\n'
               '    raise NotImplementedError("Exercise 1.1: square")', "square"),
        test('\"\"\"Is square right on 3?\"\"\"\\nassert square(3) == 9', "test_square", points=1),
        markdown("Why is the derivative of x² at 0 zero?"),
        written("The parabola is flat at its minimum: 2x = 0 at x = 0.", "written_flat", points=1),
    ])
    write(nb, "solutions/00_example/example.ipynb")
"""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

_SCHEMA = 3


def _meta(grade_id: str, *, grade: bool, solution: bool, locked: bool, points: float | None = None) -> dict:
    meta = {"grade": grade, "grade_id": grade_id, "locked": locked,
            "schema_version": _SCHEMA, "solution": solution, "task": False}
    if points is not None:
        meta["points"] = points
    return {"nbgrader": meta}


def markdown(source: str, grade_id: str | None = None) -> nbformat.NotebookNode:
    """A markdown cell; with ``grade_id`` it is locked (read-only for students)."""
    cell = new_markdown_cell(source.strip("\n"))
    if grade_id:
        cell.metadata.update(_meta(grade_id, grade=False, solution=False, locked=True))
    return cell


def code(source: str, grade_id: str | None = None) -> nbformat.NotebookNode:
    """A code cell given to students; with ``grade_id`` it is locked and checksummed."""
    cell = new_code_cell(source.strip("\n"))
    if grade_id:
        cell.metadata.update(_meta(grade_id, grade=False, solution=False, locked=True))
    return cell


def answer(source: str, grade_id: str) -> nbformat.NotebookNode:
    """An autograded answer cell: the solution between ``### BEGIN/END SOLUTION`` markers."""
    if "### BEGIN SOLUTION" not in source:
        raise ValueError(f"answer cell {grade_id!r} has no '### BEGIN SOLUTION' block")
    cell = new_code_cell(source.strip("\n"))
    cell.metadata.update(_meta(grade_id, grade=False, solution=True, locked=False))
    return cell


def test(source: str, grade_id: str, points: float) -> nbformat.NotebookNode:
    """An autograder test cell worth ``points``: full marks when it runs without an error."""
    if points <= 0:
        raise ValueError(f"test cell {grade_id!r} must be worth points > 0, got {points}")
    cell = new_code_cell(source.strip("\n"))
    cell.metadata.update(_meta(grade_id, grade=True, solution=False, locked=True, points=points))
    return cell


def written(model_answer: str, grade_id: str, points: float) -> nbformat.NotebookNode:
    """A written question's answer cell, graded by hand (nbgrader's "manually graded answer"):
    a markdown cell holding the model answer, which the release replaces by ``YOUR ANSWER
    HERE``. The autograder keeps the student's text and reports the question as ``needs manual
    grading`` (its points pending) until a TA grades it in formgrader. Put the question itself
    in a markdown cell above; ``grade_id`` should read ``written_<topic>``."""
    if points <= 0:
        raise ValueError(f"written answer {grade_id!r} must be worth points > 0, got {points}")
    if not model_answer.strip():
        raise ValueError(f"written answer {grade_id!r} needs a model answer (TAs grade against it)")
    cell = new_markdown_cell(model_answer.strip("\n"))
    cell.metadata.update(_meta(grade_id, grade=True, solution=True, locked=False, points=points))
    return cell


def notebook(cells: list[nbformat.NotebookNode]) -> nbformat.NotebookNode:
    """A Python 3 notebook of ``cells``; grade ids must be unique."""
    ids = [c.metadata["nbgrader"]["grade_id"] for c in cells if "nbgrader" in c.metadata]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise ValueError(f"duplicate grade_id(s): {', '.join(duplicates)}")
    nb = new_notebook(cells=cells)
    nb.metadata.update({
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
    })
    return nb


def write(nb: nbformat.NotebookNode, path: str | Path) -> Path:
    """Validate and write ``nb`` without outputs (cell ids are made stable from grade ids)."""
    path = Path(path)
    for index, cell in enumerate(nb.cells):
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        cell["id"] = (grade_id or f"cell-{index}").replace("_", "-")[:64]
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    nbformat.validate(nb)
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path
