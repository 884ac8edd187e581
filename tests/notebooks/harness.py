"""Run course notebooks in a fresh kernel and plant mistakes into their solutions.

Mistakes to plant are defined in :mod:`autograder.mistakes` (one JSON file per assignment).
"""

from __future__ import annotations

import copy
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from autograder import NOTEBOOKS_DIR, SOLUTIONS_DIR
from autograder.mistakes import Mistake, cell_by_grade_id, load_mistakes, plant  # noqa: F401

def solution_path(assignment: str) -> Path:
    (path,) = sorted((SOLUTIONS_DIR / assignment).glob("*.ipynb"))
    return path


def release_path(assignment: str) -> Path:
    (path,) = sorted((NOTEBOOKS_DIR / assignment).glob("*.ipynb"))
    return path


def execute(nb: nbformat.NotebookNode, cwd: Path, timeout: int = 120) -> nbformat.NotebookNode:
    """Execute a copy of ``nb`` top to bottom in a fresh kernel, keeping going after errors."""
    ran = copy.deepcopy(nb)
    NotebookClient(ran, timeout=timeout, kernel_name="python3", allow_errors=True,
                   resources={"metadata": {"path": str(cwd)}}).execute()
    return ran


def error_text(cell: nbformat.NotebookNode) -> str:
    """The error name, value and traceback of a code cell's outputs ('' when it ran cleanly)."""
    parts = []
    for out in cell.get("outputs", []):
        if out.output_type == "error":
            parts.append(f"{out.ename}: {out.evalue}\n" + "\n".join(out.traceback))
    return "\n".join(parts)


def output_text(cell: nbformat.NotebookNode) -> str:
    """Everything a code cell printed or displayed as text, errors included."""
    parts = []
    for out in cell.get("outputs", []):
        if out.output_type == "stream":
            parts.append(out.text)
        elif out.output_type in ("execute_result", "display_data"):
            parts.append(out.get("data", {}).get("text/plain", ""))
    return "\n".join(parts) + error_text(cell)


def errored_cells(nb: nbformat.NotebookNode) -> list[tuple[int, str, str]]:
    """(index, grade_id or '', first error line) of every cell that raised."""
    found = []
    for index, cell in enumerate(nb.cells):
        text = error_text(cell) if cell.cell_type == "code" else ""
        if text:
            grade_id = cell.metadata.get("nbgrader", {}).get("grade_id", "")
            found.append((index, grade_id, text.splitlines()[0]))
    return found


def figures(nb: nbformat.NotebookNode) -> list[bytes]:
    """Decoded PNG images the notebook displayed."""
    import base64

    return [base64.b64decode(out["data"]["image/png"])
            for cell in nb.cells if cell.cell_type == "code"
            for out in cell.get("outputs", []) if "image/png" in out.get("data", {})]
