"""Match runs and their hits: which files of a case matched which hash-set entries, exactly or by PDQ.

``match_runs``: one row per ``cairn match`` of a case: when it ran (``ended_at`` NULL while running, or for a
run that failed), its settings (PDQ threshold, minimum PDQ quality, the sets used by name AND source SHA-256,
so the result can be reproduced) and its counts. ``file_matches``: one row per (file, set entry) hit of a run:
the hash kind, the Hamming distance (0 for exact hashes), and a copy of the entry's category (with its scheme),
series and flags as they were at match time. Earlier runs' rows are kept for the record; listings show the
case's latest finished run.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision: str | None = "0003"
branch_labels: str | None = None
depends_on: str | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    """Create ``match_runs`` and ``file_matches`` with their indexes."""
    op.create_table(
        "match_runs",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("case_id", _ID, nullable=False),
        sa.Column("started_at", sa.String(40), nullable=False),
        sa.Column("ended_at", sa.String(40), nullable=True),
        sa.Column("settings_json", sa.Text(), nullable=False),
        sa.Column("counts_json", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_match_runs"),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name="fk_match_runs_case_id_cases"),
    )
    op.create_index("ix_match_runs_case_id", "match_runs", ["case_id"])
    op.create_table(
        "file_matches",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("match_run_id", _ID, nullable=False),
        sa.Column("file_id", _ID, nullable=False),
        sa.Column("set_id", _ID, nullable=False),
        sa.Column("entry_id", _ID, nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("distance", sa.Integer(), nullable=False),
        sa.Column("category_scheme", sa.String(32), nullable=True),
        sa.Column("category_value", sa.String(32), nullable=True),
        sa.Column("series", sa.Text(), nullable=True),
        sa.Column("flags_json", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_file_matches"),
        sa.ForeignKeyConstraint(
            ["match_run_id"], ["match_runs.id"], name="fk_file_matches_match_run_id_match_runs", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(["file_id"], ["files.id"], name="fk_file_matches_file_id_files", ondelete="CASCADE"),
    )
    op.create_index("ix_file_matches_file_id", "file_matches", ["file_id"])
    op.create_index("ix_file_matches_match_run_id", "file_matches", ["match_run_id"])


def downgrade() -> None:
    """Drop what ``upgrade`` made."""
    op.drop_index("ix_file_matches_match_run_id", table_name="file_matches")
    op.drop_index("ix_file_matches_file_id", table_name="file_matches")
    op.drop_table("file_matches")
    op.drop_index("ix_match_runs_case_id", table_name="match_runs")
    op.drop_table("match_runs")
