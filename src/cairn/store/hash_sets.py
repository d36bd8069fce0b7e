"""Hash sets in the case database: imported once per database, used by every case in it.

Contract:

* A set is a ``hash_sets`` row (name unique per database, the source file's SHA-256, format, scheme, whether it
  is known-harmless) and one ``hash_set_entries`` row per hash of each record; a record's hashes share its
  ``record_no``. Every entry keeps its category *with its scheme* (``category_value`` NULL = uncategorised,
  never 0). The record's first row keeps its comments and the source's own fields (``extra_json``), so an
  export writes them back.
* Import streams: records come from a format reader (an iterator), are inserted by driver-level
  ``executemany`` statements sized to the backend's bind-parameter limit, a few statements per transaction,
  one transaction per batch, so memory stays flat whatever the file's size.
* No half sets: the set row is written first with ``status='importing'``; only :func:`finish_import` (one
  transaction, with the caller's audit entry) makes it ``complete``. An import that fails part-way removes its
  rows (:func:`discard`); one killed outright leaves an ``importing`` set that readers ignore and the next
  import removes (:func:`begin_import`).
* The same source file (same SHA-256) is imported once: a second import raises :class:`HashSetRefused`, as does
  a name already taken.

Plain dicts and ``HashRecord``s come out; the tables stay in ``cairn.store``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, RowMapping, delete, func, select, update

from cairn.matching.formats.base import HashRecord
from cairn.matching.schemes import Category, SchemeError, get_scheme
from cairn.store.db import max_bind_params, read_connection, write_connection
from cairn.store.schema import hash_set_entries, hash_sets

IMPORTING = "importing"
COMPLETE = "complete"
#: Most rows one import transaction carries (a batch is also bounded by the bind limit per statement).
MAX_BATCH_ROWS = 20_000
#: Statements of ``batch_rows`` rows each per import transaction (fewer commits: a commit is a sync to disk).
STATEMENTS_PER_BATCH = 16
#: Records read per page when a set is read back for export.
READ_PAGE = 5_000
#: The columns an import writes, in the order of :func:`entry_rows`' tuples (the id is generated).
ENTRY_FIELDS = (
    "set_id", "record_no", "kind", "value", "category_scheme", "category_value", "series", "flags_json",
    "comments", "extra_json",
)
_ENTRY_COLUMNS = len(ENTRY_FIELDS)


class HashSetRefused(ValueError):
    """An import that must not happen: the same file is already imported, or the name is taken."""


@dataclass(frozen=True)
class SetSource:
    """What is known of a set before its records are read: its name, file, format, scheme and who imports it."""

    name: str
    source_sha256: str
    source_name: str
    format: str
    scheme: str
    ignorable: bool
    imported_by: str


def file_sha256(path: Path, chunk: int = 1 << 20) -> str:
    """The SHA-256 of ``path``'s bytes, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while block := stream.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def batch_rows(engine: Engine) -> int:
    """Entry rows per statement (and per transaction): the bind limit over the columns, at most ``MAX_BATCH_ROWS``."""
    return max(1, min(MAX_BATCH_ROWS, max_bind_params(engine) // _ENTRY_COLUMNS - 1))


def begin_import(engine: Engine, source: SetSource, utc_now: str) -> int:
    """Write the set row as ``importing`` and return its id; refuse a file or name already imported.

    A leftover ``importing`` set with the same name or digest (an import that was killed) is removed first.
    """
    with write_connection(engine) as conn:
        rows = conn.execute(
            select(hash_sets.c.id, hash_sets.c.name, hash_sets.c.status, hash_sets.c.source_sha256).where(
                (hash_sets.c.name == source.name) | (hash_sets.c.source_sha256 == source.source_sha256)
            )
        ).all()
    for set_id, name, status, sha in rows:
        if status != COMPLETE:
            discard(engine, int(set_id))
        elif sha == source.source_sha256:
            raise HashSetRefused(
                f"{source.source_name} (SHA-256 {sha}) is already imported as hash set {name!r}: "
                "every case in this database can use it already (see `cairn hashset list`)"
            )
        else:
            raise HashSetRefused(f"a hash set named {name!r} already exists: choose another --name")
    with write_connection(engine) as conn:
        return int(
            conn.execute(
                hash_sets.insert().returning(hash_sets.c.id),
                {
                    "name": source.name,
                    "source_sha256": source.source_sha256,
                    "source_name": source.source_name,
                    "format": source.format,
                    "scheme": source.scheme,
                    "ignorable": source.ignorable,
                    "status": IMPORTING,
                    "imported_at": utc_now,
                    "imported_by": source.imported_by,
                    "record_count": 0,
                    "warning_count": 0,
                    "details_json": "{}",
                },
            ).scalar_one()
        )


def insert_records(
    engine: Engine, set_id: int, records: Iterable[HashRecord], progress: Callable[[int], None] | None = None
) -> int:
    """Insert ``records`` into set ``set_id`` in batches (one transaction each); return the records inserted.

    A statement carries at most :func:`batch_rows` rows, a transaction ``STATEMENTS_PER_BATCH`` statements.
    ``progress`` is called with the number of records inserted so far after each transaction.
    """
    per_statement = batch_rows(engine)
    per_batch = per_statement * STATEMENTS_PER_BATCH
    sql = _insert_sql(engine)
    pending: list[tuple[Any, ...]] = []
    count = 0
    for record in records:
        count += 1
        pending.extend(entry_rows(set_id, count, record))
        if len(pending) >= per_batch:
            _insert(engine, sql, pending, per_statement)
            pending = []
            if progress is not None:
                progress(count)
    if pending:
        _insert(engine, sql, pending, per_statement)
    if progress is not None:
        progress(count)
    return count


def _insert_sql(engine: Engine) -> str:
    """The driver-level INSERT of one entry row (positional parameters in the driver's style)."""
    mark = "?" if engine.dialect.paramstyle == "qmark" else "%s"
    return (
        f"INSERT INTO {hash_set_entries.name} ({', '.join(ENTRY_FIELDS)}) "
        f"VALUES ({', '.join([mark] * len(ENTRY_FIELDS))})"
    )


def _insert(engine: Engine, sql: str, rows: list[tuple[Any, ...]], per_statement: int) -> None:
    """Insert ``rows`` in one transaction, ``per_statement`` rows per driver ``executemany``."""
    with write_connection(engine) as conn:
        for start in range(0, len(rows), per_statement):
            conn.exec_driver_sql(sql, rows[start : start + per_statement])


def entry_rows(set_id: int, record_no: int, record: HashRecord) -> list[tuple[Any, ...]]:
    """The ``hash_set_entries`` rows of one record (``ENTRY_FIELDS`` order): one per hash; comments and
    extras on the first only."""
    cat = record.category
    scheme, value = (cat.scheme, str(cat.value)) if cat is not None else (None, None)
    flags = _json(dict(record.flags)) if record.flags else None
    extra = _json(dict(record.extra)) if record.extra else None
    rows = []
    first = True
    for kind, digest in record.hashes.items():
        rows.append(
            (
                set_id, record_no, kind, digest, scheme, value, record.series, flags,
                record.comments if first else None, extra if first else None,
            )
        )
        first = False
    return rows


def finish_import(
    conn: Connection, set_id: int, records: int, warnings: int, details: Mapping[str, Any]
) -> None:
    """Mark set ``set_id`` complete with its counts, inside the caller's transaction (which also audits it)."""
    conn.execute(
        update(hash_sets)
        .where(hash_sets.c.id == set_id)
        .values(status=COMPLETE, record_count=records, warning_count=warnings, details_json=_json(dict(details)))
    )


def discard(engine: Engine, set_id: int) -> None:
    """Remove set ``set_id`` and its entries, in batches (each its own transaction), the set row last."""
    step = batch_rows(engine)
    while True:
        with write_connection(engine) as conn:
            ids = list(
                conn.execute(
                    select(hash_set_entries.c.id).where(hash_set_entries.c.set_id == set_id).limit(step)
                ).scalars()
            )
            if not ids:
                conn.execute(delete(hash_sets).where(hash_sets.c.id == set_id))
                return
            conn.execute(delete(hash_set_entries).where(hash_set_entries.c.id.in_(ids)))


def list_sets(engine: Engine, *, include_incomplete: bool = False) -> list[dict[str, Any]]:
    """Every complete set (and, with ``include_incomplete``, those still importing), by name."""
    query = select(hash_sets).order_by(hash_sets.c.name)
    if not include_incomplete:
        query = query.where(hash_sets.c.status == COMPLETE)
    with read_connection(engine) as conn:
        return [_set_dict(r) for r in conn.execute(query).mappings()]


def find_set(engine: Engine, name: str) -> dict[str, Any] | None:
    """The complete set called ``name``, or None."""
    with read_connection(engine) as conn:
        row = (
            conn.execute(select(hash_sets).where(hash_sets.c.name == name, hash_sets.c.status == COMPLETE))
            .mappings()
            .first()
        )
    return _set_dict(row) if row is not None else None


def entry_count(engine: Engine, set_id: int) -> int:
    """How many hash rows set ``set_id`` holds."""
    with read_connection(engine) as conn:
        return int(
            conn.execute(
                select(func.count()).select_from(hash_set_entries).where(hash_set_entries.c.set_id == set_id)
            ).scalar_one()
        )


def iter_records(engine: Engine, set_id: int, *, only_categorised: bool = False) -> Iterator[HashRecord]:
    """The records of set ``set_id`` in import order, read ``READ_PAGE`` records at a time (``record_no`` runs
    from 1 to the set's record count without gaps)."""
    with read_connection(engine) as conn:
        row = conn.execute(
            select(hash_sets.c.ignorable, hash_sets.c.record_count).where(hash_sets.c.id == set_id)
        ).first()
    if row is None:
        raise KeyError(f"no hash set with id {set_id}")
    ignorable, total = bool(row[0]), int(row[1])
    for low in range(0, total, READ_PAGE):
        with read_connection(engine) as conn:
            rows = (
                conn.execute(
                    select(hash_set_entries)
                    .where(
                        hash_set_entries.c.set_id == set_id,
                        hash_set_entries.c.record_no > low,
                        hash_set_entries.c.record_no <= low + READ_PAGE,
                    )
                    .order_by(hash_set_entries.c.record_no, hash_set_entries.c.id)
                )
                .mappings()
                .all()
            )
        yield from _records(rows, ignorable, only_categorised)


def _records(rows: Sequence[RowMapping], ignorable: bool, only_categorised: bool) -> Iterator[HashRecord]:
    group: list[RowMapping] = []
    for row in rows:
        if group and row["record_no"] != group[0]["record_no"]:
            record = _record(group, ignorable)
            if record.category is not None or not only_categorised:
                yield record
            group = []
        group.append(row)
    if group:
        record = _record(group, ignorable)
        if record.category is not None or not only_categorised:
            yield record


def _record(group: list[RowMapping], ignorable: bool) -> HashRecord:
    first = group[0]
    return HashRecord(
        hashes={str(r["kind"]): str(r["value"]) for r in group},
        category=_category(first["category_scheme"], first["category_value"]),
        series=first["series"],
        flags=json.loads(first["flags_json"]) if first["flags_json"] else {},
        comments=first["comments"],
        ignorable=ignorable,
        extra=json.loads(first["extra_json"]) if first["extra_json"] else {},
        position=int(first["record_no"]),
    )


def _category(scheme: str | None, value: str | None) -> Category | None:
    """The stored category back: its scheme parses its value (integers for numeric schemes)."""
    if scheme is None or value is None:
        return None
    found = get_scheme(scheme)
    try:
        parsed = found.parse(value)
    except SchemeError:
        return None
    return Category(found.name, parsed, found.label(parsed))


def _set_dict(row: RowMapping) -> dict[str, Any]:
    out = dict(row)
    out["details"] = json.loads(out.pop("details_json") or "{}")
    return out


def _json(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
