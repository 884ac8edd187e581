"""Submissions that break, cheat or attack: each gets a clear status and reason, no undeserved
points, partial credit for what ran before a crash, and no effect on the grader or others."""

from __future__ import annotations

import copy
import json
import socket
import threading
from pathlib import Path

import nbformat
import pytest

from autograder import REPO_ROOT
from autograder.engine.results import (FAILED, FLAGGED, INVALID, MISSING, NOT_RUN, OK, PARTIAL, PASSED,
                                VOIDED)
from autograder.engine.sandbox import FALLBACK_WARNING, bwrap_available
from autograder.engine.submission import grade_submission
from tests.autograder.test_submission import (POINTS, SANDBOXES, by_id, cell, grade, set_answer,
                                              solution_json, source, write_submission)

pytestmark = pytest.mark.slow
needs_bwrap = pytest.mark.skipif(not bwrap_available(), reason="bubblewrap is not usable here")
__all__ = ["source"]          # the session fixture, re-exported for pytest
FULL = sum(POINTS.values())


def add_cell(nb: dict, after: str, code: str) -> dict:
    """``nb`` with an ordinary code cell ``code`` inserted after cell ``after`` (a grade_id)."""
    nb = copy.deepcopy(nb)
    index = nb["cells"].index(cell(nb, after))
    nb["cells"].insert(index + 1, nbformat.v4.new_code_cell(code))
    return nb


def printed_line(path: Path, prefix: str) -> str:
    """The rest of the first line that student code printed starting with ``prefix``, read
    from the graded notebook (files the student wrote vanish with the sandbox)."""
    graded = nbformat.read(path, as_version=4)
    for cell_ in graded.cells:
        for output in cell_.get("outputs", []):
            for line in str(output.get("text", "")).splitlines():
                if line.startswith(prefix):
                    return line[len(prefix):]
    raise AssertionError(f"nothing printed starting with {prefix!r}")


def outputs_of(path: Path) -> str:
    graded = nbformat.read(path, as_version=4)
    return json.dumps([c.get("outputs", []) for c in graded.cells])


# --- unreadable notebooks ------------------------------------------------------------------

@pytest.mark.parametrize("text, words", [
    ('{"cells": [', "malformed JSON at line 1"),
    ("", "malformed JSON"),
    ('{"nbformat": 3, "cells": []}', "nbformat 3 is not supported"),
    ('[1, 2]', "not a Jupyter notebook"),
    ('{"nbformat": 4, "cells": [{"cell_type": "weird"}]}', "cell 1 is not a code, markdown or raw cell"),
])
def test_unreadable_notebook_is_invalid(source: Path, tmp_path: Path, text: str, words: str) -> None:
    """Is a file that is not a v4 notebook INVALID, with a reason naming the file and the fault
    (and no stale graded notebook left from an earlier grading)?"""
    stale = tmp_path / "graded.ipynb"
    stale.write_text("{}")
    result = grade(source, tmp_path, text, autograded_path=stale)
    assert not stale.exists()
    assert result.status == INVALID and result.score == 0
    assert "submission.ipynb" in result.reason and words in result.reason
    assert len(result.questions) == len(POINTS) and all(q.status == NOT_RUN for q in result.questions)


def test_missing_submission(source: Path, tmp_path: Path) -> None:
    """Is an absent file MISSING with zero points, not an error?"""
    result = grade_submission(source, tmp_path / "nope.ipynb", student_id="bob", assignment="a",
                              workdir=tmp_path / "work", seed=1)
    assert result.status == MISSING and result.score == 0 and result.max_score == FULL


def test_grader_bug_is_an_error_not_an_exception(tmp_path: Path) -> None:
    """Does a broken *source* (the grader's side) give status error with the reason?"""
    broken = tmp_path / "source.ipynb"
    broken.write_text("{")
    result = grade_submission(broken, broken, student_id="bob", assignment="a",
                              workdir=tmp_path / "work", seed=1)
    assert result.status == "error" and "grader error" in result.reason


# --- edited notebooks --------------------------------------------------------------------

def test_deleted_answer_cell_fails_its_test_with_the_reason(source: Path, tmp_path: Path) -> None:
    """Does deleting an answer cell fail its tests (NameError) and say the cell was deleted?"""
    nb = solution_json(source)
    nb["cells"].remove(cell(nb, "relu"))
    result = grade(source, tmp_path, nb)
    relu = by_id(result)["test_relu"]
    assert relu.status == FAILED and "NameError" in relu.message and "was deleted" in relu.message
    assert result.score == FULL - POINTS["test_relu"]
    assert result.status == OK and "'relu' was deleted" in result.reason


def test_deleted_and_edited_test_cells_are_restored_and_flagged(source: Path, tmp_path: Path) -> None:
    """Are a deleted and an emptied test cell run from the source anyway, and reported?"""
    nb = set_answer(solution_json(source), "relu", "def relu(x):\n    return x")
    cell(nb, "test_relu")["source"] = "pass"
    nb["cells"].remove(cell(nb, "test_relu_grad"))
    result = grade(source, tmp_path, nb)
    assert result.status == FLAGGED
    assert "'test_relu' was edited" in result.reason and "'test_relu_grad' was deleted" in result.reason
    assert by_id(result)["test_relu"].status == FAILED
    assert by_id(result)["test_relu_grad"].status == PASSED
    assert result.score == FULL - POINTS["test_relu"]


def test_edited_metadata_changes_nothing(source: Path, tmp_path: Path) -> None:
    """Do raised points, a test cell turned into an answer cell and an answer cell turned
    into a test leave the grading as the source defines it (and get flagged)?"""
    nb = set_answer(solution_json(source), "relu_grad", "def relu_grad(x, dout):\n    return dout")
    cell(nb, "test_relu")["metadata"]["nbgrader"]["points"] = 100
    test = cell(nb, "test_relu_grad")
    test["metadata"]["nbgrader"].update(solution=True, grade=False, locked=False)
    test["source"] = "print('all good')"
    cell(nb, "relu")["metadata"]["nbgrader"].update(grade=True, points=50)
    result = grade(source, tmp_path, nb)
    assert result.status == FLAGGED and "metadata of cell 'test_relu' was edited (points)" in result.reason
    assert result.max_score == FULL
    assert by_id(result)["test_relu"].points == POINTS["test_relu"]
    assert by_id(result)["test_relu_grad"].status == FAILED
    assert set(by_id(result)) == set(POINTS)


def test_duplicated_cells_keep_the_first_answer(source: Path, tmp_path: Path) -> None:
    """Is the first copy of a duplicated answer cell graded (and the duplicate flagged)?"""
    nb = solution_json(source)
    wrong = copy.deepcopy(cell(nb, "relu"))
    wrong["source"] = "def relu(x):\n    return -x"
    nb["cells"].insert(nb["cells"].index(cell(nb, "relu")) + 1, wrong)
    nb["cells"].append(copy.deepcopy(cell(nb, "test_relu")))
    result = grade(source, tmp_path, nb)
    assert result.status == FLAGGED and "duplicates the answer cell 'relu'" in result.reason
    assert "duplicates the graded cell 'test_relu'" in result.reason
    assert result.score == FULL and len(result.questions) == len(POINTS)


def test_syntax_error_fails_the_questions_of_that_cell(source: Path, tmp_path: Path) -> None:
    """Does a syntax error in one answer cost only its questions, with the reason?"""
    nb = set_answer(solution_json(source), "relu", "def relu(x)\n    return x")
    result = grade(source, tmp_path, nb, autograded_path=tmp_path / "graded.ipynb")
    relu = by_id(result)["test_relu"]
    assert relu.status == FAILED and "raised SyntaxError" in relu.message
    assert result.score == FULL - POINTS["test_relu"] and result.status == OK
    assert "SyntaxError" in outputs_of(tmp_path / "graded.ipynb")


# --- runaway code ----------------------------------------------------------------------

def test_infinite_loop_in_a_function_fails_only_its_test(source: Path, tmp_path: Path) -> None:
    """Is a function that never returns interrupted, its test failed, the rest graded?"""
    nb = set_answer(solution_json(source), "relu", "def relu(x):\n    while True:\n        pass")
    nb = add_cell(nb, "relu", "while True:\n    pass")
    result = grade(source, tmp_path, nb, timeout=1.5)
    relu = by_id(result)["test_relu"]
    assert relu.status == FAILED and "TimeoutError" in relu.message and "time limit (1.5 s)" in relu.message
    assert result.status == OK and result.score == FULL - POINTS["test_relu"]


def test_loop_that_swallows_interrupts_stops_the_run_with_partial_credit(source: Path, tmp_path: Path) -> None:
    """Is a cell that ignores interrupts killed, earlier questions kept, later ones not run?"""
    loop = ("while True:\n    try:\n        while True:\n            pass\n"
            "    except BaseException:\n        pass")
    nb = add_cell(solution_json(source), "test_relu", loop)
    result = grade(source, tmp_path, nb, timeout=1.5)
    assert result.status == PARTIAL and "timed out after 1.5 s" in result.reason
    questions = by_id(result)
    assert questions["test_relu"].status == PASSED
    assert all(questions[g].status == NOT_RUN and "timed out" in questions[g].message
               for g in ("test_relu_grad", "test_noisy_init", "test_apply_twice"))
    assert result.score == POINTS["test_relu"]


@pytest.mark.parametrize("code, words", [
    ("import os\nos._exit(3)", "exited with code 3"),
    ("import os, signal\nos.kill(os.getpid(), signal.SIGKILL)", "killed"),
])
def test_killed_kernel_gives_partial_credit(source: Path, tmp_path: Path, code: str, words: str) -> None:
    """Does a process that dies mid-notebook keep the questions graded before it?"""
    nb = add_cell(solution_json(source), "test_relu_grad", code)
    result = grade(source, tmp_path, nb)
    assert result.status == PARTIAL and words in result.reason
    assert result.score == POINTS["test_relu"] + POINTS["test_relu_grad"]
    assert by_id(result)["test_noisy_init"].status == NOT_RUN


def test_sys_exit_does_not_end_the_notebook(source: Path, tmp_path: Path) -> None:
    """Like Jupyter, does sys.exit() in a cell only end that cell (and get mentioned)?"""
    nb = add_cell(solution_json(source), "relu", "import sys\nsys.exit()")
    result = grade(source, tmp_path, nb)
    assert result.score == FULL and "sys.exit()" in result.reason


@pytest.mark.parametrize("sandbox", SANDBOXES)
def test_memory_bomb_fails_its_cell_only(source: Path, tmp_path: Path, sandbox: str) -> None:
    """Does allocating far too much raise MemoryError in that cell and leave the rest graded?"""
    nb = add_cell(solution_json(source), "relu", "import numpy as np\nhog = np.ones(2**32)")
    nb = add_cell(nb, "relu_grad", "hog = []\nwhile True:\n    hog.append(bytearray(2**24))")
    result = grade(source, tmp_path, nb, memory_mb=600, sandbox=sandbox,
                   autograded_path=tmp_path / "graded.ipynb")
    assert result.score == FULL
    assert outputs_of(tmp_path / "graded.ipynb").count("MemoryError") >= 2


@pytest.mark.parametrize("sandbox", SANDBOXES)
def test_fork_bomb_and_subprocesses_are_refused(source: Path, tmp_path: Path, sandbox: str) -> None:
    """Are forks and subprocesses refused (a fork bomb fails at once), threads still fine?"""
    nb = add_cell(solution_json(source), "relu", "import os\nwhile True:\n    os.fork()")
    nb = add_cell(nb, "relu_grad", "import subprocess\nsubprocess.Popen(['sleep', '300'])")
    nb = add_cell(nb, "noisy_init", "import threading\nworker = threading.Thread(target=print, args=('thread',))\n"
                                    "worker.start()\nworker.join()")
    path = tmp_path / "graded.ipynb"
    result = grade(source, tmp_path, nb, sandbox=sandbox, autograded_path=path)
    assert result.score == FULL and result.status == OK, result.reason
    text = outputs_of(path)
    assert text.count('"ename": "PermissionError"') == 2 and "thread" in text


def test_flood_of_output_is_truncated(source: Path, tmp_path: Path) -> None:
    """Are 200,000 printed lines cut short with a note, keeping the graded notebook small?"""
    nb = add_cell(solution_json(source), "relu", "for i in range(200_000):\n    print(i)")
    nb = set_answer(nb, "relu_grad", "def relu_grad(x, dout):\n    for i in range(200_000):\n"
                                     "        print('spam', i)\n    return dout * (x > 0)")
    path = tmp_path / "graded.ipynb"
    result = grade(source, tmp_path, nb, autograded_path=path, timeout=60)
    assert result.score == FULL
    assert path.stat().st_size < 600_000
    assert "output truncated" in outputs_of(path)


# --- attacks on the grader -------------------------------------------------------------

PROBE = '''import json, os, socket
found = {{}}
def attempt(name, action):
    try:
        action()
        found[name] = "allowed"
    except Exception as exc:
        found[name] = type(exc).__name__
attempt("read_source", lambda: open({source!r}).read())
attempt("list_solutions", lambda: os.listdir({solutions!r}))
attempt("list_tests", lambda: os.listdir({tests!r}))
attempt("read_mistakes", lambda: os.listdir({mistakes!r}))
attempt("write_outside", lambda: open({outside!r}, "w").write("x"))
attempt("write_repo", lambda: open({repo_file!r}, "w").write("x"))
attempt("write_tmp", lambda: open("/tmp/backprop-escape.txt", "w").write("x"))
attempt("read_other", lambda: open({other!r}).read())
attempt("connect", lambda: socket.create_connection(("127.0.0.1", {port}), timeout=2))
attempt("dns", lambda: socket.getaddrinfo("example.com", 80))
print("PROBE" + json.dumps(found))'''


@needs_bwrap
def test_sandbox_blocks_files_network_and_other_students(source: Path, tmp_path: Path) -> None:
    """Inside bwrap, can student code read instructor files or other students' work, write
    outside its folder, or reach the network? (It must still get its own marks.)"""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    other = tmp_path / "bob" / "work" / "secret.txt"
    other.parent.mkdir(parents=True)
    other.write_text("bob's answer")
    probe = PROBE.format(source=str(source), solutions=str(REPO_ROOT / "solutions"),
                         tests=str(REPO_ROOT / "tests"), mistakes=str(REPO_ROOT / "autograder" / "mistakes"),
                         outside=str(tmp_path / "outside.txt"), repo_file=str(REPO_ROOT / "utils" / "x.txt"),
                         other=str(other), port=server.getsockname()[1])
    nb = add_cell(solution_json(source), "relu", probe)
    try:
        result = grade(source, tmp_path / "alice", nb, sandbox="bwrap", autograded_path=tmp_path / "graded.ipynb")
    finally:
        server.close()
    found = json.loads(printed_line(tmp_path / "graded.ipynb", "PROBE"))
    assert "allowed" not in found.values(), found
    assert not (tmp_path / "outside.txt").exists() and not (REPO_ROOT / "utils" / "x.txt").exists()
    assert result.status == OK and result.score == FULL


def test_fallback_is_loud(source: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """Without bwrap, does grading warn on stderr and in the reason (never silently)?"""
    result = grade(source, tmp_path, solution_json(source), sandbox="rlimit")
    assert FALLBACK_WARNING in result.reason and FALLBACK_WARNING in capsys.readouterr().err
    assert result.score == FULL


@needs_bwrap
def test_students_graded_in_parallel_do_not_interfere(source: Path, tmp_path: Path) -> None:
    """Do two students graded at once in separate folders keep their own files and marks?"""
    nb_alice = add_cell(solution_json(source), "relu",
                        "open('mine.txt', 'w').write('alice')\nprint('MINE', open('mine.txt').read())")
    nb_bob = set_answer(solution_json(source), "relu", "def relu(x):\n    return x")
    nb_bob = add_cell(nb_bob, "relu", "import os\nprint('MINE', os.path.exists('mine.txt'))")
    results = {}

    def run(name: str, nb: dict) -> None:
        results[name] = grade_submission(
            source, write_submission(tmp_path / name, nb), student_id=name, assignment="a",
            workdir=tmp_path / name / "work", seed=7, sandbox="bwrap",
            autograded_path=tmp_path / name / "graded.ipynb")

    threads = [threading.Thread(target=run, args=(n, nb)) for n, nb in (("alice", nb_alice), ("bob", nb_bob))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results["alice"].score == FULL and results["bob"].score == FULL - POINTS["test_relu"]
    assert printed_line(tmp_path / "alice" / "graded.ipynb", "MINE ") == "alice"
    assert printed_line(tmp_path / "bob" / "graded.ipynb", "MINE ") == "False"
    assert not (tmp_path / "alice" / "work" / "mine.txt").exists()     # gone with the sandbox


# --- cheating --------------------------------------------------------------------------

@pytest.mark.parametrize("patch, words", [
    ("np.allclose = lambda *args, **kwargs: True", "numpy.allclose was replaced"),
    ("import numpy\nnumpy.testing.assert_allclose = lambda *a, **k: None", "numpy.testing.assert_allclose"),
    ("import builtins\nbuiltins.AssertionError = KeyError", "builtins.AssertionError was replaced"),
    ("import utils.gradcheck\nutils.gradcheck.assert_close = lambda *a, **k: None",
     "utils.gradcheck.assert_close was replaced"),
    ("def check_close(actual, expected, name):\n    print(name + ': ok')",
     "the test helper 'check_close' from the locked cell 'imports' was redefined"),
    ("assert_close = lambda *a, **k: 'ok'",
     "the test helper 'assert_close' from the locked cell 'imports' was redefined"),
])
def test_patching_the_checks_earns_nothing_and_is_flagged(source: Path, tmp_path: Path, patch: str,
                                                          words: str) -> None:
    """Does patching numpy, the checker, builtins or a test helper in the student's kernel
    leave wrong answers failing, and get the submission flagged?"""
    nb = set_answer(solution_json(source), "relu", "def relu(x):\n    return x")
    nb = set_answer(nb, "relu_grad", "def relu_grad(x, dout):\n    return dout")
    nb = add_cell(nb, "relu", patch)
    result = grade(source, tmp_path, nb)
    assert result.status == FLAGGED and words in result.reason, result.reason
    assert by_id(result)["test_relu"].status == FAILED
    assert by_id(result)["test_relu_grad"].status == FAILED
    assert result.score == FULL - POINTS["test_relu"] - POINTS["test_relu_grad"]


def test_harmless_reimports_and_settings_are_not_flagged(source: Path, tmp_path: Path) -> None:
    """Are re-imports, printing options, seeding and helpers of the student's own not
    mistaken for tampering?"""
    nb = add_cell(solution_json(source), "relu",
                  "import numpy as np\nfrom utils.gradcheck import assert_close\nimport matplotlib.pyplot as plt\n"
                  "np.set_printoptions(precision=3)\nnp.random.seed(0)\n\n\ndef helper(x):\n    return x")
    result = grade(source, tmp_path, nb)
    assert result.status == OK and result.reason == "" and result.score == FULL


def test_hard_coded_visible_answers_fail_the_hidden_tests_without_leaking_them(
        source: Path, tmp_path: Path) -> None:
    """Do answers hard-coded to the visible test fail the hidden part, whose message shows
    no hidden code, inputs or printed output?"""
    nb = set_answer(solution_json(source), "relu", "def relu(x):\n    return np.array([0.0, 2.0])")
    nb = set_answer(nb, "relu_grad", "def relu_grad(x, dout):\n    return np.array([0.0, 0.0, 3.0, 4.0])")
    path = tmp_path / "graded.ipynb"
    result = grade(source, tmp_path, nb, autograded_path=path)
    relu, grad = by_id(result)["test_relu"], by_id(result)["test_relu_grad"]
    assert relu.status == grad.status == FAILED and result.score == FULL - 5
    assert relu.message.startswith("A hidden test failed (")
    assert grad.message.startswith("Hidden test: [shape] dx:") and grad.diagnosis == "shape"
    text = outputs_of(path)
    for secret in ("HIDDEN-OUTPUT", "fresh_rng", "np.where(big", "big"):
        assert secret not in text and secret not in relu.message + grad.message
    assert "relu: ok" in text                       # the visible part's output is shown


def test_unreadable_return_value_fails_cleanly(source: Path, tmp_path: Path) -> None:
    """Does a function returning an object the grader cannot check fail with a clear message?"""
    nb = set_answer(solution_json(source), "relu", "class Liar:\n    def __eq__(self, other):\n"
                    "        return True\n\ndef relu(x):\n    return Liar()")
    relu = by_id(grade(source, tmp_path, nb))["test_relu"]
    assert relu.status == FAILED and "Liar object, which the grader cannot check" in relu.message


def test_tampering_with_the_grader_channel_is_voided(source: Path, tmp_path: Path) -> None:
    """Does writing junk to the grader's private channel stop the run and get flagged,
    with no points for the test it happened in?"""
    junk = ("import os\ndef relu(x):\n    for fd in range(3, 64):\n        try:\n"
            "            os.write(fd, b'\\xff' * 64)\n        except OSError:\n            pass\n"
            "    return np.maximum(x, 0.0)")
    nb = set_answer(solution_json(source), "relu", junk)
    result = grade(source, tmp_path, nb)
    assert result.status == FLAGGED and "protocol" in result.reason
    assert by_id(result)["test_relu"].status == VOIDED and by_id(result)["test_relu"].points == 0
    assert result.score == 0
