"""``CaseStore``: the case database facade. Callers get plain dicts and ints; the ORM stays in ``cairn.store``.

One class for SQLite and PostgreSQL. Every write is one transaction (``BEGIN IMMEDIATE`` on SQLite);
audit appends are serialised per case (SQLite: the write lock; PostgreSQL: ``SELECT ... FOR UPDATE`` on
the case row) and followed by an atomic rewrite of the anchor file ``CASE_DIR/audit-head.json``.
Storing results is :mod:`cairn.store.writer`'s work, behind :meth:`CaseStore.store_results`.
"""

from __future__ import annotations

import getpass
import hashlib
import json
import socket
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import replace
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self, TextIO

from sqlalchemy import Connection, Engine, and_, case, func, select, update

from cairn.case_config import read_config
from cairn.matching.formats.base import ReadOptions, WriteReport
from cairn.matching.schemes import SchemeMapping
from cairn.matching.terms import read_terms as _terms_file
from cairn.model import FileResult
from cairn.store import audit as _audit
from cairn.store import groups as _groups
from cairn.store import hash_sets as _hash_sets
from cairn.store import health as _health
from cairn.store import identity as _identity
from cairn.store import locks as _locks
from cairn.store import matches as _matches
from cairn.store import model_links as _model_links
from cairn.store import provenance as _provenance
from cairn.store import review as _review
from cairn.store import seal as _seal
from cairn.store import terms as _terms
from cairn.store.db import (
    CaseDatabaseMissing,
    ReadEngine,
    create_case_engine,
    create_read_engine,
    is_sqlite,
    mask_url,
    read_connection,
    resolve_url,
    settle_sqlite,
    sqlite_file,
    write_connection,
)
from cairn.store.identity import CaseFolderMismatch as CaseFolderMismatch  # re-exported: its old home
from cairn.store.migrate import upgrade
from cairn.store.schema import audit_log, cases, evidence, file_hashes, files, images, scan_runs, thumbnails
from cairn.store.writer import COLLISION_MARK as COLLISION_MARK  # re-exported: its old home
from cairn.store.writer import ResultWriter
from cairn.store.writer import WriteOutcome as WriteOutcome  # re-exported: pipeline/scan.py imports it from here

if TYPE_CHECKING:
    from cairn.matching.match import Hit as _MatchHit
    from cairn.matching.match import Query as _MatchQuery

RUN_STATUSES = frozenset({"running", "completed", "interrupted", "failed"})
FINISHED_STATUSES = RUN_STATUSES - {"running"}

#: Hash kinds flattened into ``iter_file_rows``.
ROW_HASHES = ("md5", "sha1", "sha256", "pdq")

#: Default Hamming-distance threshold of PDQ matching (Meta's recommendation).
DEFAULT_PDQ_THRESHOLD = 31

#: Formats whose sets are known-harmless unless the importer says otherwise.
_HARMLESS_FORMATS = frozenset({"nsrl", "list"})


def default_actor() -> str:
    """The OS user running this process, or ``"unknown"``."""
    try:
        return getpass.getuser()
    except Exception:  # getuser raises various errors when no user can be determined
        return "unknown"


def _loads(raw: str | None) -> Any:
    if raw is None:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return {"_unparseable": raw}


class CaseStore:
    """One case in a case database. Open with :meth:`open`; close with :meth:`close` or ``with``."""

    #: Rows fetched per page by :meth:`iter_file_rows` (keyset pagination).
    ROW_PAGE = 2000

    def __init__(
        self,
        engine: Engine,
        url: str,
        case_dir: Path,
        case_id: int,
        case_name: str,
        *,
        reader: ReadEngine | None = None,
    ) -> None:
        """Wrap an already migrated engine (or a ``reader`` from a read-only open); use :meth:`open` instead."""
        self._engine = engine
        self._url = url
        self.case_dir = case_dir
        self.case_id = case_id
        self.case_name = case_name
        self._sqlite = is_sqlite(engine)
        self._reader = reader

    @property
    def read_only(self) -> bool:
        """True for a store opened by a read command: it cannot write the database or the case folder."""
        return self._reader is not None

    # -- lifecycle -------------------------------------------------------------------------------

    @classmethod
    def open(
        cls, case_dir: Path, db_url: str | None = None, case_name: str | None = None, *, read_only: bool = False
    ) -> CaseStore:
        """Open the case of ``case_dir``; for writing (default) or, with ``read_only``, for a read command.

        ``db_url`` None means SQLite at ``case_dir/case.db``; ``postgresql://`` URLs use psycopg 3. The case
        is found by the id in ``case_dir/case.json`` (see :mod:`cairn.store.identity`), else by
        ``case_name`` (default: ``case_dir``'s name).

        For writing, it creates ``case_dir``, the database and the case as needed (auditing
        ``case.created``), migrates to head, and gives a case made before case ids existed its id
        (``case.uid_recorded``); opening an existing case with an id writes nothing.

        ``read_only`` writes nothing at all, anywhere: no folder, no case, no migration, no ``case.json``,
        no anchor, no SQLite side files (see :func:`cairn.store.db.create_read_engine`). It raises
        :class:`~cairn.store.identity.CaseOpenError` when there is no case to read.

        A visibly damaged SQLite file raises :class:`~cairn.store.health.CaseDatabaseCorrupt` before anything
        reads it.
        """
        _health.check_case_database(Path(case_dir).absolute(), db_url)  # CaseDatabaseCorrupt, before any use
        if read_only:
            return cls._open_read_only(Path(case_dir).absolute(), db_url, case_name)
        case_dir = Path(case_dir).absolute()
        case_dir.mkdir(parents=True, exist_ok=True)
        config = read_config(case_dir)
        name = case_name or case_dir.name
        url = resolve_url(case_dir, db_url)
        own_db = _is_own_sqlite(case_dir, url)
        engine = create_case_engine(url)
        lock = not is_sqlite(engine)
        try:
            upgrade(engine)
            with write_connection(engine) as conn:
                row, entry = _identity.claim(
                    conn,
                    case_dir,
                    config,
                    name,
                    own_db=own_db,
                    created={"name": name, "case_dir": str(case_dir), "db_url": mask_url(url)},
                    append=lambda case_id, action, details: _append_audit(
                        conn, case_id, action, details, default_actor(), lock
                    ),
                )
        except BaseException:
            engine.dispose()
            raise
        store = cls(engine, url, case_dir, row.id, row.name)
        if entry is not None:
            store._anchor(entry)
        return store

    @classmethod
    def _open_read_only(cls, case_dir: Path, db_url: str | None, case_name: str | None) -> CaseStore:
        if not case_dir.is_dir():
            raise _identity.CaseNotFound(f"no case folder at {case_dir}")
        config = read_config(case_dir)
        url = resolve_url(case_dir, db_url)
        try:
            reader = create_read_engine(url)
        except CaseDatabaseMissing as exc:
            raise _identity.CaseNotFound(f"{exc}: {case_dir} holds no case database") from exc
        try:
            with read_connection(reader.engine) as conn:
                _identity.check_readable(conn)
            with read_connection(reader.engine) as conn:
                name = case_name or case_dir.name
                row = _identity.find_case(conn, case_dir, config, name, own_db=_is_own_sqlite(case_dir, url))
            if row is None:
                raise _identity.CaseNotFound(
                    f"the database {mask_url(url)} holds no case for {case_dir} "
                    f"(id {config.uid or 'none'}, name {case_name or case_dir.name!r})"
                )
        except BaseException:
            reader.close()
            raise
        return cls(reader.engine, url, case_dir, row.id, row.name, reader=reader)

    def close(self) -> None:
        """Release all database connections (a writer's SQLite database is left in rollback-journal mode)."""
        if self._reader is not None:
            self._reader.close()
            return
        self._engine.dispose()
        settle_sqlite(self._url)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    @property
    def db_url(self) -> str:
        """The database URL with any password masked (for display and reports)."""
        return mask_url(self._url)

    def __repr__(self) -> str:
        return f"CaseStore(case_id={self.case_id}, name={self.case_name!r}, db_url={self.db_url!r})"

    # -- evidence and runs -----------------------------------------------------------------------

    def register_evidence(self, root: str, kind: str, actor: str, details: Mapping[str, Any]) -> int:
        """Return the id of evidence ``root`` in this case, registering it (and auditing
        ``evidence.registered`` with ``details``) the first time. ``root`` is stored exactly as given."""
        with write_connection(self._engine) as conn:
            self._lock_case(conn)
            found = conn.execute(
                select(evidence.c.id).where(evidence.c.case_id == self.case_id, evidence.c.root == root)
            ).scalar()
            if found is not None:
                return int(found)
            ev_id = int(
                conn.execute(
                    evidence.insert().returning(evidence.c.id),
                    {"case_id": self.case_id, "root": root, "kind": kind, "registered_at": _audit.utc_now()},
                ).scalar_one()
            )
            payload = {"evidence_id": ev_id, "root": root, "kind": kind, **dict(details)}
            entry = self._append(conn, "evidence.registered", payload, actor)
        self._anchor(entry)
        return ev_id

    def start_run(self, evidence_id: int, tool_version: str, settings: Mapping[str, Any], actor: str) -> int:
        """Start a scan run of ``evidence_id``; older runs of it still 'running' become 'interrupted'.

        Audits ``scan.started`` (with the settings and the ids of runs it marked interrupted).
        """
        with write_connection(self._engine) as conn:
            self._lock_case(conn)
            self._check_evidence(conn, evidence_id)
            stale = list(
                conn.execute(
                    select(scan_runs.c.id).where(
                        scan_runs.c.evidence_id == evidence_id, scan_runs.c.status == "running"
                    )
                ).scalars()
            )
            if stale:
                conn.execute(update(scan_runs).where(scan_runs.c.id.in_(stale)).values(status="interrupted"))
            run_id = int(
                conn.execute(
                    scan_runs.insert().returning(scan_runs.c.id),
                    {
                        "case_id": self.case_id,
                        "evidence_id": evidence_id,
                        "tool_version": tool_version,
                        "settings_json": _audit.canonical_json(settings),
                        "started_at": _audit.utc_now(),
                        "status": "running",
                        "host": socket.gethostname(),
                        "os_user": default_actor(),
                    },
                ).scalar_one()
            )
            entry = self._append(
                conn,
                "scan.started",
                {
                    "run_id": run_id,
                    "evidence_id": evidence_id,
                    "tool_version": tool_version,
                    "settings": dict(settings),
                    "interrupted_runs": [int(i) for i in stale],
                },
                actor,
            )
        self._anchor(entry)
        return run_id

    def finish_run(
        self,
        run_id: int,
        status: str,
        counts: Mapping[str, Any],
        actor: str,
        details: Mapping[str, Any] | None = None,
    ) -> None:
        """Close a 'running' run with ``status`` (completed, interrupted or failed) and its counts.

        Audits ``scan.finished`` with counts and details. Raises ValueError for an unknown status, a run
        of another case, or a run that is no longer running.
        """
        if status not in FINISHED_STATUSES:
            raise ValueError(f"finish status must be one of {sorted(FINISHED_STATUSES)}, not {status!r}")
        with write_connection(self._engine) as conn:
            self._lock_case(conn)
            run = self._check_run(conn, run_id)
            conn.execute(
                update(scan_runs)
                .where(scan_runs.c.id == run_id)
                .values(status=status, ended_at=_audit.utc_now(), counts_json=_audit.canonical_json(counts))
            )
            entry = self._append(
                conn,
                "scan.finished",
                {
                    "run_id": run_id,
                    "evidence_id": run["evidence_id"],
                    "status": status,
                    "counts": dict(counts),
                    "details": dict(details or {}),
                },
                actor,
            )
        self._anchor(entry)

    def runs(self) -> list[dict[str, Any]]:
        """All runs of this case, oldest first: id, evidence_id, tool_version, settings, started_at,
        ended_at, status, counts, host, os_user."""
        with read_connection(self._engine) as conn:
            rows = conn.execute(
                select(scan_runs).where(scan_runs.c.case_id == self.case_id).order_by(scan_runs.c.id)
            ).mappings()
            return [
                {
                    "id": r["id"],
                    "evidence_id": r["evidence_id"],
                    "tool_version": r["tool_version"],
                    "settings": _loads(r["settings_json"]),
                    "started_at": r["started_at"],
                    "ended_at": r["ended_at"],
                    "status": r["status"],
                    "counts": _loads(r["counts_json"]),
                    "host": r["host"],
                    "os_user": r["os_user"],
                }
                for r in rows
            ]

    def evidence_list(self) -> list[dict[str, Any]]:
        """Registered evidence of this case in registration order: id, root, kind, registered_at, files."""
        n_files = (
            select(func.count()).where(files.c.evidence_id == evidence.c.id).scalar_subquery().label("files")
        )
        with read_connection(self._engine) as conn:
            rows = conn.execute(
                select(evidence.c.id, evidence.c.root, evidence.c.kind, evidence.c.registered_at, n_files)
                .where(evidence.c.case_id == self.case_id)
                .order_by(evidence.c.id)
            ).mappings()
            return [dict(r) for r in rows]

    # -- results ---------------------------------------------------------------------------------

    def done_paths(self, evidence_id: int) -> set[str]:
        """Logical paths already stored for ``evidence_id`` (what a resumed scan can skip)."""
        with read_connection(self._engine) as conn:
            return set(
                conn.execute(
                    select(files.c.path).where(
                        files.c.case_id == self.case_id, files.c.evidence_id == evidence_id
                    )
                ).scalars()
            )

    def write_results(self, run_id: int, evidence_id: int, results: Sequence[FileResult]) -> int:
        """Store a batch (see :meth:`store_results`); return how many ``files`` rows were inserted."""
        return self.store_results(run_id, evidence_id, results).stored

    def store_results(self, run_id: int, evidence_id: int, results: Sequence[FileResult]) -> WriteOutcome:
        """Store a batch in one transaction; say what was stored, skipped, and recorded on items.

        - A path an *earlier* run of ``evidence_id`` stored is skipped (a resumed scan stores every file once).
        - A path already stored by *this* run, or repeated in the batch, is a collision: the item is stored
          under ``PATH%!collision-N`` (N = 2, 3, ...: the first free one) with a ``path_collision`` error,
          never dropped. Name escaping writes ``%`` only as ``%XX``/``%uXXXX`` (a literal ``%`` as ``%25``),
          so ``%!`` cannot come from any escaped name and the renamed path is unambiguous.
        - Every row goes through :func:`cairn.store.rows.storable_row`. If the database still refuses the
          batch, it is retried item by item (savepoints in the same transaction); an item whose rows are
          refused is stored with less (its ``files`` row without details, then a minimal row with details,
          then a minimal row alone) and a ``store_failed`` error saying what the database refused.

        Stores hashes by kind (with ``hash_quality``), image info, findings, all errors in order, and the
        thumbnail under the file's sha256 if not present yet. ``run_id`` must be a running run of
        ``evidence_id``. Only a database that refuses even a minimal row (gone, full) raises.
        """
        if not results:
            return WriteOutcome()
        with write_connection(self._engine) as conn:
            run = self._check_run(conn, run_id)
            if run["evidence_id"] != evidence_id:
                raise ValueError(f"run {run_id} scans evidence {run['evidence_id']}, not {evidence_id}")
            return ResultWriter(self._engine, self.case_id).store(conn, run_id, evidence_id, results)

    def iter_file_rows(
        self,
        evidence_id: int | None = None,
        *,
        page_size: int | None = None,
        with_matches: bool = False,
        with_provenance: bool = False,
    ) -> Iterator[dict[str, Any]]:
        """Stream this case's files ordered by evidence id then path, one short read per page.

        Keys: path, size, type, md5, sha1, sha256, pdq, pdq_quality, width, height, error, notes, evidence
        (its root), mime, extension_mismatch, frames, is_container. Pages use keyset pagination, so
        rows written while iterating after the current position are seen, earlier ones are not.
        ``with_matches`` adds ``matches``: the file's hits in the case's latest finished match run (see
        :func:`cairn.store.matches.matches_for_files`), an empty list when none; ``group``: the file's
        near-duplicate group number in the case's latest ``cairn groups`` run, None when it is in no group;
        and ``category``: its current category in the review app (see
        :func:`cairn.store.review.categories_for_files`), None when uncategorised.
        ``with_provenance`` adds ``provenance``: the file's AI-provenance findings (see
        :func:`cairn.store.provenance.provenance_for_files`).
        """
        limit = page_size or self.ROW_PAGE
        h = {k: file_hashes.alias(f"h_{k}") for k in ROW_HASHES}
        joined = files.join(evidence, evidence.c.id == files.c.evidence_id).outerjoin(
            images, images.c.file_id == files.c.id
        )
        for kind, alias in h.items():
            joined = joined.outerjoin(alias, and_(alias.c.file_id == files.c.id, alias.c.kind == kind))
        base = (
            select(
                files.c.path,
                files.c.size,
                files.c.type_label.label("type"),
                *(h[k].c.value.label(k) for k in ROW_HASHES),
                h["pdq"].c.quality.label("pdq_quality"),
                images.c.width,
                images.c.height,
                files.c.error,
                files.c.notes,
                evidence.c.root.label("evidence"),
                files.c.mime,
                files.c.extension_mismatch,
                images.c.frames,
                files.c.is_container,
                files.c.mtime,
                files.c.id.label("_file_id"),
            )
            .select_from(joined)
            .order_by(files.c.path)
            .limit(limit)
        )
        pick = select(evidence.c.id).where(evidence.c.case_id == self.case_id).order_by(evidence.c.id)
        if evidence_id is not None:
            pick = pick.where(evidence.c.id == evidence_id)
        with read_connection(self._engine) as conn:
            evidence_ids = [int(i) for i in conn.execute(pick).scalars()]
            match_run = _matches.latest_run(conn, self.case_id) if with_matches else None
            group_run = _groups.latest_run(conn, self.case_id) if with_matches else None
        links = _model_links.links_by_image(self._engine, self.case_id) if with_provenance else {}
        for ev in evidence_ids:  # per evidence, so each page is a range scan of uq(evidence_id, path)
            last: str | None = None
            while True:
                stmt = base.where(files.c.evidence_id == ev)
                if last is not None:
                    stmt = stmt.where(files.c.path > last)
                with read_connection(self._engine) as conn:
                    page = [dict(r) for r in conn.execute(stmt).mappings()]
                    hits = (
                        _matches.matches_for_files(conn, match_run, [int(r["_file_id"]) for r in page])
                        if match_run is not None
                        else {}
                    )
                    in_group = (
                        _groups.groups_for_files(conn, group_run, [int(r["_file_id"]) for r in page])
                        if group_run is not None
                        else {}
                    )
                    categorised = (
                        _review.categories_for_files(conn, [int(r["_file_id"]) for r in page]) if with_matches else {}
                    )
                    found = (
                        _provenance.provenance_for_files(conn, [int(r["_file_id"]) for r in page])
                        if with_provenance
                        else {}
                    )
                for row in page:
                    file_id = int(row.pop("_file_id"))
                    if with_matches:
                        row["matches"] = hits.get(file_id, [])
                        row["group"] = in_group.get(file_id)
                        row["category"] = categorised.get(file_id)
                    if with_provenance:
                        row["provenance"] = found.get(file_id) or _provenance.empty_provenance()
                        row["provenance"]["model_links"] = links.get(file_id, [])
                    row["extension_mismatch"] = bool(row["extension_mismatch"])
                    row["is_container"] = bool(row["is_container"])
                    last = row["path"]
                    yield row
                if len(page) < limit:
                    break

    def provenance_summary(self, top: int = 20) -> dict[str, Any]:
        """The case's AI-provenance summary (``cairn provenance``): see :func:`cairn.store.provenance.case_summary`,
        with ``models_on_evidence``: :func:`cairn.store.model_links.case_report`, and ``term_hits``:
        :func:`cairn.store.terms.hit_summary`."""
        summary = _provenance.case_summary(_provenance.iter_case_findings(self._engine, self.case_id), top=top)
        summary["models_on_evidence"] = _model_links.case_report(self._engine, self.case_id)
        summary["term_hits"] = _terms.hit_summary(self.term_lists(), self.term_hits())
        return summary

    def thumbnail(self, sha256: str) -> bytes | None:
        """The WebP thumbnail stored for content ``sha256``, or None."""
        with read_connection(self._engine) as conn:
            data = conn.execute(select(thumbnails.c.webp).where(thumbnails.c.sha256 == sha256)).scalar()
            return bytes(data) if data is not None else None

    def counts(self, evidence_id: int | None = None) -> dict[str, int]:
        """Totals for the case (or one evidence): files, errors (files with an error), images,
        containers, bytes (sum of sizes) and bytes_read."""
        has_image = select(images.c.file_id).where(images.c.file_id == files.c.id).exists()
        stmt = select(
            func.count().label("files"),
            func.coalesce(func.sum(case((files.c.error_code.is_not(None), 1), else_=0)), 0).label("errors"),
            func.coalesce(func.sum(case((has_image, 1), else_=0)), 0).label("images"),
            func.coalesce(func.sum(case((files.c.is_container, 1), else_=0)), 0).label("containers"),
            func.coalesce(func.sum(files.c.size), 0).label("bytes"),
            func.coalesce(func.sum(files.c.bytes_read), 0).label("bytes_read"),
        ).where(files.c.case_id == self.case_id)
        if evidence_id is not None:
            stmt = stmt.where(files.c.evidence_id == evidence_id)
        with read_connection(self._engine) as conn:
            row = conn.execute(stmt).mappings().one()
            return {k: int(v) for k, v in row.items()}

    # -- hash sets (stored once per database; see cairn.store.hash_sets) -------------------------

    def import_hash_set(
        self,
        path: Path,
        *,
        actor: str,
        name: str | None = None,
        format_name: str = "auto",
        options: ReadOptions | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> dict[str, Any]:
        """Import the hash set in ``path`` into this case's database (every case there can use it).

        Streams the file in batches; refuses a file already imported (same SHA-256) or a name already taken
        (:class:`~cairn.store.hash_sets.HashSetRefused`); a failure part-way leaves no set behind. Audits
        ``hashset.imported`` in this case with the name, digest, format, scheme and counts; returns them.
        ``UnknownFormat``/``WrongFormat``/``SchemeError`` from the reader propagate.
        """
        from cairn.matching.formats import ReadReport, detect_format, get_format

        fmt = detect_format(path) if format_name == "auto" else get_format(format_name)
        opts = options or ReadOptions()
        scheme = opts.code_table.target if opts.code_table is not None else (opts.scheme or fmt.default_scheme)
        ignorable = opts.ignorable if opts.ignorable is not None else fmt.name in _HARMLESS_FORMATS
        opts = replace(opts, ignorable=ignorable)
        source = _hash_sets.SetSource(
            name or path.stem, _hash_sets.file_sha256(path), path.name, fmt.name, scheme, ignorable, actor
        )
        set_id = _hash_sets.begin_import(self._engine, source, _audit.utc_now())
        report = ReadReport(details={"format": fmt.name})
        try:
            records = _hash_sets.insert_records(self._engine, set_id, fmt.read(path, opts, report), progress)
            summary: dict[str, Any] = {
                "set_id": set_id,
                "name": source.name,
                "source_name": source.source_name,
                "source_sha256": source.source_sha256,
                "format": fmt.name,
                "scheme": scheme,
                "ignorable": ignorable,
                "records": records,
                "warnings": report.warning_count,
                "skipped": report.skipped,
            }
            if opts.code_table is not None:
                summary["mapping"] = _mapping_record(opts.code_table)
                report.details["mapping"] = summary["mapping"]
            kept = [f"{w.position}: {w.message}" for w in report.warnings[:100]]
            with write_connection(self._engine) as conn:
                self._lock_case(conn)
                _hash_sets.finish_import(
                    conn, set_id, records, report.warning_count, {**report.details, "skipped": report.skipped,
                                                                  "warnings": kept}
                )
                entry = self._append(conn, "hashset.imported", summary, actor)
        except BaseException:
            _hash_sets.discard(self._engine, set_id)
            raise
        self._anchor(entry)
        self._build_pdq_cache(set_id)
        return {**summary, "warning_samples": kept}

    def import_terms(self, path: Path, *, actor: str, name: str | None = None) -> dict[str, Any]:
        """Import the term list in ``path`` into this case's database (every case there can use it). Refuses a
        taken name or a file imported already (:class:`~cairn.store.terms.TermListRefused`); ``TermListError``
        for a file that is no term list. Audits ``terms.imported`` (name, file name and SHA-256, counts; never
        the terms) and returns the same."""
        read = _terms_file(path)
        summary: dict[str, Any] = {
            "name": name or path.stem,
            "source_name": path.name,
            "source_sha256": read.sha256,
            "terms": len(read.terms),
            "skipped": read.skipped,
        }
        with write_connection(self._engine) as conn:
            self._lock_case(conn)
            _terms.insert_list(conn, summary["name"], path.name, read, actor, _audit.utc_now())
            entry = self._append(conn, "terms.imported", summary, actor)
        self._anchor(entry)
        return {**summary, "warnings": read.warnings}

    def term_lists(self) -> list[dict[str, Any]]:
        """The database's term lists (see :func:`cairn.store.terms.list_lists`)."""
        return _terms.list_lists(self._engine)

    def term_hits(self, names: list[str] | None = None) -> Iterator[_terms.TermHit]:
        """Where this case's model files and generation records hit the named term lists (all when None)."""
        return _terms.case_hits(self._engine, self.case_id, _terms.matcher(self._engine, names))

    def hash_sets(self) -> list[dict[str, Any]]:
        """The complete hash sets of this database, by name: id, name, source_sha256, source_name, format,
        scheme, ignorable, imported_at, imported_by, record_count, warning_count, details."""
        return _hash_sets.list_sets(self._engine)

    def export_hash_set(
        self,
        name: str,
        format_name: str,
        out: TextIO,
        *,
        only_categorised: bool = False,
        mapping: SchemeMapping | None = None,
    ) -> WriteReport:
        """Write hash set ``name`` to ``out`` as ``format_name`` (vics: VICS 2.0, csv, te); KeyError if no such
        set, ``UnknownFormat`` if the format cannot write. ``only_categorised`` leaves uncategorised records out.

        ``mapping`` (``vics-code`` -> the set's scheme, e.g. a tool's CAID codes) gives the VICS ``Category``
        byte written for each category (VICS only, as the ``UK`` variant for CAID, else ``CUSTOM``); without one,
        only numeric schemes write a ``Category``.
        ``SchemeError`` when the mapping's target is not the set's scheme or the format is not VICS."""
        from cairn.matching.formats import WRITERS, UnknownFormat
        from cairn.matching.formats.vics import vics_codes, write_vics
        from cairn.matching.schemes import SchemeError

        found = _hash_sets.find_set(self._engine, name)
        if found is None:
            raise KeyError(name)
        writer = WRITERS.get(format_name)
        if writer is None:
            raise UnknownFormat(f"cannot write {format_name!r} (writable: {', '.join(WRITERS)})")
        records = _hash_sets.iter_records(self._engine, int(found["id"]), only_categorised=only_categorised)
        if mapping is None:
            return writer.write(records, out)
        if format_name != "vics":
            raise SchemeError(f"a mapping gives VICS category codes; format {format_name!r} writes the set's own")
        if mapping.target != found["scheme"]:
            raise SchemeError(
                f"mapping {mapping.name!r} maps to {mapping.target!r}, "
                f"but set {name!r} is in scheme {found['scheme']!r}"
            )
        variant = "UK" if mapping.target == "caid" else "CUSTOM"  # the codes are a tool's, not VIC US categories
        return write_vics(records, out, variant=variant, category_codes=vics_codes(mapping))

    # -- matching (see cairn.matching.match and cairn.store.matches) --------------------------------

    def run_match(
        self,
        *,
        actor: str,
        set_names: Sequence[str] | None = None,
        pdq_threshold: int = DEFAULT_PDQ_THRESHOLD,
        progress: Callable[[str, int, int], None] | None = None,
        dihedral: bool = False,
    ) -> dict[str, Any]:
        """Match this case's files against the database's hash sets (``set_names``, or all); return the run.

        Exact on md5/sha1/sha256 and the model-file kinds (autov1/2/3, tensor SHA-256, BLAKE3), PDQ within
        ``pdq_threshold`` for file PDQs of quality >= 50. Records a ``match_runs`` row (settings with every
        set's name and source SHA-256, counts) and appends ``match.finished`` to the audit log; a failure
        part-way leaves no run behind. ``KeyError`` naming the sets not found; ``ValueError`` when there is no
        set to match against or the threshold is not 0..256. ``progress(stage, done, total)`` is called with
        stage "index" or "match". The same code path as :meth:`match_hashes`
        (:func:`cairn.matching.match.match_chunks`). ``dihedral`` also matches each file's seven
        rotated/mirrored PDQ variants stored by the scan; a hit through one records its ``transform``, and
        ``counts["pdq_without_variants"]`` counts the PDQs that had none (scanned by an older cairn).
        """
        from cairn.matching import match as _match

        found = self._sets_to_match(set_names, pdq_threshold)
        _hash_sets.ensure_indexes(self._engine)  # an import killed while its index was deferred left it missing
        refs = [_match.SetRef(int(s["id"]), s["name"], s["source_sha256"], bool(s["ignorable"])) for s in found]
        settings = _match.MatchSettings(refs, pdq_threshold, dihedral=dihedral)
        set_ids = [r.id for r in refs]
        tick = progress or (lambda _stage, _done, _total: None)
        run_id = _matches.start_run(self._engine, self.case_id, settings.as_dict(), _audit.utc_now())
        try:
            tick("index", 0, 1)
            index = self._pdq_index(found)
            tick("index", 1, 1)
            total = _matches.count_case_queries(self._engine, self.case_id)
            read = _match.QueryCounts()
            queries = _matches.case_queries(
                self._engine, self.case_id, settings.min_pdq_quality, read, dihedral=dihedral
            )
            lookup = _matches.exact_lookup(self._engine, set_ids)
            tick("match", 0, total)
            for _chunk, hits in _match.match_chunks(_match.chunked(queries), lookup, index, pdq_threshold):
                _matches.insert_hits(self._engine, run_id, hits)
                tick("match", read.queries + read.pdq_skipped_low_quality, total)
            counts: dict[str, Any] = {
                **_matches.run_counts(self._engine, run_id),
                "pdq_queried": read.pdq_queried,
                "pdq_skipped_low_quality": read.pdq_skipped_low_quality,
                "pdq_without_variants": read.pdq_without_variants,
                "pdq_index_hashes": 0 if index is None else len(index),
            }
            summary = {"match_run_id": run_id, "settings": settings.as_dict(), "counts": counts}
            with write_connection(self._engine) as conn:
                self._lock_case(conn)
                _matches.finish_run(conn, run_id, counts, _audit.utc_now())
                entry = self._append(conn, "match.finished", summary, actor)
        except BaseException:
            _matches.discard_run(self._engine, run_id)
            raise
        self._anchor(entry)
        return summary

    def match_hashes(
        self,
        chunks: Iterable[Sequence[_MatchQuery]],
        *,
        set_names: Sequence[str] | None = None,
        pdq_threshold: int = DEFAULT_PDQ_THRESHOLD,
    ) -> Iterator[list[dict[str, Any]]]:
        """Match hashes that came without media (chunks of queries, key = line number) against the database's
        hash sets by the same code path as :meth:`run_match`; yield each chunk's hits as dicts (query, key,
        set, kind, distance, category_scheme, category_value, category_label, series, position), in query
        order, then set name, then distance. Reads only: nothing of the case changes, so nothing is written or audited.
        ``KeyError``/``ValueError`` as :meth:`run_match`, raised before the first chunk is read.
        """
        from cairn.matching import match as _match

        found = self._sets_to_match(set_names, pdq_threshold)
        names = {int(s["id"]): str(s["name"]) for s in found}
        index = self._pdq_index(found)
        lookup = _matches.exact_lookup(self._engine, list(names))
        return self._hash_hits(_match.match_chunks(chunks, lookup, index, pdq_threshold), names)

    def _sets_to_match(self, set_names: Sequence[str] | None, pdq_threshold: int) -> list[dict[str, Any]]:
        """The complete sets to match against; ``KeyError`` naming the sets not found, ``ValueError`` when there is
        none or the threshold is not 0..256 (the refusals of :meth:`run_match` and :meth:`match_hashes`)."""
        if not 0 <= pdq_threshold <= 256:
            raise ValueError(f"the PDQ threshold must be 0..256, got {pdq_threshold}")
        found, missing = _matches.complete_sets(self._engine, set_names)
        if missing:
            raise KeyError(", ".join(missing))
        if not found:
            raise ValueError("no hash sets in this database")
        return found

    def _hash_hits(
        self, matched: Iterator[tuple[Sequence[_MatchQuery], list[_MatchHit]]], names: Mapping[int, str]
    ) -> Iterator[list[dict[str, Any]]]:
        for _chunk, hits in matched:
            entries = _matches.entry_details(self._engine, (h.entry_id for h in hits))
            rows = []
            for h in hits:
                entry = entries[h.entry_id]
                category = _matches.category_dict(entry["category_scheme"], entry["category_value"])
                rows.append(
                    {
                        "position": h.position, "query": h.value, "key": h.key,
                        "set": names[int(entry["set_id"])], "kind": h.kind,
                        "distance": h.distance, "category_scheme": entry["category_scheme"],
                        "category_value": entry["category_value"],
                        "category_label": None if category is None else category["label"],
                        "series": entry["series"],
                    }
                )
            rows.sort(key=lambda r: (r["position"], r["set"], r["distance"]))
            yield rows

    def match_runs(self) -> list[dict[str, Any]]:
        """This case's finished match runs, oldest first: id, started_at, ended_at, settings, counts."""
        return _matches.runs(self._engine, self.case_id)

    # -- near-duplicate groups (see cairn.matching.groups and cairn.store.groups) ---------------------

    def run_groups(
        self,
        *,
        actor: str,
        pdq_threshold: int = DEFAULT_PDQ_THRESHOLD,
        progress: Callable[[int, int], None] | None = None,
    ) -> dict[str, Any]:
        """Group this case's files into near-duplicate groups ("stacks"); return the run.

        Exact duplicates (same SHA-256) collapse first, then files whose PDQs (quality >= 50) are within
        ``pdq_threshold`` are joined (see :mod:`cairn.matching.groups`). The run (settings, counts) and its
        groups are stored and ``groups.finished`` is appended to the audit log in one transaction. Returns
        ``{group_run_id, settings, counts}``. ``ValueError`` when the threshold is not 0..256.
        ``progress(done, total)`` counts PDQ hashes compared.
        """
        from cairn.matching import groups as _grouping

        settings = _grouping.GroupSettings(pdq_threshold=pdq_threshold)
        grouping = _grouping.group_files(_groups.group_inputs(self._engine, self.case_id), settings, progress)
        with write_connection(self._engine) as conn:
            self._lock_case(conn)
            run_id = _groups.write_run(conn, self.case_id, settings.as_dict(), grouping, _audit.utc_now())
            summary = {"group_run_id": run_id, "settings": settings.as_dict(), "counts": grouping.counts}
            entry = self._append(conn, "groups.finished", summary, actor)
        self._anchor(entry)
        return summary

    def group_runs(self) -> list[dict[str, Any]]:
        """This case's group runs, oldest first: id, at, settings, counts."""
        return _groups.runs(self._engine, self.case_id)

    def groups(self) -> list[dict[str, Any]]:
        """The groups of this case's latest group run (see :func:`cairn.store.groups.run_listing`); [] if none."""
        with read_connection(self._engine) as conn:
            run_id = _groups.latest_run(conn, self.case_id)
        return [] if run_id is None else _groups.run_listing(self._engine, run_id)

    # -- audit -----------------------------------------------------------------------------------

    def audit_append(self, action: str, details: Mapping[str, Any], actor: str) -> dict[str, Any]:
        """Append one entry to this case's audit log and refresh the anchor; return the entry."""
        with write_connection(self._engine) as conn:
            entry = self._append(conn, action, details, actor)
        self._anchor(entry)
        return entry

    def audit_entries(self) -> list[dict[str, Any]]:
        """This case's audit log in seq order: case_id, seq, at, actor, action, details (parsed),
        details_json, prev_hash, entry_hash."""
        out = []
        for r in self._audit_rows():
            row = dict(r)
            row["details"] = _loads(row["details_json"])
            out.append(row)
        return out

    def audit_verify(self) -> list[str]:
        """Check the hash chain, the anchor file, and the stored results of every completed run against the
        digests its ``scan.finished`` entry sealed (see :mod:`cairn.store.seal`); return human-readable
        problems (empty = intact), each naming what no longer matches."""
        entries = self.audit_entries()
        problems = _audit.verify_entries(self.case_id, entries, _audit.read_anchor(self.case_dir))
        roots = {int(e["id"]): str(e["root"]) for e in self.evidence_list()}
        with read_connection(self._engine) as conn:
            problems.extend(_seal.sealed_run_problems(conn, entries, roots))
        return problems

    def scan_lock(self, root: str) -> AbstractContextManager[None]:
        """Hold the scan lock of evidence ``root`` in this case for a ``with`` block, or raise
        :class:`~cairn.store.locks.ScanInProgress` naming the scan that holds it (see :mod:`cairn.store.locks`)."""
        if self._sqlite:
            return _locks.file_lock(self.case_dir, root)
        return _locks.advisory_lock(self._engine, self.case_id, root)

    def evidence_digest(self, evidence_id: int, up_to_run: int | None = None) -> str:
        """SHA-256 over the sorted ``path<TAB>sha256`` lines of ``evidence_id``'s stored items (those stored
        by runs up to ``up_to_run`` when given): one fingerprint of it all, sealed when a scan completes."""
        with read_connection(self._engine) as conn:
            return _seal.evidence_digest(conn, evidence_id, up_to_run)

    def rows_digest(self, evidence_id: int, up_to_run: int | None = None) -> str:
        """SHA-256 over every stored record of ``evidence_id`` (see :func:`cairn.store.seal.rows_digest`)."""
        with read_connection(self._engine) as conn:
            return _seal.rows_digest(conn, evidence_id, up_to_run)

    # -- internals -------------------------------------------------------------------------------

    def _audit_rows(self) -> list[dict[str, Any]]:
        with read_connection(self._engine) as conn:
            rows = conn.execute(
                select(audit_log).where(audit_log.c.case_id == self.case_id).order_by(audit_log.c.seq)
            ).mappings()
            return [dict(r) for r in rows]

    def _append(
        self, conn: Connection, action: str, details: Mapping[str, Any], actor: str
    ) -> dict[str, Any]:
        return _append_audit(conn, self.case_id, action, details, actor, not self._sqlite)

    def _lock_case(self, conn: Connection) -> None:
        """Serialise writers of this case on PostgreSQL (SQLite already holds the write lock)."""
        if not self._sqlite:
            conn.execute(select(cases.c.id).where(cases.c.id == self.case_id).with_for_update())

    def _anchor(self, entry: Mapping[str, Any]) -> None:
        if self.read_only:
            raise RuntimeError("a read-only case store never writes the audit anchor")
        _audit.write_anchor(
            self.case_dir, _audit.Anchor(int(entry["case_id"]), int(entry["seq"]), str(entry["entry_hash"]))
        )

    def _check_evidence(self, conn: Connection, evidence_id: int) -> None:
        found = conn.execute(select(evidence.c.case_id).where(evidence.c.id == evidence_id)).scalar()
        if found != self.case_id:
            raise ValueError(f"evidence {evidence_id} is not registered in case {self.case_id}")

    def _check_run(self, conn: Connection, run_id: int) -> dict[str, Any]:
        run = conn.execute(select(scan_runs).where(scan_runs.c.id == run_id)).mappings().first()
        if run is None or run["case_id"] != self.case_id:
            raise ValueError(f"scan run {run_id} does not belong to case {self.case_id}")
        if run["status"] != "running":
            raise ValueError(f"scan run {run_id} is {run['status']}, not running")
        return dict(run)

    def _pdq_index(self, sets: Sequence[Mapping[str, Any]]) -> Any:
        """The PDQ index over ``sets`` from the case's per-set index files (:mod:`cairn.store.pdq_cache`),
        rebuilt from the database where a file is missing, stale or damaged; a read-only store never writes."""
        from cairn.store import pdq_cache as _pdq_cache

        return _pdq_cache.load_index(self._engine, self.case_dir, sets, write=not self.read_only)

    def _build_pdq_cache(self, set_id: int) -> None:
        """Save the index file of the set just imported, so that the first match loads it instead of building."""
        from cairn.store import pdq_cache as _pdq_cache

        _pdq_cache.build_after_import(self._engine, self.case_dir, set_id)


def _mapping_record(mapping: SchemeMapping) -> dict[str, Any]:
    """How a set's categories were read through a user's mapping, as its import records it (reproducible:
    the whole table, with its canonical digest)."""
    table = {str(k): v for k, v in sorted(mapping.table.items())}
    body = {"name": mapping.name, "source": mapping.source, "target": mapping.target, "table": table}
    return {**body, "sha256": hashlib.sha256(_audit.canonical_json(body).encode()).hexdigest()}


def _is_own_sqlite(case_dir: Path, url: str) -> bool:
    """True when ``url`` is the case folder's own ``case.db`` (SQLite), not a shared database."""
    return sqlite_file(url) == sqlite_file(resolve_url(case_dir, None))


def _append_audit(
    conn: Connection, case_id: int, action: str, details: Mapping[str, Any], actor: str, lock: bool
) -> dict[str, Any]:
    """Append one chained entry inside the caller's write transaction (``lock``: FOR UPDATE the case)."""
    if lock:
        conn.execute(select(cases.c.id).where(cases.c.id == case_id).with_for_update())
    head = conn.execute(
        select(audit_log.c.seq, audit_log.c.entry_hash)
        .where(audit_log.c.case_id == case_id)
        .order_by(audit_log.c.seq.desc())
        .limit(1)
    ).first()
    seq = 1 if head is None else int(head[0]) + 1
    prev_hash = _audit.GENESIS_HASH if head is None else str(head[1])
    at = _audit.utc_now()
    details_json = _audit.canonical_json(dict(details))
    fields: dict[str, Any] = dict(
        case_id=case_id, seq=seq, at=at, actor=actor, action=action, details_json=details_json, prev_hash=prev_hash
    )
    entry = {**fields, "entry_hash": _audit.entry_hash(**fields)}
    conn.execute(audit_log.insert(), entry)
    return {**entry, "details": json.loads(details_json)}
