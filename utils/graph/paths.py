"""Gradients *without* reuse: the sum over every path of the product of local gradients.

By the multivariate chain rule, d output / d x is the sum, over every path from x to the
output, of the product of the local gradients along the path. Evaluating that sum path by
path gives the same numbers as :meth:`Graph.backward` but recomputes the shared upper part of
the paths again and again (the "incorrect" way in the lecture notes). This module exists so a
notebook can *count* that wasted work; it calls the same pluggable rules as the engine.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from .engine import Graph, Node

__all__ = ["PathSum", "path_sum_gradients"]


@dataclass(frozen=True)
class PathSum:
    """Result of :func:`path_sum_gradients`: ``grads`` by input name, ``paths`` (how many
    output-to-input paths were multiplied out) and ``rule_calls`` (local gradients computed)."""

    grads: dict[str, float]
    paths: int
    rule_calls: int


def path_sum_gradients(graph: Graph, rules: Mapping[str, Callable[..., object]],
                       max_paths: int = 100_000) -> PathSum:
    """d output / d input for every input of ``graph``, one path at a time, no reuse.

    Each input is handled on its own, as if it were the only one we wanted, and each gate on
    each path asks its rule for the local gradient (upstream = 1). So ``rule_calls`` counts the
    local gradients evaluated; compare with ``graph.rule_calls`` after :meth:`Graph.backward`
    (one call per gate, shared by all inputs).

    Raises:
        ValueError: if ``forward`` has not run, or the graph has more than ``max_paths`` paths.
        MissingRuleError: if a gate kind has no rule.
    """
    output = graph._output()
    if any(n.value is None for n in graph.nodes.values()):
        raise ValueError("run forward() before path_sum_gradients(): some nodes have no value yet")
    graph.check_rules(rules)
    before = graph.rule_calls
    grads = {n.name: 0.0 for n in graph.inputs}
    paths = 0
    for target in graph.inputs:
        # Nodes that depend on target: only their edges lie on a path from target to output.
        depends = {target.name}
        for node in graph.nodes.values():  # creation order: inputs first
            if any(i.name in depends for i in node.inputs):
                depends.add(node.name)
        # Depth-first over paths: (node reached, product of local gradients from the output).
        stack: list[tuple[Node, float]] = [(output, 1.0)] if output.name in depends else []
        while stack:
            node, product = stack.pop()
            if node is target:
                grads[target.name] += product
                paths += 1
                if paths > max_paths:
                    raise ValueError(f"more than {max_paths} paths; too many to enumerate")
                continue
            local = graph.call_rule(node, rules, 1.0)
            stack.extend((source, product * g) for source, g in zip(node.inputs, local)
                         if source.name in depends)
    calls = graph.rule_calls - before
    graph.rule_calls = before
    return PathSum(grads, paths, calls)
