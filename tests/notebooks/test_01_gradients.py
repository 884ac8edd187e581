"""Notebook 1, gradients: does the solution run and reproduce the lecture's numbers, does the
release fail only at its stubs, and does each visible test catch its planted mistake with the
right diagnosis?"""

from __future__ import annotations

import re

import matplotlib

matplotlib.use("Agg")

import nbformat  # noqa: E402
import pytest  # noqa: E402

from autograder.mistakes import Mistake, load_mistakes  # noqa: E402
from tests.notebooks.harness import (  # noqa: E402
    assert_written_questions,
    answer_stubs, assert_demo_cells, assert_diagnosed, assert_graded_tests, assert_mistakes_plant,
    assert_no_leaks, assert_picture, assert_release_drops_solutions, assert_release_fails_only_at_stubs,
    assert_runs_cleanly, assert_untouched_tests_pass, cell_by_grade_id, cell_figures, cells_with, error_text,
    executed_release_fixture, executed_solution_fixture, figures, meta, output_text, planted_notebooks_fixture,
    printed, release_path, source_fixture,
)

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
TESTS = [test for _, test, _ in EXERCISES.values()]
WRITTEN = {"written_why_backprop": 2}  # markdown answers the TA grades by hand
DERIVATIONS = {"cube_derivative": "cube_derivation", "quadratic_form_gradient": "quadratic_derivation",
               "sigmoid_derivative": "sigmoid_derivation",
               "softmax_cross_entropy_gradient": "softmax_derivation"}
DEMO_CELLS = ("tangent_plot", "bowl_plot", "step_size_plot", "checker_diagnoses", "example_sigmoid_neuron",
              "softmax_example", "learning_rate_plot")
"""Code cells that only show or plot: no test may depend on them, so planted runs skip them."""

source = source_fixture(ASSIGNMENT)
executed_solution = executed_solution_fixture(ASSIGNMENT)
executed_release = executed_release_fixture(ASSIGNMENT)
planted_runs = planted_notebooks_fixture(ASSIGNMENT, MISTAKES, skip=DEMO_CELLS)


# ------------------------------------------------------------------------ structure (fast)

def code_only(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """``nb`` without its markdown cells (the written answers are markdown)."""
    return nbformat.v4.new_notebook(cells=[c for c in nb.cells if c.cell_type == "code"], metadata=nb.metadata)


def test_answer_cells_are_task_named_stubs(source: nbformat.NotebookNode) -> None:
    """Is every answer cell one documented top-level def ending in its task-named stub?"""
    answers = cells_with(code_only(source), "solution")
    assert [meta(c)["grade_id"] for c in answers] == list(EXERCISES)
    for cell in answers:
        grade_id = meta(cell)["grade_id"]
        assert answer_stubs(cell) == {grade_id: EXERCISES[grade_id][0]}
        assert "Returns:" in cell.source and "shape" in cell.source, f"{grade_id}: shapes in docstring"


def test_every_exercise_has_a_graded_test_with_a_hidden_part(source: nbformat.NotebookNode) -> None:
    """Does each exercise have a pointed test with a docstring, a literal seed and fresh hidden inputs?"""
    assert_graded_tests(code_only(source), {test: points for _, test, points in EXERCISES.values()}, total=10)


def test_written_question_is_manually_graded_and_leaves_80_percent_auto(source: nbformat.NotebookNode) -> None:
    """Is the written question a TA-graded markdown answer with a model answer, released as
    'YOUR ANSWER HERE', and do at least 80% of the points stay auto-graded?"""
    assert_written_questions(ASSIGNMENT, source, WRITTEN)


def test_derivations_come_after_their_tests(source: nbformat.NotebookNode) -> None:
    """Is each full derivation a collapsed block right after its exercise's test, with the final
    formula absent from the exercise's statement and docstring?"""
    ids = [meta(c).get("grade_id") for c in source.cells]
    statements = {"cube_derivative": "derivative_md", "quadratic_form_gradient": "quadratic_md",
                  "sigmoid_derivative": "sigmoid_md", "softmax_cross_entropy_gradient": "softmax_md"}
    finals = {"cube_derivative": "3x^2", "quadratic_form_gradient": "(A + A^T)",
              "sigmoid_derivative": r"(1 - \sigma(x))", "softmax_cross_entropy_gradient": r"\mathbf{p} - \mathbf{y}"}
    for answer, derivation in DERIVATIONS.items():
        assert ids.index(derivation) == ids.index(EXERCISES[answer][1]) + 1
        assert "<details>" in cell_by_grade_id(source, derivation).source
        assert finals[answer] in cell_by_grade_id(source, derivation).source
        above = cell_by_grade_id(source, statements[answer]).source + cell_by_grade_id(source, answer).source
        assert finals[answer] not in above, answer
    assert "sigma(z) (1 - sigma(z))" not in cell_by_grade_id(source, "sigmoid_derivative").source


def test_demo_cells_are_neither_answers_nor_tests(source: nbformat.NotebookNode) -> None:
    """Are the cells that planted runs skip all ungraded, non-answer code cells of the notebook?"""
    assert_demo_cells(source, DEMO_CELLS)


def test_mistakes_are_well_formed(source: nbformat.NotebookNode) -> None:
    """Does every planted mistake target an answer cell, once, and name a visible test and a diagnosis?"""
    assert {m.cell for m in MISTAKES} == set(EXERCISES), "at least one mistake per exercise"
    for mistake in MISTAKES:
        assert mistake.test == EXERCISES[mistake.cell][1]
    assert_mistakes_plant(source, MISTAKES)


def test_release_keeps_stubs_and_drops_solutions() -> None:
    """Does the released notebook keep every stub but no solution, hidden test or output?"""
    released = nbformat.read(release_path(ASSIGNMENT), as_version=4)
    assert_release_drops_solutions(released, {cell: {cell: number} for cell, (number, _, _) in EXERCISES.items()})


def test_no_solution_or_hidden_line_leaks() -> None:
    """Does no line of this notebook's solutions or hidden tests appear in a release or in utils/?"""
    assert_no_leaks(ASSIGNMENT)


# ------------------------------------------------------------------- executed (slow)

@pytest.mark.slow
def test_solution_runs_cleanly_in_a_few_seconds(executed_solution: tuple) -> None:
    """Does the solution run top to bottom in a fresh kernel without an error, in seconds?"""
    assert_runs_cleanly(executed_solution, seconds_allowed=60)


@pytest.mark.slow
def test_visible_tests_print_feedback(executed_solution: tuple) -> None:
    """Does every test cell print what the checker found when the answer is right?"""
    ran, _ = executed_solution
    for test_id in TESTS:
        text = output_text(cell_by_grade_id(ran, test_id))
        assert "ok" in text, f"{test_id} printed {text!r}"


@pytest.mark.slow
def test_sigmoid_neuron_reproduces_the_lecture_numbers(executed_solution: tuple) -> None:
    """Does the CS231n sigmoid-neuron example reproduce -0.53, -0.20, 0.20, 0.73 and 0.4 / -0.2?"""
    ran, _ = executed_solution
    text = printed(cell_by_grade_id(ran, "example_sigmoid_neuron"))
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
    text = printed(cell_by_grade_id(ran, "step_size_plot"))
    best = {m.group(1): (float(m.group(2)), float(m.group(3)))
            for m in re.finditer(r"(\w+, float\d\d)\s+best h = (\S+)\s+error = (\S+)", text)}
    assert set(best) == {"forward, float64", "central, float64", "forward, float32", "central, float32"}
    assert 1e-7 <= best["central, float64"][0] <= 1e-4 and best["central, float64"][1] < 1e-9
    assert best["forward, float64"][0] < best["central, float64"][0]
    assert best["central, float32"][1] > 1e3 * best["central, float64"][1]
    measured = re.search(r"off by (\S+) in float64 and by (\S+) in float32, (\S+) times more", text)
    assert measured, "the float32/float64 comparison is computed and printed, not quoted"
    assert float(measured.group(1)) == pytest.approx(best["central, float64"][1], rel=0.5)
    assert float(measured.group(2)) == pytest.approx(best["central, float32"][1], rel=0.5)


@pytest.mark.slow
def test_checker_tour_shows_each_diagnosis(executed_solution: tuple) -> None:
    """Does the tour of the checker label the five bowl gradients ok, sign, scale, partial, wrong?"""
    ran, _ = executed_solution
    text = printed(cell_by_grade_id(ran, "checker_diagnoses"))
    found = re.findall(r"^(right|sign flipped|halved|forgot the 10|entries swapped)\s+(?:yes|NO)\s+(\w+)", text, re.M)
    assert found == [("right", "ok"), ("sign flipped", "sign"), ("halved", "scale"),
                     ("forgot the 10", "partial"), ("entries swapped", "wrong")]


@pytest.mark.slow
def test_learning_rates_crawl_converge_and_diverge(executed_solution: tuple) -> None:
    """Do the three learning rates on the bowl end too high, near 0, and blown up?"""
    ran, _ = executed_solution
    text = printed(cell_by_grade_id(ran, "learning_rate_plot"))
    losses = {m.group(1): float(m.group(2)) for m in re.finditer(r"(\w+): alpha = \S+\s+J after 30 steps = (\S+)", text)}
    assert set(losses) == {"small", "good", "divergent"}
    assert losses["good"] < 1e-3 < losses["small"] < losses["divergent"] and losses["divergent"] > 100


@pytest.mark.slow
def test_figures_render(executed_solution: tuple) -> None:
    """Are the tangent, contour, step-size and learning-rate figures produced and not blank?"""
    ran, _ = executed_solution
    for grade_id in ("tangent_plot", "bowl_plot", "step_size_plot", "learning_rate_plot"):
        assert cell_figures(ran, grade_id), grade_id
    images = figures(ran)
    assert len(images) >= 4
    for png in images:
        assert_picture(png)


@pytest.mark.slow
def test_release_errors_only_at_stubs(executed_release: nbformat.NotebookNode) -> None:
    """Does the released notebook fail only with the stubs' NotImplementedError, every test included?"""
    failed_ids = assert_release_fails_only_at_stubs(executed_release, {n for n, _, _ in EXERCISES.values()})
    assert set(TESTS) <= failed_ids
    assert not cell_figures(executed_release, "tangent_plot"), "no half-drawn figure under an unfinished exercise"


@pytest.mark.slow
@pytest.mark.parametrize("mistake", MISTAKES, ids=[m.name for m in MISTAKES])
def test_planted_mistake_fails_with_its_diagnosis(mistake: Mistake, planted_runs: dict) -> None:
    """Does the visible test fail on this typical mistake, printing the matching [diagnosis]?"""
    assert_diagnosed(error_text(cell_by_grade_id(planted_runs[mistake.name], mistake.test)), mistake)


@pytest.mark.slow
def test_untouched_exercises_pass_with_another_seed(planted_runs: dict) -> None:
    """With mistakes planted elsewhere and a new grading seed, do the other tests (hidden parts too) pass?"""
    assert_untouched_tests_pass(planted_runs, MISTAKES, TESTS)
