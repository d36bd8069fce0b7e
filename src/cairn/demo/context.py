"""The shared state contributors write through: seeded randomness, fixed times, entry bookkeeping.

A contributor is anything with a constant ``name`` that, called with a ``DemoContext``, writes its files
under ``ctx.root`` (only through the context's helpers, so times stay fixed) and returns the manifest
entries for what it wrote, archive members included.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from cairn.demo.manifest import SYMLINK, DemoEntry

log = logging.getLogger(__name__)

#: 2021-06-01T12:00:00Z: every file time is this plus a per-path offset of up to a year.
BASE_TIME = 1_622_548_800
#: The same instant as a zip ``date_time`` / for tar and gzip headers.
ZIP_DATE_TIME = (2021, 6, 1, 12, 0, 0)


class Contributor(Protocol):
    """One kind of demo content; ``name`` is constant and seeds the contributor's own RNG."""

    @property
    def name(self) -> str: ...

    def __call__(self, ctx: DemoContext) -> list[DemoEntry]: ...


@dataclass(frozen=True)
class FunctionContributor:
    """Adapts a plain function to the ``Contributor`` protocol."""

    name: str
    run: Callable[[DemoContext], list[DemoEntry]]

    def __call__(self, ctx: DemoContext) -> list[DemoEntry]:
        return self.run(ctx)


def contributor(name: str) -> Callable[[Callable[[DemoContext], list[DemoEntry]]], FunctionContributor]:
    """Decorator turning ``def f(ctx) -> list[DemoEntry]`` into a named contributor."""

    def wrap(fn: Callable[[DemoContext], list[DemoEntry]]) -> FunctionContributor:
        return FunctionContributor(name, fn)

    return wrap


def file_time(rel: str) -> int:
    """The fixed modification time of the file at ``rel``: derived from its path, never the clock."""
    return BASE_TIME + zlib.crc32(rel.encode("utf-8")) % (365 * 86400)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def content_entry(path: str, data: bytes, content_type: str, roles: Sequence[str]) -> DemoEntry:
    """A manifest entry for ``data`` at logical ``path`` (file or archive member)."""
    return DemoEntry(path, tuple(roles), content_type, len(data), sha256(data))


class DemoContext:
    """Where and how contributors write; one per generation.

    ``target`` is the number of entries the whole tree should reach; ``done`` is how many earlier
    contributors produced, so a filler can compute ``target - done``. ``scale`` is the size name
    ("small", "medium", "large" or "custom") for contributors that vary with it.
    """

    def __init__(
        self,
        root: Path,
        seed: int,
        scale: str,
        target: int,
        progress: Callable[[int], None] | None = None,
    ) -> None:
        self.root = root
        self.seed = seed
        self.scale = scale
        self.target = target
        self.done = 0
        self._progress = progress

    @property
    def remaining(self) -> int:
        """Entries still wanted to reach ``target`` (never negative)."""
        return max(0, self.target - self.done)

    def rng(self, name: str) -> np.random.Generator:
        """A generator seeded by the generation seed and ``name`` only (independent per contributor)."""
        return np.random.default_rng([self.seed, zlib.crc32(name.encode("utf-8"))])

    def report(self, produced: int) -> None:
        """Tell the progress callback that the running contributor has produced ``produced`` entries."""
        if self._progress is not None:
            self._progress(self.done + produced)

    def _target(self, rel: str) -> Path:
        if rel.startswith("/") or ".." in rel.split("/") or "!/" in rel:
            raise ValueError(f"demo path must be relative and inside the tree: {rel!r}")
        path = self.root.joinpath(*rel.split("/"))
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    def write(self, rel: str, data: bytes, content_type: str, roles: Sequence[str]) -> DemoEntry:
        """Write ``data`` at ``rel`` (POSIX, relative), refusing to overwrite; fix its time; return entry."""
        path = self._target(rel)
        with open(path, "xb") as fh:
            fh.write(data)
        t = file_time(rel)
        os.utime(path, (t, t))
        return content_entry(rel, data, content_type, roles)

    def symlink(self, rel: str, target: str, roles: Sequence[str]) -> DemoEntry | None:
        """Create a symbolic link at ``rel`` pointing to ``target`` (relative, verbatim).

        Returns None, with a logged note, where the OS refuses symbolic links.
        """
        path = self._target(rel)
        try:
            os.symlink(target, path)
        except (OSError, NotImplementedError) as exc:
            log.warning("demo: skipping symlink %s -> %s: %s", rel, target, exc)
            return None
        t = file_time(rel)
        with contextlib.suppress(OSError, NotImplementedError):  # platforms without lutimes
            os.utime(path, (t, t), follow_symlinks=False)
        return DemoEntry(rel, (SYMLINK, *roles), "symlink")

    def fix_dir_times(self) -> None:
        """Give every directory under the root (and the root) its fixed time; call after all writes."""
        for dirpath, _dirs, _files in os.walk(self.root, topdown=False):
            rel = Path(dirpath).relative_to(self.root).as_posix()
            t = file_time(rel + "/")
            os.utime(dirpath, (t, t))
