"""Exact zeros in a ReLU input set the random directions aside: is more checked, and said honestly?"""

from __future__ import annotations

import numpy as np
import pytest


from utils.gradcheck import check_gradient


def relu_with_zeros(rng: np.random.Generator, shape: tuple[int, int]):
    """f(x) = Σ relu(x)·v + 0.1‖x‖² with 10% of x exactly 0 (the last entry positive), its gradient
    (mask x > 0) and the same gradient from a loop that stops one entry early."""
    x = rng.standard_normal(shape)
    x[rng.random(shape) < 0.1] = 0.0
    x[-1, -1] = 0.5
    v = rng.standard_normal(shape)
    f = lambda z: float(np.sum(np.maximum(z, 0) * v) + 0.1 * np.sum(z ** 2))  # noqa: E731
    right = v * (x > 0) + 0.2 * x
    skipped = right.copy()
    skipped[-1, -1] = 0.0
    return f, x, right, skipped


@pytest.mark.parametrize("shape", [(40, 25), (60, 50)])
def test_last_entry_skipped_is_caught_across_seeds(shape):
    """With exact kinks at x, is a gradient whose last entry was skipped caught in every seed, naming
    that entry — by a full sweep at 1000 entries, by sampling the first and last entries at 3000?"""
    for seed in range(4):
        f, x, right, skipped = relu_with_zeros(np.random.default_rng(seed), shape)
        result = check_gradient(f, x, skipped, name="dx", rng=seed)
        assert result.diagnosis == "partial", result.message
        assert f"entry ({shape[0] - 1}, {shape[1] - 1})" in result.message


def test_ok_message_says_what_was_checked():
    """Does a passing check say it swept all entries when it did, and otherwise that the directions
    were set aside, how many of the entries were checked, and that mode='full' checks them all?"""
    f, x, right, _ = relu_with_zeros(np.random.default_rng(5), (40, 25))
    swept = check_gradient(f, x, right, rng=5)
    assert swept.passed and "all 1000 entries" in swept.message, swept.message
    f, x, right, _ = relu_with_zeros(np.random.default_rng(6), (60, 50))
    sampled = check_gradient(f, x, right, rng=6)
    assert sampled.passed and sampled.method == "fast", sampled.message
    assert "set aside" in sampled.message and "of 3000 entries" in sampled.message
    assert "mode='full'" in sampled.message and "9 directions" not in sampled.message
