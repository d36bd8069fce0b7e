"""Pick the evidence source for a path."""

from __future__ import annotations

import os
from pathlib import Path

from cairn.sources.archive_file import ArchiveFileSource, FileSource
from cairn.sources.base import EvidenceSource
from cairn.sources.containers import detect
from cairn.sources.folder import FolderSource, open_readonly


def open_source(path: Path, temp_dir: str | None = None) -> EvidenceSource:
    """A folder -> FolderSource; a recognised container file -> ArchiveFileSource; any other regular
    file -> FileSource. ``temp_dir`` is where large members are spooled (default: the system temp dir;
    never inside the evidence). Raises FileNotFoundError / ValueError for a missing path or one that is
    neither a folder nor a regular file, and OSError when the file cannot be opened."""
    path = Path(path)
    if path.is_dir():
        return FolderSource(path, temp_dir)
    if not path.exists():
        raise FileNotFoundError(f"evidence path {str(path)!r} does not exist")
    if not path.is_file():
        raise ValueError(f"evidence path {str(path)!r} is neither a folder nor a regular file")
    with os.fdopen(open_readonly(os.path.realpath(path)), "rb") as f:
        is_container = detect(f) is not None
    return ArchiveFileSource(path, temp_dir) if is_container else FileSource(path, temp_dir)
