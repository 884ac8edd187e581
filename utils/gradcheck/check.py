"""The public checks: gradients, gradients of several parameters, Jacobians, plain arrays.

Each returns a frozen :class:`~utils.gradcheck.result.GradCheckResult`; each ``assert_…`` twin
returns the same and raises ``AssertionError(result.message)`` when the check fails.
"""

from __future__ import annotations

from typing import Callable, Mapping

import numpy as np
from threadpoolctl import ThreadpoolController

from . import _messages as words
from ._diagnose import (SLACK, Finding, entry_errors, global_hypotheses, partial_finding, wrong_finding,
                        wrong_outputs_finding)
from ._evidence import FULL_LIMIT, Evidence, collect, from_arrays
from ._localise import find_one, localise
from ._precision import Precision, describe, detect
from ._probe import WRONG, Evaluator, Line
from .result import GradCheckResult

__all__ = ["check_gradient", "check_gradients", "check_jacobian", "compare", "assert_gradient",
           "assert_gradients", "assert_jacobian", "assert_close"]

MODES = ("auto", "full", "fast")
_CONTROLLER: list[ThreadpoolController] = []


def threadpool_limits(limits: int = 1):
    """Limit BLAS to ``limits`` threads while checking (stable timings; the controller is cached,
    since building one costs about a millisecond)."""
    if not _CONTROLLER:
        _CONTROLLER.append(ThreadpoolController())
    return _CONTROLLER[0].limit(limits=limits)
GRADIENT = "the gradient"


def _generator(rng: np.random.Generator | int | None) -> np.random.Generator:
    if rng is None:
        return np.random.default_rng(0)
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, (int, np.integer)):
        return np.random.default_rng(int(rng))
    raise TypeError(f"rng must be a numpy Generator, an int seed or None, got {type(rng).__name__}")


def _numeric(value: object, what: str) -> np.ndarray:
    """A float64 copy of ``value``; a clear error for things that are not numeric arrays."""
    if value is None:
        raise TypeError(f"{what} is None — did the function forget to return it?")
    array = np.asarray(value)
    if array.dtype == object or not (np.issubdtype(array.dtype, np.number) or array.dtype == np.bool_):
        raise TypeError(f"{what} must be a numeric array, got {type(value).__name__} of dtype {array.dtype}")
    if np.iscomplexobj(array):
        raise TypeError(f"{what} must be real, got complex numbers")
    return array


def _options(mode: str, directions: int, entries: int, full_limit: int) -> None:
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    if directions < 1 or entries < 0 or full_limit < 0:
        raise ValueError("directions must be >= 1, entries and full_limit >= 0")


def _result(diagnosis: str, name: str, text: str, **fields) -> GradCheckResult:
    return GradCheckResult(passed=diagnosis == "ok", diagnosis=diagnosis, name=name,
                           message=f"[{diagnosis}] {name}: {text}", **fields)


def _early(diagnosis: str, name: str, text: str, hidden: bool) -> GradCheckResult:
    return _result(diagnosis, name, text, max_rel_error=float("nan"), worst_index=None, method="none",
                   checked="nothing (see message)", hidden=hidden)


def _nonfinite_reference(name: str, hidden: bool, evaluations: int) -> GradCheckResult:
    return _result("nonfinite", name, "the function itself is not finite (nan or inf) at x, so no "
                   "gradient can be checked there — a log(0) or an overflow in the forward pass?",
                   max_rel_error=float("nan"), worst_index=None, method="none", evaluations=evaluations,
                   checked="f(x)", hidden=hidden)


class _Gathered:
    """Everything measured for one array: precision, value at x, evidence (or an early result)."""

    def __init__(self, early: GradCheckResult | None = None, evidence: Evidence | None = None,
                 precision: Precision | None = None, f0: np.ndarray | None = None,
                 evaluate: Evaluator | None = None) -> None:
        self.early, self.evidence, self.precision, self.f0, self.evaluate = early, evidence, precision, f0, evaluate


def _gather(evaluate: Evaluator, x: np.ndarray, A: np.ndarray, student_dtype: np.dtype, *, name: str,
            rng: np.random.Generator, hidden: bool, rtol: float | None, atol: float | None, h: float | None,
            mode: str, directions: int, entries: int, full_limit: int) -> _Gathered:
    """Measure the reference around ``x`` and judge ``A`` (shape ``(m, n)``) against it."""
    precision, f0, _ = detect(evaluate, x, student_dtype, h=h, rtol=rtol, rng=rng)
    if not np.all(np.isfinite(f0)):
        return _Gathered(early=_nonfinite_reference(name, hidden, evaluate.count))
    full = mode == "full" or (mode == "auto" and x.size <= full_limit)
    line = Line(evaluate, x.astype(precision.dtype), f0, A, precision.dtype)
    evidence = collect(line, x.shape, A, f0, precision, rng=rng, full=full, directions=directions,
                       entries=entries, atol=0.0 if atol is None else float(atol))
    return _Gathered(evidence=evidence, precision=precision, f0=f0, evaluate=evaluate)


def _merge(blocks: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for start, stop in sorted(blocks):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(stop, merged[-1][1]))
        else:
            merged.append((start, stop))
    return merged


def _located_finding(location, name: str, target: tuple[int, ...]) -> Finding:
    blocks = _merge(location.blocks)
    noun_one, noun_many = ("row", "rows") if location.by_row else ("entry", "entries")
    singles = [start for start, stop in blocks if stop - start == 1]
    ranges = [f"{start}–{stop - 1}" for start, stop in blocks if stop - start > 1]
    parts = []
    if singles:
        parts.append(words.listing(singles, noun_one, noun_many))
    if ranges:
        parts.append(f"somewhere in {noun_many} {', '.join(ranges)}")
    where = " and ".join(parts)
    verb = "is" if len(singles) == 1 and not ranges else "are"
    text = f"your {name} is right in most entries, but {where} {verb} wrong"
    if not location.complete:
        text += " (the search stopped early; there may be more)"
    hint = words.CAUSES["rows"] if location.by_row else "."
    worst = None
    if singles and not location.by_row:
        worst = tuple(int(i) for i in np.unravel_index(singles[0], target))
    return Finding("partial", text + hint, worst)


def _conclude(gathered: _Gathered, A: np.ndarray, *, name: str, target: tuple[int, ...], hidden: bool,
              dims: set[int], what: str, rng: np.random.Generator, atol: float | None,
              finding: Finding | None = None) -> GradCheckResult:
    """Turn the evidence into a result: ok, or the best diagnosis of what is wrong."""
    evidence = gathered.evidence
    if finding is None and not evidence.passed:
        finding = global_hypotheses(evidence, A, name=name, target=target, hidden=hidden, dims=dims, what=what)
        if finding is None and evidence.is_full:
            finding = partial_finding(evidence, A, name=name, target=target, hidden=hidden)
        if finding is None and not evidence.is_full and evidence.m > 1:
            finding = wrong_outputs_finding(evidence, name=name, target=target)
        if finding is None and not evidence.is_full and evidence.m == 1:
            sampled = [p for p in evidence.probes if p.kind == "entry"]
            wrong_share = sum(WRONG in p.status for p in sampled) / max(len(sampled), 1)
            if wrong_share <= 0.5:
                location = localise(evidence, gathered.f0, 0.0 if atol is None else float(atol), rng)
                if location.blocks and not location.spread:
                    finding = _located_finding(location, name, target)
                    first_row = location.blocks[0]
                    if location.by_row and first_row[1] - first_row[0] == 1:
                        row_size = evidence.n // target[0]
                        column = find_one(evidence, gathered.f0, 0.0 if atol is None else float(atol), rng,
                                          offset=first_row[0] * row_size, count=row_size)
                        worst = tuple(int(i) for i in np.unravel_index(first_row[0] * row_size + column, target))
                        finding = Finding(finding.diagnosis, finding.text, worst)
    relative = evidence.relative_errors(A)
    max_rel = float(np.nanmax(relative)) if relative.size else 0.0
    errors = entry_errors(evidence, A, target)
    worst = None
    if np.any(np.isfinite(errors)):
        candidate = tuple(int(i) for i in np.unravel_index(int(np.nanargmax(errors)), target))
        flat = int(np.ravel_multi_index(candidate, target))
        # in fast mode a sampled entry is only "worst" if it is actually wrong
        if evidence.passed or evidence.is_full or _entry_is_wrong(evidence, flat):
            worst = candidate
    rel_error = _norm_error(evidence, A)
    if evidence.passed:
        text = f"matches {what} (largest relative error {max_rel:.1e} over {evidence.describe()})."
        finding = Finding("ok", text)
    elif finding is None:
        finding = wrong_finding(evidence, A, name=name, target=target, hidden=hidden, what=what,
                                worst_index=worst, max_rel_error=max_rel)
    if finding.worst_index is not None:
        worst = finding.worst_index
    text = finding.text
    if evidence.kinks and evidence.method != "compare":
        text += (f" Note: f has a kink near x (a ReLU/max/abs input at or near 0), so "
                 f"{evidence.kinks} probe{'s were' if evidence.kinks > 1 else ' was'} judged with "
                 "smaller or one-sided steps.")
    precision = gathered.precision
    if precision is not None and precision.note:
        text += f" ({precision.note}.)"
    evaluations = gathered.evaluate.count if gathered.evaluate is not None else 0
    checked = evidence.describe() + (f", {evaluations} calls" if evidence.method != "compare" else "")
    return _result(finding.diagnosis, name, text, max_rel_error=max_rel, worst_index=worst,
                   rel_error=rel_error, method=evidence.method, evaluations=evaluations, checked=checked,
                   precision=describe(precision) if precision is not None else "",
                   kinks=evidence.kinks if evidence.method != "compare" else 0, hidden=hidden,
                   errors=None if hidden else errors)


def _entry_is_wrong(evidence: Evidence, flat: int) -> bool:
    """Whether the sampled entry at target-flat index ``flat`` failed (fast evidence)."""
    output, index = divmod(flat, evidence.n)
    return any(p.kind == "entry" and p.index == index and p.status[output] == WRONG for p in evidence.probes)


def _norm_error(evidence: Evidence, A: np.ndarray) -> float:
    measured, centers = evidence.measure(A), evidence.centers
    if not evidence.is_full:
        keep = [k for k, p in enumerate(evidence.probes) if p.kind == "direction"]
        measured, centers = measured[keep], centers[keep]
    reference = float(np.linalg.norm(centers))
    difference = float(np.linalg.norm(measured - centers))
    if reference == 0:
        return 0.0 if difference == 0 else float("inf")
    return difference / reference


def _prepare(x: object, grad: object, name: str) -> tuple[np.ndarray, np.ndarray]:
    x = _numeric(x, "x")
    grad = _numeric(grad, name)
    if x.dtype == np.bool_:
        x = x.astype(np.float64)
    return x, grad


def check_gradient(f: Callable[[np.ndarray], float], x: np.ndarray, grad: np.ndarray, *, name: str = "grad",
                   rng: np.random.Generator | int | None = None, hidden: bool = False,
                   rtol: float | None = None, atol: float | None = None, h: float | None = None,
                   mode: str = "auto", directions: int = 8, entries: int = 8,
                   full_limit: int = FULL_LIMIT) -> GradCheckResult:
    """Judge an analytic gradient ``grad`` of a scalar function ``f`` at ``x``.

    Args:
        f: maps an array shaped like ``x`` to a number (a loss). It receives fresh copies.
        x: the point. Never modified.
        grad: the gradient to judge, shaped like ``x``.
        name: how messages call it (``"dW1"``).
        rng: a ``numpy.random.Generator`` (or int seed) for random directions; ``None`` = seed 0.
        hidden: write messages without reference values (for hidden tests).
        rtol, atol: tolerances; by default ``1e-5`` (float64), ``1e-3`` (float32 gradient,
            float64 reference) or ``1e-2`` (f computed in float32), and ``0``.
        h: the base step; by default ``1e-5`` in float64 and ``1e-2`` in float32.
        mode: ``"full"`` probes every entry (``2n`` calls); ``"fast"`` probes ``directions``
            random directions, the student's own direction and ``entries`` sampled entries (plus
            the two largest); ``"auto"`` is full up to ``full_limit`` entries.

    Returns:
        A :class:`GradCheckResult`; ``bool(result)`` says whether it passed.
    """
    _options(mode, directions, entries, full_limit)
    generator = _generator(rng)
    x, grad = _prepare(x, grad, name)
    if grad.shape != x.shape:
        return _early("shape", name, words.shape_text(name, grad.shape, x.shape, what=GRADIENT), hidden)
    A = grad.astype(np.float64).reshape(1, -1)
    if not np.all(np.isfinite(A)):
        return _early("nonfinite", name, words.nonfinite_text(name, A, x.shape), hidden)
    evaluate = Evaluator(f, x.shape, scalar=True)
    with threadpool_limits(limits=1):
        gathered = _gather(evaluate, x, A, grad.dtype, name=name, rng=generator, hidden=hidden, rtol=rtol,
                           atol=atol, h=h, mode=mode, directions=directions, entries=entries,
                           full_limit=full_limit)
        if gathered.early is not None:
            return gathered.early
        return _conclude(gathered, A, name=name, target=x.shape, hidden=hidden, dims=set(x.shape),
                         what=GRADIENT, rng=generator, atol=atol)


def check_gradients(f: Callable[[dict[str, np.ndarray]], float], params: Mapping[str, np.ndarray],
                    grads: Mapping[str, np.ndarray], *, name: str | None = None,
                    rng: np.random.Generator | int | None = None, hidden: bool = False,
                    rtol: float | None = None, atol: float | None = None, h: float | None = None,
                    mode: str = "auto", directions: int = 8, entries: int = 8,
                    full_limit: int = FULL_LIMIT) -> dict[str, GradCheckResult]:
    """Judge the gradients of a loss ``f(params)`` with respect to every parameter array.

    ``f`` takes a dict of arrays (fresh copies; the caller's are never modified). ``grads`` maps
    the same names to the gradients to judge. Results are named ``"d<name>"`` (or
    ``"<name>.<param>"`` when ``name`` is given). Besides the diagnoses of
    :func:`check_gradient`, finds ``swapped`` gradients (``grads['W1']`` is really the gradient
    of ``W2``). Other options as for :func:`check_gradient`.
    """
    _options(mode, directions, entries, full_limit)
    if not isinstance(params, Mapping) or not isinstance(grads, Mapping):
        raise TypeError("params and grads must be dicts of arrays")
    generator = _generator(rng)
    arrays = {key: _numeric(value, f"params[{key!r}]").copy() for key, value in params.items()}
    for key, value in arrays.items():
        if value.dtype == np.bool_ or not np.issubdtype(value.dtype, np.floating):
            arrays[key] = value.astype(np.float64)
    labels = {key: (f"{name}.{key}" if name else f"d{key}") for key in arrays}
    dims = {int(d) for value in arrays.values() for d in value.shape}
    results: dict[str, GradCheckResult] = {}
    students: dict[str, np.ndarray] = {}
    gathered: dict[str, _Gathered] = {}

    def evaluator(key: str) -> Evaluator:
        def wrap(x: np.ndarray) -> dict[str, np.ndarray]:
            return {other: (x if other == key else value.copy()) for other, value in arrays.items()}
        return Evaluator(f, arrays[key].shape, scalar=True, wrap=wrap)

    def gather(key: str, A: np.ndarray, dtype: np.dtype) -> _Gathered:
        if key not in gathered:
            gathered[key] = _gather(evaluator(key), arrays[key], A, dtype, name=labels[key], rng=generator,
                                    hidden=hidden, rtol=rtol, atol=atol, h=h, mode=mode,
                                    directions=directions, entries=entries, full_limit=full_limit)
        return gathered[key]

    with threadpool_limits(limits=1):
        for key, x in arrays.items():
            label = labels[key]
            if key not in grads:
                results[key] = _early("shape", label, f"there is no gradient for {key!r} (grads has keys "
                                      f"{sorted(grads)})", hidden)
                continue
            grad = _numeric(grads[key], label)
            if grad.shape != x.shape:
                results[key] = _early("shape", label, words.shape_text(label, grad.shape, x.shape,
                                                                       what=GRADIENT), hidden)
                continue
            A = grad.astype(np.float64).reshape(1, -1)
            if not np.all(np.isfinite(A)):
                results[key] = _early("nonfinite", label, words.nonfinite_text(label, A, x.shape), hidden)
                continue
            students[key] = A
            found = gather(key, A, grad.dtype)
            if found.early is not None:
                results[key] = found.early
        # swapped: a failing gradient that matches another parameter's reference
        for key in arrays:
            if key not in grads or (key in results and results[key].diagnosis not in ("shape",)):
                continue
            if key in students and gathered[key].evidence.passed:
                continue
            grad = np.asarray(grads[key], dtype=np.float64) if key in grads else None
            for other, x_other in arrays.items():
                if other == key or grad is None or grad.shape != x_other.shape or not np.all(np.isfinite(grad)):
                    continue
                candidate = grad.reshape(1, -1)
                found = gather(other, students.get(other, np.zeros((1, x_other.size))),
                               np.asarray(grads.get(other, x_other)).dtype)
                if found.early is None and found.evidence.matches(candidate, SLACK) and np.any(candidate):
                    finding = Finding("swapped", f"your {labels[key]} is the gradient of {other!r}, not of "
                                      f"{key!r} — the gradients were swapped (returned or unpacked in "
                                      "the wrong order?).")
                    if key in students:
                        results[key] = _conclude(gathered[key], students[key], name=labels[key],
                                                 target=arrays[key].shape, hidden=hidden, dims=dims,
                                                 what=GRADIENT, rng=generator, atol=atol, finding=finding)
                    else:
                        results[key] = _early("swapped", labels[key], finding.text, hidden)
                    break
        for key in arrays:
            if key not in results:
                results[key] = _conclude(gathered[key], students[key], name=labels[key],
                                         target=arrays[key].shape, hidden=hidden, dims=dims, what=GRADIENT,
                                         rng=generator, atol=atol)
    return {key: results[key] for key in arrays}


def check_jacobian(f: Callable[[np.ndarray], np.ndarray], x: np.ndarray, J: np.ndarray, *, name: str = "J",
                   rng: np.random.Generator | int | None = None, hidden: bool = False,
                   rtol: float | None = None, atol: float | None = None, h: float | None = None,
                   mode: str = "auto", directions: int = 8, entries: int = 8,
                   full_limit: int = FULL_LIMIT) -> GradCheckResult:
    """Judge the Jacobian ``J`` of an array function ``f`` at ``x``.

    ``J[i..., j...] = ∂f(x)[i...] / ∂x[j...]``, so ``J.shape == f(x).shape + x.shape``
    (``(m, n)`` for vectors). Options as for :func:`check_gradient`; fast mode measures
    Jacobian–vector products along random directions and sampled columns.
    """
    _options(mode, directions, entries, full_limit)
    generator = _generator(rng)
    x, J = _prepare(x, J, name)
    evaluate = Evaluator(f, x.shape, scalar=False)
    with threadpool_limits(limits=1):
        evaluate(x)
        out_shape = evaluate.out_shape
        target = tuple(out_shape) + tuple(x.shape)
        if J.shape != target:
            text = words.shape_text(name, J.shape, target, what="the Jacobian")
            if J.shape == tuple(x.shape) + tuple(out_shape):
                text = (f"your {name} has shape {J.shape} = x.shape + f(x).shape, but a Jacobian has shape "
                        f"f(x).shape + x.shape = {target}: row i holds the derivatives of output i "
                        "(transposed layout?).")
            return _early("shape", name, text, hidden)
        m = int(np.prod(out_shape, dtype=np.int64))
        A = J.astype(np.float64).reshape(m, x.size)
        if not np.all(np.isfinite(A)):
            return _early("nonfinite", name, words.nonfinite_text(name, A, target), hidden)
        gathered = _gather(evaluate, x, A, J.dtype, name=name, rng=generator, hidden=hidden, rtol=rtol,
                           atol=atol, h=h, mode=mode, directions=directions, entries=entries,
                           full_limit=full_limit)
        if gathered.early is not None:
            return gathered.early
        return _conclude(gathered, A, name=name, target=target, hidden=hidden,
                         dims=set(target), what="the Jacobian", rng=generator, atol=atol)


def compare(actual: np.ndarray, expected: np.ndarray, *, name: str = "value", hidden: bool = False,
            rtol: float | None = None, atol: float | None = None) -> GradCheckResult:
    """Diagnose an array against a known reference, with no finite differences.

    Same diagnoses as the checks (shape, nonfinite, zero, sign, scale, transposed, partial,
    wrong). Tolerance per entry: ``rtol · max(|expected|, rms(expected)) + atol``; by default
    ``rtol = 1e-6`` and ``atol = 1e-12`` (``1e-4`` and ``1e-6`` when either array is float32).
    """
    actual = _numeric(actual, name)
    expected = _numeric(expected, "expected")
    if not np.all(np.isfinite(expected)):
        raise ValueError("compare: the expected array contains nan or inf")
    if actual.shape != expected.shape:
        return _early("shape", name, words.shape_text(name, actual.shape, expected.shape,
                                                      what="the expected array"), hidden)
    A = actual.astype(np.float64).reshape(1, -1)
    if not np.all(np.isfinite(A)):
        return _early("nonfinite", name, words.nonfinite_text(name, A, actual.shape), hidden)
    low = any(np.issubdtype(a.dtype, np.floating) and np.finfo(a.dtype).eps > 1e-10 for a in (actual, expected))
    rtol = (1e-4 if low else 1e-6) if rtol is None else float(rtol)
    atol = (1e-6 if low else 1e-12) if atol is None else float(atol)
    evidence = from_arrays(expected, rtol, atol)
    evidence.probes_student = A
    for probe, value in zip(evidence.probes, A[0]):
        probe.student = np.array([value])
        if abs(value - probe.center[0]) > probe.width[0]:
            probe.status = [WRONG]
    return _conclude(_Gathered(evidence=evidence), A, name=name, target=actual.shape, hidden=hidden,
                     dims=set(actual.shape), what="the expected array", rng=np.random.default_rng(0),
                     atol=atol)


def _raise(result: GradCheckResult) -> GradCheckResult:
    if not result.passed:
        raise AssertionError(result.message)
    return result


def assert_gradient(f: Callable[[np.ndarray], float], x: np.ndarray, grad: np.ndarray,
                    **options) -> GradCheckResult:
    """:func:`check_gradient`, raising ``AssertionError(message)`` when it fails."""
    return _raise(check_gradient(f, x, grad, **options))


def assert_gradients(f: Callable[[dict[str, np.ndarray]], float], params: Mapping[str, np.ndarray],
                     grads: Mapping[str, np.ndarray], **options) -> dict[str, GradCheckResult]:
    """:func:`check_gradients`, raising ``AssertionError`` with every failing message."""
    results = check_gradients(f, params, grads, **options)
    failed = [result.message for result in results.values() if not result.passed]
    if failed:
        raise AssertionError("\n".join(failed))
    return results


def assert_jacobian(f: Callable[[np.ndarray], np.ndarray], x: np.ndarray, J: np.ndarray,
                    **options) -> GradCheckResult:
    """:func:`check_jacobian`, raising ``AssertionError(message)`` when it fails."""
    return _raise(check_jacobian(f, x, J, **options))


def assert_close(actual: np.ndarray, expected: np.ndarray, **options) -> GradCheckResult:
    """:func:`compare`, raising ``AssertionError(message)`` when it fails."""
    return _raise(compare(actual, expected, **options))
