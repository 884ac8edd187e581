"""Precision: is float32 code judged with a step and tolerance matched to float32 noise?"""

from __future__ import annotations

import numpy as np
import pytest

from utils.gradcheck import check_gradient, check_jacobian, numerical_gradient


def softmax_loss(rng: np.random.Generator, dtype):
    """A softmax cross-entropy of W computed entirely in ``dtype``, and its exact gradient."""
    X = rng.standard_normal((32, 20)).astype(dtype)
    y = rng.integers(0, 5, 32)
    W = (0.3 * rng.standard_normal((20, 5))).astype(dtype)

    def f(W):
        scores = X @ np.asarray(W, dtype=dtype)
        scores = scores - scores.max(axis=1, keepdims=True)
        p = np.exp(scores)
        p /= p.sum(axis=1, keepdims=True)
        return -np.mean(np.log(p[np.arange(32), y]))

    scores = X @ W
    p = np.exp(scores - scores.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    p[np.arange(32), y] -= 1
    return f, W, (X.T @ p / 32).astype(dtype)


@pytest.mark.parametrize("mode", ["full", "fast"])
def test_float32_function_passes_and_says_so(mode):
    """Does correct float32 code pass over many seeds, with a message naming float32 precision?"""
    for seed in range(15):
        f, W, dW = softmax_loss(np.random.default_rng(seed), np.float32)
        result = check_gradient(f, W, dW, name="dW", mode=mode, rng=seed)
        assert result.passed, result.message
        assert "float32 precision" in result.message and "float32" in result.precision


@pytest.mark.parametrize("mode", ["full", "fast"])
def test_float32_sign_and_scale_errors_still_fail(mode):
    """Are a sign error and a factor 2 in float32 code still diagnosed?"""
    f, W, dW = softmax_loss(np.random.default_rng(0), np.float32)
    assert check_gradient(f, W, -dW, mode=mode).diagnosis == "sign"
    assert check_gradient(f, W, 2 * dW, mode=mode).diagnosis == "scale"


def test_float64_step_would_fail_float32_code():
    """Is the guard needed: is a plain float64-style difference (h = 1e-5) of float32 code off by > 1%?"""
    f, W, dW = softmax_loss(np.random.default_rng(1), np.float32)
    naive = numerical_gradient(f, W, h=1e-5)
    assert np.linalg.norm(naive - dW) / np.linalg.norm(dW) > 1e-2
    assert check_gradient(f, W, dW).passed


def test_float32_inputs_get_a_float64_reference_when_possible():
    """When x is float32 but f computes in float64, is the reference float64 with a tolerance for float32 rounding?"""
    f64, W, dW = softmax_loss(np.random.default_rng(2), np.float64)
    result = check_gradient(f64, W.astype(np.float32), dW.astype(np.float32), name="dW")
    assert result.passed, result.message
    assert "float64 reference" in result.message and result.precision.startswith("float64")
    assert check_gradient(f64, W.astype(np.float32), (1.1 * dW).astype(np.float32)).diagnosis == "scale"


def test_float32_inside_is_detected_from_float64_inputs():
    """If f casts float64 inputs to float32 internally (returning a Python float), is that noticed?"""
    f32, W, dW = softmax_loss(np.random.default_rng(3), np.float32)
    wrapped = lambda W: float(f32(W.astype(np.float32)))  # noqa: E731
    result = check_gradient(wrapped, W.astype(np.float64), dW.astype(np.float64))
    assert result.passed and "float32 precision" in result.message


def test_float32_jacobian_passes():
    """Does a float32 Jacobian (tanh layer) pass and a transposed one fail?"""
    rng = np.random.default_rng(4)
    A = rng.standard_normal((6, 6)).astype(np.float32)
    x = rng.standard_normal(6).astype(np.float32)
    f = lambda z: np.tanh(A @ z.astype(np.float32))  # noqa: E731
    J = ((1 - np.tanh(A @ x) ** 2)[:, None] * A).astype(np.float32)
    assert check_jacobian(f, x, J).passed
    assert check_jacobian(f, x, J.T).diagnosis == "transposed"


def test_relu_jacobian_at_zero_passes_and_identity_is_partial():
    """Does diag(z > 0) pass as ReLU's Jacobian with z at and near 0, and the identity fail as partial?"""
    z = np.array([-1.0, 0.0, 2.0, 1e-7, -1e-7])
    relu = lambda v: np.maximum(v, 0)  # noqa: E731
    assert check_jacobian(relu, z, np.diag((z > 0) * 1.0)).passed
    assert check_jacobian(relu, z, np.diag((z >= 0) * 1.0)).passed
    result = check_jacobian(relu, z, np.eye(5))
    assert result.diagnosis == "partial" and "entries (0, 0) and (4, 4)" in result.message


def test_big_jacobian_fast_mode_names_the_wrong_output_row():
    """In fast mode, is one wrong row of a 300×700 Jacobian named (each probe measures every output)?"""
    rng = np.random.default_rng(5)
    A = rng.standard_normal((300, 700)) / np.sqrt(700)
    x = rng.standard_normal(700)
    f = lambda v: np.tanh(A @ v)  # noqa: E731
    J = (1 - np.tanh(A @ x) ** 2)[:, None] * A
    right = check_jacobian(f, x, J)
    assert right.passed and right.method == "fast" and right.evaluations < 60
    wrong = J.copy()
    wrong[5, 7] += 0.1
    result = check_jacobian(f, x, wrong)
    assert result.diagnosis == "partial" and "row 5 " in result.message
