"""Which case of a database a case folder is: found by the id in ``CASE_DIR/case.json``, not by a name.

Lookup (:func:`find_case`, the same for read and write commands):

1. the folder's ``uid`` (``case.json``), when the database has a case with it;
2. else the case named like the folder (``case_name``), or, when the database is the folder's own
   ``case.db`` and holds a single case, that case (a legacy SQLite folder that was renamed);
3. a case found by name whose uid differs from the folder's is another case: :class:`CaseFolderMismatch`.
   In a shared database a folder without a uid may claim a case only if the case has no uid and was made
   there (or the folder holds its audit anchor), or the case has a uid and the folder holds its anchor
   (``case.json`` lost): any other folder of the same name is a second folder claiming the case.

Write commands then :func:`claim` it: create the case (folder's ``case.json`` first, then the row, audited
``case.created``), or give a legacy case (no uid) an id (``case.json`` first, then ``cases.uid``, audited
``case.uid_recorded``), or restore a lost ``case.json``. Read commands write nothing: a legacy case stays
without an id until the next write command.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, select, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql import ColumnElement

from cairn.case_config import CaseConfig, new_uid, record
from cairn.store import audit as _audit
from cairn.store.migrate import HEAD_REVISION
from cairn.store.schema import audit_log, cases


class CaseFolderMismatch(ValueError):
    """The case folder and the case the database holds under its name or id are not the same case."""


class CaseOpenError(RuntimeError):
    """A read command cannot open the case (no case, no database, a schema it cannot read)."""


class CaseNotFound(CaseOpenError):
    """The database holds no case for this folder."""


@dataclass(frozen=True)
class CaseRow:
    """The identity of one case row."""

    id: int
    name: str
    uid: str | None


def check_readable(conn: Connection) -> None:
    """Raise :class:`CaseOpenError` unless the database is at this cairn's schema revision.

    A read command never migrates, so a database at another revision is refused with what to do: an older
    one is upgraded by ``cairn upgrade`` (a write command: on a copy, for a case on read-only media), a newer
    one is read with the cairn that made it.
    """
    try:
        revisions = [str(r) for r in conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalars()]
    except DBAPIError as exc:
        raise CaseOpenError(
            "this database holds no cairn case (no schema version table); check --db and the case folder"
        ) from exc
    if revisions == [HEAD_REVISION]:
        return
    shown = ", ".join(revisions) or "none"
    if revisions and all(r.isdigit() and int(r) < int(HEAD_REVISION) for r in revisions):
        raise CaseOpenError(
            f"the case database is at schema revision {shown}, older than this cairn's ({HEAD_REVISION}), and "
            "read commands never change a case. Run `cairn upgrade --case CASE_DIR` first (on a copy of the "
            "case folder if it is on read-only media), or read it with the cairn version that made it"
        )
    raise CaseOpenError(
        f"the case database is at schema revision {shown}, which this cairn (revision {HEAD_REVISION}) does not "
        "know: it was made by a newer cairn. Read it with that version"
    )


def find_case(conn: Connection, case_dir: Path, config: CaseConfig, name: str, *, own_db: bool) -> CaseRow | None:
    """The case ``case_dir`` is in this database (see the module notes), or None when there is none."""
    if config.uid is not None:
        row = _one(conn, cases.c.uid == config.uid)
        if row is not None:
            return row
    row = _one(conn, cases.c.name == name)
    if row is None and own_db:
        only = conn.execute(select(cases.c.id).order_by(cases.c.id).limit(2)).scalars().all()
        row = _one(conn, cases.c.id == only[0]) if len(only) == 1 else None
    if row is None:
        return None
    if config.uid is not None and row.uid is not None and row.uid != config.uid:
        raise CaseFolderMismatch(
            f"case folder {case_dir} holds case id {config.uid}, but the case {row.name!r} in this database "
            f"has id {row.uid}: they are different cases. Open the folder with the database it was made "
            "with (--db), or use a new case folder"
        )
    if config.uid is None and not own_db:
        made_in = _claimed_elsewhere(conn, row, case_dir)
        if made_in is not None:
            raise CaseFolderMismatch(
                f"the database already holds a case named {row.name!r}, made in {made_in}; {case_dir} has no "
                f"record of it (its {_audit.ANCHOR_FILE} and its case id in case.json are missing): it belongs "
                "to another case folder. Give this case another folder name, or open the folder it was made in."
            )
    return row


def claim(
    conn: Connection,
    case_dir: Path,
    config: CaseConfig,
    name: str,
    *,
    own_db: bool,
    created: Mapping[str, Any],
    append: Callable[[int, str, Mapping[str, Any]], dict[str, Any]],
) -> tuple[CaseRow, dict[str, Any] | None]:
    """Find or create the folder's case inside a write transaction; return it and the audit entry made.

    ``created``: details of the ``case.created`` entry (the uid is added); ``append(case_id, action,
    details)`` appends an audit entry in this transaction.
    """
    row = find_case(conn, case_dir, config, name, own_db=own_db)
    if row is None:
        uid = _folder_uid(case_dir, config)
        new_id = conn.execute(
            cases.insert().returning(cases.c.id), {"name": name, "created_at": _audit.utc_now(), "uid": uid}
        ).scalar_one()
        entry = append(int(new_id), "case.created", {**created, "uid": uid})
        return CaseRow(int(new_id), name, uid), entry
    if row.uid is None:
        uid = _folder_uid(case_dir, config)
        conn.execute(update(cases).where(cases.c.id == row.id).values(uid=uid))
        entry = append(row.id, "case.uid_recorded", {"uid": uid, "case_dir": str(case_dir)})
        return replace(row, uid=uid), entry
    if config.uid != row.uid:
        record(case_dir, uid=row.uid)  # the folder's case.json was lost: find_case proved the folder is the case's
    return row, None


def _folder_uid(case_dir: Path, config: CaseConfig) -> str:
    """The folder's id, written to ``case.json`` first when it has none yet."""
    if config.uid is not None:
        return config.uid
    uid = new_uid()
    record(case_dir, uid=uid)
    return uid


def _one(conn: Connection, where: ColumnElement[bool]) -> CaseRow | None:
    found = conn.execute(select(cases.c.id, cases.c.name, cases.c.uid).where(where)).first()
    if found is None:
        return None
    return CaseRow(int(found[0]), str(found[1]), None if found[2] is None else str(found[2]))


def _claimed_elsewhere(conn: Connection, row: CaseRow, case_dir: Path) -> str | None:
    """Where ``row`` was made, when ``case_dir`` (a folder without a case id) may not claim it; else None."""
    anchor = _audit.read_anchor(case_dir)
    if isinstance(anchor, _audit.Anchor) and anchor.case_id == row.id:
        return None  # the folder holds the case's anchor: the case's own folder (its case.json lost, or legacy)
    created = conn.execute(
        select(audit_log.c.details_json).where(audit_log.c.case_id == row.id, audit_log.c.seq == 1)
    ).scalar()
    made_in = json.loads(created).get("case_dir") if created else None
    if row.uid is None and made_in in (None, str(case_dir)):
        return None  # a legacy case made in this folder (its anchor write cut short)
    return str(made_in or "another folder")
