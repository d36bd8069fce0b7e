"""Index ``findings(kind, file_id)`` and ``file_categories(case_id, scheme, value)``: the review grid's selective
filters start from the few files they can match.

With an AI-record, tool, model or category filter the grid first gathers the files that filter can match (a few
thousand generation records, the files ever given one category) and reads only those, instead of walking every
file of the case in path order and testing each (over a second a page on a 1,000,000-file case when two filters
together match few files). These indexes make that first step a seek. Indexes only: no row is changed.

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

from alembic import op

revision = "0012"
down_revision: str | None = "0011"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Create the indexes."""
    op.create_index("ix_findings_kind_file_id", "findings", ["kind", "file_id"])
    op.create_index("ix_file_categories_case_id_scheme_value", "file_categories", ["case_id", "scheme", "value"])


def downgrade() -> None:
    """Drop them."""
    op.drop_index("ix_file_categories_case_id_scheme_value", table_name="file_categories")
    op.drop_index("ix_findings_kind_file_id", table_name="findings")
