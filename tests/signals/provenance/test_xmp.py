"""Declared AI: XMP IPTC DigitalSourceType (trainedAlgorithmicMedia, composite, and algorithmicMedia which is not
generative AI), CreatorTool and EXIF Software names of known generators, through the shared parser helper."""

from __future__ import annotations

from pathlib import Path

from tests.signals.provenance.parser_helper import ParserTestHelper, Sample

from cairn.demo import ai_samples as demo
from cairn.signals.provenance.parsers import parse_all
from cairn.signals.provenance.parsers.xmp import generator_of
from cairn.signals.provenance.record import Carrier, GenerationRecord

COMPOSITE = "http://cv.iptc.org/newscodes/digitalsourcetype/compositeWithTrainedAlgorithmicMedia"


def _pick(name: str):  # type: ignore[no-untyped-def]
    def write(folder: Path) -> list[Path]:
        return [p for p in demo.write_xmp_jpegs(folder / name) if p.name == name]

    return write


class TestXmp(ParserTestHelper):
    PARSER = "xmp"

    def samples(self) -> list[Sample]:
        trained = GenerationRecord(
            tool="unknown",
            where="JPEG APP1 XMP at byte 20",
            parser="xmp",
            raw=demo.xmp_packet(demo.TRAINED),
            extra={
                "digital_source_type": "trainedAlgorithmicMedia",
                "digital_source_type_uri": demo.TRAINED,
                "declared_in": "XMP Iptc4xmpExt:DigitalSourceType",
            },
        )
        return [
            Sample("trained", _pick("xmp_trained_bicycle.jpg"), [trained]),
            Sample("algorithmic", _pick("xmp_algorithmic_pattern.jpg"), []),
        ]


def test_composite_with_creator_tool_and_element_form() -> None:
    packet = (
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF><rdf:Description>'
        "<xmp:CreatorTool>Adobe Firefly 3</xmp:CreatorTool>"
        f'<Iptc4xmpExt:DigitalSourceType rdf:resource="{COMPOSITE}"/>'
        "</rdf:Description></rdf:RDF></x:xmpmeta>"
    )
    [record], warnings = parse_all([Carrier("xmp", packet, "PNG iTXt 'XML:com.adobe.xmp'", container="png")])
    assert warnings == []
    assert record.tool == "Adobe Firefly"
    assert record.extra == {
        "digital_source_type": "compositeWithTrainedAlgorithmicMedia",
        "digital_source_type_uri": COMPOSITE,
        "declared_in": "XMP Iptc4xmpExt:DigitalSourceType",
        "creator_tool": "Adobe Firefly 3",
    }


def test_software_names_only_when_no_other_record() -> None:
    software = Carrier("Software", "Midjourney v6", "EXIF IFD0 0x0131 Software", container="jpeg")
    [record], warnings = parse_all([software])
    assert warnings == []
    assert (record.tool, record.parser, record.extra) == ("Midjourney", "xmp", {"declared_in": "EXIF Software"})
    camera = Carrier("Software", "Adobe Photoshop 25.0", "EXIF IFD0 0x0131 Software", container="jpeg")
    assert parse_all([camera]) == ([], [])
    infotext = "a kite\nSteps: 5, Sampler: Euler, Seed: 7"
    records, _ = parse_all([software, Carrier("parameters", infotext, "PNG tEXt", container="png")])
    assert [r.parser for r in records] == ["a1111"]


def test_generator_names() -> None:
    assert generator_of("NovelAI") == "NovelAI"
    assert generator_of("DALL·E 3") == "DALL-E"
    assert generator_of("ComfyUI") == "ComfyUI"
    assert generator_of("Canon EOS 5D") is None
    assert generator_of(None) is None
