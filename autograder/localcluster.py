"""A Dask cluster on this machine, started with Dask's own command line (``dask scheduler``,
``dask worker``) on loopback: for trying ``grade --scheduler``, ``bench/cluster.py`` and the
tests. A real deployment starts the same two commands on its machines (README, "Grading at
scale"), or uses any other Dask deployment."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path


def wait_for_scheduler_file(path: Path, timeout: float = 60.0) -> str:
    """The address a ``dask scheduler --scheduler-file PATH`` wrote."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            return json.loads(path.read_text())["address"]
        except (OSError, ValueError, KeyError):
            time.sleep(0.1)
    raise TimeoutError(f"no scheduler address in {path} after {timeout:g} s")


@dataclass
class Cluster:
    """A Dask scheduler and its workers, each a process we started (stopped by pid)."""

    address: str
    scheduler: subprocess.Popen
    workers: list[subprocess.Popen] = field(default_factory=list)
    logs: Path | None = None

    def stop(self) -> None:
        for proc in [*self.workers, self.scheduler]:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in [*self.workers, self.scheduler]:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def _dask(*args: str, log: Path, env: dict) -> subprocess.Popen:
    dask = Path(sys.executable).with_name("dask")
    return subprocess.Popen([str(dask), *args], stdout=log.open("ab"), stderr=subprocess.STDOUT,
                            env=env, start_new_session=True)


def start_cluster(folder: Path, workers: int = 2, allowed_failures: int | None = None) -> Cluster:
    """``dask scheduler`` on a free loopback port and ``workers`` × ``dask worker --nworkers 1
    --nthreads 1 --preload autograder.cluster`` (one grading process each, the engine loaded as
    it starts), logging to ``folder/dask.log``; returns once
    every worker has joined. ``allowed_failures``: how many workers may die running one task
    before the scheduler gives it up (Dask's default: 3)."""
    folder.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    if allowed_failures is not None:
        env["DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES"] = str(allowed_failures)
    file = folder / "scheduler.json"
    log = folder / "dask.log"
    scheduler = _dask("scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                      "--scheduler-file", str(file), log=log, env=env)
    cluster = Cluster(address="", scheduler=scheduler, logs=log)
    try:
        cluster.address = wait_for_scheduler_file(file)
        for _ in range(workers):
            cluster.workers.append(_dask(
                "worker", cluster.address, "--nworkers", "1", "--nthreads", "1", "--host",
                "127.0.0.1", "--no-dashboard", "--local-directory", str(folder),
                "--preload", "autograder.cluster", log=log, env=env))
        if workers:
            from distributed import Client
            with Client(cluster.address, timeout=60) as client:
                client.wait_for_workers(workers, timeout=120)
    except BaseException:
        cluster.stop()
        raise
    return cluster
