"""The result of one gradient check: a frozen record that prints as a small table."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

import numpy as np

DIAGNOSES: tuple[str, ...] = (
    "ok", "shape", "nonfinite", "zero", "sign", "scale", "transposed", "swapped", "partial", "wrong",
    "nondeterministic",
)
"""Every value :attr:`GradCheckResult.diagnosis` can take (``nondeterministic``: ``f`` gave two
values at the same ``x``, so nothing about the gradient could be judged)."""


@dataclass(frozen=True, repr=False, eq=False)
class GradCheckResult:
    """What a check found about one gradient (or Jacobian, or array).

    Attributes:
        passed: whether the array is right within tolerance. ``bool(result)`` is this.
        diagnosis: one of :data:`DIAGNOSES`; ``"ok"`` exactly when ``passed``.
        name: what was checked, as it appears in messages (``"dW1"``).
        max_rel_error: the largest relative error over everything that was compared
            (entries, or directional derivatives in fast mode), each relative to
            ``max(|yours|, |reference|, rms of the reference)``; ``nan`` when nothing could
            be compared (shape or non-finite values). A passing float32 check may show more
            than ``rtol`` here: the tolerance also allows for the measured rounding noise.
        rel_error: the norm-wise relative error ``‖yours − reference‖ / ‖reference‖`` over the
            compared quantities.
        worst_index: the index of the worst entry (a tuple, in the shape of the array) when it
            is known, else ``None``.
        message: a sentence for a student, starting with ``"[<diagnosis>] <name>: "``.
        method: ``"full"`` (every entry by central differences), ``"fast"`` (random
            directional derivatives plus sampled entries) or ``"compare"`` (no differences).
        evaluations: how many times the function was called.
        checked: what was compared, in words (``"9 directions + 10 of 101770 entries"``, ``"all 24
            entries"``), saying so when kinks at ``x`` blurred or set aside directions.
        precision: the arithmetic the reference was computed in, with step and tolerance.
        kinks: how many probes met a non-differentiable point (judged one-sided).
        hidden: whether the message was written without reference values.
        errors: per-entry relative errors shaped like the array (``nan`` where an entry was not
            examined); ``None`` in hidden mode or when shapes disagree. Read-only.
    """

    passed: bool
    diagnosis: str
    name: str
    max_rel_error: float
    worst_index: tuple[int, ...] | None
    message: str
    rel_error: float = float("nan")
    method: str = "full"
    evaluations: int = 0
    checked: str = ""
    precision: str = ""
    kinks: int = 0
    hidden: bool = False
    errors: np.ndarray | None = field(default=None)

    def __post_init__(self) -> None:
        if self.diagnosis not in DIAGNOSES:
            raise ValueError(f"diagnosis must be one of {DIAGNOSES}, got {self.diagnosis!r}")
        if self.passed != (self.diagnosis == "ok"):
            raise ValueError("passed must be True exactly when diagnosis == 'ok'")
        if self.errors is not None:
            errors = np.array(self.errors, dtype=float)
            errors.setflags(write=False)
            object.__setattr__(self, "errors", errors)

    def __bool__(self) -> bool:
        return bool(self.passed)

    def __repr__(self) -> str:
        return format_results({self.name: self}, messages=True)

    def _repr_pretty_(self, printer, cycle) -> None:  # IPython display
        printer.text(repr(self))


_COLUMNS = ("name", "passed", "diagnosis", "max rel error", "worst index", "checked")


def _row(name: str, result: GradCheckResult) -> tuple[str, ...]:
    error = "-" if not np.isfinite(result.max_rel_error) else f"{result.max_rel_error:.2e}"
    worst = "-" if result.worst_index is None else str(tuple(int(i) for i in result.worst_index))
    return (name, "yes" if result.passed else "NO", result.diagnosis, error, worst,
            result.checked or result.method)


def format_results(results: Mapping[str, GradCheckResult], *, messages: bool = True) -> str:
    """A small text table of several results, one row each, then their messages.

    ``results`` maps a name (usually the parameter's) to its result, as returned by
    :func:`~utils.gradcheck.check_gradients`.
    """
    if not isinstance(results, Mapping):
        raise TypeError(f"format_results expects a dict of GradCheckResult, got {type(results).__name__}")
    rows = [_COLUMNS] + [_row(str(name), result) for name, result in results.items()]
    widths = [max(len(row[col]) for row in rows) for col in range(len(_COLUMNS))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * width for width in widths))
    if messages:
        lines += [result.message for result in results.values()]
        notes = sorted({result.precision for result in results.values() if result.precision})
        lines += [f"precision: {note}" for note in notes]
    return "\n".join(lines)


def report(results: Mapping[str, GradCheckResult]) -> dict[str, GradCheckResult]:
    """Print :func:`format_results` for every result, then raise ``AssertionError`` with the first
    failing message: a test cell shows which checks passed before it fails on the one that did not.

    Returns:
        ``results`` itself when every check passed.
    """
    print(format_results(results))
    for result in results.values():
        if not result.passed:
            raise AssertionError(result.message)
    return dict(results)
