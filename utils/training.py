"""Tools for training loops in the notebooks: a progress bar, mini-batches, accuracy and a
history of metrics with its plot.

Tools only: nothing here computes a loss, a gradient or an update. A typical loop::

    history = History()
    for epoch in progress(range(num_epochs), description="training"):
        for batch in minibatches(len(X_train), batch_size, rng):
            ...                                  # forward, backward, update on X_train[batch]
        history.record(train_loss=loss, test_accuracy=accuracy(predicted, y_test))
    history.plot()
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["History", "accuracy", "minibatches", "progress"]


def progress(iterable: Iterable[Any], *, total: int | None = None, description: str | None = None,
             enabled: bool = True) -> Any:
    """Wrap ``iterable`` in a tqdm progress bar (a widget in Jupyter, text in a terminal).

    The returned bar iterates like ``iterable``; call ``.set_postfix(loss=...)`` on it to show
    live numbers next to the bar.

    Args:
        iterable: what to loop over.
        total: number of items when ``len(iterable)`` does not work (a generator).
        description: a label shown in front of the bar.
        enabled: ``False`` runs silently (tests, benchmarks) with the same interface.
    """
    from tqdm.auto import tqdm

    return tqdm(iterable, total=total, desc=description, disable=not enabled, leave=True)


def minibatches(num_examples: int, batch_size: int, rng: np.random.Generator) -> Iterator[np.ndarray]:
    """Yield index arrays that visit ``0 .. num_examples - 1`` once, in a random order.

    Every batch has ``batch_size`` indices except possibly the last, which holds the rest.

    Raises:
        ValueError: if ``num_examples`` or ``batch_size`` is not a positive integer.
    """
    if num_examples < 1 or batch_size < 1:
        raise ValueError("num_examples and batch_size must be positive, got "
                         f"{num_examples} and {batch_size}")
    order = rng.permutation(num_examples)
    for start in range(0, num_examples, batch_size):
        yield order[start:start + batch_size]


def accuracy(predictions: np.ndarray, labels: np.ndarray) -> float:
    """Share of ``predictions`` equal to ``labels``, both ``(N,)`` class indices.

    Raises:
        ValueError: if the shapes differ or there are no examples.
    """
    predictions = np.asarray(predictions)
    labels = np.asarray(labels)
    if predictions.shape != labels.shape or predictions.ndim != 1:
        raise ValueError(f"accuracy needs two (N,) label arrays, got shapes {predictions.shape} "
                         f"and {labels.shape} (take argmax over the class axis of scores first)")
    if labels.size == 0:
        raise ValueError("accuracy of zero examples is undefined")
    return float(np.mean(predictions == labels))


@dataclass
class History:
    """Metrics recorded once per epoch (or per any step), by name.

    Names end in their kind, e.g. ``train_loss``, ``test_loss``, ``test_accuracy``: :meth:`plot`
    draws one panel per kind (the part after the last underscore), one line per name.
    """

    values: dict[str, list[float]] = field(default_factory=dict)

    def record(self, **metrics: float) -> None:
        """Append one value to each named metric, e.g. ``record(train_loss=0.3)``.

        Raises:
            ValueError: if a value is not a finite real number.
        """
        for name, value in metrics.items():
            value = float(value)
            if not np.isfinite(value):
                raise ValueError(f"{name} = {value} is not finite (did training diverge?)")
            self.values.setdefault(name, []).append(value)

    def __getitem__(self, name: str) -> np.ndarray:
        """All values recorded for ``name``, oldest first."""
        if name not in self.values:
            raise KeyError(f"no metric {name!r}; recorded: {', '.join(self.values) or 'none'}")
        return np.asarray(self.values[name])

    def __len__(self) -> int:
        """The number of values of the longest metric (epochs recorded so far)."""
        return max((len(v) for v in self.values.values()), default=0)

    def last(self, name: str) -> float:
        """The most recent value of ``name``."""
        return float(self[name][-1])

    def __repr__(self) -> str:
        latest = ", ".join(f"{name}={values[-1]:.4g}" for name, values in self.values.items())
        return f"History({len(self)} epochs: {latest})"

    def plot(self, axes: Any = None, *, xlabel: str = "epoch") -> Any:
        """Plot every metric against its epoch (1, 2, ...), one panel per kind.

        Args:
            axes: a sequence of matplotlib Axes, one per kind; ``None`` makes a new figure.
            xlabel: the label of the horizontal axes.

        Returns:
            The list of Axes drawn on.
        """
        import matplotlib.pyplot as plt

        if not self.values:
            raise ValueError("nothing recorded yet: call record() before plot()")
        kinds: dict[str, list[str]] = {}
        for name in self.values:
            kinds.setdefault(name.rsplit("_", 1)[-1], []).append(name)
        if axes is None:
            _, axes = plt.subplots(1, len(kinds), figsize=(4.5 * len(kinds), 3.2), squeeze=False)
            axes = list(axes[0])
        axes = list(np.atleast_1d(axes))
        if len(axes) != len(kinds):
            raise ValueError(f"need {len(kinds)} axes (one per kind: {', '.join(kinds)}), got {len(axes)}")
        for ax, (kind, names) in zip(axes, kinds.items()):
            for name in names:
                ys = self.values[name]
                ax.plot(np.arange(1, len(ys) + 1), ys, marker="o" if len(ys) < 30 else None,
                        markersize=3, label=name.replace("_", " "))
            ax.set_xlabel(xlabel)
            ax.set_ylabel(kind)
            ax.set_title(kind)
            ax.grid(alpha=0.3)
            ax.legend()
        return axes
