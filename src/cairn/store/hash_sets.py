"""Hash sets in the case database: imported once per database, used by every case in it.

Contract:

* A set is a ``hash_sets`` row (name unique per database, the source file's SHA-256, format, scheme, whether it
  is known-harmless) and one ``hash_set_entries`` row per hash of each record; a record's hashes share its
  ``record_no``. Every entry keeps its category *with its scheme* (``category_value`` NULL = uncategorised,
  never 0). The record's first row keeps its comments and the source's own fields (``extra_json``), so an
  export writes them back.
* Import streams: records come from a format reader (an iterator), one transaction per batch of about
  ``batch_rows() * STATEMENTS_PER_BATCH`` rows (whole records), so memory stays flat whatever the file's size.
  SQLite, where the C extension :mod:`cairn.store._bulkinsert` is built and the database is a file: this thread
  reads the file and hands chunks of ``BULK_CHUNK_ROWS`` rows (copied into C memory) to the loader's own thread
  and connection, which insert them without the GIL meanwhile (at most two chunks wait). The loader finds
  SQLite through Python's ``sqlite3`` module, so the process holds one SQLite library, never two on one file.
  Its connection runs ``synchronous=NORMAL``: in WAL mode that never corrupts the database, and a set only
  becomes ``complete`` in :func:`finish_import`'s transaction on the engine's own connection (FULL), whose
  sync of the write-ahead log also makes every batch before it durable. Elsewhere (no extension,
  ``CAIRN_BULK_INSERT=0``, an in-memory database) ``executemany`` over a generator on one connection held
  for the import. Both raise the page cache to ``IMPORT_CACHE_KIB`` for the import; PostgreSQL takes ``COPY
  ... FROM STDIN``. Flags JSON is made once per distinct set of flags, not per row; garbage collection is off
  while the rows go in (records hold no cycles, and a collection walks every record in flight).
* A large import into SQLite defers the ``(kind, value)`` index: once an import has inserted more rows than
  ``DEFER_INDEX_AFTER`` and than the table held before it, the index is dropped (its own transaction), the rest
  is inserted without it, and it is built again in one sorted pass before the import returns (also when it
  fails: the set's rows are removed first). Random inserts into a (kind, value) index far larger than the page
  cache are what make a national-scale import slow; the rebuild costs at most about twice the import's own
  rows (its sorter may use ``PRAGMA threads`` helpers). The index is derived data: no stored value changes.
  While the index is away, exact lookups in the same database still answer correctly, only slowly. An import
  killed outright in that phase leaves the index missing until the next :func:`begin_import` (or
  :func:`ensure_indexes`) builds it again.
* No half sets: the set row is written first with ``status='importing'``; only :func:`finish_import` (one
  transaction, with the caller's audit entry) makes it ``complete``. An import that fails part-way removes its
  rows (:func:`discard`); one killed outright leaves an ``importing`` set that readers ignore and the next
  import removes (:func:`begin_import`).
* The same source file (same SHA-256) is imported once: a second import raises :class:`HashSetRefused`, as does
  a name already taken.

Plain dicts and ``HashRecord``s come out; the tables stay in ``cairn.store``.
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import json
import json.encoder as json_encoder
import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, Index, RowMapping, delete, func, select, update
from sqlalchemy.schema import CreateIndex

from cairn.matching.formats.base import HashRecord
from cairn.matching.schemes import Category, SchemeError, get_scheme
from cairn.store.db import SQLITE_BUSY_TIMEOUT_MS, is_sqlite, max_bind_params, read_connection, write_connection
from cairn.store.schema import hash_set_entries, hash_sets

IMPORTING = "importing"
COMPLETE = "complete"
#: Most rows one import transaction carries (a batch is also bounded by the bind limit per statement).
MAX_BATCH_ROWS = 20_000
#: An import transaction carries this many times ``batch_rows`` rows (fewer commits: a commit is a sync to disk;
#: the rows stream from a generator, so a bigger transaction costs no memory on this side).
STATEMENTS_PER_BATCH = 64
#: Most distinct flag sets whose JSON an import remembers.
MAX_REMEMBERED_FLAGS = 4096
#: SQLite page cache of the import's connection, in KiB (``PRAGMA cache_size=-N``): fixed, whatever the file.
IMPORT_CACHE_KIB = 65_536
#: An import into SQLite drops the (kind, value) index once it has inserted more rows than this and than the
#: table held before it, and builds it again at the end (see the module notes).
DEFER_INDEX_AFTER = 200_000
#: Entry rows per chunk handed to the C loader's thread (while it inserts one, this thread reads the next).
BULK_CHUNK_ROWS = 65_536
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

    A leftover ``importing`` set with the same name or digest (an import that was killed) is removed first, and
    an index such an import left deferred is built again (:func:`ensure_indexes`).
    """
    ensure_indexes(engine)
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
    engine: Engine,
    set_id: int,
    records: Iterable[HashRecord],
    progress: Callable[[int], None] | None = None,
    *,
    defer_index_after: int | None = None,
    rows_per_transaction: int | None = None,
) -> int:
    """Insert ``records`` into set ``set_id`` in batches (one transaction each); return the records inserted.

    A transaction carries whole records, about :func:`batch_rows` times ``STATEMENTS_PER_BATCH`` rows.
    ``progress`` is called with the number of records committed so far after each transaction (the bulk loader
    reports a transaction once its COMMIT has run, without waiting for it). On SQLite the (kind, value) index is
    deferred after ``defer_index_after`` rows (default ``DEFER_INDEX_AFTER``; see the module notes).
    ``rows_per_transaction`` replaces the batch size (tests use small ones).
    """
    per_batch = rows_per_transaction or batch_rows(engine) * STATEMENTS_PER_BATCH
    rows = _EntryRows(set_id, iter(records), per_batch)
    collecting = gc.isenabled()
    gc.disable()  # records make no cycles; a collection walks every record in flight, holding the GIL
    try:
        if is_sqlite(engine):
            after = DEFER_INDEX_AFTER if defer_index_after is None else defer_index_after
            loader = _bulk_loader(engine)
            if loader is not None:
                _insert_sqlite_bulk(engine, loader, rows, progress, after)
            else:
                _insert_sqlite(engine, rows, progress, after)
        else:
            _insert_postgresql(engine, rows, progress)
    finally:
        if collecting:
            gc.enable()
    return rows.count


class _EntryRows:
    """The entry rows of a record stream, handed out one batch (a generator of whole records' rows) at a time."""

    def __init__(self, set_id: int, records: Iterator[HashRecord], per_batch: int) -> None:
        self.set_id = set_id
        self.records = records
        self.per_batch = per_batch
        self.count = 0  # records read so far
        self.done = False  # the records are exhausted
        self._flags: dict[tuple[tuple[str, bool], ...], str] = {}

    def batch(self) -> Iterator[tuple[Any, ...]]:
        """The rows of the next records, stopping after the record that reaches ``per_batch`` rows."""
        set_id = self.set_id
        made = 0
        while made < self.per_batch and not self.done:
            records, rows = self.chunk(min(BULK_CHUNK_ROWS, self.per_batch - made))
            for number, hashes, scheme, value, series, flags, comments, extra in records:
                for kind, digest in hashes.items():
                    yield set_id, number, kind, digest, scheme, value, series, flags, comments, extra
                    comments = extra = None  # on the record's first row only
            made += rows

    def chunk(self, max_rows: int) -> tuple[list[tuple[Any, ...]], int]:
        """The next records as ``(record_no, hashes, scheme, value, series, flags, comments, extra)`` tuples
        (``hashes`` a dict; the values the record's rows share, as stored), stopping after the record that
        reaches ``max_rows`` rows; and the number of rows they make. :meth:`batch` and
        :mod:`cairn.store._bulkinsert` expand them into rows. Sets ``done`` when the records run out."""
        out: list[tuple[Any, ...]] = []
        append = out.append
        flags_json, encode, number = self._flags, _ENCODE, self.count
        made = 0
        try:
            for record in self.records:
                number += 1
                cat = record.category
                scheme, value = (cat.scheme, str(cat.value)) if cat is not None else (None, None)
                flags = None
                if record.flags:
                    key = tuple(record.flags.items())
                    flags = flags_json.get(key)
                    if flags is None:
                        flags = encode(dict(record.flags))
                        if len(flags_json) < MAX_REMEMBERED_FLAGS:
                            flags_json[key] = flags
                hashes = record.hashes
                if type(hashes) is not dict:
                    hashes = dict(hashes)
                extra = record.extra
                append((number, hashes, scheme, value, record.series, flags, record.comments,
                        encode(dict(extra)) if extra else None))
                made += len(hashes)
                if made >= max_rows:
                    return out, made
            self.done = True
            return out, made
        finally:
            self.count = number


def _insert_sqlite(engine: Engine, rows: _EntryRows, progress: Callable[[int], None] | None, defer_after: int) -> None:
    """The SQLite import: one pooled connection, ``executemany`` over each batch's generator, BEGIN IMMEDIATE."""
    sql = _insert_sql(engine)
    raw: Any = engine.raw_connection()
    deferred = False
    try:
        con = raw.driver_connection  # sqlite3.Connection, autocommit (BEGIN is ours, see cairn.store.db)
        cache = con.execute("PRAGMA cache_size").fetchone()[0]
        con.execute(f"PRAGMA cache_size=-{IMPORT_CACHE_KIB}")
        con.execute(f"PRAGMA threads={_threads()}")  # the index build's sorter
        before = con.execute(f"SELECT coalesce(max(id), 0) FROM {hash_set_entries.name}").fetchone()[0]
        inserted = 0
        try:
            while not rows.done:
                if not deferred and inserted > max(defer_after, before):
                    deferred = _transaction(con, lambda: _drop_value_index(con))
                _transaction(con, lambda: con.executemany(sql, rows.batch()))
                inserted = con.execute(f"SELECT coalesce(max(id), 0) FROM {hash_set_entries.name}").fetchone()[0]
                inserted -= before
                if progress is not None:
                    progress(rows.count)
        except BaseException:
            if deferred:
                discard(engine, rows.set_id)  # fewer rows for the index to take back
            raise
        finally:
            if deferred:
                _transaction(con, lambda: con.execute(_value_index_ddl(engine)))
            con.execute(f"PRAGMA cache_size={int(cache)}")
    finally:
        raw.close()


def _bulk_loader(engine: Engine) -> Any | None:
    """A :mod:`cairn.store._bulkinsert` loader on the database file of ``engine`` (the same SQLite library as
    Python's ``sqlite3``), or None where the extension is not built, the SQLite library cannot be shared, the
    database is not a file, or ``CAIRN_BULK_INSERT=0`` (then the ``executemany`` path runs)."""
    if os.environ.get("CAIRN_BULK_INSERT", "1") == "0":
        return None
    path = engine.url.database
    if not path or path == ":memory:" or path.startswith("file:"):
        return None
    try:
        import _sqlite3

        from cairn.store import _bulkinsert  # type: ignore[attr-defined]
    except ImportError:
        return None
    pragmas = (
        "PRAGMA foreign_keys=ON",
        "PRAGMA synchronous=NORMAL",
        f"PRAGMA cache_size=-{IMPORT_CACHE_KIB}",
        f"PRAGMA threads={_threads()}",
    )
    try:
        return _bulkinsert.Loader(_sqlite3.__file__, path, _insert_sql(engine), pragmas, SQLITE_BUSY_TIMEOUT_MS)
    except ImportError:
        return None


def _threads() -> int:
    """Helper threads SQLite's sorter may use to build an index (``PRAGMA threads``)."""
    return max(0, min(4, (os.cpu_count() or 1) - 1)) or 1


def _insert_sqlite_bulk(
    engine: Engine, loader: Any, rows: _EntryRows, progress: Callable[[int], None] | None, defer_after: int
) -> None:
    """The SQLite import through the C loader: this thread reads the file and hands chunks of records over, the
    loader's own thread inserts them meanwhile; one transaction per ``rows.per_batch`` rows, the (kind, value)
    index deferred as in :func:`_insert_sqlite`."""
    with read_connection(engine) as conn:
        before = conn.exec_driver_sql(f"SELECT coalesce(max(id), 0) FROM {hash_set_entries.name}").scalar_one()
    deferred = False
    inserted = 0
    commits: list[tuple[int, int]] = []  # (COMMIT job number, records in the set once it is done), not yet told

    def tell(everything: bool = False) -> None:
        """Report the records of every transaction whose COMMIT has run (never waits for one)."""
        done = loader.completed()
        told = [n for seq, n in commits if everything or seq <= done]
        if told and progress is not None:
            progress(told[-1])
        del commits[: len(told)]

    try:
        try:
            while not rows.done:
                if not deferred and inserted > max(defer_after, before):
                    loader.execute(f"BEGIN IMMEDIATE; {_drop_value_index_sql()}; COMMIT")
                    deferred = True
                loader.submit_sql("BEGIN IMMEDIATE")
                in_transaction = 0
                while in_transaction < rows.per_batch and not rows.done:
                    chunk, made = rows.chunk(min(BULK_CHUNK_ROWS, rows.per_batch - in_transaction))
                    if chunk:
                        loader.submit_records(rows.set_id, chunk)
                    in_transaction += made
                    tell()
                commits.append((loader.submit_sql("COMMIT"), rows.count))
                inserted += in_transaction
                tell()
            loader.wait()
            tell(everything=True)
        except BaseException:
            loader.discard()
            with contextlib.suppress(Exception):  # no transaction open: nothing to take back
                loader.execute("ROLLBACK")
            if deferred:
                discard(engine, rows.set_id)  # fewer rows for the index to take back
            raise
        finally:
            if deferred:
                loader.execute(f"BEGIN IMMEDIATE; {_value_index_ddl(engine)}; COMMIT")
    finally:
        loader.close()


def _transaction(con: Any, work: Callable[[], object]) -> bool:
    """Run ``work`` in one ``BEGIN IMMEDIATE`` transaction of the raw SQLite connection ``con``; True."""
    con.execute("BEGIN IMMEDIATE")
    try:
        work()
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")
    return True


def _insert_postgresql(engine: Engine, rows: _EntryRows, progress: Callable[[int], None] | None) -> None:
    """The PostgreSQL import: one ``COPY ... FROM STDIN`` per batch, each batch its own transaction."""
    sql = f"COPY {hash_set_entries.name} ({', '.join(ENTRY_FIELDS)}) FROM STDIN"
    raw: Any = engine.raw_connection()
    try:
        con = raw.driver_connection  # psycopg.Connection, not autocommit
        try:
            while not rows.done:
                with con.cursor() as cur, cur.copy(sql) as copy:
                    for row in rows.batch():
                        copy.write_row(row)
                con.commit()
                if progress is not None:
                    progress(rows.count)
        except BaseException:
            con.rollback()
            raise
    finally:
        raw.close()


def _value_index() -> Index:
    """The (kind, value) index of ``hash_set_entries`` (exact lookups)."""
    return next(ix for ix in hash_set_entries.indexes if [c.name for c in ix.columns] == ["kind", "value"])


def _value_index_ddl(engine: Engine) -> str:
    """``CREATE INDEX IF NOT EXISTS`` of the (kind, value) index, as the schema names and defines it."""
    return str(CreateIndex(_value_index(), if_not_exists=True).compile(dialect=engine.dialect))


def _drop_value_index(con: Any) -> None:
    con.execute(_drop_value_index_sql())


def _drop_value_index_sql() -> str:
    return f"DROP INDEX IF EXISTS {_value_index().name}"


def ensure_indexes(engine: Engine) -> None:
    """Build the (kind, value) index again if an import killed while it was deferred left it missing (SQLite)."""
    if is_sqlite(engine):
        with write_connection(engine) as conn:
            conn.exec_driver_sql(_value_index_ddl(engine))


def _insert_sql(engine: Engine) -> str:
    """The driver-level INSERT of one entry row (positional parameters in the driver's style)."""
    mark = "?" if engine.dialect.paramstyle == "qmark" else "%s"
    return (
        f"INSERT INTO {hash_set_entries.name} ({', '.join(ENTRY_FIELDS)}) "
        f"VALUES ({', '.join([mark] * len(ENTRY_FIELDS))})"
    )


def entry_rows(set_id: int, record_no: int, record: HashRecord) -> list[tuple[Any, ...]]:
    """The ``hash_set_entries`` rows of one record (``ENTRY_FIELDS`` order): one per hash; comments and
    extras on the first only (what an import stores for it)."""
    rows = _EntryRows(set_id, iter([record]), 1)
    rows.count = record_no - 1
    return list(rows.batch())


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


_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
_ENCODE: Callable[[Any], str] = _ENCODER.encode
_MAKE_C_ENCODER = getattr(json_encoder, "c_make_encoder", None)  # CPython's, private: None elsewhere
if _MAKE_C_ENCODER is not None:  # the same C encoder that ``encode`` builds anew on every call
    _C_ENCODE = _MAKE_C_ENCODER(
        None, _ENCODER.default, json_encoder.encode_basestring, None, ":", ",", False, False, True
    )

    def _encode_fast(value: Any) -> str:
        """``_ENCODE(value)`` for a dict, without building the C encoder again (a third of the time)."""
        return "".join(_C_ENCODE(value, 0))

    _ENCODE = _encode_fast


def _json(value: object) -> str:
    return _ENCODE(value)
