"""Fixtures of the command-line tests."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def case_args(tmp_path: Path, db_url: str | None) -> list[str]:
    """``--case`` (and ``--db`` on PostgreSQL) for a fresh case of this test."""
    return ["--case", str(tmp_path / "case"), *(["--db", db_url] if db_url else [])]
