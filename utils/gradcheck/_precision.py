"""Which arithmetic a function really uses, and the step size and tolerance that suit it.

Central differences in float64 bottom out near ``h = 1e-5`` (error ~1e-10); a function computed
in float32 never does better than ~2e-4 (at ``h = 1e-2``). So before differencing we find out:

* if ``x`` (or the gradient) is float32 but ``f`` also accepts float64 and then computes in
  float64, the reference is computed in float64 and only the student's float32 rounding needs
  a wider tolerance;
* if ``f`` computes in float32 (float32 output, or an output that ignores changes of ``x``
  below float32 resolution), the step and the tolerance are widened to float32's noise.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable

import numpy as np

FLOAT64_EPS = float(np.finfo(np.float64).eps)
NOISE_SAFETY = 64.0
"""Noise of one evaluation ≈ NOISE_SAFETY · eps · |f| (rounding accumulates over many terms)."""


@dataclass(frozen=True)
class Precision:
    """How to evaluate ``f`` for a reference derivative, and how much to trust it.

    Attributes:
        dtype: the dtype ``x`` is cast to before each evaluation.
        eps: relative rounding of one evaluation of ``f`` in that arithmetic.
        h: the base step of central differences (per unit-length direction).
        rtol: relative tolerance for the comparison.
        low: whether float32 (or lower) arithmetic is involved anywhere.
        note: what was adapted, for the message (empty for plain float64).
    """

    dtype: np.dtype
    eps: float
    h: float
    rtol: float
    low: bool
    note: str
    noise: np.ndarray | None = None
    """Measured absolute noise of one evaluation, per output (float32 arithmetic, or a float64 ``f``
    that rounds far above ``eps·|f|``)."""
    again: np.ndarray | None = None
    """``f`` at ``x`` a second time when it differed from the first: ``f`` is not deterministic."""


def _is_low(dtype: np.dtype) -> bool:
    return np.issubdtype(dtype, np.floating) and np.finfo(dtype).eps > 1e-10


def _jitter(x: np.ndarray, size: float = 1e-9) -> np.ndarray:
    """``x`` moved by ``size`` relative (1e-9: visible to float64 arithmetic, invisible to float32)."""
    x64 = x.astype(np.float64)
    scale = float(np.sqrt(np.mean(x64 ** 2))) if x64.size else 1.0
    return x64 + size * (np.abs(x64) + (scale if scale > 0 else 1.0))


NOISE_STEP = 1e-3
NOISE_DIRECTIONS = 2


def measure_noise(evaluate: Callable[[np.ndarray], np.ndarray], x: np.ndarray, f0: np.ndarray,
                  rng: np.random.Generator, step: float = NOISE_STEP) -> np.ndarray:
    """Rounding noise of one evaluation of ``f``, measured (per output).

    Along a couple of random unit directions, ``f`` at ``t = ±s, ±2s`` and at 0 is fitted by a
    parabola (``s = 1e-3`` for float32 arithmetic, ``1e-10`` for float64: small enough that the
    cubic term of the Taylor series is negligible and only a kink exactly at ``x`` is crossed);
    what the parabola cannot explain is rounding. Returns four times the rms residual.
    """
    x64 = x.astype(np.float64).reshape(-1)
    residuals = []
    for _ in range(NOISE_DIRECTIONS):
        v = rng.standard_normal(x64.size)
        v /= np.linalg.norm(v)
        ts, values = [0.0], [f0]
        for t in (-2 * step, -step, step, 2 * step):
            point = (x64 + t * v).astype(x.dtype)
            ts.append(float((point.astype(np.float64) - x64) @ v))
            values.append(evaluate(point))
        design = np.vander(np.array(ts), 3)
        values = np.array(values)
        coefficients, *_ = np.linalg.lstsq(design, values, rcond=None)
        residuals.append(values - design @ coefficients)
    residuals = np.concatenate(residuals)
    dof = NOISE_DIRECTIONS * (5 - 3)
    return 4.0 * np.sqrt(np.sum(residuals ** 2, axis=0) / dof)


def once_more(evaluate: Callable[[np.ndarray], np.ndarray], x: np.ndarray, f0: np.ndarray,
              eps: float) -> np.ndarray | None:
    """``f`` at ``x`` once more, returned when it differs from ``f0`` beyond rounding (``f`` is not
    deterministic: dropout or sampling), else ``None``."""
    repeat = evaluate(x)
    return repeat if np.any(np.abs(repeat - f0) > NOISE_SAFETY * eps * np.abs(f0)) else None


def detect(evaluate: Callable[[np.ndarray], np.ndarray], x: np.ndarray, grad_dtype: np.dtype, *,
           h: float | None, rtol: float | None,
           rng: np.random.Generator | None = None) -> tuple[Precision, np.ndarray, int]:
    """Find the arithmetic of ``evaluate`` at ``x``.

    ``evaluate`` maps an array (of any float dtype) to a float64 vector of outputs, remembering
    the dtype ``f`` returned in ``evaluate.last_dtype``. Returns the precision, ``f`` at ``x``
    evaluated in the chosen dtype (float64 vector), and the number of evaluations spent.
    """
    x_dtype = x.dtype if np.issubdtype(x.dtype, np.floating) else np.dtype(np.float64)
    low_inputs = _is_low(x_dtype) or _is_low(grad_dtype)
    evaluations = 1
    if _is_low(x_dtype):
        try:  # evaluate the reference in float64 where f allows it
            f64, out_dtype = evaluate(x.astype(np.float64)), evaluate.last_dtype
        except Exception:  # noqa: BLE001 - f may insist on its own dtype; then use that
            f64, out_dtype = None, x_dtype
    else:
        f64, out_dtype = evaluate(x.astype(np.float64)), evaluate.last_dtype
    float64_inside, moved = False, None
    if f64 is not None and np.all(np.isfinite(f64)) and not _is_low(out_dtype) and x.size:
        evaluations += 1
        moved = evaluate(_jitter(x))
        float64_inside = bool(np.any(moved != f64))
        if not float64_inside:  # insensitive to 1e-9: float32 inside, or f locally constant in x?
            evaluations += 1
            float64_inside = bool(np.all(evaluate(_jitter(x, 1e-4)) == f64))

    if float64_inside:
        dtype, eps, base_rtol, default_h, f0 = np.dtype(np.float64), FLOAT64_EPS, 1e-5, 1e-5, f64
        if low_inputs:
            base_rtol = 1e-3
        note = ("float32 precision: your gradient is float32, so it is judged against a float64 "
                f"reference with the tolerance {'widened to' if rtol is None else 'at'} {rtol or base_rtol:.0e}"
                ) if low_inputs else ""
    else:
        eps, base_rtol, default_h = max(float(np.finfo(np.float32).eps), float(np.finfo(x_dtype).eps)), 1e-2, 1e-2
        if f64 is not None:  # f takes float64 but computes in float32 inside
            dtype, f0 = np.dtype(np.float64), f64
        else:
            dtype, f0 = x_dtype, evaluate(x.astype(x_dtype))
            evaluations += 1
        note = (f"float32 precision: f computes in float32, so the step is h={h or default_h:.0e} and the "
                f"tolerance {'widened to' if rtol is None else 'is'} {rtol or base_rtol:.0e}")
    noise = None
    if not float64_inside and rng is not None and x.size and np.all(np.isfinite(f0)):
        before = evaluate.count
        noise = np.maximum(measure_noise(evaluate, x.astype(dtype), f0, rng), 2 * eps * np.abs(f0))
        evaluations += evaluate.count - before
    # f moved far more than a 1e-9 change of x (or its rounding) can explain: is it deterministic?
    jumped = noise is not None and np.any(noise > 1e-3 * np.abs(f0))
    if moved is not None and float64_inside:
        jumped = np.any(np.abs(moved - f64) > 1e-6 * np.abs(f64))
    again = None
    if jumped and np.all(np.isfinite(f0)):
        evaluations += 1
        again = once_more(evaluate, x.astype(dtype), f0, eps)
    precision = Precision(dtype=dtype, eps=eps, h=float(h if h is not None else default_h),
                          rtol=float(rtol if rtol is not None else base_rtol),
                          low=low_inputs or eps > 1e-10, note=note, noise=noise, again=again)
    return precision, f0, evaluations


def coarse(evaluate: Callable[[np.ndarray], np.ndarray], x: np.ndarray, f0: np.ndarray, precision: Precision,
           rng: np.random.Generator, fixed_h: bool) -> Precision | None:
    """A float64 ``f`` that rounds far above ``eps·|f|``, such as a well-fitted loss of 1e-8 computed
    as ``log(1 + tiny)`` from terms near 1: its noise measured at the step itself (where the
    rounding shows), and the step widened by the cube root of the excess (noise against
    truncation), unless the caller fixed ``h``. ``None`` when f rounds as its size suggests."""
    x = x.astype(precision.dtype)
    noise = measure_noise(evaluate, x, f0, rng, step=precision.h)
    excess = float(np.max(noise / np.maximum(NOISE_SAFETY * precision.eps * np.abs(f0), np.finfo(float).tiny)))
    if excess < 10:
        return None
    if np.any(measure_noise(evaluate, x, f0, rng, step=precision.h / 100) < noise / 10):
        return None  # it shrinks with the step: kinks or curvature, not rounding
    h = precision.h if fixed_h else precision.h * min(excess ** (1 / 3), 1e3)
    note = (f"f rounds far above its own size (a tiny value computed from much larger terms?), so the "
            f"step is h={h:.0e} and the tolerance allows its measured rounding")
    return replace(precision, h=h, noise=noise, note=note)


def describe(precision: Precision) -> str:
    """One line for the result table: arithmetic, step and tolerance."""
    arithmetic = "float64" if precision.eps == FLOAT64_EPS else "float32"
    return f"{arithmetic} reference, h={precision.h:.0e}, rtol={precision.rtol:.0e}"
