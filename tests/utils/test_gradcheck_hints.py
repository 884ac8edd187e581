"""Hints that fit the exercise: does a test cell's ``hints={diagnosis: sentence}`` reach the message?"""

from __future__ import annotations

import numpy as np
import pytest

from utils.gradcheck import (assert_close, assert_gradient, assert_gradients, assert_jacobian, check_gradient,
                             check_gradients, check_jacobian, compare)

SYMMETRIC = "Is A symmetric? The quadratic form uses A and its transpose."


def quadratic(rng: np.random.Generator, n: int = 5):
    """f(x) = xᵀAx with a non-symmetric A, its gradient (A + Aᵀ)x and the classic mistake 2Ax."""
    A = rng.standard_normal((n, n))
    x = rng.standard_normal(n)
    return (lambda v: float(v @ A @ v)), x, (A + A.T) @ x, 2 * A @ x


def test_hint_replaces_the_generic_causes():
    """Does a 'wrong' hint replace the generic chain-rule causes (ReLU mask, softmax labels) in xᵀAx?"""
    f, x, _, mistake = quadratic(np.random.default_rng(0))
    plain = check_gradient(f, x, mistake, name="dx")
    hinted = check_gradient(f, x, mistake, name="dx", hints={"wrong": SYMMETRIC})
    assert plain.diagnosis == hinted.diagnosis == "wrong"
    assert hinted.message.startswith("[wrong] dx: your dx does not match the gradient")
    assert hinted.message.endswith(SYMMETRIC) and "ReLU" not in hinted.message
    assert SYMMETRIC not in plain.message


def test_hint_only_for_its_diagnosis():
    """Does a hint for another diagnosis leave the message alone, and a correct gradient pass silently?"""
    f, x, right, _ = quadratic(np.random.default_rng(1))
    hints = {"wrong": SYMMETRIC}
    assert check_gradient(f, x, 2 * right, hints=hints).message == check_gradient(f, x, 2 * right).message
    result = check_gradient(f, x, right, hints=hints)
    assert result.passed and SYMMETRIC not in result.message


def test_every_check_takes_hints():
    """Do check_gradients, check_jacobian, compare, the assert twins and the early diagnoses
    (shape, nonfinite) all use the exercise's hint?"""
    rng = np.random.default_rng(2)
    f, x, right, _ = quadratic(rng)
    hint = "Check the formula of this exercise."
    every = {key: hint for key in ("shape", "nonfinite", "sign", "scale", "wrong", "zero")}
    assert check_gradient(f, x, -right, hints=every).message.endswith(hint)
    assert check_gradient(f, x, right[:3], hints=every).message.endswith(hint)
    bad = right.copy()
    bad[0] = np.nan
    assert check_gradient(f, x, bad, hints=every).message.endswith(hint)
    results = check_gradients(lambda p: f(p["x"]), {"x": x}, {"x": 3 * right}, hints=every)
    assert results["x"].diagnosis == "scale" and results["x"].message.endswith(hint)
    W = rng.standard_normal((3, 4))
    J = check_jacobian(lambda v: W @ v, rng.standard_normal(4), -W, hints=every)
    assert J.diagnosis == "sign" and J.message.endswith(hint)
    assert compare(np.zeros(4), np.ones(4), hints=every).message.endswith(hint)
    for raising in (lambda: assert_gradient(f, x, -right, hints=every),
                    lambda: assert_gradients(lambda p: f(p["x"]), {"x": x}, {"x": -right}, hints=every),
                    lambda: assert_jacobian(lambda v: W @ v, np.ones(4), 2 * W, hints=every),
                    lambda: assert_close(-np.ones(3), np.ones(3), hints=every)):
        with pytest.raises(AssertionError, match="Check the formula of this exercise"):
            raising()


@pytest.mark.parametrize("hints, error", [
    ({"ok": "well done"}, ValueError), ({"wrnog": "typo"}, ValueError), ({"wrong": ""}, TypeError),
    ({"wrong": 3}, TypeError), (["wrong"], TypeError)])
def test_bad_hints_are_refused(hints, error):
    """Are hints with an unknown or passing diagnosis, or an empty or non-text sentence, refused clearly?"""
    f, x, right, _ = quadratic(np.random.default_rng(3))
    with pytest.raises(error, match="hints"):
        check_gradient(f, x, right, hints=hints)
