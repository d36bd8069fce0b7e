"""The review app (``cairn serve``): ``users``, ``file_categories`` and ``media_views``.

``users`` are per case (unique name within a case): local accounts with an argon2id password hash and a role
(admin, investigator, reviewer). ``file_categories`` is the append-only history of every categorisation of a
file (scheme and value, the previous ones, who and when; UPDATE and DELETE refused by triggers): a file's
category is its latest row. ``media_views`` records every unblurred view of a media item (who, when, how), the
numerator of the exposure figure.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision: str | None = "0007"
branch_labels: str | None = None
depends_on: str | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

_SQLITE_TRIGGERS = (
    """CREATE TRIGGER file_categories_no_update BEFORE UPDATE ON file_categories
       BEGIN SELECT RAISE(ABORT, 'file_categories is append-only: UPDATE refused'); END""",
    """CREATE TRIGGER file_categories_no_delete BEFORE DELETE ON file_categories
       BEGIN SELECT RAISE(ABORT, 'file_categories is append-only: DELETE refused'); END""",
)

_PG_TRIGGERS = (
    """CREATE FUNCTION cairn_file_categories_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN
         RAISE EXCEPTION 'file_categories is append-only: % refused', TG_OP
           USING ERRCODE = 'insufficient_privilege';
       END $$""",
    """CREATE TRIGGER file_categories_append_only BEFORE UPDATE OR DELETE ON file_categories
       FOR EACH ROW EXECUTE FUNCTION cairn_file_categories_append_only()""",
)


def upgrade() -> None:
    """Create ``users``, ``file_categories`` (append-only) and ``media_views``."""
    op.create_table(
        "users",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("case_id", _ID, nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("password_hash", sa.Text(), nullable=False),
        sa.Column("created_at", sa.String(40), nullable=False),
        sa.Column("created_by", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_users"),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name="fk_users_case_id_cases"),
        sa.UniqueConstraint("case_id", "name", name="uq_users_case_id_name"),
    )
    op.create_table(
        "file_categories",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("case_id", _ID, nullable=False),
        sa.Column("file_id", _ID, nullable=False),
        sa.Column("scheme", sa.String(32), nullable=False),
        sa.Column("value", sa.String(32), nullable=True),
        sa.Column("previous_scheme", sa.String(32), nullable=True),
        sa.Column("previous_value", sa.String(32), nullable=True),
        sa.Column("user_id", _ID, nullable=False),
        sa.Column("at", sa.String(40), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_file_categories"),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name="fk_file_categories_case_id_cases"),
        sa.ForeignKeyConstraint(["file_id"], ["files.id"], name="fk_file_categories_file_id_files"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name="fk_file_categories_user_id_users"),
    )
    op.create_index("ix_file_categories_file_id_id", "file_categories", ["file_id", "id"])
    op.create_index("ix_file_categories_case_id_user_id", "file_categories", ["case_id", "user_id"])
    op.create_table(
        "media_views",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("case_id", _ID, nullable=False),
        sa.Column("file_id", _ID, nullable=False),
        sa.Column("user_id", _ID, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("at", sa.String(40), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_media_views"),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name="fk_media_views_case_id_cases"),
        sa.ForeignKeyConstraint(["file_id"], ["files.id"], name="fk_media_views_file_id_files"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name="fk_media_views_user_id_users"),
    )
    op.create_index("ix_media_views_case_id_user_id", "media_views", ["case_id", "user_id"])
    dialect = op.get_bind().dialect.name
    for ddl in _SQLITE_TRIGGERS if dialect == "sqlite" else _PG_TRIGGERS if dialect == "postgresql" else ():
        op.execute(ddl)


def downgrade() -> None:
    """Drop the triggers, ``media_views``, ``file_categories`` and ``users``."""
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS file_categories_append_only ON file_categories")
        op.execute("DROP FUNCTION IF EXISTS cairn_file_categories_append_only()")
    elif dialect == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS file_categories_no_update")
        op.execute("DROP TRIGGER IF EXISTS file_categories_no_delete")
    op.drop_table("media_views")
    op.drop_table("file_categories")
    op.drop_table("users")
