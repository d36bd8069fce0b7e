"""Builders for store tests: hand-made FileResults (benign synthetic data) and a raw engine."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine

from cairn.model import FileResult, ItemMeta, Locator
from cairn.store.db import resolve_url


def raw_engine(case_dir: Path, db_url: str | None) -> Engine:
    """A plain engine on the same database, outside CaseStore (what an attacker with DB access has)."""
    return create_engine(resolve_url(case_dir, db_url))


def make_result(path: str, *, size: int = 10, sha256: str | None = None, **kw: Any) -> FileResult:
    """A FileResult for logical ``path`` (``a.zip!/b.txt`` nests) with md5/sha1/sha256 derived from it."""
    digest = sha256 or hashlib.sha256(path.encode()).hexdigest()
    return FileResult(
        locator=Locator(tuple(path.split("!/"))),
        meta=ItemMeta(size=size, mtime=1_700_000_000.25, atime=1_700_000_001.5, ctime=1_700_000_002.75),
        hashes={"md5": digest[:32], "sha1": digest[:40], "sha256": digest},
        **kw,
    )
