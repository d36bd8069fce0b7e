"""Fixtures for store tests: every store test runs on SQLite and on PostgreSQL (own schema per test)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from cairn.store import CaseStore

from .pg import pg_schema_url

BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """The backend under test: "sqlite" or "postgresql"."""
    return str(request.param)


@pytest.fixture
def db_url(backend: str) -> Iterator[str | None]:
    """None for SQLite (the case directory's case.db), else a PostgreSQL URL bound to a fresh schema."""
    if backend == "sqlite":
        yield None
    else:
        with pg_schema_url() as url:
            yield url


@pytest.fixture
def case_dir(tmp_path: Path) -> Path:
    """A case directory that does not exist yet."""
    return tmp_path / "case-one"


@pytest.fixture
def store(case_dir: Path, db_url: str | None) -> Iterator[CaseStore]:
    """An open CaseStore on the backend under test, closed after the test."""
    with CaseStore.open(case_dir, db_url) as s:
        yield s
