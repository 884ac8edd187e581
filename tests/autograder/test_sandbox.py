"""The sandbox command: what student code can see, write and reach, and the loud fallback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from autograder import PACKAGE_DIR, REPO_ROOT
from autograder.engine import sandbox

needs_bwrap = pytest.mark.skipif(not sandbox.bwrap_available(), reason="bubblewrap is not usable here")


def run_in(kind: str, workdir: Path, code: str) -> subprocess.CompletedProcess:
    argv = sandbox.command(kind, workdir, [sys.executable, "-c", code])
    return subprocess.run(argv, env=sandbox.environment(workdir, seed=5), cwd=workdir,
                          capture_output=True, text=True, timeout=60)


def test_resolve_names_the_sandbox_and_warns_on_fallback() -> None:
    """Is 'rlimit' always a loud fallback, and an unknown sandbox a clear error?"""
    assert sandbox.resolve("rlimit") == ("rlimit", sandbox.FALLBACK_WARNING)
    kind, warning = sandbox.resolve("auto")
    assert (kind, warning) == (("bwrap", "") if sandbox.bwrap_available() else ("rlimit", sandbox.FALLBACK_WARNING))
    with pytest.raises(sandbox.SandboxError, match="unknown sandbox"):
        sandbox.resolve("docker")


def test_command_binds_no_instructor_folder(tmp_path: Path) -> None:
    """Does the bwrap command bind only utils and the runner's modules of the repository?"""
    argv = sandbox.command("bwrap", tmp_path, ["python"])
    sources = {argv[i + 1] for i, arg in enumerate(argv) if arg in ("--bind", "--ro-bind")}
    repo = [s for s in sources if s.startswith(str(REPO_ROOT)) and not s.startswith(sys.prefix)]
    assert sorted(repo) == sorted([str(REPO_ROOT / "utils")] +
                                  [str(PACKAGE_DIR / m) for m in sandbox.RUNNER_MODULES])
    writable = [argv[i + 1] for i, arg in enumerate(argv) if arg in ("--bind", "--tmpfs")]
    assert writable == ["/dev/shm", str(tmp_path.resolve())]       # two size-limited tmpfs
    assert all(argv[i - 2] == "--size" for i, arg in enumerate(argv) if arg == "--tmpfs")
    assert "--unshare-all" in argv and "--die-with-parent" in argv and "--cap-drop" in argv


def test_environment_has_the_seed_one_thread_and_nothing_of_the_grader(tmp_path: Path) -> None:
    """Does the student's environment carry the seed and single-thread BLAS, but no secrets?"""
    env = sandbox.environment(tmp_path, seed=9)
    assert env["BACKPROP_LAB_SEED"] == "9" and env["OPENBLAS_NUM_THREADS"] == "1"
    assert env["HOME"] == str(tmp_path.resolve()) and "PYTHONPATH" not in env


@needs_bwrap
def test_inside_bwrap_only_the_workdir_is_writable_and_instructor_files_are_gone(tmp_path: Path) -> None:
    """Inside bwrap, are solutions/tests invisible, the repo read-only, /tmp and the network
    unusable, while numpy and utils still import?"""
    code = (
        "import os, socket, numpy, utils.testing\n"
        f"print(sorted(os.listdir({str(REPO_ROOT)!r})))\n"
        f"print(sorted(os.listdir({str(PACKAGE_DIR)!r})))\n"
        f"print(sorted(os.listdir({str(PACKAGE_DIR / 'engine')!r})))\n"
        "open('ok.txt', 'w').write('yes')\n"
        "print(open('ok.txt').read())\n"
        "for path in ('/tmp/x', " + repr(str(REPO_ROOT / 'utils' / 'x')) + ", '/x'):\n"
        "    try:\n        open(path, 'w')\n        print('WROTE', path)\n"
        "    except OSError as err:\n        print('refused', err.errno)\n"
        "print([name for _, name in socket.if_nameindex()])\n"
        "print(os.getuid(), os.environ['BACKPROP_LAB_SEED'])\n"
    )
    proc = run_in("bwrap", tmp_path, code)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == "['.venv', 'autograder', 'utils']"
    assert lines[1] == "['__init__.py', 'engine']"
    assert lines[2] == str(sorted(m.split("/")[1] for m in sandbox.RUNNER_MODULES if "/" in m))
    assert lines[3] == "yes" and not (tmp_path / "ok.txt").exists()   # its own tmpfs, gone after
    lines = lines[:2] + lines[4:]
    assert lines[2:5] == ["refused 30"] * 2 + ["refused 30"] or all(l.startswith("refused") for l in lines[2:5])
    assert lines[5] == "['lo']" and lines[6] == "65534 5"


def test_fallback_still_runs_python(tmp_path: Path) -> None:
    """Does the rlimit fallback run the same interpreter with the same environment?"""
    proc = run_in("rlimit", tmp_path, "import os; print(os.environ['BACKPROP_LAB_SEED'])")
    assert proc.stdout.strip() == "5"
