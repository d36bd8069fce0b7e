"""Fixtures for store tests: every store test runs on SQLite and on PostgreSQL (own schema per test).

``backend`` and ``db_url`` live in ``tests/conftest.py`` so tests outside the store can run on both too.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from cairn.store import CaseStore


@pytest.fixture
def case_dir(tmp_path: Path) -> Path:
    """A case directory that does not exist yet."""
    return tmp_path / "case-one"


@pytest.fixture
def store(case_dir: Path, db_url: str | None) -> Iterator[CaseStore]:
    """An open CaseStore on the backend under test, closed after the test."""
    with CaseStore.open(case_dir, db_url) as s:
        yield s
