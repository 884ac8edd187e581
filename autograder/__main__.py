"""Command line: ``python -m autograder <command>`` (also installed as ``backprop-lab``).

  release   regenerate notebooks/ from solutions/ with nbgrader
  grade     grade a class's submissions of one assignment (CSV, gradebook, feedback, report)
  check     a student's self-check: run a notebook's visible tests with the checker's diagnosis
  demo      release, build a sample class from the solutions, grade it, print the gradebook
  lab       JupyterLab with formgrader on the last grades (grade written answers by hand)
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from . import NOTEBOOKS_DIR, SOLUTIONS_DIR
from .release import ReleaseError, out_of_date, release


def _cmd_release(args: argparse.Namespace) -> int:
    if args.check:
        problems = out_of_date()
        if problems:
            print("notebooks/ is out of date with solutions/; run `python -m autograder release`:")
            print("\n".join(f"  {p}" for p in problems))
            return 1
        print("notebooks/ is up to date with solutions/.")
        return 0
    try:
        names = release()
    except ReleaseError as err:
        print(err, file=sys.stderr)
        return 1
    print(f"Released {len(names)} assignment(s) from {SOLUTIONS_DIR} to {NOTEBOOKS_DIR}:")
    for name in names:
        print(f"  {name}")
    return 0


def _cmd_grade(args: argparse.Namespace) -> int:
    from .batch import GradingError, Limits, grade_assignment, summary_table
    from .report import text_table

    started = time.perf_counter()
    try:
        results = grade_assignment(
            args.assignment, args.submissions, args.out, source_dir=args.source,
            workers=args.jobs, progress=not args.quiet, scheduler=args.scheduler, db=args.db,
            limits=Limits(timeout=args.timeout, memory_mb=args.memory, sandbox=args.sandbox))
    except GradingError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if not results:
        print(f"No submissions of {args.assignment} in {args.submissions} "
              f"(expected {args.submissions}/<student_id>/{args.assignment}/<notebook>.ipynb).")
        return 0
    from .lab import record_output

    record_output(args.out, args.source.resolve().parent, args.submissions)
    print(summary_table(results, time.perf_counter() - started))
    print()
    print(text_table(results))
    print()
    if args.db:
        from .gradebook_server import shown
        gradebook = shown(args.db)
    else:
        gradebook = args.out / "gradebook.db"
    print(f"grades:   {args.out / 'grades.csv'} (nbgrader gradebook: {gradebook})")
    print(f"feedback: {args.out / 'feedback'}/<student_id>/{args.assignment}/")
    print(f"report:   {args.out / 'report.html'}")
    return 0


def _cmd_check(args: argparse.Namespace) -> int:
    from .check import CheckError, check_notebook, format_check

    try:
        result = check_notebook(args.notebook, notebooks_dir=args.release, assignment=args.assignment,
                                timeout=args.timeout, memory_mb=args.memory, sandbox=args.sandbox)
    except CheckError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(format_check(result))
    return 0 if result.max_score and result.score == result.max_score - result.pending else 1


def _cmd_demo(args: argparse.Namespace) -> int:
    if not args.quiet:
        print("demo: loading the grader ...", file=sys.stderr, flush=True)
    from .demo import MISTAKES_PER_ASSIGNMENT, DemoError, run_demo

    try:
        outcome = run_demo(args.out, workers=args.jobs, timeout=args.timeout,
                           progress=not args.quiet, sandbox=args.sandbox,
                           max_mistakes=None if args.all_mistakes else MISTAKES_PER_ASSIGNMENT)
    except (DemoError, ReleaseError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    from .lab import record_output

    record_output(outcome.out_dir, SOLUTIONS_DIR.parent, outcome.out_dir / "submissions")
    print(outcome.text())
    return 0 if outcome.ok else 1


def _cmd_lab(args: argparse.Namespace) -> int:
    from .lab import LabError, run_lab

    try:
        return run_lab(args.grades, args.port, args.allow_root)
    except LabError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


def _positive_float(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {text}")
    return value


def _positive_int(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def _limit_options(parser: argparse.ArgumentParser, timeout: float) -> None:
    parser.add_argument("--timeout", type=_positive_float, default=timeout,
                        help="seconds one cell or test may run; the whole notebook gets ten times "
                             f"that (default: {timeout:g})")
    parser.add_argument("--memory", type=_positive_int, default=1024,
                        help="megabytes of memory the student's process may use (default: 1024)")


def _sandbox_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--sandbox", default="auto", choices=("auto", "bwrap", "rlimit"),
                        help="how student code is confined: bwrap (bubblewrap), rlimit (resource "
                             "limits only), auto (bwrap when available; default)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m autograder", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("release", help="regenerate notebooks/ from solutions/ with nbgrader")
    p.add_argument("--check", action="store_true",
                   help="only report whether notebooks/ is up to date (exit 1 if not)")
    p.set_defaults(func=_cmd_release)

    p = sub.add_parser("grade", help="grade every submission of one assignment",
                       description="Grade SUBMISSIONS/<student_id>/<ASSIGNMENT>/<notebook>.ipynb for "
                       "every student, in parallel; write OUT/grades.csv, OUT/gradebook.db, "
                       "OUT/feedback/<student_id>/<ASSIGNMENT>/ and OUT/report.html. Exits 0 when "
                       "the batch completed, even if some submissions failed (their status says why).")
    p.add_argument("assignment", help="assignment folder name, e.g. 01_gradients")
    p.add_argument("--submissions", type=Path, required=True,
                   help="folder of <student_id>/<assignment>/<notebook>.ipynb (nbgrader's layout)")
    p.add_argument("--out", type=Path, default=Path("grading-output"),
                   help="output folder (default: ./grading-output)")
    p.add_argument("--jobs", type=_positive_int, default=None,
                   help="submissions graded at once (default: one per core)")
    _limit_options(p, timeout=30.0)
    p.add_argument("--source", type=Path, default=SOLUTIONS_DIR,
                   help=f"instructor notebooks, <source>/<assignment>/*.ipynb (default: {SOLUTIONS_DIR})")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    _sandbox_option(p)
    p.add_argument("--scheduler", metavar="ADDRESS", default=None,
                   help="grade on the Dask cluster whose scheduler is at ADDRESS (tcp://HOST:PORT); "
                        "its workers need backprop-lab installed (see README, Grading at scale)")
    p.add_argument("--db", metavar="URL", default=None,
                   help="write the nbgrader gradebook to this PostgreSQL database "
                        "(postgresql+psycopg://USER:PASSWORD@HOST:PORT/DATABASE) instead of "
                        "OUT/gradebook.db")
    p.set_defaults(func=_cmd_grade)

    p = sub.add_parser("check", help="self-check a notebook against its visible tests",
                       description="Run a notebook's visible tests in a fresh kernel and print each "
                       "question's result with the checker's diagnosis. Hidden tests are not run. "
                       "Exits 0 when every visible test passes, 1 otherwise.")
    p.add_argument("notebook", type=Path, help="your notebook, e.g. notebooks/01_gradients/gradients.ipynb")
    p.add_argument("--assignment", default=None,
                   help="assignment it belongs to, e.g. 01_gradients; checks a renamed copy "
                        "(gradients-Copy1.ipynb) too (default: found by its file name)")
    p.add_argument("--release", type=Path, default=NOTEBOOKS_DIR,
                   help=f"released notebooks to check against (default: {NOTEBOOKS_DIR})")
    _limit_options(p, timeout=60.0)
    _sandbox_option(p)
    p.set_defaults(func=_cmd_check)

    p = sub.add_parser("demo", help="release, build and grade a sample class, print its gradebook",
                       description="Release the assignments, build a sample class from the solutions "
                       "(correct, planted mistakes, blank, broken and cheating submissions), grade it "
                       "and print the gradebook beside each submission's expected score.")
    p.add_argument("--out", type=Path, default=Path("demo-output"),
                   help="output folder (default: ./demo-output)")
    p.add_argument("--jobs", type=_positive_int, default=None,
                   help="submissions graded at once (default: one per core)")
    p.add_argument("--timeout", type=_positive_float, default=None,
                   help="seconds one cell or test may run (default: 30)")
    p.add_argument("--all-mistakes", action="store_true",
                   help="one student per planted mistake (default: up to 4 per assignment)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    _sandbox_option(p)
    p.set_defaults(func=_cmd_demo)

    p = sub.add_parser("lab", help="JupyterLab with formgrader on the grades (manual grading)",
                       description="Start JupyterLab (token authentication, no browser) with nbgrader's "
                       "formgrader set up for this course and the gradebook in GRADES: the assignments, "
                       "the graded submissions, and the written answers that need manual grading. "
                       "When it stops, GRADES/grades.csv and the report are rebuilt with the grades "
                       "given there.")
    p.add_argument("--grades", type=Path, default=None,
                   help="output folder of `grade` or `demo` (default: the last one)")
    p.add_argument("--port", type=_positive_int, default=8888, help="port (default: 8888)")
    p.add_argument("--allow-root", action="store_true",
                   help="let JupyterLab run as root (in a container; it refuses otherwise)")
    p.set_defaults(func=_cmd_lab)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
