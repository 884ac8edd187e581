"""Kinks: does correct ReLU / max / abs code pass at and near its non-differentiable points?

Every finite-difference checker fails correct ReLU code when a pre-activation sits within the
step of zero. These tests put inputs exactly at the kink and within 1e-6 of it, in full and
fast mode, and check that wrong masks still fail.
"""

from __future__ import annotations

import numpy as np
import pytest

from utils.gradcheck import check_gradient, check_gradients

SEEDS = range(12)


def kinked_point(rng: np.random.Generator, size: int = 40) -> np.ndarray:
    """Random inputs, five exactly 0 and five within 1e-6 of 0."""
    x = rng.standard_normal(size)
    x[:5] = 0.0
    x[5:10] = rng.uniform(-1e-6, 1e-6, 5)
    return rng.permutation(x)


@pytest.mark.parametrize("mode", ["full", "fast"])
def test_relu_passes_at_and_near_kinks(mode):
    """Does the gradient w·(x > 0) of sum(w·relu(x)) pass with inputs at and near 0?"""
    for seed in SEEDS:
        rng = np.random.default_rng(seed)
        x, w = kinked_point(rng), rng.standard_normal(40)
        result = check_gradient(lambda z: np.sum(w * np.maximum(z, 0)), x, w * (x > 0), mode=mode, rng=seed)
        assert result.passed, result.message
        assert result.kinks > 0 and "kink" in result.message


@pytest.mark.parametrize("mode", ["full", "fast"])
def test_either_one_sided_choice_at_zero_passes(mode):
    """At x == 0 exactly, do both conventions, mask x > 0 and x >= 0, pass?"""
    rng = np.random.default_rng(0)
    x, w = kinked_point(rng), rng.standard_normal(40)
    f = lambda z: np.sum(w * np.maximum(z, 0))  # noqa: E731
    assert check_gradient(f, x, w * (x >= 0), mode=mode)


@pytest.mark.parametrize("mode", ["full", "fast"])
def test_abs_and_max_pass_at_kinks(mode):
    """Do sign(x) for sum(w·|x|) and a one-hot argmax for max(x) pass with ties/zeros?"""
    for seed in SEEDS:
        rng = np.random.default_rng(seed)
        x, w = kinked_point(rng), rng.standard_normal(40)
        assert check_gradient(lambda z: np.sum(w * np.abs(z)), x, w * np.sign(x), mode=mode, rng=seed)
        pooled = rng.standard_normal((6, 4))
        pooled[:, 1] = pooled[:, 0]  # ties: max is not differentiable there
        onehot = np.zeros_like(pooled)
        onehot[np.arange(6), pooled.argmax(axis=1)] = 1
        assert check_gradient(lambda z: np.sum(z.max(axis=1)), pooled, onehot, mode=mode, rng=seed)


@pytest.mark.parametrize("mode", ["full", "fast"])
def test_wrong_masks_still_fail(mode):
    """With kinks present, do a missing mask, an inverted mask and a sign error still fail?"""
    rng = np.random.default_rng(1)
    x, w = kinked_point(rng), rng.standard_normal(40)
    f = lambda z: np.sum(w * np.maximum(z, 0))  # noqa: E731
    for wrong in (w.copy(), w * (x < 0), -w * (x > 0)):
        assert not check_gradient(f, x, wrong, mode=mode).passed


def relu_network(rng: np.random.Generator):
    """A ReLU layer with a zero-padded input row and zero bias (so a whole row of pre-activations
    is exactly 0) and three more pre-activations within 1e-7 of 0."""
    X = rng.standard_normal((8, 6))
    X[0] = 0.0
    W1, b1, W2 = rng.standard_normal((6, 10)), np.zeros(10), rng.standard_normal(10)
    b1[:3] = -(X @ W1)[3, :3] + rng.uniform(-1e-7, 1e-7, 3)

    def f(p):
        return np.sum(np.tanh(np.maximum(X @ p["W1"] + p["b1"], 0) @ p["W2"]))

    z = X @ W1 + b1
    h = np.maximum(z, 0)
    dout = 1 - np.tanh(h @ W2) ** 2
    dz = np.outer(dout, W2) * (z > 0)
    params = {"W1": W1, "b1": b1, "W2": W2}
    return f, params, {"W1": X.T @ dz, "b1": dz.sum(axis=0), "W2": h.T @ dout}, {"W1": X.T @ np.outer(dout, W2),
                                                                            "b1": np.outer(dout, W2).sum(axis=0)}


@pytest.mark.parametrize("mode", ["full", "fast"])
def test_relu_network_with_padding_rows_passes(mode):
    """Do a ReLU network's correct gradients pass when pre-activations are exactly 0 or within 1e-7?"""
    for seed in SEEDS:
        f, params, grads, unmasked = relu_network(np.random.default_rng(seed))
        results = check_gradients(f, params, grads, mode=mode, rng=seed)
        assert all(results.values()), [r.message for r in results.values() if not r]
        bad = check_gradients(f, params, {**grads, **unmasked}, mode=mode, rng=seed)
        assert not bad["W1"] and not bad["b1"] and bad["W2"]


def stacked_near_kinks(rng: np.random.Generator, layers: int = 4, width: int = 6):
    """A deep ReLU net v·relu(W_L … relu(W_1 x + b_1) … + b_L) whose every layer has one input
    1e-9–1e-7 above its kink and one as far below: differentiable at x, with kinks on both sides of
    every coordinate within any usual step. Returns f, x, the masked gradient and the weights."""
    Ws = [rng.standard_normal((width, width)) for _ in range(layers)]
    v, x, bs, h = rng.standard_normal(width), rng.standard_normal(width), [], None
    h = x
    for W in Ws:
        z = W @ h
        b = 0.5 * rng.standard_normal(width)
        b[0], b[1] = 10 ** rng.uniform(-9, -7) - z[0], -(10 ** rng.uniform(-9, -7)) - z[1]
        bs.append(b)
        h = np.maximum(z + b, 0)

    def f(x, dtype=np.float64):
        h = x.astype(dtype)
        for W, b in zip(Ws, bs):
            h = np.maximum(W.astype(dtype) @ h + b.astype(dtype), 0)
        return v.astype(dtype) @ h

    h, masks = x, []
    for W, b in zip(Ws, bs):
        z = W @ h + b
        masks.append(z > 0)
        h = np.maximum(z, 0)
    grad = v
    for W, mask in zip(reversed(Ws), reversed(masks)):
        grad = W.T @ (grad * mask)
    return f, x, grad, Ws


@pytest.mark.parametrize("mode", ["full", "fast"])
def test_stacked_layers_near_kinks_pass(mode):
    """With four ReLU layers each 1e-9–1e-7 from a kink, does the right gradient (confirmed by a
    long-double central difference far inside the kinks) pass, and does the opposite sign still fail?"""
    for seed in range(8):
        f, x, grad, Ws = stacked_near_kinks(np.random.default_rng(seed))
        if seed < 2:  # the reference: long double, a step well inside the nearest kink
            long = x.astype(np.longdouble)
            step = np.longdouble(1e-13)
            eye = np.eye(x.size, dtype=np.longdouble)
            reference = [(f(long + step * eye[i], np.longdouble) - f(long - step * eye[i], np.longdouble)) / (2 * step)
                         for i in range(x.size)]
            np.testing.assert_allclose(np.array(reference, dtype=float), grad, rtol=1e-5)
        result = check_gradient(lambda z: float(f(z)), x, grad, mode=mode, rng=seed)
        assert result.passed, result.message
        assert not check_gradient(lambda z: float(f(z)), x, -grad, mode=mode, rng=seed).passed
