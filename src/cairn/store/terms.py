"""Term lists in the database, and where a case's model files and generation records hit them.

Lists belong to the database (every case there can use them), as hash sets do. Hits are found when asked
(``cairn terms hits``, ``cairn provenance``) from the stored findings, so a list imported after a scan applies
to it without a rescan: in model files (signal ``ai_model``), the kohya training metadata (tags, tag folders,
dataset folders, output name, training comment, the whole metadata text) and ``modelspec`` (title,
description, trigger phrase, tags); in generation records, the prompt and the negative prompt.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, insert, select
from sqlalchemy.engine import Connection

from cairn.matching.terms import TermFile, TermMatcher
from cairn.store.db import read_connection
from cairn.store.schema import files, findings, term_lists

MODEL_KIND = "model_file"
RECORD_KIND = "generation_record"


class TermListRefused(ValueError):
    """A list whose name is taken or whose file was imported already."""


def insert_list(conn: Connection, name: str, source_name: str, read: TermFile, actor: str, now: str) -> int:
    """Store a read list inside the caller's transaction; ``TermListRefused`` on a taken name or digest."""
    taken = conn.execute(
        select(term_lists.c.name).where((term_lists.c.name == name) | (term_lists.c.source_sha256 == read.sha256))
    ).first()
    if taken is not None:
        raise TermListRefused(
            f"a term list named {taken[0]!r} already holds this name or this file (SHA-256 {read.sha256[:16]}...)"
        )
    result = conn.execute(
        insert(term_lists).values(
            name=name,
            source_name=source_name,
            source_sha256=read.sha256,
            imported_at=now,
            imported_by=actor,
            term_count=len(read.terms),
            terms_json=json.dumps(read.terms, ensure_ascii=False),
        )
    )
    key = result.inserted_primary_key
    assert key is not None
    return int(key[0])


def list_lists(engine: Engine) -> list[dict[str, Any]]:
    """The database's term lists by name: name, source_name, source_sha256, imported_at, imported_by, term_count
    (never the terms themselves)."""
    cols = [c for c in term_lists.c if c.name not in ("terms_json", "id")]
    with read_connection(engine) as conn:
        return [dict(r) for r in conn.execute(select(*cols).order_by(term_lists.c.name)).mappings()]


def matcher(engine: Engine, names: list[str] | None = None) -> TermMatcher:
    """A matcher over the named lists (all when None); KeyError for a name that is not a list."""
    with read_connection(engine) as conn:
        rows = list(conn.execute(select(term_lists.c.name, term_lists.c.terms_json).order_by(term_lists.c.name)))
    known = {str(n) for n, _ in rows}
    for name in names or []:
        if name not in known:
            raise KeyError(name)
    return TermMatcher((str(n), json.loads(t)) for n, t in rows if names is None or n in names)


@dataclass(frozen=True)
class TermHit:
    """A term found in one field of one file's finding."""

    path: str
    source: str  # "model_file" or "generation_record"
    field: str  # e.g. "tags", "dataset_dirs", "output_name", "prompt"
    list_name: str
    term: str
    excerpt: str

    def as_dict(self) -> dict[str, str]:
        return {
            "path": self.path,
            "source": self.source,
            "field": self.field,
            "list": self.list_name,
            "term": self.term,
            "excerpt": self.excerpt,
        }


def _fields_of_model(data: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    training = data.get("training") or {}
    if isinstance(training, Mapping):
        tags = training.get("tags")
        if isinstance(tags, Mapping):
            yield "tags", ", ".join(str(t) for t in tags)
        for key in ("tag_folders",):
            if isinstance(training.get(key), list):
                yield key, ", ".join(str(t) for t in training[key])
        if isinstance(training.get("dataset_dirs"), Mapping):
            yield "dataset_dirs", ", ".join(str(t) for t in training["dataset_dirs"])
        for key in ("output_name", "training_comment", "sd_model_name"):
            if isinstance(training.get(key), str):
                yield key, training[key]
    spec = data.get("modelspec") or {}
    if isinstance(spec, Mapping):
        for key in ("title", "description", "trigger_phrase", "tags"):
            value = spec.get(f"modelspec.{key}")
            if isinstance(value, str):
                yield f"modelspec.{key}", value
    meta = data.get("metadata") or {}
    if isinstance(meta, Mapping):  # everything else the file says about itself (tags past the top 500 too)
        yield "metadata", "\n".join(f"{k}: {v}" for k, v in meta.items() if isinstance(v, str))
    gguf = data.get("gguf_metadata") or {}
    if isinstance(gguf, Mapping):
        yield "gguf_metadata", "\n".join(f"{k}: {v}" for k, v in gguf.items() if isinstance(v, str))


def _fields_of_record(data: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    for key in ("prompt", "negative_prompt"):
        if isinstance(data.get(key), str):
            yield key, data[key]


def case_hits(engine: Engine, case_id: int, terms: TermMatcher, page: int = 2_000) -> Iterator[TermHit]:
    """Every hit in the case's model files and generation records, by finding id; a hit already reported for
    a file's earlier field (the metadata text repeats the tags) is not reported again."""
    if not terms:
        return
    last = 0
    while True:
        stmt = (
            select(findings.c.id, files.c.path, findings.c.kind, findings.c.data_json)
            .join(files, files.c.id == findings.c.file_id)
            .where(files.c.case_id == case_id, findings.c.id > last, findings.c.kind.in_([MODEL_KIND, RECORD_KIND]))
            .order_by(findings.c.id)
            .limit(page)
        )
        with read_connection(engine) as conn:
            rows = list(conn.execute(stmt))
        for finding_id, path, kind, data_json in rows:
            last = int(finding_id)
            try:
                data = json.loads(data_json)
            except ValueError:
                continue
            if not isinstance(data, dict):
                continue
            fields = _fields_of_model(data) if kind == MODEL_KIND else _fields_of_record(data)
            seen: set[tuple[str, str]] = set()
            for field_name, text in fields:
                for hit in terms.find(text):
                    if (hit.list_name, hit.term) in seen:
                        continue
                    seen.add((hit.list_name, hit.term))
                    yield TermHit(str(path), str(kind), field_name, hit.list_name, hit.term, hit.excerpt)
        if len(rows) < page:
            return


def hit_summary(lists: list[dict[str, Any]], hits: Iterable[TermHit]) -> dict[str, Any]:
    """Counts for ``cairn provenance``: lists loaded, hits, model files and images with hits, hits by field."""
    model_files: set[str] = set()
    images: set[str] = set()
    by_field: dict[str, int] = {}
    total = 0
    for hit in hits:
        total += 1
        (model_files if hit.source == MODEL_KIND else images).add(hit.path)
        by_field[hit.field] = by_field.get(hit.field, 0) + 1
    return {
        "lists": len(lists),
        "hits": total,
        "model_files": len(model_files),
        "images": len(images),
        "by_field": dict(sorted(by_field.items())),
    }
