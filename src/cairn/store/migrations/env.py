"""Alembic environment for the case database, driven programmatically by :mod:`cairn.store.migrate`.

The caller passes an open SQLAlchemy connection in ``config.attributes["connection"]`` (or a URL in
``config.attributes["url"]`` for offline SQL generation); no alembic.ini is read and logging is left
alone. On PostgreSQL a transaction-scoped advisory lock serialises concurrent upgrades.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, text

from cairn.store.schema import Base

#: Key of the PostgreSQL advisory lock held while migrating (arbitrary, stable).
_PG_MIGRATION_LOCK = 0x43_41_49_52_4E  # "CAIRN"


def _run_online(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_MIGRATION_LOCK})
        context.run_migrations()


def _run_offline(url: str) -> None:
    context.configure(url=url, target_metadata=Base.metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


_config = context.config
if context.is_offline_mode():
    _run_offline(str(_config.attributes["url"]))
else:
    _conn = _config.attributes.get("connection")
    if not isinstance(_conn, Connection):
        raise RuntimeError("cairn migrations need config.attributes['connection'] (see cairn.store.migrate)")
    _run_online(_conn)
