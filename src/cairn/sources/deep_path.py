"""File-system calls that also work on paths longer than the OS takes in one call (``ENAMETOOLONG``).

A seized tree can nest deeper than ``PATH_MAX`` (4096 bytes on Linux): such folders are made with relative
``mkdir``/``openat`` calls and are as real as any other, so a walker that only uses whole paths would list
their content as unreadable and never hash it. Each function here first tries the plain call and, only
when the path is too long, opens the parent folder one component at a time (each ``openat`` sees one
name) and finishes the call relative to it. Nothing here writes; directories are opened read-only.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

_DIR_FLAGS = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_CLOEXEC", 0)


def _too_long(exc: OSError) -> bool:
    return exc.errno == errno.ENAMETOOLONG


def open_parent(path: str) -> tuple[int, str]:
    """A read-only descriptor of ``path``'s parent folder, opened component by component, and the last name.

    The caller closes the descriptor. Components resolve as the kernel resolves a path (a symlinked folder
    *above* the evidence root, like ``/tmp`` on some systems, is followed as it would be).
    """
    parent, name = os.path.split(path)
    fd = os.open("/" if os.path.isabs(path) else ".", _DIR_FLAGS)
    try:
        for comp in parent.split("/"):
            if comp in ("", "."):
                continue
            nxt = os.open(comp, _DIR_FLAGS, dir_fd=fd)
            os.close(fd)
            fd = nxt
    except BaseException:
        os.close(fd)
        raise
    return fd, name


def _call(path: str, plain: Callable[[str], T], relative: Callable[[str, int], T]) -> T:
    """``plain(path)``; when the path is too long for one call, ``relative(name, parent_fd)`` instead."""
    try:
        return plain(path)
    except OSError as exc:
        if not _too_long(exc):
            raise
    fd, name = open_parent(path)
    try:
        return relative(name, fd)
    finally:
        os.close(fd)


def open_path(path: str, flags: int, mode: int = 0o777) -> int:
    """``os.open(path, flags)``, also for a path too long for one call."""
    return _call(path, lambda p: os.open(p, flags, mode), lambda n, fd: os.open(n, flags, mode, dir_fd=fd))


def lstat_path(path: str) -> os.stat_result:
    """``os.lstat(path)``, also for a path too long for one call."""
    return _call(path, os.lstat, lambda n, fd: os.lstat(n, dir_fd=fd))


def readlink_path(path: str) -> str:
    """``os.readlink(path)``, also for a path too long for one call."""
    plain: Callable[[str], str] = os.readlink
    return _call(path, plain, lambda n, fd: os.readlink(n, dir_fd=fd))
