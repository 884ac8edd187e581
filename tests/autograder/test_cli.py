"""The command line: `python -m autograder ...` / `backprop-lab ...`."""

from __future__ import annotations

from importlib.metadata import entry_points
from pathlib import Path

import nbformat
import pytest

from autograder.__main__ import main
from autograder.release import release
from tests.autograder.test_release import HIDDEN_LINE, example_course, solved


def test_help_lists_every_command(capsys: pytest.CaptureFixture) -> None:
    """Does --help name release, grade, check, demo and lab?"""
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    for command in ("release", "grade", "check", "demo", "lab"):
        assert command in out


def test_console_script_is_installed() -> None:
    """Is `backprop-lab` the same entry point as `python -m autograder`?"""
    scripts = {e.name: e.value for e in entry_points(group="console_scripts")}
    assert scripts.get("backprop-lab") == "autograder.__main__:main"


@pytest.fixture(scope="module")
def course(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example course, released (shared: the tests only read it)."""
    root = example_course(tmp_path_factory.mktemp("cli") / "course")
    release(root / "solutions", root / "notebooks")
    return root


def test_grade_rejects_unknown_assignment_clearly(course: Path, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture) -> None:
    """Does a misspelt assignment fail with exit 2, naming the assignments there are?"""
    (tmp_path / "subs").mkdir()
    code = main(["grade", "00_exampel", "--submissions", str(tmp_path / "subs"),
                 "--source", str(course / "solutions"), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2 and "no assignment '00_exampel'" in err and "00_example" in err
    assert not (tmp_path / "out").exists()


def test_grade_rejects_missing_submissions_folder(course: Path, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture) -> None:
    """Does a submissions folder that does not exist fail with exit 2 and say so?"""
    code = main(["grade", "00_example", "--submissions", str(tmp_path / "nowhere"),
                 "--source", str(course / "solutions"), "--out", str(tmp_path / "out")])
    assert code == 2 and "does not exist" in capsys.readouterr().err


@pytest.mark.parametrize("option", [["--jobs", "0"], ["--timeout", "-1"], ["--memory", "lots"],
                                    ["--sandbox", "docker"]])
def test_grade_rejects_bad_limits(option: list[str], tmp_path: Path) -> None:
    """Are a zero job count, a negative timeout, a non-number memory and an unknown sandbox
    refused by the parser?"""
    with pytest.raises(SystemExit) as exit_info:
        main(["grade", "00_example", "--submissions", str(tmp_path), *option])
    assert exit_info.value.code == 2


def test_check_refuses_a_notebook_that_is_not_released(course: Path, tmp_path: Path,
                                                       capsys: pytest.CaptureFixture) -> None:
    """Does `check` on an unknown notebook say which notebooks it knows?"""
    stray = tmp_path / "mine.ipynb"
    stray.write_text("{}")
    code = main(["check", str(stray), "--release", str(course / "notebooks")])
    err = capsys.readouterr().err
    assert code == 2 and "not a released notebook" in err and "00_example/example.ipynb" in err
    assert main(["check", str(tmp_path / "absent.ipynb")]) == 2


def test_check_tells_what_to_do_with_a_renamed_copy(course: Path, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture) -> None:
    """Does `check` on a renamed copy (``example-Copy1.ipynb``) say which name to give it or
    which --assignment to pass, and refuse an unknown --assignment by listing the known ones?"""
    copy_path = tmp_path / "example-Copy1.ipynb"
    copy_path.write_text("{}")
    code = main(["check", str(copy_path), "--release", str(course / "notebooks")])
    err = capsys.readouterr().err
    assert code == 2
    assert "rename it to example.ipynb or pass --assignment 00_example" in err
    code = main(["check", str(copy_path), "--assignment", "00_exampel",
                 "--release", str(course / "notebooks")])
    err = capsys.readouterr().err
    assert code == 2 and "no released assignment '00_exampel'" in err and "00_example" in err


def test_original_names_of_copies() -> None:
    """Are the names Jupyter and browsers give copies mapped back to the original?"""
    from autograder.check import original_name

    for name in ("gradients-Copy1.ipynb", "gradients-Copy12.ipynb", "gradients (2).ipynb",
                 "gradients(1).ipynb", "gradients_copy.ipynb", "gradients.ipynb"):
        assert original_name(Path(name)) == "gradients.ipynb", name
    assert original_name(Path("my_gradients.ipynb")) == "my_gradients.ipynb"


@pytest.mark.slow
def test_check_grades_a_renamed_copy_with_assignment(course: Path, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture) -> None:
    """Given --assignment, is a renamed copy in any folder graded against that assignment?"""
    released = course / "notebooks" / "00_example" / "example.ipynb"
    nb = solved(nbformat.read(released, as_version=4))
    renamed = tmp_path / "downloads" / "example-Copy1.ipynb"
    renamed.parent.mkdir()
    nbformat.write(nb, renamed)
    assert main(["check", str(renamed), "--assignment", "00_example",
                 "--release", str(course / "notebooks")]) == 0
    assert "1 of 1 visible test(s) pass, 2/2" in capsys.readouterr().out


@pytest.mark.slow
def test_check_reports_visible_tests_with_diagnosis(course: Path, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture) -> None:
    """Does a student's self-check pass a right answer, and for a wrong one print the failing
    visible test's message, all without running or showing the hidden test?"""
    released = course / "notebooks" / "00_example" / "example.ipynb"
    nb = nbformat.read(released, as_version=4)
    work = tmp_path / "work" / "00_example"
    work.mkdir(parents=True)
    good, wrong = solved(nb), solved(nb, "def relu(x):\n    return x")
    nbformat.write(good, work / "example.ipynb")
    assert main(["check", str(work / "example.ipynb"), "--release", str(course / "notebooks")]) == 0
    out = capsys.readouterr().out
    assert "1 of 1 visible test(s) pass, 2/2" in out and "PASS" in out
    nbformat.write(wrong, work / "example.ipynb")
    assert main(["check", str(work / "example.ipynb"), "--release", str(course / "notebooks")]) == 1
    out = capsys.readouterr().out
    assert "FAILED" in out and "test_relu" in out and "AssertionError" in out
    assert HIDDEN_LINE not in out and "Hidden tests run only when" in out
