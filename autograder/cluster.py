"""Grade a batch on a Dask cluster (``grade --scheduler tcp://HOST:PORT``): one task per submission.

The client (the ``grade`` command) reads each submission and sends it, with its source
notebook, as bytes: the workers need backprop-lab installed, not the client's files. A worker
grades it exactly as a local run does (:func:`autograder.batch.grade_job`: the same engine and
sandbox, in a temporary folder of its own) and sends back the result, the graded notebook and
the feedback page. The client writes them as they arrive (``as_completed``), so only the
client ever writes ``OUT``. It keeps a window of tasks in flight, not the whole class, so the
scheduler holds a few notebooks at a time however large the class.

Faults, left to Dask:

- a worker that dies mid-task: the scheduler runs its task again on another worker;
- a submission whose task was running on ``allowed-failures + 1`` workers that all died (a
  scheduler setting, default 3): Dask gives it up (``KilledWorker``) and it becomes that
  student's ``error`` row saying so, while the rest of the class is graded;
- losing the scheduler: :class:`ClusterLost` (a :class:`~autograder.batch.GradingError`) as
  soon as the client notices, before anything of the batch is written to ``OUT``.

Only this module imports ``distributed``, and only :mod:`autograder.batch` with ``--scheduler``
imports this module: a local run pays nothing for it. Workers started with
``--preload autograder.cluster`` load the engine as they start (:func:`dask_setup`).
"""

from __future__ import annotations

import os
import sys
import tempfile
import threading
import traceback
import uuid
from dataclasses import asdict, replace
from pathlib import Path

from .batch import GradingError, Job, Limits, _preload, grade_job, not_regular, ungraded
from .engine.results import ERROR, SubmissionResult
from .feedback import write_feedback
from .outdir import atomic_write_bytes

CONNECT_SECONDS = 20.0          # reaching the scheduler (and reconnecting after a blip)
TASKS_PER_THREAD = 4            # tasks in flight per worker thread (at least MIN_IN_FLIGHT)
MIN_IN_FLIGHT = 16
INSTALL_HINT = ("grading on a cluster needs Dask's distributed on this machine and on every "
                "worker: pip install 'backprop-lab[cluster]' (or `pip install -r requirements.txt`)")


class ClusterLost(GradingError):
    """The client lost the scheduler before the batch was graded (message says how far it got)."""


def grade_remote(task: dict) -> tuple[SubmissionResult, bytes | None, bytes | None]:
    """On a worker: grade one submission sent as bytes; returns the result, the graded notebook
    and the feedback page (bytes, or None when not written)."""
    with tempfile.TemporaryDirectory(prefix="backprop-cluster-") as scratch:
        root = Path(scratch)
        notebook = task["notebook"]
        source = root / "source" / task["assignment"] / notebook
        submission = root / "submitted" / "student" / task["assignment"] / notebook
        for path, data in ((source, task["source"]), (submission, task["submission"])):
            path.parent.mkdir(parents=True)
            path.write_bytes(data)
        job = Job(student_id=task["student_id"], assignment=task["assignment"], source=source,
                  submission=submission, seed=task["seed"],
                  autograded_path=root / "autograded" / notebook,
                  feedback_path=root / "feedback" / f"{source.stem}.html")
        result = grade_job(job, Limits(**task["limits"]))
        graded = job.autograded_path.read_bytes() if job.autograded_path.is_file() else None
        page = job.feedback_path.read_bytes() if job.feedback_path.is_file() else None
    return result, graded, page


def dask_setup(worker) -> None:
    """Run by ``dask worker ADDRESS --preload autograder.cluster`` as the worker starts: load
    the grading engine then, once per worker, rather than during its first batch."""
    from .engine import submission  # noqa: F401


def check_worker(sandbox: str) -> str:
    """On a worker: "" when it can grade with ``sandbox``, else why not."""
    from .engine.sandbox import SandboxError, resolve

    try:
        resolve(sandbox)
    except SandboxError as err:
        return str(err)
    return ""


def _read_if_sent(job: Job) -> bytes | None:
    """The submission's bytes when it goes to the cluster; None for the rest (no file, not a
    regular file, too large), which become their row on the client at once, as a local run
    makes them, without grading."""
    from .engine.source import MAX_NOTEBOOK_BYTES

    path = job.submission
    if not os.path.lexists(path) or not_regular(path):
        return None
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return None
    with os.fdopen(fd, "rb") as handle:
        if os.fstat(handle.fileno()).st_size > MAX_NOTEBOOK_BYTES:
            return None
        return handle.read(MAX_NOTEBOOK_BYTES + 1)


def _given_up(job: Job, err: Exception) -> SubmissionResult:
    """The row of a submission the cluster gave up on; its feedback page says so."""
    killed = type(err).__name__ == "KilledWorker"
    if killed:
        workers = getattr(err, "allowed_failures", 0) + 1
        last = getattr(getattr(err, "last_worker", None), "address", "?")
        reason = (f"grading this notebook stopped {workers} Dask workers in turn (the last: {last}); "
                  "it was given up so the rest of the class could be graded: grade it alone, "
                  "locally, to see why")
    else:
        detail = traceback.format_exception_only(type(err), err)[-1].strip()
        reason = f"the cluster failed to grade it: {detail}"
    result = ungraded(job, ERROR, reason)
    try:
        write_feedback(result, job.feedback_path, source=job.source)
    except Exception as failure:
        result = replace(result, reason=f"{result.reason}; feedback not written: {failure}")
    return result


def _connect(scheduler: str):
    try:
        from distributed import Client
    except ImportError:
        raise GradingError(INSTALL_HINT) from None
    try:
        return Client(scheduler, timeout=CONNECT_SECONDS, set_as_default=False)
    except (OSError, TimeoutError, ValueError) as err:
        raise GradingError(f"cannot reach the Dask scheduler at {scheduler} within "
                           f"{CONNECT_SECONDS:g} s ({err}); start one with `dask scheduler` "
                           "and workers with `dask worker ADDRESS`") from None


def _check_workers(client, limits: Limits) -> None:
    """Refuse to start when a connected worker cannot grade (no backprop-lab, no sandbox)."""
    try:
        answers = client.run(check_worker, limits.sandbox)
    except ImportError as err:
        raise GradingError(f"a Dask worker cannot import the autograder ({err}); {INSTALL_HINT}") from None
    refused = {worker: why for worker, why in answers.items() if why}
    if refused:
        raise GradingError("some Dask workers cannot grade: " + "; ".join(
            f"{worker}: {why}" for worker, why in sorted(refused.items())))


def run_on_cluster(jobs: list[Job], limits: Limits, scheduler: str, progress: bool = True,
                   label: str = "grading") -> list[SubmissionResult]:
    """Grade ``jobs`` on the Dask cluster at ``scheduler``; results in job order, graded
    notebooks and feedback pages written to each job's paths as they arrive."""
    from tqdm import tqdm

    client = _connect(scheduler)
    try:
        _check_workers(client, limits)
        # what the gradebook and the report need loads while the workers grade
        threading.Thread(target=_preload, daemon=True).start()
        bar = tqdm(total=len(jobs), desc=f"{label} on {scheduler}", unit="nb",
                   disable=not progress, file=sys.stderr, dynamic_ncols=True)
        try:
            return _run(client, jobs, limits, scheduler, bar)
        except (OSError, TimeoutError) as err:
            if client.status == "running":           # not the connection: a local failure
                raise
            raise _lost(scheduler, bar.n, len(jobs), err) from None
    finally:
        try:
            client.close(timeout=5)
        except Exception:          # the scheduler may be gone already
            pass


def _lost(scheduler: str, graded: int, total: int, err: BaseException) -> ClusterLost:
    detail = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    return ClusterLost(f"lost the Dask scheduler at {scheduler} after {graded} of {total} "
                       f"notebooks were graded ({detail}); nothing was written to the output "
                       "folder: run the command again once the scheduler is back")


def _run(client, jobs: list[Job], limits: Limits, scheduler: str, bar) -> list[SubmissionResult]:
    from distributed import as_completed

    results: dict[int, SubmissionResult] = {}
    sources: dict[Path, bytes] = {}
    token = uuid.uuid4().hex[:8]
    with bar:
        waiting = list(reversed(range(len(jobs))))
        running = as_completed(loop=client.loop)
        futures = {}

        def top_up() -> None:
            threads = sum(client.nthreads().values()) if waiting else 0
            while waiting and len(futures) < max(MIN_IN_FLIGHT, TASKS_PER_THREAD * threads):
                index = waiting.pop()
                job = jobs[index]
                submission = _read_if_sent(job)          # read as it goes, not the class at once
                if submission is None:
                    results[index] = grade_job(job, limits)
                    bar.update()
                    continue
                if job.source not in sources:
                    sources[job.source] = job.source.read_bytes()
                task = {"student_id": job.student_id, "assignment": job.assignment,
                        "notebook": job.source.name, "seed": job.seed, "limits": asdict(limits),
                        "source": sources[job.source], "submission": submission}
                key = f"grade-{job.assignment}-{job.source.stem}-{job.student_id}-{token}"
                future = client.submit(grade_remote, task, key=key, pure=False)
                futures[future] = index
                running.add(future)

        top_up()
        for future in running:
            index = futures.pop(future)
            job = jobs[index]
            try:
                result, graded, page = future.result()
            except Exception as err:
                if future.status == "cancelled" or client.status not in ("running", "newly-created"):
                    raise _lost(scheduler, len(results), len(jobs), err) from None
                result, graded, page = _given_up(job, err), None, None
            else:
                for path, data in ((job.autograded_path, graded), (job.feedback_path, page)):
                    if data is not None:
                        atomic_write_bytes(path, data)
            future.release()
            results[index] = result
            bar.set_postfix_str(f"{job.student_id}: {result.status}")
            bar.update()
            top_up()
    return [results[index] for index in range(len(jobs))]

