"""Plain central differences, entry by entry: the method the notebooks teach.

.. math:: \\frac{\\partial f}{\\partial x_i} \\approx \\frac{f(x + h e_i) - f(x - h e_i)}{2h}

Both functions work on a float64 copy of ``x`` (the caller's array is never modified) and
cost ``2n`` calls of ``f``. The checks in :mod:`utils.gradcheck.check` use them only as a
model: they add kink handling, precision detection and a fast mode for big arrays.
"""

from __future__ import annotations

from typing import Callable, Iterator

import numpy as np


def _point(x: object) -> np.ndarray:
    array = np.array(x, dtype=np.float64, copy=True)
    if array.dtype == object:
        raise TypeError("x must be a numeric array")
    return array


def _start(x: object, h: float) -> np.ndarray:
    """A float64 copy of ``x`` to perturb, after checking the step."""
    if not h > 0:
        raise ValueError(f"h must be positive, got {h}")
    return _point(x)


def _central_differences(f: Callable[[np.ndarray], object], point: np.ndarray,
                         h: float) -> Iterator[tuple[tuple[int, ...], np.ndarray, np.ndarray]]:
    """``(index, f(point + h e_index), f(point - h e_index))`` for every entry; ``f`` gets fresh
    copies and ``point`` is restored after each entry."""
    for index in np.ndindex(point.shape):
        original = point[index]
        point[index] = original + h
        plus = np.asarray(f(point.copy()), dtype=np.float64)
        point[index] = original - h
        minus = np.asarray(f(point.copy()), dtype=np.float64)
        point[index] = original
        yield index, plus, minus


def numerical_gradient(f: Callable[[np.ndarray], float], x: np.ndarray, *, h: float = 1e-5) -> np.ndarray:
    """Central-difference gradient of a scalar function ``f`` at ``x``.

    Args:
        f: maps an array shaped like ``x`` to a number.
        x: the point, any shape; not modified.
        h: the step (``1e-5`` suits float64).

    Returns:
        An array shaped like ``x`` (float64): entry ``i`` is ``(f(x + h e_i) − f(x − h e_i)) / 2h``.
    """
    point = _start(x, h)
    grad = np.zeros(point.shape)
    for index, plus, minus in _central_differences(f, point, h):
        if plus.size != 1:
            raise ValueError(f"f must return a single number, got shape {plus.shape}; "
                             "use numerical_jacobian for array outputs")
        grad[index] = (plus.item() - minus.item()) / (2 * h)
    return grad


def numerical_jacobian(f: Callable[[np.ndarray], np.ndarray], x: np.ndarray, *, h: float = 1e-5) -> np.ndarray:
    """Central-difference Jacobian of an array function ``f`` at ``x``.

    Returns:
        An array of shape ``f(x).shape + x.shape`` (``(m, n)`` for vectors):
        ``J[i, j] ≈ ∂f_i / ∂x_j``.
    """
    point = _start(x, h)
    out_shape = np.shape(f(point.copy()))
    jacobian = np.zeros(tuple(out_shape) + point.shape)
    for index, plus, minus in _central_differences(f, point, h):
        jacobian[(Ellipsis,) + index] = (plus - minus) / (2 * h)
    return jacobian
