"""utils.datasets: the digits split, two moons and standardisation."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from utils.datasets import Split, load_digits_split, standardize, stratified_split, two_moons, two_moons_split


@pytest.fixture(scope="module")
def digits() -> Split:
    return load_digits_split(np.random.default_rng(0))


def test_digits_split_has_every_image_once(digits: Split) -> None:
    """Does the digits split hold all 1,797 images, 20% of each class in the test set, none twice?"""
    from sklearn.datasets import load_digits

    assert digits.X_train.shape[0] + digits.X_test.shape[0] == 1797
    assert digits.num_features == 64 and digits.num_classes == 10
    assert digits.test_images.shape == (digits.X_test.shape[0], 8, 8)
    for label in range(10):
        in_test, in_train = np.sum(digits.y_test == label), np.sum(digits.y_train == label)
        assert abs(in_test - 0.2 * (in_test + in_train)) <= 1
    raw = load_digits()
    # every test image is a distinct original image, with its own label
    flat = raw.images.reshape(len(raw.images), -1)
    matches = [np.flatnonzero((flat == image.ravel()).all(axis=1)) for image in digits.test_images]
    assert all(raw.target[m].tolist().count(label) >= 1 for m, label in zip(matches, digits.y_test))


def test_digits_are_standardised_on_the_training_set(digits: Split) -> None:
    """Are the training pixels mean 0 / std 1 (or constant 0), and the test set transformed alike?"""
    assert np.allclose(digits.X_train.mean(axis=0), 0.0, atol=1e-12)
    std = digits.X_train.std(axis=0)
    assert np.all(np.isclose(std, 1.0) | np.isclose(std, 0.0))
    assert abs(digits.X_test.mean()) < 0.2  # close to, but not exactly, zero


def test_digits_split_is_reproducible_and_raw_on_request() -> None:
    """Does the same seed give the same split, and standardized=False the raw grey levels 0..16?"""
    a = load_digits_split(np.random.default_rng(3), standardized=False)
    b = load_digits_split(np.random.default_rng(3), standardized=False)
    assert np.array_equal(a.X_test, b.X_test) and np.array_equal(a.y_train, b.y_train)
    assert a.X_train.min() == 0 and a.X_train.max() == 16
    assert np.array_equal(a.X_test.reshape(-1, 8, 8), a.test_images)


@settings(max_examples=30, deadline=None)
@given(arrays(np.float64, st.tuples(st.integers(2, 20), st.integers(1, 5)),
              elements=st.floats(-1e3, 1e3)), st.integers(0, 2**32 - 1))
def test_standardize_properties(X: np.ndarray, seed: int) -> None:
    """Does standardize give mean 0 and std 1 or 0 per training feature, and apply the same map to the test set?"""
    X_std, X_again = standardize(X, X)
    assert np.allclose(X_std, X_again)
    assert np.allclose(X_std.mean(axis=0), 0.0, atol=1e-6)
    std = X_std.std(axis=0)
    assert np.all(np.isclose(std, 1.0, atol=1e-6) | (std < 1e-6))
    assert np.all(np.isfinite(X_std))


def test_standardize_does_not_modify_inputs_and_rejects_bad_shapes() -> None:
    """Is the caller's array left alone, and a column mismatch reported?"""
    X = np.arange(12.0).reshape(4, 3)
    copy = X.copy()
    standardize(X, X[:2])
    assert np.array_equal(X, copy)
    with pytest.raises(ValueError, match="same D"):
        standardize(X, X[:, :2])
    with pytest.raises(ValueError, match="same D"):
        standardize(X.ravel(), X.ravel())


@settings(max_examples=30, deadline=None)
@given(st.lists(st.integers(0, 4), min_size=4, max_size=60), st.floats(0.1, 0.9), st.integers(0, 1000))
def test_stratified_split_is_a_partition(labels: list[int], fraction: float, seed: int) -> None:
    """Is every index in exactly one of the two sets, with each class on both sides?"""
    y = np.array(labels)
    counts = np.bincount(y)
    if np.any((counts > 0) & (counts < 2)):
        with pytest.raises(ValueError, match="needs two"):
            stratified_split(y, np.random.default_rng(seed), fraction)
        return
    train, test = stratified_split(y, np.random.default_rng(seed), fraction)
    assert sorted(np.concatenate([train, test]).tolist()) == list(range(len(y)))
    assert set(y[train]) == set(y) == set(y[test])


def test_bad_fractions_are_rejected() -> None:
    """Is a test fraction outside (0, 1) reported?"""
    for fraction in (0.0, 1.0, -0.5, 2.0):
        with pytest.raises(ValueError, match="test_fraction"):
            stratified_split(np.array([0, 0, 1, 1]), np.random.default_rng(0), fraction)


def test_two_moons_shape_balance_and_geometry() -> None:
    """Are two moons balanced, noise-free points on their half circles, and not linearly separable?"""
    X, y = two_moons(101, np.random.default_rng(0), noise=0.0)
    assert X.shape == (101, 2) and y.shape == (101,)
    assert np.bincount(y).tolist() == [50, 51]
    assert np.allclose(np.hypot(*X[y == 0].T), 1.0) and np.all(X[y == 0, 1] >= -1e-12)
    assert np.allclose(np.hypot(X[y == 1, 0] - 1.0, X[y == 1, 1] - 0.5), 1.0)
    # least squares on (x, y, 1) cannot separate the moons perfectly
    design = np.column_stack([X, np.ones(len(X))])
    w, *_ = np.linalg.lstsq(design, 2.0 * y - 1.0, rcond=None)
    assert np.mean((design @ w > 0) == (y == 1)) < 1.0


def test_two_moons_split_and_errors() -> None:
    """Does two_moons_split give a standardised 2-D split, and are bad arguments reported?"""
    split = two_moons_split(200, np.random.default_rng(1), test_fraction=0.25)
    assert split.X_train.shape == (150, 2) and split.X_test.shape == (50, 2)
    assert split.test_images is None and split.num_classes == 2
    assert "train=150" in repr(split)
    with pytest.raises(ValueError, match="num_examples"):
        two_moons(1, np.random.default_rng(0))
    with pytest.raises(ValueError, match="noise"):
        two_moons(10, np.random.default_rng(0), noise=-1.0)
