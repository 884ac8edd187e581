"""Notebook 4, window-based NER: does the solution run on the registry-installed data and
learn, does the release fail only at its stubs, are the lecture's windows and the gradient
rules right, and does each visible test catch its planted mistake with the right diagnosis?"""

from __future__ import annotations

import copy
import io
import re
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.image as mpimg  # noqa: E402
import nbformat  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from autograder.mistakes import Mistake, load_mistakes, plant  # noqa: E402
from tests.notebooks.harness import (  # noqa: E402
    assert_written_questions,
    cell_by_grade_id, error_text, errored_cells, execute, figures, output_text, release_path,
    solution_path,
)
from utils.gradcheck import numerical_gradient  # noqa: E402

ASSIGNMENT = "04_ner_window"
MISTAKES = load_mistakes(ASSIGNMENT)
EXERCISES = ("make_windows", "window_forward", "window_backward", "sgd_step", "softmax_forward",
             "softmax_backward")


def _meta(cell: nbformat.NotebookNode) -> dict:
    return cell.metadata.get("nbgrader", {})


def _answers(nb: nbformat.NotebookNode) -> list[nbformat.NotebookNode]:
    """The autograded answer cells (code); written answers are markdown."""
    return [c for c in nb.cells if _meta(c).get("solution") and c.cell_type == "code"]


def _tests(nb: nbformat.NotebookNode) -> list[nbformat.NotebookNode]:
    """The autograded test cells (code)."""
    return [c for c in nb.cells if _meta(c).get("grade") and c.cell_type == "code"]


def _written(nb: nbformat.NotebookNode) -> list[nbformat.NotebookNode]:
    """The manually graded written answers (markdown cells)."""
    return [c for c in nb.cells if _meta(c).get("grade") and c.cell_type == "markdown"]


@pytest.fixture(scope="module")
def source() -> nbformat.NotebookNode:
    return nbformat.read(solution_path(ASSIGNMENT), as_version=4)


@pytest.fixture(scope="module")
def solution(source: nbformat.NotebookNode) -> dict:
    """The solution's exercise functions, executed outside a kernel."""
    namespace: dict = {"np": np}
    for cell in _answers(source):
        exec(compile(cell.source, _meta(cell)["grade_id"], "exec"), namespace)  # noqa: S102
    return namespace


@pytest.fixture(scope="module")
def executed_solution(source: nbformat.NotebookNode) -> tuple[nbformat.NotebookNode, float]:
    start = time.perf_counter()
    ran = execute(source, solution_path(ASSIGNMENT).parent, timeout=300)
    return ran, time.perf_counter() - start


@pytest.fixture(scope="module")
def executed_release() -> nbformat.NotebookNode:
    path = release_path(ASSIGNMENT)
    return execute(nbformat.read(path, as_version=4), path.parent)


@pytest.fixture(scope="module")
def planted_runs(source: nbformat.NotebookNode) -> dict[str, nbformat.NotebookNode]:
    """Each mistake's name -> its visible test cell, run in one kernel after planting it.

    Setup cells, then per mistake the answer cells with it planted and its visible test. One
    mistake at a time: the backward tests differentiate the student's forward pass, so a
    forward mistake planted beside a backward one would change the backward test's verdict.
    Test cells are self-contained, so the data and training cells are left out.
    """
    cells = [copy.deepcopy(c) for c in source.cells if _meta(c).get("grade_id") in ("setup", "seed", "helpers")]
    where: dict[str, int] = {}
    for mistake in MISTAKES:
        nb = plant(source, mistake)
        cells += [copy.deepcopy(c) for c in _answers(nb)]
        where[mistake.name] = len(cells)
        cells.append(copy.deepcopy(cell_by_grade_id(nb, mistake.test)))
    for index, cell in enumerate(cells):
        cell["id"] = f"planted-{index}"
    combined = nbformat.v4.new_notebook(cells=cells, metadata=copy.deepcopy(source.metadata))
    ran = execute(combined, solution_path(ASSIGNMENT).parent)
    return {name: ran.cells[index] for name, index in where.items()}


# --------------------------------------------------------------------- structure (fast)

def test_structure_follows_the_conventions(source: nbformat.NotebookNode) -> None:
    """Does every answer end in its task-named stub and every test carry points and a docstring?"""
    answers = _answers(source)
    assert [_meta(c)["grade_id"] for c in answers] == list(EXERCISES)
    for number, cell in enumerate(answers, start=1):
        names = re.findall(r"^def (\w+)\(", cell.source, re.M)
        assert names == [_meta(cell)["grade_id"]], "one top-level def named like its cell"
        assert f'raise NotImplementedError("Exercise 4.{number}: {names[0]}")' in cell.source
        docstring = cell.source.split('"""')[1]
        assert "Args:" in docstring and "Returns:" in docstring and "shape" in docstring
    tests = _tests(source)
    assert {_meta(c)["grade_id"] for c in tests} == {f"test_{name}" for name in EXERCISES}
    for cell in tests:
        grade_id = _meta(cell)["grade_id"]
        assert _meta(cell)["points"] > 0
        assert re.match(r'"""[^\n]+\?"""\n', cell.source), f"{grade_id}: one-line docstring"
        assert "### BEGIN HIDDEN TESTS" in cell.source
        hidden = cell.source.split("### BEGIN HIDDEN TESTS")[1]
        assert f'fresh_rng("{grade_id}")' in hidden and "hidden=True" in hidden
        assert re.search(r"rng = np\.random\.default_rng\(\d+\)", cell.source.split("###")[0])
    seeds = [c for c in source.cells if c.cell_type == "code" and c.source.strip() == "rng = np.random.default_rng(0)"]
    assert len(seeds) == 1
    assert "FULL_TRAINING = False" in cell_by_grade_id(source, "flag").source
    assert all(not c.get("outputs") for c in source.cells if c.cell_type == "code")


def test_written_question_is_a_manually_graded_answer(source: nbformat.NotebookNode) -> None:
    """Is the fine-tuning question an nbgrader manually graded answer after its locked question, with
    a model answer, and do the autograded tests keep at least 80% of the points?"""
    assert_written_questions(ASSIGNMENT, source, {"written_fine_tuning": 2})
    (written,) = _written(source)
    assert "Grading:" in written.source
    question = source.cells[source.cells.index(written) - 1]
    assert _meta(question)["grade_id"] == "written_fine_tuning_question" and _meta(question)["locked"]
    assert "graded by hand" in question.source and "fine-tuned" in question.source


def test_derivations_follow_their_tests(source: nbformat.NotebookNode) -> None:
    """Are the gradients kept out of the text and docstrings before exercises 4.3 and 4.6, and
    revealed in a derivation cell right after each test?"""
    ids = [_meta(c).get("grade_id") for c in source.cells]
    for test_id, results in (("test_window_backward", [r"\Delta^T X", r"(p - y)\; u \circ (1 - h^2)"]),
                             ("test_softmax_backward", [r"\hat y_c - [c = y]", r"G^T H"])):
        before = "\n".join(c.source for c in source.cells[:ids.index(test_id)])
        derivation = source.cells[ids.index(test_id) + 1]
        assert derivation.cell_type == "markdown" and derivation.source.startswith("### Derivation")
        for result in results:
            assert result not in before, f"{result} is given before {test_id}"
            assert result in derivation.source, result
    primer = source.cells[ids.index("primer")].source
    assert "z_i^T = x_i^T W^T + b^T" in primer and "$Z = XW + b$" in primer   # one layout, notebook 5's spelling named
    forward = source.cells[ids.index("forward_text")].source
    assert "XW^T + b" in forward and "J = \\frac{1}{N}" in forward and "J_t" not in forward
    intro = source.cells[ids.index("intro")].source
    assert "Paris<sub>PER</sub> Hilton<sub>PER</sub>" in intro and "J_t(\\theta) = \\sigma(s)" in intro


def test_utils_ner_holds_no_solution_line(source: nbformat.NotebookNode) -> None:
    """Does any line of an exercise solution appear in the utils.ner package?"""
    import utils.ner as ner_package

    package = "\n".join(p.read_text() for p in Path(ner_package.__file__).parent.glob("*.py"))
    package_lines = {line.strip() for line in package.splitlines()}
    for cell in _answers(source):
        body = cell.source.split("### BEGIN SOLUTION")[1].split("### END SOLUTION")[0]
        for line in filter(None, (raw.strip() for raw in body.splitlines())):
            assert line not in package_lines, f"{_meta(cell)['grade_id']}: {line!r} is in utils/ner"


def test_mistakes_file_is_well_formed(source: nbformat.NotebookNode) -> None:
    """Does each planted mistake name a real answer cell, its visible test, and text found once?"""
    assert len(MISTAKES) >= 10
    for mistake in MISTAKES:
        assert mistake.test == f"test_{mistake.cell}"
        plant(source, mistake)  # raises unless `find` occurs exactly once
    assert {m.diagnosis for m in MISTAKES} >= {"partial", "sign", "scale", "wrong", "transposed"}
    assert {m.cell for m in MISTAKES} == set(EXERCISES)


# --------------------------------------------------------------- worked numbers (fast)

def test_paris_window_from_the_lecture(solution: dict) -> None:
    """Is the window of "Paris" in "museums in Paris are amazing" (m = 2) the whole sentence?"""
    words = ["<pad>", "museums", "in", "Paris", "are", "amazing"]
    windows = solution["make_windows"](np.arange(1, 6), 2, 0)
    assert [words[i] for i in windows[2]] == ["museums", "in", "Paris", "are", "amazing"]
    assert [words[i] for i in windows[0]] == ["<pad>", "<pad>", "museums", "in", "Paris"]


def _params(rng: np.random.Generator, vocab: int = 7, dim: int = 2, hidden: int = 4, width: int = 3) -> dict:
    return {"E": rng.normal(size=(vocab, dim)), "W": rng.normal(size=(hidden, width * dim)),
            "b": rng.normal(size=hidden), "u": rng.normal(size=hidden)}


def test_repeated_word_collects_the_sum_of_its_pieces(solution: dict) -> None:
    """Is the dE row of a word used twice the sum of the rows of two identical copies of it?"""
    rng = np.random.default_rng(5)
    params = _params(rng)
    ids, labels = np.array([[3, 1, 3], [3, 2, 4]]), np.array([1, 0])
    dE = solution["window_backward"](params, solution["window_forward"](params, ids, labels)[1])["E"]
    # Give the second use of word 3 its own row 7 holding the same vector: same loss, and the
    # two rows' gradients are the pieces that word 3 must add up.
    split = dict(params, E=np.vstack([params["E"], params["E"][3]]))
    split_ids = np.array([[3, 1, 7], [3, 2, 4]])
    loss, cache = solution["window_forward"](split, split_ids, labels)
    assert loss == pytest.approx(solution["window_forward"](params, ids, labels)[0], rel=1e-14)
    dE_split = solution["window_backward"](split, cache)["E"]
    np.testing.assert_allclose(dE[3], dE_split[3] + dE_split[7], rtol=1e-12)
    assert not np.allclose(dE[3], dE_split[3])
    assert not dE[[0, 5, 6]].any()


def test_softmax_with_two_classes_is_the_binary_model(solution: dict) -> None:
    """With U = [0; u], is the softmax tagger's loss and gradient exactly the sigmoid model's?"""
    rng = np.random.default_rng(6)
    params = _params(rng)
    ids, labels = rng.integers(0, 7, size=(5, 3)), np.array([0, 1, 1, 0, 1])
    soft = {"E": params["E"], "W": params["W"], "b": params["b"], "U": np.stack([np.zeros(4), params["u"]])}
    binary_loss, binary_cache = solution["window_forward"](params, ids, labels)
    soft_loss, soft_cache = solution["softmax_forward"](soft, ids, labels)
    assert soft_loss == pytest.approx(binary_loss, rel=1e-12)
    np.testing.assert_allclose(soft_cache[3][:, 1], binary_cache[3], rtol=1e-12)
    binary_grads = solution["window_backward"](params, binary_cache)
    soft_grads = solution["softmax_backward"](soft, soft_cache)
    for name in ("E", "W", "b"):
        np.testing.assert_allclose(soft_grads[name], binary_grads[name], rtol=1e-10, atol=1e-14)
    # The two rows of dU are opposite: raising one score is lowering the other.
    np.testing.assert_allclose(soft_grads["U"][1], -soft_grads["U"][0], rtol=1e-12)


def test_gradients_match_finite_differences(solution: dict) -> None:
    """Do both backward passes equal plain central differences on a window with a repeated pad?"""
    rng = np.random.default_rng(7)
    params = _params(rng)
    ids, labels = np.array([[0, 0, 2], [0, 2, 5], [2, 5, 0]]), np.array([1, 0, 1])
    loss, cache = solution["window_forward"](params, ids, labels)
    grads = solution["window_backward"](params, cache)
    for name in params:
        numeric = numerical_gradient(
            lambda v, name=name: solution["window_forward"](dict(params, **{name: v}), ids, labels)[0],
            params[name])
        np.testing.assert_allclose(grads[name], numeric, rtol=1e-6, atol=1e-9)


def test_sgd_step_is_pure(solution: dict) -> None:
    """Does sgd_step return new arrays and leave its inputs unchanged?"""
    params = {"a": np.ones(3)}
    new = solution["sgd_step"](params, {"a": np.full(3, 2.0)}, 0.5)
    np.testing.assert_array_equal(new["a"], np.zeros(3))
    np.testing.assert_array_equal(params["a"], np.ones(3))


# ----------------------------------------------------------- executed notebooks (slow)

def _number(pattern: str, text: str) -> float:
    found = re.search(pattern, text)
    assert found, f"{pattern!r} not found in the notebook's output"
    return float(found.group(1))


@pytest.mark.slow
def test_solution_runs_cleanly_and_quickly(executed_solution) -> None:
    """Does the solution run top to bottom in a fresh kernel without an error, in seconds?"""
    ran, seconds = executed_solution
    assert errored_cells(ran) == []
    assert seconds < 120, f"the solution took {seconds:.1f} s (kernel start included)"


@pytest.mark.slow
def test_solution_shows_learning(executed_solution) -> None:
    """Does the loss fall and the tagger's F1 beat the majority class, printed beside it?"""
    ran, _ = executed_solution
    binary = output_text(cell_by_grade_id(ran, "binary_train"))
    assert _number(r"loss [\d.]+ -> ([\d.]+)", binary) < _number(r"loss ([\d.]+) ->", binary)
    tagger = output_text(cell_by_grade_id(ran, "tagger_train"))
    assert _number(r"epochs; loss [\d.]+ -> ([\d.]+)", tagger) < 0.8 * _number(r"epochs; loss ([\d.]+) ->", tagger)
    location = output_text(cell_by_grade_id(ran, "binary_eval"))
    assert _number(r"F1 ([\d.]+)\s+\(majority", location) > 15
    assert _number(r"'never a location': F1 ([\d.]+)", location) == 0.0
    scores = output_text(cell_by_grade_id(ran, "tagger_eval"))
    assert _number(r"majority class \(all O\)\s+P\s+[\d.]+\s+R\s+[\d.]+\s+F1\s+([\d.]+)", scores) == 0.0
    assert _number(r"window tagger \(yours\)\s+P\s+[\d.]+\s+R\s+[\d.]+\s+F1\s+([\d.]+)", scores) > 20
    examples = output_text(cell_by_grade_id(ran, "examples"))
    assert examples.count("gold:") == 8 and "]PER" in examples


@pytest.mark.slow
def test_sanity_checks_and_frozen_vectors(executed_solution) -> None:
    """Do the losses start near log 2 and log 9, does a tiny subset get overfit, is the dev F1 printed
    every epoch, and are frozen and fine-tuned word vectors compared (unseen words never move)?"""
    ran, _ = executed_solution
    binary = output_text(cell_by_grade_id(ran, "binary_train"))
    assert abs(_number(r"loss at initialisation: ([\d.]+)", binary) - np.log(2)) < 0.05
    assert len(re.search(r"dev F1 per epoch \[([^\]]*)\]", binary).group(1).split(",")) == 3
    tagger = output_text(cell_by_grade_id(ran, "tagger_train"))
    assert abs(_number(r"loss at initialisation: ([\d.]+)", tagger) - np.log(9)) < 0.05
    assert _number(r"3 tweets: loss [\d.]+ -> ([\d.]+)", tagger) < 0.2
    frozen = output_text(cell_by_grade_id(ran, "frozen_train"))
    for label in ("fine-tuned E", "frozen GloVe"):
        f1 = re.search(label + r":\s+\[([^\]]*)\]", frozen).group(1).split(",")
        assert len(f1) == 4 and all(0 <= float(v) <= 100 for v in f1)
    assert _number(r"training tweets by ([\d.]+)%", frozen) > 0
    assert _number(r"evaluation tweets by ([\d.]+)%", frozen) == 0.0


@pytest.mark.slow
def test_figures_are_drawn(executed_solution) -> None:
    """Are the window network, the gradient-check heat map, the loss and F1 curves and the confusion
    matrix drawn?"""
    ran, _ = executed_solution
    pictures = figures(ran)
    assert len(pictures) == 4
    for png in pictures:
        image = mpimg.imread(io.BytesIO(png), format="png")
        assert image.shape[0] > 200 and image.shape[1] > 300
        assert image[..., :3].std() > 0.05, "a blank figure"


@pytest.mark.slow
def test_release_fails_only_at_the_stubs(executed_release) -> None:
    """Does the released notebook error only with the exercise stubs, and every test cell fail?"""
    errors = errored_cells(executed_release)
    assert errors, "the release should not pass with stubs"
    for index, grade_id, first_line in errors:
        text = error_text(executed_release.cells[index])
        assert re.search(r"NotImplementedError: Exercise 4\.\d: \w+", text), (grade_id, first_line)
    failed = {grade_id for _, grade_id, _ in errors}
    assert "window_figure" not in failed and "primer_demo" not in failed
    assert failed >= {_meta(c)["grade_id"] for c in _tests(executed_release)}
    assert not any(_meta(c).get("solution") and error_text(c) for c in executed_release.cells)
    assert "BEGIN HIDDEN TESTS" not in "".join(c.source for c in executed_release.cells)
    assert "training tweets" in output_text(cell_by_grade_id(executed_release, "load_data"))


@pytest.mark.slow
def test_release_draws_no_half_finished_figure(executed_release) -> None:
    """Before any exercise is done, is the window network the only figure drawn (none half-drawn)?"""
    drawn = [_meta(c)["grade_id"] for c in executed_release.cells if c.cell_type == "code"
             and figures(nbformat.v4.new_notebook(cells=[c]))]
    assert drawn == ["window_figure"]


@pytest.mark.slow
def test_results_table_printed_before_raising(planted_runs) -> None:
    """When a backward test fails, has it printed the checker's table of every parameter first?"""
    for mistake in MISTAKES:
        if mistake.test in ("test_window_backward", "test_softmax_backward"):
            text = output_text(planted_runs[mistake.name])
            assert re.search(r"name\s+passed\s+diagnosis", text), mistake.name
            for name in ("E", "W", "b"):
                assert re.search(rf"^{name}\s+(yes|NO)\s", text, re.M), (mistake.name, name)


@pytest.mark.slow
@pytest.mark.parametrize("mistake", MISTAKES, ids=[m.name for m in MISTAKES])
def test_planted_mistake_is_diagnosed(planted_runs, mistake: Mistake) -> None:
    """Does the visible test fail on the planted mistake with the matching [diagnosis]?"""
    text = error_text(planted_runs[mistake.name])
    assert text.startswith("AssertionError"), f"{mistake.name}: {text[:300] or 'no error'}"
    assert f"[{mistake.diagnosis}]" in text.splitlines()[0], f"{mistake.name}: {text[:300]}"
