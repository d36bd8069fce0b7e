"""Hash sets, stored once per database (every case in it can match against them).

``hash_sets``: one row per imported set, unique by ``name``; ``source_sha256`` is the imported file's digest
(an import of the same file again is refused), ``status`` is ``importing`` until the last batch is in, then
``complete`` (only complete sets are used; an ``importing`` set left by a killed import is removed by the next
import). ``hash_set_entries``: one row per hash of a record (``kind``, lower-case hex ``value``), the record's
category with its scheme (``category_value`` NULL = uncategorised, never 0), series, flags, and on the
record's first row its comments and the source's own fields (``extra_json``) for a faithful export.
``record_no`` ties the hashes of one record together. No ``case_id``: a set belongs to the database.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    """Create ``hash_sets`` and ``hash_set_entries`` with their indexes."""
    op.create_table(
        "hash_sets",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("source_sha256", sa.String(64), nullable=False),
        sa.Column("source_name", sa.Text(), nullable=False),
        sa.Column("format", sa.String(32), nullable=False),
        sa.Column("scheme", sa.String(32), nullable=False),
        sa.Column("ignorable", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("imported_at", sa.String(40), nullable=False),
        sa.Column("imported_by", sa.Text(), nullable=False),
        sa.Column("record_count", sa.BigInteger(), nullable=False),
        sa.Column("warning_count", sa.BigInteger(), nullable=False),
        sa.Column("details_json", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_hash_sets"),
        sa.UniqueConstraint("name", name="uq_hash_sets_name"),
    )
    op.create_index("ix_hash_sets_source_sha256", "hash_sets", ["source_sha256"])
    op.create_table(
        "hash_set_entries",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("set_id", _ID, nullable=False),
        sa.Column("record_no", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("value", sa.String(512), nullable=False),
        sa.Column("category_scheme", sa.String(32), nullable=True),
        sa.Column("category_value", sa.String(32), nullable=True),
        sa.Column("series", sa.Text(), nullable=True),
        sa.Column("flags_json", sa.Text(), nullable=True),
        sa.Column("comments", sa.Text(), nullable=True),
        sa.Column("extra_json", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_hash_set_entries"),
        sa.ForeignKeyConstraint(
            ["set_id"], ["hash_sets.id"], name="fk_hash_set_entries_set_id_hash_sets", ondelete="CASCADE"
        ),
    )
    op.create_index("ix_hash_set_entries_kind_value", "hash_set_entries", ["kind", "value"])
    op.create_index("ix_hash_set_entries_set_id_record_no", "hash_set_entries", ["set_id", "record_no"])


def downgrade() -> None:
    """Drop what ``upgrade`` made."""
    op.drop_index("ix_hash_set_entries_set_id_record_no", table_name="hash_set_entries")
    op.drop_index("ix_hash_set_entries_kind_value", table_name="hash_set_entries")
    op.drop_table("hash_set_entries")
    op.drop_index("ix_hash_sets_source_sha256", table_name="hash_sets")
    op.drop_table("hash_sets")
