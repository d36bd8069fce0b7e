"""Image -> model file links: each generation record's model, VAE, embedding and LoRA references resolved
against the model files found on evidence, in this case and in every other case of the same database.

A reference with a hash resolves by hash **of its own kind** (``autov3`` against the ``autov3`` a file was
hashed by, never another kind's prefix; for ``autov3`` also against a LoRA's own ``sshs_model_hash`` claim where
it differs, since A1111 writes the claim): a ``hash`` link, strong. A reference also resolves by name (the file's
base name without its model extension, case-insensitively): a ``name`` link, weak, labelled so; a reference
whose hash resolved is not also linked by name. Kinds that name no content (``random``: InvokeAI's UUIDs,
``novelai``) link nothing by hash.

Links are derived from stored hashes and findings at read time, so a model file scanned into another case later
is linked without rescanning the images; the same database gives the same links.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.engine import Connection

from cairn.model import CONTAINER_SEP
from cairn.signals.models.hashes import FOLDER_MODEL_EXTENSIONS, folder_blake3
from cairn.store.db import read_connection
from cairn.store.schema import cases, evidence, file_hashes, files, findings, hash_set_entries, hash_sets

MODEL_KIND = "model_file"
DIFFUSERS_INDEX = "diffusers-index"
#: A LoRA's ``sshs_model_hash`` claim (12 hex) where it differs from the computed tensor hash: A1111 writes the
#: claim, not a recomputation, in its "Lora hashes", so a reference resolves by either.
CLAIMED_AUTOV3 = "autov3_claimed"
RECORD_KIND = "generation_record"
#: Reference hash kinds that identify content (see cairn.signals.provenance.record.HASH_KINDS).
CONTENT_KINDS = ("autov1", "autov2", "autov3", "tensor_sha256", "sha256", "sha256_12", "blake3", "md5")
_EXTENSIONS = re.compile(r"\.(safetensors|ckpt|pt|pth|bin|gguf|onnx|sft)$", re.IGNORECASE)


def name_key(name: str) -> str:
    """A model name as links compare it: base name (either slash), model extension dropped, lower case."""
    base = re.split(r"[\\/]", name.strip())[-1]
    return _EXTENSIONS.sub("", base).lower()


@dataclass(frozen=True)
class ModelFile:
    """A model file found on evidence: where (case, path), what (format, kind, family), its hashes by kind."""

    file_id: int
    case_id: int
    case_name: str
    path: str
    format: str
    kind: str | None
    family: str | None
    hashes: Mapping[str, str]

    evidence: str = ""  # the evidence root the file was found in

    @property
    def container(self) -> str | None:
        """The logical path of the archive the file was found in (the innermost), or None for a loose file."""
        return self.path.rsplit(CONTAINER_SEP, 1)[0] if CONTAINER_SEP in self.path else None

    def as_dict(self) -> dict[str, Any]:
        return {
            "case": self.case_name,
            "evidence": self.evidence,
            "path": self.path,
            "container": self.container,
            "format": self.format,
            "kind": self.kind,
            "family": self.family,
        }


def model_files(engine: Engine) -> list[ModelFile]:
    """Every model file of every case in the database, by case then path."""
    stmt = (
        select(files.c.id, files.c.case_id, cases.c.name, files.c.path, findings.c.data_json, evidence.c.root)
        .join(findings, findings.c.file_id == files.c.id)
        .join(cases, cases.c.id == files.c.case_id)
        .join(evidence, evidence.c.id == files.c.evidence_id)
        .where(findings.c.kind == MODEL_KIND)
    )
    out: list[ModelFile] = []
    with read_connection(engine) as conn:
        rows = list(conn.execute(stmt))
        hashes: dict[int, dict[str, str]] = defaultdict(dict)
        ids = [int(r[0]) for r in rows]
        for start in range(0, len(ids), 500):
            for file_id, kind, value in conn.execute(
                select(file_hashes.c.file_id, file_hashes.c.kind, file_hashes.c.value).where(
                    file_hashes.c.file_id.in_(ids[start : start + 500])
                )
            ):
                hashes[int(file_id)][str(kind)] = str(value)
        rows.sort(key=lambda r: (int(r[1]), str(r[3]), int(r[0])))  # code-point order on every backend
        for file_id, case_id, case_name, path, data_json, root in rows:
            data = _loads(data_json)
            fmt = str(data.get("format") or "?")
            found = hashes.get(int(file_id), {})
            claim = (data.get("hash_claims") or {}).get("sshs_model_hash") or {}
            if (
                isinstance(claim, dict)
                and isinstance(claim.get("value"), str)
                and claim.get("matches_tensor_sha256") is False
            ):
                found = {**found, CLAIMED_AUTOV3: claim["value"].strip().lower().removeprefix("0x")[:12]}
            if fmt == DIFFUSERS_INDEX:  # the model is the folder: InvokeAI's folder hash, not the JSON file's
                path = str(path).rsplit("/", 1)[0] if "/" in str(path) else ""
                found = {k: v for k, v in found.items() if k != "blake3"}
                folder = folder_hash(conn, int(case_id), path)
                if folder is not None:
                    found["blake3"] = folder
            out.append(
                ModelFile(
                    int(file_id),
                    int(case_id),
                    str(case_name),
                    str(path),
                    fmt,
                    data.get("kind"),
                    data.get("family"),
                    found,
                    str(root),
                )
            )
    return out


def folder_hash(conn: Connection, case_id: int, folder: str) -> str | None:
    """InvokeAI's BLAKE3 of the folder model at ``folder`` (a path in the case) from its files' stored BLAKE3
    digests (see :func:`cairn.signals.models.hashes.folder_blake3`); None when a component has none."""
    prefix = f"{folder}/" if folder else ""
    stmt = (
        select(files.c.path, file_hashes.c.value)
        .outerjoin(file_hashes, (file_hashes.c.file_id == files.c.id) & (file_hashes.c.kind == "blake3"))
        .where(files.c.case_id == case_id, files.c.path.like(_like_prefix(prefix) + "%", escape="\\"))
    )
    components = []
    for path, digest in conn.execute(stmt):
        rel = str(path)[len(prefix) :]
        if not str(path).startswith(prefix) or not rel.rsplit("/", 1)[-1].endswith(FOLDER_MODEL_EXTENSIONS):
            continue
        if digest is None:
            return None
        components.append((tuple(rel.split("/")), str(digest)))
    return folder_blake3(components)


def _like_prefix(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _loads(raw: str) -> dict[str, Any]:
    try:
        data = json.loads(raw)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


class Resolver:
    """Model files indexed by (hash kind, value) and by name key."""

    def __init__(self, models: list[ModelFile]) -> None:
        self.models = models
        self.by_hash: dict[tuple[str, str], list[ModelFile]] = defaultdict(list)
        self.by_name: dict[str, list[ModelFile]] = defaultdict(list)
        for model in models:
            for kind, value in model.hashes.items():
                if kind in CONTENT_KINDS:
                    self.by_hash[(kind, value.lower())].append(model)
                elif kind == CLAIMED_AUTOV3:  # what A1111 writes for a LoRA whose metadata claims another hash
                    self.by_hash[("autov3", value.lower())].append(model)
            self.by_name[name_key(model.path)].append(model)

    def resolve(self, ref: Mapping[str, Any]) -> list[tuple[ModelFile, str]]:
        """(model file, "hash" or "name") for a stored reference (a ``ModelRef`` dict)."""
        kind, value, name = ref.get("hash_kind"), ref.get("hash"), ref.get("name")
        if isinstance(kind, str) and isinstance(value, str) and kind in CONTENT_KINDS:
            found = self.by_hash.get((kind, value.lower()), [])
            if found:
                return [(m, "hash") for m in found]
        if isinstance(name, str) and name.strip():
            return [(m, "name") for m in self.by_name.get(name_key(name), [])]
        return []


def references(record: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    """Every model reference of a stored generation record (checkpoint, VAE, LoRAs, embeddings, others)."""
    for key in ("model", "vae"):
        ref = record.get(key)
        if isinstance(ref, Mapping):
            yield ref
    for key in ("loras", "embeddings", "other_models"):
        for ref in record.get(key) or []:
            if isinstance(ref, Mapping):
                yield ref


def _records(engine: Engine, case_id: int) -> Iterator[tuple[int, str, dict[str, Any]]]:
    stmt = (
        select(files.c.id, files.c.path, findings.c.data_json)
        .join(findings, findings.c.file_id == files.c.id)
        .where(files.c.case_id == case_id, findings.c.kind == RECORD_KIND)
        .order_by(findings.c.id)
    )
    with read_connection(engine) as conn:
        rows = sorted(conn.execute(stmt), key=lambda r: (str(r[1]), int(r[0])))  # code-point order on every backend
    for file_id, path, data_json in rows:
        yield int(file_id), str(path), _loads(data_json)


def _link(ref: Mapping[str, Any], model: ModelFile, link: str, case_id: int) -> dict[str, Any]:
    """One link; the model's ``case`` is None when it is in the image's own case (its name otherwise)."""
    found = model.as_dict()
    if model.case_id == case_id:
        found["case"] = None
    return {
        "role": ref.get("role"),
        "name": ref.get("name"),
        "hash_kind": ref.get("hash_kind"),
        "hash": ref.get("hash"),
        "link": link,
        "model": found,
    }


def _ref_key(ref: Mapping[str, Any]) -> tuple[str, str] | None:
    kind, value = ref.get("hash_kind"), ref.get("hash")
    if isinstance(kind, str) and isinstance(value, str) and kind in CONTENT_KINDS:
        return kind, value.lower()
    return None


def reference_entries(engine: Engine, keys: set[tuple[str, str]]) -> dict[tuple[str, str], list[dict[str, Any]]]:
    """The entries of the database's complete hash sets (reference lists of known models: a CSV with model-hash
    columns, see ``cairn hashset import``) holding each (hash kind, value): set name, label, category."""
    from cairn.store.hash_sets import COMPLETE

    out: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    by_kind: dict[str, list[str]] = defaultdict(list)
    for kind, value in keys:
        by_kind[kind].append(value)
    e = hash_set_entries
    with read_connection(engine) as conn:
        for kind, values in sorted(by_kind.items()):
            values.sort()
            for start in range(0, len(values), 500):
                stmt = (
                    select(
                        hash_sets.c.name,
                        e.c.value,
                        e.c.category_scheme,
                        e.c.category_value,
                        e.c.series,
                        e.c.comments,
                        e.c.extra_json,
                        e.c.set_id,
                        e.c.record_no,
                    )
                    .join(hash_sets, hash_sets.c.id == e.c.set_id)
                    .where(e.c.kind == kind, e.c.value.in_(values[start : start + 500]), hash_sets.c.status == COMPLETE)
                    .order_by(hash_sets.c.name, e.c.record_no)
                )
                for name, value, scheme, category, series, comments, extra_json, set_id, record_no in conn.execute(
                    stmt
                ):
                    label = comments or series or _label(conn, int(set_id), int(record_no), extra_json)
                    out[(kind, str(value))].append(
                        {
                            "set": str(name),
                            "label": label,
                            "category": None if category is None else {"scheme": scheme, "value": category},
                        }
                    )
    return out


def _label(conn: Connection, set_id: int, record_no: int, extra_json: str | None) -> str | None:
    """A record's ``label``/``name``/``model`` column (kept in its extras, on the record's first row)."""
    if extra_json is None:
        extra_json = conn.execute(
            select(hash_set_entries.c.extra_json)
            .where(
                hash_set_entries.c.set_id == set_id,
                hash_set_entries.c.record_no == record_no,
                hash_set_entries.c.extra_json.is_not(None),
            )
            .limit(1)
        ).scalar()
    extra = _loads(extra_json) if extra_json else {}
    for key in ("label", "name", "model", "title"):
        if isinstance(extra.get(key), str) and extra[key].strip():
            return str(extra[key])[:500]
    return None


def links_by_image(engine: Engine, case_id: int, resolver: Resolver | None = None) -> dict[int, list[dict[str, Any]]]:
    """Each image of the case (file id) with at least one reference: its links to model files (``link`` "hash"
    or "name"), to entries of reference lists (``link`` "list", ``reference`` {set, label, category}), or one
    with ``model`` None and ``link`` "none" when nothing answers; a model in this case has ``case`` None."""
    resolver = resolver or Resolver(model_files(engine))
    records = list(_records(engine, case_id))
    keys = {k for _, _, record in records for ref in references(record) if (k := _ref_key(ref)) is not None}
    listed = reference_entries(engine, keys)
    out: dict[int, list[dict[str, Any]]] = {}
    for file_id, _path, record in records:
        for ref in references(record):
            found = resolver.resolve(ref)
            key = _ref_key(ref)
            in_lists = listed.get(key, []) if key is not None else []
            entries = out.setdefault(file_id, [])
            if not found and not in_lists:
                entries.append({**_link(ref, _NONE, "none", case_id), "model": None})
            entries.extend(_link(ref, model, link, case_id) for model, link in found)
            entries.extend({**_link(ref, _NONE, "list", case_id), "model": None, "reference": e} for e in in_lists)
    return out


_NONE = ModelFile(0, 0, "", "", "", None, None, {})


def case_report(engine: Engine, case_id: int, examples: int = 10) -> dict[str, Any]:
    """What ``cairn provenance`` adds: the case's model files with the images (of this case) that name each,
    by hash or by name only; model files no image names; references found in reference lists (hash sets of
    known models); references nothing in the database answers."""
    resolver = Resolver(model_files(engine))
    named: dict[int, dict[str, set[str]]] = defaultdict(lambda: {"hash": set(), "name": set()})
    unresolved: dict[tuple[Any, ...], set[str]] = defaultdict(set)
    in_lists: dict[tuple[Any, ...], set[str]] = defaultdict(set)
    records = list(_records(engine, case_id))
    keys = {k for _, _, record in records for ref in references(record) if (k := _ref_key(ref)) is not None}
    listed = reference_entries(engine, keys)
    for _file_id, path, record in records:
        for ref in references(record):
            found = resolver.resolve(ref)
            key = (ref.get("role"), ref.get("name"), ref.get("hash_kind"), ref.get("hash"))
            ref_key = _ref_key(ref)
            if ref_key is not None and listed.get(ref_key):
                in_lists[key].add(path)
            elif not found:
                unresolved[key].add(path)
            for model, link in found:
                named[model.file_id][link].add(path)
    present = []
    elsewhere = []
    for model in resolver.models:
        by = named.get(model.file_id, {"hash": set(), "name": set()})
        row = {
            **model.as_dict(),
            "hashes": {k: v for k, v in model.hashes.items() if k in ("sha256", "autov2", "autov3", "blake3")},
            "images_by_hash": len(by["hash"]),
            "images_by_name_only": len(by["name"]),
            "example_images": sorted(by["hash"] | by["name"])[:examples],
        }
        if model.case_id == case_id:
            present.append(row)
        elif by["hash"] or by["name"]:
            elsewhere.append(row)
    return {
        "model_files": present,
        "model_files_unnamed": [r["path"] for r in present if not r["images_by_hash"] and not r["images_by_name_only"]],
        "model_files_in_other_cases": elsewhere,
        "references_in_lists": [
            {
                "role": k[0],
                "name": k[1],
                "hash_kind": k[2],
                "hash": k[3],
                "images": len(v),
                "entries": listed.get(_ref_key({"hash_kind": k[2], "hash": k[3]}) or ("", ""), []),
            }
            for k, v in sorted(in_lists.items(), key=lambda kv: (-len(kv[1]), [str(x) for x in kv[0]]))
        ],
        "references_not_found": [
            {"role": k[0], "name": k[1], "hash_kind": k[2], "hash": k[3], "images": len(v)}
            for k, v in sorted(unresolved.items(), key=lambda kv: (-len(kv[1]), [str(x) for x in kv[0]]))
        ],
    }
