"""What the review app reads and writes in the case database: the grid's pages, categorisations, reveals,
the exposure figure.

Every write is one transaction with its audit entry (``file.categorised``, ``media.revealed``), appended through
the case store's own chain, so ``cairn audit verify`` stays intact. Every file id is checked against the store's
case: a file of another case in the same database is :class:`FileNotInCase`, never read or written. Filters
are bound parameters only; a value they do not know is :class:`ReviewInputError`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, and_, exists, false, func, or_, select, true

from cairn.matching.schemes import Category, SchemeError, category, get_scheme
from cairn.model import CONTAINER_SEP
from cairn.store import audit as _audit
from cairn.store import groups as _groups
from cairn.store import matches as _matches
from cairn.store.db import read_connection, write_connection
from cairn.store.schema import (
    audit_log,
    evidence,
    file_categories,
    file_errors,
    file_groups,
    file_hashes,
    file_matches,
    files,
    findings,
    hash_sets,
    images,
    media_views,
    scan_runs,
    thumbnails,
    users,
)

if TYPE_CHECKING:
    from cairn.store.case_store import CaseStore
    from cairn.store.users import User

MATCH_FILTERS = ("known", "unknown", "ignorable")
AI_FILTERS = ("generated", "none")
ERROR_FILTERS = ("yes", "no")
CONFLICT_FILTERS = ("yes", "no")
MAX_PAGE = 500
MAX_TEXT = 256
MAX_PATH_PREFIX = 1024

#: Selective filters' own tables drive the grid's page when together they name at most ``DRIVER_CAP`` files
#: (each table read when it names at most ``SOURCE_CAP``); more, and walking the case in path order finds a
#: page sooner (see ``_driver_ids``). File ids read per statement in ``_driven_rows``.
DRIVER_CAP = 5_000
SOURCE_CAP = 100_000
DRIVER_READ = 2_500

#: A grid position: the last row's (evidence id, path), as :meth:`CaseStore.iter_file_rows` orders files.
Cursor = tuple[int, str]


class ReviewInputError(ValueError):
    """A filter, cursor, page size or category value the review store does not accept."""


class FileNotInCase(LookupError):
    """A file id that is not a file of this case (unknown, or another case's)."""


@dataclass(frozen=True)
class GridFilters:
    """The grid's filters; None means any. ``category`` is a value of the scheme, or ``"none"``. ``tool``: a
    generation record's tool (whole, case-insensitive, e.g. ``A1111``); ``model``: a model, LoRA or embedding a
    record names, by whole name or hash (case-insensitive); ``path``: an exact prefix of the logical path;
    ``errors``: ``yes``/``no`` (a file error code or error rows); ``conflict``: ``yes``/``no`` (see
    :func:`precategories`)."""

    match: str | None = None
    ai: str | None = None
    type: str | None = None
    category: str | None = None
    group: int | None = None
    tool: str | None = None
    model: str | None = None
    path: str | None = None
    errors: str | None = None
    conflict: str | None = None

    def checked(self) -> GridFilters:
        """Self, or ``ReviewInputError`` naming the first filter with a value it does not know."""
        if self.match is not None and self.match not in MATCH_FILTERS:
            raise ReviewInputError(f"match filter must be one of {', '.join(MATCH_FILTERS)}")
        if self.ai is not None and self.ai not in AI_FILTERS:
            raise ReviewInputError(f"ai filter must be one of {', '.join(AI_FILTERS)}")
        if self.conflict is not None and self.conflict not in CONFLICT_FILTERS:
            raise ReviewInputError(f"conflict filter must be one of {', '.join(CONFLICT_FILTERS)}")
        if self.errors is not None and self.errors not in ERROR_FILTERS:
            raise ReviewInputError(f"errors filter must be one of {', '.join(ERROR_FILTERS)}")
        for name in ("type", "category", "tool", "model"):
            value = getattr(self, name)
            if value is not None and len(value) > MAX_TEXT:
                raise ReviewInputError(f"{name} filter longer than {MAX_TEXT} characters")
        if self.path is not None and len(self.path) > MAX_PATH_PREFIX:
            raise ReviewInputError(f"path filter longer than {MAX_PATH_PREFIX} characters")
        for name in ("type", "category", "tool", "model", "path"):
            value = getattr(self, name)
            if value is not None and any(ord(c) < 32 and c != "\t" for c in value):
                raise ReviewInputError(f"{name} filter holds a control character")
        if self.group is not None and not 0 <= self.group <= 2**31:
            raise ReviewInputError("group filter out of range")
        return self


def _latest(column: Any) -> Any:
    """The file's latest categorisation's ``column``: a scalar subquery correlated to the outer ``files`` row
    explicitly (so it stays correlated inside EXISTS)."""
    return (
        select(column)
        .where(file_categories.c.file_id == files.c.id)
        .order_by(file_categories.c.id.desc())
        .limit(1)
        .correlate(files)
        .scalar_subquery()
    )


def _current(conn: Any, file_id: int) -> tuple[str | None, str | None]:
    """(scheme, value) of the file's latest categorisation; (None, None) when it has none."""
    row = conn.execute(
        select(file_categories.c.scheme, file_categories.c.value)
        .where(file_categories.c.file_id == file_id)
        .order_by(file_categories.c.id.desc())
        .limit(1)
    ).first()
    return (None, None) if row is None else (row[0], row[1])


def grid_page(
    store: CaseStore, filters: GridFilters, after: Cursor | None, limit: int, scheme: str
) -> tuple[list[dict[str, Any]], Cursor | None]:
    """One page of the case's pictures (files with decoded image info) after ``after``, in (evidence, path)
    order (keyset pagination); return the rows and the cursor of the next page (None: last page).

    Rows: file_id, path, type, width, height, sha256, has_thumbnail, category (``{scheme, value, label}`` or
    None), group and group_size (the file's near-duplicate group in the latest ``cairn groups`` run; None and 0
    when it is in none), precategories and conflict (:func:`precategories`, from the latest match run's hits).
    ``category`` filters on the latest categorisation in ``scheme``.
    """
    filters.checked()
    if not 1 <= limit <= MAX_PAGE:
        raise ReviewInputError(f"page size must be 1..{MAX_PAGE}")
    sha = file_hashes.alias("h_sha256")
    member, peer = file_groups.alias("g_member"), file_groups.alias("g_peer")
    cat_scheme, cat_value = _latest(file_categories.c.scheme), _latest(file_categories.c.value)
    has_thumb = exists().where(thumbnails.c.sha256 == sha.c.value)
    with read_connection(store._engine) as conn:
        run_id = _matches.latest_run(conn, store.case_id)
        group_run = _groups.latest_run(conn, store.case_id)
        size = (
            select(func.count())
            .where(peer.c.group_run_id == member.c.group_run_id, peer.c.group_no == member.c.group_no)
            .scalar_subquery()
        )
        stmt = (
            select(
                files.c.id, files.c.evidence_id, files.c.path, files.c.type_label, images.c.width, images.c.height,
                sha.c.value.label("sha256"), has_thumb.label("has_thumbnail"),
                cat_scheme.label("category_scheme"), cat_value.label("category_value"),
                member.c.group_no, size.label("group_size"),
            )
            .select_from(
                files.join(images, images.c.file_id == files.c.id)
                .outerjoin(sha, and_(sha.c.file_id == files.c.id, sha.c.kind == "sha256"))
                .outerjoin(member, and_(member.c.file_id == files.c.id, member.c.group_run_id == (group_run or -1)))
            )
        )
        for condition in _conditions(filters, run_id, scheme, cat_scheme, cat_value):
            stmt = stmt.where(condition)
        if filters.group is not None:
            stmt = stmt.where(member.c.group_no == filters.group)
        driver = _driver_ids(conn, store.case_id, filters, run_id, group_run, scheme)
        if driver is not None:  # ids checked to be the case's: no case_id term (SQLite would walk its index)
            rows = _driven_rows(conn, store.case_id, stmt, driver, after, limit)
        else:
            walk = stmt.where(files.c.case_id == store.case_id).order_by(files.c.path)
            rows = _walked_rows(conn, store.case_id, walk, after, limit)
        more = len(rows) > limit
        rows = rows[:limit]
        hits = {} if run_id is None else _matches.matches_for_files(conn, run_id, [int(r["id"]) for r in rows])
    out = []
    for r in rows:
        reviewer_category = _category_dict(r["category_scheme"], r["category_value"])
        pre, conflict = precategories(hits.get(int(r["id"]), []), reviewer_category)
        out.append(
            {
                "file_id": int(r["id"]), "path": r["path"], "type": r["type_label"], "width": r["width"],
                "height": r["height"], "sha256": r["sha256"], "has_thumbnail": bool(r["has_thumbnail"]),
                "category": reviewer_category,
                "group": None if r["group_no"] is None else int(r["group_no"]),
                "group_size": 0 if r["group_no"] is None else int(r["group_size"]),
                "precategories": pre, "conflict": conflict,
            }
        )
    cursor = (int(rows[-1]["evidence_id"]), str(rows[-1]["path"])) if more and rows else None
    return out, cursor


def _walked_rows(conn: Any, case_id: int, stmt: Any, after: Cursor | None, limit: int) -> list[dict[str, Any]]:
    """Up to ``limit + 1`` rows of ``stmt`` after ``after``: each evidence's files in path order (a range scan of
    uq(evidence_id, path)), every file tested against the filters."""
    pick = select(evidence.c.id).where(evidence.c.case_id == case_id).order_by(evidence.c.id)
    if after is not None:
        pick = pick.where(evidence.c.id >= after[0])
    rows: list[dict[str, Any]] = []
    for ev in [int(i) for i in conn.execute(pick).scalars()]:
        page = stmt.where(files.c.evidence_id == ev)
        if after is not None and ev == after[0]:
            page = page.where(files.c.path > after[1])
        rows.extend(dict(r) for r in conn.execute(page.limit(limit + 1 - len(rows))).mappings())
        if len(rows) > limit:
            break
    return rows


def _driver_ids(
    conn: Any, case_id: int, filters: GridFilters, run_id: int | None, group_run: int | None, scheme: str
) -> set[int] | None:
    """Ids of at most ``DRIVER_CAP`` files that include every file the selective filters can match: the
    intersection of their own tables (the match run's hits, generation records, the files ever given the
    category, the group's members) that name at most ``SOURCE_CAP`` files each, narrowed to the type's files
    when there is a type filter; None when there is no such table, or they leave more (the page then walks
    the case)."""
    sources: list[Any] = []
    if run_id is not None and (filters.match in ("known", "ignorable") or filters.conflict == "yes"):
        hit = select(file_matches.c.file_id).where(file_matches.c.match_run_id == run_id)
        if filters.match in ("known", "ignorable"):
            hit = hit.join(hash_sets, hash_sets.c.id == file_matches.c.set_id).where(
                hash_sets.c.ignorable.is_(filters.match == "ignorable")
            )
        sources.append(hit)
    if filters.ai == "generated" or filters.tool is not None or filters.model is not None:
        sources.append(select(findings.c.file_id).where(findings.c.kind == "generation_record"))
    if filters.category not in (None, "none"):
        sources.append(
            select(file_categories.c.file_id).where(
                file_categories.c.case_id == case_id, file_categories.c.scheme == scheme,
                file_categories.c.value == filters.category,
            )
        )
    if filters.group is not None and group_run is not None:
        sources.append(
            select(file_groups.c.file_id).where(
                file_groups.c.group_run_id == group_run, file_groups.c.group_no == filters.group
            )
        )
    # one table and no type: it alone must name few files (read no further than that), else walking is sooner
    cap = DRIVER_CAP if len(sources) == 1 and filters.type is None else SOURCE_CAP
    found: set[int] | None = None
    for source in sources:
        ids = {int(i) for i in conn.execute(source.distinct().limit(cap + 1)).scalars()}
        if len(ids) <= cap:
            found = ids if found is None else found & ids
    if found is not None and filters.type is not None and len(found) > DRIVER_CAP:
        found = _of_type(conn, found, filters.type)  # a common type with a filter: few files of both
    return found if found is not None and len(found) <= DRIVER_CAP else None


def _by_id(conn: Any, stmt: Any, ids: set[int]) -> Iterator[Any]:
    """The rows of ``stmt`` (a select on ``files``) for the files ``ids``, looked up by id ``DRIVER_READ`` at a
    time: by id only, as a case_id term would have SQLite walk the case's index instead."""
    ordered = sorted(ids)
    for start in range(0, len(ordered), DRIVER_READ):
        yield from conn.execute(stmt.where(files.c.id.in_(ordered[start:start + DRIVER_READ])))


def _of_type(conn: Any, ids: set[int], type_label: str) -> set[int]:
    """Those of ``ids`` whose file type is ``type_label``."""
    return {int(r[0]) for r in _by_id(conn, select(files.c.id).where(files.c.type_label == type_label), ids)}


def _driven_rows(
    conn: Any, case_id: int, stmt: Any, driver: set[int], after: Cursor | None, limit: int
) -> list[dict[str, Any]]:
    """Up to ``limit + 1`` rows of ``stmt`` after ``after`` among the files ``driver`` names: their (evidence,
    path) keys read by id and put in page order here (paths compare by code point, as the database's byte-order
    collation does), then ``stmt`` with every filter on the next few of them at a time."""
    found = _by_id(conn, select(files.c.evidence_id, files.c.path, files.c.id, files.c.case_id), driver)
    keys = sorted((int(ev), str(path), int(fid)) for ev, path, fid, case in found if case == case_id)
    if after is not None:
        keys = [k for k in keys if (k[0], k[1]) > after]
    rows: list[dict[str, Any]] = []
    step = max(limit + 1, 64)
    for start in range(0, len(keys), step):
        part = [k[2] for k in keys[start:start + step]]
        got = {int(r["id"]): dict(r) for r in conn.execute(stmt.where(files.c.id.in_(part))).mappings()}
        rows.extend(got[i] for i in part if i in got)
        if len(rows) > limit:
            break
    return rows[: limit + 1]


def precategories(
    hits: list[dict[str, Any]], reviewer: dict[str, Any] | None
) -> tuple[list[dict[str, Any]], bool]:
    """The categories a file got from hash-set hits (``{set, scheme, value, label}``, one per set and category, in
    the hits' order) and whether they conflict: two different categories of one scheme from the hits, or a
    reviewer category (``reviewer``) of the same scheme as a hit's that differs from it. Categories of different
    schemes are not compared."""
    seen: dict[tuple[str, str, str], dict[str, Any]] = {}
    for hit in hits:
        cat = hit.get("category")
        if cat:
            key = (str(hit["set"]), str(cat["scheme"]), str(cat["value"]))
            seen.setdefault(key, {"set": hit["set"], "scheme": cat["scheme"], "value": cat["value"],
                                  "label": cat.get("label")})
    pairs = {(k[1], k[2]) for k in seen}
    conflict = len(pairs) != len({s for s, _ in pairs})  # one scheme, two values
    if reviewer is not None:
        conflict = conflict or any(
            s == reviewer["scheme"] and v != str(reviewer["value"]) for s, v in pairs
        )
    return list(seen.values()), conflict


def _conflict_condition(run_id: int | None) -> ColumnElement[bool]:
    """The SQL form of :func:`precategories`'s conflict, for the file (``files``) of the outer query."""
    if run_id is None:
        return false()
    cat_scheme, cat_value = _latest(file_categories.c.scheme), _latest(file_categories.c.value)
    one, other = file_matches.alias("c_one"), file_matches.alias("c_other")
    between_sets = (
        select(one.c.id)
        .join(other, and_(other.c.match_run_id == one.c.match_run_id, other.c.file_id == one.c.file_id))
        .where(one.c.match_run_id == run_id, one.c.file_id == files.c.id, one.c.category_value.is_not(None),
               other.c.category_value.is_not(None), other.c.category_scheme == one.c.category_scheme,
               other.c.category_value != one.c.category_value)
        .exists()
    )
    with_reviewer = (
        select(one.c.id)
        .where(one.c.match_run_id == run_id, one.c.file_id == files.c.id, one.c.category_value.is_not(None),
               one.c.category_scheme == cat_scheme, one.c.category_value != cat_value)
        .exists()
    )
    return or_(between_sets, and_(cat_value.is_not(None), with_reviewer))


def _conditions(
    filters: GridFilters, run_id: int | None, scheme: str, cat_scheme: Any, cat_value: Any
) -> list[ColumnElement[bool]]:
    out: list[ColumnElement[bool]] = []
    if filters.conflict is not None:
        conflicted = _conflict_condition(run_id)
        out.append(conflicted if filters.conflict == "yes" else ~conflicted)
    if filters.match is not None:
        if run_id is None:
            out.append(true() if filters.match == "unknown" else false())
        else:
            hit = (
                select(file_matches.c.id)
                .join(hash_sets, hash_sets.c.id == file_matches.c.set_id)
                .where(file_matches.c.match_run_id == run_id, file_matches.c.file_id == files.c.id)
            )
            if filters.match == "unknown":
                out.append(~hit.exists())
            else:
                wanted = hash_sets.c.ignorable.is_(filters.match == "ignorable")
                out.append(hit.where(wanted).exists())
    if filters.ai is not None:
        record = select(findings.c.id).where(findings.c.file_id == files.c.id, findings.c.kind == "generation_record")
        out.append(record.exists() if filters.ai == "generated" else ~record.exists())
    if filters.type is not None:
        out.append(files.c.type_label == filters.type)
    if filters.tool is not None or filters.model is not None:
        record = select(findings.c.id).where(findings.c.file_id == files.c.id, findings.c.kind == "generation_record")
        text = func.lower(findings.c.data_json)  # LIKE is case-blind on SQLite: lowered on both backends alike
        if filters.tool is not None:  # records are canonical JSON (sorted keys, no spaces): "tool":"<value>"
            needle = '"tool":' + json.dumps(filters.tool.lower(), ensure_ascii=False)
            record = record.where(or_(text.contains(needle + ",", autoescape=True),
                                      text.contains(needle + "}", autoescape=True)))
        if filters.model is not None:
            named = json.dumps(filters.model.lower(), ensure_ascii=False)
            record = record.where(or_(*(text.contains(f'"{key}":{named}', autoescape=True)
                                        for key in ("name", "hash"))))
        out.append(record.exists())
    if filters.path is not None:
        # LIKE narrows (case-blind on SQLite); the substring comparison makes the prefix exact on both backends
        out.append(and_(files.c.path.startswith(filters.path, autoescape=True),
                        func.substr(files.c.path, 1, len(filters.path)) == filters.path))
    if filters.errors is not None:
        failed = or_(files.c.error_code.is_not(None),
                     select(file_errors.c.file_id).where(file_errors.c.file_id == files.c.id).exists())
        out.append(failed if filters.errors == "yes" else ~failed)
    if filters.category is not None:
        if filters.category == "none":
            out.append(or_(cat_value.is_(None), cat_scheme != scheme))
        else:
            out.append(and_(cat_scheme == scheme, cat_value == filters.category))
    return out


def _category_dict(scheme: str | None, value: str | None) -> dict[str, Any] | None:
    if scheme is None or value is None:
        return None
    try:
        found = category(scheme, value)
    except SchemeError:
        return {"scheme": scheme, "value": value, "label": None}
    return None if found is None else found.as_dict()


def files_version(store: CaseStore) -> tuple[Any, ...]:
    """A cheap key that changes whenever the case's files can have changed: the highest file id in the database
    (any case's: a case's new file raises it) and the case's latest scan run's id, status and end (only scans
    add or update files; one index seek each)."""
    with read_connection(store._engine) as conn:
        top = conn.execute(select(func.max(files.c.id))).scalar()  # a case_id term reads all its files
        run = conn.execute(
            select(scan_runs.c.id, scan_runs.c.status, scan_runs.c.ended_at)
            .where(scan_runs.c.case_id == store.case_id)
            .order_by(scan_runs.c.id.desc())
            .limit(1)
        ).first()
    return (top, None if run is None else tuple(run))


def type_labels(store: CaseStore) -> list[str]:
    """The file types of the case's pictures, sorted (the grid's type filter).

    Walks the case's distinct types on the ``(case_id, type_label)`` index (one seek each) and keeps those with a
    picture among their files, rather than joining every file of the case with ``images``."""
    found: list[str] = []
    last: str | None = None
    with read_connection(store._engine) as conn:
        while True:
            after = files.c.type_label.is_not(None) if last is None else files.c.type_label > last
            label = conn.execute(
                select(func.min(files.c.type_label)).where(files.c.case_id == store.case_id, after)
            ).scalar()
            if label is None:
                break
            picture = exists().where(
                images.c.file_id == files.c.id, files.c.case_id == store.case_id, files.c.type_label == label
            )
            if conn.execute(select(picture)).scalar():
                found.append(str(label))
            last = str(label)
    return sorted(found)


def file_in_case(store: CaseStore, file_id: int) -> dict[str, Any]:
    """The case's file ``file_id``: file_id, path, sha256 (None when not hashed); ``FileNotInCase`` otherwise."""
    with read_connection(store._engine) as conn:
        return _file_in_case(conn, store, file_id)


def _file_in_case(conn: Any, store: CaseStore, file_id: int) -> dict[str, Any]:
    row = conn.execute(
        select(files.c.id, files.c.path, file_hashes.c.value)
        .outerjoin(file_hashes, and_(file_hashes.c.file_id == files.c.id, file_hashes.c.kind == "sha256"))
        .where(files.c.id == file_id, files.c.case_id == store.case_id)
    ).first()
    if row is None:
        raise FileNotInCase(f"file {file_id} is not a file of this case")
    return {"file_id": int(row[0]), "path": str(row[1]), "sha256": None if row[2] is None else str(row[2])}


def reveal(store: CaseStore, file_id: int, user: User) -> bytes:
    """The stored (unblurred) thumbnail of the case's file ``file_id``, recorded as a view by ``user`` and
    audited ``media.revealed`` in one transaction. ``FileNotInCase``; ``LookupError`` when it has no thumbnail
    (nothing recorded then)."""
    with write_connection(store._engine) as conn:
        store._lock_case(conn)
        found = _file_in_case(conn, store, file_id)
        data = None
        if found["sha256"] is not None:
            data = conn.execute(select(thumbnails.c.webp).where(thumbnails.c.sha256 == found["sha256"])).scalar()
        if data is None:
            raise LookupError(f"file {file_id} has no thumbnail")
        now = _audit.utc_now()
        conn.execute(
            media_views.insert(),
            {"case_id": store.case_id, "file_id": file_id, "user_id": user.id, "kind": "thumbnail", "at": now},
        )
        entry = store._append(
            conn, "media.revealed",
            {"file_id": file_id, "path": found["path"], "sha256": found["sha256"], "kind": "thumbnail",
             "user_id": user.id, "via": "cairn serve"},
            user.name,
        )
    store._anchor(entry)
    return bytes(data)


def categorise(store: CaseStore, file_id: int, scheme: str, raw: object, user: User) -> dict[str, Any]:
    """Set the category of the case's file ``file_id`` to ``raw`` in ``scheme`` (None or "": uncategorised).

    A change is recorded (old, new, who, when) and audited ``file.categorised`` in one transaction; setting
    the category it already has records nothing. Returns ``{file_id, category, previous, changed}``.
    ``ReviewInputError`` for a value not in the scheme; ``FileNotInCase``.
    """
    new = _parse_category(scheme, raw)
    with write_connection(store._engine) as conn:
        store._lock_case(conn)
        found = _file_in_case(conn, store, file_id)
        result, entry = _set_category(conn, store, found, scheme, new, user, None)
    if entry is not None:
        store._anchor(entry)
    return result


def categorise_group(store: CaseStore, file_id: int, scheme: str, raw: object, user: User) -> dict[str, Any]:
    """Set the category of every member of the near-duplicate group of the case's file ``file_id`` (the latest
    ``cairn groups`` run), as :func:`categorise` does for one, in one transaction: each change recorded and
    audited ``file.categorised`` with ``bulk: {group, group_run_id, from_file_id}``.

    Returns ``{group, files, changed, results}``. ``ReviewInputError`` when the file is in no group or the value
    is not in the scheme; ``FileNotInCase``.
    """
    new = _parse_category(scheme, raw)
    last: dict[str, Any] | None = None
    with write_connection(store._engine) as conn:
        store._lock_case(conn)
        _file_in_case(conn, store, file_id)
        run_id = _groups.latest_run(conn, store.case_id)
        group_no = None if run_id is None else conn.execute(
            select(file_groups.c.group_no).where(file_groups.c.group_run_id == run_id, file_groups.c.file_id == file_id)
        ).scalar()
        if run_id is None or group_no is None:
            raise ReviewInputError(f"file {file_id} is in no near-duplicate group (run `cairn groups` first)")
        members = [
            int(i) for i in conn.execute(
                select(file_groups.c.file_id)
                .join(files, files.c.id == file_groups.c.file_id)
                .where(file_groups.c.group_run_id == run_id, file_groups.c.group_no == group_no,
                       files.c.case_id == store.case_id)
                .order_by(file_groups.c.file_id)
            ).scalars()
        ]
        bulk = {"group": int(group_no), "group_run_id": int(run_id), "from_file_id": file_id}
        results = []
        for member_id in members:
            result, entry = _set_category(conn, store, _file_in_case(conn, store, member_id), scheme, new, user, bulk)
            results.append(result)
            last = entry or last
    if last is not None:
        store._anchor(last)
    return {"group": int(group_no), "files": len(results), "changed": sum(r["changed"] for r in results),
            "results": results}


#: The most files one bulk categorisation of a selection may name (a grid page holds at most MAX_PAGE).
MAX_SELECTION = MAX_PAGE


def categorise_files(store: CaseStore, file_ids: list[int], scheme: str, raw: object, user: User) -> dict[str, Any]:
    """Set the category of each of the case's files ``file_ids`` (a selection of 1..MAX_SELECTION distinct ids)
    to ``raw`` in ``scheme``, as :func:`categorise` does for one, in one transaction: each change recorded and
    audited ``file.categorised`` with ``bulk: {selection: n}``. Nothing is revealed or counted as a view.

    Returns ``{files, changed, results}``. ``ReviewInputError`` for an empty, oversized or repeating selection or a
    value not in the scheme; ``FileNotInCase`` when any id is not the case's (then nothing is written).
    """
    if not 1 <= len(file_ids) <= MAX_SELECTION or len(set(file_ids)) != len(file_ids):
        raise ReviewInputError(f"a selection names 1..{MAX_SELECTION} distinct files")
    new = _parse_category(scheme, raw)
    last: dict[str, Any] | None = None
    results = []
    with write_connection(store._engine) as conn:
        store._lock_case(conn)
        found = [_file_in_case(conn, store, int(i)) for i in file_ids]
        bulk = {"selection": len(file_ids)}
        for one in found:
            result, entry = _set_category(conn, store, one, scheme, new, user, bulk)
            results.append(result)
            last = entry or last
    if last is not None:
        store._anchor(last)
    return {"files": len(results), "changed": sum(r["changed"] for r in results), "results": results}


def _parse_category(scheme: str, raw: object) -> Category | None:
    try:
        return category(get_scheme(scheme).name, raw)
    except SchemeError as exc:
        raise ReviewInputError(str(exc)) from exc


def _set_category(
    conn: Any, store: CaseStore, found: dict[str, Any], scheme: str, new: Category | None, user: User,
    bulk: dict[str, Any] | None,
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """Record one file's change inside the caller's transaction; return the result and the audit entry (None:
    no change)."""
    file_id = int(found["file_id"])
    new_value = None if new is None else str(new.value)
    prev_scheme, prev_value = _current(conn, file_id)
    previous = _category_dict(prev_scheme, prev_value)
    if (prev_scheme == scheme and prev_value == new_value) or (new_value is None and prev_value is None):
        return {"file_id": file_id, "category": previous, "previous": previous, "changed": False}, None
    conn.execute(
        file_categories.insert(),
        {"case_id": store.case_id, "file_id": file_id, "scheme": scheme, "value": new_value,
         "previous_scheme": prev_scheme, "previous_value": prev_value, "user_id": user.id,
         "at": _audit.utc_now()},
    )
    current = None if new is None else new.as_dict()
    details: dict[str, Any] = {
        "file_id": file_id, "path": found["path"], "sha256": found["sha256"], "category": current,
        "previous": previous, "user_id": user.id, "via": "cairn serve",
    }
    if bulk is not None:
        details["bulk"] = bulk
    entry = store._append(conn, "file.categorised", details, user.name)
    return {"file_id": file_id, "category": current, "previous": previous, "changed": True}, entry


def category_history(store: CaseStore, file_id: int) -> list[dict[str, Any]]:
    """Every categorisation of the case's file ``file_id``, oldest first: at, user, category, previous."""
    with read_connection(store._engine) as conn:
        _file_in_case(conn, store, file_id)
        rows = conn.execute(
            select(file_categories, users.c.name.label("user"))
            .join(users, users.c.id == file_categories.c.user_id)
            .where(file_categories.c.file_id == file_id)
            .order_by(file_categories.c.id)
        ).mappings()
        return [
            {"at": r["at"], "user": r["user"], "category": _category_dict(r["scheme"], r["value"]),
             "previous": _category_dict(r["previous_scheme"], r["previous_value"])}
            for r in rows
        ]


def exposure(store: CaseStore) -> list[dict[str, Any]]:
    """Per user of the case: name, role, revealed (unblurred views), revealed_files (distinct), categorised
    (changes made), categorised_files (distinct), by name."""
    with read_connection(store._engine) as conn:
        views = {
            int(r[0]): (int(r[1]), int(r[2]))
            for r in conn.execute(
                select(media_views.c.user_id, func.count(), func.count(func.distinct(media_views.c.file_id)))
                .where(media_views.c.case_id == store.case_id)
                .group_by(media_views.c.user_id)
            )
        }
        cats = {
            int(r[0]): (int(r[1]), int(r[2]))
            for r in conn.execute(
                select(file_categories.c.user_id, func.count(), func.count(func.distinct(file_categories.c.file_id)))
                .where(file_categories.c.case_id == store.case_id)
                .group_by(file_categories.c.user_id)
            )
        }
        people = conn.execute(
            select(users.c.id, users.c.name, users.c.role)
            .where(users.c.case_id == store.case_id)
            .order_by(users.c.name)
        ).all()
    return [
        {"name": name, "role": role, "revealed": views.get(int(uid), (0, 0))[0],
         "revealed_files": views.get(int(uid), (0, 0))[1], "categorised": cats.get(int(uid), (0, 0))[0],
         "categorised_files": cats.get(int(uid), (0, 0))[1]}
        for uid, name, role in people
    ]


def recent_audit(store: CaseStore, limit: int = 30) -> list[dict[str, Any]]:
    """The case's latest ``limit`` audit entries, newest first: seq, at, actor, action (no details)."""
    with read_connection(store._engine) as conn:
        rows = conn.execute(
            select(audit_log.c.seq, audit_log.c.at, audit_log.c.actor, audit_log.c.action)
            .where(audit_log.c.case_id == store.case_id)
            .order_by(audit_log.c.seq.desc())
            .limit(limit)
        ).mappings()
        return [dict(r) for r in rows]


# -- the file detail page ------------------------------------------------------------------------

#: Hash kinds shown first on the detail page, in this order; any other kind follows by name.
HASH_ORDER = ("md5", "sha1", "sha256", "pdq", "autov1", "autov2", "autov3", "tensor_sha256", "blake3", "crc32")
MAX_GROUP_MEMBERS = 200
MAX_AUDIT_ENTRIES = 200
_FILE_COLUMNS = (
    "id", "evidence_id", "run_id", "path", "parent_path", "name", "depth", "is_container", "kind", "size", "mtime",
    "atime", "ctime", "mode", "link_target", "mime", "type_label", "extension_mismatch", "error_code", "error",
    "notes", "bytes_read",
)


def view_file(store: CaseStore, file_id: int, user: User, scheme: str) -> dict[str, Any]:
    """Audit ``file.viewed`` (metadata only: no media is shown unblurred) for the case's file ``file_id`` by
    ``user``, then return its :func:`file_detail`. ``FileNotInCase`` before anything is written."""
    with write_connection(store._engine) as conn:
        store._lock_case(conn)
        found = _file_in_case(conn, store, file_id)
        entry = store._append(
            conn, "file.viewed",
            {"file_id": file_id, "path": found["path"], "sha256": found["sha256"], "media": False,
             "user_id": user.id, "via": "cairn serve"},
            user.name,
        )
    store._anchor(entry)
    return file_detail(store, file_id, scheme)


def file_detail(store: CaseStore, file_id: int, scheme: str) -> dict[str, Any]:
    """Everything the case database holds about the case's file ``file_id`` (reads only; ``FileNotInCase``).

    Keys: ``file`` (the files row, with ``evidence`` root and kind), ``containers`` (the container chain:
    ``{path, name, file_id}`` from the outermost, split at :data:`cairn.model.CONTAINER_SEP`), ``hashes``
    (``{kind, value, quality}`` in :data:`HASH_ORDER`), ``errors`` (``{code, message}`` in order), ``image``
    (or None; ``exif`` the raw block), ``has_thumbnail``, ``provenance`` (see
    :func:`cairn.store.provenance.provenance_for_files`; ``model_links`` as :func:`model_links_for`),
    ``named_by`` (for a model file: :func:`images_naming`), ``matches`` (hits of the latest match run),
    ``match_run`` (its id or None), ``group`` (``{group, run,
    members: [{file_id, path, is_representative, distance}], truncated}`` or None), ``category`` (latest, in
    any scheme, or None), ``history`` (:func:`category_history`), ``audit`` (:func:`file_audit`).
    """
    from cairn.store import provenance as _provenance

    with read_connection(store._engine) as conn:
        row = conn.execute(
            select(*(files.c[c] for c in _FILE_COLUMNS), evidence.c.root.label("evidence"),
                   evidence.c.kind.label("evidence_kind"))
            .join(evidence, evidence.c.id == files.c.evidence_id)
            .where(files.c.id == file_id, files.c.case_id == store.case_id)
        ).mappings().first()
        if row is None:
            raise FileNotInCase(f"file {file_id} is not a file of this case")
        info = dict(row)
        info["is_container"] = bool(info["is_container"])
        info["extension_mismatch"] = bool(info["extension_mismatch"])
        hashes = [
            {"kind": str(k), "value": str(v), "quality": q}
            for k, v, q in conn.execute(
                select(file_hashes.c.kind, file_hashes.c.value, file_hashes.c.quality).where(
                    file_hashes.c.file_id == file_id
                )
            )
        ]
        hashes.sort(key=lambda h: (HASH_ORDER.index(h["kind"]) if h["kind"] in HASH_ORDER else len(HASH_ORDER),
                                   h["kind"]))
        sha256 = next((h["value"] for h in hashes if h["kind"] == "sha256"), None)
        errors = [
            {"code": str(c), "message": str(m)}
            for c, m in conn.execute(
                select(file_errors.c.code, file_errors.c.message)
                .where(file_errors.c.file_id == file_id)
                .order_by(file_errors.c.ordinal)
            )
        ]
        image = conn.execute(select(images).where(images.c.file_id == file_id)).mappings().first()
        has_thumb = sha256 is not None and conn.execute(
            select(thumbnails.c.sha256).where(thumbnails.c.sha256 == sha256)
        ).first() is not None
        provenance = _provenance.provenance_for_files(conn, [file_id]).get(file_id) or _provenance.empty_provenance()
        containers = _containers(conn, int(info["evidence_id"]), str(info["path"]))
        run_id = _matches.latest_run(conn, store.case_id)
        hits = [] if run_id is None else _matches.matches_for_files(conn, run_id, [file_id])[file_id]
        group_run = _groups.latest_run(conn, store.case_id)
        group = None if group_run is None else _group_of(conn, store, file_id, group_run)
        current = _category_dict(*_current(conn, file_id))
    provenance["model_links"] = model_links_for(store, provenance["generation_records"])
    named_by = images_naming(store, file_id) if provenance["model_files"] else []
    return {
        "file": info, "containers": containers, "hashes": hashes, "errors": errors,
        "image": None if image is None else dict(image), "has_thumbnail": has_thumb, "provenance": provenance,
        "matches": hits, "match_run": run_id, "group": group, "group_run": group_run, "named_by": named_by,
        "category": current,
        "history": category_history(store, file_id), "audit": file_audit(store, file_id),
        **dict(zip(("precategories", "conflict"),
                   precategories(hits, current),
                   strict=True)),
    }


def _containers(conn: Any, evidence_id: int, path: str) -> list[dict[str, Any]]:
    """The container chain of ``path``: each enclosing container (outermost first), then the file itself."""
    parts = path.split(CONTAINER_SEP)
    chain = [CONTAINER_SEP.join(parts[: i + 1]) for i in range(len(parts))]
    ids = {
        str(p): int(i)
        for p, i in conn.execute(
            select(files.c.path, files.c.id).where(files.c.evidence_id == evidence_id, files.c.path.in_(chain))
        )
    }
    return [{"path": p, "name": part, "file_id": ids.get(p)} for p, part in zip(chain, parts, strict=True)]


def _group_of(conn: Any, store: CaseStore, file_id: int, run_id: int) -> dict[str, Any] | None:
    group_no = conn.execute(
        select(file_groups.c.group_no).where(file_groups.c.group_run_id == run_id, file_groups.c.file_id == file_id)
    ).scalar()
    if group_no is None:
        return None
    rows = conn.execute(
        select(file_groups.c.file_id, files.c.path, file_groups.c.is_representative,
               file_groups.c.distance_to_representative)
        .join(files, files.c.id == file_groups.c.file_id)
        .where(file_groups.c.group_run_id == run_id, file_groups.c.group_no == group_no,
               files.c.case_id == store.case_id)
        .order_by(file_groups.c.is_representative.desc(), files.c.path)
        .limit(MAX_GROUP_MEMBERS + 1)
    ).all()
    members = [
        {"file_id": int(i), "path": str(p), "is_representative": bool(r), "distance": None if d is None else int(d)}
        for i, p, r, d in rows[:MAX_GROUP_MEMBERS]
    ]
    return {"group": int(group_no), "run": run_id, "members": members, "truncated": len(rows) > MAX_GROUP_MEMBERS}


def model_links_for(store: CaseStore, records: list[Any]) -> list[dict[str, Any]]:
    """The links of ``records`` (one file's generation records) as :func:`cairn.store.model_links.links_by_image`
    gives them, each model also with its ``file_id`` when it is a file of this case (else None)."""
    from cairn.store import model_links as _links

    refs = [ref for record in records if isinstance(record, dict) for ref in _links.references(record)]
    if not refs:
        return []
    resolver = _links.Resolver(_links.model_files(store._engine))
    keys = {k for ref in refs if (k := _content_key(ref)) is not None}
    listed = _links.reference_entries(store._engine, keys) if keys else {}
    out: list[dict[str, Any]] = []
    for ref in refs:
        base = {k: ref.get(k) for k in ("role", "name", "hash_kind", "hash")}
        found = resolver.resolve(ref)
        key = _content_key(ref)
        in_lists = listed.get(key, []) if key is not None else []
        if not found and not in_lists:
            out.append({**base, "link": "none", "model": None})
        for model, link in found:
            shown = model.as_dict()
            own = model.case_id == store.case_id
            shown["case"] = None if own else shown["case"]
            shown["file_id"] = model.file_id if own else None
            out.append({**base, "link": link, "model": shown})
        out.extend({**base, "link": "list", "model": None, "reference": e} for e in in_lists)
    return out


def _content_key(ref: Any) -> tuple[str, str] | None:
    from cairn.store.model_links import CONTENT_KINDS

    kind, value = ref.get("hash_kind"), ref.get("hash")
    if isinstance(kind, str) and isinstance(value, str) and kind in CONTENT_KINDS:
        return kind, value.lower()
    return None


def file_audit(store: CaseStore, file_id: int, limit: int = MAX_AUDIT_ENTRIES) -> list[dict[str, Any]]:
    """The case's latest ``limit`` audit entries whose details name ``file_id`` (``details.file_id``), newest
    first: seq, at, actor, action, details."""
    needle = f'"file_id":{int(file_id)}'
    with read_connection(store._engine) as conn:
        rows = conn.execute(
            select(audit_log.c.seq, audit_log.c.at, audit_log.c.actor, audit_log.c.action, audit_log.c.details_json)
            .where(
                audit_log.c.case_id == store.case_id,
                or_(audit_log.c.details_json.contains(needle + ",", autoescape=True),
                    audit_log.c.details_json.contains(needle + "}", autoescape=True)),
            )
            .order_by(audit_log.c.seq.desc())
            .limit(limit * 2)
        ).mappings()
        out = []
        for r in rows:
            try:
                details = json.loads(r["details_json"])
            except ValueError:
                continue
            if isinstance(details, dict) and details.get("file_id") == file_id:  # not a nested one of another key
                out.append({"seq": r["seq"], "at": r["at"], "actor": r["actor"], "action": r["action"],
                            "details": details})
    return out[:limit]


def categories_for_files(conn: Any, file_ids: list[int]) -> dict[int, dict[str, Any]]:
    """The current category of each of ``file_ids`` that has one: ``{scheme, value, label, by, at}`` (by: the
    user's name); a file never categorised, or whose latest change cleared it, is left out."""
    out: dict[int, dict[str, Any]] = {}
    for start in range(0, len(file_ids), 500):
        chunk = file_ids[start : start + 500]
        latest = (
            select(func.max(file_categories.c.id))
            .where(file_categories.c.file_id.in_(chunk))
            .group_by(file_categories.c.file_id)
        )
        rows = conn.execute(
            select(file_categories.c.file_id, file_categories.c.scheme, file_categories.c.value,
                   file_categories.c.at, users.c.name)
            .join(users, users.c.id == file_categories.c.user_id)
            .where(file_categories.c.id.in_(latest))
        )
        for fid, scheme, value, at, name in rows:
            found = _category_dict(scheme, value)
            if found is not None:
                out[int(fid)] = {**found, "by": name, "at": at}
    return out


MAX_NAMING_IMAGES = 500


def images_naming(store: CaseStore, file_id: int, limit: int = MAX_NAMING_IMAGES) -> list[dict[str, Any]]:
    """The case's pictures whose generation records name the model file ``file_id`` (a file of any case in the
    database), resolved as :func:`cairn.store.model_links.links_by_image` resolves them: ``{file_id, path, role,
    name, hash_kind, hash, link}`` by path, at most ``limit``; [] when ``file_id`` is no model file.

    Candidates are the records whose JSON text holds one of the model's hashes or its name (an indexed-free scan
    of the case's records in SQL, no JSON parsed), then each is resolved against every model file."""
    from cairn.store import model_links as _links

    models = _links.model_files(store._engine)
    model = next((m for m in models if m.file_id == file_id), None)
    if model is None:
        return []
    resolver = _links.Resolver(models)
    needles = sorted({v.lower() for v in model.hashes.values() if v} | {_links.name_key(model.path)} - {""})
    if not needles:
        return []
    text = func.lower(findings.c.data_json)
    stmt = (
        select(files.c.id, files.c.path, findings.c.data_json)
        .join(findings, findings.c.file_id == files.c.id)
        .where(files.c.case_id == store.case_id, findings.c.kind == "generation_record",
               or_(*(text.contains(n, autoescape=True) for n in needles)))
    )
    out: dict[tuple[int, str, str], dict[str, Any]] = {}
    with read_connection(store._engine) as conn:
        rows = conn.execute(stmt).all()
    for image_id, path, data_json in rows:
        try:
            record = json.loads(data_json)
        except ValueError:
            continue
        if not isinstance(record, dict):
            continue
        for ref in _links.references(record):
            for found, link in resolver.resolve(ref):
                if found.file_id == file_id:
                    key = (int(image_id), str(ref.get("role")), link)
                    out.setdefault(key, {"file_id": int(image_id), "path": str(path), "role": ref.get("role"),
                                         "name": ref.get("name"), "hash_kind": ref.get("hash_kind"),
                                         "hash": ref.get("hash"), "link": link})
    return sorted(out.values(), key=lambda r: (r["path"], r["file_id"], str(r["role"])))[:limit]


def report_paths(store: CaseStore, sha256: str, action: str = "report.generated") -> list[str]:
    """The HTML paths that the case's ``report.generated`` audit entries record with SHA-256 ``sha256`` (64 lowercase
    hex digits, else ``ReviewInputError``), newest first."""
    if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
        raise ReviewInputError("a report is named by its SHA-256 (64 lowercase hex digits)")
    with read_connection(store._engine) as conn:
        rows = conn.execute(
            select(audit_log.c.details_json)
            .where(audit_log.c.case_id == store.case_id, audit_log.c.action == action,
                   audit_log.c.details_json.contains(f'"sha256":"{sha256}"', autoescape=True))
            .order_by(audit_log.c.seq.desc())
            .limit(50)
        ).scalars()
        out = []
        for text in rows:
            try:
                html = json.loads(text).get("html") or {}
            except (ValueError, AttributeError):
                continue
            if isinstance(html, dict) and html.get("sha256") == sha256 and isinstance(html.get("path"), str):
                out.append(html["path"])
    return out
