"""Plain data every stage speaks: where an item lives, what a scan found, what went wrong.

Frozen dataclasses only; no stage passes ORM objects or open files across its boundary. Everything here
is picklable so it can cross a process (or, later, a Ray) boundary.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

#: Separator between a container's logical path and a member inside it (``evidence.zip!/inner/a.jpg``).
CONTAINER_SEP = "!/"

#: Bidirectional-text controls: shown raw they reorder what a screen shows (``photo\u202egpj.exe``).
BIDI_CONTROLS = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
#: What an empty name (an archive entry with no name) is shown as; no escaped name can be spelt so.
EMPTY_NAME = "%(empty)"


def _escaped(ch: str) -> str | None:
    """The escape for one character, or None when it is shown as itself."""
    code = ord(ch)
    if ch == "%":
        return "%25"
    if 0xDC80 <= code <= 0xDCFF:  # a byte that was not valid UTF-8 (os.fsdecode's surrogate escape)
        return f"%{code - 0xDC00:02X}"
    if code < 0x20 or code == 0x7F:
        return f"%{code:02X}"
    if (0x80 <= code <= 0x9F) or (0xD800 <= code <= 0xDFFF) or ch in BIDI_CONTROLS or code in (0x2028, 0x2029):
        return f"%u{code:04X}"
    return None


def storable_name(text: str) -> str:
    """``text`` with every character a database, terminal or reader could mistake shown as an escape.

    The mapping is injective (two different texts never give one result), because ``%`` itself is
    escaped: ``%`` -> ``%25``; a byte that was not valid UTF-8 (a surrogate escape from ``os.fsdecode``)
    -> ``%XX`` of that byte; an ASCII control (NUL, newline, ...) -> ``%XX`` of its code point; a C1
    control, a lone surrogate, a bidi control (U+202A-202E, U+2066-2069, U+200E/200F, U+061C) or a
    line/paragraph separator -> ``%uXXXX``. Every other character passes unchanged, so after a ``%``
    there is always ``u`` and four hex digits or two hex digits, never anything else.
    """
    if "%" not in text and text.isprintable():  # bidi controls (Cf) and C1/line separators are never printable
        return text
    out = []
    for ch in text:
        esc = _escaped(ch)
        out.append(ch if esc is None else esc)
    return "".join(out)


def is_odd_name(raw: str) -> bool:
    """True for a raw name that is empty or holds NUL or a bidi control (recorded with an ``odd_name`` note)."""
    return not raw or "\x00" in raw or not BIDI_CONTROLS.isdisjoint(raw)


def escape_path(raw: str) -> str:
    """A raw POSIX relative path (components split on ``/``) as one escaped locator part.

    Each component is escaped with ``storable_name``; a component that ends in ``!`` and is not the last
    ends in ``%21`` instead, so no part can hold the ``!/`` that separates a container from its members.
    Injective for paths whose components are not empty (file-system paths; archive member names are
    normalised first by ``cairn.sources.containers.member_label``).
    """
    comps = [storable_name(c) for c in raw.split("/")]
    for i in range(len(comps) - 1):
        if comps[i].endswith("!"):
            comps[i] = comps[i][:-1] + "%21"
    return "/".join(comps)


@dataclass(frozen=True)
class Locator:
    """Identity of one item: a chain of names from the evidence root through nested containers.

    ``parts`` are already escaped (see ``storable_name`` and ``escape_path``) and are kept as given:
    nothing here escapes them again, so a locator survives ``parent``/``child``/pickling unchanged.
    Build one from raw names with ``Locator.of(rel)`` and ``child(raw_member)``; the engine, which also
    normalises hostile member names, adds its own escaped part with ``child_escaped``. ``parts[0]`` is the
    path relative to the evidence root (POSIX separators); each further part is a member name inside the
    container named by the part before it. The display path is derived from the parts, never the reverse.
    """

    parts: tuple[str, ...]

    @classmethod
    def of(cls, raw_rel: str) -> Locator:
        """The locator of a file at raw relative path ``raw_rel`` under the evidence root."""
        return cls((escape_path(raw_rel),))

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

    def child(self, raw_member: str) -> Locator:
        """The member at raw POSIX path ``raw_member`` inside this container (escaped here, once)."""
        return Locator((*self.parts, escape_path(raw_member)))

    def child_escaped(self, name: str) -> Locator:
        """The member whose name is already escaped (the container engine's normalised labels)."""
        return Locator((*self.parts, name))


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
