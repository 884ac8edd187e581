"""Run course notebooks in a fresh kernel and plant mistakes into their solutions.

Mistakes to plant are defined in :mod:`autograder.mistakes` (one JSON file per assignment).
Also the scaffolding every ``test_<assignment>.py`` shares: module-scoped fixture factories (the
solution, the release and the planted-mistake runs, each executed once per module), the grouping
of mistakes into rounds, and the generic checks (stubs, graded tests, release, diagnoses, figures).
"""

from __future__ import annotations

import ast
import copy
import os
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from autograder import NOTEBOOKS_DIR, SOLUTIONS_DIR
from autograder.mistakes import Mistake, cell_by_grade_id, load_mistakes, plant  # noqa: F401
from utils.testing import SEED_VARIABLE

def solution_path(assignment: str) -> Path:
    (path,) = sorted((SOLUTIONS_DIR / assignment).glob("*.ipynb"))
    return path


def release_path(assignment: str) -> Path:
    (path,) = sorted((NOTEBOOKS_DIR / assignment).glob("*.ipynb"))
    return path


def execute(nb: nbformat.NotebookNode, cwd: Path, timeout: int = 120) -> nbformat.NotebookNode:
    """Execute a copy of ``nb`` top to bottom in a fresh kernel, keeping going after errors."""
    ran = copy.deepcopy(nb)
    NotebookClient(ran, timeout=timeout, kernel_name="python3", allow_errors=True,
                   resources={"metadata": {"path": str(cwd)}}).execute()
    return ran


def error_text(cell: nbformat.NotebookNode) -> str:
    """The error name, value and traceback of a code cell's outputs ('' when it ran cleanly)."""
    parts = []
    for out in cell.get("outputs", []):
        if out.output_type == "error":
            parts.append(f"{out.ename}: {out.evalue}\n" + "\n".join(out.traceback))
    return "\n".join(parts)


def output_text(cell: nbformat.NotebookNode) -> str:
    """Everything a code cell printed or displayed as text, errors included."""
    parts = []
    for out in cell.get("outputs", []):
        if out.output_type == "stream":
            parts.append(out.text)
        elif out.output_type in ("execute_result", "display_data"):
            parts.append(out.get("data", {}).get("text/plain", ""))
    return "\n".join(parts) + error_text(cell)


def errored_cells(nb: nbformat.NotebookNode) -> list[tuple[int, str, str]]:
    """(index, grade_id or '', first error line) of every cell that raised."""
    found = []
    for index, cell in enumerate(nb.cells):
        text = error_text(cell) if cell.cell_type == "code" else ""
        if text:
            grade_id = cell.metadata.get("nbgrader", {}).get("grade_id", "")
            found.append((index, grade_id, text.splitlines()[0]))
    return found


def figures(nb: nbformat.NotebookNode) -> list[bytes]:
    """Decoded PNG images the notebook displayed."""
    import base64

    return [base64.b64decode(out["data"]["image/png"])
            for cell in nb.cells if cell.cell_type == "code"
            for out in cell.get("outputs", []) if "image/png" in out.get("data", {})]


# ---------------------------------------------------------------- shared by the notebook tests
#
# Each ``tests/notebooks/test_<assignment>.py`` keeps only what is specific to its notebook (the
# exercise table, worked numbers, special checks); the scaffolding below is what they share.

DIAGNOSES = frozenset({"ok", "shape", "nonfinite", "zero", "sign", "scale", "transposed", "swapped",
                       "partial", "wrong"})
"""Every diagnosis ``utils.gradcheck`` can give."""
PLANTED_SEED = "424242"
"""The grading seed planted runs use, so untouched hidden tests meet inputs the solution run did not."""


def meta(cell: nbformat.NotebookNode) -> dict:
    """The cell's nbgrader metadata ({} for an ordinary cell)."""
    return cell.metadata.get("nbgrader", {})


def cells_with(nb: nbformat.NotebookNode, key: str) -> list[nbformat.NotebookNode]:
    """The cells whose nbgrader metadata sets ``key``: "solution" for answers, "grade" for tests."""
    return [c for c in nb.cells if meta(c).get(key)]


def printed(cell: nbformat.NotebookNode) -> str:
    """What a cell printed to stdout, joined without separators (a busy kernel may split a line
    across several stream messages, which would break :func:`output_text`'s newline-joined text)."""
    return "".join(out.text for out in cell.get("outputs", [])
                   if out.output_type == "stream" and out.name == "stdout")


def without_cells(nb: nbformat.NotebookNode, grade_ids: tuple[str, ...]) -> nbformat.NotebookNode:
    """A copy of ``nb`` with only its code cells, less those named in ``grade_ids`` (the demos)."""
    kept = [c for c in nb.cells if c.cell_type == "code" and meta(c).get("grade_id") not in grade_ids]
    return nbformat.v4.new_notebook(cells=kept, metadata=nb.metadata)


def rounds(mistakes: list[Mistake]) -> list[list[Mistake]]:
    """Mistakes grouped so that no run plants two into one cell or checks one test twice."""
    groups: list[list[Mistake]] = []
    for mistake in mistakes:
        for group in groups:
            if all(m.cell != mistake.cell and m.test != mistake.test for m in group):
                group.append(mistake)
                break
        else:
            groups.append([mistake])
    return groups


@contextmanager
def grading_seed(seed: str) -> Iterator[None]:
    """Set the grading seed (``utils.testing.SEED_VARIABLE``) for the duration, then restore it."""
    previous = os.environ.get(SEED_VARIABLE)
    os.environ[SEED_VARIABLE] = seed
    try:
        yield
    finally:
        if previous is None:
            del os.environ[SEED_VARIABLE]
        else:
            os.environ[SEED_VARIABLE] = previous


def run_planted_notebooks(source: nbformat.NotebookNode, cwd: Path, mistakes: list[Mistake], *,
                          skip: tuple[str, ...] = (), seed: str = PLANTED_SEED
                          ) -> dict[str, nbformat.NotebookNode]:
    """Mistake name -> the whole executed notebook it was planted in (one kernel per round).

    Several mistakes share a run (each visible test calls only its own exercise), the ``skip``
    cells (demos) are left out since tests must not need them, and the grading seed is ``seed``, so
    the untouched exercises' hidden tests also meet fresh inputs.
    """
    runs = {}
    with grading_seed(seed):
        for group in rounds(mistakes):
            nb = without_cells(source, skip)
            for mistake in group:
                nb = plant(nb, mistake)
            ran = execute(nb, cwd)
            runs.update({mistake.name: ran for mistake in group})
    return runs


def run_planted_tests(source: nbformat.NotebookNode, cwd: Path, mistakes: list[Mistake], *,
                      keep: tuple[str, ...] = ("setup", "seed"), strip_hidden: bool = False
                      ) -> dict[str, nbformat.NotebookNode]:
    """Mistake name -> its visible test cell, executed after the mistake was planted.

    One kernel runs everything: the ``keep`` cells (setup, seed, helpers) once, then per round all
    (planted) answer cells and the test cells of that round's mistakes. Test cells are
    self-contained by convention, so the demo cells are left out; each round redefines every
    exercise, so no mistake leaks into another round. With ``strip_hidden`` the hidden part of each
    test is removed: the visible test alone must catch the mistake.
    """
    cells = [copy.deepcopy(c) for c in source.cells if meta(c).get("grade_id") in keep]
    where: dict[str, int] = {}
    for group in rounds(mistakes):
        nb = source
        for mistake in group:
            nb = plant(nb, mistake)
        cells += [copy.deepcopy(c) for c in cells_with(nb, "solution")]
        for mistake in group:
            where[mistake.name] = len(cells)
            test_cell = copy.deepcopy(cell_by_grade_id(nb, mistake.test))
            if strip_hidden:
                test_cell.source = re.sub(r"### BEGIN HIDDEN TESTS.*?### END HIDDEN TESTS", "",
                                          test_cell.source, flags=re.S)
            cells.append(test_cell)
    for index, cell in enumerate(cells):
        cell["id"] = f"planted-{index}"
    combined = nbformat.v4.new_notebook(cells=cells, metadata=copy.deepcopy(source.metadata))
    ran = execute(combined, cwd)
    return {name: ran.cells[index] for name, index in where.items()}


# ---------------------------------------------------------------- module-scoped fixture factories
#
# Each executes its notebook variant once per test module:  ``source = source_fixture(ASSIGNMENT)``.

def source_fixture(assignment: str) -> Callable[[], nbformat.NotebookNode]:
    """A ``source`` fixture: the assignment's solution notebook, as read from disk."""
    @pytest.fixture(scope="module", name="source")
    def source() -> nbformat.NotebookNode:
        return nbformat.read(solution_path(assignment), as_version=4)
    return source


def executed_solution_fixture(assignment: str) -> Callable[..., tuple[nbformat.NotebookNode, float]]:
    """An ``executed_solution`` fixture: (the solution run in a fresh kernel, seconds it took)."""
    @pytest.fixture(scope="module", name="executed_solution")
    def executed_solution(source: nbformat.NotebookNode) -> tuple[nbformat.NotebookNode, float]:
        start = time.perf_counter()
        ran = execute(source, solution_path(assignment).parent)
        return ran, time.perf_counter() - start
    return executed_solution


def executed_release_fixture(assignment: str) -> Callable[[], nbformat.NotebookNode]:
    """An ``executed_release`` fixture: the released (student) notebook run in a fresh kernel."""
    @pytest.fixture(scope="module", name="executed_release")
    def executed_release() -> nbformat.NotebookNode:
        path = release_path(assignment)
        return execute(nbformat.read(path, as_version=4), path.parent)
    return executed_release


def planted_notebooks_fixture(assignment: str, mistakes: list[Mistake], *, skip: tuple[str, ...] = (),
                              seed: str = PLANTED_SEED
                              ) -> Callable[..., dict[str, nbformat.NotebookNode]]:
    """A ``planted_runs`` fixture: mistake name -> whole executed notebook (:func:`run_planted_notebooks`)."""
    @pytest.fixture(scope="module", name="planted_runs")
    def planted_runs(source: nbformat.NotebookNode) -> dict[str, nbformat.NotebookNode]:
        return run_planted_notebooks(source, solution_path(assignment).parent, mistakes, skip=skip, seed=seed)
    return planted_runs


def planted_tests_fixture(assignment: str, mistakes: list[Mistake], *, keep: tuple[str, ...] = ("setup", "seed"),
                          strip_hidden: bool = False) -> Callable[..., dict[str, nbformat.NotebookNode]]:
    """A ``planted_runs`` fixture: mistake name -> its executed test cell (:func:`run_planted_tests`)."""
    @pytest.fixture(scope="module", name="planted_runs")
    def planted_runs(source: nbformat.NotebookNode) -> dict[str, nbformat.NotebookNode]:
        return run_planted_tests(source, solution_path(assignment).parent, mistakes, keep=keep,
                                 strip_hidden=strip_hidden)
    return planted_runs


# ---------------------------------------------------------------- generic checks (assert, or return)

def answer_stubs(cell: nbformat.NotebookNode) -> dict[str, str]:
    """Function name -> exercise number, for an answer cell that holds only documented top-level
    defs, each ending in ``raise NotImplementedError("Exercise <number>: <its name>")``."""
    grade_id = meta(cell).get("grade_id", "")
    assert not re.findall(r"^(?!def |\s|$)", cell.source, re.M), f"{grade_id}: only top-level defs"
    tree = ast.parse(cell.source)
    assert all(isinstance(node, ast.FunctionDef) for node in tree.body), grade_id
    found: dict[str, str] = {}
    for node in tree.body:
        assert ast.get_docstring(node), f"{node.name} has no docstring"
        stub = node.body[-1]
        assert isinstance(stub, ast.Raise), f"{node.name} does not end in its stub"
        message = ast.literal_eval(stub.exc.args[0])
        number, name = re.fullmatch(r"Exercise (\d+\.\d+): (\w+)", message).groups()
        assert name == node.name
        assert f'raise NotImplementedError("{message}")' in cell.source, node.name
        found[node.name] = number
    return found


def assert_mistakes_plant(source: nbformat.NotebookNode, mistakes: list[Mistake]) -> None:
    """Does every mistake name real cells, with a test that is graded and a known diagnosis, and
    plant (its ``find`` text occurring exactly once in its cell)?"""
    grade_ids = {meta(c)["grade_id"] for c in cells_with(source, "grade")}
    answer_ids = {meta(c)["grade_id"] for c in cells_with(source, "solution")}
    for mistake in mistakes:
        assert mistake.cell in answer_ids and mistake.test in grade_ids, mistake.name
        assert mistake.diagnosis in DIAGNOSES - {"ok"}, mistake.name
        assert cell_by_grade_id(source, mistake.cell).source.count(mistake.find) == 1, mistake.name
        plant(source, mistake)  # raises unless `find` occurs exactly once


def assert_release_drops_solutions(released: nbformat.NotebookNode, stubs: dict[str, dict[str, str]]) -> None:
    """Does the released notebook keep every stub (answer cell -> {function: exercise number}),
    one "# YOUR CODE HERE" per function, but no solution, hidden test or output?"""
    text = "\n".join(c.source for c in released.cells)
    assert "BEGIN SOLUTION" not in text and "BEGIN HIDDEN TESTS" not in text and "fresh_rng" not in text
    for grade_id, names in stubs.items():
        cell = cell_by_grade_id(released, grade_id)
        assert cell.source.count("# YOUR CODE HERE") == len(names), grade_id
        for name, number in names.items():
            assert f'raise NotImplementedError("Exercise {number}: {name}")' in cell.source
    assert all(not c.get("outputs") for c in released.cells if c.cell_type == "code")


def assert_no_leaks(assignment: str) -> None:
    """Does no line of the assignment's solutions or hidden tests appear in a release or in utils/?"""
    from autograder import REPO_ROOT
    from autograder.release import find_leaks

    shipped = sorted(NOTEBOOKS_DIR.rglob("*.ipynb")) + sorted((REPO_ROOT / "utils").rglob("*.py"))
    assert shipped
    assert find_leaks(solution_path(assignment).parent, shipped) == []


def assert_runs_cleanly(executed: tuple[nbformat.NotebookNode, float], seconds_allowed: float) -> None:
    """Did the executed notebook raise nowhere, within ``seconds_allowed`` (kernel start included)?"""
    ran, seconds = executed
    assert errored_cells(ran) == []
    assert seconds < seconds_allowed, f"the solution took {seconds:.1f} s"


def assert_release_fails_only_at_stubs(ran: nbformat.NotebookNode, numbers: set[str]) -> set[str]:
    """Does every error of the executed release come from a stub of one of the exercise
    ``numbers`` ("NotImplementedError: Exercise 1.2: name")? Returns the grade_ids that failed."""
    failures = errored_cells(ran)
    assert failures, "the release ran without errors: are the stubs missing?"
    for index, grade_id, first_line in failures:
        found = re.match(r"NotImplementedError: Exercise (\d+\.\d+): \w+", first_line)
        assert found and found.group(1) in numbers, (index, grade_id, first_line)
    return {grade_id for _, grade_id, _ in failures}


def assert_diagnosed(error: str, mistake: Mistake) -> None:
    """Is ``error`` (a test cell's error text) an AssertionError opening with the mistake's [diagnosis]?"""
    assert error, f"{mistake.test} passed although {mistake.name!r} was planted"
    first_line = error.splitlines()[0]
    assert error.startswith("AssertionError"), f"{mistake.name}: {error[:300]}"
    assert f"[{mistake.diagnosis}]" in first_line, f"{mistake.name}: {error[-800:]}"


def assert_picture(png: bytes, *, min_height: int = 100, min_width: int = 100, label: str = "") -> None:
    """Is the PNG at least ``min_height`` x ``min_width`` pixels and not blank (colour std > 0.05)?"""
    import io

    import matplotlib.image as mpimg

    image = mpimg.imread(io.BytesIO(png), format="png")
    assert image.shape[0] > min_height and image.shape[1] > min_width, (label, image.shape)
    assert image.std() > 0.05 and image[..., :3].std() > 0.05, f"{label}: the figure looks blank"


def cell_figures(nb: nbformat.NotebookNode, grade_id: str) -> list[bytes]:
    """The PNG images one cell displayed."""
    return figures(nbformat.v4.new_notebook(cells=[cell_by_grade_id(nb, grade_id)]))


def assert_graded_tests(source: nbformat.NotebookNode, points: dict[str, int], total: int) -> None:
    """Is there exactly one graded test per entry of ``points`` (test -> points), each opening with a
    one-line question docstring, seeding a literal generator and printing its check in the visible
    part (or its checker's table, with the notebook's ``report``), and drawing fresh hidden inputs;
    do the points add up to ``total``?"""
    tests = {meta(c)["grade_id"]: c for c in cells_with(source, "grade")}
    assert set(tests) == set(points)
    for test_id, test_points in points.items():
        cell = tests[test_id]
        assert meta(cell)["points"] == test_points
        assert re.match(r'"""[^\n]+\?"""\n', cell.source), f"{test_id}: one-line question docstring"
        visible, hidden = cell.source.split("### BEGIN HIDDEN TESTS")
        assert re.search(r"rng = np\.random\.default_rng\(\d+\)", visible)
        assert ("print(" in visible and "assert_" in visible) or "report(" in visible  # report: table, then raise
        assert f'fresh_rng("{test_id}")' in hidden and "hidden=True" in hidden
    assert sum(meta(c)["points"] for c in tests.values()) == total


def assert_demo_cells(source: nbformat.NotebookNode, demo_cells: tuple[str, ...]) -> None:
    """Is each of ``demo_cells`` (which planted runs skip) an ungraded, non-answer code cell?"""
    cells = {meta(c).get("grade_id"): c for c in source.cells}
    for grade_id in demo_cells:
        cell = cells[grade_id]
        assert cell.cell_type == "code" and not meta(cell)["grade"] and not meta(cell)["solution"]


def assert_untouched_tests_pass(planted_runs: dict[str, nbformat.NotebookNode], mistakes: list[Mistake],
                                test_ids: list[str]) -> None:
    """In each planted run (:func:`run_planted_notebooks`), does every test whose exercise carries no
    mistake pass, hidden part included ("ok: hidden tests passed")?"""
    for ran in {id(r): r for r in planted_runs.values()}.values():
        planted_tests = {m.test for m in mistakes if planted_runs[m.name] is ran}
        for test_id in test_ids:
            if test_id not in planted_tests:
                assert not error_text(cell_by_grade_id(ran, test_id)), test_id
                assert "ok: hidden tests passed" in printed(cell_by_grade_id(ran, test_id))


def exec_cells(cells: list[nbformat.NotebookNode]) -> dict:
    """The namespace left by executing ``cells`` (each compiled under its grade_id) outside a kernel,
    with ``np`` imported: the solution's functions, for fast checks against references."""
    import numpy as np

    namespace: dict = {"np": np}
    for cell in cells:
        exec(compile(cell.source, meta(cell).get("grade_id", "cell"), "exec"), namespace)  # noqa: S102
    return namespace


def assert_written_questions(assignment: str, source: nbformat.NotebookNode,
                             written: dict[str, int]) -> None:
    """The written questions are exactly ``written`` (grade_id -> points): nbgrader manually graded
    markdown answers (schema 3, unlocked) holding a model answer for the TA, released as
    'YOUR ANSWER HERE', and the autograded tests keep at least 80% of the points."""
    graded = cells_with(source, "grade")
    found = {meta(c)["grade_id"]: c for c in graded if c.cell_type == "markdown"}
    assert {grade_id: meta(c)["points"] for grade_id, c in found.items()} == written
    released = nbformat.read(release_path(assignment), as_version=4)
    for grade_id, cell in found.items():
        m = meta(cell)
        assert m["solution"] and not m["locked"] and m["schema_version"] == 3, grade_id
        assert cell.source.startswith("*Model answer.*"), grade_id
        assert cell_by_grade_id(released, grade_id).source.strip() == "YOUR ANSWER HERE", grade_id
    auto = sum(meta(c)["points"] for c in graded if c.cell_type == "code")
    assert auto / (auto + sum(written.values())) >= 0.8
