"""Is the wheel all a notebook needs outside this repository (Colab, JupyterHub, a laptop)?

Builds the wheel once (``pip wheel --no-deps .``), installs it into one fresh virtual
environment, and runs each solution notebook there, copied alone into an empty folder."""

from __future__ import annotations

import ast
import importlib.metadata
import json
import re
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import nbformat
import pytest
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import KernelManager
from nbclient import NotebookClient

from autograder import REPO_ROOT
from autograder.release import assignments
from tests.notebooks.harness import errored_cells, solution_path

pytestmark = pytest.mark.slow

MAINTAINER_ONLY = {"utils/ner/build_embeddings.py"}
"""Scripts a student never runs (it rebuilds the GloVe subset from extra packages)."""


def run(cmd: list[str], **kwargs) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, capture_output=True, text=True, **kwargs)
    assert proc.returncode == 0, f"{' '.join(cmd)} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel ``pip wheel --no-deps . -w dist`` builds (into a scratch folder here)."""
    dist = tmp_path_factory.mktemp("dist")
    # from a clean copy: setuptools would reuse (and package) a stale build/ folder
    clean = shutil.copytree(REPO_ROOT, tmp_path_factory.mktemp("checkout") / "backprop-lab",
                            ignore=shutil.ignore_patterns(".git", ".venv", "build", "dist", "*.egg-info",
                                                          "__pycache__", ".*cache", "*-output"))
    run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", str(clean), "-w", str(dist)],
        cwd=clean)
    (built,) = dist.glob("*.whl")
    return built


@pytest.fixture(scope="module")
def fresh_python(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The interpreter of a new virtual environment holding the wheel and nothing else."""
    venv = tmp_path_factory.mktemp("venv")
    started = time.perf_counter()
    run([sys.executable, "-m", "venv", str(venv)])
    python = venv / "bin" / "python"
    run([str(python), "-m", "pip", "install", "-q", str(wheel)])
    print(f"fresh venv with the wheel: {time.perf_counter() - started:.0f} s")
    return python


@pytest.fixture(scope="module")
def kernel_specs(fresh_python: Path, tmp_path_factory: pytest.TempPathFactory) -> KernelSpecManager:
    """Kernel specs holding one kernel, ``fresh``, that runs in the fresh environment."""
    folder = tmp_path_factory.mktemp("kernels")
    (folder / "fresh").mkdir()
    (folder / "fresh" / "kernel.json").write_text(json.dumps({
        "argv": [str(fresh_python), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "fresh wheel environment", "language": "python",
    }))
    return KernelSpecManager(kernel_dirs=[str(folder)])


def wheel_files(wheel: Path) -> list[str]:
    with zipfile.ZipFile(wheel) as archive:
        return archive.namelist()


def requirements(wheel: Path) -> tuple[str, set[str]]:
    """The wheel's Requires-Python and the distributions it always requires (no extras)."""
    with zipfile.ZipFile(wheel) as archive:
        (name,) = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
        metadata = archive.read(name).decode()
    python = re.search(r"^Requires-Python: (.+)$", metadata, re.M).group(1)
    always = {re.split(r"[ <>=!~;\[(]", line.split(": ", 1)[1])[0].lower().replace("_", "-")
              for line in metadata.splitlines()
              if line.startswith("Requires-Dist: ") and "extra ==" not in line}
    return python, always


def imported_modules(source: str) -> set[str]:
    """Top-level names of the modules ``source`` imports (absolute imports only)."""
    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def notebook_imports() -> set[str]:
    """Third-party modules the notebooks import, directly or through ``utils``."""
    from IPython.core.inputtransformer2 import TransformerManager

    names: set[str] = set()
    for path in sorted((REPO_ROOT / "utils").rglob("*.py")):
        if path.relative_to(REPO_ROOT).as_posix() not in MAINTAINER_ONLY:
            names |= imported_modules(path.read_text())
    for assignment in assignments():
        nb = nbformat.read(solution_path(assignment), as_version=4)
        for cell in nb.cells:
            if cell.cell_type == "code":
                names |= imported_modules(TransformerManager().transform_cell(cell.source))
    return names - set(sys.stdlib_module_names) - {"utils", "__future__"}


def test_wheel_carries_the_packages_and_their_data(wheel: Path) -> None:
    """Does the wheel hold ``utils`` with its data and licence, and ``autograder``, and nothing
    of the course's sources, tests or benchmarks?"""
    files = wheel_files(wheel)
    for needed in ["utils/gradcheck/__init__.py", "utils/ner/data/glove_6B_50d_subset.npz",
                   "utils/ner/data/LICENSE-GloVe-PDDL.txt", "utils/ner/data/README.md",
                   "autograder/__main__.py", "autograder/nbgrader_config.py",
                   "autograder/mistakes/01_gradients.json"]:
        assert needed in files
    top = {name.split("/")[0] for name in files if not name.split("/")[0].endswith(".dist-info")}
    assert top == {"utils", "autograder"}, f"unexpected top-level entries {sorted(top)}"
    assert not [n for n in files if re.search(r"(^|/)(solutions|tests|bench|notebooks)/", n)]
    assert not [n for n in files if n.endswith(".ipynb") or "__pycache__" in n]


def test_wheel_requires_what_the_notebooks_import(wheel: Path) -> None:
    """Does the wheel (without extras) require every package the notebooks and ``utils`` import,
    and state the Python versions its pinned dependencies need?"""
    python, always = requirements(wheel)
    assert python == ">=3.11"
    providers = importlib.metadata.packages_distributions()
    missing = {}
    for module in sorted(notebook_imports()):
        assert module in providers, f"no installed distribution provides {module!r}"
        dists = {d.lower().replace("_", "-") for d in providers[module]}
        if not dists & always:
            missing[module] = sorted(dists)
    assert not missing, f"imported but not required by the wheel: {missing}"
    assert "ipykernel" in always, "a fresh environment needs a kernel to run the notebooks"


def test_solutions_run_alone_from_the_wheel(kernel_specs: KernelSpecManager, tmp_path: Path) -> None:
    """Copied alone into an empty folder and run in an environment holding only the wheel, does
    each solution notebook run top to bottom? (One test, so that parallel test workers do not
    each build the environment.)"""
    failures = {}
    for assignment in assignments():
        alone = tmp_path / assignment  # an empty folder outside the repository
        alone.mkdir()
        copy = alone / solution_path(assignment).name
        shutil.copy(solution_path(assignment), copy)
        nb = nbformat.read(copy, as_version=4)
        manager = KernelManager(kernel_name="fresh", kernel_spec_manager=kernel_specs)
        try:
            NotebookClient(nb, km=manager, timeout=300, allow_errors=True,
                           resources={"metadata": {"path": str(alone)}}).execute()
        finally:  # a client given its kernel manager leaves the kernel running
            if manager.has_kernel:
                manager.shutdown_kernel(now=True)
        if errored_cells(nb):
            failures[assignment] = errored_cells(nb)[:3]
    assert not failures, failures
