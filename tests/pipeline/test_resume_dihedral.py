"""A resumed scan never mixes pictures stored with dihedral PDQ variants and pictures stored without them."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from sqlalchemy import select, update

from cairn.pipeline.scan import ResumeMismatch, scan
from cairn.settings import ScanSettings
from cairn.signals.image_pdq import PDQ_KINDS
from cairn.store import CaseStore
from cairn.store.schema import scan_runs
from tests.store.helpers import raw_engine


def test_a_run_recorded_without_pdq_kinds_is_not_resumed(tmp_path: Path) -> None:
    evidence = tmp_path / "evidence"
    evidence.mkdir()
    rng = np.random.default_rng(3)
    Image.fromarray(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)).resize((96, 96)).save(evidence / "a.png")
    case = tmp_path / "case"
    with CaseStore.open(case) as store:
        scan(evidence, store, ScanSettings(workers=1), show_progress=False)
        assert [r["settings"]["pdq_kinds"] for r in store.runs()] == [list(PDQ_KINDS)]
        again = scan(evidence, store, ScanSettings(workers=1), show_progress=False)  # same kinds: resumes
        assert again.skipped_already_done == 1
    # the runs as a cairn that stored no dihedral variants recorded them: no pdq_kinds
    engine = raw_engine(case, None)
    try:
        with engine.begin() as conn:
            for run_id, settings in conn.execute(select(scan_runs.c.id, scan_runs.c.settings_json)).all():
                older = {k: v for k, v in json.loads(settings).items() if k != "pdq_kinds"}
                conn.execute(update(scan_runs).where(scan_runs.c.id == run_id).values(settings_json=json.dumps(older)))
    finally:
        engine.dispose()
    with CaseStore.open(case) as store, pytest.raises(ResumeMismatch, match="pdq_kinds"):
        scan(evidence, store, ScanSettings(workers=1), show_progress=False)
