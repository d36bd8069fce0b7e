"""Shared fixtures: demo evidence generated once per session and scanned once into a SQLite case."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from cairn.demo import DemoManifest, generate
from cairn.pipeline.scan import ScanSummary, scan
from cairn.settings import ScanSettings
from cairn.store import CaseStore
from tests.store.pg import pg_schema_url

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


@dataclass(frozen=True)
class ScannedDemo:
    evidence: Path
    case_dir: Path
    manifest: DemoManifest
    summary: ScanSummary
    before: dict[str, tuple[str, float, int]]


def snapshot(root: Path) -> dict[str, tuple[str, float, int]]:
    """Every regular file's SHA-256, mtime and size, and every link's target: to prove nothing changed."""
    out: dict[str, tuple[str, float, int]] = {}
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            path = Path(dirpath, name)
            st = path.lstat()
            if path.is_symlink():
                out[str(path)] = (os.readlink(path), st.st_mtime, st.st_size)
            else:
                out[str(path)] = (hashlib.sha256(path.read_bytes()).hexdigest(), st.st_mtime, st.st_size)
    return out


@pytest.fixture(scope="session")
def demo_evidence(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, DemoManifest]:
    root = tmp_path_factory.mktemp("demo") / "evidence"
    return root, generate(root, "small", seed=7)


@pytest.fixture(scope="session")
def scanned_demo(demo_evidence: tuple[Path, DemoManifest], tmp_path_factory: pytest.TempPathFactory) -> ScannedDemo:
    evidence, manifest = demo_evidence
    before = snapshot(evidence)
    case_dir = tmp_path_factory.mktemp("case")
    with CaseStore.open(case_dir) as store:
        summary = scan(evidence, store, ScanSettings(workers=2), actor="tester", show_progress=False)
    return ScannedDemo(evidence, case_dir, manifest, summary, before)


@pytest.fixture()
def demo_store(scanned_demo: ScannedDemo) -> Iterator[CaseStore]:
    with CaseStore.open(scanned_demo.case_dir) as store:
        yield store
