"""Plotting helpers shared by the notebooks: pictures of functions, paths and Jacobians.

Tools only: each helper draws arrays it is given and never computes a derivative itself,
so nothing here answers an exercise. Every helper takes an optional ``ax`` and returns the
matplotlib ``Axes`` it drew on, so a notebook can put several plots in one figure::

    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    plot_contour(loss, (-2, 2), (-2, 2), ax=axes[0], paths={"alpha = 0.1": path})
    plot_jacobian(J, ax=axes[1], title="softmax Jacobian")
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.colors import TwoSlopeNorm

__all__ = [
    "evaluate_on_grid",
    "plot_contour",
    "plot_step_size_errors",
    "plot_jacobian",
    "plot_jacobians",
    "plot_timings",
]

_PATH_COLORS = ("tab:red", "tab:blue", "tab:green", "tab:orange", "tab:purple", "tab:brown")


def _axes(ax: Axes | None, figsize: tuple[float, float] = (5.0, 4.0)) -> Axes:
    if ax is None:
        _, ax = plt.subplots(figsize=figsize)
    return ax


def _limits(name: str, limits: Sequence[float]) -> tuple[float, float]:
    low, high = (float(v) for v in limits)
    if not (np.isfinite(low) and np.isfinite(high) and low < high):
        raise ValueError(f"{name} must be (low, high) with low < high, got {tuple(limits)}")
    return low, high


def _finish_loglog(ax: Axes, xlabel: str, ylabel: str, title: str | None) -> Axes:
    """Labels, a light major grid, the legend and the title of a log-log plot."""
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=8)
    if title:
        ax.set_title(title)
    return ax


def evaluate_on_grid(
    f: Callable[[np.ndarray], float],
    xlim: Sequence[float],
    ylim: Sequence[float],
    num_points: int = 120,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Values of a function of two variables on a ``num_points`` x ``num_points`` grid.

    Args:
        f: takes ``theta`` of shape ``(2,)`` and returns a number. If ``f`` also accepts a
            stacked grid of shape ``(2, P, P)`` and returns shape ``(P, P)`` it is called once;
            otherwise it is called point by point.
        xlim, ylim: ``(low, high)`` ranges of the first and second coordinate.
        num_points: grid points per axis (at least 2).

    Returns:
        ``(X, Y, Z)``, each of shape ``(num_points, num_points)``, with ``Z[i, j] = f([X[i, j], Y[i, j]])``.
    """
    if num_points < 2:
        raise ValueError(f"num_points must be at least 2, got {num_points}")
    x = np.linspace(*_limits("xlim", xlim), num_points)
    y = np.linspace(*_limits("ylim", ylim), num_points)
    X, Y = np.meshgrid(x, y)
    try:
        Z = np.asarray(f(np.stack([X, Y])), dtype=float)
    except Exception:  # f only takes single points: fall back to one call per point
        Z = None
    if Z is None or Z.shape != X.shape:
        Z = np.array([[f(np.array([xv, yv])) for xv, yv in zip(xrow, yrow)]
                      for xrow, yrow in zip(X, Y)], dtype=float)
    return X, Y, Z


def plot_contour(
    f: Callable[[np.ndarray], float],
    xlim: Sequence[float],
    ylim: Sequence[float],
    *,
    paths: Mapping[str, np.ndarray] | None = None,
    gradient_field: Callable[[np.ndarray], np.ndarray] | None = None,
    minimum: Sequence[float] | None = None,
    ax: Axes | None = None,
    levels: int = 25,
    num_points: int = 120,
    title: str | None = None,
) -> Axes:
    """Filled contour plot of ``f: R^2 -> R``, optionally with descent paths and gradient arrows.

    Args:
        f: function of ``theta`` with shape ``(2,)`` (see :func:`evaluate_on_grid`).
        xlim, ylim: plotted ranges ``(low, high)``.
        paths: label -> array of shape ``(num_steps + 1, 2)``, drawn as connected dots from
            the start (a square marker) on. Points outside the plotted range are clipped by
            the axes, so a diverging path visibly leaves the picture.
        gradient_field: if given, a function returning the gradient (shape ``(2,)``) at a
            point; arrows of ``-gradient`` (the descent direction) are drawn on a coarse grid.
        minimum: if given, the point ``(2,)`` marked with a star.
        ax, levels, num_points, title: drawing options.
    """
    ax = _axes(ax)
    X, Y, Z = evaluate_on_grid(f, xlim, ylim, num_points)
    filled = ax.contourf(X, Y, Z, levels=levels, cmap="viridis", alpha=0.85)
    ax.contour(X, Y, Z, levels=levels, colors="white", linewidths=0.4, alpha=0.6)
    ax.figure.colorbar(filled, ax=ax, shrink=0.85)
    if gradient_field is not None:
        gx, gy = np.meshgrid(np.linspace(*_limits("xlim", xlim), 12), np.linspace(*_limits("ylim", ylim), 12))
        arrows = np.array([[-np.asarray(gradient_field(np.array([a, b])), dtype=float)
                            for a, b in zip(row_x, row_y)] for row_x, row_y in zip(gx, gy)])
        ax.quiver(gx, gy, arrows[..., 0], arrows[..., 1], color="white", alpha=0.8,
                  angles="xy", pivot="mid")
    for index, (label, path) in enumerate((paths or {}).items()):
        path = np.asarray(path, dtype=float)
        if path.ndim != 2 or path.shape[1] != 2:
            raise ValueError(f"path {label!r} must have shape (num_steps + 1, 2), got {path.shape}")
        color = _PATH_COLORS[index % len(_PATH_COLORS)]
        ax.plot(path[:, 0], path[:, 1], "o-", color=color, markersize=3, linewidth=1.5, label=label)
        ax.plot(path[0, 0], path[0, 1], "s", color=color, markersize=7, markeredgecolor="white")
    if minimum is not None:
        ax.plot(*np.asarray(minimum, dtype=float), "*", color="gold", markersize=14,
                markeredgecolor="black", label="minimum")
    ax.set_xlim(*xlim)
    ax.set_ylim(*ylim)
    ax.set_xlabel(r"$\theta_1$")
    ax.set_ylabel(r"$\theta_2$")
    if paths or minimum is not None:
        ax.legend(loc="upper right", fontsize=8, framealpha=0.8)
    if title:
        ax.set_title(title)
    return ax


def plot_step_size_errors(
    step_sizes: np.ndarray,
    errors: Mapping[str, np.ndarray],
    *,
    ax: Axes | None = None,
    title: str | None = "Finite-difference error vs step size",
) -> Axes:
    """Log-log plot of approximation error against the step size ``h``.

    Args:
        step_sizes: shape ``(K,)``, positive.
        errors: label -> shape ``(K,)`` absolute errors; zeros (an exact hit) are drawn at
            the smallest positive error so the log scale keeps them.
    """
    h = np.asarray(step_sizes, dtype=float)
    if h.ndim != 1 or np.any(h <= 0):
        raise ValueError("step_sizes must be a 1-D array of positive numbers")
    ax = _axes(ax, (6.0, 4.5))
    for label, err in errors.items():
        err = np.abs(np.asarray(err, dtype=float))
        if err.shape != h.shape:
            raise ValueError(f"errors[{label!r}] has shape {err.shape}, expected {h.shape}")
        floor = err[err > 0].min() if np.any(err > 0) else 1e-300
        style = "--" if "32" in label else "-"
        ax.loglog(h, np.maximum(err, floor), style, marker="o", markersize=3, label=label)
    return _finish_loglog(ax, "step size h", "absolute error", title)


def plot_jacobian(
    J: np.ndarray,
    *,
    ax: Axes | None = None,
    title: str | None = None,
    annotate: bool | None = None,
    row_label: str = "output i",
    column_label: str = "input j",
) -> Axes:
    """Heatmap of a matrix (a Jacobian ``J[i, j] = df_i/dx_j``): red positive, blue negative.

    A 1-D array is drawn as one row (a ``1 x n`` Jacobian). ``annotate`` writes the values
    in the cells; by default it does so for matrices of at most 8 x 8.
    """
    J = np.asarray(J, dtype=float)
    if J.ndim == 1:
        J = J[None, :]
    if J.ndim != 2:
        raise ValueError(f"plot_jacobian draws a matrix, got an array of shape {J.shape}")
    ax = _axes(ax, (4.0, 3.5))
    bound = float(np.max(np.abs(J))) if J.size and np.any(J) else 1.0
    image = ax.imshow(J, cmap="RdBu_r", norm=TwoSlopeNorm(0.0, -bound, bound))
    ax.figure.colorbar(image, ax=ax, shrink=0.85)
    if annotate is None:
        annotate = max(J.shape) <= 8
    if annotate:
        for (i, j), value in np.ndenumerate(J):
            ax.text(j, i, f"{round(value, 2) + 0.0:.2f}", ha="center", va="center", fontsize=7,
                    color="white" if abs(value) > 0.6 * bound else "black")
    ax.set_xlabel(column_label)
    ax.set_ylabel(row_label)
    if title:
        ax.set_title(title)
    return ax


def plot_jacobians(jacobians: Mapping[str, np.ndarray], *, size: float = 3.6) -> plt.Figure:
    """One heatmap per Jacobian, side by side (title -> matrix); returns the figure."""
    if not jacobians:
        raise ValueError("plot_jacobians needs at least one matrix")
    fig, axes = plt.subplots(1, len(jacobians), figsize=(size * len(jacobians), size * 0.9),
                             squeeze=False)
    for ax, (title, J) in zip(axes[0], jacobians.items()):
        plot_jacobian(J, ax=ax, title=title)
    fig.subplots_adjust(left=0.04, right=0.98, bottom=0.15, top=0.88, wspace=0.35)
    return fig


def plot_timings(
    sizes: Sequence[int],
    seconds: Mapping[str, Sequence[float]],
    *,
    ax: Axes | None = None,
    title: str | None = "Time per call",
) -> Axes:
    """Log-log plot of run time against problem size (label -> seconds per size)."""
    n = np.asarray(sizes, dtype=float)
    ax = _axes(ax, (5.5, 4.0))
    for label, times in seconds.items():
        times = np.asarray(times, dtype=float)
        if times.shape != n.shape:
            raise ValueError(f"seconds[{label!r}] has {times.size} values for {n.size} sizes")
        ax.loglog(n, times, marker="o", label=label)
    return _finish_loglog(ax, "n", "seconds", title)

