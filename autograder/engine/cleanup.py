"""Removing a folder whatever a student left in it.

:func:`shutil.rmtree` recurses once per level (a 1,500-level tree raises ``RecursionError``),
builds full paths (past ``PATH_MAX`` it fails with ``ENAMETOOLONG``) and gives up on folders
without read or write permission. :func:`remove_tree` walks with one open folder at a time,
relative to its parent, in a loop: any depth, any path length, any permissions the owner can
change, and symbolic links removed, never followed.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def remove_tree(path: Path | str) -> None:
    """Remove ``path`` and everything under it (nothing if it does not exist)."""
    path = Path(path)
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return
    if not stat.S_ISDIR(info.st_mode):
        path.unlink()
        return
    top = os.open(path.parent, _DIR_FLAGS & ~os.O_NOFOLLOW)
    try:
        _remove_below(top, path.name)
    finally:
        os.close(top)


def _open_dir(parent: int, name: str) -> int:
    try:
        return os.open(name, _DIR_FLAGS, dir_fd=parent)
    except PermissionError:
        os.chmod(name, 0o700, dir_fd=parent)
        return os.open(name, _DIR_FLAGS, dir_fd=parent)


def _first_subfolder(folder: int) -> str | None:
    """Unlink every non-folder entry of ``folder``; return one sub-folder's name (or None)."""
    os.fchmod(folder, 0o700)            # listing and unlinking need read, write and search
    with os.scandir(folder) as entries:
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                return entry.name
            os.unlink(entry.name, dir_fd=folder)
    return None


def _remove_below(top: int, name: str) -> None:
    """Remove folder ``name`` of the open folder ``top``, depth first, without recursion:
    only the current folder is open; going up reopens ``..``."""
    names = [name]
    current = _open_dir(top, name)
    try:
        while names:
            child = _first_subfolder(current)
            if child is not None:
                below = _open_dir(current, child)
                os.close(current)
                current = below
                names.append(child)
                continue
            done = names.pop()
            parent = os.open("..", _DIR_FLAGS, dir_fd=current) if names else os.dup(top)
            os.close(current)
            current = parent
            os.rmdir(done, dir_fd=current)
    finally:
        os.close(current)
