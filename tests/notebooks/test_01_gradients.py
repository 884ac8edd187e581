"""Notebook 1, gradients: does the solution run and reproduce the lecture's numbers, does the
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

ASSIGNMENT = "01_gradients"
MISTAKES = load_mistakes(ASSIGNMENT)
EXERCISES = {  # answer cell -> (exercise number, visible test, points)
    "cube_derivative": ("1.1", "test_cube_derivative", 1),
    "quadratic_form_gradient": ("1.2", "test_quadratic_form_gradient", 2),
    "central_difference": ("1.3", "test_central_difference", 2),
    "sigmoid_derivative": ("1.4", "test_sigmoid_derivative", 1),
    "softmax_cross_entropy_gradient": ("1.5", "test_softmax_cross_entropy_gradient", 2),
    "gradient_descent": ("1.6", "test_gradient_descent", 2),
}
DEMO_CELLS = ("tangent_plot", "bowl_plot", "step_size_plot", "checker_diagnoses", "example_sigmoid_neuron",
              "softmax_example", "learning_rate_plot")
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
        assert re.findall(r"^(\S.*)$", cell.source, re.M)[0].startswith(f"def {grade_id}(")
        assert re.findall(r"^def (\w+)\(", cell.source, re.M) == [grade_id]
        assert f'raise NotImplementedError("Exercise {number}: {grade_id}")' in cell.source
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
    assert sum(_meta(c)["points"] for c in tests.values()) == 10


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
        assert "# YOUR CODE HERE" in cell.source
        assert f'raise NotImplementedError("Exercise {number}: {grade_id}")' in cell.source
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
def test_sigmoid_neuron_reproduces_the_lecture_numbers(executed_solution: tuple) -> None:
    """Does the CS231n sigmoid-neuron example reproduce -0.53, -0.20, 0.20, 0.73 and 0.4 / -0.2?"""
    ran, _ = executed_solution
    text = _printed(ran, "example_sigmoid_neuron")
    assert "score = 1.00, 1 + e^-score = 1.37" in text
    assert "gate by gate: [-0.53, -0.53, -0.2, 0.2]" in text
    assert "sigma(1) = 0.73, sigma'(1) = 0.1966" in text
    dw = [float(v) for v in re.search(r"df/dw = \[([^\]]+)\]", text).group(1).split(",")]
    dx = [float(v) for v in re.search(r"df/dx = \[([^\]]+)\]", text).group(1).split(",")]
    assert dw == [-0.2, -0.39, 0.2] and dx == [0.39, -0.59]
    assert round(dx[0], 1) == 0.4 and round(dw[0], 1) == -0.2  # the slide's rounded x0, w0


@pytest.mark.slow
def test_step_size_study_shows_truncation_and_rounding(executed_solution: tuple) -> None:
    """Is central float64 best near h = 1e-5 with error ~1e-11, and float32 far worse?"""
    ran, _ = executed_solution
    text = _printed(ran, "step_size_plot")
    best = {m.group(1): (float(m.group(2)), float(m.group(3)))
            for m in re.finditer(r"(\w+, float\d\d)\s+best h = (\S+)\s+error = (\S+)", text)}
    assert set(best) == {"forward, float64", "central, float64", "forward, float32", "central, float32"}
    assert 1e-7 <= best["central, float64"][0] <= 1e-4 and best["central, float64"][1] < 1e-9
    assert best["forward, float64"][0] < best["central, float64"][0]
    assert best["central, float32"][1] > 1e3 * best["central, float64"][1]


@pytest.mark.slow
def test_checker_tour_shows_each_diagnosis(executed_solution: tuple) -> None:
    """Does the tour of the checker label the five bowl gradients ok, sign, scale, partial, wrong?"""
    ran, _ = executed_solution
    text = _printed(ran, "checker_diagnoses")
    found = re.findall(r"^(right|sign flipped|halved|forgot the 10|entries swapped)\s+(?:yes|NO)\s+(\w+)", text, re.M)
    assert found == [("right", "ok"), ("sign flipped", "sign"), ("halved", "scale"),
                     ("forgot the 10", "partial"), ("entries swapped", "wrong")]


@pytest.mark.slow
def test_learning_rates_crawl_converge_and_diverge(executed_solution: tuple) -> None:
    """Do the three learning rates on the bowl end too high, near 0, and blown up?"""
    ran, _ = executed_solution
    text = _printed(ran, "learning_rate_plot")
    losses = {m.group(1): float(m.group(2)) for m in re.finditer(r"(\w+): alpha = \S+\s+J after 30 steps = (\S+)", text)}
    assert set(losses) == {"small", "good", "divergent"}
    assert losses["good"] < 1e-3 < losses["small"] < losses["divergent"] and losses["divergent"] > 100


@pytest.mark.slow
def test_figures_render(executed_solution: tuple) -> None:
    """Are the tangent, contour, step-size and learning-rate figures produced and not blank?"""
    ran, _ = executed_solution
    for grade_id in ("tangent_plot", "bowl_plot", "step_size_plot", "learning_rate_plot"):
        assert figures(nbformat.v4.new_notebook(cells=[cell_by_grade_id(ran, grade_id)])), grade_id
    images = figures(ran)
    assert len(images) >= 4
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
        assert "NotImplementedError" in first_line and "Exercise 1." in text, (index, grade_id, first_line)
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
