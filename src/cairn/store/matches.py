"""Match runs in the case database: reads and writes for ``cairn match`` (the logic is ``cairn.matching.match``).

Contract:

* A run is a ``match_runs`` row written first with its settings (``ended_at`` NULL), then its hits, then
  :func:`finish_run` sets ``ended_at`` and the counts inside the caller's transaction (which also appends the
  ``match.finished`` audit entry). A run that fails part-way is removed with its hits (:func:`discard_run`).
* The case's hashes are read in pages (:func:`case_queries`) and matched by the same code path as
  ``cairn hashset match-file`` (:func:`cairn.matching.match.match_chunks`): exact kinds through
  :func:`exact_lookup` (SQL on the indexed ``hash_set_entries(kind, value)``, in batches), PDQ through one
  index over :func:`pdq_entries`. Each hit (:func:`insert_hits`) copies the entry's set, category (with its
  scheme), series and flags, and records its dihedral ``transform`` (NULL unless a ``--dihedral`` run found the
  entry through one of the file's rotated/mirrored PDQ variants, which :func:`case_queries` attaches to each PDQ
  query from the file's stored ``pdq_dihedral`` hash).
* Earlier runs and their hits are KEPT for the record (a result can be traced to the run and settings that
  produced it); listings show only the case's latest finished run (:func:`latest_run`).

Plain dicts come out; the tables stay in ``cairn.store``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from sqlalchemy import ColumnElement, Connection, Engine, and_, case, delete, func, or_, select, update

from cairn.matching.match import EXACT_KINDS, ExactLookup, Hit, Query, QueryCounts, pdq_quality_ok
from cairn.matching.schemes import SchemeError, get_scheme
from cairn.signals.pdq import DIHEDRAL_KIND
from cairn.store.audit import canonical_json
from cairn.store.db import max_bind_params, read_connection, write_connection
from cairn.store.hash_sets import COMPLETE
from cairn.store.schema import file_hashes, file_matches, files, hash_set_entries, hash_sets, match_runs

#: Entry rows read per page when the PDQ index is built.
ENTRY_PAGE = 50_000
#: Columns a hit copies from its entry.
_COPIED = ("set_id", "category_scheme", "category_value", "series", "flags_json")


def start_run(engine: Engine, case_id: int, settings: Mapping[str, Any], utc_now: str) -> int:
    """Write a new run of case ``case_id`` (not yet finished) and return its id."""
    with write_connection(engine) as conn:
        return int(
            conn.execute(
                match_runs.insert().returning(match_runs.c.id),
                {"case_id": case_id, "started_at": utc_now, "settings_json": canonical_json(dict(settings))},
            ).scalar_one()
        )


def pdq_entries(engine: Engine, set_ids: Sequence[int]) -> Iterator[tuple[int, str]]:
    """``(entry id, value)`` of every PDQ entry of ``set_ids``, in (value, id) order, ``ENTRY_PAGE`` rows at a
    time: each page seeks the ``(kind, value)`` index past the last (value, id) it gave, so the set's PDQs are
    read without walking its other hashes (a national set has many more MD5s and SHA-1s than PDQs)."""
    e = hash_set_entries
    after: tuple[str, int] | None = None
    while set_ids:
        query = select(e.c.id, e.c.value).where(e.c.kind == "pdq", e.c.set_id.in_(list(set_ids)))
        if after is not None:
            query = query.where(or_(e.c.value > after[0], and_(e.c.value == after[0], e.c.id > after[1])))
        with read_connection(engine) as conn:
            page = conn.execute(query.order_by(e.c.value, e.c.id).limit(ENTRY_PAGE)).all()
        for entry_id, value in page:
            yield int(entry_id), str(value)
        if len(page) < ENTRY_PAGE:
            return
        after = (str(page[-1][1]), int(page[-1][0]))


def exact_lookup(engine: Engine, set_ids: Sequence[int]) -> ExactLookup:
    """The exact lookup of :func:`cairn.matching.match.match_chunk` on ``set_ids``: one indexed SELECT on
    ``hash_set_entries(kind, value)`` per batch of values (sized to the backend's bind limit)."""
    ids = list(set_ids)
    step = max(1, max_bind_params(engine) - len(ids) - 8)
    e = hash_set_entries

    def lookup(kind: str, values: Sequence[str]) -> list[tuple[str, int]]:
        out: list[tuple[str, int]] = []
        if not ids:
            return out
        with read_connection(engine) as conn:
            for start in range(0, len(values), step):
                batch = list(values[start : start + step])
                out.extend(
                    (str(value), int(entry_id))
                    for value, entry_id in conn.execute(
                        select(e.c.value, e.c.id).where(e.c.kind == kind, e.c.value.in_(batch), e.c.set_id.in_(ids))
                    )
                )
        return out

    return lookup


def case_queries(
    engine: Engine,
    case_id: int,
    min_quality: int,
    counts: QueryCounts,
    page: int = ENTRY_PAGE,
    *,
    dihedral: bool = False,
) -> Iterator[Query]:
    """Every exact hash and every PDQ of quality >= ``min_quality`` of case ``case_id``'s files (key = file id),
    read ``page`` rows at a time; ``counts`` counts them and the PDQs skipped. With ``dihedral`` each PDQ query
    carries the file's stored dihedral variants (``Query.variants``; a PDQ without them is counted in
    ``counts.pdq_without_variants`` and matched alone)."""
    kinds = [*EXACT_KINDS, "pdq"]
    fh = file_hashes
    dih = file_hashes.alias("dih")
    last: tuple[int, str] = (0, "")
    while True:
        with read_connection(engine) as conn:
            columns: list[ColumnElement[Any]] = [fh.c.file_id, fh.c.kind, fh.c.value, fh.c.quality]
            joined = files.join(fh, fh.c.file_id == files.c.id)
            if dihedral:
                columns.append(dih.c.value.label("variants"))
                joined = joined.outerjoin(
                    dih, and_(dih.c.file_id == fh.c.file_id, fh.c.kind == "pdq", dih.c.kind == DIHEDRAL_KIND)
                )
            rows = conn.execute(
                select(*columns)
                .select_from(joined)
                .where(
                    files.c.case_id == case_id,
                    fh.c.kind.in_(kinds),
                    (fh.c.file_id > last[0]) | ((fh.c.file_id == last[0]) & (fh.c.kind > last[1])),
                )
                .order_by(fh.c.file_id, fh.c.kind)
                .limit(page)
            ).all()
        for row in rows:
            file_id, kind, value, quality = row[:4]
            if kind == "pdq" and not pdq_quality_ok(
                None if quality is None else int(quality), min_quality, counts, unknown_ok=False
            ):
                continue
            counts.queries += 1
            variants = str(row[4]) if dihedral and kind == "pdq" and row[4] is not None else ""
            if dihedral and kind == "pdq" and not variants:
                counts.pdq_without_variants += 1
            yield Query(int(file_id), str(kind), str(value).lower(), variants)
        if len(rows) < page:
            return
        last = (int(rows[-1][0]), str(rows[-1][1]))


def count_case_queries(engine: Engine, case_id: int) -> int:
    """How many hashes :func:`case_queries` reads at most (for a progress bar)."""
    fh = file_hashes
    with read_connection(engine) as conn:
        return int(
            conn.execute(
                select(func.count())
                .select_from(files.join(fh, fh.c.file_id == files.c.id))
                .where(files.c.case_id == case_id, fh.c.kind.in_([*EXACT_KINDS, "pdq"]))
            ).scalar_one()
        )


def entry_details(engine: Engine, entry_ids: Iterable[int]) -> dict[int, dict[str, Any]]:
    """Set id, category (scheme, value), series and flags of each entry, by entry id."""
    ids = sorted(set(entry_ids))
    step = max(1, max_bind_params(engine) // 2)
    out: dict[int, dict[str, Any]] = {}
    with read_connection(engine) as conn:
        for start in range(0, len(ids), step):
            for row in conn.execute(
                select(hash_set_entries.c.id, *(hash_set_entries.c[c] for c in _COPIED)).where(
                    hash_set_entries.c.id.in_(ids[start : start + step])
                )
            ).mappings():
                out[int(row["id"])] = dict(row)
    return out


def insert_hits(engine: Engine, run_id: int, hits: Sequence[Hit]) -> int:
    """Insert ``hits`` of run ``run_id`` (key = file id; each with its entry's set and category) in one
    transaction."""
    if not hits:
        return 0
    entries = entry_details(engine, (h.entry_id for h in hits))
    rows = [
        {
            "match_run_id": run_id, "file_id": h.key, "entry_id": h.entry_id, "kind": h.kind,
            "distance": h.distance, "transform": h.transform, **{c: entries[h.entry_id][c] for c in _COPIED},
        }
        for h in hits
    ]
    with write_connection(engine) as conn:
        conn.execute(file_matches.insert(), rows)
    return len(rows)


def run_counts(engine: Engine, run_id: int) -> dict[str, int]:
    """Hits of run ``run_id``: total, exact, pdq, files (distinct), ignorable (on known-harmless sets) and
    dihedral (PDQ hits through a rotated/mirrored variant; counted in ``pdq_hits`` too)."""
    fm = file_matches
    is_pdq = func.coalesce(func.sum(case((fm.c.kind == "pdq", 1), else_=0)), 0)
    ignorable = func.coalesce(func.sum(case((hash_sets.c.ignorable, 1), else_=0)), 0)
    turned = func.coalesce(func.sum(case((fm.c.transform.is_not(None), 1), else_=0)), 0)
    with read_connection(engine) as conn:
        row = conn.execute(
            select(func.count(), is_pdq, func.count(func.distinct(fm.c.file_id)), ignorable, turned)
            .select_from(fm.join(hash_sets, hash_sets.c.id == fm.c.set_id))
            .where(fm.c.match_run_id == run_id)
        ).one()
    total, pdq, matched, ign, dihedral = (int(v) for v in row)
    return {"hits": total, "exact_hits": total - pdq, "pdq_hits": pdq, "files_matched": matched,
            "ignorable_hits": ign, "dihedral_hits": dihedral}


def finish_run(conn: Connection, run_id: int, counts: Mapping[str, Any], utc_now: str) -> None:
    """Mark run ``run_id`` finished with its counts, inside the caller's transaction (which also audits it)."""
    conn.execute(
        update(match_runs)
        .where(match_runs.c.id == run_id)
        .values(ended_at=utc_now, counts_json=canonical_json(dict(counts)))
    )


def discard_run(engine: Engine, run_id: int) -> None:
    """Remove run ``run_id`` and its hits (a run that failed part-way)."""
    with write_connection(engine) as conn:
        conn.execute(delete(file_matches).where(file_matches.c.match_run_id == run_id))
        conn.execute(delete(match_runs).where(match_runs.c.id == run_id))


def latest_run(conn: Connection, case_id: int) -> int | None:
    """The id of case ``case_id``'s latest finished run, or None."""
    found = conn.execute(
        select(func.max(match_runs.c.id)).where(match_runs.c.case_id == case_id, match_runs.c.ended_at.is_not(None))
    ).scalar()
    return None if found is None else int(found)


def runs(engine: Engine, case_id: int) -> list[dict[str, Any]]:
    """Every finished run of case ``case_id``, oldest first: id, started_at, ended_at, settings, counts."""
    with read_connection(engine) as conn:
        rows = conn.execute(
            select(match_runs)
            .where(match_runs.c.case_id == case_id, match_runs.c.ended_at.is_not(None))
            .order_by(match_runs.c.id)
        ).mappings()
        out = []
        for r in rows:
            row = dict(r)
            row["settings"] = json.loads(row.pop("settings_json"))
            row["counts"] = json.loads(row.pop("counts_json") or "{}")
            out.append(row)
        return out


def matches_for_files(conn: Connection, run_id: int, file_ids: Iterable[int]) -> dict[int, list[dict[str, Any]]]:
    """The hits of run ``run_id`` on ``file_ids``, per file id, ordered by set name, kind and distance.

    Each: set, kind, distance, transform (None, or the dihedral transform that turns the listed picture into
    the file, e.g. ``rot90``: see :mod:`cairn.matching.match`), category (``{scheme, value, label}`` or None =
    uncategorised), series, flags, ignorable (the set lists known-harmless files).
    """
    ids = list(file_ids)
    out: dict[int, list[dict[str, Any]]] = {i: [] for i in ids}
    if not ids:
        return out
    fm = file_matches
    query = (
        select(fm, hash_sets.c.name, hash_sets.c.ignorable)
        .select_from(fm.join(hash_sets, hash_sets.c.id == fm.c.set_id))
        .where(fm.c.match_run_id == run_id, fm.c.file_id.in_(ids))
        .order_by(fm.c.file_id, hash_sets.c.name, fm.c.kind, fm.c.distance, fm.c.entry_id)
    )
    for row in conn.execute(query).mappings():
        out[int(row["file_id"])].append(
            {
                "set": row["name"],
                "kind": row["kind"],
                "distance": int(row["distance"]),
                "transform": row["transform"],
                "category": category_dict(row["category_scheme"], row["category_value"]),
                "series": row["series"],
                "flags": json.loads(row["flags_json"]) if row["flags_json"] else {},
                "ignorable": bool(row["ignorable"]),
            }
        )
    return out


def complete_sets(engine: Engine, names: Sequence[str] | None) -> tuple[list[dict[str, Any]], list[str]]:
    """The complete sets named (all when ``names`` is None or empty) and the names not found."""
    query = select(hash_sets).where(hash_sets.c.status == COMPLETE).order_by(hash_sets.c.name)
    with read_connection(engine) as conn:
        found = [dict(r) for r in conn.execute(query).mappings()]
    if not names:
        return found, []
    by_name = {s["name"]: s for s in found}
    return [by_name[n] for n in dict.fromkeys(names) if n in by_name], [n for n in names if n not in by_name]


def category_dict(scheme: str | None, value: str | None) -> dict[str, Any] | None:
    """A stored category as ``{scheme, value, label}`` (None = uncategorised); an unknown scheme keeps its text."""
    if scheme is None or value is None:
        return None
    try:
        found = get_scheme(scheme)
        parsed = found.parse(value)
        return {"scheme": found.name, "value": parsed, "label": found.label(parsed)}
    except SchemeError:
        return {"scheme": scheme, "value": value, "label": None}
