"""A 20k-file write: completes in batches and every count matches (no timing assertions)."""

from __future__ import annotations

from typing import Any

from cairn.model import ImageInfo, ItemError
from cairn.store import CaseStore

from .helpers import make_result

N = 20_000
BATCH = 500


def test_twenty_thousand_files(store: CaseStore) -> None:
    ev = store.register_evidence("/evidence/bulk", "directory", "examiner", {})
    run = store.start_run(ev, "0.1.0", {}, "examiner")
    inserted = 0
    for start in range(0, N, BATCH):
        batch = []
        for i in range(start, start + BATCH):
            kw: dict[str, Any] = {}
            if i % 10 == 0:
                kw["image"] = ImageInfo(32, 16, "RGB", "PNG")
                kw["thumbnail"] = b"thumb"
            if i % 100 == 0:
                kw["errors"] = [ItemError("unreadable", "synthetic")]
            batch.append(make_result(f"dir{i % 50:02d}/file{i:06d}.bin", size=i, **kw))
        inserted += store.write_results(run, ev, batch)
    store.finish_run(run, "completed", {"files": inserted}, "examiner")
    assert inserted == N
    counts = store.counts()
    assert counts["files"] == N and counts["images"] == N // 10 and counts["errors"] == N // 100
    assert counts["bytes"] == sum(range(N))
    assert len(store.done_paths(ev)) == N
    assert sum(1 for _ in store.iter_file_rows(ev)) == N
    assert store.audit_verify() == []
