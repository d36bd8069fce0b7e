"""Investigators' term lists: ``term_lists``.

One row per imported list (``cairn terms import``), shared by every case in the database as hash sets are: its
name, the source file's name and SHA-256, who imported it and when, the number of terms and the terms themselves
(a JSON array, as written in the file). cairn ships no list; the terms are the user's own.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision: str | None = "0006"
branch_labels: str | None = None
depends_on: str | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    """Create ``term_lists``."""
    op.create_table(
        "term_lists",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("source_name", sa.Text(), nullable=False),
        sa.Column("source_sha256", sa.String(64), nullable=False),
        sa.Column("imported_at", sa.String(40), nullable=False),
        sa.Column("imported_by", sa.Text(), nullable=False),
        sa.Column("term_count", sa.Integer(), nullable=False),
        sa.Column("terms_json", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_term_lists"),
        sa.UniqueConstraint("name", name="uq_term_lists_name"),
    )


def downgrade() -> None:
    """Drop ``term_lists``."""
    op.drop_table("term_lists")
