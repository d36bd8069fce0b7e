"""Fixtures of the review-app tests: a copy of the scanned demo case with users, the app, logged-in clients."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient

from cairn.review.app import LOGIN_COOKIE, ReviewState, create_app
from cairn.store import CaseStore
from cairn.store import users as users_mod
from tests.conftest import ScannedDemo

PASSWORD = "benign test password"
USERS = {"rita": "reviewer", "ivan": "investigator", "ada": "admin"}


@dataclass
class ReviewCase:
    case_dir: Path
    store: CaseStore
    state: ReviewState


@pytest.fixture
def cheap_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    """argon2id with small costs, so the tests' many logins stay quick (the format and checks are the same)."""
    monkeypatch.setattr(users_mod, "_HASHER", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


@pytest.fixture
def review_case(scanned_demo: ScannedDemo, tmp_path: Path, cheap_hashes: None) -> Iterator[ReviewCase]:
    """A copy of the scanned demo case, grouped (`cairn groups`), with a reviewer, an investigator and an admin."""
    case_dir = tmp_path / "case"
    shutil.copytree(scanned_demo.case_dir, case_dir)
    with CaseStore.open(case_dir) as store:
        store.run_groups(actor="lead")
        for name, role in USERS.items():
            users_mod.add_user(store, name, role, PASSWORD, "lead")
        yield ReviewCase(case_dir, store, ReviewState(store))


@pytest.fixture
def client(review_case: ReviewCase) -> Iterator[TestClient]:
    with TestClient(create_app(review_case.state), follow_redirects=False) as c:
        yield c


def login(client: TestClient, name: str, password: str = PASSWORD) -> int:
    """Log ``client`` in as ``name`` through the login form; return the response's status."""
    client.get("/login")
    token = client.cookies.get(LOGIN_COOKIE)
    return client.post("/login", data={"name": name, "password": password, "csrf": token or ""}).status_code


def csrf_of(client: TestClient) -> str:
    """The session's CSRF token, as the grid page gives it to its script."""
    page = client.get("/grid")
    found = re.search(r'<meta name="csrf-token" content="([^"]+)">', page.text)
    assert found is not None, page.text[:500]
    return found.group(1)
