"""Near-duplicate groups ("stacks") of a case's files: ``group_runs`` and ``file_groups``.

``group_runs``: one row per ``cairn groups`` of a case: when it ran, its settings (PDQ threshold, minimum PDQ
quality) and its counts. ``file_groups``: one row per file that belongs to a group of that run (a group of one
is no group): its group number (deterministic: groups numbered in the order of their smallest logical path),
whether it is the group's representative, and its PDQ distance to the representative (0 for an exact
duplicate, NULL when one of the two has no usable PDQ). Earlier runs are kept for the record; listings show
the case's latest run.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision: str | None = "0004"
branch_labels: str | None = None
depends_on: str | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    """Create ``group_runs`` and ``file_groups`` with their indexes."""
    op.create_table(
        "group_runs",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("case_id", _ID, nullable=False),
        sa.Column("at", sa.String(40), nullable=False),
        sa.Column("settings_json", sa.Text(), nullable=False),
        sa.Column("counts_json", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_group_runs"),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name="fk_group_runs_case_id_cases"),
    )
    op.create_index("ix_group_runs_case_id", "group_runs", ["case_id"])
    op.create_table(
        "file_groups",
        sa.Column("group_run_id", _ID, nullable=False),
        sa.Column("file_id", _ID, nullable=False),
        sa.Column("group_no", sa.Integer(), nullable=False),
        sa.Column("is_representative", sa.Boolean(), nullable=False),
        sa.Column("distance_to_representative", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("group_run_id", "file_id", name="pk_file_groups"),
        sa.ForeignKeyConstraint(
            ["group_run_id"], ["group_runs.id"], name="fk_file_groups_group_run_id_group_runs", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(["file_id"], ["files.id"], name="fk_file_groups_file_id_files", ondelete="CASCADE"),
    )
    op.create_index("ix_file_groups_file_id", "file_groups", ["file_id"])


def downgrade() -> None:
    """Drop what ``upgrade`` made."""
    op.drop_index("ix_file_groups_file_id", table_name="file_groups")
    op.drop_table("file_groups")
    op.drop_index("ix_group_runs_case_id", table_name="group_runs")
    op.drop_table("group_runs")
