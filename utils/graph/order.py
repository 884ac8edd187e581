"""Topological order: the order in which a forward pass may visit the nodes of a graph."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

__all__ = ["topological_order"]


def topological_order(inputs_of: Mapping[str, Sequence[str]]) -> list[str]:
    """Order the nodes so that every node comes after all of its inputs.

    Args:
        inputs_of: for each node name, the names of the nodes it reads (an input node maps
            to an empty sequence). Names that only appear as inputs are treated as sources.

    Returns:
        Every node name once; ties keep the order of ``inputs_of`` (depth-first, inputs first).

    Raises:
        ValueError: if the edges contain a cycle (no order exists); the message names it.
    """
    order: list[str] = []
    state: dict[str, str] = {}  # "open" while on the DFS stack, "done" once placed
    for root in inputs_of:
        if root in state:
            continue
        stack = [(root, iter(inputs_of.get(root, ())))]
        state[root] = "open"
        while stack:
            name, pending = stack[-1]
            child = next(pending, None)
            if child is None:
                stack.pop()
                state[name] = "done"
                order.append(name)
            elif state.get(child) == "open":
                cycle = [n for n, _ in stack[[n for n, _ in stack].index(child):]] + [child]
                raise ValueError("the graph has a cycle: " + " -> ".join(reversed(cycle)))
            elif child not in state:
                state[child] = "open"
                stack.append((child, iter(inputs_of.get(child, ()))))
    return order
