"""Notebook 3, chain rule and computational graphs: does the solution run and reproduce the
lecture's numbers, does the release fail only at its stubs, and does each visible test catch
its planted mistake with the right diagnosis?"""

from __future__ import annotations

import copy
import io
import re
import time

import matplotlib

matplotlib.use("Agg")

import matplotlib.image as mpimg  # noqa: E402
import nbformat  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from autograder.mistakes import Mistake, load_mistakes, plant  # noqa: E402
from tests.notebooks.harness import (  # noqa: E402
    cell_by_grade_id, error_text, errored_cells, execute, figures, release_path,
    solution_path,
)
from utils.graph import Graph, path_sum_gradients  # noqa: E402

ASSIGNMENT = "03_chain_rule"
MISTAKES = load_mistakes(ASSIGNMENT)
GATE_RULES = ("add_backward", "mul_backward", "max_backward", "exp_backward",
              "inverse_backward", "sigmoid_backward")


def _meta(cell: nbformat.NotebookNode) -> dict:
    return cell.metadata.get("nbgrader", {})


def _answers(nb: nbformat.NotebookNode) -> list[nbformat.NotebookNode]:
    return [c for c in nb.cells if _meta(c).get("solution")]


def _tests(nb: nbformat.NotebookNode) -> list[nbformat.NotebookNode]:
    return [c for c in nb.cells if _meta(c).get("grade")]


@pytest.fixture(scope="module")
def source() -> nbformat.NotebookNode:
    return nbformat.read(solution_path(ASSIGNMENT), as_version=4)


@pytest.fixture(scope="module")
def solution(source: nbformat.NotebookNode) -> dict:
    """The solution's exercise functions, executed outside a kernel."""
    namespace: dict = {"np": np}
    for cell in _answers(source):
        exec(compile(cell.source, _meta(cell)["grade_id"], "exec"), namespace)  # noqa: S102
    return namespace


@pytest.fixture(scope="module")
def executed_solution(source: nbformat.NotebookNode) -> tuple[nbformat.NotebookNode, float]:
    start = time.perf_counter()
    ran = execute(source, solution_path(ASSIGNMENT).parent)
    return ran, time.perf_counter() - start


@pytest.fixture(scope="module")
def executed_release() -> nbformat.NotebookNode:
    path = release_path(ASSIGNMENT)
    return execute(nbformat.read(path, as_version=4), path.parent)


def _rounds(mistakes: list[Mistake]) -> list[list[Mistake]]:
    """Group mistakes so that no round plants two into the same cell or checks one test twice."""
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
def planted_runs(source: nbformat.NotebookNode) -> dict[str, nbformat.NotebookNode]:
    """Each mistake's name -> its visible test cell, executed after the mistake was planted.

    One kernel runs everything: the setup cells, then per round the (planted) answer cells and
    the visible tests of that round's mistakes. Test cells are self-contained by convention, so
    the demo cells are left out; each round redefines every exercise, so no mistake leaks into
    another round.
    """
    cells = [copy.deepcopy(c) for c in source.cells if _meta(c).get("grade_id") in ("setup", "seed")]
    where: dict[str, int] = {}
    for group in _rounds(MISTAKES):
        nb = source
        for mistake in group:
            nb = plant(nb, mistake)
        cells += [copy.deepcopy(c) for c in _answers(nb)]
        for mistake in group:
            where[mistake.name] = len(cells)
            cells.append(copy.deepcopy(cell_by_grade_id(nb, mistake.test)))
    for index, cell in enumerate(cells):
        cell["id"] = f"planted-{index}"
    combined = nbformat.v4.new_notebook(cells=cells, metadata=copy.deepcopy(source.metadata))
    ran = execute(combined, solution_path(ASSIGNMENT).parent)
    return {name: ran.cells[index] for name, index in where.items()}


# --------------------------------------------------------------------- structure (fast)

def test_structure_follows_the_conventions(source: nbformat.NotebookNode) -> None:
    """Does every answer end in its task-named stub and every test carry points and a docstring?"""
    answers = _answers(source)
    assert len(answers) == 9
    for number, cell in enumerate(answers, start=1):
        names = re.findall(r"^def (\w+)\(", cell.source, re.M)
        assert names == [_meta(cell)["grade_id"]], "one top-level def named like its cell"
        assert f'raise NotImplementedError("Exercise 3.{number}: {names[0]}")' in cell.source
        docstring = cell.source.split('"""')[1]
        assert "Args:" in docstring and "Returns:" in docstring and "shape" in docstring
    tests = _tests(source)
    assert sum(_meta(c)["points"] for c in tests) == 20
    for cell in tests:
        grade_id = _meta(cell)["grade_id"]
        assert re.fullmatch(r"test_[a-z0-9_]+", grade_id)
        assert _meta(cell)["points"] > 0
        assert re.match(r'"""[^\n]+\?"""\n', cell.source), f"{grade_id}: one-line docstring"
        if "### BEGIN HIDDEN TESTS" in cell.source:
            assert f'fresh_rng("{grade_id}")' in cell.source
            assert "hidden=True" in cell.source
    hidden = {_meta(c)["grade_id"] for c in tests if "BEGIN HIDDEN TESTS" in c.source}
    assert hidden == {f"test_{_meta(c)['grade_id']}" for c in answers}
    seeds = [c for c in source.cells if c.cell_type == "code"
             and c.source.strip() == "rng = np.random.default_rng(0)"]
    assert len(seeds) == 1
    assert all(not c.get("outputs") for c in source.cells if c.cell_type == "code")


def test_utils_graph_holds_no_gate_gradient(source: nbformat.NotebookNode) -> None:
    """Does any line of a gate-rule solution appear in the utils.graph engine?"""
    import utils.graph as graph_package
    from pathlib import Path

    engine = "\n".join(p.read_text() for p in Path(graph_package.__file__).parent.glob("*.py"))
    engine_lines = {line.strip() for line in engine.splitlines()}
    for name in GATE_RULES:
        body = cell_by_grade_id(source, name).source.split("### BEGIN SOLUTION")[1]
        body = body.split("### END SOLUTION")[0]
        for line in filter(None, (raw.strip() for raw in body.splitlines())):
            assert line not in engine_lines, f"{name}: {line!r} is in utils/graph"


def test_mistakes_file_is_well_formed(source: nbformat.NotebookNode) -> None:
    """Does each planted mistake name a real answer cell, its visible test, and text found once?"""
    assert len(MISTAKES) >= 8
    answer_ids = {_meta(c)["grade_id"] for c in _answers(source)}
    test_ids = {_meta(c)["grade_id"] for c in _tests(source)}
    for mistake in MISTAKES:
        assert mistake.cell in answer_ids and mistake.test in test_ids
        assert mistake.test == f"test_{mistake.cell}"
        plant(source, mistake)  # raises unless `find` occurs exactly once
    assert {m.diagnosis for m in MISTAKES} >= {"swapped", "sign", "transposed", "scale"}


# --------------------------------------------------------------- worked numbers (fast)

def _rules(solution: dict) -> dict:
    return {name.removesuffix("_backward"): solution[name] for name in GATE_RULES}


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
    grads = g.backward(_rules(solution))
    assert (grads["x"], grads["y"], grads["z"]) == (2.0, 5.0, 0.0)
    assert (grads["a"], grads["b"]) == (2.0, 3.0)


def test_simple_example_gives_minus4_minus4_3(solution: dict) -> None:
    """Does q = x + y, f = qz at (-2, 5, -4) give f = -12 and gradients (-4, -4, 3)?"""
    g = Graph()
    x, y, z = g.input("x", -2.0), g.input("y", 5.0), g.input("z", -4.0)
    g.mul(g.add(x, y), z)
    assert g.forward() == -12.0
    grads = g.backward(_rules(solution))
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
    grads = g.backward(_rules(solution))
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
    fast = g.backward(_rules(solution))
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
        if cell.cell_type == "code" and (_meta(cell).get("grade_id") in ("setup", "seed")
                                         or _meta(cell).get("solution")):
            exec(compile(cell.source, "setup", "exec"), namespace)  # noqa: S102
    for cell in _tests(source):
        exec(compile(cell.source, _meta(cell)["grade_id"], "exec"), dict(namespace))  # noqa: S102


# ----------------------------------------------------------- executed notebooks (slow)

@pytest.mark.slow
def test_solution_runs_cleanly_and_quickly(executed_solution) -> None:
    """Does the solution run top to bottom in a fresh kernel without an error, in seconds?"""
    ran, seconds = executed_solution
    assert errored_cells(ran) == []
    assert seconds < 60, f"the solution took {seconds:.1f} s (kernel start included)"


def _printed(cell: nbformat.NotebookNode) -> str:
    """What a cell printed, joined without separators (a busy kernel may split one line over
    several stream messages)."""
    return "".join(out.text for out in cell.get("outputs", [])
                   if out.output_type == "stream" and out.name == "stdout")


@pytest.mark.slow
def test_solution_prints_the_worked_numbers(executed_solution) -> None:
    """Does the executed solution show the lecture's numbers where a student reads them?"""
    ran, _ = executed_solution
    text = "\n".join(_printed(c) for c in ran.cells if c.cell_type == "code")
    for expected in ("df/dx, df/dy, df/dz = -4.0 -4.0 3.0",
                     "df/dx, df/dy, df/dz = 2.0 5.0 0.0", "f = 0.73",
                     "df/dw = [-0.2  -0.39  0.2 ]", "df/dx = [ 0.39 -0.59]",
                     "(df/dx, df/dy, df/dz) = (2, 5, 0) -- ok",
                     "one sigmoid gate: f = 0.73, df/dw = (-0.20, -0.39, 0.20)",
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
    assert len(pictures) == 5
    for png in pictures:
        image = mpimg.imread(io.BytesIO(png), format="png")
        assert image.shape[0] > 200 and image.shape[1] > 300
        assert image[..., :3].std() > 0.05, "a blank figure"


@pytest.mark.slow
def test_release_fails_only_at_the_stubs(executed_release) -> None:
    """Does the released notebook error only with the exercise stubs, and every test cell fail?"""
    errors = errored_cells(executed_release)
    assert errors, "the release should not pass with stubs"
    for index, grade_id, first_line in errors:
        text = error_text(executed_release.cells[index])
        assert re.search(r'NotImplementedError: Exercise 3\.\d: \w+', text), (grade_id, first_line)
    failed = {grade_id for _, grade_id, _ in errors}
    assert failed >= {_meta(c)["grade_id"] for c in _tests(executed_release)}
    assert not any(_meta(c).get("solution") and error_text(c) for c in executed_release.cells)
    assert len(figures(executed_release)) >= 1  # the forward-pass drawing needs no exercise


@pytest.mark.slow
@pytest.mark.parametrize("mistake", MISTAKES, ids=[m.name for m in MISTAKES])
def test_planted_mistake_is_diagnosed(planted_runs, mistake: Mistake) -> None:
    """Does the visible test fail on the planted mistake with the matching [diagnosis]?"""
    text = error_text(planted_runs[mistake.name])
    assert text.startswith("AssertionError"), f"{mistake.name}: {text[:300] or 'no error'}"
    assert f"[{mistake.diagnosis}]" in text.splitlines()[0], f"{mistake.name}: {text[:300]}"
