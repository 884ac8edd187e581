"""Compare a mutant's results with the solution's on the very inputs the tests give it.

:class:`Recorder` stands in for the mutated function while the tests run: it also runs the
solution on a copy of every input, so a mutant no test catches can be told apart as
"equivalent" (every result the same) or "untested" (a result differs, no test noticed).
"""

from __future__ import annotations

import copy

import numpy as np


def same(a: object, b: object, seen: set | None = None) -> bool:
    """Do two results agree: arrays to 1e-9 relative, containers entry by entry, other objects
    (a graph's nodes) attribute by attribute?"""
    seen = set() if seen is None else seen
    if (id(a), id(b)) in seen:
        return True                                        # a cycle already being compared
    seen.add((id(a), id(b)))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k], seen) for k in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(same(x, y, seen) for x, y in zip(a, b))
    numeric = (np.ndarray, np.generic, float, int)
    if isinstance(a, numeric) and isinstance(b, numeric):
        a, b = np.asarray(a), np.asarray(b)
        if a.shape != b.shape or a.dtype.kind in "OUSb" or b.dtype.kind in "OUSb":
            return a.shape == b.shape and bool(np.all(a == b))
        return bool(np.allclose(a, b, rtol=1e-9, atol=1e-12, equal_nan=True))
    if type(a) is type(b) and hasattr(a, "__dict__") and not callable(a):
        return same(vars(a), vars(b), seen)
    if isinstance(a, (set, frozenset)) or type(a) is not type(b):
        return a == b
    try:
        return bool(a == b)
    except Exception:  # noqa: BLE001 - incomparable results count as different
        return False


class Recorder:
    """Stands in for the mutated function; once ``comparing``, it also runs the solution on a copy
    of every input and notes whether any result (return value or an input changed in place) differs."""

    def __init__(self, mutated, original) -> None:
        self.mutated, self.original, self.comparing, self.differs = mutated, original, False, False
        self.calls = 0
        self.__name__ = getattr(mutated, "__name__", "mutant")
        self.__doc__ = getattr(mutated, "__doc__", None)

    def __call__(self, *args, **kwargs):
        self.calls += 1
        if not self.comparing:
            return self.mutated(*args, **kwargs)
        try:
            saved = copy.deepcopy((args, kwargs))
        except Exception:  # noqa: BLE001 - an input that cannot be copied: assume the answer changed
            self.differs = True
            return self.mutated(*args, **kwargs)
        result = self.mutated(*args, **kwargs)
        try:
            expected = self.original(*saved[0], **saved[1])
        except Exception:  # noqa: BLE001 - the solution itself refuses this input
            return result
        if not same((result, args, kwargs), (expected, *saved)):
            self.differs = True
        return result
