"""Time left for a batch whose jobs differ in cost (long notebooks first, then short ones)."""

from __future__ import annotations

import heapq

from autograder.progress import TimeLeft, format_seconds, round_robin


def simulate(costs: list[float], workers: int) -> list[tuple[float, int]]:
    """(finish time, job) of each job, in finishing order, on a pool taking jobs in order."""
    free = [0.0] * workers
    finished = []
    for index, cost in enumerate(costs):
        start = heapq.heappop(free)
        heapq.heappush(free, start + cost)
        finished.append((start + cost, index))
    return sorted(finished)


def estimates(kinds: list[str], costs: list[float], workers: int):
    """(true seconds left, TimeLeft's estimate, a plain rate estimate) after each job but the last."""
    time_left = TimeLeft(kinds, workers)
    order = simulate(costs, workers)
    end = order[-1][0]
    rows = []
    for done, (now, index) in enumerate(order[:-1], start=1):
        time_left.finished(index, costs[index])
        plain = (len(costs) - done) * now / done   # jobs left / jobs per second so far
        rows.append((end - now, time_left.seconds_left(), plain))
    return rows


def demo_like() -> tuple[list[str], list[float]]:
    """A class like the demo's: six submissions of four slow notebooks, 25 of a quick one."""
    costs = {"05": 40.0, "04": 30.0, "03": 8.0, "02": 6.0, "01": 4.0}
    kinds = [k for k in costs for _ in range(25 if k == "01" else 6)]
    jobs = round_robin(list(enumerate(kinds)), kind=lambda job: job[1])
    return [k for _, k in jobs], [costs[k] for _, k in jobs]


def test_round_robin_takes_each_kind_in_turn() -> None:
    """Does round robin take one job of each kind per round, keeping each kind's own order?"""
    items = ["a1", "a2", "a3", "b1", "c1", "c2"]
    assert round_robin(items, kind=lambda s: s[0]) == ["a1", "b1", "c1", "a2", "c2", "a3"]


def test_unequal_jobs_get_a_steady_estimate() -> None:
    """In a demo-like class, does the estimate stay within a third of the truth once a job of
    each kind has finished, and closer than a plain rate (jobs left / jobs per second)?"""
    kinds, costs = demo_like()
    rows = estimates(kinds, costs, workers=2)
    settled = [row for row in rows[5:] if row[0] >= 10]   # after the first round, until the end
    ours = max(abs(estimate - true) / true for true, estimate, _ in settled)
    plain = max(abs(rate - true) / true for true, _, rate in settled)
    assert ours < 0.34, ours
    assert ours < plain / 2, (ours, plain)


def test_nothing_finished_and_all_finished() -> None:
    """Is there no estimate before the first job finishes, and 0 once all have?"""
    time_left = TimeLeft(["a", "b"], workers=2)
    assert time_left.seconds_left() is None
    time_left.finished(0, 4.0)
    assert time_left.seconds_left() == 2.0   # one job of unknown kind, half done, one worker
    time_left.finished(1, 4.0)
    assert time_left.seconds_left() == 0.0


def test_format_rounds_to_steady_figures() -> None:
    """Are times left shown in round figures, and 'estimating' before there is one?"""
    assert format_seconds(None) == "estimating time left"
    assert format_seconds(181) == "about 3 min left"
    assert format_seconds(42) == "about 40 s left"
    assert format_seconds(1) == "about 5 s left"
