"""A scan interrupted anywhere and resumed stores exactly what a clean scan stores (issue 10, item 18).

The evidence holds a nested archive whose expansion budget trips part-way (see
``tests/sources/hostile_nesting.py``): members stored before the interruption are skipped on resume,
yet they must spend the budget as they did, so ``archive_bomb`` lands on the same member.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from cairn.model import FileResult
from cairn.pipeline.scan import scan
from cairn.settings import Limits, ScanSettings
from cairn.store import CaseStore
from tests.sources import write
from tests.sources.hostile_nesting import RATIO, nested_budget_bomb

SETTINGS = ScanSettings(workers=1, limits=Limits(max_archive_ratio=RATIO))


def _evidence(root: Path) -> Path:
    write(root / "a.txt", b"before")
    write(root / "outer.zip", nested_budget_bomb())
    write(root / "z.txt", b"after")
    return root


def _rows(case: Path, db_url: str | None) -> dict[str, tuple[Any, ...]]:
    with CaseStore.open(case, db_url) as store:
        return {r["path"]: (r["sha256"], r["size"], r["error"], r.get("notes")) for r in store.iter_file_rows()}


def _interrupted_then_resumed(evidence: Path, case: Path, after: int, db_url: str | None) -> None:
    """Stop the scan like a Ctrl-C once ``after`` results are stored, then run it again to the end."""
    with CaseStore.open(case, db_url) as store:
        real = store.store_results
        stored = 0

        def write_then_stop(run_id: int, evidence_id: int, results: Sequence[FileResult]) -> Any:
            nonlocal stored
            if stored >= after:
                raise KeyboardInterrupt
            stored += len(results)
            return real(run_id, evidence_id, results)

        store.store_results = write_then_stop  # type: ignore[method-assign]
        with pytest.raises(KeyboardInterrupt):
            scan(evidence, store, SETTINGS, show_progress=False, batch_items=1)
    with CaseStore.open(case, db_url) as store:
        summary = scan(evidence, store, SETTINGS, show_progress=False, batch_items=1)
    assert summary.status == "completed" and summary.path_collisions == 0
    assert summary.skipped_already_done >= after


def test_resume_stores_what_a_clean_scan_stores(tmp_path: Path, db_url: str | None) -> None:
    evidence = _evidence(tmp_path / "evidence")
    with CaseStore.open(tmp_path / "clean", db_url) as store:
        clean_summary = scan(evidence, store, SETTINGS, show_progress=False)
    clean = _rows(tmp_path / "clean", db_url)
    bombed = [p for p, row in clean.items() if row[2] and "archive_bomb" in row[2] and p.endswith(".bin")]
    assert bombed == ["outer.zip!/l1.zip!/q3.bin"]  # the budget trips inside the inner archive
    assert "outer.zip!/p3.bin" in clean and "z.txt" in clean
    for after in (1, 3, 5, 7):  # before, among and after the loose members whose bytes the budget counts
        case = tmp_path / f"resumed{after}"
        _interrupted_then_resumed(evidence, case, after, db_url)
        assert _rows(case, db_url) == clean, f"interrupted after {after} results"
    assert clean_summary.evidence_digest is not None
