"""A scalar computational graph: nodes hold values, gates are wired by name, and the
backward pass is *yours*: the graph calls the traversal and the gradient rules you pass in.

The graph evaluates each gate (the forward pass) and hands out what a backward pass needs, but
it contains neither the topological sort nor the backward traversal (the notebook's exercises)
nor a single local gradient. :meth:`Graph.backward` takes

* ``rules = {"mul": mul_backward, ...}``: for a gate, ``rule(*input_values, upstream)``
  (``add``, ``mul``, ``max``, ``exp``, ``inverse``) or ``rule(output_value, upstream)``
  (``sigmoid``) returns one downstream gradient per input; called once per gate with
  upstream 1, it gives the gate's local gradients;
* ``backward_pass(inputs_of, local_gradients, output)``: the traversal. ``inputs_of`` maps every
  node name to the names of the nodes it reads (leaves map to ``[]``), ``local_gradients`` maps
  every gate to its local gradients (one per input), ``output`` is the output's name; it
  returns ``{name: d output / d node}`` for every node::

    g = Graph()
    x, y, z = g.input("x", 1.0), g.input("y", 2.0), g.input("z", 0.0)
    f = g.mul(g.add(x, y, name="a"), g.max(y, z, name="b"), name="f")
    g.forward()                                    # evaluates the gates, inputs first
    grads = g.backward(rules, backward_pass)       # your rules, your traversal
    grads["y"], g.edge_grads[("a", 1)], g.edge_grads[("b", 0)]   # total and its two parts

Nodes are kept in the order they were created. A gate can only be created after its inputs,
so that order is one valid evaluation order and the forward pass needs no sort; ``inputs_of``
is handed out sorted by name, so a backward pass must find its own order.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from numbers import Real

import numpy as np

from .gates import GATES

__all__ = [
    "BackwardStep",
    "Graph",
    "MissingRuleError",
    "Node",
    "RuleOutputError",
]


class MissingRuleError(LookupError):
    """A gate of the graph has no gradient rule in the table given to ``backward``."""


class RuleOutputError(TypeError):
    """A gradient rule returned something other than one finite number per gate input."""


def _one_number(value: object, what: str) -> float:
    """``value`` as a finite float; a clear error naming ``what`` otherwise."""
    try:
        array = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        array = np.empty(0)
    if array.size != 1 or not math.isfinite(float(array.reshape(-1)[0])):
        raise ValueError(f"{what} must be one finite number, got {value!r}")
    return float(array.reshape(-1)[0])


@dataclass(eq=False)
class Node:
    """A node: an input, a constant or a gate applied to earlier nodes.

    ``value`` is set by :meth:`Graph.forward`, ``grad`` (d output / d this node) by
    :meth:`Graph.backward`; both are ``None`` until then.
    """

    name: str
    kind: str  # "input", "const" or a key of GATES
    inputs: tuple[Node, ...] = ()
    value: float | None = None
    grad: float | None = None

    @property
    def is_gate(self) -> bool:
        return self.kind not in ("input", "const")

    def __repr__(self) -> str:
        args = ", ".join(n.name for n in self.inputs)
        what = f"{self.kind}({args})" if self.is_gate else self.kind
        return f"Node({self.name} = {what}, value={self.value}, grad={self.grad})"


@dataclass(frozen=True)
class BackwardStep:
    """One gate visited by the backward pass: downstream = rule(local values, upstream)."""

    node: str
    kind: str
    upstream: float
    downstream: tuple[float, ...]


class Graph:
    """A scalar computational graph built gate by gate (see the module docstring)."""

    def __init__(self) -> None:
        self.nodes: dict[str, Node] = {}
        self.output: Node | None = None
        self.edge_grads: dict[tuple[str, int], float] = {}
        self.trace: list[BackwardStep] = []
        self.rule_calls = 0

    # ----------------------------------------------------------------- building
    def _add_node(self, node: Node) -> Node:
        if node.name in self.nodes:
            raise ValueError(f"a node named {node.name!r} already exists")
        self.nodes[node.name] = node
        self.output = node if node.is_gate else self.output
        return node

    def input(self, name: str, value: float | None = None) -> Node:
        """A named input (a leaf whose gradient you want), optionally with its value."""
        return self._add_node(Node(name, "input", value=None if value is None else float(value)))

    def const(self, value: float) -> Node:
        """A constant leaf; drawn inside the gate that reads it (``+1``, ``\u00d7(-1)``)."""
        return self._add_node(Node(f"const{len(self.nodes)}", "const", value=float(value)))

    def gate(self, kind: str, *inputs: Node | float, name: str | None = None) -> Node:
        """Apply gate ``kind`` (a key of :data:`GATES`) to ``inputs``; numbers become constants."""
        if kind not in GATES:
            raise ValueError(f"unknown gate {kind!r}; known gates: {', '.join(GATES)}")
        spec = GATES[kind]
        if len(inputs) != spec.arity:
            raise ValueError(f"gate {kind!r} takes {spec.arity} input(s), got {len(inputs)}")
        nodes = []
        for item in inputs:
            if isinstance(item, Node):
                if self.nodes.get(item.name) is not item:
                    raise ValueError(f"node {item.name!r} belongs to another graph")
                nodes.append(item)
            elif isinstance(item, Real):
                nodes.append(self.const(float(item)))
            else:
                raise TypeError(f"gate inputs must be nodes or numbers, got {type(item).__name__}")
        count = sum(n.kind == kind for n in self.nodes.values()) + 1
        return self._add_node(Node(name or f"{kind}{count}", kind, tuple(nodes)))

    def add(self, a: Node | float, b: Node | float, name: str | None = None) -> Node:
        return self.gate("add", a, b, name=name)

    def mul(self, a: Node | float, b: Node | float, name: str | None = None) -> Node:
        return self.gate("mul", a, b, name=name)

    def max(self, a: Node | float, b: Node | float, name: str | None = None) -> Node:
        return self.gate("max", a, b, name=name)

    def exp(self, a: Node, name: str | None = None) -> Node:
        return self.gate("exp", a, name=name)

    def inverse(self, a: Node, name: str | None = None) -> Node:
        return self.gate("inverse", a, name=name)

    def sigmoid(self, a: Node, name: str | None = None) -> Node:
        return self.gate("sigmoid", a, name=name)

    # ----------------------------------------------------------------- traversal
    @property
    def inputs(self) -> list[Node]:
        return [n for n in self.nodes.values() if n.kind == "input"]

    def forward(self, values: Mapping[str, float] | None = None) -> float:
        """Set input ``values`` (by name), evaluate every gate in creation order (inputs first)
        and return the output's value. Clears gradients from an earlier backward pass."""
        for name, value in (values or {}).items():
            if name not in self.nodes or self.nodes[name].kind != "input":
                raise KeyError(f"{name!r} is not an input of this graph; inputs: "
                               f"{', '.join(n.name for n in self.inputs)}")
            self.nodes[name].value = float(value)
        missing = [n.name for n in self.inputs if n.value is None]
        if missing:
            raise ValueError(f"no value for input(s) {', '.join(missing)}; pass forward({{...}})")
        for node in self.nodes.values():
            node.grad = None
            if node.is_gate:
                node.value = float(GATES[node.kind].forward(*(i.value for i in node.inputs)))
        self.edge_grads, self.trace = {}, []
        return self._output().value

    def _output(self) -> Node:
        if self.output is None:
            raise ValueError("the graph has no gate yet, so it has no output")
        return self.output

    def check_rules(self, rules: Mapping[str, Callable[..., object]]) -> None:
        """Raise :class:`MissingRuleError` unless every gate kind in the graph has a rule."""
        needed: dict[str, list[str]] = {}
        for node in self.nodes.values():
            if node.is_gate and not callable(rules.get(node.kind)):
                needed.setdefault(node.kind, []).append(node.name)
        if needed:
            used = "; ".join(f"{k!r} (used by {', '.join(v)})" for k, v in needed.items())
            example = ", ".join(f"{k!r}: {k}_backward" for k in needed)
            raise MissingRuleError(f"no gradient rule for gate {used}. "
                                   f"Pass them to backward: rules={{{example}, ...}}")

    def call_rule(self, node: Node, rules: Mapping[str, Callable[..., object]],
                  upstream: float) -> tuple[float, ...]:
        """Call ``node``'s rule with its local values and ``upstream``; check what it returns."""
        spec = GATES[node.kind]
        local = (node.value,) if spec.rule_reads == "output" else tuple(i.value for i in node.inputs)
        rule = rules[node.kind]
        result = rule(*local, upstream)
        self.rule_calls += 1
        items = result if isinstance(result, (tuple, list)) else (result,)
        name = getattr(rule, "__name__", repr(rule))
        if len(items) != spec.arity:
            raise RuleOutputError(f"rule {name} for gate {node.kind!r} (node {node.name!r}) must "
                                  f"return {spec.arity} gradient(s), one per input; got {result!r}")
        out = []
        for item in items:
            try:
                array = np.asarray(item, dtype=float)
            except (TypeError, ValueError):
                array = np.empty(0)
            if array.size != 1:
                raise RuleOutputError(f"rule {name} for node {node.name!r} returned {result!r}; "
                                      "each gradient must be one number (the graph is scalar)")
            number = float(array.reshape(-1)[0])
            if not math.isfinite(number):
                raise RuleOutputError(f"rule {name} for node {node.name!r} returned a non-finite "
                                      f"gradient {result!r}")
            out.append(number)
        return tuple(out)

    def inputs_of(self) -> dict[str, list[str]]:
        """Every node's name -> the names of the nodes it reads, in input order (a leaf or a
        constant reads nothing: ``[]``). Sorted by name, so the order says nothing about the graph."""
        return {name: [i.name for i in self.nodes[name].inputs] for name in sorted(self.nodes)}

    def local_gradients(self, rules: Mapping[str, Callable[..., object]]) -> dict[str, list[float]]:
        """Every gate's name -> its local gradients, d gate / d input_k, one per input (in the
        order of :meth:`inputs_of`): the gate's rule called once with upstream gradient 1."""
        if any(n.value is None for n in self.nodes.values()):
            raise ValueError("run forward() before backward(): some nodes have no value yet")
        self.check_rules(rules)
        return {node.name: list(self.call_rule(node, rules, 1.0))
                for node in self.nodes.values() if node.is_gate}

    def backward(self, rules: Mapping[str, Callable[..., object]],
                 backward_pass: Callable[..., Mapping[str, float]]) -> dict[str, float]:
        """Backpropagate with your traversal: ``backward_pass(inputs_of, local_gradients, output)``
        gets :meth:`inputs_of`, :meth:`local_gradients` (each gate's rule called once) and the
        output's name, and returns ``{name: d output / d node}`` for every node. The gradients are
        stored on the nodes, with what each edge carried (:attr:`edge_grads`) and one
        :class:`BackwardStep` per gate, output first (:attr:`trace`), for the drawing.

        Returns:
            ``{name: d output / d node}`` for every input and gate (constants left out).

        Raises:
            MissingRuleError: before any rule runs, if a gate kind has no rule.
            RuleOutputError: if a rule returns the wrong number of gradients or non-numbers.
            ValueError: if ``backward_pass`` leaves out a node or returns a non-number.
        """
        output = self._output()
        self.edge_grads, self.trace, self.rule_calls = {}, [], 0
        local = self.local_gradients(rules)
        for node in self.nodes.values():
            node.grad = None
        found = backward_pass(self.inputs_of(), local, output.name)
        name = getattr(backward_pass, "__name__", "backward_pass")
        if not isinstance(found, Mapping):
            raise ValueError(f"{name} must return a dict {{node name: gradient}}, got {type(found).__name__}")
        missing = [n for n in self.nodes if n not in found]
        if missing:
            raise ValueError(f"{name} returned no gradient for node(s) {', '.join(missing)}: "
                             "return one for every node of inputs_of")
        for node in self.nodes.values():
            node.grad = _one_number(found[node.name], f"{name}'s gradient for node {node.name!r}")
        for node in reversed(list(self.nodes.values())):
            if node.is_gate:
                downstream = tuple(node.grad * g for g in local[node.name])
                self.trace.append(BackwardStep(node.name, node.kind, node.grad, downstream))
                for position, grad in enumerate(downstream):
                    self.edge_grads[(node.name, position)] = grad
        return {n.name: n.grad for n in self.nodes.values() if n.kind != "const"}

    def consumers(self, node: Node) -> list[tuple[Node, int]]:
        """The (gate, input position) pairs that read ``node``."""
        return [(n, k) for n in self.nodes.values() for k, i in enumerate(n.inputs) if i is node]

    def format_trace(self, digits: int = 2) -> str:
        """The last backward pass as a table: gate, upstream gradient, downstream gradients."""
        if not self.trace:
            return "(no backward pass yet)"
        rows = [("gate", "kind", "upstream", "downstream")]
        for step in self.trace:
            down = ", ".join(f"{g:.{digits}f}" for g in step.downstream)
            rows.append((step.node, step.kind, f"{step.upstream:.{digits}f}", down))
        widths = [max(len(r[k]) for r in rows) for k in range(4)]
        return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows)

    def __repr__(self) -> str:
        out = self.output.name if self.output else None
        return f"Graph({len(self.nodes)} nodes, output={out})"
