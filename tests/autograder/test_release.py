"""The release pipeline: solutions/ is the single source, notebooks/ is generated from it."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import nbformat
import pytest

from autograder import NOTEBOOKS_DIR, REPO_ROOT, SOLUTIONS_DIR, authoring
from autograder.release import (
    ReleaseError, assignments, find_leaks, notebooks_with_outputs, out_of_date, release,
)

SOLUTION_LINE = "return np.maximum(x, 0.0) * 1.0  # unique solution line"
HIDDEN_LINE = "assert np.allclose(relu(big), np.where(big > 0, big, 0))"


def example_course(root: Path) -> Path:
    """A one-notebook course: an answer, a visible test and a hidden test."""
    nb = authoring.notebook([
        authoring.markdown("# Example\nReLU, the smallest exercise.", "intro"),
        authoring.code("import numpy as np", "imports"),
        authoring.answer(
            "def relu(x):\n    ### BEGIN SOLUTION\n    " + SOLUTION_LINE + "\n"
            "    ### END SOLUTION\n    raise NotImplementedError(\"Exercise 0.1: relu\")",
            "relu",
        ),
        authoring.test(
            '"""Is relu right on a small vector?"""\n'
            "assert np.allclose(relu(np.array([-1.0, 2.0])), [0.0, 2.0])\n"
            "### BEGIN HIDDEN TESTS\nbig = np.linspace(-3, 3, 7)\n" + HIDDEN_LINE +
            "\n### END HIDDEN TESTS",
            "test_relu", points=2,
        ),
    ])
    authoring.write(nb, root / "solutions" / "00_example" / "example.ipynb")
    (root / "notebooks").mkdir()
    return root


def solved(released: nbformat.NotebookNode,
           answer: str = "def relu(x):\n    return np.maximum(x, 0.0)") -> nbformat.NotebookNode:
    """A copy of the released example notebook with ``answer`` in its solution cell."""
    nb = copy.deepcopy(released)
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("solution"):
            cell.source = answer
    return nb


@pytest.fixture()
def course(tmp_path: Path) -> Path:
    return example_course(tmp_path)


def _sources(path: Path) -> str:
    nb = json.loads(path.read_text())
    return "\n".join("".join(c["source"]) for c in nb["cells"])


def test_release_strips_solutions_and_hidden_tests(course: Path) -> None:
    """Does a release keep the task-named stub but drop the solution and the hidden test?"""
    names = release(course / "solutions", course / "notebooks")
    assert names == ["00_example"]
    released = course / "notebooks" / "00_example" / "example.ipynb"
    text = _sources(released)
    assert SOLUTION_LINE not in text
    assert HIDDEN_LINE not in text
    assert 'raise NotImplementedError("Exercise 0.1: relu")' in text
    assert "# YOUR CODE HERE" in text
    assert "assert np.allclose(relu(np.array([-1.0, 2.0])), [0.0, 2.0])" in text
    meta = [c["metadata"].get("nbgrader", {}) for c in json.loads(released.read_text())["cells"]]
    assert any(m.get("checksum") for m in meta), "grade cells should carry nbgrader checksums"
    assert find_leaks(course / "solutions", [released]) == []


def test_out_of_date_release_is_reported(course: Path) -> None:
    """Is a stale, hand-edited or missing release reported file by file?"""
    assert out_of_date(course / "solutions", course / "notebooks") == [
        "missing: notebooks/00_example/example.ipynb"
    ]
    release(course / "solutions", course / "notebooks")
    assert out_of_date(course / "solutions", course / "notebooks") == []
    released = course / "notebooks" / "00_example" / "example.ipynb"
    released.write_text(released.read_text().replace("Example", "Edited by hand"))
    (course / "notebooks" / "00_example" / "extra.ipynb").write_text("{}")
    assert out_of_date(course / "solutions", course / "notebooks") == [
        "not generated from solutions/: notebooks/00_example/extra.ipynb",
        "out of date: notebooks/00_example/example.ipynb",
    ]


def test_leak_detector_finds_pasted_solution(course: Path) -> None:
    """Would a solution line pasted into a released notebook or a utils module be caught?"""
    leaked = course / "leaky.py"
    leaked.write_text("def relu(x):\n    " + SOLUTION_LINE + "\n")
    leaks = find_leaks(course / "solutions", [leaked])
    assert [(leak.kind, leak.line) for leak in leaks] == [("solution", SOLUTION_LINE)]


def test_outputs_are_detected(course: Path) -> None:
    """Is a notebook committed with outputs flagged?"""
    path = course / "solutions" / "00_example" / "example.ipynb"
    assert notebooks_with_outputs(course / "solutions") == []
    nb = json.loads(path.read_text())
    nb["cells"][1]["outputs"] = [{"output_type": "stream", "name": "stdout", "text": "hi"}]
    path.write_text(json.dumps(nb))
    assert notebooks_with_outputs(course / "solutions") == [str(path)]


def test_broken_source_gives_a_clear_error(course: Path) -> None:
    """Does a malformed source notebook fail the release with nbgrader's reason, naming it?"""
    (course / "solutions" / "00_example" / "example.ipynb").write_text("{not json")
    with pytest.raises(ReleaseError, match="00_example"):
        release(course / "solutions", course / "notebooks")


# --- the real course ----------------------------------------------------------------------

def test_committed_release_is_up_to_date() -> None:
    """Is notebooks/ exactly what `python -m autograder release` makes from solutions/?"""
    assert out_of_date(SOLUTIONS_DIR, NOTEBOOKS_DIR) == []


def test_no_solution_text_leaks_into_releases_or_utils() -> None:
    """Does any solution or hidden-test line appear in notebooks/ or the importable utils?"""
    released = [p for p in NOTEBOOKS_DIR.rglob("*") if p.is_file() and p.suffix in {".ipynb", ".py"}]
    modules = list((REPO_ROOT / "utils").rglob("*.py"))
    assert find_leaks(SOLUTIONS_DIR, released + modules) == []


def test_committed_notebooks_have_no_outputs() -> None:
    """Are solutions/ and notebooks/ committed without outputs?"""
    assert notebooks_with_outputs(SOLUTIONS_DIR) + notebooks_with_outputs(NOTEBOOKS_DIR) == []


def test_every_solution_assignment_is_released() -> None:
    """Does every assignment folder in solutions/ have its released twin?"""
    assert sorted(p.name for p in NOTEBOOKS_DIR.iterdir() if p.is_dir()) == assignments(SOLUTIONS_DIR)
