"""Small helpers the parsers share: lenient numbers, sizes, hashes with their kinds, carrier lookups."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from typing import Any

from cairn.signals.provenance.limits import ProvenanceLimits, TooDeep, load_json
from cairn.signals.provenance.parsers import ParseContext
from cairn.signals.provenance.record import Carrier, ModelRef

_HEX = re.compile(r"[0-9a-fA-F]+")
_SIZE = re.compile(r"\s*(\d{1,6})\s*[x×*]\s*(\d{1,6})\s*")
_PAIR = re.compile(r"\(?\s*'?(\d{1,6})'?\s*,\s*'?(\d{1,6})'?\s*\)?")

#: Model references kept per kind in one record (a hostile text can name hundreds of thousands).
MAX_REFS = 256
#: Hash kind by the number of hex digits, where a tool's documentation gives no better answer.
KIND_BY_LENGTH = {8: "autov1", 10: "autov2", 12: "autov3", 64: "sha256"}


def as_int(value: Any) -> int | None:
    """``value`` as an int (``"123"``, ``123.0``), or None when it is not a whole number."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if math.isfinite(value) and value.is_integer() else None
    if isinstance(value, str):
        text = value.strip()
        if re.fullmatch(r"[+-]?\d{1,30}", text):
            return int(text)
        number = as_float(text)
        if number is not None and number.is_integer():
            return int(number)
    return None


def as_float(value: Any) -> float | None:
    """``value`` as a finite float, or None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip()[:64])
        except ValueError:
            return None
    else:
        return None
    return number if math.isfinite(number) else None


def as_text(value: Any) -> str | None:
    """``value`` as text (None and empty text give None)."""
    if value is None:
        return None
    text = value if isinstance(value, str) else str(value)
    return text or None


def size_of(value: Any) -> tuple[int | None, int | None]:
    """(width, height) from ``"512x768"``, ``"(896, 1152)"`` or ``[w, h]``."""
    if isinstance(value, list | tuple) and len(value) == 2:
        return as_int(value[0]), as_int(value[1])
    if isinstance(value, str):
        m = _SIZE.fullmatch(value) or _PAIR.fullmatch(value.strip())
        if m is not None:
            return int(m.group(1)), int(m.group(2))
    return None, None


def clean_hash(value: Any) -> str | None:
    """Lower-case hex of ``value`` (``0x``, ``sha256:`` and ``blake3:``-style prefixes dropped), or None."""
    if not isinstance(value, str):
        return None
    text = value.strip()
    if ":" in text:
        text = text.rsplit(":", 1)[1]
    if text[:2] in ("0x", "0X"):
        text = text[2:]
    return text.lower() if _HEX.fullmatch(text) else None


def model_ref(
    role: str,
    name: Any,
    hash_value: Any = None,
    kind: str | None = None,
    weight: float | None = None,
    weight_clip: float | None = None,
    ctx: ParseContext | None = None,
    where: str = "",
) -> ModelRef | None:
    """A model reference; a hash that is not hex, or whose length does not fit ``kind``, is dropped with a
    warning (the name is kept, labelled name-only). ``kind`` None: guessed from the length (``KIND_BY_LENGTH``)."""
    name_text = as_text(name)
    digest = clean_hash(hash_value)
    if hash_value not in (None, "") and digest is None and ctx is not None:
        ctx.warn(where, f"{role} hash {str(hash_value)[:80]!r} is not hexadecimal; kept the name only")
    if digest is not None:
        expected = {"autov1": 8, "autov2": 10, "autov3": 12, "sha256_12": 12, "tensor_sha256": 64, "sha256": 64}.get(
            kind or ""
        )
        if kind is None:
            kind = KIND_BY_LENGTH.get(len(digest))
        if kind is None or (expected is not None and len(digest) != expected):
            if ctx is not None:
                ctx.warn(
                    where,
                    f"{role} hash {digest[:80]!r} has {len(digest)} hex digits, not a known hash kind; "
                    "kept the name only",
                )
            digest, kind = None, None
    if name_text is None and digest is None:
        return None
    return ModelRef(
        role=role,
        name=name_text,
        hash=digest,
        hash_kind=kind if digest is not None else None,
        weight=weight,
        weight_clip=weight_clip,
        link="hash" if digest is not None else "name-only",
    )


def json_object(text: str, ctx: ParseContext, where: str, limits: ProvenanceLimits) -> dict[str, Any] | None:
    """``text`` as a JSON object within the limits; None with a warning when it is not one."""
    try:
        value = load_json(text, limits)
    except TooDeep as exc:
        ctx.warn(where, f"JSON not read: {exc}")
        return None
    except ValueError as exc:
        ctx.warn(where, f"not valid JSON: {str(exc)[:200]}")
        return None
    if not isinstance(value, dict):
        ctx.warn(where, f"JSON is a {type(value).__name__}, not an object")
        return None
    return value


def by_key(carriers: Iterable[Carrier], *keys: str) -> dict[str, Carrier]:
    """The first carrier of each of ``keys`` (exact match), from ``carriers``."""
    found: dict[str, Carrier] = {}
    for c in carriers:
        if c.key in keys and c.key not in found and c.text is not None:
            found[c.key] = c
    return found


def joined_where(carriers: Sequence[Carrier]) -> str:
    """The carriers' ``where``s, joined by "; "."""
    return "; ".join(c.where for c in carriers)


def cut(text: str, limits: ProvenanceLimits) -> tuple[str, bool]:
    """``text`` cut to ``max_text`` characters, and whether it was cut."""
    if len(text) > limits.max_text:
        return text[: limits.max_text], True
    return text, False
