"""Plain data every stage speaks: where an item lives, what a scan found, what went wrong.

Frozen dataclasses only; no stage passes ORM objects or open files across its boundary. Everything here
is picklable so it can cross a process (or, later, a Ray) boundary.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

#: Separator between a container's logical path and a member inside it (``evidence.zip!/inner/a.jpg``).
CONTAINER_SEP = "!/"


def storable_name(text: str) -> str:
    """``text`` with what no database or terminal takes shown as ``%XX``; printable names pass unchanged.

    A byte that was not valid UTF-8 in a file name (a surrogate escape from ``os.fsdecode``) becomes
    ``%XX`` of that byte; control characters (NUL, newline, ...) become ``%XX`` of their code point.
    """
    if text.isprintable():
        return text
    out = []
    for ch in text:
        code = ord(ch)
        if 0xDC80 <= code <= 0xDCFF:
            out.append(f"%{code - 0xDC00:02X}")
        elif code < 0x20 or code == 0x7F or 0xD800 <= code <= 0xDFFF:
            out.append(f"%{code:02X}" if code < 0x100 else f"%u{code:04X}")
        else:
            out.append(ch)
    return "".join(out)


def _unambiguous(part: str) -> str:
    """A folder name ending in ``!`` becomes ``%21``, so no path can fake the ``!/`` container separator."""
    if "!/" not in part:
        return part
    return part.replace("!/", "%21/")


@dataclass(frozen=True)
class Locator:
    """Identity of one item: a chain of names from the evidence root through nested containers.

    ``parts[0]`` is the path relative to the evidence root (POSIX separators); each further part is a
    member name inside the container named by the part before it. The display path is derived from the
    parts, never the reverse.
    """

    parts: tuple[str, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "parts", tuple(_unambiguous(storable_name(p)) for p in self.parts))

    @property
    def path(self) -> str:
        """The stable logical path, e.g. ``evidence.zip!/inner/dir/a.jpg``."""
        return CONTAINER_SEP.join(self.parts)

    @property
    def name(self) -> str:
        return self.parts[-1].rsplit("/", 1)[-1]

    @property
    def depth(self) -> int:
        """0 for a file on the evidence root's file system, 1 inside one container, and so on."""
        return len(self.parts) - 1

    @property
    def parent(self) -> Locator | None:
        """The container holding this item, or None at the top level."""
        return Locator(self.parts[:-1]) if len(self.parts) > 1 else None

    def child(self, member: str) -> Locator:
        return Locator((*self.parts, member))


@dataclass(frozen=True)
class ItemError:
    """A recorded problem with one item: a stable machine code and a message that says what to do."""

    code: str
    message: str


@dataclass(frozen=True)
class ItemMeta:
    """File-system or container metadata of an item, as found (times are POSIX seconds, UTC)."""

    size: int | None = None
    mtime: float | None = None
    atime: float | None = None
    ctime: float | None = None
    kind: str = "file"  # "file" | "symlink" | "other"
    link_target: str | None = None
    mode: int | None = None


@dataclass(frozen=True)
class EvidenceItem:
    """One unit of work produced by an evidence source.

    Exactly one of ``os_path`` (a regular file the worker opens read-only), ``data`` (member bytes held
    in memory) or ``spool_path`` (a large member copied to a temporary file outside the evidence) is set
    for items with content; items that could not be read carry ``error`` and no content.
    """

    locator: Locator
    meta: ItemMeta
    os_path: str | None = None
    data: bytes | None = None
    spool_path: str | None = None
    errors: tuple[ItemError, ...] = ()
    is_container: bool = False  # an archive whose members are yielded as items of their own

    @property
    def has_content(self) -> bool:
        return self.os_path is not None or self.data is not None or self.spool_path is not None


@dataclass(frozen=True)
class ImageInfo:
    """What the one decode of an image told us."""

    width: int
    height: int
    mode: str
    format: str | None
    frames: int = 1
    orientation: int | None = None  # EXIF orientation tag, recorded, never applied before hashing
    exif: bytes | None = None  # raw EXIF block, kept verbatim


@dataclass(frozen=True)
class Finding:
    """A structured observation by a signal, with where in the file it came from."""

    signal: str
    kind: str
    data: dict[str, Any]
    where: str | None = None


@dataclass
class FileResult:
    """Everything the per-item task computed for one item; the pipeline's writer stores it."""

    locator: Locator
    meta: ItemMeta
    is_container: bool = False
    mime: str | None = None
    type_label: str | None = None  # short content type, e.g. "jpeg", "zip", "empty"
    extension_mismatch: bool = False
    hashes: dict[str, str] = field(default_factory=dict)  # kind -> value: md5, sha1, sha256, pdq, ...
    hash_quality: dict[str, int] = field(default_factory=dict)  # kind -> quality (pdq)
    image: ImageInfo | None = None
    thumbnail: bytes | None = None  # WebP, about 256 px on the long side
    findings: list[Finding] = field(default_factory=list)
    errors: list[ItemError] = field(default_factory=list)
    bytes_read: int = 0

    @property
    def path(self) -> str:
        return self.locator.path
