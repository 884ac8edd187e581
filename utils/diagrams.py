"""Pictures of network architectures: layers of neurons joined by their weights (CS231n style).

``draw_layered_network([3, 4, 2], ["input", "hidden", "output"], ["W1", "W2"])`` draws the
two-layer network of the CS231n lecture: one column of circles per layer, every neuron joined to
every neuron of the next layer, the weight matrix named under each set of connections.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.patches import Circle

__all__ = ["draw_layered_network"]

_COLORS = ("#e8eefb", "#f4f4f4", "#fde8e8")


def draw_layered_network(sizes: Sequence[int], layer_labels: Sequence[str],
                         weight_labels: Sequence[str], ax: Axes | None = None, *,
                         title: str | None = None) -> Axes:
    """Draw fully connected layers of ``sizes`` neurons, left to right.

    Args:
        sizes: neurons per layer, input layer first (each between 1 and 12).
        layer_labels: one label per layer, written under its column.
        weight_labels: one label per pair of neighbouring layers (``len(sizes) - 1``).
        ax: axes to draw on; a new figure when ``None``.
        title: optional axes title.

    Returns:
        The matplotlib ``Axes`` drawn on.

    Raises:
        ValueError: if the labels do not match the layers or a size is out of range.
    """
    if len(sizes) < 2 or any(not 1 <= int(n) <= 12 for n in sizes):
        raise ValueError(f"sizes must list at least two layers of 1 to 12 neurons, got {list(sizes)}")
    if len(layer_labels) != len(sizes) or len(weight_labels) != len(sizes) - 1:
        raise ValueError(f"{len(sizes)} layers need {len(sizes)} layer labels and {len(sizes) - 1} "
                         f"weight labels, got {len(layer_labels)} and {len(weight_labels)}")
    if ax is None:
        _, ax = plt.subplots(figsize=(1.5 * len(sizes) + 1, 0.5 * max(sizes) + 1.4))
    tallest = max(sizes)
    columns = []
    for layer, size in enumerate(sizes):
        columns.append([(2.0 * layer, (size - 1) / 2 - k) for k in range(size)])  # centred on 0
    for layer, (left, right) in enumerate(zip(columns, columns[1:])):
        for x0, y0 in left:
            for x1, y1 in right:
                ax.plot([x0 + 0.25, x1 - 0.25], [y0, y1], color="gray", lw=0.7, zorder=1)
        ax.text(2.0 * layer + 1.0, -(tallest - 1) / 2 - 1.05, weight_labels[layer], ha="center",
                va="center", fontsize=10, style="italic")
    for layer, column in enumerate(columns):
        color = _COLORS[0] if layer == 0 else _COLORS[2] if layer == len(sizes) - 1 else _COLORS[1]
        for x, y in column:
            ax.add_patch(Circle((x, y), 0.25, facecolor=color, edgecolor="black", zorder=2))
        ax.text(2.0 * layer, -(tallest - 1) / 2 - 0.6, f"{layer_labels[layer]}\n({sizes[layer]})",
                ha="center", va="top", fontsize=9)
    ax.set_xlim(-0.7, 2.0 * (len(sizes) - 1) + 0.7)
    ax.set_ylim(-(tallest - 1) / 2 - 1.6, (tallest - 1) / 2 + 0.6)
    ax.set_aspect("equal")
    ax.set_axis_off()
    if title:
        ax.set_title(title)
    return ax
