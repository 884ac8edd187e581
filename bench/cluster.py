"""Grading on a Dask cluster against the local pool, on the same cores, in one run.

Builds the class of ``bench/grading.py`` (40 students of the first assignment by default),
starts a local cluster with Dask's own command line (a scheduler and ``--workers`` worker
processes of one thread each, on loopback; not timed: a cluster is started once per term, not
per batch), then times, as an instructor would type them and start-up included:

  python -m autograder grade A --submissions S --out OUT --jobs N            (local pool)
  python -m autograder grade A --submissions S --out OUT --scheduler ADDRESS (the cluster)

and prints both times, the overhead per submission, their ratio, whether the two grades.csv
agree, and the load average (other work on the machine skews both times).

    python bench/cluster.py                          # 40 students, 2 workers vs --jobs 2
    python bench/cluster.py --rounds 2               # local, cluster, cluster, local: medians
    python bench/cluster.py --scheduler tcp://HOST:8786 --jobs 8   # an existing cluster
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from grading import build_course  # bench/grading.py: the same class

from autograder.localcluster import start_cluster
from autograder.release import assignments


def grade(command: list[str]) -> float:
    started = time.perf_counter()
    proc = subprocess.run(command, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if proc.returncode != 0:
        sys.exit(f"{' '.join(command[:4])} ... failed:\n{proc.stderr[-3000:]}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--assignment", default=None, help="default: the first assignment")
    parser.add_argument("--students", type=int, default=40, help="class size (default: 40)")
    parser.add_argument("--workers", type=int, default=2,
                        help="worker processes of the local cluster, and --jobs of the local pool (default: 2)")
    parser.add_argument("--rounds", type=int, default=1,
                        help="time both this many times, alternating which goes first, to even out "
                             "a machine whose load drifts (default: 1)")
    parser.add_argument("--scheduler", default=None,
                        help="use this running cluster instead of starting one (then set --workers "
                             "to its worker threads, for the local pool)")
    args = parser.parse_args()
    names = assignments()
    assignment = args.assignment or names[0]
    if assignment not in names:
        sys.exit(f"no assignment {assignment!r}; there are: {', '.join(names)}")

    with tempfile.TemporaryDirectory(prefix="bench-cluster-") as scratch:
        root = Path(scratch)
        submitted = build_course(root / "course", assignment, args.students)
        count = sum(1 for _ in submitted.glob(f"*/{assignment}/*.ipynb"))
        cluster = None if args.scheduler else start_cluster(root / "dask", workers=args.workers)
        address = args.scheduler or cluster.address
        try:
            base = [sys.executable, "-m", "autograder", "grade", assignment, "--submissions",
                    str(submitted), "--source", str(root / "course" / "solutions"), "--quiet"]
            commands = {"local": [*base, "--out", str(root / "local"), "--jobs", str(args.workers)],
                        "cluster": [*base, "--out", str(root / "cluster"), "--scheduler", address]}
            times: dict[str, list[float]] = {"local": [], "cluster": []}
            loads = [os.getloadavg()[0]]
            for round_ in range(args.rounds):
                for name in (("local", "cluster") if round_ % 2 == 0 else ("cluster", "local")):
                    times[name].append(grade(commands[name]))
                    loads.append(os.getloadavg()[0])
        finally:
            if cluster is not None:
                cluster.stop()
        same = (root / "local" / "grades.csv").read_text() == (root / "cluster" / "grades.csv").read_text()

    local, remote = (statistics.median(times[name]) for name in ("local", "cluster"))
    if args.rounds > 1:
        print("rounds (s):  local " + " ".join(f"{t:.1f}" for t in times["local"])
              + "  |  cluster " + " ".join(f"{t:.1f}" for t in times["cluster"]) + "  (medians below)")
    where = f"the cluster at {address}" if args.scheduler else f"a local cluster of {args.workers} worker processes"
    print(f"{count} submissions of {assignment} on {os.cpu_count()} cores; {where}")
    print(f"local pool (--jobs {args.workers}):     {local:7.1f} s  ({local / count:.2f} s per submission)")
    print(f"Dask cluster (--scheduler): {remote:7.1f} s  ({remote / count:.2f} s per submission)")
    print(f"overhead per submission:    {(remote - local) / count:+7.2f} s  "
          f"(cluster / local: {remote / local:.2f}x; goal: at most 1.15x)")
    print(f"grades.csv identical: {'yes' if same else 'NO'}")
    print("1-minute load average before and after each run: " + " / ".join(f"{x:.1f}" for x in loads)
          + " (other work on the machine skews both times)")


if __name__ == "__main__":
    main()
