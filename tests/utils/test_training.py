"""utils.training: progress bar, mini-batches, accuracy and the metric history."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from utils.training import History, accuracy, minibatches, progress  # noqa: E402


@settings(max_examples=50, deadline=None)
@given(st.integers(1, 200), st.integers(1, 64), st.integers(0, 2**32 - 1))
def test_minibatches_visit_every_example_once(num_examples: int, batch_size: int, seed: int) -> None:
    """Do the mini-batches partition 0..N-1, all full-size except possibly the last?"""
    batches = list(minibatches(num_examples, batch_size, np.random.default_rng(seed)))
    assert sorted(np.concatenate(batches).tolist()) == list(range(num_examples))
    assert all(len(b) == batch_size for b in batches[:-1])
    assert 1 <= len(batches[-1]) <= batch_size


def test_minibatches_are_shuffled_by_the_given_generator() -> None:
    """Does the order depend on the generator (and only on it)?"""
    first = np.concatenate(list(minibatches(50, 7, np.random.default_rng(0))))
    again = np.concatenate(list(minibatches(50, 7, np.random.default_rng(0))))
    other = np.concatenate(list(minibatches(50, 7, np.random.default_rng(1))))
    assert np.array_equal(first, again) and not np.array_equal(first, other)
    assert not np.array_equal(first, np.arange(50))
    with pytest.raises(ValueError, match="positive"):
        next(minibatches(10, 0, np.random.default_rng(0)))


def test_accuracy_counts_matches_and_rejects_scores() -> None:
    """Is accuracy the share of equal labels, and are (N, K) scores or empty arrays refused?"""
    assert accuracy(np.array([0, 1, 2, 2]), np.array([0, 1, 1, 2])) == 0.75
    with pytest.raises(ValueError, match="argmax"):
        accuracy(np.zeros((4, 3)), np.zeros(4, dtype=int))
    with pytest.raises(ValueError, match="zero examples"):
        accuracy(np.array([], dtype=int), np.array([], dtype=int))


def test_progress_iterates_and_can_be_silent() -> None:
    """Does the progress bar yield every item, take live numbers, and stay silent when disabled?"""
    bar = progress(range(5), description="test", enabled=False)
    seen = []
    for item in bar:
        seen.append(item)
        bar.set_postfix(loss=1.0)
    assert seen == list(range(5))
    assert list(progress((i for i in range(3)), total=3, enabled=False)) == [0, 1, 2]


def test_history_records_and_reports() -> None:
    """Does History keep values in order per name, report the latest, and refuse NaN and unknown names?"""
    history = History()
    history.record(train_loss=1.0, test_accuracy=0.5)
    history.record(train_loss=0.5, test_accuracy=0.75)
    assert np.array_equal(history["train_loss"], [1.0, 0.5])
    assert history.last("test_accuracy") == 0.75 and len(history) == 2
    assert "2 epochs" in repr(history) and "train_loss=0.5" in repr(history)
    with pytest.raises(KeyError, match="recorded: train_loss, test_accuracy"):
        history["loss"]
    with pytest.raises(ValueError, match="not finite"):
        history.record(train_loss=float("nan"))


def test_history_plot_draws_one_panel_per_kind() -> None:
    """Does plot group *_loss and *_accuracy into two panels with one line per metric?"""
    history = History()
    for epoch in range(4):
        history.record(train_loss=1 / (epoch + 1), test_loss=1.2 / (epoch + 1),
                       train_accuracy=0.5 + 0.1 * epoch, test_accuracy=0.45 + 0.1 * epoch)
    axes = history.plot()
    assert [ax.get_title() for ax in axes] == ["loss", "accuracy"]
    assert [len(ax.get_lines()) for ax in axes] == [2, 2]
    assert np.allclose(axes[0].get_lines()[0].get_xdata(), [1, 2, 3, 4])
    assert np.allclose(axes[1].get_lines()[1].get_ydata(), history["test_accuracy"])
    plt.close("all")
    _, own = plt.subplots(1, 2)
    assert history.plot(own)[0] is own[0]
    with pytest.raises(ValueError, match="need 2 axes"):
        history.plot([own[0]])
    with pytest.raises(ValueError, match="nothing recorded"):
        History().plot()
    plt.close("all")
