"""A diagnostic gradient checker for teaching and grading backpropagation.

It tells a student *what* is wrong with a gradient, not just *that* it is::

    >>> from utils.gradcheck import check_gradient
    >>> result = check_gradient(loss, W, dW, name="dW")
    >>> print(result)              # a small table and a message such as
    [scale] dW: your dW is ×1/64 the gradient — did you average over the batch ...

Diagnoses: ``ok``, ``shape``, ``nonfinite``, ``zero``, ``sign``, ``scale``, ``transposed``,
``swapped``, ``partial``, ``wrong`` and ``nondeterministic`` (``f`` itself gave two values at one
``x``: dropout or sampling with a fresh seed). The checks never modify their inputs, are
reproducible (``rng``), pass correct ReLU/max/abs code at and near its kinks, adapt step and
tolerance to float32 arithmetic, and need only tens of calls of ``f`` for big arrays.

Modules: :mod:`.check` (the checks), :mod:`.result` (the result record and table),
:mod:`._numerical` (plain central differences), :mod:`._precision`, :mod:`._probe`,
:mod:`._evidence`, :mod:`._diagnose`, :mod:`._localise`, :mod:`._messages` (the engine) and
:mod:`.plot` (the heatmap).
"""

from ._numerical import numerical_gradient, numerical_jacobian
from .check import (assert_close, assert_gradient, assert_gradients, assert_jacobian, check_gradient,
                    check_gradients, check_jacobian, compare)
from .plot import plot_gradient_check
from .result import DIAGNOSES, GradCheckResult, format_results, report

__all__ = [
    "DIAGNOSES", "GradCheckResult", "assert_close", "assert_gradient", "assert_gradients", "assert_jacobian",
    "check_gradient", "check_gradients", "check_jacobian", "compare", "format_results", "report",
    "numerical_gradient", "numerical_jacobian", "plot_gradient_check",
]
