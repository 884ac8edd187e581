"""A hurried instructor's OUT: a re-grade interrupted at any moment, or a second run on the same
folder, leaves OUT as it was or with the new complete results, never a mix, and grades.csv,
gradebook.db, the report and the feedback pages always agree."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import signal
from pathlib import Path

import pytest

from autograder import batch, outdir
from autograder.__main__ import main
from autograder.batch import GradingError, Limits, grade_assignment
from tests.autograder.adversarial import (ASSIGNMENT, assert_consistent, course, csv_rows, gradebook_rows,
                                          student_notebook, submit, tree)

pytestmark = pytest.mark.slow
LIMITS = Limits(timeout=20)


class Killed(BaseException):
    """Stands for the process dying at that instant (nothing after it runs)."""


def _grade(submissions: Path, out: Path, source: Path) -> list:
    return grade_assignment(ASSIGNMENT, submissions, out, source_dir=source, workers=2,
                            limits=LIMITS, progress=False)


@pytest.fixture(scope="module")
def regrade(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """OUT graded once (ann right, bob wrong, dan right), then the class changes (bob fixed
    his answer, cat joined, dan left) and is re-graded; the staged new state is kept aside
    just before its commit, so tests can replay the commit and die at any step."""
    root = tmp_path_factory.mktemp("out")
    source = course(root / "course") / "solutions"
    first, second = root / "first", root / "second"
    for student, answers in (("ann", {}), ("bob", {"double": "def double(x):\n    return x"}), ("dan", {})):
        submit(first, student, student_notebook(root / "course", answers))
    for student in ("ann", "bob", "cat"):
        submit(second, student, student_notebook(root / "course"))
    out = root / "out"
    _grade(first, out, source)
    old = root / "old"
    shutil.copytree(out, old)
    staged = root / "staged"
    commit = outdir.Staging.commit

    def keep_aside(self: outdir.Staging, assignments: list[str]) -> None:
        shutil.copytree(self.root, staged)
        commit(self, assignments)

    patch = pytest.MonkeyPatch()
    patch.setattr(outdir.Staging, "commit", keep_aside)
    try:
        _grade(second, out, source)
    finally:
        patch.undo()
    return {"root": root, "source": source, "second": second, "old": old, "new": out,
            "staged": staged}


def _copy(regrade: dict, name: str) -> Path:
    target = regrade["root"] / name
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(regrade["old"], target)
    return target


def test_both_states_are_complete_and_consistent(regrade: dict) -> None:
    """Do the old and the new OUT each hold one consistent story (csv, gradebook, feedback)?"""
    assert_consistent(regrade["old"])
    assert_consistent(regrade["new"])
    assert {s: r["score"] for s, r in csv_rows(regrade["old"]).items()} == {"ann": "3", "bob": "1", "dan": "3"}
    assert {s: r["score"] for s, r in csv_rows(regrade["new"]).items()} == {"ann": "3", "bob": "3", "cat": "3"}
    assert not (regrade["new"] / "feedback" / "dan").exists()


@pytest.mark.parametrize("moment", ["run_jobs", "write_grade_files", "write_report"])
def test_interrupted_regrade_leaves_out_as_it_was(regrade: dict, moment: str,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """Does Ctrl-C while grading, or while the grade files and the report are being built,
    leave every file of OUT exactly as before, and does the next run then grade normally?"""
    out = _copy(regrade, f"interrupted-{moment}")
    before = tree(out)

    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(batch, moment, interrupt)
    with pytest.raises(KeyboardInterrupt):
        _grade(regrade["second"], out, regrade["source"])
    assert tree(out) == before
    monkeypatch.undo()
    _grade(regrade["second"], out, regrade["source"])
    assert {s: r["score"] for s, r in csv_rows(out).items()} == {"ann": "3", "bob": "3", "cat": "3"}
    assert_consistent(out)


def _replay_commit(regrade: dict, out: Path, die_at: int | None) -> int:
    """Stage the kept new state in ``out`` and commit it, dying at rename number ``die_at``;
    returns how many renames happened."""
    shutil.copytree(regrade["staged"], out / outdir.STAGING_NAME)
    staging = outdir.Staging.__new__(outdir.Staging)
    staging.out_dir, staging.root, staging.committed = out, out / outdir.STAGING_NAME, False
    real, calls = os.replace, []

    def replace(src, dst):
        calls.append(dst)
        if len(calls) == die_at:
            raise Killed
        real(src, dst)

    os.replace = replace
    try:
        staging.commit([ASSIGNMENT])
    except Killed:
        pass
    finally:
        os.replace = real
    return len(calls)


def test_a_run_killed_at_any_step_of_its_commit_is_old_or_new_after_recovery(regrade: dict) -> None:
    """Killed at every single rename of the commit, is OUT (once the next run has recovered
    it) either exactly the old state or exactly the new one, and consistent?"""
    old, new = tree(regrade["old"]), tree(regrade["new"])
    steps = _replay_commit(regrade, _copy(regrade, "replayed"), die_at=None)
    assert tree(regrade["root"] / "replayed") == new
    assert steps > 5
    for step in range(1, steps + 1):
        out = _copy(regrade, f"killed-{step}")
        _replay_commit(regrade, out, die_at=step)
        with outdir.locked(out):
            outdir.recover(out)
        state = tree(out)
        assert state in (old, new), f"a mix after dying at rename {step}"
        assert state == (old if step == 1 else new), step      # the journal is the first rename
        assert_consistent(out)
        shutil.rmtree(out)


def test_ctrl_c_during_the_commit_waits_for_it(regrade: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    """Does a Ctrl-C that arrives in the middle of the commit take effect only once OUT holds
    the whole new state?"""
    out = _copy(regrade, "ctrl-c-commit")
    real = os.replace

    def replace_and_interrupt(src, dst):
        os.kill(os.getpid(), signal.SIGINT)
        real(src, dst)

    shutil.copytree(regrade["staged"], out / outdir.STAGING_NAME)
    staging = outdir.Staging.__new__(outdir.Staging)
    staging.out_dir, staging.root, staging.committed = out, out / outdir.STAGING_NAME, False
    # Python's own Ctrl-C handler, whatever an earlier test in this worker left installed
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    monkeypatch.setattr(os, "replace", replace_and_interrupt)
    try:
        with pytest.raises(KeyboardInterrupt):
            staging.commit([ASSIGNMENT])
    finally:
        monkeypatch.undo()
        signal.signal(signal.SIGINT, previous)
    assert tree(out) == tree(regrade["new"])


def test_a_second_run_on_a_busy_out_is_refused(regrade: dict, capsys: pytest.CaptureFixture) -> None:
    """While another process holds OUT, is a second `grade` refused with a clear message,
    before touching anything?"""
    out = _copy(regrade, "busy")
    before = tree(out)
    with open(out / ".lock", "a+") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        with pytest.raises(GradingError, match="being written by another grading run"):
            _grade(regrade["second"], out, regrade["source"])
        code = main(["grade", ASSIGNMENT, "--submissions", str(regrade["second"]), "--out", str(out),
                     "--source", str(regrade["source"]), "--quiet"])
    assert code == 2 and "another --out" in capsys.readouterr().err
    assert tree(out) == before


def test_a_poisoned_results_file_from_an_older_run_does_not_break_the_next(tmp_path: Path) -> None:
    """Does a results file that an older grader stored with a lone surrogate and control
    characters still give a complete grades.csv and gradebook (cleaned), not a crash?"""
    from autograder.gradebook import write_grade_files
    out = tmp_path / "out"
    (out / "results").mkdir(parents=True)
    result = {"student_id": "eve", "assignment": "old", "notebook": "nb", "score": 0.0, "max_score": 1.0,
              "status": "partial", "reason": "raised \ud800 with a bell \u0007", "questions": [
                  {"grade_id": "q", "points": 0.0, "max_points": 1.0, "status": "failed",
                   "diagnosis": "", "message": "\udcff"}], "seconds": 1.0}
    (out / "results" / "old.json").write_text(     # ASCII JSON, the surrogate escaped as \\ud800
        json.dumps({"assignment": "old", "sources": {}, "results": [result]}))
    write_grade_files(out)
    rows = csv_rows(out)
    assert rows["eve"]["reason"] == "raised \ufffd with a bell \ufffd"
    assert gradebook_rows(out)["eve"] == ("partial", "raised \ufffd with a bell \ufffd")
