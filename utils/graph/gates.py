"""The gates the engine knows: arity, forward function, symbol, and what their rule reads.

Only the *forward* function of each gate lives here. Its gradient rule is not the engine's
business: :meth:`~utils.graph.engine.Graph.backward` takes the rules as arguments.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["GATES", "GateSpec"]


def _logistic(v: float) -> float:
    # Written to stay finite for large |v| (exp of a large positive number overflows).
    if v >= 0:
        return 1.0 / (1.0 + math.exp(-v))
    e = math.exp(v)
    return e / (1.0 + e)


@dataclass(frozen=True)
class GateSpec:
    """What the engine knows about a gate: its arity, its forward function, how to draw it
    and which values its gradient rule receives ("inputs" or "output") -- never its gradient."""

    kind: str
    arity: int
    forward: Callable[..., float]
    symbol: str
    rule_reads: str = "inputs"


GATES: dict[str, GateSpec] = {
    spec.kind: spec for spec in (
        GateSpec("add", 2, lambda a, b: a + b, "+"),
        GateSpec("mul", 2, lambda a, b: a * b, "\u00d7"),
        GateSpec("max", 2, lambda a, b: a if a >= b else b, "max"),
        GateSpec("exp", 1, math.exp, "exp"),
        GateSpec("inverse", 1, lambda a: 1.0 / a, "1/x"),
        GateSpec("sigmoid", 1, _logistic, "\u03c3", rule_reads="output"),
    )
}
