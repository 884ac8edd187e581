"""Losses of tiny magnitude: do step and tolerance follow how f really rounds, not its size?

A well-fitted softmax loss near 1e-8 is computed as log(1 + tiny) from scores near 20: it rounds
at the scale of 1, far above 1e-8 · eps, so central differences at small steps see only noise.
"""

from __future__ import annotations

import numpy as np
import pytest

from utils.gradcheck import check_gradient


def fitted_softmax(rng: np.random.Generator, margin: float):
    """Mean softmax cross-entropy of W on separable data with every score margin ``margin``
    (loss ≈ 2·exp(−margin)), and its exact gradient."""
    X = rng.standard_normal((6, 8))
    y = rng.integers(0, 3, 6)
    W = margin * np.linalg.lstsq(X, np.eye(3)[y], rcond=None)[0]

    def f(W):
        scores = X @ W
        scores = scores - scores.max(axis=1, keepdims=True)
        log_p = scores - np.log(np.exp(scores).sum(axis=1, keepdims=True))
        return -log_p[np.arange(len(y)), y].mean()

    scores = X @ W
    p = np.exp(scores - scores.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    p[np.arange(len(y)), y] -= 1
    return f, W, X.T @ p / len(y)


@pytest.mark.parametrize("margin", [18.0, 22.0])
@pytest.mark.parametrize("mode", ["full", "fast"])
def test_tiny_loss_passes_without_phantom_kinks(margin, mode):
    """Does the exact gradient of a loss of 3e-8 (6e-10) pass, without claiming a kink, and say
    that the step was adapted to how f rounds?"""
    for seed in range(3):
        f, W, grad = fitted_softmax(np.random.default_rng(seed), margin)
        assert f(W) < 1e-7
        result = check_gradient(f, W, grad, name="dW", mode=mode, rng=seed)
        assert result.passed, result.message
        assert "kink" not in result.message and "rounds far above its own size" in result.message


def test_tiny_loss_mistakes_are_still_diagnosed():
    """With the step adapted, are ×2, the opposite sign and one wrong entry still diagnosed as such?"""
    f, W, grad = fitted_softmax(np.random.default_rng(3), 18.0)
    assert check_gradient(f, W, 2 * grad).diagnosis == "scale"
    assert check_gradient(f, W, -grad).diagnosis == "sign"
    one = grad.copy()
    one[3, 1] *= 1.5
    result = check_gradient(f, W, one)
    assert result.diagnosis == "partial" and "entry (3, 1)" in result.message, result.message
