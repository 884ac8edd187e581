"""Kink-aware derivative probes: one directional derivative, judged against a student's slope.

A probe looks at ``φ(t) = f(x + t·v)`` along one direction ``v`` (a random unit vector, the
student's own gradient direction, or one coordinate axis) and compares finite differences with
the slope the student's gradient predicts. Its residual ``r(t) = φ(t) − φ(0) − t·slope``, in
central and one-sided form, tells the cases apart as the step shrinks by 10 (at most 6 times,
never below the step where rounding noise would swamp the tolerance):

* smooth and right: the central residual slope is ``O(h²)``: it passes at once, or after
  shrinking the step when the curvature is large;
* smooth and wrong: the residual slope ``e`` is the same at two steps and at a step 1000×
  smaller, and the one-sided slopes differ only by ``h·φ''`` (a few more calls, never a sweep);
* a kink within the step (a ReLU input near 0): the residual changes with the step; it
  vanishes once the step no longer reaches the kink, and meanwhile the one-sided slope on the
  kink-free side already agrees with the student;
* a kink exactly at ``x`` (a ReLU input equal to 0): the one-sided slopes ``D−`` and ``D+``
  differ by the same amount at every step. The function has no derivative there, and any
  value between ``D−`` and ``D+`` (a valid one-sided choice, such as ReLU's ``mask = z > 0``)
  passes; a value outside that band fails along a coordinate. Along a direction through several
  such kinks their contributions can cancel, so that direction is left *unsure* and sampled
  entries decide instead (:mod:`._evidence`);
* kinks just beside ``x`` (stacked ReLU layers, each 1e-9 from a kink) look like one at ``x``
  until the step is below their distance: before a kink is placed at ``x``, one more look at
  the smallest step the *measured* noise allows, where they vanish.

The tolerance grows with the rounding noise ``ν/h`` as the step shrinks. The arithmetic uses
*realised* steps: ``x + t·v`` is rounded to the evaluation dtype and the student's prediction
uses the step actually taken, so float32 rounding of ``x`` does not count as an error.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

SHRINK = 10.0
MAX_SHRINKS = 6
DEEP = 1000.0
"""A smooth-and-wrong verdict is confirmed at a step this many times smaller."""

FLAT = 1000.0
"""``f`` is *flat* at a step where the student predicts a change of this many roundings of ``|f|``
and ``f`` does not change at all: it rounds far above its own size (:mod:`._precision`)."""

SMOOTH, RESOLVED, KINK, UNSURE, WRONG = "smooth", "resolved", "kink", "unsure", "wrong"
PASSING = (SMOOTH, RESOLVED, KINK, UNSURE)



def smooth_scaling(gap: np.ndarray, previous_gap: np.ndarray, tau: np.ndarray, central: np.ndarray) -> np.ndarray:
    """Whether the one-sided gap behaves as for a smooth function: ``h·|φ''|``, shrinking with ``h``.

    A kink makes the gap jump (when the step stops reaching it) or stay (when it is at ``x``).
    """
    ratio = np.divide(gap, previous_gap, out=np.zeros_like(gap), where=previous_gap > 0)
    tiny = (gap <= 2 * tau) & (previous_gap <= 2 * SHRINK * tau)
    return tiny | ((ratio >= 0.5 / SHRINK) & (ratio <= 2 / SHRINK) & (gap <= 0.1 * np.abs(central)))


class Evaluator:
    """Calls ``f`` on arrays shaped like ``x`` and returns its outputs as a float64 vector.

    Counts the calls (``.count``) and remembers the dtype of the last output (``.last_dtype``).
    ``f`` always receives a fresh array, never the caller's.
    """

    def __init__(self, f: Callable[[np.ndarray], object], shape: tuple[int, ...], *, scalar: bool,
                 wrap: Callable[[np.ndarray], object] | None = None) -> None:
        self.f, self.shape, self.scalar, self.wrap = f, tuple(shape), scalar, wrap
        self.count = 0
        self.last_dtype = np.dtype(np.float64)
        self.out_shape: tuple[int, ...] | None = None

    def __call__(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x).reshape(self.shape)  # callers pass arrays made for this call only
        self.count += 1
        out = self.f(self.wrap(x) if self.wrap is not None else x)
        if isinstance(out, tuple):
            raise TypeError(f"f returned a tuple of {len(out)} things; pass a function that returns only "
                            "the loss (e.g. lambda W: loss_and_grads(W)[0])")
        array = np.asarray(out)
        if self.scalar and array.size != 1:
            raise ValueError(f"f must return a single number (a loss); it returned shape {array.shape} — "
                             "use check_jacobian for functions with array outputs")
        if not (np.issubdtype(array.dtype, np.number) or array.dtype == np.bool_):
            raise TypeError(f"f must return numbers, it returned {type(out).__name__}")
        if np.iscomplexobj(array):
            raise TypeError("f returned complex numbers; a gradient check needs real outputs")
        self.last_dtype = array.dtype if np.issubdtype(array.dtype, np.floating) else np.dtype(np.float64)
        if self.out_shape is None:
            self.out_shape = array.shape
        return array.astype(np.float64).reshape(-1)


@dataclass
class Probe:
    """One line through ``x``: along coordinate ``index`` (``kind == 'entry'``) or unit ``v``."""

    kind: str  # "direction", "student", "block" or "entry"
    index: int = -1
    v: np.ndarray | None = None
    block: tuple[int, int] | None = None  # for "block" probes: the rows [start, stop) it spans
    # filled in by run():
    u: np.ndarray | None = None  # the realised direction (None for entry probes)
    center: np.ndarray = field(default_factory=lambda: np.zeros(0))  # reference slope(s), shape (m,)
    student: np.ndarray = field(default_factory=lambda: np.zeros(0))  # student's slope(s), shape (m,)
    width: np.ndarray = field(default_factory=lambda: np.zeros(0))  # tolerance half-width, shape (m,)
    status: list[str] = field(default_factory=list)
    first: dict | None = None
    exact_kink: bool = False  # f showed a kink exactly at x along this probe
    slope: np.ndarray | None = None  # the student's slope A @ v, computed once


class Line:
    """Differences of ``f`` along probes through one point ``x0`` against a student's ``A``.

    ``A`` has shape ``(m, n)``: ``m`` outputs (1 for a loss), ``n = x.size`` inputs.
    """

    def __init__(self, evaluate: Evaluator, x0: np.ndarray, f0: np.ndarray, A: np.ndarray,
                 dtype: np.dtype) -> None:
        self.evaluate, self.dtype, self.A, self.f0 = evaluate, np.dtype(dtype), A, f0
        self.x0 = np.asarray(x0, dtype=self.dtype).reshape(-1)
        self.x64 = self.x0.astype(np.float64)
        self.measure_noise: Callable[[], np.ndarray] | None = None  # measures ν when it matters
        self._measured_noise: np.ndarray | None = None
        self.flat = False  # f did not change over a step where it should have changed visibly
        self._visible = FLAT * float(np.finfo(self.dtype).eps) * np.abs(f0)

    def _noise(self, assumed: np.ndarray | float, tau: np.ndarray, h: float) -> np.ndarray | float:
        """The noise to allow at step ``h``: the assumed (pessimistic) one, or — once it would
        dominate the tolerance — a measurement of it (made once per line)."""
        if self.measure_noise is None or np.all(np.asarray(assumed) / h <= 0.25 * tau):
            return assumed
        if self._measured_noise is None:
            self._measured_noise = self.measure_noise()
        return np.minimum(assumed, self._measured_noise)

    def _displaced(self, probe: Probe, t: float) -> tuple[np.ndarray, np.ndarray, float, np.ndarray | None]:
        """f at ``x0 + t·direction`` (rounded to the dtype) and the predicted change there."""
        if probe.kind == "entry":
            x = self.x0.copy()
            x[probe.index] = self.x64[probe.index] + t
            delta = float(x[probe.index]) - self.x64[probe.index]
            if delta == 0.0:
                raise FloatingPointError("step below the resolution of x")
            return self.evaluate(x), self.A[:, probe.index] * delta, abs(delta), None
        if self.dtype == np.float64:
            # float64 rounds x + t·v far below the step's own precision: take the step as exact
            if probe.slope is None:
                probe.slope = self.A @ probe.v
            x = self.x64 + t * probe.v  # probe directions have unit length
            return self.evaluate(x), t * probe.slope, abs(t), None
        x = (self.x64 + t * probe.v).astype(self.dtype)
        delta = x.astype(np.float64) - self.x64
        length = float(np.linalg.norm(delta))
        if length == 0.0:
            raise FloatingPointError("step below the resolution of x")
        return self.evaluate(x), self.A @ delta, length, delta

    def residuals(self, probe: Probe, h: float) -> dict:
        """Central and one-sided residual slopes of ``f`` minus the student's model at step ``h``."""
        fp, pp, lp, dp = self._displaced(probe, h)
        fm, pm, lm, dm = self._displaced(probe, -h)
        r_plus, r_minus = fp - self.f0 - pp, fm - self.f0 - pm
        if np.any((fp == self.f0) & (fm == self.f0) & (self.f0 != 0) & (np.abs(pp) > self._visible)):
            self.flat = True
        span = lp + lm
        return {"h": h, "central": (r_plus - r_minus) / span, "plus": r_plus / lp, "minus": -r_minus / lm,
                "student": (pp - pm) / span, "fp": fp, "fm": fm,
                "u": probe.v if dp is None and probe.kind != "entry" else None if dp is None else (dp - dm) / span}

    def first_pass(self, probe: Probe, h: float) -> None:
        """The plain central difference at ``h``: fills ``probe.center`` and ``probe.student``."""
        first = self.residuals(probe, h)
        probe.first = first
        probe.u = first["u"]
        probe.student = first["student"]
        probe.center = first["student"] + first["central"]

    def judge(self, probe: Probe, tau: np.ndarray, h_min: float, noise: np.ndarray | float = 0.0) -> None:
        """Decide each output component of a first-passed probe, shrinking the step on doubt.

        ``tau`` is the tolerance at the first step, ``noise`` the absolute rounding noise of one
        evaluation: at a smaller step ``h`` the tolerance grows by ``noise·(1/h − 1/h₀)``.
        Fills ``probe.center`` (the reference slope, or the middle of the one-sided band at a
        kink), ``probe.width`` (the half-width within which the student's slope passes) and
        ``probe.status`` (smooth, resolved, kink, unsure or wrong per component).
        """
        first = probe.first
        h0 = first["h"]
        status = np.array([SMOOTH] * tau.shape[0], dtype=object)
        width = tau.copy()
        error = first["central"].copy()
        undecided = np.abs(error) > tau
        status[undecided] = WRONG
        steps = [first]
        h = h0
        while undecided.any() and len(steps) <= MAX_SHRINKS and (len(steps) == 1 or h / SHRINK >= h_min):
            h /= SHRINK
            try:
                now = self.residuals(probe, h)
            except FloatingPointError:
                break
            previous = steps[-1]
            steps.append(now)
            tau_now = tau + self._noise(noise, tau, h) * (1 / h - 1 / h0)
            now["tau"] = tau_now
            central = now["central"]
            resolved = undecided & (np.abs(central) <= tau_now)
            status[resolved] = RESOLVED
            error[resolved] = central[resolved]
            width[resolved] = tau_now[resolved]
            gap, previous_gap = np.abs(now["plus"] - now["minus"]), np.abs(previous["plus"] - previous["minus"])
            # a kink within the step: one side is smooth and agrees with the student
            one_sided = (undecided & ~resolved & (gap > tau_now)
                         & (np.minimum(np.abs(now["plus"]), np.abs(now["minus"])) <= tau_now))
            self._classify(probe, now, one_sided, tau_now, status, error, width)
            undecided &= ~(resolved | one_sided)
            # smooth and wrong: the same error at two steps, the gap as for a smooth function, and
            # still the same error at a much smaller step (kinks just beyond it can mimic the rest)
            settled = undecided & (np.abs(central - previous["central"]) <= 0.25 * np.abs(central)) \
                & smooth_scaling(gap, previous_gap, tau_now, central)
            smooth_wrong = settled.copy()
            deep_h = max(h / DEEP, h_min)
            if settled.any() and deep_h < h / 2:
                try:
                    deep = self.residuals(probe, deep_h)
                except FloatingPointError:
                    deep = None
                if deep is not None:
                    tau_deep = tau + self._noise(noise, tau, deep_h) * (1 / deep_h - 1 / h0)
                    smooth_wrong &= (np.abs(deep["central"] - central) <= 0.25 * np.abs(central)) \
                        & (np.abs(deep["central"]) > tau_deep)
            error[smooth_wrong] = central[smooth_wrong]
            undecided &= ~smooth_wrong
            # piecewise linear at this scale: residuals no longer change with the step
            stable = (undecided
                      & (np.abs(central - previous["central"]) <= 0.05 * np.maximum(np.abs(central), tau_now))
                      & (np.abs(gap - previous_gap) <= 0.05 * np.maximum(gap, tau_now)))
            self._settle(probe, now, stable, (tau, noise, h0, h_min), status, error, width)
            undecided &= ~stable
        if undecided.any() and len(steps) >= 2:
            self._settle(probe, steps[-1], undecided, (tau, noise, h0, h_min), status, error, width)
        probe.center = probe.student + error
        probe.width = width
        probe.status = list(status)

    def _settle(self, probe: Probe, now: dict, which: np.ndarray, start: tuple, status: np.ndarray,
                error: np.ndarray, width: np.ndarray) -> None:
        """Decide components ``which`` that shrinking the step left open (the residuals stopped
        changing, or the step reached the noise floor): a kink at ``x``, or several just beyond the
        step? Look once more at the smallest step the *measured* rounding noise allows, where kinks
        that are near but not at ``x`` no longer show: resolved if the residual vanished there,
        else classified by the one-sided slopes there."""
        if not which.any():
            return
        tau, noise, h0, h_min = start
        h = max(h_min, h0 / SHRINK ** MAX_SHRINKS)
        with np.errstate(divide="ignore", invalid="ignore"):
            measured = self._noise(noise, tau, h)
            h = max(h0 / SHRINK ** MAX_SHRINKS, float(np.max(np.where(tau > 0, measured / (4 * tau), 0.0))))
        if h < now["h"] / 2:
            try:
                deep = self.residuals(probe, h)
                deep["tau"] = tau + self._noise(noise, tau, h) * (1 / h - 1 / h0)
                now = deep
            except FloatingPointError:
                pass
        gone = which & (np.abs(now["central"]) <= now["tau"])
        status[gone], error[gone], width[gone] = RESOLVED, now["central"][gone], now["tau"][gone]
        self._classify(probe, now, which & ~gone, now["tau"], status, error, width)

    @staticmethod
    def _classify(probe: Probe, step: dict, which: np.ndarray, tau: np.ndarray, status: np.ndarray,
                  error: np.ndarray, width: np.ndarray) -> None:
        """Judge components ``which`` from the one-sided residual slopes at a small step."""
        if not which.any():
            return
        plus, minus = step["plus"], step["minus"]
        gap = np.abs(plus - minus)
        nonsmooth = which & (gap > 2 * tau)
        # a kink within the step: the other side is smooth and agrees with the student
        one_sided = which & (gap > tau) & (np.minimum(np.abs(plus), np.abs(minus)) <= tau)
        side = np.where(np.abs(plus) <= np.abs(minus), plus, minus)
        status[one_sided] = KINK
        error[one_sided] = side[one_sided]
        width[one_sided] = tau[one_sided]
        # a kink exactly at x: the student's slope lies between the one-sided slopes
        inside = (np.minimum(plus, minus) <= tau) & (np.maximum(plus, minus) >= -tau)
        banded = nonsmooth & ~one_sided & inside
        status[banded] = KINK
        error[banded] = 0.5 * (plus + minus)[banded]
        width[banded] = 0.5 * gap[banded] + tau[banded]
        # several exact kinks along one direction: their contributions to the gap may cancel, so
        # the band of valid slopes is unknown; such a direction is left to the other probes
        unsure = nonsmooth & ~one_sided & ~inside
        if probe.kind == "entry":
            unsure[:] = False
        status[unsure] = UNSURE
        error[unsure] = 0.5 * (plus + minus)[unsure]
        width[unsure] = np.inf
        if (banded | unsure).any():
            probe.exact_kink = True
        rest = which & ~(one_sided | banded | unsure)
        status[rest] = WRONG
        error[rest] = step["central"][rest]

    @property
    def evaluations(self) -> int:
        return self.evaluate.count
