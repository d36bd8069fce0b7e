"""C2PA Content Credentials: find a manifest store cheaply, read and validate it offline with ``c2pa-python``.

Two steps, so that the many files without credentials cost almost nothing:

1. :func:`locate_manifest` looks for the JUMBF manifest store where the format keeps it: a JPEG's APP11
   segments before the scan data, a PNG's ``caBX`` chunk (walked chunk by chunk, never decompressed), and in
   every other container the 16-byte JUMBF type of the C2PA manifest store (``c2pa`` + ISO suffix), searched
   for in the bytes. Nothing is parsed past that.
2. :func:`read_manifest` hands the file's bytes (never the path: the scan already holds them) to
   ``c2pa.Reader`` with an offline context (no remote manifest fetch, no OCSP, an empty host allow-list, so
   no network at all) and turns the manifest store into the flat dictionary :func:`summarize` documents.

Trust: without anchors every signer is untrusted (a well-signed file is ``Valid`` with
``signingCredential.untrusted``). ``CAIRN_C2PA_TRUST_ANCHORS`` names one or more PEM files (separated by the
OS path separator) whose certificates are then the only trust anchors (``Trusted`` when a chain ends in one);
the finding records the files' SHA-256 so a result always says what it was checked against.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import struct
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from cairn.signals.provenance.jpeg import JpegWalk
from cairn.signals.provenance.limits import DEFAULT_LIMITS, ProvenanceLimits, load_json

#: JUMBF box type (UUID) of a C2PA manifest store: ``c2pa`` followed by the ISO/IEC 19566-5 suffix.
C2PA_STORE_UUID = b"c2pa\x00\x11\x00\x10\x80\x00\x00\xaa\x00\x38\x9b\x71"
#: Environment variable naming the PEM file(s) of trust anchors (``os.pathsep``-separated).
TRUST_ANCHORS_ENV = "CAIRN_C2PA_TRUST_ANCHORS"
INSTALL_HINT = "pip install 'c2pa-python>=0.38,<0.39'"

#: IPTC digital source types that mean generative AI (trained models), by their last path segment.
GENERATIVE_SOURCE_TYPES = frozenset({"trainedAlgorithmicMedia", "compositeWithTrainedAlgorithmicMedia"})
#: Source types that name algorithms but not generative AI: recorded, never counted as AI-made.
NON_GENERATIVE_NOTES = {
    "algorithmicMedia": "algorithmicMedia is media made by an algorithm without a trained model "
    "(procedural, computed): not generative AI",
    "compositeSynthetic": "compositeSynthetic is a composite of synthetic elements: not by itself generative AI",
}
#: Actions whose digitalSourceType says how the asset itself was made.
MAKING_ACTIONS = ("c2pa.created", "c2pa.edited")

_JPEG_SOI = b"\xff\xd8"
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_MAX_PNG_CHUNKS = 100_000  # chunks walked before giving up on a PNG (then the byte search decides)
_MAX_STR = 1024  # characters kept of one string from a manifest
_MAX_ITEMS = 256  # entries kept of one list (status codes, ingredients, actions)
_MAX_CHAIN_DEPTH = 16  # ingredient manifests followed below the active one


@dataclass(frozen=True)
class ManifestLocation:
    """Where a file keeps its C2PA manifest store: the first byte, the carrier and the container's MIME type.

    ``remote_url`` is set where the file holds no store but its XMP names one elsewhere (``dcterms:provenance``):
    offline, that store is not fetched, and the location is the XMP packet's.
    """

    offset: int
    where: str
    mime: str | None
    remote_url: str | None = None


_XMP_APP1 = b"http://ns.adobe.com/xap/1.0/\x00"
_PROVENANCE = re.compile(rb"dcterms:provenance\s*(?:=\s*[\"']([^\"'<>]{1,2048})[\"']|>\s*([^<\s]{1,2048})\s*<)")


def _remote_url(xmp: bytes) -> str | None:
    """The ``dcterms:provenance`` URL an XMP packet names (attribute or element form), or None."""
    if b"dcterms:provenance" not in xmp:
        return None
    m = _PROVENANCE.search(xmp)
    if m is None:
        return None
    return (m.group(1) or m.group(2)).decode("utf-8", "replace")[:_MAX_STR]


def _jpeg_location(data: bytes) -> tuple[ManifestLocation | None, bool]:
    """APP11 (JUMBF, ``JP`` common identifier) segments holding the C2PA store, walked up to the scan data; or,
    without one, an APP1 XMP packet naming a remote store. Also whether the walk reached the scan over
    well-formed markers (so a miss is a real miss)."""
    walk = JpegWalk(data)
    first: int | None = None
    segments = 0
    remote: ManifestLocation | None = None
    for segment in walk:
        marker, pos, payload = segment.marker, segment.pos, segment.body
        if payload is None:
            break
        # APP11 JUMBF: "JP", box instance (2), sequence number (4), then the (repeated) superbox header.
        if marker == 0xEB and payload[:2] == b"JP" and C2PA_STORE_UUID in payload[:64]:
            segments += 1
            if first is None:
                first = pos
        elif marker == 0xEB and payload[:2] == b"JP" and first is not None:
            segments += 1  # a continuation segment of the same store
        elif marker == 0xE1 and remote is None and payload.startswith(_XMP_APP1):
            url = _remote_url(payload)
            if url is not None:
                remote = ManifestLocation(pos, f"JPEG APP1 XMP at byte {pos} (dcterms:provenance)", "image/jpeg", url)
    if first is None:
        return remote, walk.complete
    plural = "s" if segments != 1 else ""
    found = ManifestLocation(first, f"JPEG APP11 JUMBF at byte {first} ({segments} segment{plural})", "image/jpeg")
    return found, walk.complete


def _png_location(data: bytes) -> ManifestLocation | None:
    """The ``caBX`` chunk, found by walking chunk headers (lengths only, nothing decompressed); or, without one,
    an uncompressed ``XML:com.adobe.xmp`` iTXt chunk naming a remote store."""
    pos = 8
    n = len(data)
    remote: ManifestLocation | None = None
    for _ in range(_MAX_PNG_CHUNKS):
        if pos + 8 > n:
            return remote
        length = struct.unpack_from(">I", data, pos)[0]
        ctype = data[pos + 4 : pos + 8]
        if ctype == b"caBX":
            return ManifestLocation(pos, f"PNG caBX chunk at byte {pos} ({length} bytes)", "image/png")
        if ctype == b"IEND":
            return remote
        if ctype == b"iTXt" and remote is None and data.startswith(b"XML:com.adobe.xmp\x00\x00", pos + 8):
            url = _remote_url(data[pos + 8 : pos + 8 + length])
            if url is not None:
                where = f"PNG iTXt XML:com.adobe.xmp chunk at byte {pos} (dcterms:provenance)"
                remote = ManifestLocation(pos, where, "image/png", url)
        pos += 12 + length
    return remote


def locate_manifest(data: bytes) -> ManifestLocation | None:
    """Where ``data`` keeps a C2PA manifest store, or None: a cheap test that parses nothing past the carrier.

    JPEG and PNG are walked by their own structure (APP11 segments before the scan; ``caBX`` chunks); for them
    a miss is final unless the walk met a broken structure, and an XMP packet naming a remote store
    (``dcterms:provenance``) is a location with ``remote_url``. Other containers (WebP, AVIF/HEIF, TIFF,
    GIF, ...) are searched for the manifest store's JUMBF type.
    """
    if data.startswith(_JPEG_SOI):
        loc, complete = _jpeg_location(data)
        if loc is not None or complete:
            return loc
    elif data.startswith(_PNG_SIGNATURE):
        loc = _png_location(data)
        if loc is not None or _png_walk_ok(data):
            return loc
    at = data.find(C2PA_STORE_UUID)
    if at < 0:
        return None
    # The store's superbox header (LBox, "jumb") and its description box header sit 16 bytes before the UUID.
    start = max(0, at - 16)
    return ManifestLocation(start, f"JUMBF manifest store at byte {start}", None)


def _png_walk_ok(data: bytes) -> bool:
    """Whether the PNG's chunk headers lead to IEND (so a missing ``caBX`` is a real miss)."""
    pos = 8
    n = len(data)
    for _ in range(_MAX_PNG_CHUNKS):
        if pos + 8 > n:
            return False
        if data[pos + 4 : pos + 8] == b"IEND":
            return True
        pos += 12 + struct.unpack_from(">I", data, pos)[0]
    return False


# --- the library -----------------------------------------------------------------------------------------------


def c2pa_module() -> Any | None:
    """The ``c2pa`` module of c2pa-python, or None where it is not installed (or fails to load)."""
    try:
        import c2pa
    except Exception:  # an ImportError, or a native library that does not load on this machine
        return None
    return c2pa


def library_version() -> str | None:
    """``c2pa-python <version> (c2pa-rs <version>)``, or None without the library."""
    mod = c2pa_module()
    if mod is None:
        return None
    try:
        return f"c2pa-python {mod.__version__} (c2pa-rs {mod.sdk_version()})"
    except Exception:
        return f"c2pa-python {getattr(mod, '__version__', '?')}"


@dataclass(frozen=True)
class TrustConfig:
    """The trust anchors a read uses: the PEM text (None = no anchors) and what to record about them."""

    pem: str | None
    record: dict[str, Any]


def trust_config(env: str | None = None) -> TrustConfig:
    """The anchors named by ``CAIRN_C2PA_TRUST_ANCHORS`` (or ``env`` when given): read, hashed, recorded.

    A file that cannot be read is recorded as an error and no anchors are used (every signer is untrusted),
    never silently dropped.
    """
    value = os.environ.get(TRUST_ANCHORS_ENV, "") if env is None else env
    paths = [p for p in value.split(os.pathsep) if p]
    if not paths:
        return TrustConfig(None, {"anchors": "none"})
    texts: list[str] = []
    files: list[dict[str, Any]] = []
    for path in paths:
        try:
            with open(path, "rb") as fh:
                raw = fh.read(16 * 1024 * 1024)
        except OSError as exc:
            return TrustConfig(None, {"anchors": "error", "path": path, "error": str(exc)[:_MAX_STR]})
        files.append({"path": path, "sha256": hashlib.sha256(raw).hexdigest()})
        texts.append(raw.decode("ascii", "replace"))
    pem = "\n".join(texts)
    return TrustConfig(
        pem, {"anchors": "files", "files": files, "certificates": pem.count("-----BEGIN CERTIFICATE-----")}
    )


def reader_settings(trust: TrustConfig) -> dict[str, Any]:
    """c2pa-rs settings of an offline read: no remote manifests, no OCSP, no host allowed; trust = ``trust``."""
    settings: dict[str, Any] = {
        "verify": {
            "verify_after_reading": True,
            "verify_trust": True,
            "remote_manifest_fetch": False,
            "ocsp_fetch": False,
        },
        "core": {"allowed_network_hosts": []},
    }
    if trust.pem is not None:
        settings["trust"] = {"trust_anchors": trust.pem}
    return settings


@lru_cache(maxsize=4)
def _context_of(pem: str | None, pid: int) -> Any:
    mod = c2pa_module()
    assert mod is not None
    return mod.Context.from_dict(reader_settings(TrustConfig(pem, {})))


def _context(pem: str | None) -> Any:
    """One offline reading context per set of anchors and process (a worker forked from a process that had
    one makes its own: a native handle is not shared across a fork)."""
    return _context_of(pem, os.getpid())


def read_manifest(
    data: bytes,
    mime: str | None,
    trust: TrustConfig | None = None,
    limits: ProvenanceLimits = DEFAULT_LIMITS,
) -> dict[str, Any] | None:
    """Read and validate the C2PA manifest store in ``data`` (a file's bytes): :func:`summarize`'s dictionary,
    or None where the library finds no manifest. Library errors (a damaged or hostile store) are raised as
    they come: the caller records them as warnings. Needs c2pa-python (``RuntimeError`` without it)."""
    mod = c2pa_module()
    if mod is None:
        raise RuntimeError(f"c2pa-python is not installed ({INSTALL_HINT})")
    trust = trust_config() if trust is None else trust
    context = _context(trust.pem)
    reader = mod.Reader.try_create(mime, io.BytesIO(data), None, context)
    if reader is None:
        return None
    with reader:
        text = reader.json()
        remote = None
        embedded = True
        try:
            embedded = bool(reader.is_embedded())
            remote = None if embedded else reader.get_remote_url()
        except Exception:  # older libraries: only the JSON
            pass
    store = load_json(text, limits)
    if not isinstance(store, dict):
        raise ValueError("the manifest store is not a JSON object")
    out = summarize(store)
    out["embedded"] = embedded
    out["remote_url"] = _s(remote)
    out["trust"] = trust.record
    out["library"] = library_version()
    return out


# --- the manifest store as a flat record -------------------------------------------------------------------------


def _s(value: Any) -> str | None:
    """A string from a manifest, cut to ``_MAX_STR`` characters (None stays None; other types as ``str``)."""
    if value is None:
        return None
    text = value if isinstance(value, str) else str(value)
    return text[:_MAX_STR]


def _dicts(value: Any) -> list[dict[str, Any]]:
    return [v for v in value[:_MAX_ITEMS] if isinstance(v, dict)] if isinstance(value, list) else []


def _status_entries(value: Any, kind: str, scope: str) -> list[dict[str, Any]]:
    return [
        {
            "code": _s(e.get("code")),
            "url": _s(e.get("url")),
            "explanation": _s(e.get("explanation")),
            "kind": kind,
            "scope": scope,
        }
        for e in _dicts(value)
    ]


def _validation(store: dict[str, Any]) -> list[dict[str, Any]]:
    """Every status the library reported: the active manifest's success/informational/failure results, the
    ingredients' deltas, and top-level ``validation_status`` entries no result list holds (older stores)."""
    out: list[dict[str, Any]] = []
    results = store.get("validation_results")
    if isinstance(results, dict):
        active = results.get("activeManifest")
        if isinstance(active, dict):
            for kind in ("failure", "informational", "success"):
                out += _status_entries(active.get(kind), kind, "active")
        for delta in _dicts(results.get("ingredientDeltas")):
            uri = _s(delta.get("ingredientAssertionURI"))
            vd = delta.get("validationDeltas")
            if isinstance(vd, dict):
                for kind in ("failure", "informational", "success"):
                    out += _status_entries(vd.get(kind), kind, f"ingredient {uri}")
    seen = {(e["code"], e["url"]) for e in out}
    for e in _status_entries(store.get("validation_status"), "failure", "active"):
        if (e["code"], e["url"]) not in seen:
            out.append(e)
    return out[:_MAX_ITEMS]


def _source_type_name(url: str) -> str:
    return url.rstrip("/").rsplit("/", 1)[-1]


def _actions(manifest: dict[str, Any], label: str | None) -> list[dict[str, Any]]:
    """The actions of every ``c2pa.actions*`` assertion with a digitalSourceType, flagged generative or not."""
    out: list[dict[str, Any]] = []
    for assertion in _dicts(manifest.get("assertions")):
        alabel = assertion.get("label")
        data = assertion.get("data")
        if not (isinstance(alabel, str) and alabel.startswith("c2pa.actions") and isinstance(data, dict)):
            continue
        for action in _dicts(data.get("actions")):
            dst = action.get("digitalSourceType")
            if not isinstance(dst, str):
                continue
            name = _source_type_name(dst)
            act = _s(action.get("action"))
            agent = action.get("softwareAgent")
            agent_name = agent.get("name") if isinstance(agent, dict) else agent
            out.append(
                {
                    "manifest": label,
                    "action": act,
                    "digital_source_type": _s(dst),
                    "source_type": _s(name),
                    "generative_ai": name in GENERATIVE_SOURCE_TYPES and act in MAKING_ACTIONS,
                    "software_agent": _s(agent_name),
                }
            )
    return out[:_MAX_ITEMS]


def _generator(manifest: dict[str, Any]) -> tuple[str | None, list[dict[str, Any]]]:
    """The claim generator string (v1 claims) or one made of ``claim_generator_info`` (v2), and the info list."""
    info = [
        {k: _s(v) for k, v in entry.items() if isinstance(v, str | int | float)}
        for entry in _dicts(manifest.get("claim_generator_info"))
    ][:16]
    generator = manifest.get("claim_generator")
    if not isinstance(generator, str) and info:
        first = info[0]
        generator = " ".join(p for p in (first.get("name"), first.get("version")) if p) or None
    return _s(generator), info


def _ingredients(manifests: dict[str, Any], label: str | None) -> list[dict[str, Any]]:
    """The ingredient chain below ``label``: each ingredient once per path, depth-first, bounded and cycle-safe."""
    out: list[dict[str, Any]] = []
    stack: list[tuple[str | None, int, frozenset[str]]] = [(label, 1, frozenset({label} if label else set()))]
    while stack and len(out) < _MAX_ITEMS:
        parent, depth, seen = stack.pop()
        manifest = manifests.get(parent) if parent else None
        if not isinstance(manifest, dict):
            continue
        children: list[tuple[str | None, int, frozenset[str]]] = []
        for ing in _dicts(manifest.get("ingredients")):
            ing_label = ing.get("active_manifest")
            ing_label = ing_label if isinstance(ing_label, str) else None
            codes = [e.get("code") for e in _dicts(ing.get("validation_status")) if isinstance(e.get("code"), str)]
            results = ing.get("validation_results")
            if isinstance(results, dict) and isinstance(results.get("activeManifest"), dict):
                codes += [
                    e.get("code")
                    for e in _dicts(results["activeManifest"].get("failure"))
                    if isinstance(e.get("code"), str) and e.get("code") not in codes
                ]
            out.append(
                {
                    "parent": _s(parent),
                    "depth": depth,
                    "title": _s(ing.get("title")),
                    "format": _s(ing.get("format")),
                    "relationship": _s(ing.get("relationship")),
                    "manifest": _s(ing_label),
                    "manifest_present": ing_label in manifests if ing_label else False,
                    "codes_at_signing": [_s(c) for c in codes[:_MAX_ITEMS]],
                }
            )
            if ing_label and ing_label not in seen and depth < _MAX_CHAIN_DEPTH:
                children.append((ing_label, depth + 1, seen | {ing_label}))
        stack.extend(reversed(children))
    return out[:_MAX_ITEMS]


def summarize(store: dict[str, Any]) -> dict[str, Any]:
    """The manifest store (``Reader.json()``, parsed) as the flat record a ``c2pa`` finding stores.

    Keys: ``checked`` (True), ``active_manifest`` (label), ``manifest_count``, ``title``, ``format``,
    ``claim_generator`` (the v1 string, or "name version" of the first ``claim_generator_info``),
    ``claim_generator_info`` (list of flat dicts), ``signer_common_name``, ``signer_issuer``,
    ``signature_alg``, ``cert_serial_number``, ``signing_time`` (the time-stamp's time; None when the
    signature carries no time-stamp), ``validation_state`` (``Valid`` / ``Invalid`` / ``Trusted``, as the
    library says; None from libraries that give none), ``failure_codes`` (the active manifest's failure codes,
    in order, no repeats), ``ingredient_failure_codes`` (the same for this read's check of the ingredients'
    manifests: an ingredient's failure alone can make the state ``Invalid``), ``validation`` (every status:
    code, url, explanation, kind = failure / informational / success, scope = active or the ingredient's
    URI), ``actions`` (every action with a digitalSourceType, in every
    manifest: manifest, action, digital_source_type, source_type, generative_ai, software_agent),
    ``ai_generated`` (an action ``c2pa.created``/``c2pa.edited`` of the active manifest has digitalSourceType
    trainedAlgorithmicMedia or compositeWithTrainedAlgorithmicMedia), ``ai_in_chain`` (the same in any
    ingredient's manifest), ``source_type_notes`` (why a recorded non-generative source type such as
    algorithmicMedia does not count), ``ingredients`` (the chain: parent, depth, title, format, relationship,
    manifest, manifest_present, codes_at_signing = the failure codes the signer recorded for the ingredient
    when it was added; this read's own verdict on an ingredient is in ``validation`` with its scope).
    :func:`read_manifest` adds ``embedded``, ``remote_url``, ``trust`` and ``library``.
    """
    manifests_raw = store.get("manifests")
    manifests: dict[str, Any] = manifests_raw if isinstance(manifests_raw, dict) else {}
    label = store.get("active_manifest")
    label = label if isinstance(label, str) else None
    active = manifests.get(label) if label else None
    active = active if isinstance(active, dict) else {}
    generator, info = _generator(active)
    sig = active.get("signature_info")
    sig = sig if isinstance(sig, dict) else {}
    validation = _validation(store)
    failure_codes: list[str] = []
    for entry in validation:
        code = entry["code"]
        if entry["kind"] == "failure" and entry["scope"] == "active" and code and code not in failure_codes:
            failure_codes.append(code)
    ingredient_codes: list[str] = []
    for entry in validation:
        code = entry["code"]
        if entry["kind"] == "failure" and entry["scope"] != "active" and code and code not in ingredient_codes:
            ingredient_codes.append(code)
    actions = _actions(active, label)
    chain_actions: list[dict[str, Any]] = []
    for other_label, manifest in list(manifests.items())[:_MAX_ITEMS]:
        if other_label != label and isinstance(manifest, dict):
            chain_actions += _actions(manifest, _s(other_label))
    all_actions = (actions + chain_actions)[:_MAX_ITEMS]
    notes = sorted(
        {NON_GENERATIVE_NOTES[a["source_type"]] for a in all_actions if a["source_type"] in NON_GENERATIVE_NOTES}
    )
    state = store.get("validation_state")
    return {
        "checked": True,
        "active_manifest": _s(label),
        "manifest_count": len(manifests),
        "title": _s(active.get("title")),
        "format": _s(active.get("format")),
        "claim_generator": generator,
        "claim_generator_info": info,
        "signer_common_name": _s(sig.get("common_name")),
        "signer_issuer": _s(sig.get("issuer")),
        "signature_alg": _s(sig.get("alg")),
        "cert_serial_number": _s(sig.get("cert_serial_number")),
        "signing_time": _s(sig.get("time")),
        "validation_state": _s(state),
        "failure_codes": failure_codes,
        "ingredient_failure_codes": ingredient_codes,
        "validation": validation,
        "actions": all_actions,
        "ai_generated": any(a["generative_ai"] for a in actions),
        "ai_in_chain": any(a["generative_ai"] for a in chain_actions),
        "source_type_notes": notes,
        "ingredients": _ingredients(manifests, label),
    }


def not_checked(reason: str) -> dict[str, Any]:
    """The record of a manifest store found but not read (the library is missing): says so, with the hint."""
    return {"checked": False, "reason": reason, "install_hint": INSTALL_HINT}


def remote_not_fetched(url: str) -> dict[str, Any]:
    """The record of a file whose XMP names a manifest store (``dcterms:provenance``) that it does not hold: a
    remote store (kept as evidence, never fetched), or ``self#jumbf=...``, a store once embedded and since
    stripped."""
    if url.startswith("self#"):
        reason = (
            "XMP dcterms:provenance names an embedded manifest store the file does not hold: "
            "the store was removed after signing"
        )
        remote = None
    else:
        reason = "the manifest store is remote (XMP dcterms:provenance); cairn reads offline and did not fetch it"
        remote = url
    return {"checked": False, "reason": reason, "xmp_provenance": url, "remote_url": remote, "embedded": False}
