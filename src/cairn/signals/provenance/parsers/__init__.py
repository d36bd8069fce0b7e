"""Generation-record parsers: a registry, one module per tool, each never trusting its input.

A parser module defines ``PARSER``: an object with a constant ``name``, an ``order`` (lower runs first, so a
specific reader such as Fooocus' sees a ``parameters`` chunk before the generic A1111 reader) and
``parse(carriers, ctx) -> list[GenerationRecord]``. A parser takes the carriers it recognises, calls
``ctx.claim(carrier)`` for each it turned into a record (later parsers do not see claimed carriers), and reports
anything malformed with ``ctx.warn(where, message)``: it never raises on bad input (``parse_all`` turns an
exception into a warning naming the parser, as a safety net, not as the way to report).
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Protocol

from cairn.signals.provenance.limits import DEFAULT_LIMITS, ProvenanceLimits
from cairn.signals.provenance.record import Carrier, GenerationRecord


@dataclass(frozen=True)
class ParseWarning:
    """Something a parser could not read, with where it was."""

    parser: str
    where: str
    message: str


@dataclass
class ParseContext:
    """What a parser may use: the limits, the carriers already claimed, and where its warnings go."""

    limits: ProvenanceLimits = DEFAULT_LIMITS
    warnings: list[ParseWarning] = field(default_factory=list)
    claimed: set[int] = field(default_factory=set)  # id() of claimed carriers
    parser: str = ""

    def warn(self, where: str, message: str) -> None:
        """Record that something at ``where`` could not be read (shown with the file, never fatal)."""
        self.warnings.append(ParseWarning(self.parser, where, message[:500]))

    def claim(self, carrier: Carrier) -> None:
        """Mark ``carrier`` as read into a record: later parsers do not see it."""
        self.claimed.add(id(carrier))

    def is_claimed(self, carrier: Carrier) -> bool:
        return id(carrier) in self.claimed


class RecordParser(Protocol):
    """A tool's record reader."""

    name: str
    order: int

    def parse(self, carriers: Sequence[Carrier], ctx: ParseContext) -> list[GenerationRecord]: ...


@lru_cache(maxsize=1)
def parsers() -> tuple[RecordParser, ...]:
    """Every parser module's ``PARSER``, sorted by (order, name); names must be unique."""
    found: dict[str, RecordParser] = {}
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        parser = getattr(module, "PARSER", None)
        if parser is None:
            continue
        if parser.name in found:
            raise ValueError(f"generation-record parser name {parser.name!r} registered twice")
        found[parser.name] = parser
    return tuple(sorted(found.values(), key=lambda p: (p.order, p.name)))


def parse_all(
    carriers: Sequence[Carrier], limits: ProvenanceLimits = DEFAULT_LIMITS
) -> tuple[list[GenerationRecord], list[ParseWarning]]:
    """Run every parser over ``carriers`` in order; the records (at most ``limits.max_records``) and warnings."""
    ctx = ParseContext(limits=limits)
    records: list[GenerationRecord] = []
    for parser in parsers():
        ctx.parser = parser.name
        open_carriers = [c for c in carriers if not ctx.is_claimed(c)]
        if not open_carriers:
            break
        try:
            records.extend(parser.parse(open_carriers, ctx))
        except Exception as exc:  # noqa: BLE001 - a parser bug must not end the scan: it becomes a warning
            ctx.warn("", f"parser {parser.name} failed: {type(exc).__name__}: {exc}")
    if len(records) > limits.max_records:
        ctx.parser = "limits"
        ctx.warn("", f"{len(records)} generation records; the first {limits.max_records} kept")
        records = records[: limits.max_records]
    return records, ctx.warnings
