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


def test_factor_near_one_is_a_constant_factor():
    """Is a gradient ×1.001 everywhere (batch-norm without ε) a 'scale' with the factor printed as
    1.001, not 'wrong' with a chain-rule hint?"""
    f, x, right, _ = quadratic(np.random.default_rng(4))
    for factor in (1.001, 0.998):
        result = check_gradient(f, x, factor * right, name="dx")
        assert result.diagnosis == "scale", result.message
        assert f"×{factor:g}" in result.message and "chain rule" not in result.message


def test_odd_factor_is_a_decimal_not_a_fraction():
    """Is a factor of 120/7 ≈ 17.14 printed as ×17.1, while ×2/3 and ×1/16 stay fractions?"""
    f, x, right, _ = quadratic(np.random.default_rng(5))
    odd = check_gradient(f, x, 120 / 7 * right).message
    assert "×17.1 " in odd and "/7" not in odd
    assert "×2/3 " in check_gradient(f, x, 2 / 3 * right).message
    assert "×1/16 " in check_gradient(f, x, right / 16).message


def test_one_number_is_not_a_scale():
    """Is a wrong 0-d bias gradient 'wrong' (showing both values), not '×5.83 … divide by the batch
    size (6)?', unless it is a whole factor of the right one (a sum instead of a mean)?"""
    X = np.random.default_rng(6).standard_normal((6, 4))
    f = lambda b: float(np.sum(np.tanh(X.sum(axis=1) + b)))  # noqa: E731
    right = np.sum(1 - np.tanh(X.sum(axis=1) + 0.3) ** 2)
    for wrong in (5.83 * right, right / 5.83, right + 1):
        result = check_gradient(f, np.array(0.3), np.array(wrong), name="db")
        assert result.diagnosis == "wrong", result.message
        assert "batch" not in result.message and "×" not in result.message
        assert f"yours {wrong:.6g}, expected" in result.message
    assert check_gradient(f, np.array(0.3), np.array(-right)).diagnosis == "sign"
    summed = check_gradient(f, np.array(0.3), np.array(6 * right))
    assert summed.diagnosis == "scale" and "×6 " in summed.message


def test_wrong_rows_of_an_input_get_no_word_hint():
    """Are half the rows of dX wrong named as rows without the repeated-word hint, which only fits a
    lookup table (whose gradient has all-zero rows for words not in the batch)?"""
    rng = np.random.default_rng(7)
    X, W = rng.standard_normal((8, 4)), rng.standard_normal((4, 3))
    f = lambda X: float(np.sum(np.tanh(X @ W)))  # noqa: E731
    bad = (1 - np.tanh(X @ W) ** 2) @ W.T
    bad[4:] = 0.5 * bad[4:]
    result = check_gradient(f, X, bad, name="dX")
    assert result.diagnosis == "partial" and "rows 4, 5, 6 and 7" in result.message, result.message
    assert "word" not in result.message and "added up" not in result.message


def test_generic_wrong_hint_names_no_layer():
    """Does the generic 'wrong' message of xᵀAx avoid causes that need a ReLU or a softmax?"""
    f, x, _, mistake = quadratic(np.random.default_rng(8))
    message = check_gradient(f, x, mistake).message
    assert "chain rule" in message and "ReLU" not in message and "softmax" not in message
