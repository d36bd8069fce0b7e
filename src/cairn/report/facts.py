"""What ``cairn report`` says about a case, gathered from its store as plain, sorted data (no clock, no randomness).

:func:`gather` reads the case once (the file rows streamed, never held whole) and returns a dict the HTML renderer
shows. The report describes the case as of its latest audit entry that is not itself a ``report.generated`` entry,
so the same case state always gives the same facts, however many reports were made of it.
"""

from __future__ import annotations

import base64
import math
from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from cairn import __version__
from cairn.case_config import read_config
from cairn.errors import is_note
from cairn.store.db import read_connection
from cairn.store.matches import category_dict
from cairn.store.schema import file_errors, files

if TYPE_CHECKING:
    from cairn.store import CaseStore

#: The audit action a report's generation is recorded as; such entries are not described by later reports.
REPORT_ACTION = "report.generated"
#: Most pictures listed in "pictures of note" (the rest are counted).
MAX_PICTURES = 500
#: Most rows in a "top" table or chart.
TOP = 20
#: Most bins of the timeline chart.
MAX_BINS = 240
#: Share of the dated files cut off at each end of the timeline (a few wild dates must not flatten the chart).
TAIL = 0.005


def gather(store: CaseStore, *, with_thumbnails: bool = False) -> dict[str, Any]:
    """Every fact the report shows about ``store``'s case; ``with_thumbnails`` adds each listed picture's stored
    thumbnail, blurred and greyscale, as a PNG data URI (``thumbnail`` key), else none is read."""
    facts: dict[str, Any] = {"tool_version": __version__, "with_thumbnails": with_thumbnails}
    facts["case"] = _case(store)
    facts["audit"] = _audit(store)
    facts["evidence"], facts["runs"] = _evidence_and_runs(store, facts["audit"]["sealed"])
    facts["counts"] = store.counts()
    facts["errors_by_code"], facts["notes_by_code"] = _codes(store)
    facts["hash_sets"] = store.hash_sets()
    match_runs = store.match_runs()
    facts["match_run"] = match_runs[-1] if match_runs else None
    group_runs = store.group_runs()
    facts["group_run"] = group_runs[-1] if group_runs else None
    facts.update(_stream(store, with_thumbnails, matched=bool(match_runs)))
    facts["provenance"] = store.provenance_summary(top=TOP)
    facts["terms"] = _terms(store)
    facts["review"] = _review(store)
    return facts


def _case(store: CaseStore) -> dict[str, Any]:
    return {"name": store.case_name, "uid": read_config(store.case_dir).uid, "database": store.db_url}


def _audit(store: CaseStore) -> dict[str, Any]:
    """The described state (the latest entry that is no report), the actions up to it, the evidence digests
    sealed by each completed scan, and ``cairn audit verify``'s problems (none: intact)."""
    entries = [e for e in store.audit_entries() if e["action"] != REPORT_ACTION]
    last = entries[-1] if entries else None
    sealed: dict[int, dict[str, Any]] = {}
    for e in entries:
        details = e["details"] if isinstance(e["details"], Mapping) else {}
        if e["action"] == "scan.finished" and details.get("status") == "completed":
            found = details.get("details")
            inner: Mapping[str, Any] = found if isinstance(found, Mapping) else {}
            sealed[int(details.get("run_id") or 0)] = {
                "evidence_digest": inner.get("evidence_digest"), "rows_digest": inner.get("rows_digest"),
            }
    return {
        "as_of": None if last is None else {k: last[k] for k in ("seq", "at", "actor", "action", "entry_hash")},
        "entries": len(entries),
        "actions": _sorted_counts(Counter(str(e["action"]) for e in entries)),
        "problems": store.audit_verify(),
        "sealed": sealed,
    }


def _evidence_and_runs(
    store: CaseStore, sealed: Mapping[int, Mapping[str, Any]]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    evidence = [dict(e) for e in store.evidence_list()]
    runs = []
    for run in store.runs():
        runs.append({
            **run, "settings": flatten(run.get("settings") or {}), "counts": flatten(run.get("counts") or {}),
            "sealed": sealed.get(int(run["id"])),
        })
    for ev in evidence:
        done = [r for r in runs if r["evidence_id"] == ev["id"] and r["sealed"]]
        ev["sealed"] = done[-1]["sealed"] if done else None
        ev["sealed_by_run"] = done[-1]["id"] if done else None
    return evidence, runs


def flatten(value: Any, prefix: str = "", depth: int = 0) -> list[tuple[str, str]]:
    """Nested settings as sorted ``(dotted.key, text)`` pairs (lists written as comma-separated text)."""
    if isinstance(value, Mapping) and depth < 6:
        out: list[tuple[str, str]] = []
        for key in sorted(value, key=str):
            out.extend(flatten(value[key], f"{prefix}{key}.", depth + 1))
        return out
    if isinstance(value, list):
        text = ", ".join("-" if v is None else str(v) for v in value)
    else:
        text = "-" if value is None else str(value)
    return [(prefix.rstrip("."), text)]


def _codes(store: CaseStore) -> tuple[list[tuple[str, int]], list[tuple[str, int]]]:
    """Files per error code and per note code (every code recorded against a file, not only its first)."""
    stmt = (
        select(file_errors.c.code, func.count(func.distinct(file_errors.c.file_id)))
        .select_from(file_errors.join(files, files.c.id == file_errors.c.file_id))
        .where(files.c.case_id == store.case_id)
        .group_by(file_errors.c.code)
    )
    with read_connection(store._engine) as conn:
        rows = [(str(code), int(n)) for code, n in conn.execute(stmt)]
    errors = Counter({c: n for c, n in rows if not is_note(c)})
    notes = Counter({c: n for c, n in rows if is_note(c)})
    return _sorted_counts(errors), _sorted_counts(notes)


def _sorted_counts(counter: Mapping[Any, int]) -> list[tuple[Any, int]]:
    """``(key, count)`` by count, largest first, then key (so ties always come in the same order)."""
    return sorted(counter.items(), key=lambda kv: (-kv[1], str(kv[0])))


def _top(counter: Mapping[str, int], limit: int = TOP) -> list[tuple[str, int]]:
    """The ``limit`` largest, then one ``(others)`` row summing the rest."""
    ordered = _sorted_counts(counter)
    rest = sum(n for _, n in ordered[limit:])
    return ordered[:limit] + ([("(others)", rest)] if rest else [])


def _stream(store: CaseStore, with_thumbnails: bool, *, matched: bool) -> dict[str, Any]:
    """One pass over the case's files: types, match status and categories, groups, timeline, detector scores,
    dangerous pickles and the pictures of note."""
    types: Counter[str] = Counter()
    status: Counter[str] = Counter()
    categories: Counter[tuple[str, str, str]] = Counter()
    group_sizes: Counter[int] = Counter()
    group_first: dict[int, str] = {}
    months: Counter[int] = Counter()
    undated = out_of_range = 0
    detectors: dict[tuple[str, str], dict[str, Any]] = {}
    pickles: list[dict[str, Any]] = []
    pictures: list[dict[str, Any]] = []
    pictures_left = 0
    for row in store.iter_file_rows(with_matches=True, with_provenance=True):
        types[str(row["type"] or "unknown")] += 1
        hits = row["matches"]
        known = [h for h in hits if not h["ignorable"]]
        if matched:
            status["known" if known else "ignorable" if hits else "unknown"] += 1
        for cat in {_category_key(h["category"]) for h in known}:
            categories[cat] += 1
        if row["group"] is not None:
            group_sizes[int(row["group"])] += 1
            group_first.setdefault(int(row["group"]), str(row["path"]))
        month = _month(row["mtime"])
        if month is None:
            undated += row["mtime"] is None
            out_of_range += row["mtime"] is not None
        else:
            months[month] += 1
        prov = row["provenance"]
        _add_scores(detectors, prov["detector_scores"])
        for finding in prov["model_files"]:
            dangerous = sorted(set(dangerous_callables(finding.get("data"))))
            if dangerous:
                pickles.append({"path": row["path"], "evidence": row["evidence"], "callables": dangerous})
        reasons = _reasons(row, known) if row["width"] is not None else []
        if reasons:
            if len(pictures) >= MAX_PICTURES:
                pictures_left += 1
                continue
            picture = {"path": row["path"], "evidence": row["evidence"], "reasons": reasons}
            if with_thumbnails:
                picture["thumbnail"] = _thumbnail(store, row["sha256"])
            pictures.append(picture)
    groups = _sorted_counts(group_sizes)
    return {
        "types": _top(types),
        "match_status": {k: status[k] for k in ("known", "ignorable", "unknown")} if matched else None,
        "categories": [
            {"scheme": s, "value": v, "label": label, "files": n} for (s, v, label), n in _sorted_counts(categories)
        ],
        "groups": {
            "groups": len(groups),
            "files": sum(group_sizes.values()),
            "sizes": _size_buckets(group_sizes.values()),
            "largest": [{"group": g, "files": n, "first_path": group_first[g]} for g, n in groups[:10]],
        },
        "timeline": timeline(months, undated=undated, out_of_range=out_of_range),
        "detectors": [detectors[k] for k in sorted(detectors)],
        "dangerous_pickles": pickles,
        "pictures": pictures,
        "pictures_left": pictures_left,
    }


def _category_key(category: Mapping[str, Any] | None) -> tuple[str, str, str]:
    if category is None:
        return ("-", "-", "uncategorised")
    return (str(category["scheme"]), str(category["value"]), str(category.get("label") or category["value"]))


def _month(mtime: Any) -> int | None:
    """Months since year 0 of a POSIX time (UTC), or None when there is none or no calendar date shows it."""
    if not isinstance(mtime, int | float) or isinstance(mtime, bool) or not math.isfinite(mtime):
        return None
    try:
        when = datetime.fromtimestamp(mtime, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return None
    return when.year * 12 + when.month - 1


def timeline(months: Mapping[int, int], *, undated: int = 0, out_of_range: int = 0) -> dict[str, Any]:
    """File modification dates as histogram bins: by month, or by year when the dates span more than
    :data:`MAX_BINS` months; the first and last :data:`TAIL` of the dated files are counted as ``earlier`` and
    ``later`` rather than drawn, and so is anything beyond :data:`MAX_BINS` years before the last bin."""
    total = sum(months.values())
    out: dict[str, Any] = {
        "unit": "month", "bins": [], "earlier": 0, "later": 0, "undated": undated, "out_of_range": out_of_range,
        "dated": total, "first": None, "last": None,
    }
    if not total:
        return out
    keys = sorted(months)
    out["first"], out["last"] = _month_label(keys[0]), _month_label(keys[-1])
    cut = math.floor(total * TAIL)
    lo, hi = _quantile_key(keys, months, cut), _quantile_key(keys, months, total - 1 - cut)
    if hi - lo < MAX_BINS:
        bins = [(_month_label(m), months.get(m, 0)) for m in range(lo, hi + 1)]
    else:
        out["unit"] = "year"
        years: Counter[int] = Counter()
        for m in keys:
            if lo <= m <= hi:
                years[m // 12] += months[m]
        first_year = max(lo // 12, hi // 12 - MAX_BINS + 1)
        lo = first_year * 12
        bins = [(f"{y:04d}", years.get(y, 0)) for y in range(first_year, hi // 12 + 1)]
    out["earlier"] = sum(n for m, n in months.items() if m < lo)
    out["later"] = sum(n for m, n in months.items() if m > hi)
    out["bins"] = bins
    return out


def _quantile_key(keys: list[int], months: Mapping[int, int], index: int) -> int:
    seen = 0
    for k in keys:
        seen += months[k]
        if seen > index:
            return k
    return keys[-1]


def _month_label(month: int) -> str:
    return f"{month // 12:04d}-{month % 12 + 1:02d}"


def _size_buckets(sizes: Iterable[int]) -> list[tuple[str, int]]:
    buckets: Counter[str] = Counter()
    for n in sizes:
        label = "2" if n <= 2 else "3-5" if n <= 5 else "6-10" if n <= 10 else "11-100" if n <= 100 else "over 100"
        buckets[label] += 1
    return [(k, buckets[k]) for k in ("2", "3-5", "6-10", "11-100", "over 100") if buckets[k]]


def _add_scores(detectors: dict[tuple[str, str], dict[str, Any]], scores: Iterable[Mapping[str, Any]]) -> None:
    for finding in scores:
        data = finding.get("data")
        if not isinstance(data, Mapping) or not isinstance(data.get("score"), int | float):
            continue
        key = (str(data.get("detector")), str(data.get("version")))
        entry = detectors.setdefault(
            key, {"detector": key[0], "version": key[1], "label": str(data.get("label") or ""), "scored": 0,
                  "above": 0, "threshold": data.get("threshold"), "bins": [0] * 10},
        )
        score = min(max(float(data["score"]), 0.0), 1.0)
        entry["scored"] += 1
        entry["above"] += bool(data.get("above_threshold"))
        entry["bins"][min(int(score * 10), 9)] += 1


def dangerous_callables(data: Any, depth: int = 0, budget: list[int] | None = None) -> list[str]:
    """The callables a model-file finding lists under any ``dangerous`` key (pickles, nested ones included),
    walking at most 12 levels and 10,000 values."""
    budget = [10_000] if budget is None else budget
    found: list[str] = []
    if depth > 12 or budget[0] <= 0:
        return found
    budget[0] -= 1
    if isinstance(data, Mapping):
        for key, value in data.items():
            if key == "dangerous" and isinstance(value, list):
                found.extend(str(d["callable"]) for d in value if isinstance(d, Mapping) and "callable" in d)
            elif isinstance(value, Mapping | list):
                found.extend(dangerous_callables(value, depth + 1, budget))
    elif isinstance(data, list):
        for value in data:
            if isinstance(value, Mapping | list):
                found.extend(dangerous_callables(value, depth + 1, budget))
    return found


def _reasons(row: Mapping[str, Any], known: list[Mapping[str, Any]]) -> list[str]:
    """Why a picture is of note: known in the latest match run, a generation record, C2PA declaring generative
    AI, a watermark, a detector score above its threshold."""
    out: list[str] = []
    for hit in known:
        label = _category_key(hit["category"])[2]
        out.append(f"known: {hit['set']} ({label})")
    prov = row["provenance"]
    for record in prov["generation_records"]:
        tool = record.get("tool") if isinstance(record, Mapping) else None
        out.append(f"generation record: {tool or 'unknown tool'}")
    for finding in prov["c2pa"]:
        if isinstance(finding.get("data"), Mapping) and finding["data"].get("ai_generated"):
            out.append("C2PA declares generative AI")
    for finding in prov["watermarks"]:
        data = finding.get("data") if isinstance(finding.get("data"), Mapping) else {}
        out.append(f"watermark: {data.get('scheme')} {data.get('verdict')}")
    for finding in prov["detector_scores"]:
        data = finding.get("data") if isinstance(finding.get("data"), Mapping) else {}
        if data.get("above_threshold") and isinstance(data.get("score"), int | float):
            out.append(f"detector {data.get('detector')}: {float(data['score']):.3f}")
    return list(dict.fromkeys(out))


def _thumbnail(store: CaseStore, sha256: str | None) -> str | None:
    """The stored thumbnail of content ``sha256``, blurred and greyscale, as a PNG data URI; None without one."""
    from cairn.review.media import ThumbnailUnreadable, blurred_greyscale

    raw = store.thumbnail(sha256) if sha256 else None
    if raw is None:
        return None
    try:
        png = blurred_greyscale(raw)
    except ThumbnailUnreadable:
        return None
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def _terms(store: CaseStore) -> dict[str, Any]:
    """The term lists (names, digests) and, per list and term, the hits and the files hit (the investigator's own
    terms are printed: the report says so)."""
    lists = store.term_lists()
    hits: Counter[tuple[str, str]] = Counter()
    paths: dict[tuple[str, str], set[str]] = {}
    by_field: Counter[str] = Counter()
    for hit in store.term_hits() if lists else ():
        key = (hit.list_name, hit.term)
        hits[key] += 1
        paths.setdefault(key, set()).add(hit.path)
        by_field[hit.field] += 1
    return {
        "lists": [
            {k: row[k] for k in ("name", "term_count", "source_name", "source_sha256", "imported_at", "imported_by")}
            for row in lists
        ],
        "hits": [
            {"list": k[0], "term": k[1], "hits": n, "files": len(paths[k])} for k, n in _sorted_counts(hits)
        ],
        "by_field": _sorted_counts(by_field),
    }


def _review(store: CaseStore) -> dict[str, Any] | None:
    """Reviewer exposure and the reviewers' current categories, when the review app's tables are there; None
    when they are not (an older cairn's case)."""
    try:
        from cairn.store import review as _review_store
        from cairn.store.schema import file_categories
    except ImportError:
        return None
    try:
        exposure = _review_store.exposure(store)
        latest = (
            select(func.max(file_categories.c.id))
            .where(file_categories.c.case_id == store.case_id)
            .group_by(file_categories.c.file_id)
        )
        stmt = (
            select(file_categories.c.scheme, file_categories.c.value, func.count())
            .where(file_categories.c.id.in_(latest), file_categories.c.value.is_not(None))
            .group_by(file_categories.c.scheme, file_categories.c.value)
        )
        with read_connection(store._engine) as conn:
            rows = [(str(s), str(v), int(n)) for s, v, n in conn.execute(stmt)]
    except SQLAlchemyError:
        return None
    counts: Counter[tuple[str, str, str]] = Counter()
    for scheme, value, n in rows:
        counts[_category_key(category_dict(scheme, value))] += n
    return {
        "exposure": exposure,
        "categories": [
            {"scheme": s, "value": v, "label": label, "files": n} for (s, v, label), n in _sorted_counts(counts)
        ],
    }
