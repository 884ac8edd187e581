"""A wall-clock limit around the grader's own work on one submission.

The student's cells have their own limits (per cell, whole notebook), enforced on the student's
process; this one bounds everything the grader itself does with a submission (reading, lining
up, judging, writing), so no content can hold a batch for longer than its limit.
"""

from __future__ import annotations

import contextlib
import signal
import threading


class TooSlow(Exception):
    """The submission's wall-clock limit passed while the grader was still working on it."""


@contextlib.contextmanager
def wall_clock(seconds: float):
    """Raise :class:`TooSlow` in this (main) thread once ``seconds`` have passed. Threads get
    no timer (Python delivers signals to the main thread only); the per-cell and
    whole-notebook limits still hold there."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def expire(_signum, _frame):
        raise TooSlow(f"over {seconds:.0f} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
