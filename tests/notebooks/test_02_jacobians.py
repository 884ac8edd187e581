"""Notebook 2, Jacobians: does the solution run and reproduce the lecture's numbers, does the
release fail only at its stubs, and does each visible test catch its planted mistake with the
right diagnosis?"""

from __future__ import annotations

import io
import os
import re
import time

import matplotlib

matplotlib.use("Agg")

import matplotlib.image as mpimg  # noqa: E402
import nbformat  # noqa: E402
import pytest  # noqa: E402

from autograder import NOTEBOOKS_DIR, REPO_ROOT  # noqa: E402
from autograder.mistakes import Mistake, load_mistakes, plant  # noqa: E402
from autograder.release import find_leaks  # noqa: E402
from tests.notebooks.harness import (  # noqa: E402
    cell_by_grade_id, error_text, errored_cells, execute, figures, output_text, release_path,
    solution_path,
)
from utils.testing import SEED_VARIABLE  # noqa: E402

ASSIGNMENT = "02_jacobians"
MISTAKES = load_mistakes(ASSIGNMENT)
EXERCISES = {  # answer cell -> (exercise number, visible test, points)
    "sigmoid_jacobian": ("2.1", "test_sigmoid_jacobian", 2),
    "affine_jacobians": ("2.2", "test_affine_jacobians", 2),
    "dot_jacobian": ("2.3", "test_dot_jacobian", 1),
    "softmax_jacobian": ("2.4", "test_softmax_jacobian", 2),
    "weight_gradient": ("2.5", "test_weight_gradient", 2),
    "vector_jacobian_products": ("2.6", "test_vector_jacobian_products", 3),
}
VJP_FUNCTIONS = ("sigmoid_vjp", "relu_vjp", "softmax_vjp")
DEMO_CELLS = ("small_example", "example_relu_cases", "example_ds_db", "jacobian_heatmaps",
              "example_entry_by_entry", "example_l2_norm", "vjp_timing")
"""Code cells that only show or plot: no test may depend on them, so planted runs skip them."""
DIAGNOSES = {"ok", "shape", "nonfinite", "zero", "sign", "scale", "transposed", "swapped", "partial", "wrong"}


def _meta(cell: nbformat.NotebookNode) -> dict:
    return cell.metadata.get("nbgrader", {})


def _by_kind(nb: nbformat.NotebookNode, key: str) -> list[nbformat.NotebookNode]:
    return [c for c in nb.cells if _meta(c).get(key)]


def _printed(nb: nbformat.NotebookNode, grade_id: str) -> str:
    """What a cell printed to stdout, joined without separators (a busy kernel may split a line
    across several stream messages, which would break the harness's newline-joined text)."""
    return "".join(out.text for out in cell_by_grade_id(nb, grade_id).get("outputs", [])
                   if out.output_type == "stream" and out.name == "stdout")


def _without_demos(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """A copy of ``nb`` with only its setup, answer and test cells: what the tests need."""
    kept = [c for c in nb.cells if c.cell_type == "code" and _meta(c).get("grade_id") not in DEMO_CELLS]
    return nbformat.v4.new_notebook(cells=kept, metadata=nb.metadata)


def _rounds(mistakes: list[Mistake]) -> list[list[Mistake]]:
    """Mistakes grouped so that no run plants two into one cell or checks one test twice."""
    rounds: list[list[Mistake]] = []
    for mistake in mistakes:
        for group in rounds:
            if all(m.cell != mistake.cell and m.test != mistake.test for m in group):
                group.append(mistake)
                break
        else:
            rounds.append([mistake])
    return rounds


@pytest.fixture(scope="module")
def source() -> nbformat.NotebookNode:
    return nbformat.read(solution_path(ASSIGNMENT), as_version=4)


@pytest.fixture(scope="module")
def executed_solution(source: nbformat.NotebookNode) -> tuple[nbformat.NotebookNode, float]:
    start = time.perf_counter()
    ran = execute(source, solution_path(ASSIGNMENT).parent)
    return ran, time.perf_counter() - start


@pytest.fixture(scope="module")
def executed_release() -> nbformat.NotebookNode:
    path = release_path(ASSIGNMENT)
    return execute(nbformat.read(path, as_version=4), path.parent)


@pytest.fixture(scope="module")
def planted_runs(source: nbformat.NotebookNode) -> dict[str, nbformat.NotebookNode]:
    """Mistake name -> the executed notebook it was planted in. Several mistakes share a run
    (each visible test calls only its own exercise), demo cells are left out (tests must not
    need them), and another grading seed is used, so the untouched exercises' hidden tests
    also meet fresh inputs."""
    previous = os.environ.get(SEED_VARIABLE)
    os.environ[SEED_VARIABLE] = "424242"
    try:
        runs = {}
        for group in _rounds(MISTAKES):
            nb = _without_demos(source)
            for mistake in group:
                nb = plant(nb, mistake)
            ran = execute(nb, solution_path(ASSIGNMENT).parent)
            runs.update({mistake.name: ran for mistake in group})
        return runs
    finally:
        if previous is None:
            del os.environ[SEED_VARIABLE]
        else:
            os.environ[SEED_VARIABLE] = previous


# ------------------------------------------------------------------------ structure (fast)

def test_answer_cells_are_task_named_stubs(source: nbformat.NotebookNode) -> None:
    """Is every answer cell one documented top-level def ending in its task-named stub?"""
    answers = _by_kind(source, "solution")
    assert [_meta(c)["grade_id"] for c in answers] == list(EXERCISES)
    for cell in answers:
        grade_id = _meta(cell)["grade_id"]
        number = EXERCISES[grade_id][0]
        names = list(VJP_FUNCTIONS) if grade_id == "vector_jacobian_products" else [grade_id]
        assert re.findall(r"^def (\w+)\(", cell.source, re.M) == names
        assert not re.findall(r"^(?!def |\s|$)", cell.source, re.M), f"{grade_id}: only top-level defs"
        for name in names:
            assert f'raise NotImplementedError("Exercise {number}: {name}")' in cell.source
        assert "Returns:" in cell.source and "shape" in cell.source, f"{grade_id}: shapes in docstring"


def test_every_exercise_has_a_graded_test_with_a_hidden_part(source: nbformat.NotebookNode) -> None:
    """Does each exercise have a pointed test with a docstring, a literal seed and fresh hidden inputs?"""
    tests = {_meta(c)["grade_id"]: c for c in _by_kind(source, "grade")}
    assert set(tests) == {test for _, test, _ in EXERCISES.values()}
    for _, test_id, points in EXERCISES.values():
        cell = tests[test_id]
        assert _meta(cell)["points"] == points
        assert re.match(r'"""[^\n]+\?"""\n', cell.source), f"{test_id}: one-line question docstring"
        visible, hidden = cell.source.split("### BEGIN HIDDEN TESTS")
        assert re.search(r"rng = np\.random\.default_rng\(\d+\)", visible)
        assert "print(" in visible and "assert_" in visible
        assert f'fresh_rng("{test_id}")' in hidden and "hidden=True" in hidden
    assert sum(_meta(c)["points"] for c in tests.values()) == 12


def test_demo_cells_are_neither_answers_nor_tests(source: nbformat.NotebookNode) -> None:
    """Are the cells that planted runs skip all ungraded, non-answer code cells of the notebook?"""
    cells = {_meta(c).get("grade_id"): c for c in source.cells}
    for grade_id in DEMO_CELLS:
        cell = cells[grade_id]
        assert cell.cell_type == "code" and not _meta(cell)["grade"] and not _meta(cell)["solution"]


def test_mistakes_are_well_formed(source: nbformat.NotebookNode) -> None:
    """Does every planted mistake target an answer cell, once, and name a visible test and a diagnosis?"""
    assert {m.cell for m in MISTAKES} == set(EXERCISES), "at least one mistake per exercise"
    for mistake in MISTAKES:
        assert mistake.test == EXERCISES[mistake.cell][1]
        assert mistake.diagnosis in DIAGNOSES - {"ok"}
        plant(source, mistake)  # raises unless `find` occurs exactly once


def test_release_keeps_stubs_and_drops_solutions() -> None:
    """Does the released notebook keep every stub but no solution, hidden test or output?"""
    released = nbformat.read(release_path(ASSIGNMENT), as_version=4)
    text = "\n".join(c.source for c in released.cells)
    assert "BEGIN SOLUTION" not in text and "BEGIN HIDDEN TESTS" not in text and "fresh_rng" not in text
    for grade_id, (number, _, _) in EXERCISES.items():
        cell = cell_by_grade_id(released, grade_id)
        names = VJP_FUNCTIONS if grade_id == "vector_jacobian_products" else (grade_id,)
        assert cell.source.count("# YOUR CODE HERE") == len(names)
        for name in names:
            assert f'raise NotImplementedError("Exercise {number}: {name}")' in cell.source
    assert all(not c.get("outputs") for c in released.cells if c.cell_type == "code")


def test_no_solution_or_hidden_line_leaks() -> None:
    """Does no line of this notebook's solutions or hidden tests appear in a release or in utils/?"""
    shipped = sorted(NOTEBOOKS_DIR.rglob("*.ipynb")) + sorted((REPO_ROOT / "utils").rglob("*.py"))
    assert shipped
    assert find_leaks(solution_path(ASSIGNMENT).parent, shipped) == []


# ------------------------------------------------------------------- executed (slow)

@pytest.mark.slow
def test_solution_runs_cleanly_in_a_few_seconds(executed_solution: tuple) -> None:
    """Does the solution run top to bottom in a fresh kernel without an error, in seconds?"""
    ran, seconds = executed_solution
    assert errored_cells(ran) == []
    assert seconds < 60, f"solution took {seconds:.1f}s"


@pytest.mark.slow
def test_visible_tests_print_feedback(executed_solution: tuple) -> None:
    """Does every test cell print what the checker found when the answer is right?"""
    ran, _ = executed_solution
    for _, test_id, _ in EXERCISES.values():
        text = output_text(cell_by_grade_id(ran, test_id))
        assert "ok" in text, f"{test_id} printed {text!r}"


@pytest.mark.slow
def test_relu_cases_reproduce_the_notes(executed_solution: tuple) -> None:
    """Are the four ReLU sign cases (12)-(15) of the CS231n notes reproduced row by row?"""
    ran, _ = executed_solution
    text = _printed(ran, "example_relu_cases")
    rows = re.findall(r"\((1[2-5])\) z = .*?dh1/dz = \[([^\]]+)\]\s+dh2/dz = \[([^\]]+)\]", text)
    found = {case: ([float(v) for v in h1.split()], [float(v) for v in h2.split()]) for case, h1, h2 in rows}
    assert found == {"12": ([1, 0], [0, 1]), "13": ([1, 0], [0, 0]),
                     "14": ([0, 0], [0, 1]), "15": ([0, 0], [0, 0])}


@pytest.mark.slow
def test_ds_db_is_u_times_f_prime(executed_solution: tuple) -> None:
    """Does u^T diag(f'(z)) I print the same numbers as u o f'(z) and pass the gradient check?"""
    ran, _ = executed_solution
    text = _printed(ran, "example_ds_db")
    chained = re.search(r"u\^T diag\(f'\(z\)\) I = \[([^\]]+)\]", text).group(1).split()
    elementwise = re.search(r"u\^T o f'\(z\)\s+= \[([^\]]+)\]", text).group(1).split()
    assert chained == elementwise and len(chained) == 3


@pytest.mark.slow
def test_l2_example_reproduces_the_slide(executed_solution: tuple) -> None:
    """Does ||W x||^2 give q = (0.22, 0.26), f = 0.116, 2 q x^T and 2 W^T q as on the CS231n slide?"""
    ran, _ = executed_solution
    text = _printed(ran, "example_l2_norm")
    assert "q = [0.22 0.26], f = 0.116" in text
    assert "df/dq = [0.44 0.52]" in text and "df/dx = [-0.112  0.636]" in text
    rows = re.search(r"df/dW =\s*\[\[([^\]]+)\]\s*\[([^\]]+)\]\]", text).groups()
    assert [float(v) for row in rows for v in row.split()] == [0.088, 0.176, 0.104, 0.208]
    assert "Jacobian form has shape (4,) ; shape convention has shape (2, 2) = W.shape" in text


@pytest.mark.slow
def test_entry_by_entry_check_and_softmax_columns(executed_solution: tuple) -> None:
    """Is dz/dW checked entry by entry (3 x 3 x 4, 12 non-zeros) and do softmax columns sum to 0?"""
    ran, _ = executed_solution
    text = _printed(ran, "example_entry_by_entry")
    assert "shape (3, 3, 4) -> 36 numbers, 12 non-zero" in text
    assert "checked entry by entry" in text
    sums = re.search(r"column sums of the softmax Jacobian: \[([^\]]+)\]",
                     _printed(ran, "jacobian_heatmaps")).group(1).split()
    assert [float(v) for v in sums] == [0.0] * 6


@pytest.mark.slow
def test_vjp_timing_is_reported(executed_solution: tuple) -> None:
    """Does the timing cell report both routes for every n, with the Jacobian's memory (no timing asserted)?"""
    ran, _ = executed_solution
    text = _printed(ran, "vjp_timing")
    rows = re.findall(r"^\s*(\d+)\s+\S+ms\s+\S+ms\s+\d+x\s+([\d.]+) MB$", text, re.M)
    assert [int(n) for n, _ in rows] == [100, 200, 400, 800, 1600, 3200]
    assert float(rows[-1][1]) == 81.9  # 3200 x 3200 float64


@pytest.mark.slow
def test_figures_render(executed_solution: tuple) -> None:
    """Are the Jacobian heatmaps, the dz/dW block picture and the timing plot produced and not blank?"""
    ran, _ = executed_solution
    for grade_id in ("jacobian_heatmaps", "example_entry_by_entry", "vjp_timing"):
        assert figures(nbformat.v4.new_notebook(cells=[cell_by_grade_id(ran, grade_id)])), grade_id
    images = figures(ran)
    assert len(images) >= 3
    for png in images:
        pixels = mpimg.imread(io.BytesIO(png), format="png")
        assert pixels.shape[0] > 100 and pixels.shape[1] > 100 and pixels.std() > 0.05


@pytest.mark.slow
def test_release_errors_only_at_stubs(executed_release: nbformat.NotebookNode) -> None:
    """Does the released notebook fail only with the stubs' NotImplementedError, every test included?"""
    failures = errored_cells(executed_release)
    assert failures, "the stubs must make something fail"
    for index, grade_id, first_line in failures:
        text = error_text(executed_release.cells[index])
        assert "NotImplementedError" in first_line and "Exercise 2." in text, (index, grade_id, first_line)
    failed_ids = {grade_id for _, grade_id, _ in failures}
    assert {test for _, test, _ in EXERCISES.values()} <= failed_ids


@pytest.mark.slow
@pytest.mark.parametrize("mistake", MISTAKES, ids=[m.name for m in MISTAKES])
def test_planted_mistake_fails_with_its_diagnosis(mistake: Mistake, planted_runs: dict) -> None:
    """Does the visible test fail on this typical mistake, printing the matching [diagnosis]?"""
    ran = planted_runs[mistake.name]
    error = error_text(cell_by_grade_id(ran, mistake.test))
    assert error, f"{mistake.test} passed although {mistake.name!r} was planted"
    assert "AssertionError" in error and f"[{mistake.diagnosis}]" in error, error[-800:]


@pytest.mark.slow
def test_untouched_exercises_pass_with_another_seed(planted_runs: dict) -> None:
    """With mistakes planted elsewhere and a new grading seed, do the other tests (hidden parts too) pass?"""
    for ran in {id(r): r for r in planted_runs.values()}.values():
        planted_tests = {m.test for m in MISTAKES if planted_runs[m.name] is ran}
        for _, test_id, _ in EXERCISES.values():
            if test_id not in planted_tests:
                assert not error_text(cell_by_grade_id(ran, test_id)), test_id
                assert "ok: hidden tests passed" in _printed(ran, test_id)
