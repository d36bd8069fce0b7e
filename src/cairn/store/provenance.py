"""AI-provenance findings of a case, read back: per file (``cairn files --format json``) and as a case summary
(``cairn provenance``).

The findings are read generically by kind, whichever signal stored them:

* ``generation_record`` (``ai_generation``, ``ai_stealth``, ...): the record's dict, as stored;
* ``watermark`` (``ai_watermark``) and ``c2pa`` (``c2pa``): ``{signal, kind, where, data}``;
* ``provenance_warning`` (any provenance signal): ``{signal, kind, where, data}``.

* ``model_file`` (``ai_model``): ``{signal, kind, where, data}``, what a model file is (format, kind, hashes by
  kind, metadata, pickle imports).
* ``detector_score`` (``ai_detector``): ``{signal, kind, where, data}``, a user-supplied detector's score of a
  picture (detector, version, digests, score, threshold).

A file's ``provenance`` is ``{generation_records, watermarks, c2pa, warnings, model_files, detector_scores,
model_links}``
(lists, empty when none); ``model_links`` (an image's references resolved to model files) is filled by
:mod:`cairn.store.model_links`.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, Engine, or_, select
from sqlalchemy.engine import Connection

from cairn.store.db import read_connection
from cairn.store.schema import files, findings

RECORD_KIND = "generation_record"
WARNING_KIND = "provenance_warning"
#: Output section of each finding kind (``watermark*`` and ``c2pa*`` kinds go with their family).
SECTIONS = {
    RECORD_KIND: "generation_records",
    "watermark": "watermarks",
    "c2pa": "c2pa",
    WARNING_KIND: "warnings",
    "model_file": "model_files",  # ai_model: what a model file is (issue 13)
    "detector_score": "detector_scores",  # ai_detector: a user-supplied detector's score (issue 13)
}
#: Records read from the pixels (the stealth copy) have a ``where`` starting with this.
PIXELS_PREFIX = "pixels"
#: Ids per ``IN (...)`` list.
_CHUNK = 500


def section_of(kind: str) -> str | None:
    """The ``provenance`` section a finding of ``kind`` goes to, or None when it is no provenance finding."""
    if kind in SECTIONS:
        return SECTIONS[kind]
    if kind.startswith("watermark"):
        return "watermarks"
    if kind.startswith("c2pa"):
        return "c2pa"
    return None


def empty_provenance() -> dict[str, list[Any]]:
    return {
        "generation_records": [],
        "watermarks": [],
        "c2pa": [],
        "warnings": [],
        "model_files": [],
        "detector_scores": [],
        "model_links": [],
    }


def _is_provenance() -> ColumnElement[bool]:
    return or_(
        findings.c.kind.in_(list(SECTIONS)),
        findings.c.kind.like("watermark%"),
        findings.c.kind.like("c2pa%"),
    )


def _entry(signal: str, kind: str, data: Any, where: str | None) -> tuple[str | None, Any]:
    section = section_of(kind)
    if section == "generation_records":
        return section, data
    return section, {"signal": signal, "kind": kind, "where": where, "data": data}


def _loads(raw: str) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return {"unreadable": raw[:200]}


def provenance_for_files(conn: Connection, file_ids: Sequence[int]) -> dict[int, dict[str, list[Any]]]:
    """Each listed file's ``provenance`` (only files with provenance findings are keys), findings in stored order."""
    out: dict[int, dict[str, list[Any]]] = {}
    for start in range(0, len(file_ids), _CHUNK):
        chunk = list(file_ids[start : start + _CHUNK])
        stmt = (
            select(findings.c.file_id, findings.c.signal, findings.c.kind, findings.c.data_json, findings.c.location)
            .where(findings.c.file_id.in_(chunk), _is_provenance())
            .order_by(findings.c.file_id, findings.c.id)
        )
        for file_id, signal, kind, data_json, location in conn.execute(stmt):
            section, entry = _entry(signal, kind, _loads(data_json), location)
            if section is not None:
                out.setdefault(int(file_id), empty_provenance())[section].append(entry)
    return out


def iter_case_findings(engine: Engine, case_id: int, page: int = 2_000) -> Iterator[tuple[str, str, str, Any]]:
    """(path, signal, kind, data) of every provenance finding of the case, by file path then finding id; read a
    page at a time (keyset on the finding id within the case's files)."""
    last = 0
    while True:
        stmt = (
            select(findings.c.id, files.c.path, findings.c.signal, findings.c.kind, findings.c.data_json)
            .join(files, files.c.id == findings.c.file_id)
            .where(files.c.case_id == case_id, findings.c.id > last, _is_provenance())
            .order_by(findings.c.id)
            .limit(page)
        )
        with read_connection(engine) as conn:
            rows = list(conn.execute(stmt))
        for finding_id, path, signal, kind, data_json in rows:
            last = int(finding_id)
            yield str(path), str(signal), str(kind), _loads(data_json)
        if len(rows) < page:
            return


@dataclass
class _Tally:
    """Images (paths) per key, and the names seen with a hash."""

    images: dict[tuple[Any, ...], set[str]] = field(default_factory=lambda: defaultdict(set))
    names: dict[tuple[Any, ...], Counter[str]] = field(default_factory=lambda: defaultdict(Counter))

    def add(self, key: tuple[Any, ...], path: str, name: str | None = None) -> None:
        self.images[key].add(path)
        if name:
            self.names[key][name] += 1

    def top(self, fields_: Sequence[str], limit: int) -> list[dict[str, Any]]:
        ranked = sorted(self.images.items(), key=lambda kv: (-len(kv[1]), [str(k) for k in kv[0]]))
        out = []
        for key, paths in ranked[:limit]:
            row: dict[str, Any] = dict(zip(fields_, key, strict=True))
            row["images"] = len(paths)
            if key in self.names:
                row["names"] = [n for n, _ in self.names[key].most_common(5)]
            out.append(row)
        return out


def _refs(record: Mapping[str, Any]) -> Iterable[tuple[str, Mapping[str, Any]]]:
    """("model" or "lora", reference) of a stored record: the checkpoint (and other checkpoints), the LoRAs."""
    model = record.get("model")
    if isinstance(model, Mapping):
        yield "model", model
    for ref in record.get("other_models") or []:
        if isinstance(ref, Mapping) and ref.get("role") == "checkpoint":
            yield "model", ref
    for ref in record.get("loras") or []:
        if isinstance(ref, Mapping):
            yield "lora", ref


def case_summary(rows: Iterable[tuple[str, str, str, Any]], top: int = 20) -> dict[str, Any]:
    """The summary ``cairn provenance`` prints, from ``(path, signal, kind, data)`` rows (see the README)."""
    tools: dict[str, set[str]] = defaultdict(set)
    tool_records: Counter[str] = Counter()
    with_records: set[str] = set()
    text_records: set[str] = set()
    pixel_records: set[str] = set()
    declared: set[str] = set()
    by_hash = {"model": _Tally(), "lora": _Tally()}
    by_name = {"model": _Tally(), "lora": _Tally()}
    watermark_files: set[str] = set()
    watermark_kinds: Counter[tuple[str, str]] = Counter()
    c2pa_files: set[str] = set()
    c2pa_states: Counter[str] = Counter()
    c2pa_ai: set[str] = set()
    c2pa_codes: Counter[str] = Counter()
    warning_files: set[str] = set()
    detectors: dict[tuple[str, str], dict[str, int]] = {}
    counts: Counter[str] = Counter()
    for path, _signal, kind, data in rows:
        section = section_of(kind)
        if section is None:
            continue
        counts[section] += 1
        data = data if isinstance(data, dict) else {}
        if section == "generation_records":
            tool = str(data.get("tool") or "unknown")
            tools[tool].add(path)
            tool_records[tool] += 1
            with_records.add(path)
            where = str(data.get("where") or "")
            (pixel_records if where.startswith(PIXELS_PREFIX) else text_records).add(path)
            if data.get("parser") == "xmp":
                declared.add(path)
            for family, ref in _refs(data):
                name = ref.get("name")
                if ref.get("hash") and ref.get("hash_kind"):
                    by_hash[family].add((ref.get("hash_kind"), ref.get("hash")), path, str(name) if name else None)
                if name:
                    by_name[family].add((str(name),), path)
        elif section == "watermarks":
            watermark_files.add(path)
            watermark_kinds[(str(data.get("scheme") or kind), str(data.get("verdict") or "-"))] += 1
        elif section == "c2pa":
            c2pa_files.add(path)
            state = data.get("validation_state")
            c2pa_states[str(state) if state else ("not checked" if data.get("checked") is False else "-")] += 1
            if data.get("ai_generated"):
                c2pa_ai.add(path)
            for code in data.get("failure_codes") or []:
                c2pa_codes[str(code)] += 1
        elif section == "warnings":
            warning_files.add(path)
        elif section == "detector_scores":
            key = (str(data.get("detector") or "?"), str(data.get("version") or "?"))
            tally = detectors.setdefault(key, {"scored": 0, "above_threshold": 0})
            tally["scored"] += 1
            tally["above_threshold"] += 1 if data.get("above_threshold") else 0
    return {
        "images_with_records": len(with_records),
        "records": counts["generation_records"],
        "by_tool": [
            {"tool": t, "images": len(p), "records": tool_records[t]}
            for t, p in sorted(tools.items(), key=lambda kv: (-len(kv[1]), kv[0]))
        ],
        "declared_ai_images": len(declared),
        "models": {
            "by_hash": by_hash["model"].top(("hash_kind", "hash"), top),
            "by_name": by_name["model"].top(("name",), top),
        },
        "loras": {
            "by_hash": by_hash["lora"].top(("hash_kind", "hash"), top),
            "by_name": by_name["lora"].top(("name",), top),
        },
        "watermarks": {
            "findings": counts["watermarks"],
            "images": len(watermark_files),
            "by_scheme": [{"scheme": s, "verdict": v, "findings": n} for (s, v), n in sorted(watermark_kinds.items())],
        },
        "c2pa": {
            "findings": counts["c2pa"],
            "images": len(c2pa_files),
            "by_state": dict(sorted(c2pa_states.items())),
            "ai_generated_images": len(c2pa_ai),
            "failure_codes": dict(sorted(c2pa_codes.items())),
        },
        "warnings": {"findings": counts["warnings"], "images": len(warning_files)},
        "pixels_only": sorted(pixel_records - text_records),
        "detectors": [{"detector": d, "version": v, **t} for (d, v), t in sorted(detectors.items())],
    }
