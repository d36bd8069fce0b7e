"""The dihedral transform of a match hit: ``file_matches.transform``.

``cairn match --dihedral`` also matches each file's seven rotated and mirrored PDQ variants. A hit found through
one records which: ``rot90``, ``rot180``, ``rot270``, ``flipx``, ``flipy``, ``flipplus`` or ``flipminus``, the
transform that turns the listed picture into the file (see ``cairn.signals.pdq.DIHEDRAL_TRANSFORMS``). NULL for
every other hit, and for every hit of a run made before this revision.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision: str | None = "0005"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Add the nullable ``transform`` column to ``file_matches``."""
    op.add_column("file_matches", sa.Column("transform", sa.String(16), nullable=True))


def downgrade() -> None:
    """Drop what ``upgrade`` added (batch mode: SQLite rebuilds the table)."""
    with op.batch_alter_table("file_matches") as batch:
        batch.drop_column("transform")
