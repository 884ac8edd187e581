"""grade_submission end to end on a small course: correct, empty and idempotent gradings,
the result contract, the graded notebook, and the solution notebooks of the real course."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import nbformat
import pytest

from autograder import SOLUTIONS_DIR, authoring
from autograder.engine.results import FAILED, NEEDS_MANUAL, OK, PASSED, QuestionResult, SubmissionResult
from autograder.engine.sandbox import bwrap_available
from autograder.engine.submission import grade_submission

pytestmark = pytest.mark.slow

SETUP = '''import numpy as np

from utils.gradcheck import assert_close


def check_close(actual, expected, name):
    """Test helper: fail with a diagnosis when actual is not expected."""
    if not np.allclose(actual, expected):
        raise AssertionError(f"[wrong] {name}: got {actual}")
    print(f"{name}: ok")'''

RELU = '''def relu(x):
    """max(x, 0) element by element; x: array of any shape -> same shape."""
    ### BEGIN SOLUTION
    return np.maximum(x, 0.0)
    ### END SOLUTION
    raise NotImplementedError("Exercise 0.1: relu")'''

TEST_RELU = '''"""Is relu right on a small vector?"""
out = relu(np.array([-1.0, 2.0]))
check_close(out, [0.0, 2.0], "relu")
### BEGIN HIDDEN TESTS
from utils.testing import fresh_rng
rng = fresh_rng("test_relu")
big = rng.normal(size=7)
print("HIDDEN-OUTPUT", big)
assert np.allclose(relu(big), np.where(big > 0, big, 0))
### END HIDDEN TESTS'''

RELU_GRAD = '''def relu_grad(x, dout):
    """Upstream gradient through relu; x, dout: same shape -> same shape."""
    ### BEGIN SOLUTION
    return dout * (x > 0)
    ### END SOLUTION
    raise NotImplementedError("Exercise 0.2: relu_grad")'''

TEST_RELU_GRAD = '''"""Does relu_grad pass the gradient only where x > 0?"""
x = np.array([-2.0, -0.5, 0.5, 3.0])
dout = np.array([1.0, 2.0, 3.0, 4.0])
print(assert_close(relu_grad(x, dout), np.array([0.0, 0.0, 3.0, 4.0]), name="dx"))
### BEGIN HIDDEN TESTS
from utils.testing import fresh_rng
rng = fresh_rng("test_relu_grad")
x, dout = rng.normal(size=(2, 5, 3))
assert_close(relu_grad(x, dout), dout * (x > 0), name="dx", hidden=True)
### END HIDDEN TESTS'''

NOISY = '''def noisy_init(rng, n):
    """n standard normal weights drawn from rng; returns shape (n,)."""
    ### BEGIN SOLUTION
    return rng.normal(size=n)
    ### END SOLUTION
    raise NotImplementedError("Exercise 0.3: noisy_init")'''

TEST_NOISY = '''"""Does noisy_init draw from the generator it is given (and advance it)?"""
rng = np.random.default_rng(5)
weights = noisy_init(rng, 3)
after = rng.normal()
reference = np.random.default_rng(5)
assert np.allclose(weights, reference.normal(size=3)), "[wrong] weights: not drawn from rng"
assert after == reference.normal(), "[wrong] rng: the generator did not advance"
print("noisy_init: ok")'''

APPLY = '''def apply_twice(f, x):
    """f(f(x)) for a function f of one argument."""
    ### BEGIN SOLUTION
    return f(f(x))
    ### END SOLUTION
    raise NotImplementedError("Exercise 0.4: apply_twice")'''

TEST_APPLY = '''"""Does apply_twice call f twice?"""


def increment(value):
    return value + 1


assert apply_twice(increment, 1.0) == 3.0, "[wrong] apply_twice: expected 3.0"
print("apply_twice: ok")'''

POINTS = {"test_relu": 2.0, "test_relu_grad": 3.0, "test_noisy_init": 1.0, "test_apply_twice": 1.0}
SANDBOXES = ["bwrap", "rlimit"] if bwrap_available() else ["rlimit"]


def course_notebook() -> nbformat.NotebookNode:
    """The instructor source of the engine's test course: four small exercises."""
    return authoring.notebook([
        authoring.markdown("# Engine test course", "intro"),
        authoring.code(SETUP, "imports"),
        authoring.answer(RELU, "relu"),
        authoring.test(TEST_RELU, "test_relu", points=2),
        authoring.markdown("Now its gradient."),
        authoring.answer(RELU_GRAD, "relu_grad"),
        authoring.test(TEST_RELU_GRAD, "test_relu_grad", points=3),
        authoring.answer(NOISY, "noisy_init"),
        authoring.test(TEST_NOISY, "test_noisy_init", points=1),
        authoring.answer(APPLY, "apply_twice"),
        authoring.test(TEST_APPLY, "test_apply_twice", points=1),
    ])


@pytest.fixture(scope="session")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The course source notebook, written once per session."""
    return authoring.write(course_notebook(), tmp_path_factory.mktemp("course") / "engine.ipynb")


def solution_json(source: Path) -> dict:
    return json.loads(source.read_text())


def cell(nb: dict, grade_id: str) -> dict:
    return next(c for c in nb["cells"] if c["metadata"].get("nbgrader", {}).get("grade_id") == grade_id)


def set_answer(nb: dict, grade_id: str, code: str) -> dict:
    nb = copy.deepcopy(nb)
    cell(nb, grade_id)["source"] = code
    return nb


def write_submission(tmp_path: Path, nb: dict | str, name: str = "submission.ipynb") -> Path:
    path = tmp_path / "submitted" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(nb if isinstance(nb, str) else json.dumps(nb))
    return path


def grade(source: Path, tmp_path: Path, nb: dict | str, **options) -> SubmissionResult:
    """Grade ``nb`` (a notebook dict or raw text) as student ``alice``."""
    options.setdefault("seed", 7)
    options.setdefault("timeout", 10.0)
    return grade_submission(source, write_submission(tmp_path, nb), student_id="alice",
                            assignment="00_engine", workdir=tmp_path / "work", **options)


def by_id(result: SubmissionResult) -> dict[str, QuestionResult]:
    return {q.grade_id: q for q in result.questions}


@pytest.mark.parametrize("sandbox", SANDBOXES)
def test_solution_gets_full_marks(source: Path, tmp_path: Path, sandbox: str) -> None:
    """Does the instructor's own notebook, submitted as is, get every point?"""
    result = grade(source, tmp_path, solution_json(source), sandbox=sandbox)
    assert result.status == OK, result.reason if sandbox == "bwrap" else result
    assert result.score == result.max_score == sum(POINTS.values())
    assert [q.grade_id for q in result.questions] == list(POINTS)
    assert all(q.status == PASSED and q.points == POINTS[q.grade_id] for q in result.questions)
    assert (result.student_id, result.assignment, result.notebook) == ("alice", "00_engine", "engine")
    assert result.seconds > 0


def test_released_notebook_gets_nothing_and_names_the_stub(source: Path, tmp_path: Path) -> None:
    """Does an untouched student copy fail every test with its task-named NotImplementedError?"""
    nb = solution_json(source)
    for grade_id in ("relu", "relu_grad", "noisy_init", "apply_twice"):
        text = "".join(cell(nb, grade_id)["source"])
        head = text.split("### BEGIN SOLUTION")[0]
        tail = text.split("### END SOLUTION")[1]
        nb = set_answer(nb, grade_id, head + "# YOUR CODE HERE" + tail)
    result = grade(source, tmp_path, nb)
    assert result.status == OK and result.score == 0
    assert all(q.status == FAILED for q in result.questions)
    assert by_id(result)["test_relu"].message == "NotImplementedError: Exercise 0.1: relu"


def test_wrong_gradient_gets_the_checkers_diagnosis(source: Path, tmp_path: Path) -> None:
    """Does a visible failure carry utils.gradcheck's [diagnosis] word and message?"""
    nb = set_answer(solution_json(source), "relu_grad",
                    "def relu_grad(x, dout):\n    return -dout * (x > 0)")
    question = by_id(grade(source, tmp_path, nb))["test_relu_grad"]
    assert question.status == FAILED and question.points == 0
    assert question.diagnosis == "sign"
    assert question.message.startswith("[sign] dx:")


def test_regrading_is_idempotent(source: Path, tmp_path: Path) -> None:
    """Do the same submission and seed give the same result twice (apart from the time)?"""
    nb = set_answer(solution_json(source), "relu", "def relu(x):\n    return np.abs(x)")
    first = grade(source, tmp_path / "a", nb, autograded_path=tmp_path / "a.ipynb")
    second = grade(source, tmp_path / "b", nb, autograded_path=tmp_path / "b.ipynb")
    assert first.questions == second.questions
    assert (first.status, first.score, first.reason) == (second.status, second.score, second.reason)
    assert (tmp_path / "a.ipynb").read_text() == (tmp_path / "b.ipynb").read_text()


def test_graded_notebook_has_judge_outputs_and_nbgrader_metadata(source: Path, tmp_path: Path) -> None:
    """Does the autograded notebook keep the student's outputs, give each test the judge's
    output (an error when it failed), keep nbgrader metadata, and hide hidden output?"""
    nb = set_answer(solution_json(source), "relu_grad",
                    "def relu_grad(x, dout):\n    print('student says hi')\n    return dout")
    nb["cells"].insert(3, nbformat.v4.new_code_cell("print('scratch', relu(np.array([-3.0])))"))
    path = tmp_path / "autograded" / "engine.ipynb"
    result = grade(source, tmp_path, nb, autograded_path=path)
    graded = nbformat.read(path, as_version=4)
    nbformat.validate(graded)
    cells = {c.metadata.get("nbgrader", {}).get("grade_id"): c for c in graded.cells}
    assert cells["test_relu"].metadata.nbgrader.points == 2
    relu_out = "".join(o.get("text", "") for o in cells["test_relu"].outputs)
    assert "relu: ok" in relu_out and "Hidden tests passed" in relu_out
    assert "HIDDEN-OUTPUT" not in json.dumps([c.get("outputs", []) for c in graded.cells])
    grad_outputs = cells["test_relu_grad"].outputs
    assert grad_outputs[-1].output_type == "error"
    assert "student says hi" in grad_outputs[0].text
    scratch = next(c for c in graded.cells if c.source.startswith("print('scratch'"))
    assert scratch.outputs[0].text == "scratch [0.]\n"
    assert by_id(result)["test_relu_grad"].status == FAILED
    from nbgrader.utils import determine_grade
    assert determine_grade(cells["test_relu"]) == (2.0, 2.0)
    assert determine_grade(cells["test_relu_grad"]) == (0, 3.0)


def test_released_notebook_as_source_for_self_check(source: Path, tmp_path: Path) -> None:
    """With the student's own release as the source (a self-check), is a correct answer
    graded on the visible tests only, and nothing flagged?"""
    from autograder.release import release
    course = tmp_path / "course"
    (course / "solutions" / "00_engine").mkdir(parents=True)
    (course / "notebooks").mkdir()
    (course / "solutions" / "00_engine" / "engine.ipynb").write_text(source.read_text())
    release(course / "solutions", course / "notebooks")
    released = course / "notebooks" / "00_engine" / "engine.ipynb"
    nb = json.loads(released.read_text())
    answers = solution_json(source)
    for grade_id in ("relu", "relu_grad", "noisy_init", "apply_twice"):
        cell(nb, grade_id)["source"] = cell(answers, grade_id)["source"]
    result = grade(released, tmp_path, nb)
    assert result.status == OK, result.reason
    assert result.score == result.max_score


REAL = sorted(SOLUTIONS_DIR.glob("*/*.ipynb"))


@pytest.mark.parametrize("notebook", REAL, ids=[p.parent.name for p in REAL])
def test_real_solution_gets_full_marks(notebook: Path, tmp_path: Path) -> None:
    """Does each solution notebook of the course get full marks from the engine?"""
    result = grade_submission(notebook, notebook, student_id="teacher", assignment=notebook.parent.name,
                              workdir=tmp_path / "work", seed=11, timeout=60)
    assert result.status == OK, result.reason
    # every autograded point; written answers (graded by hand) stay pending
    assert result.score == result.max_score - result.pending > 0, [
        q for q in result.questions if q.status not in (PASSED, NEEDS_MANUAL)]


def _first_mistakes() -> list:
    from autograder.mistakes import load_mistakes
    found = []
    for notebook in REAL:
        mistakes = load_mistakes(notebook.parent.name)
        if mistakes:
            found.append((notebook, mistakes[0]))
    return found


@pytest.mark.parametrize("notebook, mistake", _first_mistakes(),
                         ids=[f"{n.parent.name}:{m.name}" for n, m in _first_mistakes()])
def test_planted_mistake_fails_its_test_with_its_diagnosis(notebook: Path, mistake, tmp_path: Path) -> None:
    """Does the engine fail a real notebook's planted mistake in its visible test, with the
    expected [diagnosis], and give every other question its points?"""
    from autograder.mistakes import plant
    planted = tmp_path / notebook.name
    nbformat.write(plant(nbformat.read(notebook, as_version=4), mistake), str(planted))
    result = grade_submission(notebook, planted, student_id="planted", assignment=notebook.parent.name,
                              workdir=tmp_path / "work", seed=11, timeout=60)
    question = by_id(result)[mistake.test]
    assert question.status == FAILED and question.diagnosis == mistake.diagnosis, question
    assert result.status == OK and 0 < result.score < result.max_score
