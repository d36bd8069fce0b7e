"""Digests that seal a finished scan's stored results into the audit chain, and their verification.

When a scan run completes, ``scan.finished`` records two digests of what the evidence's rows then were:

- the *evidence digest*: SHA-256 over the sorted ``path<TAB>sha256`` lines of every stored item (``-`` for an
  item without a sha256), the reproducible fingerprint of the evidence (same evidence, same settings, same
  digest on any machine and either backend);
- the *rows digest*: SHA-256 over the sorted SHA-256s of each item's full stored record (its ``files`` row
  without database ids, and its hashes with quality, errors and notes, picture details and findings), so an
  edited md5, PDQ, size, time or error message is caught too. It includes times (atime) and float columns
  as stored, so it is a tamper seal for this database, not a cross-machine fingerprint.

Rows are only ever added after a run finishes (by later runs of the same evidence), never changed, so a run's
digests are recomputed over the rows stored by runs up to and including it (``files.run_id <= run``).
:func:`sealed_run_problems` does that for every completed run in the chain and names each run that no longer
matches. Nothing here writes.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import Connection, and_, select

from cairn.store.audit import canonical_json
from cairn.store.schema import file_errors, file_hashes, files, findings, images

#: ``files`` columns in a record of the rows digest (no ids: they differ between databases).
RECORD_COLUMNS = (
    "path",
    "parent_path",
    "name",
    "depth",
    "is_container",
    "kind",
    "size",
    "mtime",
    "atime",
    "ctime",
    "mode",
    "link_target",
    "mime",
    "type_label",
    "extension_mismatch",
    "error_code",
    "error",
    "notes",
    "bytes_read",
)

#: Files read per page when computing the rows digest.
PAGE = 5000


def evidence_digest(conn: Connection, evidence_id: int, up_to_run: int | None = None) -> str:
    """The evidence digest of ``evidence_id``'s stored items (only those stored by runs ``<= up_to_run``)."""
    sha = file_hashes.alias("sha")
    stmt = (
        select(files.c.path, sha.c.value)
        .select_from(files.outerjoin(sha, and_(sha.c.file_id == files.c.id, sha.c.kind == "sha256")))
        .where(files.c.evidence_id == evidence_id)
    )
    if up_to_run is not None:
        stmt = stmt.where(files.c.run_id <= up_to_run)
    lines = sorted(f"{path}\t{value or '-'}\n" for path, value in conn.execute(stmt))
    h = hashlib.sha256()
    for line in lines:
        h.update(line.encode("utf-8"))
    return h.hexdigest()


def rows_digest(conn: Connection, evidence_id: int, up_to_run: int | None = None) -> str:
    """The rows digest of ``evidence_id``'s stored items (only those stored by runs ``<= up_to_run``)."""
    record_hashes: list[str] = []
    last_id = 0
    cols = [files.c.id, *(files.c[name] for name in RECORD_COLUMNS)]
    while True:
        stmt = select(*cols).where(files.c.evidence_id == evidence_id, files.c.id > last_id)
        if up_to_run is not None:
            stmt = stmt.where(files.c.run_id <= up_to_run)
        page = list(conn.execute(stmt.order_by(files.c.id).limit(PAGE)).mappings())
        if not page:
            break
        last_id = int(page[-1]["id"])
        details = _details(conn, int(page[0]["id"]), last_id)
        for row in page:
            file_id = int(row["id"])
            record = {
                "file": [_plain(name, row[name]) for name in RECORD_COLUMNS],
                **{table: sorted(found.get(file_id, []), key=canonical_json) for table, found in details.items()},
            }
            record_hashes.append(hashlib.sha256(canonical_json(record).encode("utf-8")).hexdigest())
        if len(page) < PAGE:
            break
    h = hashlib.sha256()
    for digest in sorted(record_hashes):
        h.update(digest.encode("ascii"))
    return h.hexdigest()


def sealed_run_problems(
    conn: Connection, entries: Iterable[Mapping[str, Any]], roots: Mapping[int, str]
) -> list[str]:
    """Recompute the digests sealed by every completed ``scan.finished`` entry; say which runs differ.

    ``entries`` are the case's audit entries with parsed ``details``; ``roots`` maps evidence ids to roots
    (for the messages). A run sealed without a rows digest (older cairn) is checked on its evidence digest.
    """
    problems: list[str] = []
    for entry in entries:
        outer = entry.get("details")
        if entry.get("action") != "scan.finished" or not isinstance(outer, Mapping):
            continue
        sealed = outer.get("details")
        if outer.get("status") != "completed" or not isinstance(sealed, Mapping):
            continue
        try:
            run_id, evidence_id = int(outer["run_id"]), int(outer["evidence_id"])
        except (KeyError, TypeError, ValueError):
            problems.append(f"audit entry seq {entry.get('seq')}: scan.finished names no run or evidence")
            continue
        where = f"run #{run_id} (evidence #{evidence_id} {roots.get(evidence_id, '?')})"
        digest = sealed.get("evidence_digest")
        if digest is not None and evidence_digest(conn, evidence_id, run_id) != digest:
            problems.append(
                f"{where}: the stored results no longer match the evidence digest sealed when the run finished "
                "(a files row or its sha256 was deleted, added or edited in the database)"
            )
            continue
        sealed_rows = sealed.get("rows_digest")
        if sealed_rows is not None and rows_digest(conn, evidence_id, run_id) != sealed_rows:
            problems.append(
                f"{where}: the stored rows no longer match the rows digest sealed when the run finished "
                "(a hash, size, time, error, picture detail or finding was edited in the database)"
            )
    return problems


def _details(conn: Connection, low: int, high: int) -> dict[str, dict[int, list[list[Any]]]]:
    """Detail rows of files ``low..high`` by table then file id, as plain lists."""
    out: dict[str, dict[int, list[list[Any]]]] = {}
    queries = {
        "hashes": (file_hashes, ("kind", "value", "quality")),
        "errors": (file_errors, ("ordinal", "code", "message")),
        "images": (images, ("width", "height", "mode", "format", "frames", "orientation", "exif")),
        "findings": (findings, ("signal", "kind", "data_json", "location")),
    }
    for name, (table, columns) in queries.items():
        found: dict[int, list[list[Any]]] = defaultdict(list)
        stmt = select(table.c.file_id, *(table.c[c] for c in columns)).where(table.c.file_id.between(low, high))
        for row in conn.execute(stmt):
            found[int(row[0])].append([_plain(c, v) for c, v in zip(columns, row[1:], strict=True)])
        out[name] = found
    return out


def _plain(name: str, value: Any) -> Any:
    """A stored value in one form on both backends (booleans as booleans, bytes as hex)."""
    if name in ("is_container", "extension_mismatch"):
        return bool(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    return value
