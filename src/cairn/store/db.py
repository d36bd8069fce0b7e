"""Engine and URL handling for the case database: one code path for SQLite and PostgreSQL.

SQLite (the default, ``CASE_DIR/case.db``) runs in WAL mode with foreign keys on and a busy timeout; the
driver's own transaction handling is switched off so that SQLAlchemy's ``begin()`` emits a real
``BEGIN`` (``BEGIN IMMEDIATE`` for connections marked as writers, see :func:`write_connection`).
PostgreSQL URLs (``postgresql://`` or ``postgres://``) are rewritten to the psycopg 3 driver.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url

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

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: sqlite3.Connection, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we emit BEGIN ourselves (see _on_begin)
        cur = dbapi_conn.cursor()
        try:
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        finally:
            cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        immediate = conn.get_execution_options().get(_WRITE_OPTION, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


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
