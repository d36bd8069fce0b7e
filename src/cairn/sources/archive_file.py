"""Evidence that is a single file: an archive (``ArchiveFileSource``) or any other file (``FileSource``).

Both behave like a folder holding that one file: ``parts[0]`` is the file's name, the file itself is
yielded (and hashed) first and, when it is a recognised container, its members follow.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from cairn import errors as E
from cairn.model import EvidenceItem, ItemMeta, Locator
from cairn.settings import Limits
from cairn.sources.base import SkipFn
from cairn.sources.folder import ReadPosition, regular_file_items


class FileSource:
    """One evidence file given directly; ``root`` is the file. Containers inside it are still opened."""

    kind = "file"

    def __init__(self, root: Path, temp_dir: str | None = None) -> None:
        self.root = Path(root)
        self.temp_dir = temp_dir
        self.position = ReadPosition()

    def items(self, limits: Limits, skip: SkipFn | None = None) -> Iterator[EvidenceItem]:
        """Yield the file, then its members if it is a container; never raises for unreadable content."""
        name = self.root.name
        path = os.path.realpath(self.root)  # the path the investigator named is followed, once
        try:
            st = os.stat(path)
        except OSError as exc:
            if skip is None or not skip(Locator.of(name).path):
                err = E.item_error(
                    E.UNREADABLE,
                    f"evidence file could not be read ({exc.strerror or exc}); check the path and media.",
                )
                yield EvidenceItem(locator=Locator.of(name), meta=ItemMeta(), errors=(err,))
            return
        yield from regular_file_items(name, path, st, limits, skip, self.temp_dir, self.position)


class ArchiveFileSource(FileSource):
    """Evidence that is itself an archive (zip, tar, tar.gz, ...)."""

    kind = "archive"
