"""Near-duplicate group runs in the case database: reads and writes for ``cairn groups`` (the logic is
``cairn.matching.groups``).

Contract:

* :func:`group_inputs` reads what grouping needs of every file of a case (path, SHA-256, PDQ with its quality,
  pixel count), in (path, id) order.
* :func:`write_run` writes a ``group_runs`` row (settings, counts) and one ``file_groups`` row per grouped file,
  inside the caller's transaction (which also appends the ``groups.finished`` audit entry): a run is stored
  whole or not at all. Earlier runs are KEPT for the record; listings show the case's latest run
  (:func:`latest_run`).
* :func:`groups_for_files` gives the group number of files in a run; :func:`run_listing` every group of a run
  with its members.

Plain dicts come out; the tables stay in ``cairn.store``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import Connection, Engine, and_, func, select

from cairn.matching.groups import GroupFile, Grouping
from cairn.store.audit import canonical_json
from cairn.store.db import max_bind_params, read_connection
from cairn.store.schema import evidence, file_groups, file_hashes, files, group_runs, images


def group_inputs(engine: Engine, case_id: int) -> list[GroupFile]:
    """One :class:`GroupFile` per file of case ``case_id`` that has a SHA-256 or a PDQ."""
    sha = file_hashes.alias("h_sha256")
    pdq = file_hashes.alias("h_pdq")
    joined = (
        files.outerjoin(sha, and_(sha.c.file_id == files.c.id, sha.c.kind == "sha256"))
        .outerjoin(pdq, and_(pdq.c.file_id == files.c.id, pdq.c.kind == "pdq"))
        .outerjoin(images, images.c.file_id == files.c.id)
    )
    query = (
        select(files.c.id, files.c.path, sha.c.value, pdq.c.value, pdq.c.quality, images.c.width, images.c.height)
        .select_from(joined)
        .where(files.c.case_id == case_id, (sha.c.value.is_not(None)) | (pdq.c.value.is_not(None)))
        .order_by(files.c.path, files.c.id)
    )
    with read_connection(engine) as conn:
        rows = conn.execute(query).all()
    return [
        GroupFile(
            file_id=int(fid),
            path=str(path),
            sha256=None if sha256 is None else str(sha256),
            pdq=None if pdq_value is None else str(pdq_value).lower(),
            quality=None if quality is None else int(quality),
            pixels=None if width is None or height is None else int(width) * int(height),
        )
        for fid, path, sha256, pdq_value, quality, width, height in rows
    ]


def write_run(
    conn: Connection, case_id: int, settings: Mapping[str, Any], grouping: Grouping, utc_now: str
) -> int:
    """Store ``grouping`` as a new run of case ``case_id`` inside the caller's transaction; return its id."""
    run_id = int(
        conn.execute(
            group_runs.insert().returning(group_runs.c.id),
            {
                "case_id": case_id,
                "at": utc_now,
                "settings_json": canonical_json(dict(settings)),
                "counts_json": canonical_json(grouping.counts),
            },
        ).scalar_one()
    )
    rows = [
        {
            "group_run_id": run_id,
            "file_id": m.file_id,
            "group_no": g.number,
            "is_representative": m.is_representative,
            "distance_to_representative": m.distance,
        }
        for g in grouping.groups
        for m in g.members
    ]
    step = max(1, max_bind_params(conn.engine) // 5)
    for start in range(0, len(rows), step):
        conn.execute(file_groups.insert(), rows[start : start + step])
    return run_id


def latest_run(conn: Connection, case_id: int) -> int | None:
    """The id of case ``case_id``'s latest group run, or None."""
    found = conn.execute(select(func.max(group_runs.c.id)).where(group_runs.c.case_id == case_id)).scalar()
    return None if found is None else int(found)


def runs(engine: Engine, case_id: int) -> list[dict[str, Any]]:
    """Every group run of case ``case_id``, oldest first: id, at, settings, counts."""
    with read_connection(engine) as conn:
        rows = conn.execute(
            select(group_runs).where(group_runs.c.case_id == case_id).order_by(group_runs.c.id)
        ).mappings()
        out = []
        for r in rows:
            row = dict(r)
            row["settings"] = json.loads(row.pop("settings_json"))
            row["counts"] = json.loads(row.pop("counts_json"))
            out.append(row)
        return out


def groups_for_files(conn: Connection, run_id: int, file_ids: Iterable[int]) -> dict[int, int]:
    """The group number of each of ``file_ids`` that is in a group of run ``run_id``."""
    ids = list(file_ids)
    if not ids:
        return {}
    query = select(file_groups.c.file_id, file_groups.c.group_no).where(
        file_groups.c.group_run_id == run_id, file_groups.c.file_id.in_(ids)
    )
    return {int(fid): int(no) for fid, no in conn.execute(query)}


def run_listing(engine: Engine, run_id: int) -> list[dict[str, Any]]:
    """Every group of run ``run_id`` in number order: ``{group, representative, members}``, each member
    ``{path, evidence, sha256, pdq_quality, width, height, representative, distance}`` in (path, id) order."""
    pdq = file_hashes.alias("h_pdq")
    sha = file_hashes.alias("h_sha256")
    fg = file_groups
    joined = (
        fg.join(files, files.c.id == fg.c.file_id)
        .join(evidence, evidence.c.id == files.c.evidence_id)
        .outerjoin(sha, and_(sha.c.file_id == files.c.id, sha.c.kind == "sha256"))
        .outerjoin(pdq, and_(pdq.c.file_id == files.c.id, pdq.c.kind == "pdq"))
        .outerjoin(images, images.c.file_id == files.c.id)
    )
    query = (
        select(
            fg.c.group_no, fg.c.is_representative, fg.c.distance_to_representative, files.c.path,
            evidence.c.root, sha.c.value.label("sha256"), pdq.c.quality, images.c.width, images.c.height,
        )
        .select_from(joined)
        .where(fg.c.group_run_id == run_id)
        .order_by(fg.c.group_no, files.c.path, files.c.id)
    )
    out: dict[int, dict[str, Any]] = {}
    with read_connection(engine) as conn:
        for row in conn.execute(query).mappings():
            group = out.setdefault(int(row["group_no"]), {"group": int(row["group_no"]), "members": []})
            member = {
                "path": row["path"],
                "evidence": row["root"],
                "sha256": row["sha256"],
                "pdq_quality": row["quality"],
                "width": row["width"],
                "height": row["height"],
                "representative": bool(row["is_representative"]),
                "distance": row["distance_to_representative"],
            }
            group["members"].append(member)
            if member["representative"]:
                group["representative"] = member["path"]
    return [{"group": g["group"], "representative": g.get("representative"), "members": g["members"]}
            for g in out.values()]
