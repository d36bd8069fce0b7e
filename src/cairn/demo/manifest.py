"""What a demo evidence tree holds: one ``DemoEntry`` per item a scan should meet.

Logical paths follow ``cairn.model.Locator.path``: a POSIX path relative to the evidence root, with
``!/`` between a container and a member inside it (``Downloads/a.zip!/inner/x.jpg``). Role tags are
plain strings so that new kinds of content need no schema change:

* ``image``, ``container``, ``symlink``, ``ext_mismatch``, ``exif``, ``animated``, ``multipage``,
  ``large``, ``text``, ``binary``, ``empty``, ``dangling``, ``mode:<PIL mode>``, ``frames:<n>``;
* ``duplicate_of:<path>``: byte-identical to the entry at ``<path>``;
* ``near_duplicate_of:<path>:<variant>``: a perceptual near-duplicate of ``<path>``;
* ``symlink_to:<path>``: a symbolic link resolving to the entry at ``<path>``;
* ``bad:<code>``: a scan is expected to record ``<code>`` (from ``cairn.errors``) against the item.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from cairn.errors import ALL_CODES
from cairn.model import CONTAINER_SEP

IMAGE = "image"
CONTAINER = "container"
SYMLINK = "symlink"
EXT_MISMATCH = "ext_mismatch"
EXIF = "exif"
ANIMATED = "animated"
MULTIPAGE = "multipage"
LARGE = "large"
TEXT = "text"
BINARY = "binary"
EMPTY = "empty"
DANGLING = "dangling"

DUPLICATE_OF = "duplicate_of:"
NEAR_DUPLICATE_OF = "near_duplicate_of:"
SYMLINK_TO = "symlink_to:"
BAD = "bad:"


def duplicate_of(path: str) -> str:
    """Role tag: byte-identical copy of the entry at ``path``."""
    return DUPLICATE_OF + path


def near_duplicate_of(path: str, variant: str) -> str:
    """Role tag: perceptual near-duplicate of ``path`` made by ``variant`` (e.g. ``crop``)."""
    return f"{NEAR_DUPLICATE_OF}{path}:{variant}"


def symlink_to(path: str) -> str:
    """Role tag: a symbolic link that resolves to the entry at ``path``."""
    return SYMLINK_TO + path


def bad(code: str) -> str:
    """Role tag: the scan should record error ``code``; refuses codes not declared in ``cairn.errors``."""
    if code not in ALL_CODES:
        raise ValueError(f"undeclared error code {code!r}")
    return BAD + code


def member_path(*parts: str) -> str:
    """Logical path of a (possibly nested) archive member: ``member_path("a.zip", "x.jpg")``."""
    return CONTAINER_SEP.join(parts)


@dataclass(frozen=True)
class DemoEntry:
    """One expected item: logical path, role tags, expected content type, and size/SHA-256 of content.

    ``size`` and ``sha256`` are None for symbolic links (they have no content of their own).
    """

    path: str
    roles: tuple[str, ...]
    content_type: str
    size: int | None = None
    sha256: str | None = None

    @property
    def parts(self) -> tuple[str, ...]:
        """The locator parts: the on-disk path, then member names in nested containers."""
        return tuple(self.path.split(CONTAINER_SEP))

    @property
    def in_archive(self) -> bool:
        return CONTAINER_SEP in self.path

    def has(self, role: str) -> bool:
        """True when ``role`` is one of the tags, or (ending in ``:``) a prefix of one."""
        if role.endswith(":"):
            return any(r.startswith(role) for r in self.roles)
        return role in self.roles

    def role_values(self, prefix: str) -> list[str]:
        """The text after ``prefix`` of every tag starting with it (``prefix`` ends in ``:``)."""
        return [r[len(prefix) :] for r in self.roles if r.startswith(prefix)]

    @property
    def bad_codes(self) -> list[str]:
        """Error codes a scan is expected to record against this item."""
        return self.role_values(BAD)

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "roles": list(self.roles),
            "content_type": self.content_type,
            "size": self.size,
            "sha256": self.sha256,
        }


@dataclass(frozen=True)
class DemoManifest:
    """Every entry of one generated demo tree, in path order, with the parameters that made it."""

    seed: int
    size: str
    target: int
    entries: tuple[DemoEntry, ...] = field(default_factory=tuple)

    def __len__(self) -> int:
        return len(self.entries)

    def __iter__(self) -> Iterator[DemoEntry]:
        return iter(self.entries)

    def by_path(self) -> dict[str, DemoEntry]:
        return {e.path: e for e in self.entries}

    def with_role(self, role: str) -> list[DemoEntry]:
        """Entries carrying ``role`` (or, for a ``prefix:``, any tag starting with it)."""
        return [e for e in self.entries if e.has(role)]

    def to_json(self) -> str:
        """Deterministic JSON (sorted keys, entries in path order, trailing newline)."""
        doc = {
            "seed": self.seed,
            "size": self.size,
            "target": self.target,
            "count": len(self.entries),
            "entries": [e.to_dict() for e in sorted(self.entries, key=lambda e: e.path)],
        }
        return json.dumps(doc, sort_keys=True, ensure_ascii=False, indent=1) + "\n"
