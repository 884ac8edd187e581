"""Generate the student notebooks (``notebooks/``) from the instructor sources (``solutions/``).

nbgrader does the work (``generate_assignment``: clear solutions, hidden tests and outputs,
lock and checksum grade cells); this module runs it into a scratch course so the result can be
compared with, or copied over, the committed release, and checks that no solution leaks.
"""

from __future__ import annotations

import filecmp
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from . import NBGRADER_CONFIG, NOTEBOOKS_DIR, SOLUTIONS_DIR

_BLOCKS = {
    "solution": re.compile(r"###\s*BEGIN SOLUTION(.*?)###\s*END SOLUTION", re.S),
    "hidden test": re.compile(r"###\s*BEGIN HIDDEN TESTS(.*?)###\s*END HIDDEN TESTS", re.S),
}
# Lines this short or this generic can appear in starter code by coincidence.
_MIN_LEAK_LINE = 16
_GENERIC = re.compile(r"^(return\b.{0,12}|pass|else:|try:|except.*:|\)|\]|\}|#.*)$")


class ReleaseError(RuntimeError):
    """nbgrader could not generate an assignment; the message says which and why."""


def assignments(solutions_dir: Path = SOLUTIONS_DIR) -> list[str]:
    """Names of the assignments in ``solutions_dir``: folders holding at least one notebook."""
    if not solutions_dir.is_dir():
        return []
    return sorted(
        p.name for p in solutions_dir.iterdir() if p.is_dir() and any(p.glob("*.ipynb"))
    )


def _nbgrader_env() -> dict[str, str]:
    env = dict(os.environ)
    # nbgrader shells out to `alembic`, which lives next to this interpreter.
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    return env


def generate(course_root: Path, assignment: str) -> None:
    """Run ``nbgrader generate_assignment`` for ``assignment`` (a name or ``*`` for all)
    of the course at ``course_root``."""
    env = _nbgrader_env()
    env["BACKPROP_LAB_COURSE_ROOT"] = str(course_root)
    cmd = [
        sys.executable, "-m", "nbgrader", "generate_assignment", assignment,
        "--force", "--no-db", "--log-level=WARN",
    ]
    # nbgrader reads nbgrader_config.py from its working folder; ours points it at course_root.
    proc = subprocess.run(cmd, env=env, cwd=NBGRADER_CONFIG.parent, capture_output=True, text=True)
    if proc.returncode != 0:
        raise ReleaseError(
            f"nbgrader could not release {assignment!r} from {course_root / 'solutions'} "
            f"(exit {proc.returncode}):\n"
            f"{proc.stdout}{proc.stderr}"
        )


def build_release(solutions_dir: Path = SOLUTIONS_DIR) -> tempfile.TemporaryDirectory:
    """Release every assignment into a scratch course; returns it (``.name`` is its root).

    One nbgrader process releases them all (its start-up costs seconds)."""
    scratch = tempfile.TemporaryDirectory(prefix="backprop-release-")
    root = Path(scratch.name)
    shutil.copytree(solutions_dir, root / "solutions",
                    ignore=shutil.ignore_patterns(".*", "__pycache__"))
    (root / "notebooks").mkdir()
    if assignments(solutions_dir):
        generate(root, "*")
    return scratch


def release(solutions_dir: Path = SOLUTIONS_DIR, notebooks_dir: Path = NOTEBOOKS_DIR) -> list[str]:
    """Regenerate ``notebooks_dir`` from ``solutions_dir``; returns the released assignments."""
    names = assignments(solutions_dir)
    with build_release(solutions_dir) as scratch:
        built = Path(scratch) / "notebooks"
        for name in names:
            target = notebooks_dir / name
            if target.exists():
                shutil.rmtree(target)
            shutil.copytree(built / name, target)
    for stale in (p for p in notebooks_dir.iterdir() if p.is_dir() and p.name not in names):
        shutil.rmtree(stale)
    return names


def _tree_files(root: Path) -> set[str]:
    return {
        str(p.relative_to(root)) for p in root.rglob("*")
        if p.is_file() and not p.name.startswith(".")
        and ".ipynb_checkpoints" not in p.parts and "__pycache__" not in p.parts
    }


def out_of_date(solutions_dir: Path = SOLUTIONS_DIR, notebooks_dir: Path = NOTEBOOKS_DIR) -> list[str]:
    """Files of ``notebooks_dir`` that differ from a fresh release (missing, extra or changed)."""
    with build_release(solutions_dir) as scratch:
        built = Path(scratch) / "notebooks"
        expected = _tree_files(built)
        actual = _tree_files(notebooks_dir) if notebooks_dir.is_dir() else set()
        problems = [f"missing: notebooks/{f}" for f in sorted(expected - actual)]
        problems += [f"not generated from solutions/: notebooks/{f}" for f in sorted(actual - expected)]
        for f in sorted(expected & actual):
            if not filecmp.cmp(built / f, notebooks_dir / f, shallow=False):
                problems.append(f"out of date: notebooks/{f}")
    return problems


@dataclass(frozen=True)
class Leak:
    """A line of a solution or hidden-test block that appears in a released file."""

    kind: str
    line: str
    source: str
    found_in: str


def protected_lines(notebook: Path) -> list[tuple[str, str]]:
    """(kind, line) for every distinctive line inside solution and hidden-test blocks, and of
    written answers' model answers."""
    nb = json.loads(notebook.read_text(encoding="utf-8"))
    found = []
    for cell in nb.get("cells", []):
        src = "".join(cell.get("source", []))
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if cell.get("cell_type") == "markdown" and meta.get("solution") and meta.get("grade"):
            # a written answer: the whole cell is the model answer
            found += [("written answer", line.strip()) for line in src.splitlines()
                      if len(line.strip()) >= _MIN_LEAK_LINE and not _GENERIC.match(line.strip())]
            continue
        for kind, pattern in _BLOCKS.items():
            for block in pattern.findall(src):
                for line in block.splitlines():
                    text = line.strip()
                    if len(text) >= _MIN_LEAK_LINE and not _GENERIC.match(text):
                        found.append((kind, text))
    return found


def find_leaks(solutions_dir: Path, released_files: list[Path]) -> list[Leak]:
    """Solution or hidden-test lines of any source notebook that occur in ``released_files``."""
    texts = {}
    for path in released_files:
        text = path.read_text(encoding="utf-8")
        if path.suffix == ".ipynb":
            nb = json.loads(text)
            text = "\n".join("".join(c.get("source", [])) for c in nb.get("cells", []))
        texts[path] = {line.strip() for line in text.splitlines()}
    leaks = []
    for source in sorted(solutions_dir.rglob("*.ipynb")):
        if ".ipynb_checkpoints" in source.parts:
            continue
        for kind, line in protected_lines(source):
            for path, lines in texts.items():
                if line in lines:
                    leaks.append(Leak(kind, line, str(source), str(path)))
    return leaks


def notebooks_with_outputs(root: Path) -> list[str]:
    """Committed notebooks under ``root`` that carry outputs or execution counts."""
    dirty = []
    for path in sorted(root.rglob("*.ipynb")):
        if ".ipynb_checkpoints" in path.parts:
            continue
        nb = json.loads(path.read_text(encoding="utf-8"))
        for cell in nb.get("cells", []):
            if cell.get("cell_type") == "code" and (cell.get("outputs") or cell.get("execution_count")):
                dirty.append(str(path))
                break
    return dirty
