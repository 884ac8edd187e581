"""One submission against the engine's limits: time (the whole notebook's, and the grader's own
work), disk, shared memory, pathological folders, and the pieces that make student data safe
(writing back arguments, cleaning outputs, rendering images)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import nbformat
import numpy as np
import pytest

from autograder.engine import record, submission
from autograder.engine.cleanup import remove_tree
from autograder.engine.results import INVALID, NOT_RUN, PARTIAL, PASSED, QuestionResult, SubmissionResult
from autograder.engine.sandbox import SHM_MB, WORKDIR_MB, bwrap_available
from autograder.engine.submission import grade_submission
from autograder.engine.untrusted import OutputBudget, clean_outputs
from autograder.feedback import render_feedback
from tests.autograder.adversarial import ASSIGNMENT, NOTEBOOK, course, student_notebook

pytestmark = pytest.mark.slow
needs_bwrap = pytest.mark.skipif(not bwrap_available(), reason="bubblewrap is not usable here")


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return course(tmp_path_factory.mktemp("engine"))


def _grade(home: Path, tmp_path: Path, nb: nbformat.NotebookNode, **options) -> SubmissionResult:
    path = tmp_path / "submitted.ipynb"
    path.write_text(nbformat.writes(nb))
    options.setdefault("timeout", 10.0)
    return grade_submission(home / "solutions" / ASSIGNMENT / f"{NOTEBOOK}.ipynb", path, student_id="eve",
                            assignment=ASSIGNMENT, workdir=tmp_path / "work", seed=3, **options)


def _printed(path: Path, prefix: str) -> str:
    for cell in nbformat.read(path, as_version=4).cells:
        for output in cell.get("outputs", []):
            for line in str(output.get("text", "")).splitlines():
                if line.startswith(prefix):
                    return line[len(prefix):]
    raise AssertionError(f"nothing printed starting with {prefix!r}")


# --- time ----------------------------------------------------------------------------------

def test_the_whole_notebook_limit_keeps_the_credit_earned_before_it(home: Path, tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """When cells that each stay under --timeout together pass the whole-notebook limit (here
    during the last test), is the result `partial` with the points earned before, not a
    grader `error` with 0/0?"""
    monkeypatch.setattr(submission, "OVERALL_FACTOR", 3)       # the whole notebook: 3 x 4 s
    slow_total = "import time\n\ndef total(weights):\n    time.sleep(3.9)\n    return float(sum(weights.values()))"
    nb = student_notebook(home, {"total": slow_total},       # 9 s of cells, then a 3.9 s call
                          extra=[("test_double", "import time\ntime.sleep(3.0)")] * 3)
    result = _grade(home, tmp_path, nb, timeout=4.0)
    questions = {q.grade_id: q for q in result.questions}
    assert result.status == PARTIAL, result
    assert result.score == 2.0 and result.max_score == 3.0
    assert questions["test_double"].status == PASSED
    assert "the whole notebook ran past its time limit" in result.reason
    assert questions["test_total"].points == 0


def test_the_grader_own_work_has_a_wall_clock_limit(home: Path, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """If the grader's own work on a submission's content ran on and on (here: lining it up
    takes a minute), does the submission's wall-clock limit stop it with a clear `invalid`
    result instead of holding the batch?"""
    import time
    assemble = submission.assemble

    def slow_assemble(*args, **kwargs):
        finish = time.monotonic() + 60
        while time.monotonic() < finish:      # pure Python: what a pathological text costs
            pass
        return assemble(*args, **kwargs)

    monkeypatch.setattr(submission, "assemble", slow_assemble)
    monkeypatch.setattr(submission, "wall_clock_seconds", lambda timeout: 3.0)
    result = _grade(home, tmp_path, student_notebook(home))
    assert result.status == INVALID and result.score == 0 and result.max_score == 3.0, result
    assert "took longer than its limit of 3 s" in result.reason
    assert all(q.status == NOT_RUN for q in result.questions)


# --- disk, shared memory, folders ----------------------------------------------------------

RESOURCES = '''import ctypes, os
written = 0
try:
    for n in range(6):                                   # 6 x 60 MB, each under the file limit
        with open(f"fill{n}", "wb") as handle:
            for _ in range(60):
                handle.write(b"x" * 2**20)
                written += 2**20
except OSError:
    pass
shm = 0
try:
    with open("/dev/shm/fill", "wb") as handle:
        for _ in range(8):
            handle.write(b"x" * 2**20)
            shm += 2**20
except OSError:
    pass
try:
    os.close(os.memfd_create("hold"))
    memfd = "allowed"
except OSError as err:
    memfd = "refused"
shmget = "refused" if ctypes.CDLL(None).shmget(0, 2**20, 0o1600) == -1 else "allowed"
for n in range(6):
    if os.path.exists(f"fill{n}"):
        os.remove(f"fill{n}")
print("RESOURCES", written // 2**20, shm // 2**20, memfd, shmget)'''


@needs_bwrap
def test_disk_and_shared_memory_are_bounded(home: Path, tmp_path: Path) -> None:
    """Can a submission write no more than its folder's quota, nearly nothing in /dev/shm, and
    no memfd or System V shared memory (which the memory limit would not count)?"""
    graded = tmp_path / "graded.ipynb"
    result = _grade(home, tmp_path, student_notebook(home, extra=[("double", RESOURCES)]),
                    sandbox="bwrap", autograded_path=graded, timeout=30.0)
    written, shm, memfd, shmget = _printed(graded, "RESOURCES ").split()
    assert int(written) <= WORKDIR_MB and int(shm) <= SHM_MB
    assert (memfd, shmget) == ("refused", "refused")
    assert result.score == 3.0
    assert not any((tmp_path / "work").iterdir())          # nothing of it on the grader's disk


DEEP = '''import os
for _ in range(1500):
    os.mkdir("d")
    os.chdir("d")
open("leaf.txt", "w").write("x")
os.chdir(os.environ["HOME"])
os.symlink("/", "d/escape")
os.chmod("d", 0)
print("DEEP done")'''


@pytest.mark.parametrize("sandbox", ["rlimit"] + (["bwrap"] if bwrap_available() else []))
def test_a_deep_unreadable_tree_is_removed_completely(home: Path, tmp_path: Path, sandbox: str) -> None:
    """After a submission builds a 1,500-level folder tree (its top unreadable, a link to / in
    it), is it still graded, and does the cleanup remove every bit of the folder without
    following the link?"""
    work = tmp_path / "work"
    try:
        result = _grade(home, tmp_path, student_notebook(home, extra=[("double", DEEP)]), sandbox=sandbox)
    finally:
        remove_tree(work)               # (pytest's own clean-up of tmp_path would recurse)
    assert result.score == 3.0, result
    assert not work.exists()
    assert Path("/").is_dir() and Path("/usr").is_dir()


def test_remove_tree_handles_depth_permissions_and_links(tmp_path: Path) -> None:
    """Does remove_tree delete a 1,500-level tree, folders without permissions and links
    (removing the link, not its target), where shutil.rmtree fails?"""
    outside = tmp_path / "keep"
    outside.mkdir()
    (outside / "file").write_text("kept")
    top = tmp_path / "top"
    top.mkdir()
    try:
        _build_deep_tree(top, outside)
        remove_tree(top)
    finally:
        if top.exists():
            os.system(f"chmod -R u+rwx {top} 2>/dev/null; rm -rf {top}")   # never leave it for pytest
    assert not top.exists()
    assert (outside / "file").read_text() == "kept"


def _build_deep_tree(top: Path, outside: Path) -> None:
    fd = os.open(top, os.O_RDONLY)
    for _ in range(1500):
        os.mkdir("d", dir_fd=fd)
        below = os.open("d", os.O_RDONLY, dir_fd=fd)
        os.close(fd)
        fd = below
    os.symlink(str(outside), "link", dir_fd=fd)
    os.close(fd)
    os.symlink(str(outside), top / "link")
    (top / "locked").mkdir()
    (top / "locked" / "f").write_text("x")
    os.chmod(top / "locked", 0)


# --- student data made safe ----------------------------------------------------------------

def test_only_random_generators_are_written_back_into_the_tests_arguments() -> None:
    """After a call, does the judge keep its own arrays, lists and dicts as the test made them
    (whatever the student's copy became), while a generator the function drew from advances?"""
    array, items, table = np.arange(3.0), [1.0, 2.0], {"a": 1.0}
    rng = np.random.default_rng(0)
    used = np.random.default_rng(0)
    used.normal(size=5)
    changed = (np.zeros(3), [0.0], {}, used)
    record.apply_in_place((array, items, table, rng), changed, generators_only=True)
    assert array.tolist() == [0.0, 1.0, 2.0] and items == [1.0, 2.0] and table == {"a": 1.0}
    assert rng.bit_generator.state == used.bit_generator.state


def test_outputs_are_validated_and_capped() -> None:
    """Are outputs of unknown type or shape dropped, text cleaned and cut, and the
    submission's whole budget enforced?"""
    budget = OutputBudget(1000)
    kept, dropped = clean_outputs([
        {"output_type": "bogus"},
        {"output_type": "stream", "name": "stdin", "text": "x"},
        {"output_type": "execute_result", "data": "not a dict"},
        {"output_type": "display_data", "data": {"image/png": '"><script>', "text/html": "<b>"}},
        {"output_type": "stream", "name": "stdout", "text": "ok \ud800\x00\n"},
        {"output_type": "stream", "name": "stdout", "text": "y" * 5000},
        {"output_type": "stream", "name": "stdout", "text": "no room left"},
    ], budget)
    assert dropped == 5
    assert kept[0] == {"output_type": "stream", "name": "stdout", "text": "ok \ufffd\ufffd\n"}
    assert len(kept[1]["text"]) < 1100 and "more characters not kept" in kept[1]["text"]
    for output in kept:
        nbformat.v4.new_output(**output)                     # valid nbformat outputs


def test_feedback_never_embeds_a_forged_image() -> None:
    """Does a feedback page show a real base64 image but drop one carrying markup?"""
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("plot()", outputs=[
        nbformat.v4.new_output("display_data", data={"image/png": '"><script>alert(1)</script>'}),
        nbformat.v4.new_output("display_data", data={"image/png": "iVBORw0KGgo=\n"}),
    ])])
    result = SubmissionResult("eve", ASSIGNMENT, NOTEBOOK, 0.0, 1.0, "ok",
                              questions=(QuestionResult("q", 0.0, 1.0, "failed"),))
    page = render_feedback(result, nb)
    assert "<script>" not in page and "alert" not in page
    assert 'src="data:image/png;base64,iVBORw0KGgo="' in page
    json.dumps(page)
