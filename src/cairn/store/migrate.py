"""Run the case database's Alembic migrations programmatically (no alembic.ini at runtime)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

from cairn.store.db import write_connection

if TYPE_CHECKING:
    from alembic.config import Config

#: The newest revision shipped (a test checks it equals Alembic's head). A database already there is
#: opened without loading Alembic at all, which keeps every command's start-up short.
HEAD_REVISION = "0012"

#: The folder holding env.py and versions/, shipped as package data.
MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def alembic_config() -> Config:
    """An Alembic config whose ``script_location`` is the packaged migrations folder."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def head_revision() -> str:
    """The newest revision shipped with this version of cairn."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:
        raise RuntimeError(f"no migrations found in {MIGRATIONS_DIR}")
    return head


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at, or None for an empty database."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(engine: Engine) -> str:
    """Migrate the database to head in one transaction (serialised against other writers); return head.

    A database already at head is left untouched; one newer than this cairn raises an error from Alembic.
    """
    if _already_at_head(engine):
        return HEAD_REVISION
    from alembic import command

    config = alembic_config()
    with write_connection(engine) as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "head")
    return head_revision()


def _already_at_head(engine: Engine) -> bool:
    try:
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT version_num FROM alembic_version")).fetchall()
    except DBAPIError:
        return False  # no version table yet: a new database
    return [r[0] for r in rows] == [HEAD_REVISION]
