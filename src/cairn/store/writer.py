"""``ResultWriter``: the results write path behind :meth:`cairn.store.case_store.CaseStore.store_results`.

One batch is one transaction: paths an earlier run stored are skipped, collisions are stored renamed with a
``path_collision`` error; a refused batch is retried item by item, storing less each time, with ``store_failed``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import Connection, Engine, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import StatementError
from sqlalchemy.sql.dml import Insert
from sqlalchemy.sql.schema import Table

from cairn.errors import PATH_COLLISION, STORE_FAILED, is_note, item_error
from cairn.model import FileResult, ItemError
from cairn.store.db import is_sqlite, max_bind_params
from cairn.store.rows import DetailRows, file_row, storable_row, storable_text
from cairn.store.schema import file_errors, file_hashes, files, findings, images, thumbnails

#: What a database (or its driver) raises when it refuses a row's values; a batch is then retried per item.
_REFUSED = (StatementError, ValueError, OverflowError, TypeError)

#: Marks a path renamed after a collision: ``PATH%!collision-N``. ``%!`` is never produced by name escaping.
COLLISION_MARK = "%!collision-"


@dataclass
class WriteOutcome:
    """What :meth:`CaseStore.store_results` did with one batch.

    ``stored``: ``files`` rows inserted (renamed collisions and reduced ``store_failed`` rows included);
    ``skipped_paths``: results an earlier run of the evidence already stored (a resume), not stored again;
    ``recorded``: ``(path, error, had_error)`` for each error the store itself put on an item
    (``path_collision``, ``store_failed``), ``had_error`` telling whether the item already had an error.
    """

    stored: int = 0
    skipped_paths: list[str] = field(default_factory=list)
    recorded: list[tuple[str, ItemError, bool]] = field(default_factory=list)


class ResultWriter:
    """Writes result batches of one case inside the caller's write transaction (see :meth:`store`)."""

    def __init__(self, engine: Engine, case_id: int) -> None:
        self._engine = engine
        self.case_id = case_id

    def store(self, conn: Connection, run_id: int, evidence_id: int, results: Sequence[FileResult]) -> WriteOutcome:
        """Store ``results`` in ``conn``'s transaction, ``run_id`` being a running run of ``evidence_id`` (the
        caller checks); the rules are those of :meth:`cairn.store.case_store.CaseStore.store_results`."""
        outcome = WriteOutcome()
        plan = self._plan(conn, run_id, evidence_id, results, outcome)
        try:
            with conn.begin_nested():
                self._insert_items(conn, evidence_id, run_id, plan)
            outcome.stored += len(plan)
            return outcome
        except _REFUSED:
            pass
        for item in plan:
            self._insert_isolated(conn, evidence_id, run_id, item, outcome)
        return outcome

    def _plan(
        self, conn: Connection, run_id: int, evidence_id: int, results: Sequence[FileResult], outcome: WriteOutcome
    ) -> list[_Planned]:
        """Decide each result's stored path: skip resumed ones, rename collisions (recorded on the item)."""
        stored = self._stored_runs(conn, evidence_id, {r.path for r in results})
        taken: set[str] = set()
        plan: list[_Planned] = []
        for result in results:
            path = storable_text(result.path)
            earlier = stored.get(path)
            if earlier is not None and earlier != run_id:
                outcome.skipped_paths.append(path)
                continue
            if earlier is None and path not in taken:
                taken.add(path)
                plan.append(_Planned(result))
                continue
            n = 2
            while True:
                candidate = f"{path}{COLLISION_MARK}{n}"
                if candidate not in taken and not self._stored_runs(conn, evidence_id, {candidate}):
                    break
                n += 1
            taken.add(candidate)
            err = item_error(
                PATH_COLLISION,
                f"another item of this evidence already has the logical path {path!r}; this one is stored as "
                f"{candidate!r}. Both are in the evidence: compare them there, and please report this",
            )
            plan.append(_Planned(replace(result, errors=[*result.errors, err]), f"{COLLISION_MARK}{n}"))
            outcome.recorded.append((path, err, _had_error(result)))
        return plan

    def _stored_runs(self, conn: Connection, evidence_id: int, paths: set[str]) -> dict[str, int]:
        """Which of ``paths`` are stored for ``evidence_id``, with the run that stored each."""
        found: dict[str, int] = {}
        ordered = sorted(storable_text(p) for p in paths)
        step = max(1, min(1000, max_bind_params(self._engine) - 2))
        for start in range(0, len(ordered), step):
            rows = conn.execute(
                select(files.c.path, files.c.run_id).where(
                    files.c.evidence_id == evidence_id, files.c.path.in_(ordered[start : start + step])
                )
            )
            found.update((str(path), int(run)) for path, run in rows)
        return found

    def _insert_items(
        self, conn: Connection, evidence_id: int, run_id: int, plan: Sequence[_Planned], *, details: bool = True,
        minimal: bool = False,
    ) -> None:
        """Insert the ``files`` rows of ``plan`` (and their detail rows unless ``details`` is False)."""
        rows = [
            storable_row(files, _minimal(row) if minimal else row)
            for row in (item.row(self.case_id, evidence_id, run_id) for item in plan)
        ]
        per_stmt = max(1, min(1000, max_bind_params(self._engine) // len(files.columns) - 1))
        stmt = files.insert().returning(files.c.id, files.c.path)
        ids: dict[str, int] = {}
        for start in range(0, len(rows), per_stmt):
            for file_id, path in conn.execute(stmt, rows[start : start + per_stmt]):
                ids[str(path)] = int(file_id)
        rows_by_path = {str(row["path"]): item for row, item in zip(rows, plan, strict=True)}
        extra = DetailRows()
        for path, file_id in ids.items():
            item = rows_by_path[path]
            if details:
                extra.add(file_id, item.result)
            else:
                extra.add_errors(file_id, item.result)
        for table, detail in (
            (file_hashes, extra.hashes),
            (images, extra.images),
            (findings, extra.findings),
            (file_errors, extra.errors),
        ):
            if detail:
                conn.execute(table.insert(), [storable_row(table, d) for d in detail])
        if extra.thumbnails:
            conn.execute(
                _insert_ignore(self._engine, thumbnails, ["sha256"]),
                [storable_row(thumbnails, t) for t in extra.thumbnails.values()],
            )

    def _insert_isolated(
        self, conn: Connection, evidence_id: int, run_id: int, item: _Planned, outcome: WriteOutcome
    ) -> None:
        """Store one item alone, with less each time the database refuses it (see :meth:`CaseStore.store_results`)."""
        try:
            with conn.begin_nested():
                self._insert_items(conn, evidence_id, run_id, [item])
            outcome.stored += 1
            return
        except _REFUSED as exc:
            refused = _refusal(exc)
        attempts = (  # (minimal files row, with details, what is lost)
            (False, False, "its hashes, picture details and findings were not stored"),
            (True, True, "its file metadata (size, times, mode, link target, type) was not stored"),
            (True, False, "only its path was stored"),
        )
        for index, (minimal, details, lost) in enumerate(attempts):
            err = item_error(
                STORE_FAILED,
                f"the database refused this item's rows ({refused}); {lost}. The item is in the evidence at "
                "this path: examine it there, and please report this",
            )
            reduced = _Planned(replace(item.result, errors=[*item.result.errors, err]), item.suffix)
            try:
                with conn.begin_nested():
                    self._insert_items(conn, evidence_id, run_id, [reduced], details=details, minimal=minimal)
            except _REFUSED as exc:
                if index == len(attempts) - 1:
                    raise
                refused = _refusal(exc)
                continue
            outcome.stored += 1
            outcome.recorded.append((item.path, err, _had_error(item.result)))
            return


@dataclass(frozen=True)
class _Planned:
    """A result and the logical path it is stored under (its own, or a collision rename)."""

    result: FileResult
    suffix: str = ""  # a collision rename: COLLISION_MARK and a number

    @property
    def path(self) -> str:
        return storable_text(self.result.path) + self.suffix

    def row(self, case_id: int, evidence_id: int, run_id: int) -> dict[str, Any]:
        row = file_row(case_id, evidence_id, run_id, self.result)
        if self.suffix:
            row["name"] = f"{row['name']}{self.suffix}"
            row["path"] = f"{row['path']}{self.suffix}"
        return row


#: ``files`` columns kept in a minimal row (identity and the error), when the full row is refused.
_MINIMAL = frozenset(
    {"case_id", "evidence_id", "run_id", "path", "parent_path", "name", "depth", "error_code", "error", "notes"}
)


def _minimal(row: Mapping[str, Any]) -> dict[str, Any]:
    out = {key: (value if key in _MINIMAL else None) for key, value in row.items()}
    out.update(is_container=bool(row["is_container"]), kind="other", extension_mismatch=False, bytes_read=0)
    return out


def _had_error(result: FileResult) -> bool:
    return any(not is_note(e.code) for e in result.errors)


def _refusal(exc: BaseException) -> str:
    """The first line of what the database (or driver) said, without SQL or parameters."""
    orig = getattr(exc, "orig", None) or exc
    text = str(orig).strip().splitlines()
    return storable_text(f"{type(orig).__name__}: {text[0] if text else ''}")[:300]


def _insert_ignore(engine: Engine, table: Table, conflict: list[str]) -> Insert:
    """``INSERT ... ON CONFLICT (conflict) DO NOTHING`` for this backend."""
    if is_sqlite(engine):
        return sqlite.insert(table).on_conflict_do_nothing(index_elements=conflict)
    return postgresql.insert(table).on_conflict_do_nothing(index_elements=conflict)
