"""Draw a :class:`~utils.graph.engine.Graph` with matplotlib (no graphviz, no system binaries).

Inputs sit on the left, the output on the right, as in the CS231n pictures: every edge
carries the forward value flowing along it (green, above) and, after ``backward``, the
gradient flowing back along it (red, below). Where a node feeds several gates its total
gradient is written as the sum of its branches (``5.00 = 3.00 + 2.00``), so the ``+=`` of
the backward pass is visible.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.patches import Circle, FancyBboxPatch

from .engine import GATES, Graph, Node

__all__ = ["VALUE_COLOR", "GRAD_COLOR", "layout", "draw_graph"]

VALUE_COLOR = "tab:green"
GRAD_COLOR = "tab:red"
_RADIUS = 0.3
_X_STEP, _Y_STEP = 1.8, 1.4


def _visible(node: Node) -> list[Node]:
    """The inputs of ``node`` that are drawn as nodes (constants go into the gate's label)."""
    return [i for i in node.inputs if i.kind != "const"]


def layout(graph: Graph) -> dict[str, tuple[float, float]]:
    """(x, y) of every non-constant node: x grows with depth, leaves are spaced in the order
    a depth-first walk from the output meets them, and a gate sits level with its inputs."""
    column: dict[str, int] = {}
    for node in graph.nodes.values():  # creation order: inputs first
        if node.kind == "input":
            column[node.name] = 0
        elif node.is_gate:
            column[node.name] = 1 + max((column[i.name] for i in _visible(node)), default=0)
    leaves: list[Node] = []
    seen: set[str] = set()
    roots = [graph.output] if graph.output else []
    stack = roots + [n for n in reversed(list(graph.nodes.values())) if n.kind == "input"]
    stack.reverse()  # pop from the end: the output first, then any input not reached from it
    while stack:
        node = stack.pop()
        if node.name in seen or node.kind == "const":
            continue
        seen.add(node.name)
        if node.kind == "input":
            leaves.append(node)
        stack.extend(reversed(_visible(node)))
    row = {leaf.name: -k * _Y_STEP for k, leaf in enumerate(leaves)}
    for node in graph.nodes.values():  # creation order: inputs first
        if node.is_gate:
            ys = [row[i.name] for i in _visible(node) if i.name in row]
            row[node.name] = sum(ys) / len(ys) if ys else 0.0
    return {name: (column[name] * _X_STEP, row[name]) for name in column if name in row}


def _gate_label(node: Node) -> str:
    symbol = GATES[node.kind].symbol
    consts = [i.value for i in node.inputs if i.kind == "const"]
    if not consts:
        return symbol
    text = f"{consts[0]:g}"
    if node.kind == "add":
        return f"+{text}" if consts[0] >= 0 else text
    if node.kind == "mul":
        return f"\u00d7({text})" if consts[0] < 0 else f"\u00d7{text}"
    return f"{symbol}({text})"


def _label(ax: Axes, x: float, y: float, text: str, color: str, size: float) -> None:
    ax.text(x, y, text, color=color, fontsize=size, ha="center", va="center", zorder=5,
            bbox=dict(boxstyle="round,pad=0.12", facecolor="white", edgecolor="none", alpha=0.85))


def draw_graph(graph: Graph, ax: Axes | None = None, *, fmt: str = "{:.2f}",
               title: str | None = None, show_grads: bool = True, fontsize: float = 9.0) -> Axes:
    """Draw ``graph`` with forward values (green) and, if ``backward`` ran, gradients (red).

    Args:
        graph: a graph on which ``forward()`` has run (values are needed for the labels).
        ax: axes to draw on; a new figure sized to the graph when ``None``.
        fmt: format of the numbers on the picture.
        title: optional axes title.
        show_grads: set ``False`` to show the forward pass only.

    Returns:
        The matplotlib ``Axes`` drawn on.

    Raises:
        ValueError: if the graph has no gate or ``forward`` has not run.
    """
    output = graph._output()
    if any(n.value is None for n in graph.nodes.values()):
        raise ValueError("run forward() before draw_graph(): some nodes have no value yet")
    pos = layout(graph)
    if ax is None:
        width = max(x for x, _ in pos.values()) / _X_STEP + 2
        height = -min(y for _, y in pos.values()) / _Y_STEP + 1.5
        _, ax = plt.subplots(figsize=(1.4 * width + 1, 1.1 * height + 0.8))
    has_grads = show_grads and output.grad is not None
    size = fontsize

    for node in graph.nodes.values():
        if node.name not in pos:
            continue
        x, y = pos[node.name]
        if node.is_gate:
            ax.add_patch(Circle((x, y), _RADIUS, facecolor="#f4f4f4", edgecolor="black", zorder=3))
            ax.text(x, y, _gate_label(node), ha="center", va="center", fontsize=size, zorder=4)
        else:
            ax.add_patch(FancyBboxPatch((x - 0.32, y - 0.16), 0.64, 0.32, zorder=3,
                                        boxstyle="round,pad=0.04", facecolor="#e8eefb",
                                        edgecolor="black"))
            ax.text(x, y, node.name, ha="center", va="center", fontsize=size, zorder=4)
        for position, source in enumerate(node.inputs):
            if source.name not in pos:
                continue
            (x0, y0), (x1, y1) = pos[source.name], (x, y)
            start = (x0 + (_RADIUS if source.is_gate else 0.36), y0)
            ax.annotate("", xy=(x1 - _RADIUS, y1), xytext=start, zorder=2,
                        arrowprops=dict(arrowstyle="-|>", color="black", lw=1.0,
                                        shrinkA=0, shrinkB=0))
            mx, my = (start[0] + x1 - _RADIUS) / 2, (y0 + y1) / 2
            _label(ax, mx, my + 0.17, fmt.format(source.value), VALUE_COLOR, size)
            if has_grads and (node.name, position) in graph.edge_grads:
                _label(ax, mx, my - 0.17, fmt.format(graph.edge_grads[(node.name, position)]),
                       GRAD_COLOR, size)
        # A node read by several gates: its gradient is the sum of what each branch sent back.
        branches = [graph.edge_grads.get((g.name, k)) for g, k in graph.consumers(node)
                    if g.name in pos]
        if has_grads and node.grad is not None and (len(branches) > 1 or node.kind == "input"):
            parts = [b for b in branches if b is not None]
            text = fmt.format(node.grad)
            if len(parts) > 1:
                text += " = " + " + ".join(fmt.format(p) for p in parts)
            _label(ax, x, y - 0.45, text, GRAD_COLOR, size)

    x, y = pos[output.name]
    end = x + _X_STEP * 0.8
    ax.annotate("", xy=(end, y), xytext=(x + _RADIUS, y), zorder=2,
                arrowprops=dict(arrowstyle="-|>", color="black", lw=1.0, shrinkA=0, shrinkB=0))
    ax.text(end + 0.08, y, output.name, ha="left", va="center", fontsize=size)
    _label(ax, (x + _RADIUS + end) / 2, y + 0.17, fmt.format(output.value), VALUE_COLOR, size)
    if has_grads:
        _label(ax, (x + _RADIUS + end) / 2, y - 0.17, fmt.format(output.grad), GRAD_COLOR, size)

    xs = [p[0] for p in pos.values()] + [end + 0.5]
    ys = [p[1] for p in pos.values()]
    ax.set_xlim(min(xs) - 0.6, max(xs) + 0.2)
    ax.set_ylim(min(ys) - 1.0, max(ys) + 0.55)
    ax.set_aspect("equal")
    ax.set_axis_off()
    legend = "green: forward value" + ("    red: gradient (downstream = upstream \u00d7 local)"
                                       if has_grads else "")
    ax.text(min(xs) - 0.5, min(ys) - 0.95, legend, fontsize=size - 1, color="dimgray", va="bottom")
    if title:
        ax.set_title(title)
    return ax
