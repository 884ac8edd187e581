"""``python -m autograder lab``: JupyterLab with nbgrader's formgrader set up for this course
and the autograder's grades, so a TA can read submissions and grade written answers.

``grade`` and ``demo`` record, in ``OUT/course.json``, which course and submissions they graded,
and remember OUT as the last output (the file :func:`last_output_file` names). ``lab`` starts
JupyterLab (token authentication, no browser) with its root at the folder holding both the
course and OUT, so every formgrader link opens, and with every nbgrader part of the server
reading ``autograder/nbgrader_config.py`` (put on ``JUPYTER_CONFIG_PATH``) pointed at OUT
(``BACKPROP_LAB_GRADES``): OUT's gradebook, graded notebooks, feedback, the graded submissions
and a course-local exchange (``OUT/exchange``; fetched assignments go to ``OUT/assignments``). When
JupyterLab stops, ``grades.csv`` and the report are rebuilt so they show what the TA graded.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from . import PACKAGE_DIR, REPO_ROOT

COURSE_FILE = "course.json"
LAST_OUTPUT_ENV = "BACKPROP_LAB_LAST_OUTPUT"     # where the last output is remembered (tests)


class LabError(RuntimeError):
    """The lab cannot start (no graded output, or an OUT that is not one); says why."""


def last_output_file() -> Path:
    """The small file that remembers the last ``grade``/``demo`` output folder."""
    return Path(os.environ.get(LAST_OUTPUT_ENV) or REPO_ROOT / ".backprop-lab-last-output")


def record_output(out_dir: Path, course_root: Path, submissions: Path) -> None:
    """Remember that ``out_dir`` holds grades of ``course_root``'s assignments graded from
    ``submissions`` (``OUT/course.json``) and that it is the last output."""
    out_dir = out_dir.resolve()
    (out_dir / COURSE_FILE).write_text(json.dumps({
        "course_root": str(course_root.resolve()), "submissions": str(submissions.resolve())},
        indent=1) + "\n", encoding="utf-8")
    try:
        last_output_file().write_text(str(out_dir) + "\n", encoding="utf-8")
    except OSError:  # a read-only checkout: `lab --grades OUT` still works
        pass


def find_output(grades: Path | None) -> Path:
    """``grades``, or the last recorded output; checked to hold a gradebook."""
    if grades is None:
        marker = last_output_file()
        if not marker.is_file():
            raise LabError("no graded output yet: run `python -m autograder demo` or `grade`, "
                           "or name one with --grades OUT")
        grades = Path(marker.read_text(encoding="utf-8").strip())
    grades = grades.resolve()
    if not (grades / "gradebook.db").is_file():
        raise LabError(f"{grades} holds no gradebook.db: name the output folder of "
                       "`python -m autograder grade` or `demo` with --grades OUT")
    return grades


def course_of(out_dir: Path) -> tuple[Path, Path]:
    """(course root, submissions folder) that ``out_dir`` was graded from (this repository and
    ``OUT/submissions`` when ``OUT/course.json`` is missing)."""
    path = out_dir / COURSE_FILE
    if path.is_file():
        data = json.loads(path.read_text(encoding="utf-8"))
        return Path(data["course_root"]), Path(data["submissions"])
    return REPO_ROOT, out_dir / "submissions"


def lab_command(out_dir: Path, port: int, allow_root: bool = False) -> tuple[list[str], dict[str, str], Path]:
    """(argv, environment, server root) of the JupyterLab server for ``out_dir``."""
    course_root, submissions = course_of(out_dir)
    root = Path(os.path.commonpath([course_root, out_dir]))
    for folder in ("exchange", "assignments"):       # nbgrader wants the exchange to exist
        (out_dir / folder).mkdir(exist_ok=True)
    env = dict(os.environ, BACKPROP_LAB_COURSE_ROOT=str(course_root), BACKPROP_LAB_GRADES=str(out_dir),
               BACKPROP_LAB_SUBMISSIONS=str(submissions))
    # Every nbgrader part of the server (formgrader, Assignment List, from whatever folder it
    # loads its settings) finds autograder/nbgrader_config.py on Jupyter's config path.
    env["JUPYTER_CONFIG_PATH"] = os.pathsep.join(filter(None, [str(PACKAGE_DIR),
                                                               os.environ.get("JUPYTER_CONFIG_PATH")]))
    # nbgrader shells out to `alembic`, which lives next to this interpreter
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    argv = [sys.executable, "-m", "jupyter", "lab", "--no-browser", f"--port={port}",
            "--ServerApp.port_retries=0", f"--ServerApp.root_dir={root}"]
    if allow_root:
        argv.append("--allow-root")
    return argv, env, root


def run_lab(grades: Path | None, port: int, allow_root: bool = False) -> int:
    """Run JupyterLab for ``grades`` (default: the last output) until it stops; then rebuild
    ``grades.csv`` and the report with the TA's grades. Returns JupyterLab's exit code."""
    from .gradebook import write_grade_files
    from .outdir import OutBusy, locked
    from .report import write_report

    out_dir = find_output(grades)
    argv, env, root = lab_command(out_dir, port, allow_root)
    course_root, _ = course_of(out_dir)
    print(f"Formgrader for the grades in {out_dir} (course {course_root}); server root {root}.\n"
          "Open the URL with the token that JupyterLab prints, then Nbgrader > Formgrader. "
          "Stop with Ctrl-C; grades.csv is then rebuilt with the grades given here.", flush=True)
    server = subprocess.Popen(argv, env=env, cwd=root)
    while True:
        try:
            code = server.wait()
            break
        except KeyboardInterrupt:   # JupyterLab got it too: it asks, or stops on the second
            continue
    try:
        with locked(out_dir):
            write_grade_files(out_dir)
            write_report(out_dir)
    except OutBusy as err:
        print(f"grades.csv not rebuilt: {err}; the grades given are in {out_dir / 'gradebook.db'} "
              "and the next `grade` into it keeps them", file=sys.stderr)
        return code or 1
    print(f"grades: {out_dir / 'grades.csv'} (with the grades given in formgrader)")
    return code
