"""A corpus of typical student mistakes: does each fail with the right diagnosis?

Each mistake is a small change to a correct backward pass of a 2-layer ReLU network with a
softmax loss (or of a word-embedding lookup), run once in full mode (every entry) and once
in fast mode (random directions + sampled entries), as big arrays would be.
"""

from __future__ import annotations

import numpy as np
import pytest

from utils.gradcheck import check_gradient, check_gradients, compare

BATCH = 16


def network(rng: np.random.Generator, inputs: int = 6, hidden: int = 6, classes: int = 4):
    """Data, labels and parameters of a small 2-layer ReLU network (W1 square: inputs == hidden)."""
    X = rng.standard_normal((BATCH, inputs))
    y = rng.integers(0, classes, BATCH)
    params = {"W1": rng.standard_normal((inputs, hidden)) / np.sqrt(inputs), "b1": 0.1 * rng.standard_normal(hidden),
              "W2": rng.standard_normal((hidden, classes)) / np.sqrt(hidden), "b2": 0.1 * rng.standard_normal(classes)}
    return X, y, params


def forward(params, X):
    z = X @ params["W1"] + params["b1"]
    h = np.maximum(z, 0)
    scores = h @ params["W2"] + params["b2"]
    scores = scores - scores.max(axis=1, keepdims=True)
    p = np.exp(scores)
    return z, h, p / p.sum(axis=1, keepdims=True)


def loss(params, X, y):
    _, _, p = forward(params, X)
    return -np.mean(np.log(p[np.arange(len(y)), y]))


def backward(params, X, y, mistake: str | None = None):
    """The gradients of the mean cross-entropy, with one planted ``mistake``."""
    z, h, p = forward(params, X)
    d = p.copy()
    if mistake != "softmax_without_y":
        d[np.arange(len(y)), y] -= 1
    if mistake != "missing_mean":
        d /= len(y)
    dW2, db2 = h.T @ d, d.sum(axis=0)
    dh = d @ params["W2"].T
    dz = dh if mistake == "missing_relu_mask" else dh * (z > 0)
    dW1, db1 = X.T @ dz, dz.sum(axis=0)
    if mistake == "transposed":
        dW1 = dz.T @ X
    elif mistake == "sign":
        dW1 = -dW1
    elif mistake == "factor_two":
        dW2 = 2 * dW2
    elif mistake == "bias_wrong_axis":
        db2 = d.sum(axis=1)
    elif mistake == "one_example":
        dW1 = np.outer(X[0], dz[0])
    elif mistake == "nan":
        dW2 = dW2.copy()
        dW2[1, 2] = np.nan
    grads = {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2}
    if mistake == "swapped":
        grads["b1"], grads["W1"] = grads["W1"], grads["b1"]
        grads["b2"], grads["b1"] = db1, db2
        grads = {"W1": dW1, "b1": db2, "W2": dW2, "b2": db1}
    return grads


# mistake -> {parameter: diagnosis}; parameters not listed must pass
CORPUS = {
    "transposed": {"W1": "transposed"},
    "sign": {"W1": "sign"},
    "missing_mean": {"W1": "scale", "b1": "scale", "W2": "scale", "b2": "scale"},
    "factor_two": {"W2": "scale"},
    "bias_wrong_axis": {"b2": "shape"},
    "missing_relu_mask": {"W1": "wrong", "b1": "wrong"},
    "softmax_without_y": {"W1": "wrong", "b1": "wrong", "W2": "wrong", "b2": "wrong"},
    "one_example": {"W1": "wrong"},
    "swapped": {"b1": "swapped", "b2": "swapped"},
    "nan": {"W2": "nonfinite"},
}


@pytest.mark.parametrize("mode", ["full", "fast"])
@pytest.mark.parametrize("mistake", sorted(CORPUS))
def test_mistake_gets_its_diagnosis(mistake, mode):
    """Does each planted mistake fail with its diagnosis, while the untouched gradients pass?"""
    X, y, params = network(np.random.default_rng(sorted(CORPUS).index(mistake)))
    results = check_gradients(lambda p: loss(p, X, y), params, backward(params, X, y, mistake), mode=mode,
                              rng=np.random.default_rng(1))
    got = {key: result.diagnosis for key, result in results.items()}
    want = {key: CORPUS[mistake].get(key, "ok") for key in params}
    assert got == want, "\n".join(result.message for result in results.values())
    for key, result in results.items():
        assert result.message.startswith(f"[{want[key]}] d{key}: ")


def test_correct_network_passes_over_many_seeds():
    """Do correct gradients pass for 30 random networks, full and fast (no false failures)?"""
    for seed in range(30):
        X, y, params = network(np.random.default_rng(100 + seed), inputs=5, hidden=7)
        grads = backward(params, X, y)
        for mode in ("full", "fast"):
            results = check_gradients(lambda p: loss(p, X, y), params, grads, mode=mode, rng=seed)
            assert all(results.values()), [r.message for r in results.values() if not r]


def test_scale_message_names_the_factor_and_the_batch():
    """Does a missing 1/N say ×16 and suggest averaging over the batch; an extra one ×1/16?"""
    X, y, params = network(np.random.default_rng(7))
    grads = backward(params, X, y)
    f = lambda W: loss({**params, "W2": W}, X, y)  # noqa: E731
    too_big = check_gradient(f, params["W2"], grads["W2"] * BATCH, name="dW2")
    assert too_big.diagnosis == "scale" and "×16" in too_big.message and "average" in too_big.message
    too_small = check_gradient(f, params["W2"], grads["W2"] / BATCH, name="dW2")
    assert too_small.diagnosis == "scale" and "×1/16" in too_small.message and "batch" in too_small.message
    doubled = check_gradient(f, params["W2"], grads["W2"] * 2, name="dW2")
    assert "×2" in doubled.message and "½" in doubled.message


def test_transposed_gradient_of_a_non_square_weight_is_diagnosed_as_transposed():
    """Is the transpose of a non-square weight's gradient diagnosed as transposed (in every check),
    while a wrong array of the transposed shape is only a shape error that mentions the transpose?"""
    X, y, params = network(np.random.default_rng(8))
    grads = backward(params, X, y)
    assert params["W2"].shape[0] != params["W2"].shape[1]
    f = lambda W: loss({**params, "W2": W}, X, y)  # noqa: E731
    result = check_gradient(f, params["W2"], grads["W2"].T, name="dW2")
    assert result.diagnosis == "transposed" and "transpose of the gradient" in result.message
    hidden = check_gradient(f, params["W2"], grads["W2"].T, name="dW2", hidden=True)
    assert hidden.diagnosis == "transposed"
    several = check_gradients(lambda p: loss(p, X, y), params, {**grads, "W2": grads["W2"].T})
    assert several["W2"].diagnosis == "transposed" and several["W1"].passed
    assert compare(grads["W2"].T, grads["W2"], name="dW2").diagnosis == "transposed"
    wrong = check_gradient(f, params["W2"], 2 * grads["W2"].T, name="dW2")
    assert wrong.diagnosis == "shape" and "transposed" in wrong.message
    assert compare(grads["W2"].T + 1.0, grads["W2"]).diagnosis == "shape"


def embedding_loss(rng: np.random.Generator, vocabulary: int = 12, dimension: int = 5):
    """A window of word ids (one repeated) looked up in E, then a smooth loss of the window."""
    E = rng.standard_normal((vocabulary, dimension))
    ids = np.array([3, 7, 3, 1, 9])  # word 3 occurs twice
    U = rng.standard_normal((len(ids) * dimension, 2))

    def f(E):
        window = E[ids].reshape(-1)
        return float(np.sum(np.tanh(window @ U)))

    window = E[ids].reshape(-1)
    dwindow = (U @ (1 - np.tanh(window @ U) ** 2)).reshape(len(ids), dimension)
    right = np.zeros_like(E)
    np.add.at(right, ids, dwindow)
    overwritten = np.zeros_like(E)
    overwritten[ids] = dwindow  # the later occurrence of word 3 overwrites the earlier one
    return f, E, right, overwritten


@pytest.mark.parametrize("mode", ["full", "fast"])
def test_overwritten_embedding_rows_are_partial_and_named(mode):
    """Are rows overwritten instead of accumulated for a repeated word diagnosed partial, naming row 3?"""
    f, E, right, overwritten = embedding_loss(np.random.default_rng(9))
    assert check_gradient(f, E, right, name="dE", mode=mode)
    result = check_gradient(f, E, overwritten, name="dE", mode=mode)
    assert result.diagnosis == "partial", result.message
    assert "row 3 " in result.message and "added" in result.message
    assert result.worst_index is None or result.worst_index[0] == 3


def test_partial_names_wrong_entries_of_a_vector():
    """In a vector with two wrong entries, are exactly those indices named?"""
    x = np.linspace(-1, 1, 20)
    grad = 3 * x ** 2
    grad[[4, 11]] += 1.0
    result = check_gradient(lambda z: np.sum(z ** 3), x, grad, name="dx")
    assert result.diagnosis == "partial" and "entries 4 and 11" in result.message


def test_zero_gradient_is_zero():
    """Is an all-zero gradient of a non-constant loss diagnosed zero?"""
    X, y, params = network(np.random.default_rng(10))
    result = check_gradient(lambda W: loss({**params, "W1": W}, X, y), params["W1"], np.zeros((6, 6)), name="dW1")
    assert result.diagnosis == "zero"


def test_shape_checks_missing_gradient():
    """Is a gradient missing from the dict reported as shape, naming the key?"""
    X, y, params = network(np.random.default_rng(11))
    grads = backward(params, X, y)
    del grads["b2"]
    results = check_gradients(lambda p: loss(p, X, y), params, grads)
    assert results["b2"].diagnosis == "shape" and "'b2'" in results["b2"].message


@pytest.mark.parametrize("mode", ["full", "fast"])
def test_hidden_mode_never_reveals_expected_values(mode):
    """With hidden=True, do messages and the result carry no reference value (not even a factor)?"""
    X, y, params = network(np.random.default_rng(12))
    grads = backward(params, X, y)
    f = lambda W: loss({**params, "W2": W}, X, y)  # noqa: E731
    reference = grads["W2"]
    wrong = reference + np.random.default_rng(0).standard_normal(reference.shape)
    for student in (wrong, 3 * reference, -reference, 0.5 * wrong):
        result = check_gradient(f, params["W2"], student, name="dW2", hidden=True, mode=mode)
        assert not result.passed and result.errors is None
        text = repr(result)
        for value in reference.reshape(-1):
            assert f"{value:.6g}" not in text and f"{value:.3g}" not in text
        assert "×" not in result.message and "expected" not in result.message
    shown = check_gradient(f, params["W2"], wrong, name="dW2", mode="full")
    assert "expected" in shown.message  # the visible message does show the reference value


def test_compare_shares_the_diagnoses():
    """Does compare() diagnose sign, scale, transposed, partial, zero, shape and nonfinite arrays?"""
    rng = np.random.default_rng(13)
    expected = rng.standard_normal((4, 4))
    cases = {"ok": expected + 1e-12, "sign": -expected, "scale": expected / 4, "transposed": expected.T,
             "zero": np.zeros((4, 4)), "shape": expected[:3], "nonfinite": np.where(expected > 1, np.inf, expected)}
    partial = expected.copy()
    partial[2] += 1
    cases["partial"] = partial
    cases["wrong"] = rng.standard_normal((4, 4))
    for diagnosis, actual in cases.items():
        result = compare(actual, expected, name="out")
        assert result.diagnosis == diagnosis, result.message
        assert result.message.startswith(f"[{diagnosis}] out: ")
    assert "×1/4" in compare(expected / 4, expected).message
    assert "row 2" in compare(partial, expected).message


def test_hidden_mode_reaches_every_check():
    """Do check_gradients, check_jacobian and compare honour hidden=True (no values, no per-entry errors)?"""
    X, y, params = network(np.random.default_rng(14))
    grads = backward(params, X, y, "one_example")
    results = check_gradients(lambda p: loss(p, X, y), params, grads, hidden=True)
    assert results["W1"].diagnosis == "wrong" and results["W1"].hidden and results["W1"].errors is None
    assert "expected" not in results["W1"].message and "yours" not in results["W1"].message
    expected = np.array([[10.5, 20.25, 30.125], [40.5, 50.75, 60.5]])
    actual = expected + np.array([[5.0, 0, 0], [0, 0, 0]])
    shown = compare(actual, expected, name="out")
    hidden = compare(actual, expected, name="out", hidden=True)
    assert shown.diagnosis == hidden.diagnosis == "partial"
    wrong = compare(-2.5 * expected + 1, expected, name="out", hidden=True)
    for result in (hidden, wrong):
        for value in expected.reshape(-1):
            assert f"{value:g}" not in result.message
