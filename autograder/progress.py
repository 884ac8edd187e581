"""Time left for a batch of jobs of unequal cost (grading: notebook 5 takes several times
notebook 1, and the longest are started first).

A plain progress bar divides the jobs left by the recent rate of finished jobs, so its estimate
swings with the order the jobs finish in. Here each finished job teaches what a job of its
*kind* (assignment and notebook) costs; the work left is the estimated cost of every unfinished
job, less about half of those running, shared among the workers. Jobs are taken one kind after
another (:func:`round_robin`), so that every kind's cost is known after the first round.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Hashable, Sequence
from typing import TypeVar

T = TypeVar("T")


def round_robin(items: Sequence[T], kind: Callable[[T], Hashable]) -> list[T]:
    """``items`` reordered to take one of each kind in turn (kinds in order of first
    appearance), so that every kind's cost is known early."""
    queues: dict[Hashable, list[T]] = {}
    for item in items:
        queues.setdefault(kind(item), []).append(item)
    ordered: list[T] = []
    while any(queues.values()):
        for queue in queues.values():
            if queue:
                ordered.append(queue.pop(0))
    return ordered


class TimeLeft:
    """Estimates the seconds left for jobs of the given kinds, run in submission order on
    ``workers`` parallel workers."""

    def __init__(self, kinds: Sequence[Hashable], workers: int) -> None:
        self.kinds = list(kinds)
        self.workers = max(1, workers)
        self.unfinished = set(range(len(self.kinds)))
        self._seconds: dict[Hashable, list[float]] = defaultdict(list)

    def finished(self, index: int, seconds: float) -> None:
        """Job ``index`` finished after running ``seconds``."""
        self.unfinished.discard(index)
        self._seconds[self.kinds[index]].append(max(0.0, float(seconds)))

    def cost(self, kind: Hashable) -> float | None:
        """Estimated seconds of one job of ``kind``: the mean of its finished jobs, else of all
        finished jobs (None before any finished)."""
        own = self._seconds.get(kind)
        if own:
            return sum(own) / len(own)
        every = [s for values in self._seconds.values() for s in values]
        return sum(every) / len(every) if every else None

    def seconds_left(self) -> float | None:
        """Estimated wall-clock seconds until every job has finished (None before the first
        job finished; 0 when all have)."""
        if not self.unfinished:
            return 0.0
        if not self._seconds:
            return None
        waiting = sorted(self.unfinished)
        running = waiting[:self.workers]       # the pool runs jobs in submission order
        work = sum(self.cost(self.kinds[i]) for i in waiting)
        work -= 0.5 * sum(self.cost(self.kinds[i]) for i in running)
        return work / min(self.workers, len(waiting))


def format_seconds(seconds: float | None) -> str:
    """``about 3 min`` / ``about 40 s`` left, rounded so the figure does not flicker."""
    if seconds is None:
        return "estimating time left"
    if seconds >= 90:
        return f"about {round(seconds / 60)} min left"
    return f"about {max(5, round(seconds / 5) * 5)} s left"
