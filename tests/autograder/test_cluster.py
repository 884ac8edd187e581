"""Grading on a Dask cluster: `grade --scheduler` against a local run of the same class, on a
cluster of two worker processes started with Dask's own command line; a worker killed
mid-task, a submission that kills its workers, and a scheduler that goes away."""

from __future__ import annotations

import copy
import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

pytest.importorskip("distributed", reason="grading on a cluster needs Dask's distributed "
                                          "(pip install -r requirements.txt)")

from autograder import cluster as cluster_module  # noqa: E402
from autograder.batch import GradingError, grade_assignment  # noqa: E402
from autograder.engine.results import ERROR, OK  # noqa: E402
from autograder.gradebook import read_csv  # noqa: E402
from autograder.release import release  # noqa: E402
from tests.autograder.servers import start_cluster, wait_until  # noqa: E402
from tests.autograder.test_release import example_course, solved  # noqa: E402

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("dask-cluster")]
ASSIGNMENT = "00_example"
SLOW_SECONDS = 6


def _write(submissions: Path, student: str, nb, name: str = "example.ipynb") -> None:
    path = submissions / student / ASSIGNMENT / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(nb if isinstance(nb, str) else nbformat.writes(nb))


def _class(course: Path, submissions: Path) -> dict:
    """good, blank, a slow good one (the one whose worker gets killed), edited test, broken
    JSON, a renamed file; returns the notebooks to build other classes from."""
    released = nbformat.read(course / "notebooks" / ASSIGNMENT / "example.ipynb", as_version=4)
    good = solved(released)
    slow = copy.deepcopy(good)
    slow.cells.insert(2, nbformat.v4.new_code_cell(f"import time\ntime.sleep({SLOW_SECONDS})"))
    tamper = copy.deepcopy(released)
    tamper.cells[-1].source = "print('all tests pass')"
    _write(submissions, "good", good)
    _write(submissions, "blank", released)
    _write(submissions, "slow", slow)
    _write(submissions, "tamper", tamper)
    _write(submissions, "broken", nbformat.writes(good)[:100])
    _write(submissions, "renamed", good, name="example-Copy1.ipynb")
    return {"good": good}


def _grade_command(submissions: Path, out: Path, course: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "autograder", "grade", ASSIGNMENT, "--submissions", str(submissions),
            "--out", str(out), "--source", str(course / "solutions"), "--timeout", "30", "--quiet",
            *extra]


# Run in a fresh interpreter: a local grade, then which Dask modules that process loaded.
LOCAL_RUN = """
import json, sys
from autograder.__main__ import main
code = main(sys.argv[1:])
print(json.dumps({"code": code, "dask": sorted(m for m in sys.modules
                                               if m.split(".")[0] in ("distributed", "dask"))}))
"""


def _executing(dask_worker) -> tuple[int, list[str]]:
    """On a worker: its process id and the keys of the tasks it is running now."""
    return os.getpid(), [str(key) for key in dask_worker.state.executing]


def _task_count(dask_scheduler) -> int:
    """On the scheduler: how many tasks it holds."""
    return len(dask_scheduler.tasks)


# the workers have the project installed, not its tests: send these helpers by value
import cloudpickle  # noqa: E402

cloudpickle.register_pickle_by_value(sys.modules[__name__])


def _kill_worker_running(address: str, student: str) -> int:
    """Wait until a worker is running ``student``'s task, SIGKILL that worker process (its
    nanny starts a new one) and return the pid killed."""
    from distributed import Client

    with Client(address, timeout=30) as client:
        def running() -> int:
            for pid, keys in client.run(_executing).values():
                if any(f"-{student}-" in key for key in keys):
                    return pid
            return 0

        pid = wait_until(running, timeout=120, what=f"a worker running {student}'s notebook")
        os.kill(pid, signal.SIGKILL)
        return pid


@pytest.fixture(scope="module")
def dask_cluster(tmp_path_factory: pytest.TempPathFactory):
    cluster = start_cluster(tmp_path_factory.mktemp("dask"), workers=2, allowed_failures=1)
    yield cluster
    cluster.stop()


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory, dask_cluster) -> dict:
    """One class graded locally (in a fresh interpreter) and on the cluster, where the worker
    that runs the slow student's notebook is killed mid-task."""
    root = tmp_path_factory.mktemp("cluster-class")
    course = example_course(root / "course")
    release(course / "solutions", course / "notebooks")
    submissions = root / "submissions"
    notebooks = _class(course, submissions)
    local = subprocess.run([sys.executable, "-c", LOCAL_RUN, *_grade_command(
        submissions, root / "local", course, "--jobs", "2")[3:]], capture_output=True, text=True)
    assert local.returncode == 0, local.stderr[-3000:]
    on_cluster = subprocess.Popen(_grade_command(submissions, root / "cluster", course,
                                                 "--scheduler", dask_cluster.address),
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        killed = _kill_worker_running(dask_cluster.address, "slow")
        stdout, stderr = on_cluster.communicate(timeout=300)
    finally:
        if on_cluster.poll() is None:
            on_cluster.kill()
    return {"root": root, "course": course, "submissions": submissions, "notebooks": notebooks,
            "local": json.loads(local.stdout.strip().splitlines()[-1]), "killed": killed,
            "code": on_cluster.returncode, "stdout": stdout, "stderr": stderr}


def test_cluster_grades_equal_local_grades(graded: dict) -> None:
    """Does the cluster give the same grades.csv, feedback pages and graded notebooks as a
    local run of the same class, although a worker was killed while grading one of them?"""
    root = graded["root"]
    assert graded["code"] == 0, graded["stderr"][-3000:]
    assert graded["killed"] > 0
    local, remote = root / "local", root / "cluster"
    assert (remote / "grades.csv").read_text() == (local / "grades.csv").read_text()
    rows = {r["student_id"]: (r["score"], r["status"]) for r in read_csv(remote / "grades.csv")}
    assert rows == {"good": ("2", OK), "slow": ("2", OK), "blank": ("0", OK), "tamper": ("0", "flagged"),
                    "broken": ("0", "invalid"), "renamed": ("0", "missing")}
    for kind in ("feedback", "autograded"):
        pages = sorted(p.relative_to(local).as_posix() for p in (local / kind).rglob("*.*"))
        assert pages and pages == sorted(p.relative_to(remote).as_posix()
                                         for p in (remote / kind).rglob("*.*"))
    for page in (local / "feedback").rglob("*.html"):
        assert (remote / page.relative_to(local)).read_text() == page.read_text()
    assert (remote / "gradebook.db").is_file() and (remote / "report.html").is_file()


def test_local_grading_does_not_import_dask(graded: dict) -> None:
    """Does a run without --scheduler leave Dask unimported (no start-up cost)?"""
    assert graded["local"] == {"code": 0, "dask": []}


def test_submission_that_kills_its_workers_becomes_an_error_row(graded: dict, dask_cluster) -> None:
    """Does a notebook that kills every worker that grades it end as that student's error row
    saying why, while the rest of the class is graded (no hung batch)?"""
    from distributed import Client

    with Client(dask_cluster.address, timeout=30) as client:   # the killed worker is back
        client.wait_for_workers(2, timeout=120)
    submissions = graded["root"] / "killer-class"
    killer = copy.deepcopy(graded["notebooks"]["good"])
    # without bwrap, the student's process is a child of the Dask worker, and may kill it
    killer.cells.insert(2, nbformat.v4.new_code_cell("import os, signal\nos.kill(os.getppid(), signal.SIGKILL)"))
    _write(submissions, "killer", killer)
    _write(submissions, "good", graded["notebooks"]["good"])
    out = graded["root"] / "killer-out"
    proc = subprocess.run(_grade_command(submissions, out, graded["course"], "--sandbox", "rlimit",
                                         "--scheduler", dask_cluster.address),
                          capture_output=True, text=True, timeout=400)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = {r["student_id"]: r for r in read_csv(out / "grades.csv")}
    assert (rows["good"]["score"], rows["good"]["status"]) == ("2", OK)
    assert (rows["killer"]["score"], rows["killer"]["status"]) == ("0", ERROR)
    assert "stopped 2 Dask workers in turn" in rows["killer"]["reason"]
    page = (out / "feedback" / "killer" / ASSIGNMENT / "example.html").read_text()
    assert "Dask workers" in page


def test_unreachable_scheduler_is_refused_clearly(graded: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    """Is a scheduler address nobody answers refused with a message naming it, before any
    output is written?"""
    from tests.autograder.servers import free_port

    monkeypatch.setattr(cluster_module, "CONNECT_SECONDS", 2.0)
    address = f"tcp://127.0.0.1:{free_port()}"
    out = graded["root"] / "unreachable"
    with pytest.raises(GradingError, match=f"cannot reach the Dask scheduler at {address}"):
        grade_assignment(ASSIGNMENT, graded["submissions"], out,
                         source_dir=graded["course"] / "solutions", scheduler=address, progress=False)
    with pytest.raises(GradingError, match="--jobs is for local grading"):
        grade_assignment(ASSIGNMENT, graded["submissions"], out, source_dir=graded["course"] / "solutions",
                         scheduler=address, workers=2, progress=False)


def _tree(folder: Path) -> dict[str, bytes]:
    """Every file of ``folder`` and its bytes (but the lock file, which names the last run)."""
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and p.name != ".lock"}


def test_losing_the_scheduler_fails_clearly_and_leaves_out_as_before(graded: dict, tmp_path: Path) -> None:
    """When the scheduler dies mid-batch, does the run stop with a message saying so (not
    hang), leaving the output folder as it was?"""
    from distributed import Client

    lonely = start_cluster(tmp_path / "lonely", workers=0)     # tasks wait: no worker takes them
    out = tmp_path / "out"
    shutil.copytree(graded["root"] / "local", out)
    before = _tree(out)
    proc = subprocess.Popen(_grade_command(graded["submissions"], out, graded["course"],
                                           "--scheduler", lonely.address),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        with Client(lonely.address, timeout=30) as client:
            wait_until(lambda: client.run_on_scheduler(_task_count),
                       timeout=120, what="the batch's tasks reaching the scheduler")
        os.killpg(lonely.scheduler.pid, signal.SIGKILL)
        _, stderr = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
        lonely.stop()
    assert proc.returncode == 2, stderr[-3000:]
    assert f"lost the Dask scheduler at {lonely.address}" in stderr
    assert _tree(out) == before
