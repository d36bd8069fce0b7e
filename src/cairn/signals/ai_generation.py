"""Generation records in a picture's metadata: which tool, model, LoRAs and prompt made it (issue 12).

From the one read of the file (``DecodedImage.data``): :func:`~cairn.signals.provenance.carriers.extract_carriers`
walks the container's chunk and segment headers for text carriers (PNG text chunks, EXIF, XMP, comments), and
every registered parser (:mod:`cairn.signals.provenance.parsers`) turns them into normalised records. Stored:

* one ``Finding(signal="ai_generation", kind="generation_record", data=record.as_dict(), where=record.where)``
  per record (at most ``ProvenanceLimits.max_records``);
* one ``Finding(kind="provenance_warning", data={"parser", "message"}, where=...)`` per thing that could not be
  read (a truncated chunk, bad JSON, a hash of no known kind), and one ``provenance_unreadable`` note on the
  file saying how many, so a reviewer sees that something was there and why it was not read.

A file without carriers costs the header walk only: no search over the file's bytes, no parser runs.
"""

from __future__ import annotations

from cairn import errors
from cairn.model import FileResult, Finding
from cairn.settings import ScanSettings
from cairn.signals.base import DecodedImage
from cairn.signals.provenance.carriers import extract_carriers
from cairn.signals.provenance.limits import DEFAULT_LIMITS
from cairn.signals.provenance.parsers import ParseWarning, parse_all

NAME = "ai_generation"
RECORD_KIND = "generation_record"
WARNING_KIND = "provenance_warning"
#: Warning findings stored per file (a hostile file can provoke thousands); the rest are counted in one more.
MAX_WARNINGS = 50


def warning_finding(warning: ParseWarning, signal: str = NAME) -> Finding:
    """The finding of one provenance warning."""
    return Finding(signal, WARNING_KIND, {"parser": warning.parser, "message": warning.message}, warning.where or None)


class AiGenerationSignal:
    """Stores generation-record findings (and provenance warnings) read from the file's metadata."""

    name = NAME
    order = 60  # after PDQ (10) and the thumbnail (50): the picture's own signals come first

    def apply(self, decoded: DecodedImage, result: FileResult, settings: ScanSettings) -> None:
        carriers, warnings = extract_carriers(decoded.data, DEFAULT_LIMITS)
        if carriers:
            records, parse_warnings = parse_all(carriers, DEFAULT_LIMITS)
            warnings = warnings + parse_warnings
            for record in records:
                result.findings.append(Finding(NAME, RECORD_KIND, record.as_dict(), record.where))
        for warning in warnings[:MAX_WARNINGS]:
            result.findings.append(warning_finding(warning))
        if len(warnings) > MAX_WARNINGS:
            more = ParseWarning("limits", "", f"{len(warnings) - MAX_WARNINGS:,} more provenance warnings not stored")
            result.findings.append(warning_finding(more))
        if warnings:
            result.errors.append(
                errors.item_note(
                    errors.PROVENANCE_UNREADABLE,
                    f"{len(warnings)} provenance metadata problem(s) (first: {warnings[0].where or 'file'}: "
                    f"{warnings[0].message}); see the file's provenance warnings",
                )
            )


SIGNALS = [AiGenerationSignal()]
