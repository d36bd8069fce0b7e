"""The evidence-source contract: something that yields ``EvidenceItem``s read-only.

A source never writes the evidence and never extracts to disk inside it. Containers found inside a
source (archives now, disk images later) are opened through ``cairn.sources.containers`` so a new
container format is one new module and the pipeline does not change.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Protocol

from cairn.model import EvidenceItem
from cairn.settings import Limits


class OutOfSpace(OSError):
    """The temp folder (where large members are spooled) is full: the machine's problem, not the evidence's.

    Raised out of a source (never recorded on an item) so the scan stops, stores nothing for the item
    being read and can be resumed once there is space; the cause (ENOSPC or EDQUOT) is chained.
    """


#: Called with a logical path; True means the item is already stored and must not be yielded again
#: (its content is not needed). Containers are still opened so their unfinished members are found.
SkipFn = Callable[[str], bool]


class EvidenceSource(Protocol):
    """A root of evidence: a folder, an archive file, later a disk image."""

    kind: str  # "folder", "archive", ...
    root: Path

    @property
    def position(self) -> Callable[[], int]:
        """Bytes of the top-level evidence read so far (call it), for progress display only."""
        ...

    def items(self, limits: Limits, skip: SkipFn | None = None) -> Iterator[EvidenceItem]:
        """Yield every item in a deterministic order; a container comes after its members (one pass)."""
        ...
