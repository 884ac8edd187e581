"""Grading speed: plain serial ``nbgrader autograde`` against ``python -m autograder grade``.

Both grade the same class (the correct, blank and planted-mistake submissions of one
assignment, repeated under new student ids up to ``--students``) in one run on this machine,
each as the command an instructor would type, start-up included; then the script prints both
wall times, their ratio, and whether the two gradebooks agree.

    python bench/grading.py                       # 40 students of the first assignment
    python bench/grading.py --assignment 03_chain_rule --students 60 --jobs 2
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from autograder import NBGRADER_CONFIG, SOLUTIONS_DIR
from autograder.demo import class_samples, write_samples
from autograder.demo_cases import Anatomy
from autograder.gradebook import read_csv
from autograder.release import _nbgrader_env, assignments
from autograder.engine.sandbox import resolve


def build_course(root: Path, assignment: str, students: int) -> Path:
    """A course folder (``solutions/``, ``notebooks/``, a gradebook) and ``submitted/``."""
    shutil.copytree(SOLUTIONS_DIR / assignment, root / "solutions" / assignment)
    proc = nbgrader(root, "generate_assignment", assignment, "--force")
    if proc.returncode != 0:
        sys.exit(f"nbgrader generate_assignment failed:\n{proc.stdout}{proc.stderr}")
    samples = []
    for source in sorted((root / "solutions" / assignment).glob("*.ipynb")):
        anatomy = Anatomy.read(assignment, source, root / "notebooks" / assignment / source.name)
        samples += class_samples(anatomy, with_cases=False, source_path=source, escape_dir=root,
                                 isolated=True, max_mistakes=None)
    kinds = sorted({s.student_id for s in samples})
    renamed = []
    for index in range(students):
        kind = kinds[index % len(kinds)]
        renamed += [replace(s, student_id=f"s{index:03d}-{kind}"[:60])
                    for s in samples if s.student_id == kind]
    write_samples(renamed, root / "submitted")
    return root / "submitted"


def nbgrader(course: Path, *args: str) -> subprocess.CompletedProcess:
    env = _nbgrader_env()
    env["BACKPROP_LAB_COURSE_ROOT"] = str(course)
    return subprocess.run([sys.executable, "-m", "nbgrader", *args, "--log-level=ERROR"],
                          cwd=NBGRADER_CONFIG.parent, env=env, capture_output=True, text=True)


def nbgrader_scores(course: Path, assignment: str) -> dict[str, float]:
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}", course_id="backprop-lab") as gb:
        return {s.student.id: s.score for s in gb.assignment_submissions(assignment)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--assignment", default=None, help="default: the first assignment")
    parser.add_argument("--students", type=int, default=40, help="class size (default: 40)")
    parser.add_argument("--jobs", type=int, default=None, help="our workers (default: one per core)")
    args = parser.parse_args()
    names = assignments()
    if not names:
        sys.exit(f"no assignments in {SOLUTIONS_DIR}")
    assignment = args.assignment or names[0]
    if assignment not in names:
        sys.exit(f"no assignment {assignment!r}; there are: {', '.join(names)}")

    with tempfile.TemporaryDirectory(prefix="bench-grading-") as scratch:
        course = Path(scratch) / "course"
        submitted = build_course(course, assignment, args.students)
        count = sum(1 for _ in submitted.glob(f"*/{assignment}/*.ipynb"))
        sandbox, _ = resolve("auto")
        print(f"{count} submissions of {assignment} on {os.cpu_count()} cores; our sandbox: {sandbox}")

        loads = [os.getloadavg()[0]]
        started = time.perf_counter()
        proc = nbgrader(course, "autograde", assignment, "--create", "--force")
        plain = time.perf_counter() - started
        loads.append(os.getloadavg()[0])
        if proc.returncode != 0:
            print(f"nbgrader autograde exited {proc.returncode}:\n{proc.stderr[-2000:]}")

        out = Path(scratch) / "out"
        command = [sys.executable, "-m", "autograder", "grade", assignment, "--submissions",
                   str(submitted), "--source", str(course / "solutions"), "--out", str(out), "--quiet"]
        if args.jobs:
            command += ["--jobs", str(args.jobs)]
        started = time.perf_counter()
        ours_proc = subprocess.run(command, capture_output=True, text=True)
        ours = time.perf_counter() - started
        loads.append(os.getloadavg()[0])
        if ours_proc.returncode != 0:
            sys.exit(f"python -m autograder grade failed:\n{ours_proc.stderr[-2000:]}")

        theirs = nbgrader_scores(course, assignment)
        mine = {row["student_id"]: float(row["score"]) for row in read_csv(out / "grades.csv")}
        agree = sum(abs(theirs.get(s, -1) - score) < 1e-9 for s, score in mine.items())

    print(f"plain nbgrader autograde (serial): {plain:7.1f} s  ({plain / count:.2f} s per submission)")
    print(f"python -m autograder grade:        {ours:7.1f} s  ({ours / count:.2f} s per submission)")
    print(f"ratio (nbgrader / ours):           {plain / ours:7.2f}x")
    print(f"scores agree for {agree} of {count} submissions")
    print("1-minute load average before / between / after: " + " / ".join(f"{x:.1f}" for x in loads)
          + " (other work on the machine skews both times)")


if __name__ == "__main__":
    main()
