"""Scan settings: every knob that can change a result, recorded with each scan run."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class Limits:
    """Refusal limits that keep hostile input from exhausting memory, disk or time."""

    max_archive_depth: int = 4  # containers inside containers, counted from the evidence root
    max_member_size: int = 4 * 1024**3  # bytes one archive member may expand to
    max_archive_total: int = 64 * 1024**3  # bytes one archive may expand to in all
    max_archive_ratio: float = 200.0  # expanded / compressed size, per member and per archive
    max_archive_members: int = 1_000_000
    in_memory_member_size: int = 64 * 1024**2  # larger members are spooled to a temp file
    max_image_pixels: int = 200_000_000  # width*height an image may declare before it is refused
    max_image_file_bytes: int = 512 * 1024**2  # larger picture files are hashed but not decoded


@dataclass(frozen=True)
class ScanSettings:
    """Settings of one scan; ``as_record`` is what the case database stores with the run."""

    limits: Limits = field(default_factory=Limits)
    fast_pdq: bool = False
    thumbnail_size: int = 256
    workers: int = 0  # 0 = one per core
    chunk_size: int = 1024 * 1024
    temp_dir: str | None = None  # where large archive members are spooled (never inside the evidence)

    def as_record(self) -> dict[str, Any]:
        return asdict(self)
