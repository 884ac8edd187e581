"""Does every notebook's first code cell tell a student without the course package the one
command to run, instead of a bare ``No module named 'utils'``?"""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import nbformat
import pytest
from IPython.core.inputtransformer2 import TransformerManager

from autograder import REPO_ROOT
from autograder.release import assignments
from tests.notebooks.harness import release_path, solution_path

ASSIGNMENTS = assignments()
NOTEBOOKS = [solution_path(a) for a in ASSIGNMENTS] + [release_path(a) for a in ASSIGNMENTS]


def wheel_name() -> str:
    """The file name ``pip wheel .`` gives this project's wheel."""
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    return f"{project['name'].replace('-', '_')}-{project['version']}-py3-none-any.whl"


def first_code_cell(path: Path) -> str:
    nb = nbformat.read(path, as_version=4)
    return next(c.source for c in nb.cells if c.cell_type == "code")


def run_first_cell(path: Path, folder: Path, *, site: bool) -> subprocess.CompletedProcess:
    """Run a notebook's first code cell (magics translated as IPython would) in a fresh Python
    whose working folder ``folder`` comes first on ``sys.path``; without ``site``, no installed
    package is importable (as in an environment without the course package)."""
    script = folder / "first_cell.py"
    script.write_text(TransformerManager().transform_cell(first_code_cell(path)))
    python = [sys.executable] if site else [sys.executable, "-S"]
    return subprocess.run([*python, str(script)], cwd=folder, capture_output=True,
                          text=True, timeout=120)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: f"{p.parent.parent.name}/{p.parent.name}")
def test_first_cell_names_the_current_wheel(path: Path) -> None:
    """Does the first code cell name the wheel this version of the project builds?"""
    source = first_code_cell(path)
    assert source.startswith("try:"), "the guard must run before any other import"
    assert f"%pip install {wheel_name()}" in source


@pytest.mark.parametrize("unrelated", ["none", "module", "package"])
@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_unrelated_utils_gets_the_install_command(assignment: str, unrelated: str,
                                                  tmp_path: Path) -> None:
    """Without the course package, alone or with PyPI's unrelated ``utils`` (a module or a
    package without ``gradcheck``), does the released notebook's first cell say which wheel to
    install?"""
    if unrelated == "module":
        (tmp_path / "utils.py").write_text("'''An unrelated utils.'''\n")
    elif unrelated == "package":
        (tmp_path / "utils").mkdir()
        (tmp_path / "utils" / "__init__.py").write_text("'''An unrelated utils.'''\n")
    proc = run_first_cell(release_path(assignment), tmp_path, site=False)
    assert proc.returncode != 0
    missing = "utils" if unrelated == "none" else "utils.gradcheck"
    assert f"ModuleNotFoundError: No module named '{missing}'" in proc.stderr, proc.stderr
    assert f"%pip install {wheel_name()}" in proc.stderr, proc.stderr
    assert "restart the kernel" in proc.stderr


def test_course_package_passes_the_guard(tmp_path: Path) -> None:
    """With the course package installed, does the first cell run without complaint?"""
    proc = run_first_cell(release_path(ASSIGNMENTS[0]), tmp_path, site=True)
    assert proc.returncode == 0, proc.stderr
    assert "pip install" not in proc.stderr


def test_readme_names_the_current_wheel() -> None:
    """Does the README's Colab/JupyterHub section give the install command for this version?"""
    readme = (REPO_ROOT / "README.md").read_text()
    assert f"pip wheel --no-deps . -w dist          # dist/{wheel_name()}" in readme
    assert f"%pip install {wheel_name()}" in readme
