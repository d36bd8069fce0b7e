"""Generation records hidden in a picture's pixels: the stealth pixel copy (Forge, NovelAI, ComfyUI/SwarmUI
extensions), read from the one decode (issue 12).

:func:`~cairn.signals.provenance.stealth.read_stealth` looks for a signature in the first pixels' least-significant
bits (microseconds when there is none) and decodes the copy; every registered parser then reads its carriers as
it reads text chunks. Stored:

* one ``Finding(signal="ai_stealth", kind="generation_record", data=record.as_dict(), where=...)`` per record,
  ``where`` starting ``pixels:`` (channel, signature, declared bits), so ``cairn provenance`` can tell the
  images whose records survive only in pixels (text chunks stripped, converted to another lossless format);
* one ``provenance_warning`` finding per problem (a declared length larger than the image, truncated or
  oversized gzip, a payload no parser reads) and a ``provenance_unreadable`` note saying how many.

Lossy decodes cannot hold a copy (a JPEG's least-significant bits are noise): pictures decoded at reduced
scale are skipped; other pictures cost the signature check only.
"""

from __future__ import annotations

from cairn import errors
from cairn.model import FileResult, Finding
from cairn.settings import ScanSettings
from cairn.signals.ai_generation import RECORD_KIND, warning_finding
from cairn.signals.base import DecodedImage
from cairn.signals.provenance.limits import DEFAULT_LIMITS
from cairn.signals.provenance.parsers import ParseWarning, parse_all
from cairn.signals.provenance.stealth import read_stealth

NAME = "ai_stealth"


class AiStealthSignal:
    """Stores generation records (and provenance warnings) read from the stealth pixel copy."""

    name = NAME
    order = 61  # beside ai_generation (60); before ai_watermark, which looks for records

    def apply(self, decoded: DecodedImage, result: FileResult, settings: ScanSettings) -> None:
        if decoded.draft_scale < 1.0:
            return
        found = read_stealth(decoded.image, DEFAULT_LIMITS)
        warnings = [ParseWarning("stealth", where, message) for where, message in found.warnings]
        if found.payload is not None:
            records, parse_warnings = parse_all(found.carriers, DEFAULT_LIMITS)
            warnings.extend(parse_warnings)
            for record in records:
                result.findings.append(Finding(NAME, RECORD_KIND, record.as_dict(), record.where))
            if not records and not parse_warnings:
                excerpt = found.payload.text[:200]
                warnings.append(
                    ParseWarning("stealth", found.payload.where, f"a pixel copy no parser reads; it begins {excerpt!r}")
                )
        for warning in warnings:
            result.findings.append(warning_finding(warning, NAME))
        if warnings:
            result.errors.append(
                errors.item_note(
                    errors.PROVENANCE_UNREADABLE,
                    f"{len(warnings)} pixel-copy problem(s) (first: {warnings[0].where or 'pixels'}: "
                    f"{warnings[0].message}); see the file's provenance warnings",
                )
            )


SIGNALS = [AiStealthSignal()]
