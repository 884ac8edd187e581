"""Show a tagger's output: sentences with their entities marked, and a confusion matrix plot."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from utils.ner.scoring import entities


def mark_entities(tokens: Sequence[str], tags: Sequence[str]) -> str:
    """The sentence with each entity bracketed and typed: ``museums in [Paris]LOC are amazing``."""
    if len(tokens) != len(tags):
        raise ValueError(f"{len(tokens)} tokens but {len(tags)} tags")
    starts = {start: (kind, end) for kind, start, end in entities(tags)}
    words, i = [], 0
    while i < len(tokens):
        if i in starts:
            kind, end = starts[i]
            words.append("[" + " ".join(tokens[i:end + 1]) + "]" + kind)
            i = end + 1
        else:
            words.append(tokens[i])
            i += 1
    return " ".join(words)


def format_tagged(tokens: Sequence[str], gold: Sequence[str], predicted: Sequence[str]) -> str:
    """Two lines, gold then predicted entities, with a mark saying whether they agree."""
    agree = entities(gold) == entities(predicted)
    return (f"gold:      {mark_entities(tokens, gold)}\n"
            f"predicted: {mark_entities(tokens, predicted)}  {'(all right)' if agree else '(differs)'}")


def plot_confusion(matrix: np.ndarray, tags: Sequence[str], ax=None, *, normalize: bool = True):
    """Heat map of a ``confusion_matrix`` (rows: gold, columns: predicted); returns the Axes.

    With ``normalize`` each row is divided by its total, so the diagonal is per-tag recall.
    """
    import matplotlib.pyplot as plt

    matrix = np.asarray(matrix, dtype=float)
    if matrix.shape != (len(tags), len(tags)):
        raise ValueError(f"matrix shape {matrix.shape} does not match {len(tags)} tags")
    shown = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1) if normalize else matrix
    if ax is None:
        _, ax = plt.subplots(figsize=(1 + 0.6 * len(tags), 0.6 * len(tags)))
    image = ax.imshow(shown, cmap="Blues", vmin=0)
    ax.set_xticks(range(len(tags)), tags, rotation=45, ha="right")
    ax.set_yticks(range(len(tags)), tags)
    ax.set_xlabel("predicted tag")
    ax.set_ylabel("gold tag")
    for (row, col), value in np.ndenumerate(shown):
        if matrix[row, col]:
            ax.text(col, row, f"{value:.2f}" if normalize else f"{int(value)}", ha="center",
                    va="center", fontsize=7, color="white" if value > 0.5 * shown.max() else "black")
    ax.figure.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    ax.set_title("token confusion matrix" + (" (row-normalised)" if normalize else ""))
    return ax
