"""Command line: ``python -m autograder <command>`` (also installed as ``backprop-lab``)."""

from __future__ import annotations

import argparse
import sys

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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m autograder", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("release", help="regenerate notebooks/ from solutions/ with nbgrader")
    p.add_argument("--check", action="store_true",
                   help="only report whether notebooks/ is up to date (exit 1 if not)")
    p.set_defaults(func=_cmd_release)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
