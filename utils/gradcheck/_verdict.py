"""From evidence to a verdict: the diagnosis, the message and the result record.

:func:`gather` measures the reference around ``x``, in this order:

1. the arithmetic of ``f`` (step, tolerance); ``f(x)`` not finite: ``nonfinite``; ``f`` gave two
   values at ``x``: ``nondeterministic`` (dropout or sampling, never the gradient's fault);
2. the probes: every entry (full), or random directions and sampled entries (fast);
3. failing, and ``f`` stood still over a step where it should have moved (a tiny loss computed
   from terms near 1): its rounding is measured at the step itself and ``f`` probed again with
   a step and tolerance to match;
4. fast, and kinks exactly at ``x`` blurred the directions: every entry after all, when there
   are at most ``WEAK_FULL · full_limit`` (else more sampled entries, :mod:`._evidence`);
5. still failing: ``f(x)`` once more, so that a non-deterministic ``f`` is named, not the gradient.

:func:`conclude` judges the student's array against that evidence: the simple explanations
first (zero, transposed, sign, scale), then where it is wrong (partial: entries, rows, or the
outputs of a Jacobian; in big arrays found by bisection), else ``wrong``; each with its usual
cause, or the exercise's own ``hints[diagnosis]``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import numpy as np
from threadpoolctl import ThreadpoolController

from . import _messages as words
from ._diagnose import (Finding, entry_errors, global_hypotheses, partial_finding, wrong_finding,
                        wrong_outputs_finding)
from ._evidence import WEAK_FULL, Evidence, collect
from ._localise import find_one, localise
from ._precision import Precision, coarse, describe, detect, once_more
from ._probe import WRONG, Evaluator, Line
from .result import GradCheckResult

_CONTROLLER: list[ThreadpoolController] = []


def threadpool_limits(limits: int = 1):
    """Limit BLAS to ``limits`` threads while checking, for stable timings (the controller is
    cached: building one costs about a millisecond)."""
    if not _CONTROLLER:
        _CONTROLLER.append(ThreadpoolController())
    return _CONTROLLER[0].limit(limits=limits)


def make_result(diagnosis: str, name: str, text: str, **fields) -> GradCheckResult:
    """A result whose message is ``"[<diagnosis>] <name>: <text>"``."""
    return GradCheckResult(passed=diagnosis == "ok", diagnosis=diagnosis, name=name,
                           message=f"[{diagnosis}] {name}: {text}", **fields)


def early(diagnosis: str, name: str, text: str, hidden: bool, cause: str = "",
          hints: Mapping[str, str] | None = None) -> GradCheckResult:
    """A result decided before any differences (shape, non-finite input)."""
    text = words.with_cause(text, cause, (hints or {}).get(diagnosis))
    return make_result(diagnosis, name, text, max_rel_error=float("nan"), worst_index=None, method="none",
                       checked="nothing (see message)", hidden=hidden)


def _nonfinite_reference(name: str, hidden: bool, evaluations: int,
                         hints: Mapping[str, str] | None) -> GradCheckResult:
    text = words.with_cause("the function itself is not finite (nan or inf) at x, so no gradient can be "
                            "checked there", " — a log(0) or an overflow in the forward pass?",
                            (hints or {}).get("nonfinite"))
    return make_result("nonfinite", name, text, max_rel_error=float("nan"), worst_index=None, method="none",
                       evaluations=evaluations, checked="f(x)", hidden=hidden)


def _nondeterministic(name: str, hidden: bool, evaluations: int, hints: Mapping[str, str] | None,
                      first: np.ndarray, second: np.ndarray) -> GradCheckResult:
    worst = int(np.argmax(np.abs(first - second)))
    values = "different values" if hidden else f"{first[worst]:.6g}, then {second[worst]:.6g}"
    text = words.with_cause(f"f is not deterministic: it gave {values} at the same x, so no gradient can be "
                            "checked", " — dropout or sampling? Fix the random seed or the mask inside f.",
                            (hints or {}).get("nondeterministic"))
    return make_result("nondeterministic", name, text, max_rel_error=float("nan"), worst_index=None,
                       method="none", evaluations=evaluations, checked="f(x) twice", hidden=hidden)


@dataclass
class Gathered:
    """Everything measured for one array: precision, value at x, evidence (or an early result)."""

    early: GradCheckResult | None = None
    evidence: Evidence | None = None
    precision: Precision | None = None
    f0: np.ndarray | None = None
    evaluate: Evaluator | None = None


def gather(evaluate: Evaluator, x: np.ndarray, A: np.ndarray, student_dtype: np.dtype, *, name: str,
           rng: np.random.Generator, hidden: bool, rtol: float | None, atol: float | None, h: float | None,
           mode: str, directions: int, entries: int, full_limit: int,
           hints: Mapping[str, str] | None = None) -> Gathered:
    """Measure the reference around ``x`` and judge ``A`` (shape ``(m, n)``) against it, by the
    five rules of the module docstring."""
    precision, f0, _ = detect(evaluate, x, student_dtype, h=h, rtol=rtol, rng=rng)  # 1. arithmetic
    if not np.all(np.isfinite(f0)):
        return Gathered(early=_nonfinite_reference(name, hidden, evaluate.count, hints))
    if precision.again is not None:
        return Gathered(early=_nondeterministic(name, hidden, evaluate.count, hints, f0, precision.again))
    full = mode == "full" or (mode == "auto" and x.size <= full_limit)  # 2. the probes
    line = Line(evaluate, x.astype(precision.dtype), f0, A, precision.dtype)
    options = dict(rng=rng, directions=directions, entries=entries, atol=0.0 if atol is None else float(atol))
    evidence = collect(line, x.shape, A, f0, precision, full=full, **options)
    if not evidence.passed and line.flat and precision.noise is None:
        # 3. f stood still where it should have moved: it rounds far above |f|; measure and adapt
        noisy = coarse(evaluate, x, f0, precision, rng, fixed_h=h is not None)
        if noisy is not None:
            precision, line = noisy, Line(evaluate, x.astype(noisy.dtype), f0, A, noisy.dtype)
            evidence = collect(line, x.shape, A, f0, precision, full=full, **options)
    if evidence.weakened and mode == "auto" and x.size <= WEAK_FULL * full_limit:
        # 4. kinks at x blurred the random directions: sweep every entry after all, when affordable
        evidence = collect(line, x.shape, A, f0, precision, full=True, **options)
    if not evidence.passed:  # 5. before blaming the gradient: is f repeatable?
        again = once_more(evaluate, x.astype(precision.dtype), f0, precision.eps)
        if again is not None:
            return Gathered(early=_nondeterministic(name, hidden, evaluate.count, hints, f0, again))
    return Gathered(evidence=evidence, precision=precision, f0=f0, evaluate=evaluate)


def _merge(blocks: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for start, stop in sorted(blocks):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(stop, merged[-1][1]))
        else:
            merged.append((start, stop))
    return merged


def _located_finding(location, name: str, target: tuple[int, ...], A: np.ndarray) -> Finding:
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
    hint = words.rows_cause(A, target[0]) if location.by_row else "."
    worst = None
    if singles and not location.by_row:
        worst = tuple(int(i) for i in np.unravel_index(singles[0], target))
    return Finding("partial", text, worst, cause=hint)


def _localised(gathered: Gathered, A: np.ndarray, *, name: str, target: tuple[int, ...],
               rng: np.random.Generator, atol: float | None) -> Finding | None:
    """Fast mode, failing, no simple explanation: if most sampled entries are right, bisect for the
    wrong rows (then one wrong entry in the first of them); ``None`` when the error is everywhere."""
    evidence, tolerance = gathered.evidence, 0.0 if atol is None else float(atol)
    sampled = [p for p in evidence.probes if p.kind == "entry"]
    wrong = sorted(p.index for p in sampled if WRONG in p.status)
    if len(wrong) > 0.5 * max(len(sampled), 1):
        return None
    if evidence.weakened and wrong:  # directions blurred by kinks at x: name the sampled entries
        places = [tuple(int(i) for i in np.unravel_index(j, target)) for j in wrong]
        where = words.listing([p if len(p) > 1 else p[0] for p in places], "entry", "entries")
        return Finding("partial", f"your {name} is right in {len(sampled) - len(wrong)} of the {len(sampled)} "
                       f"entries checked, but {where} {'is' if len(wrong) == 1 else 'are'} wrong (kinks at x "
                       "leave the other entries unchecked: mode='full' checks them all)", places[0], ".")
    location = localise(evidence, gathered.f0, tolerance, rng)
    if not location.blocks or location.spread:
        return None
    finding = _located_finding(location, name, target, A)
    first_row = location.blocks[0]
    if location.by_row and first_row[1] - first_row[0] == 1:
        row_size = evidence.n // target[0]
        column = find_one(evidence, gathered.f0, tolerance, rng, offset=first_row[0] * row_size, count=row_size)
        worst = tuple(int(i) for i in np.unravel_index(first_row[0] * row_size + column, target))
        finding = Finding(finding.diagnosis, finding.text, worst, finding.cause)
    return finding


def conclude(gathered: Gathered, A: np.ndarray, *, name: str, target: tuple[int, ...], hidden: bool,
             dims: set[int], what: str, rng: np.random.Generator, atol: float | None,
             finding: Finding | None = None, hints: Mapping[str, str] | None = None) -> GradCheckResult:
    """Turn the evidence into a result: ok, or the best diagnosis of what is wrong (its usual
    cause, or the exercise's own ``hints[diagnosis]``)."""
    evidence = gathered.evidence
    if finding is None and not evidence.passed:
        finding = global_hypotheses(evidence, A, name=name, target=target, hidden=hidden, dims=dims, what=what)
        if finding is None and evidence.is_full:
            finding = partial_finding(evidence, A, name=name, target=target, hidden=hidden)
        if finding is None and not evidence.is_full and evidence.m > 1:
            finding = wrong_outputs_finding(evidence, name=name, target=target)
        if finding is None and not evidence.is_full and evidence.m == 1:
            finding = _localised(gathered, A, name=name, target=target, rng=rng, atol=atol)
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
        if evidence.weakened:
            text += (" Kinks at x leave only the sampled entries as evidence, so an error in another "
                     "entry could go unseen: mode='full' checks every entry.")
        finding = Finding("ok", text)
    elif finding is None:
        finding = wrong_finding(evidence, A, name=name, target=target, hidden=hidden, what=what,
                                worst_index=worst, max_rel_error=max_rel)
    if finding.worst_index is not None:
        worst = finding.worst_index
    text = words.with_cause(finding.text, finding.cause, (hints or {}).get(finding.diagnosis))
    if evidence.kinks and evidence.method != "compare":
        text += (f" Note: f has a kink near x (a ReLU/max/abs input at or near 0), so "
                 f"{evidence.kinks} probe{'s were' if evidence.kinks > 1 else ' was'} judged with "
                 "smaller or one-sided steps.")
    precision = gathered.precision
    if precision is not None and precision.note:
        text += f" ({precision.note}.)"
    evaluations = gathered.evaluate.count if gathered.evaluate is not None else 0
    checked = evidence.describe() + (f", {evaluations} calls" if evidence.method != "compare" else "")
    return make_result(finding.diagnosis, name, text, max_rel_error=max_rel, worst_index=worst,
                       rel_error=rel_error, method=evidence.method, evaluations=evaluations, checked=checked,
                       precision=describe(precision) if precision is not None else "",
                       kinks=evidence.kinks if evidence.method != "compare" else 0, hidden=hidden,
                       errors=None if hidden else errors)


def _entry_is_wrong(evidence: Evidence, flat: int) -> bool:
    """Whether the sampled entry at target-flat index ``flat`` failed (fast evidence)."""
    output, index = divmod(flat, evidence.n)
    return evidence.entry_wrong(index, output)


def _norm_error(evidence: Evidence, A: np.ndarray) -> float:
    """``‖M(A) − M(G)‖ / ‖M(G)‖`` over every entry (full) or the random directions (fast)."""
    measured, centers = evidence.measure(A), evidence.centers
    if not evidence.is_full:
        keep = [k for k, p in enumerate(evidence.probes) if p.kind == "direction"]
        measured, centers = measured[keep], centers[keep]
    reference = float(np.linalg.norm(centers))
    difference = float(np.linalg.norm(measured - centers))
    if reference == 0:
        return 0.0 if difference == 0 else float("inf")
    return difference / reference
