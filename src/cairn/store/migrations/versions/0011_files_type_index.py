"""Index ``files(case_id, type_label)``: the review grid's list of picture types without reading every file.

The grid lists the case's picture types on every page; with this index each type is found by one seek and checked
for a picture among its files, instead of joining all of the case's files with ``images`` (0.5 s a page on a
1,000,000-file case). An index only: no row is changed.

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

from alembic import op

revision = "0011"
down_revision: str | None = "0010"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Create the index."""
    op.create_index("ix_files_case_id_type_label", "files", ["case_id", "type_label"])


def downgrade() -> None:
    """Drop it."""
    op.drop_index("ix_files_case_id_type_label", table_name="files")
