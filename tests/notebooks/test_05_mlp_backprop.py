"""Notebook 5, backpropagation through an MLP: does the solution run, reproduce the lecture's numbers
and reach 95% on the digits; does the release fail only at its stubs; and does each visible test
catch its planted mistake with the right diagnosis?"""

from __future__ import annotations

import ast
import copy
import importlib.util
import io
import re
import subprocess
import sys
import time

import matplotlib

matplotlib.use("Agg")

import matplotlib.image as mpimg  # noqa: E402
import nbformat  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from hypothesis.extra.numpy import array_shapes, arrays  # noqa: E402

from autograder import REPO_ROOT  # noqa: E402
from autograder.mistakes import Mistake, load_mistakes, plant  # noqa: E402
from tests.notebooks.harness import (  # noqa: E402
    cell_by_grade_id, error_text, errored_cells, execute, figures, output_text, release_path,
    solution_path,
)

ASSIGNMENT = "05_mlp_backprop"
MISTAKES = load_mistakes(ASSIGNMENT)
# The mistakes the issue asks for, by the code they plant, and the diagnosis each must get.
REQUIRED_MISTAKES = {
    "delta.T @ activations[l - 1]": "transposed",        # transposed weight gradient
    'delta @ params[f"W{l + 1}"].T': "wrong",             # missing sigma' factor
    'params[f"W{l}"]': "wrong",                           # delta propagated with W^l
    "": "scale",                                          # missing 1/N (the division is deleted)
    "delta.sum(axis=1)": "shape",                         # bias summed over the wrong axis
}
EXERCISES = {
    "5.1": ["forward_pass"], "5.2": ["backward_pass"], "5.3": ["parameter_gradients"],
    "5.4": ["affine_forward", "affine_backward"],
    "5.5": ["sigmoid_forward", "sigmoid_backward", "tanh_forward", "tanh_backward",
            "relu_forward", "relu_backward"],
    "5.6": ["softmax_cross_entropy"], "5.7": ["mlp_forward"], "5.8": ["mlp_backward"],
    "5.9": ["mlp_loss_and_grads"], "5.10": ["sgd_step"],
}


def _meta(cell: nbformat.NotebookNode) -> dict:
    return cell.metadata.get("nbgrader", {})


def _answers(nb: nbformat.NotebookNode) -> list[nbformat.NotebookNode]:
    return [c for c in nb.cells if _meta(c).get("solution")]


def _grade_cells(nb: nbformat.NotebookNode) -> list[nbformat.NotebookNode]:
    return [c for c in nb.cells if _meta(c).get("grade")]


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


def _rounds(mistakes: list[Mistake]) -> list[list[Mistake]]:
    """Group mistakes so that no round plants two into one cell or checks one test twice."""
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
    """Each mistake's name -> its visible test cell, run after planting it.

    One kernel runs the setup and helper cells once, then per round all (planted) answer cells
    and the visible tests of that round's mistakes; every round redefines every exercise, so a
    mistake cannot leak into the next round. Demo cells are left out: tests are self-contained.
    """
    cells = [copy.deepcopy(c) for c in source.cells if _meta(c).get("grade_id") in ("setup", "seed", "helpers")]
    where: dict[str, int] = {}
    for group in _rounds(MISTAKES):
        nb = source
        for mistake in group:
            nb = plant(nb, mistake)
        cells += [copy.deepcopy(c) for c in _answers(nb)]
        for mistake in group:
            where[mistake.name] = len(cells)
            test_cell = copy.deepcopy(cell_by_grade_id(nb, mistake.test))
            # strip the hidden part: the visible test alone must catch the mistake
            test_cell.source = re.sub(r"### BEGIN HIDDEN TESTS.*?### END HIDDEN TESTS", "", test_cell.source, flags=re.S)
            cells.append(test_cell)
    for index, cell in enumerate(cells):
        cell["id"] = f"planted-{index}"
    combined = nbformat.v4.new_notebook(cells=cells, metadata=copy.deepcopy(source.metadata))
    ran = execute(combined, solution_path(ASSIGNMENT).parent)
    return {name: ran.cells[index] for name, index in where.items()}


# --------------------------------------------------------------------- structure (fast)

def test_answer_cells_define_documented_functions_with_task_named_stubs(source: nbformat.NotebookNode) -> None:
    """Does every answer cell hold only top-level defs, each with a docstring and its task-named stub?"""
    found: dict[str, str] = {}
    for cell in _answers(source):
        tree = ast.parse(cell.source)
        assert all(isinstance(node, ast.FunctionDef) for node in tree.body), _meta(cell)["grade_id"]
        for node in tree.body:
            assert ast.get_docstring(node), f"{node.name} has no docstring"
            stub = node.body[-1]
            assert isinstance(stub, ast.Raise), f"{node.name} does not end in its stub"
            message = ast.literal_eval(stub.exc.args[0])
            number, name = re.fullmatch(r"Exercise (5\.\d+): (\w+)", message).groups()
            assert name == node.name
            found[node.name] = number
    assert found == {name: number for number, names in EXERCISES.items() for name in names}


def test_grade_cells_have_docstrings_points_and_seeds(source: nbformat.NotebookNode) -> None:
    """Does every test cell open with a question docstring, carry points, seed its own generator
    and draw fresh shapes in its hidden part?"""
    tests = _grade_cells(source)
    assert len(tests) == 11
    assert sum(_meta(c)["points"] for c in tests) == 18
    for cell in tests:
        grade_id = _meta(cell)["grade_id"]
        assert re.fullmatch(r"test_[a-z0-9_]+", grade_id)
        docstring = ast.get_docstring(ast.parse(cell.source))
        assert docstring and docstring.endswith("?") and "\n" not in docstring, grade_id
        if "### BEGIN HIDDEN TESTS" in cell.source:
            assert f'fresh_rng("{grade_id}")' in cell.source, grade_id
            assert re.search(r"rng = np\.random\.default_rng\(\d+\)", cell.source), grade_id
    seeds = [c for c in source.cells if c.cell_type == "code" and c.source.strip() == "rng = np.random.default_rng(0)"]
    assert len(seeds) == 1


def test_mistakes_file_is_consistent(source: nbformat.NotebookNode) -> None:
    """Does each planted mistake name real cells, occur once, and do the issue's five mistakes appear
    with the diagnoses asked for?"""
    ids = {_meta(c).get("grade_id") for c in source.cells}
    grade_ids = {_meta(c)["grade_id"] for c in _grade_cells(source)}
    for mistake in MISTAKES:
        assert mistake.cell in ids and mistake.test in grade_ids
        assert cell_by_grade_id(source, mistake.cell).source.count(mistake.find) == 1, mistake.name
    planted = {m.replace: m.diagnosis for m in MISTAKES}
    for replace, diagnosis in REQUIRED_MISTAKES.items():
        assert planted.get(replace) == diagnosis, f"missing required mistake {replace!r} -> {diagnosis}"


# --------------------------------------------------------------------- the solution against references (fast)

@pytest.fixture(scope="module")
def solution(source: nbformat.NotebookNode) -> dict:
    """The solution's functions (answer and helper cells), executed outside a kernel."""
    namespace: dict = {"np": np}
    for cell in source.cells:
        if cell.cell_type != "code" or cell.source.lstrip().startswith(("%", "import", "from")):
            continue
        tree = ast.parse(cell.source)
        if tree.body and all(isinstance(node, ast.FunctionDef) for node in tree.body):
            exec(compile(tree, _meta(cell).get("grade_id", "cell"), "exec"), namespace)  # noqa: S102
    return namespace


@settings(max_examples=40, deadline=None)
@given(arrays(np.float64, array_shapes(min_dims=1, max_dims=3, max_side=5), elements=st.floats(-30, 30)))
def test_activation_layers_match_their_derivatives(solution: dict, z: np.ndarray) -> None:
    """Does each activation's backward multiply dout by the derivative (scipy's expit, 1/cosh^2, the step)?"""
    from scipy.special import expit

    dout = np.linspace(-1.0, 1.0, z.size).reshape(z.shape)
    expected = {"sigmoid": expit(z) * (1 - expit(z)), "tanh": 1.0 / np.cosh(z) ** 2, "relu": (z > 0).astype(float)}
    for name, derivative in expected.items():
        a, cache = solution[f"{name}_forward"](z)
        assert a.shape == z.shape
        np.testing.assert_allclose(solution[f"{name}_backward"](dout, cache), dout * derivative, rtol=1e-9, atol=1e-12)


@settings(max_examples=40, deadline=None)
@given(arrays(np.float64, st.tuples(st.integers(1, 6), st.integers(2, 6)), elements=st.floats(-50, 50)),
       st.floats(-1e3, 1e3), st.data())
def test_softmax_cross_entropy_properties(solution: dict, scores: np.ndarray, shift: float, data: st.DataObject) -> None:
    """Is the loss scipy's mean -log_softmax, unchanged by shifting a row, with gradient rows summing to 0?"""
    from scipy.special import log_softmax

    labels = np.array(data.draw(st.lists(st.integers(0, scores.shape[1] - 1), min_size=len(scores), max_size=len(scores))))
    loss, dscores = solution["softmax_cross_entropy"](scores, labels)
    reference = -np.mean(log_softmax(scores, axis=1)[np.arange(len(labels)), labels])
    assert loss == pytest.approx(reference, rel=1e-9, abs=1e-9) and loss >= 0
    np.testing.assert_allclose(dscores.sum(axis=1), 0.0, atol=1e-12)
    shifted_loss, shifted_dscores = solution["softmax_cross_entropy"](scores + shift, labels)
    assert shifted_loss == pytest.approx(loss, rel=1e-6, abs=1e-6)
    np.testing.assert_allclose(shifted_dscores, dscores, atol=1e-9)


@pytest.mark.parametrize("activation, sklearn_name", [("relu", "relu"), ("tanh", "tanh"), ("sigmoid", "logistic")])
def test_network_matches_scikit_learn(solution: dict, activation: str, sklearn_name: str) -> None:
    """With the same weights, does the network give scikit-learn's MLPClassifier probabilities and log loss?"""
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.metrics import log_loss
    from sklearn.neural_network import MLPClassifier

    rng = np.random.default_rng(5)
    params = solution["init_params"]([5, 7, 6, 3], rng, weight_std=1.0)
    X, y = rng.normal(size=(20, 5)), np.arange(20) % 3
    model = MLPClassifier(hidden_layer_sizes=(7, 6), activation=sklearn_name, max_iter=1, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(X, y)
    model.coefs_ = [params[f"W{l}"] for l in (1, 2, 3)]
    model.intercepts_ = [rng.normal(size=n) for n in (7, 6, 3)]
    for l in (1, 2, 3):
        params[f"b{l}"] = model.intercepts_[l - 1]
    scores, _ = solution["mlp_forward"](params, X, activation)
    probabilities = np.exp(scores - scores.max(axis=1, keepdims=True))
    probabilities /= probabilities.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(probabilities, model.predict_proba(X), rtol=1e-9, atol=1e-12)
    loss, _ = solution["mlp_loss_and_grads"](params, X, y, activation)
    assert loss == pytest.approx(log_loss(y, model.predict_proba(X)), rel=1e-9)


def test_notes_algorithm_equals_modular_layers(solution: dict) -> None:
    """Do the notes' delta recursion (5.1-5.3) and the modular layers give the same gradients for one sigmoid net?"""
    rng = np.random.default_rng(6)
    params = solution["init_params"]([4, 6, 5, 3], rng, weight_std=1.0)
    X, G = rng.normal(size=(8, 4)), rng.normal(size=(8, 3))
    zs, activations = solution["forward_pass"](params, X)
    notes = solution["parameter_gradients"](solution["backward_pass"](params, zs, G), activations)
    # modular: affine + sigmoid in every layer, upstream gradient G at the output
    caches, out = [], X
    for l in (1, 2, 3):
        out, affine_cache = solution["affine_forward"](out, params[f"W{l}"], params[f"b{l}"])
        out, sigmoid_cache = solution["sigmoid_forward"](out)
        caches.append((affine_cache, sigmoid_cache))
    np.testing.assert_allclose(out, activations[-1])
    dout = G
    for l in (3, 2, 1):
        affine_cache, sigmoid_cache = caches[l - 1]
        dout, dW, db = solution["affine_backward"](solution["sigmoid_backward"](dout, sigmoid_cache), affine_cache)
        np.testing.assert_allclose(dW, notes[f"W{l}"], rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(db, notes[f"b{l}"], rtol=1e-12, atol=1e-14)


def test_sgd_step_leaves_its_input_alone(solution: dict) -> None:
    """Does sgd_step return new arrays and report mismatched parameter names?"""
    params = {"W1": np.ones((2, 2)), "b1": np.zeros(2)}
    grads = {"W1": np.full((2, 2), 2.0), "b1": np.ones(2)}
    updated = solution["sgd_step"](params, grads, 0.25)
    assert np.array_equal(updated["W1"], np.full((2, 2), 0.5)) and np.array_equal(params["W1"], np.ones((2, 2)))
    with pytest.raises(KeyError, match="different parameters"):
        solution["sgd_step"](params, {"W1": grads["W1"]}, 0.1)


# --------------------------------------------------------------------- executed (slow)

@pytest.mark.slow
def test_solution_runs_cleanly_and_fast(executed_solution: tuple[nbformat.NotebookNode, float]) -> None:
    """Does the solution notebook run top to bottom without an error in well under a minute?"""
    ran, seconds = executed_solution
    assert errored_cells(ran) == []
    assert seconds < 180, f"the solution took {seconds:.1f} s"


@pytest.mark.slow
def test_digits_reach_95_percent(executed_solution: tuple[nbformat.NotebookNode, float]) -> None:
    """Does the trained network classify at least 95% of the held-out digits, in a few seconds?"""
    text = output_text(cell_by_grade_id(executed_solution[0], "digits_training"))
    found = re.search(r"test accuracy: ([\d.]+) after 20 epochs in ([\d.]+) s", text)
    assert found, text
    test_accuracy, seconds = float(found.group(1)), float(found.group(2))
    assert test_accuracy >= 0.95
    assert seconds < 30  # wall clock on a busy CI machine; about 1.5 s when idle
    misclassified = output_text(cell_by_grade_id(executed_solution[0], "misclassified"))
    wrong, total = map(int, re.search(r"(\d+) of (\d+) test digits misclassified", misclassified).groups())
    assert total == 359 and wrong / total == pytest.approx(1 - test_accuracy, abs=1e-3)


@pytest.mark.slow
def test_cs231n_worked_example(executed_solution: tuple[nbformat.NotebookNode, float]) -> None:
    """Does the notebook reproduce CS231n's sigmoid neuron: f = 0.73 and its five gradients?"""
    text = output_text(cell_by_grade_id(executed_solution[0], "worked_example"))
    assert "f = 0.73" in text
    assert "w0: -0.20  x0: 0.39  w1: -0.39  x1: -0.59  w2: 0.20" in text


@pytest.mark.slow
def test_two_moons_and_vanishing_gradients(executed_solution: tuple[nbformat.NotebookNode, float]) -> None:
    """Are the moons learnt, and do deep-sigmoid gradients vanish while ReLU with He init keeps them?"""
    ran = executed_solution[0]
    moons = float(re.search(r"two moons test accuracy: ([\d.]+)", output_text(cell_by_grade_id(ran, "moons"))).group(1))
    assert moons >= 0.85
    text = output_text(cell_by_grade_id(ran, "vanishing"))
    ratios = {label.strip(): float(value) for label, value in
              re.findall(r"^(.*?)\|dC/db1\| / \|dC/db10\| =\s*([\d.e+-]+)", text, re.M)}
    assert ratios["sigmoid, Xavier init"] < 1e-3
    assert ratios["ReLU, N(0, 0.01²) init"] < 1e-6
    assert 0.1 < ratios["ReLU, He init"] < 10


@pytest.mark.slow
def test_figures_are_drawn(executed_solution: tuple[nbformat.NotebookNode, float]) -> None:
    """Does the solution draw its four figures (curves, misclassified digits, boundary, gradient norms), none blank?"""
    ran = executed_solution[0]
    for grade_id in ("digits_training", "misclassified", "moons", "vanishing"):
        pngs = figures(nbformat.v4.new_notebook(cells=[cell_by_grade_id(ran, grade_id)]))
        assert len(pngs) == 1, grade_id
        image = mpimg.imread(io.BytesIO(pngs[0]), format="png")
        assert image.shape[0] > 100 and image.shape[1] > 300, grade_id
        assert np.std(image[..., :3]) > 0.05, f"{grade_id}: the figure looks blank"


@pytest.mark.slow
def test_release_fails_only_at_the_stubs(executed_release: nbformat.NotebookNode) -> None:
    """Does every error in the released notebook come from an exercise stub, and does every test cell fail?"""
    errors = errored_cells(executed_release)
    assert errors, "the release ran without errors: are the stubs missing?"
    for index, grade_id, first_line in errors:
        assert first_line.startswith("NotImplementedError: Exercise 5."), (index, grade_id, first_line)
    failed_tests = {grade_id for _, grade_id, _ in errors if grade_id.startswith("test_")}
    assert failed_tests == {_meta(c)["grade_id"] for c in _grade_cells(executed_release)}


@pytest.mark.slow
@pytest.mark.parametrize("mistake", MISTAKES, ids=[m.name for m in MISTAKES])
def test_planted_mistake_is_diagnosed(mistake: Mistake, planted_runs: dict[str, nbformat.NotebookNode]) -> None:
    """Does the visible test fail on this planted mistake, with the diagnosis it calls for?"""
    error = error_text(planted_runs[mistake.name])
    assert error, f"{mistake.test} passed although {mistake.name!r} was planted"
    assert error.startswith("AssertionError"), error.splitlines()[0]
    assert f"[{mistake.diagnosis}]" in error.splitlines()[0], error.splitlines()[0]


@pytest.mark.slow
def test_missing_mean_hint_names_the_batch_size(planted_runs: dict[str, nbformat.NotebookNode]) -> None:
    """Does the missing-1/N message say the gradient is N = 7 times too large?"""
    (name,) = [m.name for m in MISTAKES if m.diagnosis == "scale"]
    assert "×7" in error_text(planted_runs[name])


@pytest.mark.slow
def test_bench_runs_the_notebooks_network_against_scikit_learn() -> None:
    """Does bench/mlp.py train the solution's network and scikit-learn's side by side and print the ratios?"""
    proc = subprocess.run([sys.executable, str(REPO_ROOT / "bench" / "mlp.py"), "--epochs", "3", "--repeats", "1",
                           "--hidden", "32"], capture_output=True, text=True, timeout=300, cwd=REPO_ROOT)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    rows = dict(re.findall(r"^(numpy \(notebook 5\)|scikit-learn MLPClassifier)\s+([\d.]+)", out, re.M))
    assert set(rows) == {"numpy (notebook 5)", "scikit-learn MLPClassifier"}, out
    assert float(rows["numpy (notebook 5)"]) > 0.85, out  # three epochs of a small network already learn
    assert re.search(r"time per epoch, numpy / scikit-learn: [\d.]+x", out), out
    assert re.search(r"mean test accuracy, numpy - scikit-learn: [+-][\d.]+", out), out
    if importlib.util.find_spec("torch") is None:
        assert "PyTorch not installed — skipped" in out
    else:
        assert "forward+backward, numpy / PyTorch" in out
