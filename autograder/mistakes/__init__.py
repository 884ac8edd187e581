"""Typical student mistakes, planted into solution notebooks.

Each ``<assignment>.json`` beside this file lists mistakes as objects with the fields of
:class:`Mistake`. The notebook tests prove with them that each visible test catches its
mistake with the right diagnosis; the demo builds its sample class from them.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from pathlib import Path

import nbformat

MISTAKES_DIR = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Mistake:
    """A mistake: replace ``find`` by ``replace`` in answer cell ``cell``; test ``test``
    must then fail, printing ``[diagnosis]``."""

    assignment: str
    name: str
    description: str
    cell: str
    find: str
    replace: str
    test: str
    diagnosis: str


def load_mistakes(assignment: str) -> list[Mistake]:
    """The mistakes listed for ``assignment`` (an empty list when it has none)."""
    path = MISTAKES_DIR / f"{assignment}.json"
    if not path.exists():
        return []
    try:
        entries = json.loads(path.read_text(encoding="utf-8"))
        return [Mistake(assignment=assignment, **entry) for entry in entries]
    except (json.JSONDecodeError, TypeError) as err:
        raise ValueError(f"{path}: not a list of mistakes ({err})") from err


def cell_by_grade_id(nb: nbformat.NotebookNode, grade_id: str) -> nbformat.NotebookNode:
    """The one cell of ``nb`` whose nbgrader ``grade_id`` is ``grade_id``."""
    matches = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id]
    if len(matches) != 1:
        raise KeyError(f"expected one cell with grade_id {grade_id!r}, found {len(matches)}")
    return matches[0]


def plant(nb: nbformat.NotebookNode, mistake: Mistake) -> nbformat.NotebookNode:
    """A copy of ``nb`` with ``mistake`` applied; the ``find`` text must occur exactly once."""
    planted = copy.deepcopy(nb)
    cell = cell_by_grade_id(planted, mistake.cell)
    count = cell.source.count(mistake.find)
    if count != 1:
        raise ValueError(f"mistake {mistake.name!r}: {mistake.find!r} occurs {count} times "
                         f"in cell {mistake.cell!r}, expected once")
    cell.source = cell.source.replace(mistake.find, mistake.replace)
    return planted
