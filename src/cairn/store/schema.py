"""Typed declarative models of the case database (revision 0012). The ORM never leaves ``cairn.store``.

Every case-level table carries ``case_id`` (one database may hold several cases); per-file detail
tables hang off ``files.id``. Hash sets (``hash_sets``, ``hash_set_entries``) belong to the database, not to a
case: every case in the database matches against them. Timestamps are ISO 8601 UTC strings with microseconds,
stored as text so they compare and hash the same on every backend. Logical paths use byte-order ("C") collation on
PostgreSQL so ordering matches SQLite and Python. Changes to these models need a new migration under
``migrations/versions``.
"""

from __future__ import annotations

from typing import cast

from sqlalchemy import (
    BigInteger,
    Boolean,
    Double,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
    true,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

#: Surrogate keys: BIGINT on PostgreSQL, INTEGER (the rowid alias) on SQLite.
Id = BigInteger().with_variant(Integer(), "sqlite")

#: Logical paths: byte-order collation on PostgreSQL (SQLite's default BINARY already is).
PathText = Text().with_variant(Text(collation="C"), "postgresql")

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base with a fixed constraint naming convention (stable across backends)."""

    metadata = MetaData(naming_convention=NAMING)


class Case(Base):
    """One investigation."""

    __tablename__ = "cases"
    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(Text, unique=True)
    created_at: Mapped[str] = mapped_column(String(40))
    uid: Mapped[str | None] = mapped_column(String(64), index=True, unique=True)  # also in CASE_DIR/case.json


class Evidence(Base):
    """A registered evidence root (a directory, an image file, ...) of one case."""

    __tablename__ = "evidence"
    __table_args__ = (UniqueConstraint("case_id", "root"),)
    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    root: Mapped[str] = mapped_column(PathText)
    kind: Mapped[str] = mapped_column(String(32))
    registered_at: Mapped[str] = mapped_column(String(40))


class ScanRun(Base):
    """One scan of one evidence root; ``status`` is running, completed, interrupted or failed."""

    __tablename__ = "scan_runs"
    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    evidence_id: Mapped[int] = mapped_column(ForeignKey("evidence.id"), index=True)
    tool_version: Mapped[str] = mapped_column(String(64))
    settings_json: Mapped[str] = mapped_column(Text)
    started_at: Mapped[str] = mapped_column(String(40))
    ended_at: Mapped[str | None] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(16))
    counts_json: Mapped[str | None] = mapped_column(Text)
    host: Mapped[str | None] = mapped_column(Text)
    os_user: Mapped[str | None] = mapped_column(Text)


class File(Base):
    """One item found in evidence: a file, or a member inside a container (``a.zip!/b.jpg``)."""

    __tablename__ = "files"
    __table_args__ = (
        UniqueConstraint("evidence_id", "path"),  # also the paging index
        Index(None, "case_id", "evidence_id"),
        Index(None, "case_id", "type_label"),  # the review grid's picture types (0011)
    )
    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    evidence_id: Mapped[int] = mapped_column(ForeignKey("evidence.id"))
    run_id: Mapped[int] = mapped_column(ForeignKey("scan_runs.id"), index=True)
    path: Mapped[str] = mapped_column(PathText)
    parent_path: Mapped[str | None] = mapped_column(PathText)  # the container, NULL at top level
    name: Mapped[str] = mapped_column(Text)
    depth: Mapped[int] = mapped_column(Integer)
    is_container: Mapped[bool] = mapped_column(Boolean)
    kind: Mapped[str] = mapped_column(String(16))
    size: Mapped[int | None] = mapped_column(BigInteger)
    mtime: Mapped[float | None] = mapped_column(Double)
    atime: Mapped[float | None] = mapped_column(Double)
    ctime: Mapped[float | None] = mapped_column(Double)
    mode: Mapped[int | None] = mapped_column(BigInteger)
    link_target: Mapped[str | None] = mapped_column(Text)
    mime: Mapped[str | None] = mapped_column(Text)
    type_label: Mapped[str | None] = mapped_column(String(64))
    extension_mismatch: Mapped[bool] = mapped_column(Boolean)
    error_code: Mapped[str | None] = mapped_column(String(64))
    error: Mapped[str | None] = mapped_column(Text)
    notes: Mapped[str | None] = mapped_column(Text)  # notes (cairn.errors.NOTE_CODES), joined like ``error``
    bytes_read: Mapped[int] = mapped_column(BigInteger)


class FileHash(Base):
    """One hash of one file by kind (md5, sha1, sha256, pdq, ...); indexed by (kind, value) for matching."""

    __tablename__ = "file_hashes"
    __table_args__ = (Index(None, "kind", "value"),)
    file_id: Mapped[int] = mapped_column(ForeignKey("files.id", ondelete="CASCADE"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[str] = mapped_column(String(512))
    quality: Mapped[int | None] = mapped_column(Integer)


class Image(Base):
    """What decoding an image told us; ``exif`` is the raw block, verbatim."""

    __tablename__ = "images"
    file_id: Mapped[int] = mapped_column(ForeignKey("files.id", ondelete="CASCADE"), primary_key=True)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    mode: Mapped[str] = mapped_column(String(16))
    format: Mapped[str | None] = mapped_column(String(32))
    frames: Mapped[int] = mapped_column(Integer)
    orientation: Mapped[int | None] = mapped_column(Integer)
    exif: Mapped[bytes | None] = mapped_column(LargeBinary)


class FindingRow(Base):
    """A structured observation by a signal (``data_json`` is canonical JSON)."""

    __tablename__ = "findings"
    __table_args__ = (Index(None, "kind", "file_id"),)  # the review grid's AI-record filters (0012)
    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    file_id: Mapped[int] = mapped_column(ForeignKey("files.id", ondelete="CASCADE"), index=True)
    signal: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(64))
    data_json: Mapped[str] = mapped_column(Text)
    location: Mapped[str | None] = mapped_column(Text)


class FileError(Base):
    """Every error recorded against a file, in the order it was raised (``ordinal`` from 0)."""

    __tablename__ = "file_errors"
    __table_args__ = (UniqueConstraint("file_id", "ordinal"),)
    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    file_id: Mapped[int] = mapped_column(ForeignKey("files.id", ondelete="CASCADE"))
    ordinal: Mapped[int] = mapped_column(Integer)
    code: Mapped[str] = mapped_column(String(64), index=True)
    message: Mapped[str] = mapped_column(Text)


class Thumbnail(Base):
    """A WebP thumbnail keyed by the content SHA-256 of its file, so duplicates share one."""

    __tablename__ = "thumbnails"
    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    webp: Mapped[bytes] = mapped_column(LargeBinary)
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)


class AuditEntry(Base):
    """One entry of a case's hash-chained, append-only audit log (UPDATE/DELETE refused by triggers)."""

    __tablename__ = "audit_log"
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    at: Mapped[str] = mapped_column(String(40))
    actor: Mapped[str] = mapped_column(Text)
    action: Mapped[str] = mapped_column(String(64))
    details_json: Mapped[str] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(String(64))
    entry_hash: Mapped[str] = mapped_column(String(64))


class HashSet(Base):
    """An imported hash set, shared by every case in the database; ``status`` importing or complete."""

    __tablename__ = "hash_sets"
    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(Text, unique=True)
    source_sha256: Mapped[str] = mapped_column(String(64), index=True)
    source_name: Mapped[str] = mapped_column(Text)
    format: Mapped[str] = mapped_column(String(32))
    scheme: Mapped[str] = mapped_column(String(32))
    ignorable: Mapped[bool] = mapped_column(Boolean)  # known-harmless
    status: Mapped[str] = mapped_column(String(16))
    imported_at: Mapped[str] = mapped_column(String(40))
    imported_by: Mapped[str] = mapped_column(Text)
    record_count: Mapped[int] = mapped_column(BigInteger)
    warning_count: Mapped[int] = mapped_column(BigInteger)
    details_json: Mapped[str] = mapped_column(Text)


class HashSetEntry(Base):
    """One hash of one record of a set; the record's hashes share ``record_no``. Category NULL = uncategorised."""

    __tablename__ = "hash_set_entries"
    __table_args__ = (Index(None, "kind", "value"), Index(None, "set_id", "record_no"))
    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    set_id: Mapped[int] = mapped_column(ForeignKey("hash_sets.id", ondelete="CASCADE"))
    record_no: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(32))
    value: Mapped[str] = mapped_column(String(512))
    category_scheme: Mapped[str | None] = mapped_column(String(32))
    category_value: Mapped[str | None] = mapped_column(String(32))
    series: Mapped[str | None] = mapped_column(Text)
    flags_json: Mapped[str | None] = mapped_column(Text)
    comments: Mapped[str | None] = mapped_column(Text)  # on the record's first row only
    extra_json: Mapped[str | None] = mapped_column(Text)  # the source's own fields, on the first row only


class TermList(Base):
    """An investigator's term list (``cairn terms import``), shared by every case in the database; the terms as
    a JSON array, as written."""

    __tablename__ = "term_lists"
    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(Text, unique=True)
    source_name: Mapped[str] = mapped_column(Text)
    source_sha256: Mapped[str] = mapped_column(String(64))
    imported_at: Mapped[str] = mapped_column(String(40))
    imported_by: Mapped[str] = mapped_column(Text)
    term_count: Mapped[int] = mapped_column(Integer)
    terms_json: Mapped[str] = mapped_column(Text)


class MatchRun(Base):
    """One ``cairn match`` of a case: settings (threshold, min quality, sets by name and source SHA-256), counts."""

    __tablename__ = "match_runs"
    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    started_at: Mapped[str] = mapped_column(String(40))
    ended_at: Mapped[str | None] = mapped_column(String(40))  # NULL: running, or failed
    settings_json: Mapped[str] = mapped_column(Text)
    counts_json: Mapped[str | None] = mapped_column(Text)


class FileMatch(Base):
    """One hit of a match run: a file, the set entry it matched, the hash kind and distance (0 when exact),
    and the entry's category (with its scheme), series and flags as they were at match time; ``transform``
    names the dihedral transform (``rot90``...) when a ``--dihedral`` run matched a rotated/mirrored copy."""

    __tablename__ = "file_matches"
    __table_args__ = (Index(None, "file_id", "match_run_id"),)  # the grid's match filter, per file (0010)
    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    match_run_id: Mapped[int] = mapped_column(ForeignKey("match_runs.id", ondelete="CASCADE"), index=True)
    file_id: Mapped[int] = mapped_column(ForeignKey("files.id", ondelete="CASCADE"), index=True)
    set_id: Mapped[int] = mapped_column(Id)
    entry_id: Mapped[int] = mapped_column(Id)
    kind: Mapped[str] = mapped_column(String(32))
    distance: Mapped[int] = mapped_column(Integer)
    category_scheme: Mapped[str | None] = mapped_column(String(32))
    category_value: Mapped[str | None] = mapped_column(String(32))
    series: Mapped[str | None] = mapped_column(Text)
    flags_json: Mapped[str | None] = mapped_column(Text)
    transform: Mapped[str | None] = mapped_column(String(16))  # dihedral transform of a --dihedral hit (0006)


class GroupRun(Base):
    """One ``cairn groups`` of a case: settings (PDQ threshold, minimum PDQ quality) and counts."""

    __tablename__ = "group_runs"
    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    at: Mapped[str] = mapped_column(String(40))
    settings_json: Mapped[str] = mapped_column(Text)
    counts_json: Mapped[str] = mapped_column(Text)


class FileGroup(Base):
    """A file in a near-duplicate group of a group run: group number, representative or not, PDQ distance to the
    representative (0 for an exact duplicate, NULL when either has no usable PDQ)."""

    __tablename__ = "file_groups"
    __table_args__ = (Index(None, "group_run_id", "group_no"),)  # a group's members and size (0010)
    group_run_id: Mapped[int] = mapped_column(
        ForeignKey("group_runs.id", ondelete="CASCADE"), primary_key=True
    )
    file_id: Mapped[int] = mapped_column(ForeignKey("files.id", ondelete="CASCADE"), primary_key=True, index=True)
    group_no: Mapped[int] = mapped_column(Integer)
    is_representative: Mapped[bool] = mapped_column(Boolean)
    distance_to_representative: Mapped[int | None] = mapped_column(Integer)



class User(Base):
    """A local account of the review app (``cairn user add``), per case: argon2id hash, role (admin, investigator,
    reviewer)."""

    __tablename__ = "users"
    __table_args__ = (UniqueConstraint("case_id", "name"),)
    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    name: Mapped[str] = mapped_column(Text)
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(Text)
    created_at: Mapped[str] = mapped_column(String(40))
    created_by: Mapped[str] = mapped_column(Text)
    blur_radius: Mapped[int] = mapped_column(Integer, server_default="12")
    greyscale: Mapped[bool] = mapped_column(Boolean, server_default=true())
    disabled: Mapped[bool] = mapped_column(Boolean, server_default=false())


class FileCategory(Base):
    """One categorisation of a file (append-only history; the latest row is the file's category): scheme and value
    (NULL: cleared), the previous ones, who (a user) and when."""

    __tablename__ = "file_categories"
    __table_args__ = (
        Index(None, "file_id", "id"),
        Index(None, "case_id", "user_id"),
        Index(None, "case_id", "scheme", "value"),  # the review grid's category filter (0012)
    )
    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    file_id: Mapped[int] = mapped_column(ForeignKey("files.id"))
    scheme: Mapped[str] = mapped_column(String(32))
    value: Mapped[str | None] = mapped_column(String(32))
    previous_scheme: Mapped[str | None] = mapped_column(String(32))
    previous_value: Mapped[str | None] = mapped_column(String(32))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    at: Mapped[str] = mapped_column(String(40))


class MediaView(Base):
    """One unblurred view of a media item by a user (``kind``: reveal), counted in the exposure figure."""

    __tablename__ = "media_views"
    __table_args__ = (Index(None, "case_id", "user_id"),)
    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    file_id: Mapped[int] = mapped_column(ForeignKey("files.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    kind: Mapped[str] = mapped_column(String(16))
    at: Mapped[str] = mapped_column(String(40))


cases = cast(Table, Case.__table__)
evidence = cast(Table, Evidence.__table__)
scan_runs = cast(Table, ScanRun.__table__)
files = cast(Table, File.__table__)
file_hashes = cast(Table, FileHash.__table__)
images = cast(Table, Image.__table__)
findings = cast(Table, FindingRow.__table__)
file_errors = cast(Table, FileError.__table__)
thumbnails = cast(Table, Thumbnail.__table__)
audit_log = cast(Table, AuditEntry.__table__)
hash_sets = cast(Table, HashSet.__table__)
hash_set_entries = cast(Table, HashSetEntry.__table__)
term_lists = cast(Table, TermList.__table__)
match_runs = cast(Table, MatchRun.__table__)
file_matches = cast(Table, FileMatch.__table__)
group_runs = cast(Table, GroupRun.__table__)
file_groups = cast(Table, FileGroup.__table__)
users = cast(Table, User.__table__)
file_categories = cast(Table, FileCategory.__table__)
media_views = cast(Table, MediaView.__table__)
