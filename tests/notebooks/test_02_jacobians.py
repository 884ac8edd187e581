"""Notebook 2, Jacobians: does the solution run and reproduce the lecture's numbers, does the
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
STUBS = {cell: {name: number for name in (VJP_FUNCTIONS if cell == "vector_jacobian_products" else (cell,))}
         for cell, (number, _, _) in EXERCISES.items()}
"""Answer cell -> {function it defines: exercise number}."""
TESTS = [test for _, test, _ in EXERCISES.values()]
WRITTEN = {"written_shape_convention": 2}  # markdown answers the TA grades by hand
DERIVATIONS = {  # answer -> (its statement, the derivation after its test, the final formula it reveals)
    "sigmoid_jacobian": ("activation_md", "sigmoid_jacobian_derivation", r"\text{diag}(\mathbf{f}'(\mathbf{z}))"),
    "affine_jacobians": ("affine_md", "affine_derivation", r"(W\mathbf{x} + \mathbf{b}) = W"),
    "dot_jacobian": ("dot_md", "dot_derivation", r"= \mathbf{h}^T"),
    "softmax_jacobian": ("softmax_md", "softmax_derivation", r"\text{diag}(\mathbf{p}) - \mathbf{p}\mathbf{p}^T"),
    "weight_gradient": ("weight_gradient_md", "weight_gradient_derivation", r"\delta^T}_{n \times 1}"),
    "vector_jacobian_products": ("vjp_md", "vjp_derivation", r"\mathbf{p} \circ \left(\mathbf{v} - \mathbf{v}^T\mathbf{p}\right)"),
}
DEMO_CELLS = ("small_example", "example_relu_cases", "example_ds_db", "jacobian_heatmaps",
              "example_entry_by_entry", "example_l2_norm", "vjp_timing")
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
        stubs = answer_stubs(cell)
        assert list(stubs) == list(STUBS[grade_id]) and stubs == STUBS[grade_id]
        assert "Returns:" in cell.source and "shape" in cell.source, f"{grade_id}: shapes in docstring"


def test_every_exercise_has_a_graded_test_with_a_hidden_part(source: nbformat.NotebookNode) -> None:
    """Does each exercise have a pointed test with a docstring, a literal seed and fresh hidden inputs?"""
    assert_graded_tests(code_only(source), {test: points for _, test, points in EXERCISES.values()}, total=12)


def test_written_question_is_manually_graded_and_leaves_80_percent_auto(source: nbformat.NotebookNode) -> None:
    """Is the written question a TA-graded markdown answer with a model answer, released as
    'YOUR ANSWER HERE', and do at least 80% of the points stay auto-graded?"""
    assert_written_questions(ASSIGNMENT, source, WRITTEN)


def test_derivations_come_after_their_tests(source: nbformat.NotebookNode) -> None:
    """Is each full derivation a collapsed block right after its exercise's test, its final formula
    absent from the exercise's statement and docstring (and from the introduction)?"""
    ids = [meta(c).get("grade_id") for c in source.cells]
    for answer, (statement, derivation, final) in DERIVATIONS.items():
        assert ids.index(derivation) == ids.index(EXERCISES[answer][1]) + 1
        assert "<details>" in cell_by_grade_id(source, derivation).source
        assert final in cell_by_grade_id(source, derivation).source, answer
        above = cell_by_grade_id(source, statement).source + cell_by_grade_id(source, answer).source
        assert final not in above + cell_by_grade_id(source, "intro").source, answer
    for text in ("diag(p) - p p^T", "delta_i * x_j", "diag(sigma'(z))", "h^T"):
        assert not any(text in c.source for c in cells_with(code_only(source), "solution")), text


def test_visible_tests_use_non_square_shapes(source: nbformat.NotebookNode) -> None:
    """Do the visible affine and weight-gradient tests use a W with distinct sizes (a transpose shows)?"""
    for test_id in ("test_affine_jacobians", "test_weight_gradient"):
        visible = cell_by_grade_id(source, test_id).source.split("### BEGIN HIDDEN TESTS")[0]
        shape = re.search(r"W = rng\.normal\(size=\((\d+), (\d+)\)\)", visible).groups()
        assert shape[0] != shape[1], test_id


def test_no_figure_is_shown_twice(source: nbformat.NotebookNode) -> None:
    """Does each cell call plt.show() at most once?"""
    assert all(c.source.count("plt.show()") <= 1 for c in source.cells if c.cell_type == "code")


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
    assert_release_drops_solutions(nbformat.read(release_path(ASSIGNMENT), as_version=4), STUBS)


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
def test_relu_cases_reproduce_the_notes(executed_solution: tuple) -> None:
    """Are the four ReLU sign cases (12)-(15) of the CS231n notes reproduced row by row?"""
    ran, _ = executed_solution
    text = printed(cell_by_grade_id(ran, "example_relu_cases"))
    rows = re.findall(r"\((1[2-5])\) z = .*?dh1/dz = \[([^\]]+)\]\s+dh2/dz = \[([^\]]+)\]", text)
    found = {case: ([float(v) for v in h1.split()], [float(v) for v in h2.split()]) for case, h1, h2 in rows}
    assert found == {"12": ([1, 0], [0, 1]), "13": ([1, 0], [0, 0]),
                     "14": ([0, 0], [0, 1]), "15": ([0, 0], [0, 0])}


@pytest.mark.slow
def test_ds_db_is_u_times_f_prime(executed_solution: tuple) -> None:
    """Does u^T diag(f'(z)) I print the same numbers as u o f'(z) and pass the gradient check?"""
    ran, _ = executed_solution
    text = printed(cell_by_grade_id(ran, "example_ds_db"))
    chained = re.search(r"u\^T diag\(f'\(z\)\) I = \[([^\]]+)\]", text).group(1).split()
    elementwise = re.search(r"u\^T o f'\(z\)\s+= \[([^\]]+)\]", text).group(1).split()
    assert chained == elementwise and len(chained) == 3


@pytest.mark.slow
def test_l2_example_reproduces_the_slide(executed_solution: tuple) -> None:
    """Does ||W x||^2 give q = (0.22, 0.26), f = 0.116, 2 q x^T and 2 W^T q as on the CS231n slide?"""
    ran, _ = executed_solution
    text = printed(cell_by_grade_id(ran, "example_l2_norm"))
    assert "q = [0.22 0.26], f = 0.116" in text
    assert "df/dq = [0.44 0.52]" in text and "df/dx = [-0.112  0.636]" in text
    rows = re.search(r"df/dW =\s*\[\[([^\]]+)\]\s*\[([^\]]+)\]\]", text).groups()
    assert [float(v) for row in rows for v in row.split()] == [0.088, 0.176, 0.104, 0.208]
    assert "Jacobian form has shape (4,) ; shape convention has shape (2, 2) = W.shape" in text


@pytest.mark.slow
def test_entry_by_entry_check_and_softmax_columns(executed_solution: tuple) -> None:
    """Is dz/dW checked entry by entry (3 x 3 x 4, 12 non-zeros) and do softmax columns sum to 0?"""
    ran, _ = executed_solution
    text = printed(cell_by_grade_id(ran, "example_entry_by_entry"))
    assert "shape (3, 3, 4) -> 36 numbers, 12 non-zero" in text
    assert "checked entry by entry" in text
    sums = re.search(r"column sums of the softmax Jacobian: \[([^\]]+)\]",
                     printed(cell_by_grade_id(ran, "jacobian_heatmaps"))).group(1).split()
    assert [float(v) for v in sums] == [0.0] * 6


@pytest.mark.slow
def test_vjp_timing_is_reported(executed_solution: tuple) -> None:
    """Does the timing cell report both routes for every n, with the Jacobian's memory (no timing asserted)?"""
    ran, _ = executed_solution
    text = printed(cell_by_grade_id(ran, "vjp_timing"))
    rows = re.findall(r"^\s*(\d+)\s+\S+ms\s+\S+ms\s+\d+x\s+([\d.]+) MB$", text, re.M)
    assert [int(n) for n, _ in rows] == [100, 200, 400, 800, 1600, 3200]
    assert float(rows[-1][1]) == 81.9  # 3200 x 3200 float64


@pytest.mark.slow
def test_figures_render(executed_solution: tuple) -> None:
    """Are the Jacobian heatmaps, the dz/dW block picture and the timing plot produced and not blank?"""
    ran, _ = executed_solution
    for grade_id in ("jacobian_heatmaps", "example_entry_by_entry", "vjp_timing"):
        assert cell_figures(ran, grade_id), grade_id
    images = figures(ran)
    assert len(images) >= 3
    for png in images:
        assert_picture(png)


@pytest.mark.slow
def test_release_errors_only_at_stubs(executed_release: nbformat.NotebookNode) -> None:
    """Does the released notebook fail only with the stubs' NotImplementedError, every test included?"""
    failed_ids = assert_release_fails_only_at_stubs(executed_release, {n for n, _, _ in EXERCISES.values()})
    assert set(TESTS) <= failed_ids


@pytest.mark.slow
@pytest.mark.parametrize("mistake", MISTAKES, ids=[m.name for m in MISTAKES])
def test_planted_mistake_fails_with_its_diagnosis(mistake: Mistake, planted_runs: dict) -> None:
    """Does the visible test fail on this typical mistake, printing the matching [diagnosis]?"""
    assert_diagnosed(error_text(cell_by_grade_id(planted_runs[mistake.name], mistake.test)), mistake)


@pytest.mark.slow
def test_untouched_exercises_pass_with_another_seed(planted_runs: dict) -> None:
    """With mistakes planted elsewhere and a new grading seed, do the other tests (hidden parts too) pass?"""
    assert_untouched_tests_pass(planted_runs, MISTAKES, TESTS)
