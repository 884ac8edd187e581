"""The words of a diagnosis: factors, positions and likely causes, written for a student."""

from __future__ import annotations

from fractions import Fraction

import numpy as np

MAX_LISTED = 6


def factor(c: float) -> str:
    """A scale factor as a student would write it: ``×2``, ``×1/64``, ``×2/3``, else a decimal
    (``×0.37``, ``×17.1``, ``×1.001``): fractions only of small whole numbers (at most 16)."""
    size = abs(c)
    sign = "−" if c < 0 else ""
    if size >= 1.5:
        whole = round(size)
        if abs(size - whole) <= 1e-3 * size:
            return f"×{sign}{whole}"
    elif 0 < size <= 0.75:
        whole = round(1 / size)
        if abs(1 / size - whole) <= 1e-3 / size:
            return f"×{sign}1/{whole}"
    fraction = Fraction(size).limit_denominator(16)
    if 0 < size and fraction.numerator <= 16 and fraction.denominator > 1 \
            and abs(float(fraction) - size) <= 1e-4 * size:
        return f"×{sign}{fraction.numerator}/{fraction.denominator}"
    if abs(size - 1) < 0.01:
        return f"×{c:.4g}"
    return f"×{c:.3g}"


def whole(c: float, rtol: float = 1e-4) -> bool:
    """Whether ``c`` is ±N or ±1/N for a whole number N (to ``rtol``): from a single number, the
    only factors worth naming (any other is how any two numbers relate)."""
    size = abs(c)
    if not np.isfinite(size) or size == 0:
        return False
    size = size if size >= 1 else 1 / size
    return abs(size - round(size)) <= rtol * size


def factor_hint(c: float, dims: set[int]) -> str:
    """The likely cause of a gradient that is ``c`` times the right one."""
    size = abs(c)
    if size >= 1.5:
        whole = round(size)
        exact = abs(size - whole) <= 1e-3 * size
        if exact and whole == 2:
            return (" — a factor 2 from a square: the derivative of ½‖r‖² is r, of ‖r‖² it is 2r. "
                    "Did you drop or add a ½ or a 2?")
        if exact:
            known = f" ({whole} is a dimension of your data: the batch size?)" if whole in dims else ""
            return f" — did you forget to average over the batch (divide by {whole}){known}?"
        return " — a constant factor is wrong: check every scalar factor (averages, ½, learning rate)."
    if 0 < size <= 0.75:
        whole = round(1 / size)
        exact = abs(1 / size - whole) <= 1e-3 / size
        if exact and whole == 2:
            return (" — a factor ½: the derivative of ‖r‖² is 2r, of ½‖r‖² it is r. "
                    "Did you add a ½ or drop a 2?")
        if exact:
            known = f" ({whole} is a dimension of your data: the batch size?)" if whole in dims else ""
            return (f" — did you average over the batch{known} when the loss is a sum, "
                    f"or divide by {whole} twice?")
        return " — a constant factor is wrong: check every scalar factor (averages, ½, learning rate)."
    return (" — a constant factor slightly off: check every scalar factor, and small constants "
            "such as an ε or a momentum in the forward pass that the backward pass must follow too.")


def index_text(index: tuple[int, ...]) -> str:
    return str(tuple(int(i) for i in index)) if len(index) != 1 else str(int(index[0]))


def listing(items: list, noun_one: str, noun_many: str) -> str:
    """``"rows 3 and 7"``, ``"entry 4"``, ``"rows 1, 2, 5, … (12 in all)"``."""
    shown = [index_text(i) if isinstance(i, tuple) else str(int(i)) for i in items[:MAX_LISTED]]
    if len(items) == 1:
        return f"{noun_one} {shown[0]}"
    if len(items) <= MAX_LISTED:
        return f"{noun_many} {', '.join(shown[:-1])} and {shown[-1]}"
    return f"{noun_many} {', '.join(shown)}, … ({len(items)} in all)"


def shape_text(name: str, got: tuple, want: tuple, *, what: str) -> tuple[str, str]:
    """Why the shapes differ, and the usual reason: ``(text, cause)``."""
    text = f"your {name} has shape {got} but {what} has shape {want}"
    if len(got) >= 2 and tuple(reversed(got)) == tuple(want):
        return text, (" — it is transposed: a gradient has the shape of its parameter; check the "
                      "order of the factors and which of them is transposed.")
    if int(np.prod(got)) == int(np.prod(want)):
        return text, " — the right number of entries in the wrong shape: reshape it like the parameter."
    if len(want) == 1 and len(got) == 1:
        return text, (" — did you sum over the wrong axis? A bias gradient sums the upstream "
                      "gradient over the batch (examples) axis.")
    if len(got) == len(want) + 1 or (len(want) == 1 and len(got) == 2 and 1 in got):
        return text, " — did you forget to sum over the batch axis (or keep a dimension of size 1)?"
    return text, " — check which axes you multiplied and summed over."


def nonfinite_text(name: str, A: np.ndarray, shape: tuple[int, ...]) -> tuple[str, str]:
    """Where the nan/inf entries are, and the usual reason: ``(text, cause)``."""
    bad = ~np.isfinite(A.reshape(-1))
    count = int(bad.sum())
    first = tuple(int(i) for i in np.unravel_index(int(np.argmax(bad)), shape)) if shape else ()
    kinds = "NaN" if np.isnan(A).any() else "infinite"
    return (f"your {name} has {count} {kinds} entr{'y' if count == 1 else 'ies'} (first at "
            f"{index_text(first) if first else '()'})",
            " — a log(0), a 0/0 or an overflowing exp? (In a softmax, subtract the row maximum before exp.)")


CAUSES = {
    "zero": (" — did you return the array you initialised (np.zeros_like) without filling it, "
             "or forget to backpropagate into this parameter?"),
    "sign": (" (it is the gradient of −loss) — check the sign of each term: the order of a "
             "subtraction, and that a minus in the forward pass gives a minus in the backward pass."),
    "transposed": (" — a gradient has the layout of its parameter: check the order of the "
                   "factors of the matrix product and which of them is transposed."),
    "wrong": (" Likely a step of the chain rule: a local derivative that is missing or wrong, a "
              "term that depends on x but was treated as a constant, or a sum over the wrong axis. "
              "Check each step against a small example worked by hand."),
    "rows": (" — if several examples reach the same row (a word that occurs twice), their "
             "gradients must be added up, not overwritten (fancy-index assignment keeps only one)."),
    "some rows": (" — look for what is different about these rows: a loop or a slice that skips "
                  "some of them, or an index that is off by one?"),
}


def rows_cause(A: np.ndarray, rows: int) -> str:
    """The likely cause of whole wrong rows: words that occur twice for a lookup table's gradient
    (recognised by rows that are all zero: words not in the batch), else rows left out."""
    table = A.reshape(rows, -1) if rows and A.size % rows == 0 else A.reshape(1, -1)
    return CAUSES["rows"] if table.shape[0] > 1 and not np.all(table.any(axis=1)) else CAUSES["some rows"]

PLAIN_CAUSES = {
    "sign": " — check the sign of each term (a subtraction the wrong way round?).",
    "transposed": " — check the order of a matrix product (A @ B is not B @ A) or a missing/extra .T.",
    "wrong": " Check the formula step by step against a small example worked by hand.",
}


def cause(diagnosis: str, what: str) -> str:
    """The likely cause, phrased for gradients and Jacobians or, for :func:`compare`, for any array."""
    if what == "the expected array" and diagnosis in PLAIN_CAUSES:
        return PLAIN_CAUSES[diagnosis]
    return CAUSES[diagnosis]


def with_cause(text: str, cause: str, hint: str | None = None) -> str:
    """``text`` (what was found) followed by the likely cause: the exercise's own ``hint`` when a
    test cell gave one for this diagnosis, else the generic ``cause``."""
    if hint:
        return text.rstrip(" .") + ". " + hint.strip()
    return text + (cause or ("" if text.endswith(".") else "."))
