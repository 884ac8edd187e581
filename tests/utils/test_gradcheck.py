"""The public API of utils.gradcheck: results, messages, options, inputs left untouched."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from utils.gradcheck import (DIAGNOSES, GradCheckResult, assert_close, assert_gradient, assert_gradients,
                             assert_jacobian, check_gradient, check_gradients, check_jacobian, compare,
                             format_results, numerical_gradient, numerical_jacobian, plot_gradient_check)


def quadratic(rng: np.random.Generator, rows: int = 5, columns: int = 3):
    """A least-squares loss of W with its exact gradient."""
    X = rng.standard_normal((7, rows))
    Y = rng.standard_normal((7, columns))
    W = rng.standard_normal((rows, columns))

    def loss(W):
        return 0.5 * np.sum((X @ W - Y) ** 2)

    return loss, W, X.T @ (X @ W - Y)


def test_correct_gradient_passes_and_result_is_truthy():
    """Does a correct gradient pass, with bool(result) == result.passed?"""
    loss, W, dW = quadratic(np.random.default_rng(0))
    result = check_gradient(loss, W, dW, name="dW")
    assert result.passed and bool(result) and result.diagnosis == "ok"
    assert result.max_rel_error < 1e-6
    assert result.message.startswith("[ok] dW: ")


def test_failed_result_is_falsy_and_message_is_prefixed():
    """Does a failing result read as False and its message start with "[<diagnosis>] <name>: "?"""
    loss, W, dW = quadratic(np.random.default_rng(1))
    result = check_gradient(loss, W, -dW, name="dW")
    assert not result and result.passed is False
    assert result.message.startswith(f"[{result.diagnosis}] dW: ")
    assert result.diagnosis in DIAGNOSES


def test_result_is_frozen():
    """Can a result be changed after the fact (it must not)?"""
    loss, W, dW = quadratic(np.random.default_rng(2))
    result = check_gradient(loss, W, dW)
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.passed = False  # type: ignore[misc]
    with pytest.raises(ValueError):
        result.errors[0, 0] = 1.0


def test_result_rejects_inconsistent_fields():
    """Is a result that claims to pass with a failing diagnosis refused?"""
    with pytest.raises(ValueError):
        GradCheckResult(passed=True, diagnosis="sign", name="x", max_rel_error=1.0, worst_index=None, message="")
    with pytest.raises(ValueError):
        GradCheckResult(passed=False, diagnosis="bogus", name="x", max_rel_error=1.0, worst_index=None, message="")


def test_repr_is_a_small_table():
    """Does repr show a header row with name, passed, diagnosis, error, index, then the message?"""
    loss, W, dW = quadratic(np.random.default_rng(3))
    text = repr(check_gradient(loss, W, 2 * dW, name="dW"))
    lines = text.splitlines()
    assert lines[0].split() [:3] == ["name", "passed", "diagnosis"]
    assert set(lines[1]) <= {"-", " "}
    assert lines[2].split()[:3] == ["dW", "NO", "scale"]
    assert any(line.startswith("[scale] dW: ") for line in lines)


def test_format_results_has_one_row_per_parameter():
    """Does format_results print one table row per result, in order?"""
    loss, W, dW = quadratic(np.random.default_rng(4))
    results = {"W": check_gradient(loss, W, dW, name="dW"), "V": check_gradient(loss, W, -dW, name="dV")}
    lines = format_results(results).splitlines()
    assert lines[2].startswith("W ") and lines[3].startswith("V ")
    with pytest.raises(TypeError):
        format_results([results["W"]])  # type: ignore[arg-type]


def test_inputs_are_never_modified():
    """Are x, grad, params and grads byte-for-byte the same after checks, even failing ones?"""
    rng = np.random.default_rng(5)
    loss, W, dW = quadratic(rng)
    W_before, dW_before = W.copy(), dW.copy()
    check_gradient(loss, W, dW)
    check_gradient(loss, W, dW * 3, mode="fast")
    numerical_gradient(loss, W)
    assert np.array_equal(W, W_before) and np.array_equal(dW, dW_before)
    params = {"W": W, "b": rng.standard_normal(3)}
    grads = {"W": dW, "b": np.zeros(3)}
    copies = {k: v.copy() for k, v in params.items()}, {k: v.copy() for k, v in grads.items()}
    check_gradients(lambda p: loss(p["W"]) + np.sum(p["b"] ** 2), params, grads)
    assert all(np.array_equal(params[k], copies[0][k]) for k in params)
    assert all(np.array_equal(grads[k], copies[1][k]) for k in grads)


def test_mutating_function_cannot_touch_callers_array():
    """If f modifies its argument in place, is the caller's x still unchanged?"""
    rng = np.random.default_rng(6)
    x = rng.standard_normal(10)
    before = x.copy()

    def rude(z):
        value = np.sum(z ** 2)
        z *= 0
        return value

    assert check_gradient(rude, x, 2 * x).passed
    assert np.array_equal(x, before)


def test_reproducible_with_rng_and_no_global_seed():
    """Do two fast checks with equal seeds agree exactly, leaving numpy's global state alone?"""
    loss, W, dW = quadratic(np.random.default_rng(7), rows=40, columns=30)
    state = np.random.get_state()[1].copy()
    first = check_gradient(loss, W, dW * 1.5, rng=np.random.default_rng(3), mode="fast")
    second = check_gradient(loss, W, dW * 1.5, rng=np.random.default_rng(3), mode="fast")
    assert first.message == second.message and first.max_rel_error == second.max_rel_error
    assert np.array_equal(np.random.get_state()[1], state)


def test_assert_twins_raise_with_message():
    """Do assert_gradient/gradients/jacobian/close raise AssertionError carrying the message?"""
    loss, W, dW = quadratic(np.random.default_rng(8))
    assert assert_gradient(loss, W, dW, name="dW").passed
    with pytest.raises(AssertionError, match=r"^\[sign\] dW: "):
        assert_gradient(loss, W, -dW, name="dW")
    with pytest.raises(AssertionError, match=r"^\[scale\] dW: "):
        assert_gradients(lambda p: loss(p["W"]), {"W": W}, {"W": 2 * dW})
    A = np.arange(6.0).reshape(2, 3)
    assert assert_jacobian(lambda x: A @ x, np.ones(3), A).passed
    with pytest.raises(AssertionError, match=r"^\[transposed\] J: "):
        assert_jacobian(lambda x: np.triu(A.T @ A) @ x, np.ones(3), np.triu(A.T @ A).T)
    assert assert_close(np.ones(3), np.ones(3)).passed
    with pytest.raises(AssertionError, match=r"^\[wrong\] out: "):
        assert_close(np.array([1.0, 5.0, -3.0]), np.array([2.0, 1.0, 3.0]), name="out")


def test_numerical_gradient_and_jacobian_match_known_derivatives():
    """Do the teaching helpers reproduce the derivatives of sum(x³) and of A @ x?"""
    x = np.array([[1.0, -2.0], [0.5, 3.0]])
    assert np.allclose(numerical_gradient(lambda z: np.sum(z ** 3), x), 3 * x ** 2, atol=1e-7)
    A = np.arange(6.0).reshape(3, 2)
    J = numerical_jacobian(lambda z: A @ z, np.array([1.0, 2.0]))
    assert J.shape == (3, 2) and np.allclose(J, A, atol=1e-8)
    with pytest.raises(ValueError):
        numerical_gradient(lambda z: z, x)


def test_bad_inputs_raise_clear_errors():
    """Are a None gradient, a vector-valued f and an unknown mode refused with clear errors?"""
    x = np.ones(3)
    with pytest.raises(TypeError, match="None"):
        check_gradient(lambda z: np.sum(z), x, None)
    with pytest.raises(ValueError, match="single number"):
        check_gradient(lambda z: z * 2, x, np.ones(3))
    with pytest.raises(ValueError, match="mode"):
        check_gradient(lambda z: np.sum(z), x, np.ones(3), mode="slow")
    with pytest.raises(TypeError, match="rng"):
        check_gradient(lambda z: np.sum(z), x, np.ones(3), rng="seed")


def test_plot_draws_heatmap():
    """Does plot_gradient_check draw an image with a colorbar for a failing check?"""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    loss, W, dW = quadratic(np.random.default_rng(9))
    wrong = dW.copy()
    wrong[2] += 1.0
    ax = plot_gradient_check(check_gradient(loss, W, wrong, name="dW"))
    assert ax.images and "dW" in ax.get_title()
    plt.close("all")


def test_tiny_entries_are_not_judged_alone():
    """Does a correct gradient with near-zero entries pass, where max-elementwise relative error fails it?"""
    x = np.array([1e-9, 0.5, -1.0, 2.0, 1e-8])
    f = lambda z: float(np.sum(np.cosh(z)))  # noqa: E731
    grad = np.sinh(x)
    numerical = numerical_gradient(f, x)
    elementwise = np.max(np.abs(numerical - grad) / np.maximum(np.abs(numerical) + np.abs(grad), 1e-300))
    assert elementwise > 1e-4  # the habit of comparing entry by entry would fail this correct gradient
    assert check_gradient(f, x, grad).passed


def test_compare_is_fast_on_big_arrays():
    """Does compare() diagnose a 300×300 array in well under a second (no per-entry Python loop)?"""
    import time
    rng = np.random.default_rng(10)
    expected = rng.standard_normal((300, 300))
    start = time.perf_counter()
    assert compare(expected.T, expected).diagnosis == "transposed"
    assert time.perf_counter() - start < 2.0


def test_jacobian_in_transposed_layout_is_a_shape_error():
    """Is a Jacobian given as x.shape + f(x).shape reported as shape, explaining the layout?"""
    A = np.arange(6.0).reshape(2, 3)
    result = check_jacobian(lambda x: A @ x, np.ones(3), A.T, name="J")
    assert result.diagnosis == "shape" and "f(x).shape + x.shape" in result.message
