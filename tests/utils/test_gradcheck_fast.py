"""Fast mode: tens of calls for ~1e5 parameters, yet a single wrong entry is still caught.

Also a property test: correct gradients of random smooth compositions pass in both modes.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from utils.gradcheck import check_gradient, check_gradients


class Counted:
    """A loss that counts its calls."""

    def __init__(self, f):
        self.f, self.calls = f, 0

    def __call__(self, *args):
        self.calls += 1
        return self.f(*args)


def big_layer(rng: np.random.Generator, inputs: int = 784, hidden: int = 128):
    """A tanh layer with ~1e5 weights on a batch of 4, and the exact gradient of its loss."""
    X = rng.standard_normal((4, inputs))
    W = rng.standard_normal((inputs, hidden)) / np.sqrt(inputs)
    v = rng.standard_normal(hidden)

    def f(W):
        return float(np.sum(np.tanh(X @ W) @ v))

    return f, W, X.T @ ((1 - np.tanh(X @ W) ** 2) * v)


def test_big_correct_gradient_costs_tens_of_calls():
    """Does a correct 1e5-entry gradient pass with fewer than 60 calls of f?"""
    f, W, dW = big_layer(np.random.default_rng(0))
    counted = Counted(f)
    result = check_gradient(counted, W, dW, name="dW")
    assert result.passed and result.method == "fast", result.message
    assert counted.calls < 60 and result.evaluations == counted.calls


@pytest.mark.parametrize("seed", range(4))
def test_single_wrong_entry_is_caught_and_located(seed):
    """Is one wrong entry among 1e5 caught, diagnosed partial and located, without a full sweep?"""
    rng = np.random.default_rng(seed)
    f, W, dW = big_layer(rng)
    row, column = int(rng.integers(W.shape[0])), int(rng.integers(W.shape[1]))
    wrong = dW.copy()
    wrong[row, column] += np.sqrt(np.mean(dW ** 2))  # off by one typical entry
    counted = Counted(f)
    result = check_gradient(counted, W, wrong, name="dW", rng=seed)
    assert result.diagnosis == "partial", result.message
    assert f"row {row} " in result.message
    assert result.worst_index == (row, column)
    assert counted.calls < 400  # a full sweep would be 200,000


def test_bias_bug_is_caught_per_array():
    """Is a bug in one entry of a small bias caught next to a 1e5-entry weight (sampled per array)?"""
    rng = np.random.default_rng(5)
    X = rng.standard_normal((4, 784))
    params = {"W": rng.standard_normal((784, 128)) / 28, "b": rng.standard_normal(128)}
    v = rng.standard_normal(128)
    f = lambda p: float(np.sum(np.tanh(X @ p["W"] + p["b"]) @ v))  # noqa: E731
    d = (1 - np.tanh(X @ params["W"] + params["b"]) ** 2) * v
    grads = {"W": X.T @ d, "b": d.sum(axis=0)}
    assert all(check_gradients(f, params, grads, mode="fast").values())
    grads["b"] = grads["b"].copy()
    grads["b"][17] *= -1
    results = check_gradients(f, params, grads, mode="fast")
    assert results["W"] and results["b"].diagnosis == "partial" and "entry 17 " in results["b"].message


def test_failing_big_check_does_not_rebuild_a_full_sweep():
    """Does a wrong 1e5 gradient fail in under 150 calls (no fallback to 2n differences)?"""
    f, W, dW = big_layer(np.random.default_rng(6))
    counted = Counted(f)
    result = check_gradient(counted, W, np.random.default_rng(0).standard_normal(W.shape), name="dW")
    assert result.diagnosis == "wrong" and counted.calls < 150


SMOOTH = {
    "tanh": (np.tanh, lambda z: 1 - np.tanh(z) ** 2),
    "sin": (np.sin, np.cos),
    "softplus": (lambda z: np.logaddexp(0, z), lambda z: 1 / (1 + np.exp(-z))),
    "square": (lambda z: z ** 2, lambda z: 2 * z),
    "log1p_square": (lambda z: np.log1p(z ** 2), lambda z: 2 * z / (1 + z ** 2)),
}


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2 ** 32 - 1), rows=st.integers(1, 12), columns=st.integers(1, 12),
       outer=st.sampled_from(sorted(SMOOTH)), inner=st.sampled_from(sorted(SMOOTH)),
       mode=st.sampled_from(["full", "fast"]), scale=st.floats(0.01, 3.0))
def test_random_smooth_compositions_pass(seed, rows, columns, outer, inner, mode, scale):
    """Property: does the exact gradient of sum(w · φ(A ψ(x) + b)) pass, whatever the shapes and φ, ψ?"""
    rng = np.random.default_rng(seed)
    x = scale * rng.standard_normal((rows, columns))
    A = rng.standard_normal((5, rows)) / np.sqrt(rows)
    b, w = rng.standard_normal((5, 1)), rng.standard_normal((5, columns))
    (phi, dphi), (psi, dpsi) = SMOOTH[outer], SMOOTH[inner]

    def f(x):
        return float(np.sum(w * phi(A @ psi(x) + b)))

    z = A @ psi(x) + b
    grad = (A.T @ (w * dphi(z))) * dpsi(x)
    result = check_gradient(f, x, grad, mode=mode, rng=seed)
    assert result.passed, result.message
