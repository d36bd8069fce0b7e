"""A1111 and Forge infotext: the demo's PNG, JPEGs (each UserComment form), GIF and Forge PNG with exact records;
the layout rules (multi-line prompts, the three-pair rule, JSON-quoted values, bare JSON values, AutoV1 hashes,
``<lora:...>`` weights); and hostile texts, through the shared parser helper."""

from __future__ import annotations

from pathlib import Path

from tests.signals.provenance.parser_helper import ParserTestHelper, Sample

from cairn.demo import ai_samples as demo
from cairn.signals.provenance.carriers import extract_carriers
from cairn.signals.provenance.parsers import parse_all
from cairn.signals.provenance.parsers.a1111 import split_infotext, split_params
from cairn.signals.provenance.record import Carrier, GenerationRecord, ModelRef

#: A Pillow JPEG starts with SOI (2 bytes) and a JFIF APP0 segment (18 bytes): the APP1 Exif is at byte 20.
JPEG_EXIF = "JPEG APP1 Exif at byte 20: ExifIFD 0x9286 UserComment"
#: A1111's own JPEG: piexif put its APP1 in place of the JFIF segment, right after SOI.
A1111_JPEG_EXIF = "JPEG APP1 Exif at byte 2: ExifIFD 0x9286 UserComment (UNICODE prefix, UTF-16BE)"
#: A PNG's first chunk after the signature (8 bytes) is IHDR (25 bytes): the first text chunk is at byte 33.
PNG_PARAMETERS = "PNG tEXt 'parameters' at byte 33"


def a1111_record(where: str, version: str = demo.A1111_VERSION, tool: str = "A1111") -> GenerationRecord:
    """The record the demo's A1111 infotext must give."""
    return GenerationRecord(
        tool=tool,
        where=where,
        parser="a1111",
        raw=demo.a1111_infotext(version),
        tool_version=version,
        prompt=f"{demo.PROMPT}, <lora:{demo.LORA}:{demo.LORA_WEIGHT}>, {demo.EMBEDDING}",
        negative_prompt=demo.NEGATIVE,
        seed=demo.SEED,
        steps=demo.STEPS,
        sampler="DPM++ 2M",
        scheduler="Karras",
        cfg=7.0,
        width=demo.WIDTH,
        height=demo.HEIGHT,
        model=ModelRef("checkpoint", demo.CHECKPOINT, demo.CHECKPOINT_AUTOV2, "autov2"),
        vae=ModelRef("vae", demo.VAE, demo.VAE_AUTOV2, "autov2"),
        loras=[ModelRef("lora", demo.LORA, demo.LORA_AUTOV3, "autov3", weight=demo.LORA_WEIGHT)],
        other_models=[ModelRef("embedding", demo.EMBEDDING, demo.EMBEDDING_SHA12, "sha256_12")],
        extra={
            "Clip skip": "2",
            "Lora hashes": f"{demo.LORA}: {demo.LORA_AUTOV3}",
            "TI hashes": f"{demo.EMBEDDING}: {demo.EMBEDDING_SHA12}",
        },
    )


def _one(write_all, name: str):  # type: ignore[no-untyped-def]
    """A writer of the one file ``name`` among those ``write_all`` writes."""

    def write(folder: Path) -> list[Path]:
        return [p for p in write_all(folder / name) if p.name == name]

    return write


class TestA1111(ParserTestHelper):
    PARSER = "a1111"

    def samples(self) -> list[Sample]:
        forms = {
            "unicode-be": "UNICODE prefix, UTF-16BE",
            "unicode-le": "UNICODE prefix, UTF-16LE",
            "ascii": "ASCII prefix",
            "plain": "no prefix",
        }
        out = [
            Sample("png", demo.write_a1111_png, [a1111_record(PNG_PARAMETERS)]),
            Sample("forge", demo.write_forge_png, [a1111_record(PNG_PARAMETERS, demo.FORGE_VERSION, "Forge")]),
        ]
        for form, how in forms.items():
            name = f"a1111_bicycle_{form}.jpg"
            where = A1111_JPEG_EXIF if form == "unicode-be" else f"{JPEG_EXIF} ({how})"
            out.append(Sample(form, _one(demo.write_a1111_jpegs, name), [a1111_record(where)]))
        return out


def test_gif_comment(tmp_path: Path) -> None:
    [path] = demo.write_a1111_gif(tmp_path)
    data = path.read_bytes()
    carriers, walk = extract_carriers(data)
    records, warnings = parse_all(carriers)
    assert walk == [] and warnings == []
    at = data.index(b"\x21\xfe")  # the comment extension's introducer and label
    assert records == [a1111_record(f"GIF comment extension at byte {at}")]


def test_layout_rules() -> None:
    text = 'line one,\nline two\nNegative prompt: bad,\nworse\nSteps: 5, Sampler: Euler a, Seed: 7, Note: "a, b: c\\nd"'
    info = split_infotext(text)
    assert info.prompt == "line one,\nline two"
    assert info.negative_prompt == "bad,\nworse"
    assert info.params == {"Steps": "5", "Sampler": "Euler a", "Seed": "7", "Note": "a, b: c\nd"}
    # fewer than three pairs: the last line is prompt, there are no settings
    short = split_infotext("a kite\nSteps: 5, Seed: 7")
    assert short.prompt == "a kite\nSteps: 5, Seed: 7" and short.params == {} and not short.has_params
    # no negative prompt line: None, not ""
    assert split_infotext("a kite\nSteps: 5, Sampler: Euler, Seed: 7").negative_prompt is None
    # bare JSON values (A1111 writes dicts and lists unquoted) keep their commas
    pairs = split_params('A: 1, Hashes: {"model": "0123456789", "lora:x, y": "0123456789ab"}, B: [1, {"c": "]"}], C: 3')
    assert pairs == [
        ("A", "1"),
        ("Hashes", '{"model": "0123456789", "lora:x, y": "0123456789ab"}'),
        ("B", '[1, {"c": "]"}]'),
        ("C", "3"),
    ]


def test_old_autov1_hash_hashes_json_and_civitai_resources() -> None:
    text = (
        "a blue teapot on a table <lora:teapotStyle:0.6> <lyco:glaze:1.2:0.5>\n"
        "Steps: 28, Sampler: Euler a, CFG scale: 6.5, Seed: 42, Size: 768x512, Model hash: 45dee52b, "
        'Hashes: {"vae": "AbCdEf0123", "lora:teapotStyle": "0123456789ab", "embed:shiny": "fedcba987654"}, '
        'Civitai resources: [{"type": "lora", "weight": 0.6, "modelVersionId": 1234}], Version: v1.6.0'
    )
    [record], warnings = parse_all([Carrier("parameters", text, "here", container="png")])
    assert warnings == []
    assert record.model == ModelRef("checkpoint", None, "45dee52b", "autov1")
    assert record.vae == ModelRef("vae", None, "abcdef0123", "autov2")
    assert record.loras == [
        ModelRef("lora", "teapotStyle", "0123456789ab", "autov3", weight=0.6),
        ModelRef("lora", "glaze", weight=1.2, link="name-only"),
    ]
    assert record.extra["Civitai resources"] == [{"type": "lora", "weight": 0.6, "modelVersionId": 1234}]
    assert record.extra["Hashes"]["embed:shiny"] == "fedcba987654"
    assert (record.width, record.height, record.cfg, record.tool) == (768, 512, 6.5, "A1111")


def test_hashes_of_no_known_kind_are_warned_and_dropped() -> None:
    text = 'a kite\nSteps: 5, Sampler: Euler, Seed: 7, Model hash: 12345, Lora hashes: "kite: zz99, sky: 0123456789"'
    [record], warnings = parse_all([Carrier("parameters", text, "here", container="png")])
    assert record.model is None and record.extra["Model hash"] == "12345"
    assert [r.hash_kind for r in record.loras] == [None, "autov2"]
    assert [w.message for w in warnings] == [
        "Model hash '12345' is neither AutoV2 (10 hex) nor AutoV1 (8 hex)",
        "LoRA 'kite' hash 'zz99' is not a known hash kind; kept the name only",
    ]


def test_ordinary_comments_are_not_records() -> None:
    carriers = [
        Carrier("comment", "Holiday 2021: beach, sea, sun", "JPEG COM", container="jpeg"),
        Carrier("UserComment", "Scanned: yes, Copy: 2, Page: 3", "EXIF", container="jpeg"),
        Carrier("ImageDescription", "a red bicycle", "EXIF", container="jpeg"),
    ]
    assert parse_all(carriers) == ([], [])


def test_parameters_without_settings_is_warned() -> None:
    records, warnings = parse_all([Carrier("parameters", "just a prompt", "PNG tEXt", container="png")])
    assert records == [] and [w.message for w in warnings] == [
        "parameters text has no settings line of three or more pairs"
    ]


def test_lora_references_are_bounded() -> None:
    pairs = ", ".join(f"l{i}: {i:012x}" for i in range(5_000))
    text = f'a kite\nSteps: 5, Sampler: Euler, Seed: 7, Lora hashes: "{pairs}", TI hashes: "{pairs}"'
    [record], warnings = parse_all([Carrier("parameters", text, "here", container="png")])
    assert len(record.loras) == 256 and record.loras[0] == ModelRef("lora", "l0", "000000000000", "autov3")
    assert len(record.other_models) == 256
    assert [w.message for w in warnings] == ["5,000 LoRA references; the first 256 were read"]


def test_tool_from_the_settings() -> None:
    base = "a kite\nSteps: 5, Sampler: Euler, Seed: 7"
    cases = {
        f"{base}, Version: v1.10.1": ("A1111", "v1.10.1"),
        f"{base}, Version: f1.7.0-v1.10.1RC-latest-2111-g5b5d4a2c": ("Forge", "f1.7.0-v1.10.1RC-latest-2111-g5b5d4a2c"),
        f"{base}, Version: Fooocus v2.5.5": ("Fooocus", "v2.5.5"),
        f"{base}, App: SD.Next, Version: 1a2b3c4": ("SD.Next", "1a2b3c4"),
        base: ("A1111", None),
    }
    for text, (tool, version) in cases.items():
        [record], _ = parse_all([Carrier("parameters", text, "here", container="png")])
        assert (record.tool, record.tool_version) == (tool, version), text
