"""A per-entry error heatmap of a gradient check, for notebooks."""

from __future__ import annotations

import numpy as np

from .result import GradCheckResult


def plot_gradient_check(result: GradCheckResult, ax=None):
    """Draw the relative error of every checked entry as a heatmap (log scale).

    The colour scale is the same for every plot (1e-16 to 1, dark = wrong). Entries that were
    not examined (fast mode samples a few) are left blank; the worst entry is circled. Vectors are drawn as one row, arrays of three or more dimensions flattened to
    ``(first axis, rest)``.

    Args:
        result: a result of :func:`~utils.gradcheck.check_gradient` (or any other check).
        ax: the matplotlib Axes to draw in; a new figure when ``None``.

    Returns:
        The matplotlib Axes.
    """
    import matplotlib.pyplot as plt
    from matplotlib.colors import LogNorm

    if not isinstance(result, GradCheckResult):
        raise TypeError(f"plot_gradient_check expects a GradCheckResult, got {type(result).__name__}")
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.5))
    title = f"{result.name}: {result.diagnosis}" + ("" if result.passed else " (FAILED)")
    if result.errors is None:
        ax.text(0.5, 0.5, "no per-entry errors" + (" (hidden test)" if result.hidden else ""),
                ha="center", va="center", transform=ax.transAxes)
        ax.set_title(title)
        ax.set_axis_off()
        return ax
    errors = np.asarray(result.errors, dtype=float)
    grid = errors.reshape(1, -1) if errors.ndim <= 1 else errors.reshape(errors.shape[0], -1)
    shown = np.where(np.isfinite(grid), np.maximum(grid, 1e-16), np.nan)
    # one fixed scale for every plot, so that dark always means wrong (1 = off by 100%)
    image = ax.imshow(np.ma.masked_invalid(np.minimum(shown, 1.0)), cmap="magma_r", aspect="auto",
                      interpolation="nearest", norm=LogNorm(vmin=1e-16, vmax=1.0))
    ax.figure.colorbar(image, ax=ax, label="relative error")
    if result.worst_index is not None and errors.ndim >= 1 and len(result.worst_index) == errors.ndim:
        flat = int(np.ravel_multi_index(result.worst_index, errors.shape))
        row, column = divmod(flat, grid.shape[1])
        ax.scatter([column], [row], s=160, facecolors="none", edgecolors="tab:blue", linewidths=2)
    ax.set_xlabel("column" if errors.ndim >= 2 else "entry")
    ax.set_ylabel("row" if errors.ndim >= 2 else "")
    ax.set_title(title)
    return ax
