"""Declared AI: IPTC DigitalSourceType in XMP, and EXIF/XMP software names of known generators.

Decision: a declaration is stored as a *minimal generation record* (finding kind ``generation_record``, parser
``xmp``), never as a kind of its own, so one listing answers "which images say they were generated": the
record's ``tool`` is the generator named by ``xmp:CreatorTool`` or EXIF Software/Make/Model when it is a known
one, else ``"unknown"``; ``extra`` holds ``digital_source_type`` (the IPTC code, e.g.
``trainedAlgorithmicMedia``), ``digital_source_type_uri`` and ``declared_in`` (what said so). It has no prompt,
model or settings: those come only from a tool's own record.

* ``Iptc4xmpExt:DigitalSourceType`` ``http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia``
  or ``compositeWithTrainedAlgorithmicMedia`` (attribute, element or ``rdf:resource``) makes a record. Plain
  ``algorithmicMedia`` (made by an algorithm without training data: fractals, procedural art) is **not**
  generative AI and makes none; nor does any other code (``digitalCapture`` ...).
* EXIF Software/Make/Model or XMP CreatorTool naming a known generator (:data:`GENERATORS`) makes a record with
  ``declared_in`` = that field, but only in a file where no earlier parser read a record (this parser runs
  last): a NovelAI or Fooocus record already names its tool.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from cairn.signals.provenance.parsers import ParseContext
from cairn.signals.provenance.parsers._common import cut
from cairn.signals.provenance.record import Carrier, GenerationRecord

IPTC_CODES = "http://cv.iptc.org/newscodes/digitalsourcetype/"
#: DigitalSourceType codes that mean generative AI (trained models).
GENERATIVE = ("trainedAlgorithmicMedia", "compositeWithTrainedAlgorithmicMedia")
#: Software/Make/Model/CreatorTool names of generators: (pattern, tool name). Matched case-insensitively.
GENERATORS: tuple[tuple[str, str], ...] = (
    (r"novelai", "NovelAI"),
    (r"midjourney", "Midjourney"),
    (r"dall[\s\-·.]?e", "DALL-E"),
    (r"adobe firefly", "Adobe Firefly"),
    (r"stable diffusion|stable-diffusion|stablediffusion", "Stable Diffusion"),
    (r"comfyui", "ComfyUI"),
    (r"invokeai", "InvokeAI"),
    (r"fooocus", "Fooocus"),
    (r"automatic1111", "A1111"),
    (r"swarmui", "SwarmUI"),
    (r"leonardo\.ai", "Leonardo.Ai"),
    (r"ideogram", "Ideogram"),
    (r"imagen\b", "Imagen"),
    (r"draw things", "Draw Things"),
    (r"diffusionbee", "DiffusionBee"),
)
_GENERATOR_RES = tuple((re.compile(rf"\b(?:{p})", re.IGNORECASE), name) for p, name in GENERATORS)
_CODE = re.compile(r"cv\.iptc\.org/newscodes/digitalsourcetype/([A-Za-z]{1,64})")
_CREATOR_TOOL = re.compile(r"CreatorTool(?:=\"([^\"]{1,256})\"|>([^<]{1,256})<)")
SOFTWARE_KEYS = ("Software", "Make", "Model")


def generator_of(text: str | None) -> str | None:
    """The known generator ``text`` names, or None."""
    if not text:
        return None
    sample = text[:256]
    for pattern, name in _GENERATOR_RES:
        if pattern.search(sample):
            return name
    return None


class XmpParser:
    """IPTC DigitalSourceType and known generator names (runs last)."""

    name = "xmp"
    order = 200

    def parse(self, carriers: Sequence[Carrier], ctx: ParseContext) -> list[GenerationRecord]:
        records: list[GenerationRecord] = []
        software = [c for c in carriers if c.key in SOFTWARE_KEYS and generator_of(c.text)]
        for carrier in carriers:
            if carrier.key != "xmp" or not carrier.text:
                continue
            text = carrier.text
            codes = _CODE.findall(text)
            generative = next((code for code in codes if code in GENERATIVE), None)
            tool_m = _CREATOR_TOOL.search(text)
            creator = (tool_m.group(1) or tool_m.group(2)).strip() if tool_m else None
            if generative is None and generator_of(creator) is None:
                continue  # algorithmicMedia, digitalCapture ...: no declaration of generative AI
            tool = generator_of(creator) or next((generator_of(c.text) for c in software), None) or "unknown"
            raw, truncated = cut(text, ctx.limits)
            extra: dict[str, str] = {}
            if generative is not None:
                extra = {
                    "digital_source_type": generative,
                    "digital_source_type_uri": IPTC_CODES + generative,
                    "declared_in": "XMP Iptc4xmpExt:DigitalSourceType",
                }
            else:
                extra = {"declared_in": "XMP xmp:CreatorTool"}
            if creator:
                extra["creator_tool"] = creator
            ctx.claim(carrier)
            records.append(
                GenerationRecord(
                    tool=tool,
                    where=carrier.where,
                    parser=self.name,
                    raw=raw,
                    raw_truncated=truncated,
                    extra=dict(extra),
                )
            )
        if records or ctx.claimed:
            return records
        for carrier in software:
            tool = generator_of(carrier.text) or "unknown"
            raw, truncated = cut(carrier.text or "", ctx.limits)
            ctx.claim(carrier)
            records.append(
                GenerationRecord(
                    tool=tool,
                    where=carrier.where,
                    parser=self.name,
                    raw=raw,
                    raw_truncated=truncated,
                    extra={"declared_in": f"EXIF {carrier.key}"},
                )
            )
            break  # one record per file from software names
        return records


PARSER = XmpParser()
