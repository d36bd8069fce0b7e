"""Indexes for the review grid at a million files: ``file_matches(file_id, match_run_id)`` and
``file_groups(group_run_id, group_no)``.

The grid's match filter asks, for each file it pages past, whether the file has a hit in the latest run
(``file_id = ? AND match_run_id = ?``): with only single-column indexes SQLite chose the run's index and read
every hit of the run for every file (24 s for one page of a 1,000,000-file case); the pair index answers it with
one lookup. A grouped file's group size (``group_run_id = ? AND group_no = ?``) read every member of the run
instead of the group's few. Indexes only: no row is changed, every query's result stays the same.

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

from alembic import op

revision = "0010"
down_revision: str | None = "0009"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Create the two indexes."""
    op.create_index("ix_file_matches_file_id_match_run_id", "file_matches", ["file_id", "match_run_id"])
    op.create_index("ix_file_groups_group_run_id_group_no", "file_groups", ["group_run_id", "group_no"])


def downgrade() -> None:
    """Drop them."""
    op.drop_index("ix_file_groups_group_run_id_group_no", table_name="file_groups")
    op.drop_index("ix_file_matches_file_id_match_run_id", table_name="file_matches")
