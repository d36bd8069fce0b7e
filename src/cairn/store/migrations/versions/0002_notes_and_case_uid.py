"""Notes beside errors on files; a case identity that lives in the case folder.

``files.notes`` holds the notes (codes in ``cairn.errors.NOTE_CODES``) as ``files.error`` holds the errors.
``cases.uid`` is the id written into ``CASE_DIR/case.json`` when the case is made, so a copied or renamed
case folder still finds its case (NULL for cases made before this revision; they are found by name).

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Add ``files.notes`` and ``cases.uid`` (unique where set)."""
    with op.batch_alter_table("files") as batch:
        batch.add_column(sa.Column("notes", sa.Text(), nullable=True))
    with op.batch_alter_table("cases") as batch:
        batch.add_column(sa.Column("uid", sa.String(64), nullable=True))
    op.create_index("ix_cases_uid", "cases", ["uid"], unique=True)


def downgrade() -> None:
    """Drop what ``upgrade`` added."""
    op.drop_index("ix_cases_uid", table_name="cases")
    with op.batch_alter_table("cases") as batch:
        batch.drop_column("uid")
    with op.batch_alter_table("files") as batch:
        batch.drop_column("notes")
