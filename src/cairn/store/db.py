"""Engine and URL handling for the case database: one code path for SQLite and PostgreSQL.

SQLite (the default, ``CASE_DIR/case.db``) runs in WAL mode with foreign keys on and a busy timeout; the
driver's own transaction handling is switched off so that SQLAlchemy's ``begin()`` emits a real
``BEGIN`` (``BEGIN IMMEDIATE`` for connections marked as writers, see :func:`write_connection`).
PostgreSQL URLs (``postgresql://`` or ``postgres://``) are rewritten to the psycopg 3 driver.

A write engine leaves its SQLite database in rollback-journal mode when it closes (:func:`settle_sqlite`), so a
case at rest is one self-contained ``case.db`` that a reader can open without creating ``-wal``/``-shm`` files.

Read commands use :func:`create_read_engine`, which never writes, never creates a file beside the database and
never migrates:

* PostgreSQL: every connection is ``read_only`` (the server refuses any write).
* SQLite in a folder this user can write: ``mode=ro`` (normal locking, so a scan running meanwhile is read
  consistently). A ``case.db-wal`` without its ``-shm`` (a folder copied mid-scan) is read from a private copy.
* SQLite in a folder this user cannot write (write-blocked disk, DVD, another user's folder): with no
  ``case.db-wal`` nobody can be writing there (a writer must create that file), so it is opened ``immutable=1``
  (no locks, no ``-shm`` needed). With a ``-wal`` (a case copied or stopped mid-scan), ``mode=ro`` is tried
  with the ``-wal``/``-shm`` found there; if SQLite cannot read them, the database and its ``-wal`` are read
  from a private copy in the temp folder, removed on close, so the last committed rows are still seen.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

#: File name of the default SQLite database inside the case directory.
SQLITE_FILE = "case.db"

#: Milliseconds a SQLite connection waits for another writer before giving up.
SQLITE_BUSY_TIMEOUT_MS = 60_000

#: Execution option that makes a SQLite transaction start with ``BEGIN IMMEDIATE``.
_WRITE_OPTION = "cairn_write"


def resolve_url(case_dir: Path, db_url: str | None) -> str:
    """Return the SQLAlchemy URL to use: ``db_url`` normalised, or the case directory's SQLite file."""
    if db_url is None or db_url == "":
        return f"sqlite:///{(case_dir / SQLITE_FILE).resolve()}"
    url = make_url(db_url)
    if url.drivername in ("postgresql", "postgres"):
        url = url.set(drivername="postgresql+psycopg")
    elif url.drivername not in ("postgresql+psycopg", "sqlite", "sqlite+pysqlite"):
        raise ValueError(
            f"unsupported database URL scheme {url.drivername!r}: use sqlite:///PATH or postgresql://..."
        )
    return url.render_as_string(hide_password=False)


def mask_url(url: str) -> str:
    """Return ``url`` with any password replaced by ``***``, safe for logs and reports."""
    return make_url(url).render_as_string(hide_password=True)


def is_sqlite(engine: Engine) -> bool:
    """True when ``engine`` talks to SQLite."""
    return engine.dialect.name == "sqlite"


def create_case_engine(url: str) -> Engine:
    """Create an engine for a URL from :func:`resolve_url`, with the SQLite pragmas and BEGIN handling."""
    sa_url = make_url(url)
    if sa_url.get_backend_name() != "sqlite":
        return create_engine(sa_url, pool_pre_ping=True)
    if sa_url.database and sa_url.database != ":memory:":
        Path(sa_url.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(sa_url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})
    _sqlite_events(engine, ("PRAGMA journal_mode=WAL", "PRAGMA foreign_keys=ON"))
    return engine


def _sqlite_events(engine: Engine, pragmas: tuple[str, ...]) -> None:
    """Run ``pragmas`` (and the busy timeout) on every new connection; emit BEGIN ourselves."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: sqlite3.Connection, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we emit BEGIN ourselves (see _on_begin)
        cur = dbapi_conn.cursor()
        try:
            for pragma in (*pragmas, f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}"):
                cur.execute(pragma)
        finally:
            cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        immediate = conn.get_execution_options().get(_WRITE_OPTION, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def sqlite_file(url: str) -> Path | None:
    """The database file of a SQLite URL (None for PostgreSQL and in-memory SQLite)."""
    sa_url = make_url(url)
    if sa_url.get_backend_name() != "sqlite" or not sa_url.database or sa_url.database == ":memory:":
        return None
    return Path(sa_url.database)


def settle_sqlite(url: str) -> None:
    """Leave a SQLite database in rollback-journal mode (WAL checkpointed, ``-wal``/``-shm`` removed).

    Called when a write engine closes, after its connections are released. Best effort: while another
    connection still has the database open the mode stays WAL, and the next writer to close settles it.
    """
    path = sqlite_file(url)
    if path is None or not path.exists():
        return
    try:
        con = sqlite3.connect(path, timeout=0, isolation_level=None)
    except sqlite3.Error:
        return
    try:
        con.execute("PRAGMA journal_mode=DELETE")
    except sqlite3.Error:
        pass  # busy (another connection): it stays WAL for now
    finally:
        con.close()


class CaseDatabaseMissing(FileNotFoundError):
    """A read found no SQLite database file where the case's database should be."""


@dataclass
class ReadEngine:
    """An engine that cannot write, how it reads (``how``), and a private copy to remove on close."""

    engine: Engine
    how: str
    scratch: Path | None = None

    def close(self) -> None:
        """Release the connections and remove the private copy, if any."""
        self.engine.dispose()
        if self.scratch is not None:
            shutil.rmtree(self.scratch, ignore_errors=True)


def create_read_engine(url: str) -> ReadEngine:
    """An engine that never writes and never creates a file beside the database (see the module notes)."""
    sa_url = make_url(url)
    if sa_url.get_backend_name() != "sqlite":
        engine = create_engine(sa_url, pool_pre_ping=True)

        @event.listens_for(engine, "connect")
        def _read_only(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.read_only = True  # psycopg: every transaction READ ONLY, refused by the server on write

        return ReadEngine(engine, "read-only transactions")
    path = sqlite_file(url)
    if path is None or not path.is_file():
        raise CaseDatabaseMissing(f"no case database at {path}")
    wal, shm = Path(f"{path}-wal"), Path(f"{path}-shm")
    if os.access(path.parent, os.W_OK):
        if wal.exists() and not shm.exists():
            return _private_copy(path)
        return _sqlite_reader(path, "mode=ro", "read-only")
    if not wal.exists():
        return _sqlite_reader(path, "mode=ro&immutable=1", "immutable (the folder cannot be written)")
    reader = _sqlite_reader(path, "mode=ro", "read-only with the -wal found there")
    try:
        with reader.engine.connect() as conn:
            conn.exec_driver_sql("SELECT count(*) FROM sqlite_master").scalar()
    except DBAPIError:
        reader.close()
        return _private_copy(path)
    return reader


def _sqlite_reader(path: Path, params: str, how: str, scratch: Path | None = None) -> ReadEngine:
    uri = f"file:{quote(str(path.absolute()))}?{params}"

    def connect() -> sqlite3.Connection:
        return sqlite3.connect(uri, uri=True, timeout=SQLITE_BUSY_TIMEOUT_MS / 1000, check_same_thread=False)

    engine = create_engine("sqlite://", creator=connect)
    _sqlite_events(engine, ())
    return ReadEngine(engine, how, scratch)


def _private_copy(path: Path) -> ReadEngine:
    """Read ``path`` and its ``-wal`` from a copy in a private temp folder (removed on close)."""
    scratch = Path(tempfile.mkdtemp(prefix="cairn-read-"))
    try:
        copy = scratch / path.name
        shutil.copyfile(path, copy)
        wal = Path(f"{path}-wal")
        if wal.exists():
            shutil.copyfile(wal, Path(f"{copy}-wal"))
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        raise
    return _sqlite_reader(copy, "mode=ro", f"a private copy with its -wal ({scratch})", scratch)


@contextmanager
def write_connection(engine: Engine) -> Iterator[Connection]:
    """Yield a connection inside one write transaction, committed on success and rolled back on error.

    On SQLite the transaction starts with ``BEGIN IMMEDIATE``, so writers are serialised up front
    instead of failing when a read lock is upgraded.
    """
    with engine.connect() as conn:
        conn.execution_options(**{_WRITE_OPTION: True})
        with conn.begin():
            yield conn


@contextmanager
def read_connection(engine: Engine) -> Iterator[Connection]:
    """Yield a connection inside one read transaction (a consistent snapshot on both backends)."""
    with engine.connect() as conn, conn.begin():
        yield conn


def max_bind_params(engine: Engine) -> int:
    """The most bound parameters one statement may carry on this backend."""
    if is_sqlite(engine):
        return 32_766 if sqlite3.sqlite_version_info >= (3, 32, 0) else 999
    return 65_535
