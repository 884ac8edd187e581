"""The diagnosis engine: which simple mistake explains a student's array?

Each hypothesis is a candidate array built from the student's own ``A`` (``−A``, ``A / c``,
``Aᵀ``, another parameter's gradient) and judged by the same measurements as ``A`` itself
(:class:`~utils.gradcheck._evidence.Evidence`), so it costs no further calls of ``f``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import _messages as words
from ._evidence import Evidence

SLACK = 3.0
"""A hypothesis holds when it agrees with every measurement within this many tolerances."""


@dataclass(frozen=True)
class Finding:
    """A diagnosis and its explanation (the message without the ``[diagnosis] name: `` prefix):
    ``text`` says what was found, ``cause`` its usual reason (replaced by an exercise's own hint)."""

    diagnosis: str
    text: str
    worst_index: tuple[int, ...] | None = None
    cause: str = ""


def transposes(A: np.ndarray, target: tuple[int, ...], m: int) -> list[np.ndarray]:
    """Transposed variants of ``A`` (shape ``(m, n)``) that have the same shape as ``target``."""
    variants = []
    array = A.reshape(target)
    if array.ndim >= 2 and tuple(reversed(target)) == tuple(target):
        variants.append(array.transpose(tuple(reversed(range(array.ndim)))).reshape(A.shape))
    return [v for v in variants if not np.array_equal(v, A)]


def fit_scale(evidence: Evidence, A: np.ndarray) -> float:
    """Least-squares ``c`` in ``A ≈ c·G`` over the measurements, weighted by their tolerances."""
    measured, centers, widths = evidence.measure(A), evidence.centers, evidence.widths
    weights = 1.0 / widths ** 2
    denominator = float(np.sum(weights * centers ** 2))
    if denominator == 0 or not np.isfinite(denominator):
        return float("nan")
    return float(np.sum(weights * measured * centers) / denominator)


def reference_is_zero(evidence: Evidence) -> bool:
    return bool(np.all(np.abs(evidence.centers) <= evidence.widths))


def global_hypotheses(evidence: Evidence, A: np.ndarray, *, name: str, target: tuple[int, ...],
                      hidden: bool, dims: set[int], what: str) -> Finding | None:
    """Zero, transposed, sign or scale, if one of them explains ``A``; else ``None``."""
    if not np.any(A) and not reference_is_zero(evidence):
        return Finding("zero", f"your {name} is all zeros, but {what} is not", cause=words.CAUSES["zero"])
    if reference_is_zero(evidence):
        return None
    for candidate in transposes(A, target, evidence.m):
        if evidence.explains(candidate, SLACK):
            return Finding("transposed", f"your {name} is the transpose of {what}",
                           cause=words.cause("transposed", what))
    c = fit_scale(evidence, A)
    if A.size == 1 and not words.whole(c):
        return None  # one number is always some multiple of another: only a whole factor tells
    # a factor near 1 is told apart from an error in a few entries by agreeing everywhere
    near_one = abs(c - 1) <= 1e-2 and not evidence.matches(A / c, SLACK)
    if np.isfinite(c) and c != 0 and not near_one and evidence.explains(A / c, SLACK):
        if abs(c + 1) <= 1e-2:
            return Finding("sign", f"your {name} has the opposite sign of {what}", cause=words.cause("sign", what))
        if hidden:
            size = "larger" if abs(c) > 1 else "smaller"
            text = f"your {name} is a constant factor {size} than {what}"
            if c < 0:
                return Finding("sign", text + " and has the opposite sign", cause=words.cause("sign", what))
            return Finding("scale", text, cause=" — check every scalar factor (averages over the batch, ½, 2).")
        label = words.factor(c)
        if c < 0:
            return Finding("sign", f"your {name} is {label} {what}: the opposite sign and a wrong factor",
                           cause=words.factor_hint(c, dims))
        return Finding("scale", f"your {name} is {label} {what}", cause=words.factor_hint(c, dims))
    return None


def entry_errors(evidence: Evidence, A: np.ndarray, target: tuple[int, ...]) -> np.ndarray:
    """Relative error of every measured entry, shaped like ``target`` (``nan`` where unmeasured).

    For a Jacobian, probing input ``i`` measures the whole column ``(·, i)``.
    """
    relative = evidence.relative_errors(A)  # (K, m)
    entry = evidence.table()["entry"]
    rows = np.flatnonzero(entry >= 0)
    errors = np.full((evidence.m, evidence.n), np.nan)
    errors[:, entry[rows]] = relative[rows].T
    return errors.reshape(target)


def wrong_entries(evidence: Evidence, A: np.ndarray, target: tuple[int, ...]) -> np.ndarray:
    """Boolean array shaped like ``target``: which measured entries disagree (full evidence only)."""
    excess = evidence.excess(A)  # (n, m) for full evidence
    return (excess > 1).T.reshape(target)


def where_text(mask: np.ndarray, A: np.ndarray, *, gradient: bool = True) -> tuple[str, str]:
    """Name the wrong places of a boolean array: rows, columns or entries, with a hint for rows.

    Whole rows (most of their entries wrong) are named as rows, a few scattered entries as
    entries. The hint about accumulating repeated rows only fits gradients of lookup tables
    (:func:`~._messages.rows_cause`).
    """
    count = int(mask.sum())
    if mask.ndim == 2 and mask.shape[0] > 1:
        rows = np.flatnonzero(mask.any(axis=1)).tolist()
        columns = np.flatnonzero(mask.any(axis=0)).tolist()
        whole_rows = all(mask[r].mean() >= 0.5 and mask[r].sum() >= 2 for r in rows)
        whole_columns = all(mask[:, c].mean() >= 0.5 and mask[:, c].sum() >= 2 for c in columns)
        hint = words.rows_cause(A, mask.shape[0]) if gradient else "."
        if whole_rows and len(rows) < mask.shape[0] and (len(rows) <= len(columns) or not whole_columns):
            return words.listing(rows, "row", "rows"), hint
        if whole_columns and len(columns) < mask.shape[1]:
            return words.listing(columns, "column", "columns"), ""
        if count > words.MAX_LISTED and len(rows) <= len(columns) and len(rows) < mask.shape[0]:
            return words.listing(rows, "row", "rows"), hint
        if count > words.MAX_LISTED and len(columns) < mask.shape[1]:
            return words.listing(columns, "column", "columns"), ""
    indices = [tuple(int(i) for i in index) for index in np.argwhere(mask)]
    if mask.ndim == 1:
        indices = [i[0] for i in indices]
    return words.listing(indices, "entry", "entries"), ""


def partial_finding(evidence: Evidence, A: np.ndarray, *, name: str, target: tuple[int, ...],
                    hidden: bool) -> Finding | None:
    """Partly right (full evidence): most entries agree; names where the wrong ones are."""
    mask = wrong_entries(evidence, A, target)
    count, total = int(mask.sum()), mask.size
    if count == 0 or count > total // 2:
        return None
    where, hint = where_text(mask, A, gradient=evidence.m == 1)
    worst = np.unravel_index(int(np.nanargmax(np.where(mask, entry_errors(evidence, A, target), -1))), target)
    verb = "are" if where.startswith(("rows", "columns", "entries")) else "is"
    text = f"your {name} is right in {total - count} of {total} entries, but {where} {verb} wrong"
    if not hidden:
        flat = mask.reshape(-1)
        values = A.reshape(-1)[flat]
        if values.size and not np.any(values):
            text += " (yours are 0 there)"
    return Finding("partial", text, tuple(int(i) for i in worst), cause=hint or ".")


def wrong_finding(evidence: Evidence, A: np.ndarray, *, name: str, target: tuple[int, ...], hidden: bool,
                  what: str, worst_index: tuple[int, ...] | None, max_rel_error: float) -> Finding:
    """Nothing simple explains it: say how far off, where (when known) and the usual causes."""
    text = f"your {name} does not match {what} (largest relative error {max_rel_error:.1e}"
    if worst_index is not None:
        text += f", worst at {words.index_text(worst_index)}" if worst_index else ""
        reference = evidence.reference()
        if reference is not None and not hidden:
            flat = int(np.ravel_multi_index(worst_index, target))
            yours, ref = float(A.reshape(-1)[flat]), float(reference.reshape(-1)[flat])
            text += f"{':' if worst_index else ','} yours {yours:.6g}, expected {ref:.6g}"
    text += ")."
    if reference_is_zero(evidence) and not hidden:
        return Finding("wrong", text + f" {what[0].upper() + what[1:]} is zero here, yours is not.", worst_index)
    return Finding("wrong", text, worst_index, cause=words.cause("wrong", what))


def wrong_outputs_finding(evidence: Evidence, *, name: str, target: tuple[int, ...]) -> Finding | None:
    """Partly right Jacobian (fast evidence): each probe measures every output, so the outputs
    (rows of ``J``) whose measurements disagree are known without further calls."""
    wrong = evidence.table()["wrong"].any(axis=0)
    count = int(wrong.sum())
    if count == 0 or count > evidence.m // 2:
        return None
    out_shape = target[: len(target) - len(evidence.shape)]
    rows = [tuple(int(i) for i in np.unravel_index(j, out_shape)) for j in np.flatnonzero(wrong)]
    if len(out_shape) == 1:
        rows = [r[0] for r in rows]
    where = words.listing(rows, "row", "rows")
    verb = "is" if count == 1 else "are"
    return Finding("partial", f"your {name} is right for most outputs, but {where} (the derivatives of "
                   f"output{'' if count == 1 else 's'} {', '.join(str(r) for r in rows[:words.MAX_LISTED])}) "
                   f"{verb} wrong.")
