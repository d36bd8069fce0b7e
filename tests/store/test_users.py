"""Review-app accounts: per case, argon2id only, audited, refusals that change nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from cairn.store import CaseStore
from cairn.store.schema import users
from cairn.store.users import UserRefused, add_user, authenticate, get_user, list_users

PASSWORD = "correct horse battery"


def test_add_user_stores_an_argon2id_hash_and_audits(store: CaseStore) -> None:
    user = add_user(store, "ana", "reviewer", PASSWORD, "examiner")
    assert (user["name"], user["role"], user["created_by"]) == ("ana", "reviewer", "examiner")
    with store._engine.connect() as conn:
        digest = conn.execute(select(users.c.password_hash).where(users.c.id == user["id"])).scalar_one()
    assert digest.startswith("$argon2id$") and PASSWORD not in digest
    last = store.audit_entries()[-1]
    assert last["action"] == "user.added" and last["actor"] == "examiner"
    assert last["details"] == {"user_id": user["id"], "name": "ana", "role": "reviewer"}
    assert PASSWORD not in last["details_json"] and "argon2" not in last["details_json"]
    assert store.audit_verify() == []
    assert [u["name"] for u in list_users(store)] == ["ana"]


def test_authenticate(store: CaseStore) -> None:
    added = add_user(store, "ana", "admin", PASSWORD, "examiner")
    found = authenticate(store, "ana", PASSWORD)
    assert found is not None and (found.id, found.name, found.role) == (added["id"], "ana", "admin")
    assert authenticate(store, "ana", PASSWORD + "x") is None
    assert authenticate(store, "nobody", PASSWORD) is None
    assert authenticate(store, "ana' OR '1'='1", PASSWORD) is None
    assert authenticate(store, "a" * 10_000, PASSWORD) is None
    assert get_user(store, added["id"]) == found
    assert get_user(store, added["id"] + 1) is None


@pytest.mark.parametrize(
    ("name", "role", "password"),
    [
        ("", "reviewer", PASSWORD),
        ("-dash", "reviewer", PASSWORD),
        ("a b", "reviewer", PASSWORD),
        ("x" * 65, "reviewer", PASSWORD),
        ("ana", "root", PASSWORD),
        ("ana", "reviewer", "short"),
        ("ana", "reviewer", "line\nbreak password"),
    ],
)
def test_refusals_change_nothing(store: CaseStore, name: str, role: str, password: str) -> None:
    before = store.audit_entries()
    with pytest.raises(UserRefused):
        add_user(store, name, role, password, "examiner")
    assert store.audit_entries() == before and list_users(store) == []


def test_a_taken_name_is_refused(store: CaseStore) -> None:
    add_user(store, "ana", "reviewer", PASSWORD, "examiner")
    with pytest.raises(UserRefused, match="already exists"):
        add_user(store, "ana", "admin", PASSWORD, "examiner")
    assert [(u["name"], u["role"]) for u in list_users(store)] == [("ana", "reviewer")]


def test_users_belong_to_one_case(tmp_path: Path, db_url: str | None) -> None:
    first = tmp_path / "alpha"
    with CaseStore.open(first, db_url) as a:
        add_user(a, "ana", "admin", PASSWORD, "examiner")
        url = db_url or f"sqlite:///{first / 'case.db'}"
    with CaseStore.open(tmp_path / "beta", url) as b:  # the same database, another case
        assert list_users(b) == []
        assert authenticate(b, "ana", PASSWORD) is None
        add_user(b, "ana", "reviewer", PASSWORD, "examiner")  # the same name in another case is another user
        found = authenticate(b, "ana", PASSWORD)
        assert found is not None and found.role == "reviewer"


def test_settings_passwords_and_disabling(store: CaseStore) -> None:
    from cairn.store.users import set_disabled, set_password, set_settings

    add_user(store, "ana", "reviewer", PASSWORD, "examiner")
    ana = authenticate(store, "ana", PASSWORD)
    assert ana is not None and (ana.blur_radius, ana.greyscale) == (12, True)
    for radius in (0, 1, 13, 100):
        with pytest.raises(UserRefused):
            set_settings(store, ana, radius, True)
    before = len(store.audit_entries())
    assert set_settings(store, ana, 12, True) == ana and len(store.audit_entries()) == before  # unchanged: no entry
    changed = set_settings(store, ana, 8, False)
    assert (changed.blur_radius, changed.greyscale) == (8, False) and get_user(store, ana.id) == changed
    assert store.audit_entries()[-1]["action"] == "user.settings_changed"
    with pytest.raises(UserRefused):
        set_password(store, "ana", "a new benign password", "ana", old_password="wrong one!")
    with pytest.raises(UserRefused):
        set_password(store, "ana", "short", "examiner")
    assert authenticate(store, "ana", PASSWORD) is not None
    set_password(store, "ana", "a new benign password", "examiner")
    assert authenticate(store, "ana", PASSWORD) is None and authenticate(store, "ana", "a new benign password")
    with pytest.raises(UserRefused):
        set_disabled(store, "ana", True, "ana")
    set_disabled(store, "ana", True, "examiner")
    assert authenticate(store, "ana", "a new benign password") is None
    assert [u["disabled"] for u in list_users(store)] == [True]
    set_disabled(store, "ana", False, "examiner")
    assert authenticate(store, "ana", "a new benign password") is not None
    acts = [e["action"] for e in store.audit_entries()]
    assert acts[-3:] == ["user.password_changed", "user.disabled", "user.enabled"]
    assert store.audit_verify() == []
