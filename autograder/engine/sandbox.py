"""Where student code runs: a bubblewrap sandbox, or resource limits alone as a loud fallback.

Inside ``bwrap`` the student's process sees a read-only system (``/usr``, the Python
installation, the virtual environment, the ``utils`` package and the two autograder modules
its runner imports) and exactly one writable folder, its ``workdir``: a fresh tmpfs of
``WORKDIR_MB`` at that path (a disk quota; it vanishes with the run, whatever was built in
it), with ``/dev/shm`` a tmpfs of ``SHM_MB``. Everything else of the
repository (``solutions/``, ``tests/``, ``bench/``, the planted mistakes, gradebooks, other
students' folders) is simply not there. It has no network (its own empty network namespace),
its own PID namespace, no capabilities, and dies with the grader. Resource limits (address
space, CPU time, file size, processes) are set by the runner itself before any student code.

Without ``bwrap`` the same runner runs with the resource limits only; :func:`resolve` then
returns a warning that the caller must show (stderr and the result's reason).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path

from .. import PACKAGE_DIR, REPO_ROOT

BWRAP, RLIMIT, AUTO = "bwrap", "rlimit", "auto"
RUNNER_MODULES = ("__init__.py", "engine/__init__.py", "engine/record.py", "engine/runner.py",
                  "engine/confine.py")
FALLBACK_WARNING = ("WARNING: bubblewrap (bwrap) is not available, so student code ran with resource "
                    "limits only: it could read the instructor's files and use the network. Install "
                    "bubblewrap (apt-get install bubblewrap) for real isolation.")
WORKDIR_MB = 256        # the student's only writable folder: a tmpfs of this size, gone after the run
SHM_MB = 1              # /dev/shm: a tmpfs this small (shared memory escapes the memory limit)
_bwrap_ok: bool | None = None


class SandboxError(RuntimeError):
    """The requested sandbox cannot be used here (message says why)."""


@dataclass(frozen=True)
class Limits:
    """Resource limits for one student run."""

    memory_mb: int = 1024
    cpu_seconds: int = 300
    file_mb: int = 64
    processes: int = 64


def bwrap_available() -> bool:
    """Whether ``bwrap`` exists and can create its namespaces on this machine (cached)."""
    global _bwrap_ok
    if _bwrap_ok is None:
        path = shutil.which("bwrap")
        _bwrap_ok = False
        if path:
            try:
                probe = subprocess.run(
                    [path, "--unshare-all", "--die-with-parent", "--ro-bind", "/", "/", "true"],
                    capture_output=True, timeout=20)
                _bwrap_ok = probe.returncode == 0
            except (OSError, subprocess.SubprocessError):
                _bwrap_ok = False
    return _bwrap_ok


def resolve(kind: str) -> tuple[str, str]:
    """``(sandbox, warning)`` for the requested ``kind`` ("bwrap", "rlimit" or "auto")."""
    if kind not in (BWRAP, RLIMIT, AUTO):
        raise SandboxError(f"unknown sandbox {kind!r}: choose 'bwrap', 'rlimit' or 'auto'")
    if kind == RLIMIT:
        return RLIMIT, FALLBACK_WARNING
    if bwrap_available():
        return BWRAP, ""
    if kind == BWRAP:
        raise SandboxError("sandbox 'bwrap' was requested but bubblewrap is not installed or "
                           "cannot create namespaces here")
    return RLIMIT, FALLBACK_WARNING


def _system_binds() -> list[str]:
    """Read-only binds (or symlinks, on merged-/usr systems) for the base system."""
    args = ["--ro-bind", "/usr", "/usr"]
    for top in ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"):
        if os.path.islink(top):
            args += ["--symlink", os.readlink(top), top]
        elif os.path.isdir(top):
            args += ["--ro-bind", top, top]
    for etc in ("/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/fonts",
                "/etc/localtime", "/etc/alternatives"):
        if os.path.exists(etc):
            args += ["--ro-bind", etc, etc]
    return args


def _python_binds() -> list[str]:
    """The interpreter, its standard library, the venv, ``utils`` and the runner modules."""
    paths = {Path(sys.base_prefix).resolve(), Path(sys.prefix)}
    for key in ("stdlib", "platstdlib", "purelib", "platlib"):
        paths.add(Path(sysconfig.get_paths()[key]))
    args: list[str] = []
    outside = [p for p in sorted(paths, key=lambda p: len(str(p)))
               if not str(p).startswith("/usr/")]
    kept: list[Path] = []
    for path in outside:
        if any(path == k or k in path.parents for k in kept):
            continue
        kept.append(path)
        if path.exists():
            args += ["--ro-bind", str(path), str(path)]
    # The editable install maps `utils` and `autograder` into the repository: show `utils`
    # whole, and of `autograder` only what the runner imports (not mistakes/, not the rest).
    utils_dir = REPO_ROOT / "utils"
    if utils_dir.is_dir():
        args += ["--ro-bind", str(utils_dir), str(utils_dir)]
    for name in RUNNER_MODULES:
        path = PACKAGE_DIR / name
        args += ["--ro-bind", str(path), str(path)]
    return args


def command(kind: str, workdir: Path, argv: list[str]) -> list[str]:
    """The command line that runs ``argv`` (a python command) in sandbox ``kind``."""
    if kind == RLIMIT:
        return list(argv)
    workdir = Path(workdir).resolve()
    return [
        shutil.which("bwrap") or "bwrap",
        "--unshare-all", "--unshare-user", "--uid", "65534", "--gid", "65534",
        "--die-with-parent", "--new-session", "--cap-drop", "ALL",
        *_system_binds(), *_python_binds(),
        "--proc", "/proc", "--dev", "/dev",
        "--size", str(SHM_MB * 2**20), "--tmpfs", "/dev/shm",
        "--perms", "0700", "--size", str(WORKDIR_MB * 2**20), "--tmpfs", str(workdir),
        "--chdir", str(workdir),
        "--remount-ro", "/",
        *argv,
    ]


def environment(workdir: Path, seed: int) -> dict[str, str]:
    """The environment of a student run: nothing of the grader's, one BLAS thread, the seed."""
    workdir = str(Path(workdir).resolve())
    env = {
        "PATH": f"{Path(sys.executable).parent}:/usr/local/bin:/usr/bin:/bin",
        "HOME": workdir, "TMPDIR": workdir, "MPLCONFIGDIR": os.path.join(workdir, ".matplotlib"),
        "MPLBACKEND": "Agg", "LANG": "C.UTF-8", "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONHASHSEED": "0", "PYTHONIOENCODING": "utf-8", "USER": "student",
        "BACKPROP_LAB_SEED": str(seed),
    }
    env.update(single_thread_env())
    return env


def single_thread_env() -> dict[str, str]:
    """Environment variables that keep BLAS and OpenMP to one thread (reproducible sums)."""
    return {name: "1" for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                                   "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS")}
