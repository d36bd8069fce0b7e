"""The review app's per-user viewing settings and disabled accounts: columns of ``users``.

``blur_radius`` (the Gaussian radius, in thumbnail pixels, of the grid's blurred thumbnails: one of 4, 8, 12, 16;
never 0, so a thumbnail is never sent unblurred unless revealed), ``greyscale`` (true: thumbnails without colour)
and ``disabled`` (true: the account can no longer log in; an admin sets it).

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision: str | None = "0008"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Add ``users.blur_radius`` (12), ``users.greyscale`` (true) and ``users.disabled`` (false)."""
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("blur_radius", sa.Integer(), nullable=False, server_default="12"))
        batch.add_column(sa.Column("greyscale", sa.Boolean(), nullable=False, server_default=sa.true()))
        batch.add_column(sa.Column("disabled", sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    """Drop the three columns."""
    with op.batch_alter_table("users") as batch:
        batch.drop_column("disabled")
        batch.drop_column("greyscale")
        batch.drop_column("blur_radius")
