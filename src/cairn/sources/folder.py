"""Evidence that is a folder (a mounted image, a copied tree): walked read-only, deterministically.

Names are visited in sorted order, depth first, with ``os.scandir``; symbolic links are never followed
(they point into the seized system, not ours) and the working directory is never changed. Files are
opened ``O_RDONLY | O_NOFOLLOW | O_NOATIME`` (without ``O_NOATIME`` where the OS refuses it) and only read.

What a scan unavoidably touches: folders are listed through a descriptor opened ``O_NOATIME``; a file's
atime is kept where ``O_NOATIME`` is allowed (the owner, or root); a symbolic link's own atime may be
updated when its target is read (``readlink``: the kernel marks the link accessed, and no flag prevents
it; under ``relatime`` only when the old atime is a day old or older than its mtime). The loop check
uses ``lstat`` and ``readlink`` only, stays inside the evidence and never opens or follows a link, so no
link's target and nothing outside the evidence is touched.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from cairn import errors as E
from cairn.model import EvidenceItem, ItemError, ItemMeta, Locator, is_odd_name
from cairn.settings import Limits
from cairn.sources.base import SkipFn
from cairn.sources.containers import expand
from cairn.sources.deep_path import lstat_path, open_path, readlink_path

_BASE_FLAGS = (
    os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
)
_NOATIME = getattr(os, "O_NOATIME", 0)


def open_readonly(path: str) -> int:
    """Open ``path`` read-only without following a final symlink; try not to update its atime."""
    if _NOATIME:
        try:
            return open_path(path, _BASE_FLAGS | _NOATIME)
        except PermissionError as exc:
            if exc.errno != errno.EPERM:  # EPERM: O_NOATIME needs ownership; EACCES is a real refusal
                raise
    return open_path(path, _BASE_FLAGS)


def meta_from_stat(st: os.stat_result, kind: str = "file", link_target: str | None = None) -> ItemMeta:
    """ItemMeta from an ``lstat`` result."""
    return ItemMeta(
        size=st.st_size,
        mtime=st.st_mtime,
        atime=st.st_atime,
        ctime=st.st_ctime,
        kind=kind,
        link_target=link_target,
        mode=st.st_mode,
    )


def _odd_name(rel: str) -> tuple[ItemError, ...]:
    """An ``ODD_NAME`` note when the path holds a bidi control (NUL and empty names cannot exist on disk)."""
    if not is_odd_name(rel):
        return ()
    note = E.item_note(
        E.ODD_NAME,
        f"the name holds bidi controls that reorder what a screen shows; it is listed escaped as "
        f"{Locator.of(rel).path!r}. Its content was examined.",
    )
    return (note,)


def _skipped(skip: SkipFn | None, rel: str) -> bool:
    """True when the item at raw relative path ``rel`` is already stored (compared by its logical path)."""
    return skip is not None and skip(Locator.of(rel).path)


def _unreadable(rel: str, what: str, exc: OSError, meta: ItemMeta | None = None) -> EvidenceItem:
    err = E.item_error(
        E.UNREADABLE,
        f"{what} could not be read ({exc.strerror or exc}); it was not examined. Check permissions or the "
        "media and scan again.",
    )
    return EvidenceItem(locator=Locator.of(rel), meta=meta or ItemMeta(kind="other"), errors=(err,))


class ReadPosition:
    """How far a source has got through its top-level files, in bytes (what a progress bar shows).

    Files already walked count whole; the file being expanded counts up to its stream's position, so
    a single large archive moves the bar as its members are read.
    """

    def __init__(self) -> None:
        self._done = 0
        self._current: IO[bytes] | None = None

    def __call__(self) -> int:
        current = 0
        if self._current is not None and not self._current.closed:
            with contextlib.suppress(OSError, ValueError):
                current = self._current.tell()
        return self._done + current

    def enter(self, stream: IO[bytes]) -> None:
        self._current = stream

    def leave(self, size: int) -> None:
        self._current = None
        self._done += size


def regular_file_items(
    rel: str,
    path: str,
    st: os.stat_result,
    limits: Limits,
    skip: SkipFn | None,
    temp_dir: str | None,
    position: ReadPosition | None = None,
) -> Iterator[EvidenceItem]:
    """Items for one regular file: the file (``os_path`` set) and, if it is a container, its members."""
    loc = Locator.of(rel)
    meta = meta_from_stat(st)
    try:
        fd = open_readonly(path)
    except OSError as exc:
        if skip is None or not skip(loc.path):
            yield _unreadable(rel, "file", exc, meta)
        if position is not None:
            position.leave(st.st_size)
        return
    with os.fdopen(fd, "rb") as f:
        if position is not None:
            position.enter(f)
        try:
            yield from expand(loc, meta, f, limits, skip, temp_dir, os_path=path, errors=_odd_name(rel))
        finally:
            if position is not None:
                position.leave(st.st_size)


#: Links followed while checking one link for a loop (Linux's own limit is 40).
MAX_LINK_HOPS = 40


class _Loop(Exception):
    """The link chain comes back to a link still being resolved, or is longer than ``MAX_LINK_HOPS``."""


class _Unresolved(Exception):
    """The chain leaves the evidence, is absolute, dangles or cannot be read: no loop can be shown."""


def link_loop(root: str, rel: str) -> str | None:
    """Why the link at raw relative path ``rel`` under ``root`` never resolves, or None.

    Resolved as the kernel would, but by hand with ``os.lstat`` and ``os.readlink`` only, so no link is
    ever followed by the OS and nothing a link points at is opened. Only the evidence is looked at: an
    absolute target, or one that climbs above ``root``, names a place on the seized system, not on this
    machine, and stops the check (no loop can be shown). At most ``MAX_LINK_HOPS`` links are read.
    """
    seen: dict[tuple[str, ...], tuple[str, ...] | None] = {}
    hops = 0

    def walk(path: tuple[str, ...], rest: str) -> tuple[str, ...]:
        nonlocal hops
        if rest.startswith("/"):
            raise _Unresolved
        for name in rest.split("/"):
            if name in ("", "."):
                continue
            if name == "..":
                if not path:
                    raise _Unresolved
                path = path[:-1]
                continue
            new = (*path, name)
            full = os.path.join(root, *new)
            try:
                st = lstat_path(full)
            except OSError:
                raise _Unresolved from None
            if not stat.S_ISLNK(st.st_mode):
                path = new
                continue
            if new in seen:
                done = seen[new]
                if done is None:
                    raise _Loop("resolves back into itself")
                path = done
                continue
            hops += 1
            if hops > MAX_LINK_HOPS:
                raise _Loop(f"is more than {MAX_LINK_HOPS} links deep")
            seen[new] = None
            try:
                target = readlink_path(full)
            except OSError:
                raise _Unresolved from None
            path = walk(path, target)
            seen[new] = path
        return path

    parent, _, name = rel.rpartition("/")
    try:
        walk(tuple(parent.split("/")) if parent else (), name)
    except _Loop as loop:
        return str(loop)
    except _Unresolved:
        return None
    return None


def _symlink_item(root: str, rel: str, path: str, st: os.stat_result) -> EvidenceItem:
    errs = []
    target: str | None = None
    try:
        target = readlink_path(path)
    except OSError as exc:
        errs.append(E.item_error(E.UNREADABLE, f"link target could not be read ({exc.strerror or exc})."))
    why = link_loop(root, rel)  # lstat/readlink only: never follows a link, never opens its target
    if why is not None:
        errs.append(
            E.item_error(
                E.SYMLINK_LOOP,
                f"symbolic link {why} (target {target!r}); it was recorded, not followed. Inspect the link "
                "chain on the image if it matters.",
            )
        )
    return EvidenceItem(
        locator=Locator.of(rel), meta=meta_from_stat(st, "symlink", target), errors=(*errs, *_odd_name(rel))
    )


class FolderSource:
    """Every entry under ``root``: regular files (with their container members), links, others."""

    kind = "folder"

    def __init__(self, root: Path, temp_dir: str | None = None) -> None:
        self.root = Path(root)
        self.temp_dir = temp_dir
        self.position = ReadPosition()

    def items(self, limits: Limits, skip: SkipFn | None = None) -> Iterator[EvidenceItem]:
        """Yield items in sorted depth-first order; never raises for unreadable content."""
        stack: list[tuple[str, str, Iterator[os.DirEntry[str]]]] = []
        try:
            stack.append(("", str(self.root), iter(self.listing(str(self.root)))))
        except OSError as exc:
            yield _unreadable(".", "evidence folder", exc)
            return
        while stack:
            prefix, dirpath, it = stack[-1]
            entry = next(it, None)
            if entry is None:
                stack.pop()
                continue
            rel = prefix + entry.name
            path = os.path.join(dirpath, entry.name)
            try:
                st = lstat_path(path)
            except OSError as exc:
                if not _skipped(skip, rel):
                    yield _unreadable(rel, "entry", exc)
                continue
            if stat.S_ISDIR(st.st_mode):
                try:
                    stack.append((rel + "/", path, iter(self.listing(path))))
                except OSError as exc:
                    if not _skipped(skip, rel):
                        yield _unreadable(rel, "folder", exc, meta_from_stat(st, "other"))
            elif stat.S_ISREG(st.st_mode):
                yield from regular_file_items(rel, path, st, limits, skip, self.temp_dir, self.position)
            elif not _skipped(skip, rel):
                if stat.S_ISLNK(st.st_mode):
                    yield _symlink_item(str(self.root), rel, path, st)
                else:
                    yield EvidenceItem(locator=Locator.of(rel), meta=meta_from_stat(st, "other"), errors=_odd_name(rel))

    @staticmethod
    def listing(path: str) -> list[os.DirEntry[str]]:
        """Sorted entries of a folder, listed through a descriptor opened without touching its atime."""
        flags = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_NOFOLLOW", 0)
        if os.scandir not in os.supports_fd:
            with os.scandir(path) as it:
                return sorted(it, key=lambda e: e.name)
        try:
            fd = open_path(path, flags | _NOATIME)
        except PermissionError:
            fd = open_path(path, flags)
        try:
            with os.scandir(fd) as it:
                return sorted(it, key=lambda e: e.name)
        finally:
            os.close(fd)
