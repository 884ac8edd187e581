"""The output folder of a batch, crash-safe: one run at a time, files written whole, and an
assignment's results replaced all at once.

- :func:`locked` takes an exclusive lock on ``OUT/.lock`` (``flock``; the kernel drops it when
  the process dies, so a killed run never leaves a stale lock). A second run on the same
  ``OUT`` is refused with :class:`OutBusy`, naming the process that holds it.
- :func:`atomic_write_text` / :func:`atomic_write_bytes` / :func:`atomic_path` write a file
  under a temporary name in the same folder and rename it into place: a reader (or a crash)
  sees the old file or the new one, never half of one.
- :class:`Staging` is where a batch writes everything it produces (``OUT/.staging/``, laid out
  like ``OUT``). Only once every result, grade file, feedback page and the report exist there
  does :meth:`Staging.commit` write its journal and move them into ``OUT`` (renames only, with
  Ctrl-C and SIGTERM held back until it is done). A run killed before the journal exists leaves
  ``OUT`` untouched (the next run discards the staging folder); one killed after it is rolled
  forward by the next run (:func:`recover`). Either way ``OUT`` holds the old complete state or
  the new complete one, never a mix.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

from .engine.cleanup import remove_tree

LOCK_NAME = ".lock"
STAGING_NAME = ".staging"
JOURNAL_NAME = "COMMIT.json"
TOP_FILES = ("grades.csv", "gradebook.db", "report.html", "report.png")
KINDS = ("autograded", "feedback")


class OutBusy(RuntimeError):
    """Another run holds the lock on this output folder (message says which)."""


@contextlib.contextmanager
def locked(out_dir: Path) -> Iterator[None]:
    """Hold the exclusive lock on ``out_dir`` (created if needed) for the ``with`` block."""
    out_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(out_dir / LOCK_NAME, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 200, 0).decode("utf-8", "replace").strip() or "another process"
            raise OutBusy(f"{out_dir} is being written by another grading run ({holder}); wait "
                          "for it to finish or choose another --out") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()}\n".encode(), 0)
        yield
    finally:
        os.close(fd)                 # closing drops the lock


@contextlib.contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """A temporary path beside ``path``; renamed onto ``path`` when the block succeeds and
    removed when it fails."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    temporary = Path(name)
    try:
        yield temporary
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def atomic_write_bytes(path: Path, data: bytes, durable: bool = False) -> Path:
    """Write ``data`` to ``path`` atomically (temporary file, then renamed); ``durable`` also
    waits for the disk (for the commit journal: it must survive a power cut, the rest need only
    survive the process being killed)."""
    with atomic_path(path) as temporary:
        with open(temporary, "wb") as handle:
            handle.write(data)
            if durable:
                handle.flush()
                os.fsync(handle.fileno())
    return path


def atomic_write_text(path: Path, text: str, durable: bool = False) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    return atomic_write_bytes(path, text.encode("utf-8"), durable)


@contextlib.contextmanager
def _signals_held() -> Iterator[None]:
    """Hold back SIGINT/SIGTERM/SIGHUP for the block (main thread only; elsewhere Python
    delivers no signals anyway): a commit is renames only, so it finishes in moments and the
    signal takes effect right after it, with its usual handler."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    pending: list[int] = []
    held = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    previous = {number: signal.signal(number, lambda number, _frame: pending.append(number))
                for number in held}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
        if pending:
            signal.raise_signal(pending[0])


class Staging:
    """``OUT/.staging/``: a batch's new files, laid out like ``OUT``, until :meth:`commit`."""

    def __init__(self, out_dir: Path) -> None:
        self.out_dir = out_dir
        self.root = out_dir / STAGING_NAME
        recover(out_dir)                     # finish or drop what an interrupted run left
        self.root.mkdir()
        self.committed = False

    def keep_results(self, assignments: list[str]) -> None:
        """Copy the results files of every *other* assignment into the staging folder, so the
        grade files and report built there cover the whole ``OUT``."""
        (self.root / "results").mkdir(exist_ok=True)
        for path in sorted((self.out_dir / "results").glob("*.json")):
            if path.stem not in assignments:
                atomic_write_bytes(self.root / "results" / path.name, path.read_bytes())

    def commit(self, assignments: list[str]) -> None:
        """Move the staged files into ``OUT``: the point after which the new results count."""
        journal = {
            "assignments": list(assignments),
            "new": {kind: sorted(str(p.relative_to(self.root / kind))
                                 for a in assignments for p in (self.root / kind).glob(f"*/{a}"))
                    for kind in KINDS},
            "top": [name for name in TOP_FILES if (self.root / name).exists()],
        }
        with _signals_held():
            atomic_write_text(self.root / JOURNAL_NAME, json.dumps(journal), durable=True)
            _apply(self.out_dir, self.root, journal)
            self.committed = True
            self.discard()

    def discard(self) -> None:
        """Remove the staging folder (after a commit, or instead of one)."""
        if self.root.exists():
            (self.root / JOURNAL_NAME).unlink(missing_ok=True)
            remove_tree(self.root)

    def abandon(self) -> None:
        """After a failure: drop the staged files if the commit had not begun, else finish it
        (its journal exists, so ``OUT`` may already hold part of the new state)."""
        if (self.root / JOURNAL_NAME).exists():
            with _signals_held():
                recover(self.out_dir)
        else:
            self.discard()


def recover(out_dir: Path) -> str:
    """Finish a commit that was interrupted (its journal exists: roll forward) or drop an
    unfinished batch's staging folder (no journal: ``OUT`` never changed). Returns what it did
    ("", "rolled forward" or "discarded"); call it with the lock held."""
    root = out_dir / STAGING_NAME
    if not root.exists():
        return ""
    journal_path = root / JOURNAL_NAME
    done = "discarded"
    if journal_path.is_file():
        try:
            journal = json.loads(journal_path.read_text(encoding="utf-8"))
        except ValueError:            # a journal is written atomically; unreadable means foreign
            journal = None
        if journal is not None:
            _apply(out_dir, root, journal)
            done = "rolled forward"
        journal_path.unlink(missing_ok=True)
    remove_tree(root)
    return done


def _apply(out_dir: Path, root: Path, journal: dict) -> None:
    """Make ``OUT`` hold the staged state; idempotent, so a crash part-way is finished by
    running it again."""
    trash = root / "trash"
    for kind in KINDS:
        new = set(journal["new"][kind])
        for relative in journal["new"][kind]:            # "<student>/<assignment>"
            staged, target = root / kind / relative, out_dir / kind / relative
            if not staged.exists():
                continue                                  # moved on an earlier try
            if target.exists():
                _move_aside(target, trash / kind / relative)
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(staged, target)
        for assignment in journal["assignments"]:         # students gone since the last batch
            for old in (out_dir / kind).glob(f"*/{assignment}"):
                if f"{old.parent.name}/{assignment}" not in new:
                    _move_aside(old, trash / kind / old.parent.name / assignment)
        _remove_empty_students(out_dir / kind)
    for assignment in journal["assignments"]:
        staged = root / "results" / f"{assignment}.json"
        if staged.exists():
            (out_dir / "results").mkdir(exist_ok=True)
            os.replace(staged, out_dir / "results" / staged.name)
    for name in TOP_FILES:
        staged = root / name
        if staged.exists():
            os.replace(staged, out_dir / name)
        elif name not in journal["top"]:
            (out_dir / name).unlink(missing_ok=True)      # e.g. no chart this time


def _move_aside(path: Path, trash: Path) -> None:
    trash.parent.mkdir(parents=True, exist_ok=True)
    if trash.exists():
        remove_tree(trash)
    os.replace(path, trash)


def _remove_empty_students(folder: Path) -> None:
    if not folder.is_dir():
        return
    for student in folder.iterdir():
        if student.is_dir() and not student.is_symlink() and not any(student.iterdir()):
            student.rmdir()
