"""Randomness for notebook tests.

Visible tests use a literal seed (``np.random.default_rng(0)``) so that a student sees the
same numbers every run. Hidden tests draw *fresh* inputs with :func:`fresh_rng`: the grader
sets ``BACKPROP_LAB_SEED`` per grading run, so a hard-coded answer to the visible test cannot
pass them, while the same grading run is reproducible (the same seed gives the same inputs).
"""

from __future__ import annotations

import hashlib
import os

import numpy as np

SEED_VARIABLE = "BACKPROP_LAB_SEED"
DEFAULT_SEED = 20261125


def grading_seed() -> int:
    """Return the seed of this grading run: ``$BACKPROP_LAB_SEED`` or a fixed default.

    Raises:
        ValueError: if the variable is set but is not a non-negative integer.
    """
    raw = os.environ.get(SEED_VARIABLE)
    if raw is None or raw.strip() == "":
        return DEFAULT_SEED
    try:
        seed = int(raw)
    except ValueError:
        raise ValueError(f"{SEED_VARIABLE} must be a non-negative integer, got {raw!r}") from None
    if seed < 0:
        raise ValueError(f"{SEED_VARIABLE} must be a non-negative integer, got {raw!r}")
    return seed


def fresh_rng(salt: int | str = 0) -> np.random.Generator:
    """A generator for hidden tests, derived from the grading seed and a per-test ``salt``.

    Two tests with different salts get independent streams; the same seed and salt always
    give the same stream, in any process.
    """
    digest = hashlib.sha256(f"{grading_seed()}:{salt}".encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "little"))
