"""Scan settings: every knob that can change a result, recorded with each scan run.

Two limits depend on the machine by default, and are therefore *resolved* before a scan starts and
recorded resolved, so the recorded value (never the machine) decides a result:

* ``Limits.decode_memory_budget``: bytes one worker may spend decoding one picture (its pixels, their
  normalisation to RGB and the decoder's own buffers). Default (``None``): half the machine's physical
  memory divided by the number of workers, rounded down to a MiB, at least 256 MiB
  (:func:`default_decode_memory_budget`). A picture over it is decoded at reduced scale where the format
  allows (JPEG), with an ``image_reduced_decode`` note, or refused with ``image_bomb``. A scan that resumes
  stored work takes the budget recorded by the earlier run unless one is given explicitly.
* ``Limits.item_timeout`` / ``Limits.item_timeout_per_gib``: the wall-clock budget of one item, in seconds:
  ``item_timeout + item_timeout_per_gib * size in GiB`` (so a large file may take time to read). Past it
  the item gets a ``timeout`` error and its worker process is replaced. 0 disables the timeout. Timeouts
  are measured on this machine: a much slower machine may time out where a fast one did not.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field, replace
from typing import Any

MIB = 1024**2
#: The smallest default decode budget: enough for a 60 MP RGB photo decoded in full.
MIN_DEFAULT_DECODE_BUDGET = 256 * MIB
#: Assumed when the OS does not say how much memory the machine has.
FALLBACK_MACHINE_MEMORY = 8 * 1024**3


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
    decode_memory_budget: int | None = None  # bytes per worker for one decode; None = machine default
    item_timeout: float = 300.0  # seconds one item may take (plus item_timeout_per_gib); 0 = no timeout
    item_timeout_per_gib: float = 60.0  # extra seconds per GiB of the item's size


def machine_memory() -> int:
    """Physical memory of this machine in bytes (a fallback of 8 GiB where the OS does not say)."""
    try:
        pages, page_size = os.sysconf("SC_PHYS_PAGES"), os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return FALLBACK_MACHINE_MEMORY
    return pages * page_size if pages > 0 and page_size > 0 else FALLBACK_MACHINE_MEMORY


def default_decode_memory_budget(workers: int, memory: int | None = None) -> int:
    """Half of ``memory`` (default: this machine's) shared by ``workers``, in whole MiB, at least 256 MiB."""
    total = machine_memory() if memory is None else memory
    share = total // 2 // max(1, workers)
    return max(MIN_DEFAULT_DECODE_BUDGET, share // MIB * MIB)


def decode_memory_budget(limits: Limits, workers: int = 1) -> int:
    """The budget ``limits`` sets, or the machine default for ``workers`` when it sets none."""
    if limits.decode_memory_budget is not None:
        return limits.decode_memory_budget
    return default_decode_memory_budget(workers)


@dataclass(frozen=True)
class ScanSettings:
    """Settings of one scan; ``as_record`` is what the case database stores with the run."""

    limits: Limits = field(default_factory=Limits)
    fast_pdq: bool = False
    thumbnail_size: int = 256
    workers: int = 0  # 0 = one per core
    chunk_size: int = 1024 * 1024
    temp_dir: str | None = None  # where large archive members are spooled (never inside the evidence)
    watermarks: str = "auto"  # invisible-watermark decode: auto (records or generator sizes), all, off
    detector: str | None = None  # absolute path of an AI-image detector config (signals/detector); None = off

    def as_record(self) -> dict[str, Any]:
        return asdict(self)

    def resolved(self, workers: int, decode_budget: int | None = None) -> ScanSettings:
        """These settings with every machine-dependent default made explicit, as a run records them.

        ``decode_budget`` (e.g. the value an earlier run of the same evidence recorded) is used when the
        limits set none; otherwise the machine default for ``workers`` is.
        """
        if self.limits.decode_memory_budget is not None:
            return self
        budget = decode_budget if decode_budget is not None else default_decode_memory_budget(workers)
        return replace(self, limits=replace(self.limits, decode_memory_budget=budget))
