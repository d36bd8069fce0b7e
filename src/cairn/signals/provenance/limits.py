"""The bounds every provenance parser keeps: hostile files must cost little and never crash a scan."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class ProvenanceLimits:
    """Upper bounds on what provenance parsing reads, decompresses, nests and walks."""

    max_text: int = 4 * 1024 * 1024  # characters of one carrier's text (longer: cut, with a warning)
    max_decompressed: int = 16 * 1024 * 1024  # bytes out of one zTXt/iTXt/gzip payload
    max_carriers: int = 256  # carriers read from one file
    max_json_depth: int = 64  # nesting of one JSON document
    max_graph_nodes: int = 10_000  # nodes of one ComfyUI/InvokeAI graph
    max_walk_steps: int = 100_000  # steps of one graph walk (cycles end it, never loop it)
    max_records: int = 32  # generation records kept per file
    max_stealth_bits: int = 64 * 1024 * 1024  # bits a pixel copy may declare (and never more than the image holds)


DEFAULT_LIMITS = ProvenanceLimits()


class TooDeep(ValueError):
    """A JSON document nested deeper than the limit allows."""


def json_depth_ok(text: str, max_depth: int) -> bool:
    """Whether ``text``'s brackets nest at most ``max_depth`` deep (a cheap pre-check before ``json.loads``,
    which would recurse; strings are skipped so brackets inside them do not count)."""
    depth = 0
    in_string = False
    escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            if depth > max_depth:
                return False
        elif ch in "]}":
            depth -= 1
    return True


_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"')  # unrolled: one step per run of plain characters
_STEP = np.zeros(256, dtype=np.int32)
_STEP[[ord("["), ord("{")]] = 1
_STEP[[ord("]"), ord("}")]] = -1


def text_depth(text: str) -> int:
    """How deep the brackets of JSON ``text`` nest, strings skipped; C-speed (regex and numpy), no recursion."""
    skeleton = np.frombuffer(_STRING.sub("", text).encode("utf-8", "replace"), dtype=np.uint8)
    if skeleton.size == 0:
        return 0
    return int(np.cumsum(_STEP[skeleton]).max(initial=0))


def load_json(text: str, limits: ProvenanceLimits = DEFAULT_LIMITS) -> Any:
    """``json.loads`` of ``text`` within the limits: ``TooDeep`` past the nesting bound, ``ValueError`` for text
    that is not JSON or longer than ``max_text``.

    The nesting is measured first by :func:`text_depth` (regex and numpy: a 3 MB graph costs milliseconds, not a
    Python loop over every character), so the parser never recurses past the bound."""
    if len(text) > limits.max_text:
        raise ValueError(f"JSON text of {len(text):,} characters is over the {limits.max_text:,} limit")
    if text_depth(text) > limits.max_json_depth:
        raise TooDeep(f"JSON nested deeper than {limits.max_json_depth}")
    try:
        return json.loads(text)
    except RecursionError as exc:  # pragma: no cover - the depth check comes first
        raise TooDeep("JSON nested too deep") from exc
