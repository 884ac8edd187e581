"""Real servers for tests, started from their own command lines and stopped after: a PostgreSQL
(``initdb`` + ``pg_ctl``, as an unprivileged user when the tests run as root) and a Dask
cluster (``dask scheduler`` + ``dask worker``), both on loopback only."""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from autograder.localcluster import Cluster, start_cluster  # noqa: F401  (the tests' cluster)

POSTGRES_BINARIES = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
NOT_INSTALLED = ("PostgreSQL is not installed (apt-get install postgresql: .ci/run does); "
                 "no /usr/lib/postgresql/*/bin/pg_ctl")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _as_unprivileged() -> dict:
    """Popen arguments that run a server as ``nobody`` when we are root (PostgreSQL refuses
    root), and as ourselves otherwise."""
    if os.geteuid() != 0:
        return {}
    user = pwd.getpwnam("nobody")

    def drop() -> None:
        os.setgid(user.pw_gid)
        os.setgroups([])
        os.setuid(user.pw_uid)

    return {"preexec_fn": drop}


@contextlib.contextmanager
def postgres() -> Iterator[str]:
    """A throw-away PostgreSQL server with a database ``gradebook``; yields its SQLAlchemy URL."""
    pg_ctl = Path(POSTGRES_BINARIES[-1])
    folder = Path(tempfile.mkdtemp(prefix="backprop-pg-"))    # /tmp: nobody can reach it
    data = folder / "data"
    as_user = _as_unprivileged()
    if as_user:
        os.chown(folder, pwd.getpwnam("nobody").pw_uid, pwd.getpwnam("nobody").pw_gid)
    env = dict(os.environ, LC_ALL="C", HOME=str(folder))
    port = free_port()
    try:
        subprocess.run([str(pg_ctl.parent / "initdb"), "-D", str(data), "-U", "postgres",
                        "--auth=trust", "-E", "UTF8", "--no-sync"], check=True, env=env,
                       capture_output=True, cwd=folder, **as_user)
        subprocess.run([str(pg_ctl), "-D", str(data), "-l", str(folder / "log"), "-w", "-o",
                        f"-h 127.0.0.1 -p {port} -k {folder} -c fsync=off", "start"],
                       check=True, env=env, capture_output=True, cwd=folder, **as_user)
        try:
            import psycopg
            with psycopg.connect(f"host=127.0.0.1 port={port} user=postgres dbname=postgres",
                                 autocommit=True) as connection:
                connection.execute("CREATE DATABASE gradebook")
            yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/gradebook"
        finally:
            subprocess.run([str(pg_ctl), "-D", str(data), "-m", "immediate", "stop"], env=env,
                           capture_output=True, cwd=folder, **as_user)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def worker_pids(address: str) -> dict[str, int]:
    """Worker address -> pid of the worker process (not its nanny)."""
    from distributed import Client

    with Client(address, timeout=30) as client:
        return client.run(os.getpid)


def wait_until(predicate, timeout: float, what: str, every: float = 0.2):
    """Poll ``predicate`` until it returns something truthy (returned) or fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    raise TimeoutError(f"{what} did not happen within {timeout:g} s")
