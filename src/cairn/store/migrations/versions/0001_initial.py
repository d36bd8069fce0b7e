"""Initial case database: cases, evidence, scan runs, files and their details, thumbnails, audit log.

Revision ID: 0001
Revises: none
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_PATH = sa.Text().with_variant(sa.Text(collation="C"), "postgresql")

_SQLITE_TRIGGERS = (
    """CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
       BEGIN SELECT RAISE(ABORT, 'audit_log is append-only: UPDATE refused'); END""",
    """CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
       BEGIN SELECT RAISE(ABORT, 'audit_log is append-only: DELETE refused'); END""",
)

_PG_TRIGGERS = (
    """CREATE FUNCTION cairn_audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN
         RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP
           USING ERRCODE = 'insufficient_privilege';
       END $$""",
    """CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
       FOR EACH ROW EXECUTE FUNCTION cairn_audit_log_append_only()""",
    """CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
       FOR EACH STATEMENT EXECUTE FUNCTION cairn_audit_log_append_only()""",
)


def upgrade() -> None:
    """Create every table, index and the audit-log protection triggers for this dialect."""
    op.create_table(
        "cases",
        sa.Column("id", _ID, autoincrement=True),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("created_at", sa.String(40), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_cases"),
        sa.UniqueConstraint("name", name="uq_cases_name"),
    )
    op.create_table(
        "evidence",
        sa.Column("id", _ID, autoincrement=True),
        sa.Column("case_id", sa.BigInteger(), nullable=False),
        sa.Column("root", _PATH, nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("registered_at", sa.String(40), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_evidence"),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name="fk_evidence_case_id_cases"),
        sa.UniqueConstraint("case_id", "root", name="uq_evidence_case_id_root"),
    )
    op.create_index("ix_evidence_case_id", "evidence", ["case_id"])
    op.create_table(
        "scan_runs",
        sa.Column("id", _ID, autoincrement=True),
        sa.Column("case_id", sa.BigInteger(), nullable=False),
        sa.Column("evidence_id", sa.BigInteger(), nullable=False),
        sa.Column("tool_version", sa.String(64), nullable=False),
        sa.Column("settings_json", sa.Text(), nullable=False),
        sa.Column("started_at", sa.String(40), nullable=False),
        sa.Column("ended_at", sa.String(40), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("counts_json", sa.Text(), nullable=True),
        sa.Column("host", sa.Text(), nullable=True),
        sa.Column("os_user", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_scan_runs"),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name="fk_scan_runs_case_id_cases"),
        sa.ForeignKeyConstraint(["evidence_id"], ["evidence.id"], name="fk_scan_runs_evidence_id_evidence"),
    )
    op.create_index("ix_scan_runs_case_id", "scan_runs", ["case_id"])
    op.create_index("ix_scan_runs_evidence_id", "scan_runs", ["evidence_id"])
    op.create_table(
        "files",
        sa.Column("id", _ID, autoincrement=True),
        sa.Column("case_id", sa.BigInteger(), nullable=False),
        sa.Column("evidence_id", sa.BigInteger(), nullable=False),
        sa.Column("run_id", sa.BigInteger(), nullable=False),
        sa.Column("path", _PATH, nullable=False),
        sa.Column("parent_path", _PATH, nullable=True),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("depth", sa.Integer(), nullable=False),
        sa.Column("is_container", sa.Boolean(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=True),
        sa.Column("mtime", sa.Double(), nullable=True),
        sa.Column("atime", sa.Double(), nullable=True),
        sa.Column("ctime", sa.Double(), nullable=True),
        sa.Column("mode", sa.BigInteger(), nullable=True),
        sa.Column("link_target", sa.Text(), nullable=True),
        sa.Column("mime", sa.Text(), nullable=True),
        sa.Column("type_label", sa.String(64), nullable=True),
        sa.Column("extension_mismatch", sa.Boolean(), nullable=False),
        sa.Column("error_code", sa.String(64), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("bytes_read", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_files"),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name="fk_files_case_id_cases"),
        sa.ForeignKeyConstraint(["evidence_id"], ["evidence.id"], name="fk_files_evidence_id_evidence"),
        sa.ForeignKeyConstraint(["run_id"], ["scan_runs.id"], name="fk_files_run_id_scan_runs"),
        sa.UniqueConstraint("evidence_id", "path", name="uq_files_evidence_id_path"),
    )
    op.create_index("ix_files_case_id_evidence_id", "files", ["case_id", "evidence_id"])
    op.create_index("ix_files_run_id", "files", ["run_id"])
    op.create_table(
        "file_hashes",
        sa.Column("file_id", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("value", sa.String(512), nullable=False),
        sa.Column("quality", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("file_id", "kind", name="pk_file_hashes"),
        sa.ForeignKeyConstraint(
            ["file_id"], ["files.id"], name="fk_file_hashes_file_id_files", ondelete="CASCADE"
        ),
    )
    op.create_index("ix_file_hashes_kind_value", "file_hashes", ["kind", "value"])
    op.create_table(
        "images",
        sa.Column("file_id", sa.BigInteger(), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("mode", sa.String(16), nullable=False),
        sa.Column("format", sa.String(32), nullable=True),
        sa.Column("frames", sa.Integer(), nullable=False),
        sa.Column("orientation", sa.Integer(), nullable=True),
        sa.Column("exif", sa.LargeBinary(), nullable=True),
        sa.PrimaryKeyConstraint("file_id", name="pk_images"),
        sa.ForeignKeyConstraint(
            ["file_id"], ["files.id"], name="fk_images_file_id_files", ondelete="CASCADE"
        ),
    )
    op.create_table(
        "findings",
        sa.Column("id", _ID, autoincrement=True),
        sa.Column("file_id", sa.BigInteger(), nullable=False),
        sa.Column("signal", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("data_json", sa.Text(), nullable=False),
        sa.Column("location", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_findings"),
        sa.ForeignKeyConstraint(
            ["file_id"], ["files.id"], name="fk_findings_file_id_files", ondelete="CASCADE"
        ),
    )
    op.create_index("ix_findings_file_id", "findings", ["file_id"])
    op.create_table(
        "file_errors",
        sa.Column("id", _ID, autoincrement=True),
        sa.Column("file_id", sa.BigInteger(), nullable=False),
        sa.Column("ordinal", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(64), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_file_errors"),
        sa.ForeignKeyConstraint(
            ["file_id"], ["files.id"], name="fk_file_errors_file_id_files", ondelete="CASCADE"
        ),
        sa.UniqueConstraint("file_id", "ordinal", name="uq_file_errors_file_id_ordinal"),
    )
    op.create_index("ix_file_errors_code", "file_errors", ["code"])
    op.create_table(
        "thumbnails",
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("webp", sa.LargeBinary(), nullable=False),
        sa.Column("width", sa.Integer(), nullable=True),
        sa.Column("height", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("sha256", name="pk_thumbnails"),
    )
    op.create_table(
        "audit_log",
        sa.Column("case_id", sa.BigInteger(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False, autoincrement=False),
        sa.Column("at", sa.String(40), nullable=False),
        sa.Column("actor", sa.Text(), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("details_json", sa.Text(), nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("entry_hash", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("case_id", "seq", name="pk_audit_log"),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name="fk_audit_log_case_id_cases"),
    )
    dialect = op.get_bind().dialect.name
    for ddl in _SQLITE_TRIGGERS if dialect == "sqlite" else _PG_TRIGGERS if dialect == "postgresql" else ():
        op.execute(ddl)


def downgrade() -> None:
    """Not supported: a case database is evidence and is never downgraded in place."""
    raise NotImplementedError("case databases are not downgraded; restore from a copy instead")
