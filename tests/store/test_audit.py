"""The audit log: chained hashes, append-only triggers, and real tampering detected by audit_verify."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import DBAPIError

from cairn.store import CaseStore
from cairn.store.audit import GENESIS_HASH, entry_hash

from .helpers import raw_engine


@pytest.fixture
def logged(store: CaseStore) -> CaseStore:
    """A store whose log holds seq 1 (case.created) .. 5."""
    for i in range(4):
        store.audit_append("note", {"n": i, "text": "benign note ü"}, f"examiner-{i}")
    return store


@pytest.fixture
def attacker(store: CaseStore, db_url: str | None) -> Iterator[Engine]:
    engine = raw_engine(store.case_dir, db_url)
    yield engine
    engine.dispose()


def _drop_triggers(conn: Connection) -> None:
    if conn.dialect.name == "sqlite":
        conn.execute(text("DROP TRIGGER audit_log_no_update"))
        conn.execute(text("DROP TRIGGER audit_log_no_delete"))
    else:
        conn.execute(text("DROP TRIGGER audit_log_append_only ON audit_log"))


def _tamper(engine: Engine, *stmts: tuple[str, dict[str, object]]) -> None:
    """As an attacker with database access: drop the protection, then run ``stmts`` (SQL, params)."""
    with engine.begin() as conn:
        _drop_triggers(conn)
        for sql, params in stmts:
            conn.execute(text(sql), params)


def test_chain_is_well_formed(logged: CaseStore) -> None:
    entries = logged.audit_entries()
    assert [e["seq"] for e in entries] == [1, 2, 3, 4, 5]
    assert entries[0]["prev_hash"] == GENESIS_HASH
    for before, entry in zip(entries, entries[1:], strict=False):
        assert entry["prev_hash"] == before["entry_hash"]
    for e in entries:
        assert e["entry_hash"] == entry_hash(
            e["case_id"], e["seq"], e["at"], e["actor"], e["action"], e["details_json"], e["prev_hash"]
        )
        assert e["at"].endswith("+00:00") and "." in e["at"]
    assert entries[2]["details_json"] == '{"n":1,"text":"benign note ü"}'
    assert logged.audit_verify() == []
    anchor = json.loads((logged.case_dir / "audit-head.json").read_text())
    assert anchor == {"case_id": logged.case_id, "seq": 5, "entry_hash": entries[-1]["entry_hash"]}
    appended = logged.audit_append("export", {"rows": 3}, "examiner")
    assert appended["seq"] == 6 and appended["details"] == {"rows": 3}
    assert json.loads((logged.case_dir / "audit-head.json").read_text())["seq"] == 6


@pytest.mark.parametrize("statement", ["UPDATE audit_log SET actor = 'mallory'", "DELETE FROM audit_log"])
def test_triggers_block_update_and_delete(logged: CaseStore, attacker: Engine, statement: str) -> None:
    with pytest.raises(DBAPIError, match="append-only"), attacker.begin() as conn:
        conn.execute(text(statement))
    assert logged.audit_verify() == []
    assert len(logged.audit_entries()) == 5


def test_trigger_blocks_truncate_on_postgresql(logged: CaseStore, attacker: Engine) -> None:
    if attacker.dialect.name != "postgresql":
        pytest.skip("TRUNCATE exists only on PostgreSQL")
    with pytest.raises(DBAPIError, match="append-only"), attacker.begin() as conn:
        conn.execute(text("TRUNCATE audit_log"))
    assert len(logged.audit_entries()) == 5


def test_edited_details_detected(logged: CaseStore, attacker: Engine) -> None:
    _tamper(attacker, ("UPDATE audit_log SET details_json = :d WHERE seq = 3", {"d": '{"n":99}'}))
    problems = logged.audit_verify()
    assert any("seq 3" in p and "edited" in p for p in problems), problems


def test_deleted_middle_row_detected(logged: CaseStore, attacker: Engine) -> None:
    _tamper(attacker, ("DELETE FROM audit_log WHERE seq = 3", {}))
    problems = logged.audit_verify()
    assert any("missing" in p and "3" in p for p in problems), problems
    assert any("seq 4" in p and "prev_hash" in p for p in problems), problems


def test_deleted_last_row_detected(logged: CaseStore, attacker: Engine) -> None:
    _tamper(attacker, ("DELETE FROM audit_log WHERE seq = 5", {}))
    problems = logged.audit_verify()
    assert problems and any("truncated" in p for p in problems), problems


def test_swapped_rows_detected(logged: CaseStore, attacker: Engine) -> None:
    cols = "at, actor, action, details_json, prev_hash, entry_hash"
    with attacker.connect() as conn:
        r2 = conn.execute(text(f"SELECT {cols} FROM audit_log WHERE seq = 2")).mappings().one()
        r4 = conn.execute(text(f"SELECT {cols} FROM audit_log WHERE seq = 4")).mappings().one()
    sets = {
        2: ", ".join(f"{c} = :{c}" for c in r4),
        4: ", ".join(f"{c} = :{c}" for c in r2),
    }
    with attacker.begin() as conn:
        _drop_triggers(conn)
        conn.execute(text(f"UPDATE audit_log SET {sets[2]} WHERE seq = 2"), dict(r4))
        conn.execute(text(f"UPDATE audit_log SET {sets[4]} WHERE seq = 4"), dict(r2))
    problems = logged.audit_verify()
    assert any("seq 2" in p for p in problems) and any("seq 4" in p for p in problems), problems


def test_rewritten_chain_caught_by_anchor(logged: CaseStore, attacker: Engine) -> None:
    """An attacker who edits a row and recomputes every later hash still differs from the anchor."""
    rows = logged.audit_entries()
    prev = rows[1]["entry_hash"]
    stmts: list[tuple[str, dict[str, object]]] = []
    for e in rows[2:]:
        details = '{"n":42}' if e["seq"] == 3 else e["details_json"]
        h = entry_hash(e["case_id"], e["seq"], e["at"], e["actor"], e["action"], details, prev)
        stmts.append(
            (
                "UPDATE audit_log SET details_json = :d, prev_hash = :p, entry_hash = :h WHERE seq = :s",
                {"d": details, "p": prev, "h": h, "s": e["seq"]},
            )
        )
        prev = h
    _tamper(attacker, *stmts)
    problems = logged.audit_verify()
    assert len(problems) == 1 and "anchored" in problems[0], problems


def test_missing_anchor_reported_only_for_nonempty_log(logged: CaseStore, tmp_path: Path) -> None:
    (logged.case_dir / "audit-head.json").unlink()
    problems = logged.audit_verify()
    assert len(problems) == 1 and "missing" in problems[0]
    logged.audit_append("note", {}, "examiner")  # the next append re-anchors
    assert logged.audit_verify() == []


def test_corrupt_anchor_reported(logged: CaseStore) -> None:
    (logged.case_dir / "audit-head.json").write_text("not json")
    assert any("unreadable" in p for p in logged.audit_verify())
