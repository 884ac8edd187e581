"""Small data sets for the notebooks: scikit-learn's handwritten digits and two moons.

Tools only: loading, splitting and standardising. Nothing here trains a model.

Every array of examples is shaped ``(N, D)``: one example per row. Labels are integer class
indices shaped ``(N,)``. Randomness is passed in as a ``np.random.Generator``::

    rng = np.random.default_rng(0)
    digits = load_digits_split(rng)            # 1,437 training and 360 test images
    digits.X_train.shape, digits.test_images.shape   # (1437, 64), (360, 8, 8)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Split", "load_digits_split", "stratified_split", "standardize", "two_moons",
           "two_moons_split"]


@dataclass(frozen=True)
class Split:
    """A train/test split of a classification data set.

    Attributes:
        X_train: ``(N_train, D)`` float64 features, one example per row.
        y_train: ``(N_train,)`` int64 class indices in ``0 .. num_classes - 1``.
        X_test: ``(N_test, D)`` float64 features.
        y_test: ``(N_test,)`` int64 class indices.
        test_images: ``(N_test, H, W)`` raw images of the test examples for plotting
            (before standardisation), or ``None`` when the data are not images.
    """

    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    test_images: np.ndarray | None = None

    @property
    def num_features(self) -> int:
        """D, the number of features of an example."""
        return self.X_train.shape[1]

    @property
    def num_classes(self) -> int:
        """The number of classes seen in the training and test labels."""
        return int(max(self.y_train.max(), self.y_test.max())) + 1

    def __repr__(self) -> str:
        return (f"Split(train={self.X_train.shape[0]}, test={self.X_test.shape[0]}, "
                f"features={self.num_features}, classes={self.num_classes})")


def _check_fraction(test_fraction: float) -> None:
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must be between 0 and 1 (exclusive), got {test_fraction}")


def stratified_split(y: np.ndarray, rng: np.random.Generator,
                     test_fraction: float = 0.2) -> tuple[np.ndarray, np.ndarray]:
    """Shuffled indices ``(train_index, test_index)`` holding ``test_fraction`` of every class out.

    Each class with ``n`` examples puts ``round(test_fraction * n)`` of them, at least one and
    at most ``n - 1``, in the test set, so both sets see every class.

    Args:
        y: ``(N,)`` integer labels.
        rng: the generator that shuffles.
        test_fraction: share of each class to hold out, in (0, 1).

    Raises:
        ValueError: if ``y`` is not 1-D, a class has fewer than two examples, or the fraction
            is out of range.
    """
    _check_fraction(test_fraction)
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"labels must be 1-D, got shape {y.shape}")
    train, test = [], []
    for label in np.unique(y):
        members = rng.permutation(np.flatnonzero(y == label))
        if members.size < 2:
            raise ValueError(f"class {label} has {members.size} example(s); a split needs two")
        held_out = min(max(int(round(test_fraction * members.size)), 1), members.size - 1)
        test.append(members[:held_out])
        train.append(members[held_out:])
    return rng.permutation(np.concatenate(train)), rng.permutation(np.concatenate(test))


def standardize(X_train: np.ndarray, X_test: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Shift and scale every feature to mean 0 and variance 1 *on the training set*.

    The test set is transformed with the training mean and standard deviation (it must not
    leak into them). A feature that is constant in the training set (the corner pixels of
    the digits) is only shifted, not divided by zero.

    Args:
        X_train: ``(N_train, D)`` features.
        X_test: ``(N_test, D)`` features.

    Returns:
        ``(X_train_std, X_test_std)``, new float64 arrays of the same shapes.

    Raises:
        ValueError: if the arrays are not 2-D with the same number of columns.
    """
    X_train = np.asarray(X_train, dtype=np.float64)
    X_test = np.asarray(X_test, dtype=np.float64)
    if X_train.ndim != 2 or X_test.ndim != 2 or X_train.shape[1] != X_test.shape[1]:
        raise ValueError("standardize needs 2-D (N, D) arrays with the same D, got "
                         f"{X_train.shape} and {X_test.shape}")
    mean = X_train.mean(axis=0)
    scale = X_train.std(axis=0)
    # constant up to rounding: the std of n equal floats can come out as 1e-14, not 0
    scale[scale <= 1e-12 * np.maximum(1.0, np.abs(mean))] = 1.0
    return (X_train - mean) / scale, (X_test - mean) / scale


def load_digits_split(rng: np.random.Generator, *, test_fraction: float = 0.2,
                      standardized: bool = True) -> Split:
    """scikit-learn's handwritten digits (1,797 8x8 images, classes 0-9), split stratified.

    The data ship with scikit-learn, so nothing is downloaded.

    Args:
        rng: the generator that shuffles the split.
        test_fraction: share of each digit held out for testing.
        standardized: standardise the 64 pixel features with :func:`standardize`
            (otherwise they are raw grey levels 0..16).

    Returns:
        A :class:`Split` with ``X_*`` shaped ``(N, 64)`` and ``test_images`` ``(N_test, 8, 8)``.
    """
    from sklearn.datasets import load_digits

    digits = load_digits()
    X = digits.data.astype(np.float64)
    y = digits.target.astype(np.int64)
    train, test = stratified_split(y, rng, test_fraction)
    X_train, X_test = X[train], X[test]
    if standardized:
        X_train, X_test = standardize(X_train, X_test)
    return Split(X_train, y[train], X_test, y[test], test_images=digits.images[test].copy())


def two_moons(num_examples: int, rng: np.random.Generator, *,
              noise: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaving half circles in 2-D, a data set no straight line separates.

    Class 0 lies on the upper half circle of radius 1 around (0, 0), class 1 on the lower
    half circle around (1, 0.5); Gaussian noise of standard deviation ``noise`` is added.

    Args:
        num_examples: N, split as evenly as possible between the two classes (N >= 2).
        rng: the generator for positions and noise.
        noise: standard deviation of the noise (>= 0).

    Returns:
        ``(X, y)``: ``(N, 2)`` float64 points and ``(N,)`` int64 labels, in shuffled order.
    """
    if num_examples < 2:
        raise ValueError(f"two_moons needs num_examples >= 2, got {num_examples}")
    if noise < 0:
        raise ValueError(f"noise must be >= 0, got {noise}")
    upper = num_examples // 2
    lower = num_examples - upper
    angle_upper = rng.uniform(0.0, np.pi, upper)
    angle_lower = rng.uniform(0.0, np.pi, lower)
    X = np.concatenate([
        np.column_stack([np.cos(angle_upper), np.sin(angle_upper)]),
        np.column_stack([1.0 - np.cos(angle_lower), 0.5 - np.sin(angle_lower)]),
    ])
    X += rng.normal(0.0, noise, X.shape)
    y = np.concatenate([np.zeros(upper, np.int64), np.ones(lower, np.int64)])
    order = rng.permutation(num_examples)
    return X[order], y[order]


def two_moons_split(num_examples: int, rng: np.random.Generator, *, noise: float = 0.2,
                    test_fraction: float = 0.25, standardized: bool = True) -> Split:
    """:func:`two_moons` split stratified into training and test sets (see :func:`load_digits_split`)."""
    X, y = two_moons(num_examples, rng, noise=noise)
    train, test = stratified_split(y, rng, test_fraction)
    X_train, X_test = X[train], X[test]
    if standardized:
        X_train, X_test = standardize(X_train, X_test)
    return Split(X_train, y[train], X_test, y[test])
