"""Tests of cairn.sources, and builders of the small benign archives they use."""

from __future__ import annotations

import io
import random
import tarfile
import zipfile
from pathlib import Path

from cairn.model import EvidenceItem
from cairn.settings import Limits
from cairn.sources.base import EvidenceSource, SkipFn


def blob(seed: int, n: int) -> bytes:
    """Deterministic incompressible bytes."""
    return random.Random(seed).randbytes(n)


def zip_bytes(members: list[tuple[str, bytes]], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=method) as zf:
        for name, data in members:
            info = zipfile.ZipInfo(name, date_time=(2020, 1, 2, 3, 4, 6))
            info.compress_type = method
            zf.writestr(info, data)
    return buf.getvalue()


def tar_bytes(members: list[tuple[str, bytes]], mode: str = "w:gz") -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode=mode) as tf:  # type: ignore[call-overload]
        for name, data in members:
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            ti.mtime = 1_600_000_000
            tf.addfile(ti, io.BytesIO(data))
    return buf.getvalue()


def collect(
    src: EvidenceSource, limits: Limits | None = None, skip: SkipFn | None = None
) -> list[EvidenceItem]:
    return list(src.items(limits or Limits(), skip))


def by_path(items: list[EvidenceItem]) -> dict[str, EvidenceItem]:
    out = {i.locator.path: i for i in items}
    assert len(out) == len(items), "logical paths must be unique"
    return out


def content(item: EvidenceItem) -> bytes:
    if item.data is not None:
        return item.data
    path = item.spool_path or item.os_path
    assert path is not None, f"{item.locator.path} has no content"
    return Path(path).read_bytes()


def codes(item: EvidenceItem) -> set[str]:
    return {e.code for e in item.errors}


def write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path
