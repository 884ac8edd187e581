"""Notebook 5, backpropagation through an MLP: does the solution run, reproduce the lecture's numbers
and reach 95% on the digits; does the release fail only at its stubs; and does each visible test
catch its planted mistake with the right diagnosis?"""

from __future__ import annotations

import ast
import importlib.util
import re
import subprocess
import sys

import matplotlib

matplotlib.use("Agg")

import nbformat  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from hypothesis.extra.numpy import array_shapes, arrays  # noqa: E402

from autograder import REPO_ROOT  # noqa: E402
from autograder.mistakes import Mistake, load_mistakes  # noqa: E402
from tests.notebooks.harness import (  # noqa: E402
    assert_written_questions,
    answer_stubs, assert_diagnosed, assert_mistakes_plant, assert_picture, assert_release_fails_only_at_stubs,
    assert_runs_cleanly, cell_by_grade_id, cell_figures, cells_with, error_text, exec_cells,
    executed_release_fixture, executed_solution_fixture, meta, output_text, planted_tests_fixture, source_fixture,
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


source = source_fixture(ASSIGNMENT)
executed_solution = executed_solution_fixture(ASSIGNMENT)
executed_release = executed_release_fixture(ASSIGNMENT)
planted_runs = planted_tests_fixture(ASSIGNMENT, MISTAKES, keep=("setup", "seed", "helpers"), strip_hidden=True)
"""Each mistake's name -> its visible test cell (hidden part stripped: the visible test alone must
catch the mistake), run after planting it; the setup and helper cells run once."""


# --------------------------------------------------------------------- structure (fast)

def test_answer_cells_define_documented_functions_with_task_named_stubs(source: nbformat.NotebookNode) -> None:
    """Does every answer cell hold only top-level defs, each with a docstring and its task-named stub?"""
    found: dict[str, str] = {}
    for cell in cells_with(source, "solution"):
        if cell.cell_type == "code":
            found.update(answer_stubs(cell))
    assert found == {name: number for number, names in EXERCISES.items() for name in names}


def test_grade_cells_have_docstrings_points_and_seeds(source: nbformat.NotebookNode) -> None:
    """Does every test cell open with a question docstring, carry points, seed its own generator
    and draw fresh shapes in its hidden part?"""
    tests = [c for c in cells_with(source, "grade") if c.cell_type == "code"]
    assert len(tests) == 11
    assert sum(meta(c)["points"] for c in tests) == 18
    for cell in tests:
        grade_id = meta(cell)["grade_id"]
        assert re.fullmatch(r"test_[a-z0-9_]+", grade_id)
        docstring = ast.get_docstring(ast.parse(cell.source))
        assert docstring and docstring.endswith("?") and "\n" not in docstring, grade_id
        if "### BEGIN HIDDEN TESTS" in cell.source:
            assert f'fresh_rng("{grade_id}")' in cell.source, grade_id
            assert re.search(r"rng = np\.random\.default_rng\(\d+\)", cell.source), grade_id
    seeds = [c for c in source.cells if c.cell_type == "code" and c.source.strip() == "rng = np.random.default_rng(0)"]
    assert len(seeds) == 1


def test_written_questions_are_manually_graded_answers(source: nbformat.NotebookNode) -> None:
    """Are the written questions nbgrader manually graded answer cells, each after a locked question,
    holding a model answer, and do they leave at least 80% of the points to the autograder?"""
    assert_written_questions(ASSIGNMENT, source, {"written_delta_reuse": 1, "written_vanishing": 2})
    for cell in (c for c in cells_with(source, "grade") if c.cell_type == "markdown"):
        assert "Grading:" in cell.source
        question = source.cells[source.cells.index(cell) - 1]
        assert meta(question)["grade_id"] == meta(cell)["grade_id"] + "_question" and meta(question)["locked"]
        assert "graded by hand" in question.source


def test_derivations_follow_their_tests(source: nbformat.NotebookNode) -> None:
    """Is each gradient's result kept out of the exercise text and docstring, and revealed in a
    derivation cell right after the test?"""
    results = {  # answer cell -> (its test, a formula that must not appear before the test)
        "backward_pass": ("test_backward_pass", r"\underbrace{(W^{l+1})^\top}_{(n_{l+1},\,n_l)}"),
        "parameter_gradients": ("test_parameter_gradients", r"\underbrace{(A^{l-1})^\top}"),
        "affine": ("test_affine", r"\underbrace{W^\top}"),
        "softmax_cross_entropy": ("test_softmax_cross_entropy", r"p_k - [k = y]"),
        "activations": ("test_activations", r"1 - \tanh^2 z"),
    }
    ids = [meta(c).get("grade_id") for c in source.cells]
    for answer, (test_id, formula) in results.items():
        before = "\n".join(c.source for c in source.cells[:ids.index(test_id)])
        assert formula not in before, f"{answer}: the result is given before the exercise"
        derivation = source.cells[ids.index(test_id) + 1]
        assert derivation.cell_type == "markdown" and derivation.source.startswith("### Derivation")
        assert formula in derivation.source, answer
    docstrings = "\n".join(c.source for c in cells_with(source, "solution") if c.cell_type == "code")
    for leaked in ("dout W^T", "x^T dout", "(A^{l-1})^T Delta^l", "(p - one_hot(y)) / N", "a (1 - a)", "(1 - a^2)"):
        assert leaked not in docstrings, leaked


def test_mistakes_file_is_consistent(source: nbformat.NotebookNode) -> None:
    """Does each planted mistake name real cells, occur once, and do the issue's five mistakes appear
    with the diagnoses asked for?"""
    assert_mistakes_plant(source, MISTAKES)
    planted = {m.replace: m.diagnosis for m in MISTAKES}
    for replace, diagnosis in REQUIRED_MISTAKES.items():
        assert planted.get(replace) == diagnosis, f"missing required mistake {replace!r} -> {diagnosis}"


# --------------------------------------------------------------------- the solution against references (fast)

@pytest.fixture(scope="module")
def solution(source: nbformat.NotebookNode) -> dict:
    """The solution's functions (answer and helper cells), executed outside a kernel."""
    def only_defs(cell: nbformat.NotebookNode) -> bool:
        """A cell of function definitions (and the imports they need), not the setup cell."""
        if cell.cell_type != "code" or "%" in cell.source:
            return False
        tree = ast.parse(cell.source)
        return (any(isinstance(node, ast.FunctionDef) for node in tree.body)
                and all(isinstance(node, (ast.FunctionDef, ast.Import, ast.ImportFrom)) for node in tree.body))

    return exec_cells([cell for cell in source.cells if only_defs(cell)])


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
    assert_runs_cleanly(executed_solution, seconds_allowed=180)


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
    assert ratios["ReLU, N(0, 0.3²) init"] > 10


@pytest.mark.slow
def test_sanity_checks_and_clipping(executed_solution: tuple[nbformat.NotebookNode, float]) -> None:
    """Is the loss at initialisation about log 10, can the network overfit 20 digits, and does clipping
    tame the exploding network that plain SGD sends to nan?"""
    ran = executed_solution[0]
    text = output_text(cell_by_grade_id(ran, "sanity_checks"))
    initial = float(re.search(r"loss at initialisation: ([\d.]+)", text).group(1))
    assert abs(initial - np.log(10)) < 0.2
    final_loss, train_accuracy = map(float, re.search(r"-> ([\d.]+), training accuracy ([\d.]+)", text).groups())
    assert final_loss < 0.1 and train_accuracy == 1.0
    clipping = output_text(cell_by_grade_id(ran, "clipping"))
    assert re.search(r"plain SGD\s+loss\s+\S+ ->\s+nan", clipping), clipping
    clipped = float(re.search(r"clipped at 20\s+loss\s+\S+ ->\s+([\d.e+-]+)", clipping).group(1))
    assert clipped < 1.0


@pytest.mark.slow
def test_figures_are_drawn(executed_solution: tuple[nbformat.NotebookNode, float]) -> None:
    """Does the solution draw its six figures (curves, digits, boundary, sigma and its derivative, gradient norms, clipping), none blank?"""
    ran = executed_solution[0]
    for grade_id in ("digits_training", "misclassified", "moons", "sigmoid_plot", "vanishing", "clipping"):
        pngs = cell_figures(ran, grade_id)
        assert len(pngs) == 1, grade_id
        assert_picture(pngs[0], min_height=100, min_width=300, label=grade_id)


@pytest.mark.slow
def test_release_fails_only_at_the_stubs(executed_release: nbformat.NotebookNode) -> None:
    """Does every error in the released notebook come from an exercise stub, and does every test cell fail?"""
    failed = assert_release_fails_only_at_stubs(executed_release, set(EXERCISES))
    failed_tests = {grade_id for grade_id in failed if grade_id.startswith("test_")}
    assert failed_tests == {meta(c)["grade_id"] for c in cells_with(executed_release, "grade") if c.cell_type == "code"}


@pytest.mark.slow
def test_release_draws_no_half_finished_figure(executed_release: nbformat.NotebookNode) -> None:
    """Before any exercise is done, is the sigma/sigma' plot the only figure drawn (none half-drawn)?"""
    drawn = [meta(c)["grade_id"] for c in executed_release.cells
             if c.cell_type == "code" and meta(c).get("grade_id") and cell_figures(executed_release, meta(c)["grade_id"])]
    assert drawn == ["sigmoid_plot"]


@pytest.mark.slow
@pytest.mark.parametrize("mistake", MISTAKES, ids=[m.name for m in MISTAKES])
def test_planted_mistake_is_diagnosed(mistake: Mistake, planted_runs: dict[str, nbformat.NotebookNode]) -> None:
    """Does the visible test fail on this planted mistake, with the diagnosis it calls for?"""
    assert_diagnosed(error_text(planted_runs[mistake.name]), mistake)


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
