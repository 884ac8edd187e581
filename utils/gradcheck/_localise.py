"""Find where a big gradient is wrong without a full sweep: bisection with block directions.

A random direction supported on a block of rows measures only that block's error, so halving
the blocks that disagree finds a wrong row in ``log2(rows)`` rounds of two probes each. The
search stops at a budget of calls and when the error turns out to be everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._evidence import Evidence, add_probe, rademacher
from ._probe import WRONG, Probe

BUDGET = 160
"""Function calls the localisation may spend (on top of the check's own)."""
MAX_FOUND = 8


@dataclass(frozen=True)
class Location:
    """Where the search found errors: whole ``rows`` (first axis) or flat ``entries``."""

    blocks: list[tuple[int, int]]  # [start, stop) row ranges known to hold errors (length 1 = a row)
    spread: bool  # the error is everywhere (most blocks of a round were wrong)
    complete: bool  # the search finished within its budget
    by_row: bool


def _block_probe(n: int, offset: int, row_size: int, start: int, stop: int, rng: np.random.Generator) -> Probe:
    v = np.zeros(n)
    v[offset + start * row_size: offset + stop * row_size] = rademacher(rng, (stop - start) * row_size)
    return Probe(kind="block", v=v, block=(start, stop))


def localise(evidence: Evidence, f0: np.ndarray, atol: float, rng: np.random.Generator,
             budget: int = BUDGET, within_row: int | None = None) -> Location:
    """Bisect over the rows (first axis; entries for 1-D arrays) to find the wrong ones.

    With ``within_row``, bisect over the entries of that row instead (blocks are then columns).
    """
    shape, n = evidence.shape, evidence.n
    by_row = len(shape) >= 2 and shape[0] > 1
    rows = shape[0] if by_row else n
    row_size = n // rows if rows else 1
    offset = 0
    if within_row is not None:
        offset, rows, row_size, by_row = within_row * row_size, row_size, 1, False
    start_count = evidence.line.evaluations
    suspects = [(0, rows)]
    found: list[tuple[int, int]] = []
    while suspects:
        next_round, tested, wrong = [], 0, 0
        for start, stop in suspects:
            if stop - start == 1:
                found.append((start, stop))
                continue
            middle = (start + stop) // 2
            for lo, hi in ((start, middle), (middle, stop)):
                if evidence.line.evaluations - start_count >= budget:
                    return Location(sorted(found + next_round + suspects_left(suspects, start)), False, False, by_row)
                probe = add_probe(evidence, _block_probe(n, offset, row_size, lo, hi, rng), f0, atol)
                evidence.probes.append(probe)
                tested += 1
                if WRONG in probe.status:
                    wrong += 1
                    next_round.append((lo, hi))
        if tested >= 4 and wrong > tested // 2:
            return Location(sorted(found), True, True, by_row)
        if len(found) + len(next_round) > MAX_FOUND:
            return Location(sorted(found + next_round), False, False, by_row)
        suspects = next_round
    return Location(sorted(found), False, True, by_row)


def suspects_left(suspects: list[tuple[int, int]], current: int) -> list[tuple[int, int]]:
    """The suspect blocks of this round not yet split when the budget ran out."""
    return [(s, e) for s, e in suspects if s >= current and e - s > 1]


def find_one(evidence: Evidence, f0: np.ndarray, atol: float, rng: np.random.Generator, *, offset: int,
             count: int) -> int:
    """One wrong entry among the flat entries ``[offset, offset + count)`` known to hold an error.

    Greedy halving: keep the left half when it disagrees, else the right one (``log2(count)``
    probes). Returns the position relative to ``offset``.
    """
    start, stop = 0, count
    while stop - start > 1:
        middle = (start + stop) // 2
        probe = add_probe(evidence, _block_probe(evidence.n, offset, 1, start, middle, rng), f0, atol)
        evidence.probes.append(probe)
        if WRONG in probe.status:
            stop = middle
        else:
            start = middle
    return start
