"""A function that is not deterministic (dropout, sampling): is it named, and the gradient never blamed?"""

from __future__ import annotations

import numpy as np
import pytest

from utils.gradcheck import check_gradient, check_gradients, check_jacobian

X = np.random.default_rng(0).standard_normal((8, 5))


def dropout_loss(dtype=np.float64, seed=None):
    """A squared loss with a fresh dropout mask on every call (unless ``seed`` fixes it), and the
    gradient with the mask of one call: right for that mask, the usual student setting."""
    def f(W):
        mask = np.random.default_rng(seed).random((8, 3)) > 0.5
        return (np.sum((X.astype(dtype) @ W.astype(dtype) * mask) ** 2)).astype(dtype)

    def grad(W):
        mask = np.random.default_rng(seed).random((8, 3)) > 0.5
        return 2 * X.T @ ((X @ W) * mask)
    return f, grad


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("mode", ["full", "fast"])
def test_fresh_mask_is_nondeterministic(dtype, mode):
    """Is a loss with a fresh dropout mask per call diagnosed 'nondeterministic' (not wrong or partial),
    with the advice to fix the seed or the mask, in float64 and float32, full and fast mode?"""
    W = np.random.default_rng(1).standard_normal((5, 3))
    f, grad = dropout_loss(dtype)
    for seed in range(3):
        result = check_gradient(f, W, grad(W), name="dW", rng=seed, mode=mode)
        assert result.diagnosis == "nondeterministic", result.message
        assert not result.passed and "not deterministic" in result.message
        assert "dropout or sampling? Fix the random seed or the mask inside f." in result.message


def test_fixed_mask_passes_and_wrong_gradient_still_fails():
    """With the seed fixed inside f, does the right gradient pass and a wrong one fail as before?"""
    W = np.random.default_rng(2).standard_normal((5, 3))
    f, grad = dropout_loss(seed=7)
    assert check_gradient(f, W, grad(W)).passed
    assert check_gradient(f, W, -grad(W)).diagnosis == "sign"


def test_every_check_detects_it():
    """Do check_gradients and check_jacobian also say 'nondeterministic', hiding values in hidden mode?"""
    W = np.random.default_rng(3).standard_normal((5, 3))
    f, grad = dropout_loss()
    results = check_gradients(lambda p: f(p["W"]), {"W": W}, {"W": grad(W)}, hidden=True)
    assert results["W"].diagnosis == "nondeterministic"
    assert "different values" in results["W"].message
    for seed in range(20):  # few masks: the first two calls may agree; a failing check asks again
        masks = np.random.default_rng(seed)
        noisy = check_jacobian(lambda v: v * (masks.random(4) > 0.5), np.ones(4), np.eye(4))
        assert noisy.diagnosis == "nondeterministic", (seed, noisy.message)
