"""The public checks: gradients, gradients of several parameters, Jacobians, plain arrays.

Each returns a frozen :class:`~utils.gradcheck.result.GradCheckResult`; each ``assert_…`` twin
returns the same and raises ``AssertionError(result.message)`` when the check fails. Each takes
``hints={diagnosis: sentence}``: the likely causes that fit the exercise, which a failing message
gives instead of the generic ones (a test cell's way to name the mistakes of its exercise).
"""

from __future__ import annotations

from typing import Callable, Mapping

import numpy as np
from . import _messages as words
from ._diagnose import SLACK, Finding
from ._evidence import FULL_LIMIT, from_arrays
from ._probe import Evaluator
from ._verdict import Gathered, conclude, early, gather, threadpool_limits
from .result import DIAGNOSES, GradCheckResult

__all__ = ["check_gradient", "check_gradients", "check_jacobian", "compare", "assert_gradient",
           "assert_gradients", "assert_jacobian", "assert_close"]

MODES = ("auto", "full", "fast")

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


FAILING = tuple(d for d in DIAGNOSES if d != "ok")


def _hints(hints: Mapping[str, str] | None) -> dict[str, str]:
    """Check ``hints`` (diagnosis -> the exercise's likely causes, in words) and copy it."""
    if hints is None:
        return {}
    if not isinstance(hints, Mapping):
        raise TypeError("hints must be a dict mapping a diagnosis (such as 'wrong') to a sentence of "
                        f"likely causes, got {type(hints).__name__}")
    for key, value in hints.items():
        if key not in FAILING:
            raise ValueError(f"hints has the key {key!r}, which is not a failing diagnosis; use {FAILING}")
        if not isinstance(value, str) or not value.strip():
            raise TypeError(f"hints[{key!r}] must be a non-empty sentence (str), got {value!r}")
    return dict(hints)


def _prepare(x: object, grad: object, name: str) -> tuple[np.ndarray, np.ndarray]:
    x = _numeric(x, "x")
    grad = _numeric(grad, name)
    if x.dtype == np.bool_:
        x = x.astype(np.float64)
    return x, grad


def _mismatch(judge: Callable[[np.ndarray], GradCheckResult], got: np.ndarray, want: tuple[int, ...],
              name: str, hidden: bool, what: str, hints: dict[str, str]) -> GradCheckResult:
    """The result for an array of the wrong shape: ``transposed`` when its transpose has the right
    shape and passes ``judge``, else ``shape``."""
    if got.ndim >= 2 and got.T.shape == tuple(want) and judge(got.T).passed:
        text = (f"your {name} has shape {got.shape} but {what} has shape {tuple(want)}, and its transpose "
                f"is right: your {name} is the transpose of {what}")
        return early("transposed", name, text, hidden, words.cause("transposed", what), hints)
    text, cause = words.shape_text(name, got.shape, tuple(want), what=what)
    return early("shape", name, text, hidden, cause, hints)


def _nonfinite(name: str, A: np.ndarray, shape: tuple[int, ...], hidden: bool,
               hints: dict[str, str]) -> GradCheckResult:
    text, cause = words.nonfinite_text(name, A, shape)
    return early("nonfinite", name, text, hidden, cause, hints)


def check_gradient(f: Callable[[np.ndarray], float], x: np.ndarray, grad: np.ndarray, *, name: str = "grad",
                   rng: np.random.Generator | int | None = None, hidden: bool = False,
                   rtol: float | None = None, atol: float | None = None, h: float | None = None,
                   mode: str = "auto", directions: int = 8, entries: int = 8,
                   full_limit: int = FULL_LIMIT,
                   hints: Mapping[str, str] | None = None) -> GradCheckResult:
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
        hints: the exercise's own likely causes, by diagnosis, e.g. ``{"wrong": "Is A symmetric?
            Compare your formula with A = Aᵀ and A ≠ Aᵀ.", "scale": "Is the loss a sum or a
            mean?"}``. A failing message states what was found, then this sentence in place of
            the generic causes (which may not fit the exercise). Keys: any diagnosis but
            ``"ok"``. Write questions and concepts, never answer code: students read them.

    Returns:
        A :class:`GradCheckResult`; ``bool(result)`` says whether it passed.
    """
    _options(mode, directions, entries, full_limit)
    hints = _hints(hints)
    generator = _generator(rng)
    x, grad = _prepare(x, grad, name)
    if grad.shape != x.shape:
        return _mismatch(lambda g: check_gradient(f, x, g, name=name, rng=rng, hidden=hidden, rtol=rtol, atol=atol, h=h, mode=mode, directions=directions, entries=entries, full_limit=full_limit),
                         grad, x.shape, name, hidden, GRADIENT, hints)
    A = grad.astype(np.float64).reshape(1, -1)
    if not np.all(np.isfinite(A)):
        return _nonfinite(name, A, x.shape, hidden, hints)
    evaluate = Evaluator(f, x.shape, scalar=True)
    with threadpool_limits(limits=1):
        gathered = gather(evaluate, x, A, grad.dtype, name=name, rng=generator, hidden=hidden, rtol=rtol,
                          atol=atol, h=h, mode=mode, directions=directions, entries=entries,
                          full_limit=full_limit, hints=hints)
        if gathered.early is not None:
            return gathered.early
        return conclude(gathered, A, name=name, target=x.shape, hidden=hidden, dims=set(x.shape),
                        what=GRADIENT, rng=generator, atol=atol, hints=hints)


def check_gradients(f: Callable[[dict[str, np.ndarray]], float], params: Mapping[str, np.ndarray],
                    grads: Mapping[str, np.ndarray], *, name: str | None = None,
                    rng: np.random.Generator | int | None = None, hidden: bool = False,
                    rtol: float | None = None, atol: float | None = None, h: float | None = None,
                    mode: str = "auto", directions: int = 8, entries: int = 8,
                    full_limit: int = FULL_LIMIT,
                    hints: Mapping[str, str] | None = None) -> dict[str, GradCheckResult]:
    """Judge the gradients of a loss ``f(params)`` with respect to every parameter array.

    ``f`` takes a dict of arrays (fresh copies; the caller's are never modified). ``grads`` maps
    the same names to the gradients to judge. Results are named ``"d<name>"`` (or
    ``"<name>.<param>"`` when ``name`` is given). Besides the diagnoses of
    :func:`check_gradient`, finds ``swapped`` gradients (``grads['W1']`` is really the gradient
    of ``W2``). Other options (``hints`` too) as for :func:`check_gradient`.
    """
    _options(mode, directions, entries, full_limit)
    hints = _hints(hints)
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
    gathered: dict[str, Gathered] = {}

    def evaluator(key: str) -> Evaluator:
        def wrap(x: np.ndarray) -> dict[str, np.ndarray]:
            return {other: (x if other == key else value.copy()) for other, value in arrays.items()}
        return Evaluator(f, arrays[key].shape, scalar=True, wrap=wrap)

    def measure(key: str, A: np.ndarray, dtype: np.dtype) -> Gathered:
        if key not in gathered:
            gathered[key] = gather(evaluator(key), arrays[key], A, dtype, name=labels[key], rng=generator,
                                   hidden=hidden, rtol=rtol, atol=atol, h=h, mode=mode,
                                   directions=directions, entries=entries, full_limit=full_limit,
                                   hints=hints)
        return gathered[key]

    with threadpool_limits(limits=1):
        for key, x in arrays.items():
            label = labels[key]
            if key not in grads:
                results[key] = early("shape", label, f"there is no gradient for {key!r} (grads has keys "
                                     f"{sorted(grads)})", hidden, hints=hints)
                continue
            grad = _numeric(grads[key], label)
            if grad.shape != x.shape:
                def only(value: np.ndarray, key: str = key) -> float:
                    return f({other: (value if other == key else a.copy()) for other, a in arrays.items()})

                results[key] = _mismatch(lambda g, x=x, only=only: check_gradient(only, x, g, name=label, rng=rng, hidden=hidden, rtol=rtol, atol=atol, h=h, mode=mode, directions=directions, entries=entries, full_limit=full_limit),
                                         grad, x.shape, label, hidden, GRADIENT, hints)
                continue
            A = grad.astype(np.float64).reshape(1, -1)
            if not np.all(np.isfinite(A)):
                results[key] = _nonfinite(label, A, x.shape, hidden, hints)
                continue
            students[key] = A
            found = measure(key, A, grad.dtype)
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
                found = measure(other, students.get(other, np.zeros((1, x_other.size))),
                               np.asarray(grads.get(other, x_other)).dtype)
                if found.early is None and found.evidence.explains(candidate, SLACK) and np.any(candidate):
                    finding = Finding("swapped", f"your {labels[key]} is the gradient of {other!r}, not of "
                                      f"{key!r}", cause=" — the gradients were swapped (returned or unpacked "
                                      "in the wrong order?).")
                    if key in students:
                        results[key] = conclude(gathered[key], students[key], name=labels[key],
                                                target=arrays[key].shape, hidden=hidden, dims=dims,
                                                what=GRADIENT, rng=generator, atol=atol, finding=finding,
                                                hints=hints)
                    else:
                        results[key] = early("swapped", labels[key], finding.text, hidden, finding.cause, hints)
                    break
        for key in arrays:
            if key not in results:
                results[key] = conclude(gathered[key], students[key], name=labels[key],
                                        target=arrays[key].shape, hidden=hidden, dims=dims, what=GRADIENT,
                                        rng=generator, atol=atol, hints=hints)
    return {key: results[key] for key in arrays}


def check_jacobian(f: Callable[[np.ndarray], np.ndarray], x: np.ndarray, J: np.ndarray, *, name: str = "J",
                   rng: np.random.Generator | int | None = None, hidden: bool = False,
                   rtol: float | None = None, atol: float | None = None, h: float | None = None,
                   mode: str = "auto", directions: int = 8, entries: int = 8,
                   full_limit: int = FULL_LIMIT,
                   hints: Mapping[str, str] | None = None) -> GradCheckResult:
    """Judge the Jacobian ``J`` of an array function ``f`` at ``x``.

    ``J[i..., j...] = ∂f(x)[i...] / ∂x[j...]``, so ``J.shape == f(x).shape + x.shape``
    (``(m, n)`` for vectors). Options as for :func:`check_gradient`; fast mode measures
    Jacobian–vector products along random directions and sampled columns.
    """
    _options(mode, directions, entries, full_limit)
    hints = _hints(hints)
    generator = _generator(rng)
    x, J = _prepare(x, J, name)
    evaluate = Evaluator(f, x.shape, scalar=False)
    with threadpool_limits(limits=1):
        evaluate(x.copy())
        out_shape = evaluate.out_shape
        target = tuple(out_shape) + tuple(x.shape)
        if J.shape != target:
            text, cause = words.shape_text(name, J.shape, target, what="the Jacobian")
            if J.shape == tuple(x.shape) + tuple(out_shape):
                text = (f"your {name} has shape {J.shape} = x.shape + f(x).shape, but a Jacobian has shape "
                        f"f(x).shape + x.shape = {target}")
                cause = ": row i holds the derivatives of output i (transposed layout?)."
            return early("shape", name, text, hidden, cause, hints)
        m = int(np.prod(out_shape, dtype=np.int64))
        A = J.astype(np.float64).reshape(m, x.size)
        if not np.all(np.isfinite(A)):
            return _nonfinite(name, A, target, hidden, hints)
        gathered = gather(evaluate, x, A, J.dtype, name=name, rng=generator, hidden=hidden, rtol=rtol,
                          atol=atol, h=h, mode=mode, directions=directions, entries=entries,
                          full_limit=full_limit, hints=hints)
        if gathered.early is not None:
            return gathered.early
        return conclude(gathered, A, name=name, target=target, hidden=hidden,
                        dims=set(target), what="the Jacobian", rng=generator, atol=atol, hints=hints)


def compare(actual: np.ndarray, expected: np.ndarray, *, name: str = "value", hidden: bool = False,
            rtol: float | None = None, atol: float | None = None,
            hints: Mapping[str, str] | None = None) -> GradCheckResult:
    """Diagnose an array against a known reference, with no finite differences.

    Same diagnoses as the checks (shape, nonfinite, zero, sign, scale, transposed, partial,
    wrong). Tolerance per entry: ``rtol · max(|expected|, rms(expected)) + atol``; by default
    ``rtol = 1e-6`` and ``atol = 1e-12`` (``1e-4`` and ``1e-6`` when either array is float32).
    ``hints`` as for :func:`check_gradient`.
    """
    hints = _hints(hints)
    actual = _numeric(actual, name)
    expected = _numeric(expected, "expected")
    if not np.all(np.isfinite(expected)):
        raise ValueError("compare: the expected array contains nan or inf")
    if actual.shape != expected.shape:
        return _mismatch(lambda a: compare(a, expected, name=name, hidden=hidden, rtol=rtol, atol=atol),
                         actual, expected.shape, name, hidden, "the expected array", hints)
    A = actual.astype(np.float64).reshape(1, -1)
    if not np.all(np.isfinite(A)):
        return _nonfinite(name, A, actual.shape, hidden, hints)
    low = any(np.issubdtype(a.dtype, np.floating) and np.finfo(a.dtype).eps > 1e-10 for a in (actual, expected))
    rtol = (1e-4 if low else 1e-6) if rtol is None else float(rtol)
    atol = (1e-6 if low else 1e-12) if atol is None else float(atol)
    evidence = from_arrays(actual, expected, rtol, atol)
    return conclude(Gathered(evidence=evidence), A, name=name, target=actual.shape, hidden=hidden,
                    dims=set(actual.shape), what="the expected array", rng=np.random.default_rng(0),
                    atol=atol, hints=hints)


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
