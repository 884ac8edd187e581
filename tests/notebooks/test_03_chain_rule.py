"""Notebook 3, chain rule and computational graphs: does the solution run and reproduce the
lecture's numbers, does the release fail only at its stubs, and does each visible test catch
its planted mistake with the right diagnosis?"""

from __future__ import annotations

import re

import matplotlib

matplotlib.use("Agg")

import nbformat  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from autograder.mistakes import Mistake, load_mistakes  # noqa: E402
from tests.notebooks.harness import (  # noqa: E402
    assert_written_questions,
    answer_stubs, assert_diagnosed, assert_mistakes_plant, assert_picture, assert_release_fails_only_at_stubs,
    assert_runs_cleanly, cell_by_grade_id, cells_with, error_text, exec_cells, executed_release_fixture,
    executed_solution_fixture, figures, meta, planted_tests_fixture, printed, release_path, source_fixture,
)
from utils.graph import Graph, path_sum_gradients  # noqa: E402

ASSIGNMENT = "03_chain_rule"
MISTAKES = load_mistakes(ASSIGNMENT)
GATE_RULES = ("add_backward", "mul_backward", "max_backward", "exp_backward",
              "inverse_backward", "sigmoid_backward")
ENGINE = ("topological_order", "backward_pass")
WRITTEN = {"written_delta_reuse": 2, "written_dead_relu": 2}


source = source_fixture(ASSIGNMENT)
executed_solution = executed_solution_fixture(ASSIGNMENT)
executed_release = executed_release_fixture(ASSIGNMENT)
planted_runs = planted_tests_fixture(ASSIGNMENT, MISTAKES, keep=("setup", "seed", "checker_imports"))


@pytest.fixture(scope="module")
def released() -> nbformat.NotebookNode:
    """The student notebook, as released (not executed)."""
    return nbformat.read(release_path(ASSIGNMENT), as_version=4)


def code_cells_with(nb: nbformat.NotebookNode, key: str) -> list[nbformat.NotebookNode]:
    """cells_with, less the written (markdown) answers: the code answers or the code tests."""
    return [c for c in cells_with(nb, key) if c.cell_type == "code"]


@pytest.fixture(scope="module")
def solution(source: nbformat.NotebookNode) -> dict:
    """The solution's exercise functions, executed outside a kernel."""
    return exec_cells(code_cells_with(source, "solution"))


# --------------------------------------------------------------------- structure (fast)

def test_structure_follows_the_conventions(source: nbformat.NotebookNode) -> None:
    """Does every answer end in its task-named stub and every test carry points and a docstring?"""
    answers = code_cells_with(source, "solution")
    assert len(answers) == 11
    for number, cell in enumerate(answers, start=1):
        assert answer_stubs(cell) == {meta(cell)["grade_id"]: f"3.{number}"}, "one def named like its cell"
        docstring = cell.source.split('"""')[1]
        assert "Args:" in docstring and "Returns:" in docstring
        assert "shape" in docstring or meta(cell)["grade_id"] in ENGINE
    tests = code_cells_with(source, "grade")
    assert sum(meta(c)["points"] for c in tests) == 25
    for cell in tests:
        grade_id = meta(cell)["grade_id"]
        assert re.fullmatch(r"test_[a-z0-9_]+", grade_id)
        assert meta(cell)["points"] > 0
        assert re.match(r'"""[^\n]+\?"""\n', cell.source), f"{grade_id}: one-line docstring"
        if "### BEGIN HIDDEN TESTS" in cell.source:
            assert f'fresh_rng("{grade_id}")' in cell.source
            assert "hidden=True" in cell.source
    hidden = {meta(c)["grade_id"] for c in tests if "BEGIN HIDDEN TESTS" in c.source}
    assert hidden == {f"test_{meta(c)['grade_id']}" for c in answers}
    seeds = [c for c in source.cells if c.cell_type == "code"
             and c.source.strip() == "rng = np.random.default_rng(0)"]
    assert len(seeds) == 1
    assert all(not c.get("outputs") for c in source.cells if c.cell_type == "code")


def test_written_questions_are_manually_graded(source: nbformat.NotebookNode) -> None:
    """Are the written questions markdown answer cells for the TA (points, model answer), and do
    at least 80% of the points stay auto-graded?"""
    assert_written_questions(ASSIGNMENT, source, WRITTEN)
    for grade_id in WRITTEN:
        assert len(cell_by_grade_id(source, grade_id).source) > 300


def test_release_asks_the_written_questions(released: nbformat.NotebookNode) -> None:
    """Does the student copy keep each question and replace each model answer with 'YOUR ANSWER HERE'?"""
    for grade_id in WRITTEN:
        cell = cell_by_grade_id(released, grade_id)
        assert cell.cell_type == "markdown" and cell.source.strip() == "YOUR ANSWER HERE"
        assert meta(cell)["grade"] and meta(cell)["solution"]
    text = "\n".join(c.source for c in released.cells)
    assert "Model answer" not in text and "Written question (2 points" in text


def test_derivations_follow_their_tests(source: nbformat.NotebookNode) -> None:
    """Is each full derivation revealed only after its exercise's test, and no final formula
    (delta^T x^T, 2 h^T y, 2 X^T(...)) left above an exercise?"""
    ids = [meta(c).get("grade_id") for c in source.cells]
    for answer, derivation in (("hidden_jacobian", "hidden_jacobian_derivation"),
                               ("score_backward", "score_backward_derivation"),
                               ("sigmoid_backward", "sigmoid_derivation"),
                               ("two_layer_backward", "two_layer_derivation")):
        assert ids.index(derivation) == ids.index(f"test_{answer}") + 1
        assert "<details>" in cell_by_grade_id(source, derivation).source
    before = {"score_backward": "network_md", "two_layer_backward": "two_layer_exercise_md",
              "sigmoid_backward": "sigmoid_md", "hidden_jacobian": "jacobian_md"}
    for answer, statement in before.items():
        text = cell_by_grade_id(source, statement).source + cell_by_grade_id(source, answer).source
        for formula in (r"\delta^T x^T", "2h^Ty", r"1[z > 0])", r"(1 - \sigma(x))\,\sigma(x)",
                        r"\mathrm{diag}(f'(z))\,W", "diag(f'(z)) @ W", "u o f'(z)"):
            assert formula not in text, (answer, formula)


def test_notes_motivation_and_layer_count_are_taught(source: nbformat.NotebookNode) -> None:
    """Does the notebook say why to learn backprop (a leaky abstraction), count the layers of a
    '2-layer net' by its weight matrices, and fix the notes' 'exactly 0.39' to 'more precisely'?"""
    intro = cell_by_grade_id(source, "intro").source
    assert "leaky abstraction" in intro and "training goes wrong" in intro
    layers = cell_by_grade_id(source, "two_layer_md").source
    assert "**2-layer net**" in layers and "count the layers that have weights" in layers
    assert "draw_layered_network([3, 4, 2]" in cell_by_grade_id(source, "two_layer_figure").source
    text = "\n".join(c.source for c in source.cells)
    assert "exactly $0.39$" not in text and "more precisely $0.39$" in text


def test_utils_graph_holds_no_gate_gradient(source: nbformat.NotebookNode) -> None:
    """Does any line of a gate-rule, topological-order or backward-pass solution appear in the
    utils.graph engine?"""
    import utils.graph as graph_package
    from pathlib import Path

    engine = "\n".join(p.read_text() for p in Path(graph_package.__file__).parent.glob("*.py"))
    engine_lines = {line.strip() for line in engine.splitlines()}
    for name in GATE_RULES + ENGINE:
        body = cell_by_grade_id(source, name).source.split("### BEGIN SOLUTION")[1]
        body = body.split("### END SOLUTION")[0]
        for line in filter(None, (raw.strip() for raw in body.splitlines())):
            assert line not in engine_lines, f"{name}: {line!r} is in utils/graph"


def test_mistakes_file_is_well_formed(source: nbformat.NotebookNode) -> None:
    """Does each planted mistake name a real answer cell, its visible test, and text found once?"""
    assert len(MISTAKES) >= 8
    assert_mistakes_plant(source, MISTAKES)
    for mistake in MISTAKES:
        assert mistake.test == f"test_{mistake.cell}"
    assert {m.diagnosis for m in MISTAKES} >= {"swapped", "sign", "transposed", "scale"}


# --------------------------------------------------------------- worked numbers (fast)

def _rules(solution: dict) -> dict:
    return {name.removesuffix("_backward"): solution[name] for name in GATE_RULES}


def test_engine_solution_agrees_with_path_sums(solution: dict) -> None:
    """On graphs with shared nodes and repeated inputs, do the solution's order and backward
    pass give the path sums' gradients, each gate's rule called once?"""
    rng = np.random.default_rng(7)
    for _ in range(5):
        g = Graph()
        nodes = [g.input(f"x{k}", rng.normal()) for k in range(3)]
        for _ in range(8):
            a, b = (nodes[int(i)] for i in rng.integers(0, len(nodes), size=2))
            nodes.append(getattr(g, str(rng.choice(["add", "mul", "max"])))(a, b))
            nodes.append(g.sigmoid(nodes[-1]))
        g.forward()
        order = solution["topological_order"](g.inputs_of())
        position = {name: k for k, name in enumerate(order)}
        assert sorted(order) == sorted(g.nodes)
        assert all(position[i] < position[n] for n, reads in g.inputs_of().items() for i in reads)
        fast = g.backward(_rules(solution), solution["backward_pass"])
        assert g.rule_calls == sum(n.is_gate for n in g.nodes.values())
        slow = path_sum_gradients(g, _rules(solution))
        for name, grad in slow.grads.items():
            assert fast[name] == pytest.approx(grad, rel=1e-9, abs=1e-12)


def test_scalar_chain_rule_is_6x() -> None:
    """Is dz/dx = 6x for z = 3y, y = x^2, by finite differences?"""
    for x in (-1.0, 0.5, 2.0):
        h = 1e-6
        slope = (3 * (x + h) ** 2 - 3 * (x - h) ** 2) / (2 * h)
        assert slope == pytest.approx(6 * x, rel=1e-7)


def test_example_gives_2_5_0(solution: dict) -> None:
    """Does (x+y) max(y,z) at (1,2,0) give 6 and gradients (2, 5, 0) with the solution's rules?"""
    g = Graph()
    x, y, z = g.input("x", 1.0), g.input("y", 2.0), g.input("z", 0.0)
    g.mul(g.add(x, y, name="a"), g.max(y, z, name="b"))
    assert g.forward() == 6.0
    grads = g.backward(_rules(solution), solution["backward_pass"])
    assert (grads["x"], grads["y"], grads["z"]) == (2.0, 5.0, 0.0)
    assert (grads["a"], grads["b"]) == (2.0, 3.0)


def test_simple_example_gives_minus4_minus4_3(solution: dict) -> None:
    """Does q = x + y, f = qz at (-2, 5, -4) give f = -12 and gradients (-4, -4, 3)?"""
    g = Graph()
    x, y, z = g.input("x", -2.0), g.input("y", 5.0), g.input("z", -4.0)
    g.mul(g.add(x, y), z)
    assert g.forward() == -12.0
    grads = g.backward(_rules(solution), solution["backward_pass"])
    assert (grads["x"], grads["y"], grads["z"]) == (-4.0, -4.0, 3.0)


@pytest.mark.parametrize("one_gate", [False, True], ids=["eight_gates", "sigmoid_gate"])
def test_sigmoid_neuron_numbers(solution: dict, one_gate: bool) -> None:
    """Does the neuron give 0.73, df/dw = (-0.20, -0.39, 0.20), df/dx = (0.39, -0.59)?"""
    g = Graph()
    w0, w1, w2 = g.input("w0", 2.0), g.input("w1", -3.0), g.input("w2", -3.0)
    x0, x1 = g.input("x0", -1.0), g.input("x1", -2.0)
    dot = g.add(g.add(g.mul(w0, x0), g.mul(w1, x1)), w2)
    if one_gate:
        g.sigmoid(dot)
    else:
        g.inverse(g.add(g.exp(g.mul(dot, -1.0)), 1.0))
    assert round(g.forward(), 2) == 0.73
    grads = g.backward(_rules(solution), solution["backward_pass"])
    assert [round(grads[n], 2) for n in ("w0", "w1", "w2")] == [-0.20, -0.39, 0.20]
    assert [round(grads[n], 2) for n in ("x0", "x1")] == [0.39, -0.59]
    if not one_gate:  # the lecture's backward steps 1) to 4)
        assert [round(s.downstream[0], 2) for s in g.trace[:4]] == [-0.53, -0.53, -0.20, 0.20]


def test_max_tie_goes_to_first_input(solution: dict) -> None:
    """Does max_backward send the whole gradient to x on a tie, as the notebook documents?"""
    dx, dy = solution["max_backward"](2.0, 2.0, 1.5)
    assert (float(dx), float(dy)) == (1.5, 0.0)


def test_score_backward_reuses_delta_and_matches_path_sums(solution: dict) -> None:
    """Are ds/db = u o f'(z) and ds/dW = delta^T x^T, equal to the graph's path sums?"""
    rng = np.random.default_rng(3)
    W, x, b, u = rng.normal(size=(2, 3)), rng.normal(size=3), rng.normal(size=2), rng.normal(size=2)
    grads = solution["score_backward"](W, x, b, u)
    sig = 1 / (1 + np.exp(-(W @ x + b)))
    assert np.allclose(grads["b"], u * sig * (1 - sig))
    assert np.allclose(grads["W"], np.outer(grads["b"], x))
    g = Graph()
    xs = [g.input(f"x{j}", x[j]) for j in range(3)]
    terms = []
    for i in range(2):
        z = g.input(f"b{i}", b[i])
        for j in range(3):
            z = g.add(z, g.mul(g.input(f"W{i}{j}", W[i, j]), xs[j]))
        terms.append(g.mul(g.input(f"u{i}", u[i]), g.sigmoid(z)))
    g.add(*terms)
    g.forward()
    fast = g.backward(_rules(solution), solution["backward_pass"])
    slow = path_sum_gradients(g, _rules(solution))
    assert np.allclose([[fast[f"W{i}{j}"] for j in range(3)] for i in range(2)], grads["W"])
    assert np.allclose([[slow.grads[f"W{i}{j}"] for j in range(3)] for i in range(2)], grads["W"])
    assert (g.rule_calls, slow.rule_calls) == (17, 85)  # delta recomputed for every parameter


def test_two_layer_and_relu_cases(solution: dict) -> None:
    """Does dL/dW2 = 2 h^T y, dL/dW1 = 2 X^T((y W2^T) o 1[z>0]) hold, in all four mask cases?"""
    X = np.array([[1.0, 2.0], [2.0, -1.0]])
    W2 = np.array([[0.5, -1.0]])
    expected = {(1.0, 1.0): [12.5, 12.5], (-1.0, 1.0): [2.5, 5.0], (1.0, -1.0): [15.0, -7.5],
                (-1.0, -1.0): [0.0, 0.0]}
    for (w11, w12), dW1 in expected.items():
        W1 = np.array([[w11], [w12]])
        grads = solution["two_layer_backward"](X, W1, W2)
        assert np.allclose(grads["W1"].ravel(), dW1)
        h = np.maximum(X @ W1, 0)
        assert np.allclose(grads["W2"], 2 * h.T @ (h @ W2))
    # With two hidden units a dead unit no longer zeroes y's row: the mask matters.
    W1 = np.array([[1.0, -1.0], [1.0, 1.0]])
    W2 = np.array([[0.5, -1.0], [1.0, 2.0]])
    z = X @ W1
    y = np.maximum(z, 0) @ W2
    masked = 2 * X.T @ ((y @ W2.T) * (z > 0))
    assert np.allclose(solution["two_layer_backward"](X, W1, W2)["W1"], masked)
    assert not np.allclose(masked, 2 * X.T @ (y @ W2.T))


@pytest.mark.parametrize("seed", ["1", "20261126", "987654321"])
def test_tests_pass_on_the_solution_for_any_grading_seed(source, seed, monkeypatch) -> None:
    """Do all test cells, hidden parts on fresh inputs and shapes included, pass the solution
    whatever seed the grader draws?"""
    monkeypatch.setenv("BACKPROP_LAB_SEED", seed)
    namespace: dict = {}
    for cell in source.cells:
        if cell.cell_type == "code" and (meta(cell).get("grade_id") in ("setup", "seed", "checker_imports")
                                         or meta(cell).get("solution")):
            exec(compile(cell.source, "setup", "exec"), namespace)  # noqa: S102
    for cell in code_cells_with(source, "grade"):
        exec(compile(cell.source, meta(cell)["grade_id"], "exec"), dict(namespace))  # noqa: S102


# ----------------------------------------------------------- executed notebooks (slow)

@pytest.mark.slow
def test_solution_runs_cleanly_and_quickly(executed_solution) -> None:
    """Does the solution run top to bottom in a fresh kernel without an error, in seconds?"""
    assert_runs_cleanly(executed_solution, seconds_allowed=60)


@pytest.mark.slow
def test_solution_prints_the_worked_numbers(executed_solution) -> None:
    """Does the executed solution show the lecture's numbers where a student reads them?"""
    ran, _ = executed_solution
    text = "\n".join(printed(c) for c in ran.cells if c.cell_type == "code")
    for expected in ("df/dx, df/dy, df/dz = -4.0 -4.0 3.0",
                     "df/dx, df/dy, df/dz = 2.0 5.0 0.0", "f = 0.73",
                     "df/dw = [-0.2  -0.39  0.2 ]", "df/dx = [ 0.39 -0.59]",
                     "(df/dx, df/dy, df/dz) = (2, 5, 0) -- ok",
                     "f = 0.73, df/dw = (-0.20, -0.39, 0.20), df/dx = (0.39, -0.59) with both graphs -- ok",
                     "all four cases of the ReLU mask match the notes -- ok"):
        assert expected in text
    assert re.search(r"f +inverse +1\.00 +-0\.53\nadd\d +add +-0\.53 +-0\.53, -0\.53\n"
                     r"exp\d +exp +-0\.53 +-0\.20\nmul\d +mul +-0\.20 +0\.20, -0\.20", text)
    assert "delta_1 and delta_2 computed 2 times" in text
    assert "delta_1 and delta_2 computed 14 times" in text


@pytest.mark.slow
def test_figures_are_drawn(executed_solution) -> None:
    """Are the graph drawings and the reuse plot produced, each a non-blank picture?"""
    ran, _ = executed_solution
    pictures = figures(ran)
    assert len(pictures) == 6
    for png in pictures:
        assert_picture(png, min_height=200, min_width=300)


@pytest.mark.slow
def test_release_fails_only_at_the_stubs(executed_release) -> None:
    """Does the released notebook error only with the exercise stubs, and every test cell fail?"""
    failed = assert_release_fails_only_at_stubs(executed_release, {f"3.{n}" for n in range(1, 12)})
    assert failed >= {meta(c)["grade_id"] for c in code_cells_with(executed_release, "grade")}
    assert not any(meta(c).get("solution") and error_text(c) for c in executed_release.cells)
    assert len(figures(executed_release)) == 2  # the forward pass and the 2-layer net need no exercise


@pytest.mark.slow
@pytest.mark.parametrize("mistake", MISTAKES, ids=[m.name for m in MISTAKES])
def test_planted_mistake_is_diagnosed(planted_runs, mistake: Mistake) -> None:
    """Does the visible test fail on the planted mistake with the matching [diagnosis]?"""
    assert_diagnosed(error_text(planted_runs[mistake.name]), mistake)
