"""``cairn provenance``'s summary from findings rows: tools, models and LoRAs by hash and by name (images counted
once however many records name them), watermark verdicts, C2PA states and failure codes, pixels-only records,
and rows of other kinds ignored."""

from __future__ import annotations

from cairn.store.provenance import case_summary, section_of


def record(tool: str, where: str, model: dict | None = None, loras: list | None = None, parser: str = "a1111") -> dict:
    return {"tool": tool, "where": where, "parser": parser, "model": model, "loras": loras or [], "other_models": []}


CKPT = {"role": "checkpoint", "name": "v1-5", "hash": "0123456789", "hash_kind": "autov2"}
LORA = {"role": "lora", "name": "kite", "hash": "0123456789ab", "hash_kind": "autov3"}
NAMED = {"role": "lora", "name": "sky", "hash": None, "hash_kind": None}


def test_summary_counts() -> None:
    rows = [
        ("a.png", "ai_generation", "generation_record", record("A1111", "PNG tEXt", CKPT, [LORA, NAMED])),
        ("a.png", "ai_stealth", "generation_record", record("A1111", "pixels: alpha LSB", CKPT, [LORA])),
        ("b.png", "ai_stealth", "generation_record", record("Forge", "pixels: alpha LSB", CKPT, [LORA])),
        ("c.jpg", "ai_generation", "generation_record", record("unknown", "JPEG APP1 XMP", parser="xmp")),
        ("c.jpg", "ai_generation", "provenance_warning", {"parser": "carriers", "message": "x"}),
        ("d.png", "ai_watermark", "watermark", {"scheme": "sdxl", "verdict": "likely"}),
        ("e.png", "ai_watermark", "watermark", {"scheme": "sdxl", "verdict": "likely"}),
        (
            "f.jpg",
            "c2pa",
            "c2pa",
            {"validation_state": "Invalid", "failure_codes": ["assertion.dataHash.mismatch"], "ai_generated": True},
        ),
        ("g.jpg", "c2pa", "c2pa", {"checked": False}),
        ("h.jpg", "exif", "camera", {"make": "Canon"}),
    ]
    s = case_summary(rows)
    assert (s["images_with_records"], s["records"], s["declared_ai_images"]) == (3, 4, 1)
    assert s["by_tool"] == [
        {"tool": "A1111", "images": 1, "records": 2},
        {"tool": "Forge", "images": 1, "records": 1},
        {"tool": "unknown", "images": 1, "records": 1},
    ]
    assert s["models"]["by_hash"] == [{"hash_kind": "autov2", "hash": "0123456789", "images": 2, "names": ["v1-5"]}]
    assert s["loras"]["by_hash"] == [{"hash_kind": "autov3", "hash": "0123456789ab", "images": 2, "names": ["kite"]}]
    assert s["loras"]["by_name"] == [{"name": "kite", "images": 2}, {"name": "sky", "images": 1}]
    assert s["watermarks"] == {
        "findings": 2,
        "images": 2,
        "by_scheme": [{"scheme": "sdxl", "verdict": "likely", "findings": 2}],
    }
    assert s["c2pa"] == {
        "findings": 2,
        "images": 2,
        "by_state": {"Invalid": 1, "not checked": 1},
        "ai_generated_images": 1,
        "failure_codes": {"assertion.dataHash.mismatch": 1},
    }
    assert s["warnings"] == {"findings": 1, "images": 1}
    assert s["pixels_only"] == ["b.png"]  # a.png also has its text record


def test_top_limit_and_empty_case() -> None:
    rows = [
        (
            f"p{i}.png",
            "ai_generation",
            "generation_record",
            record("A1111", "PNG", {"role": "checkpoint", "name": f"m{i}", "hash": f"{i:010x}", "hash_kind": "autov2"}),
        )
        for i in range(30)
    ]
    assert len(case_summary(rows, top=5)["models"]["by_hash"]) == 5
    empty = case_summary([])
    assert empty["images_with_records"] == 0 and empty["by_tool"] == [] and empty["pixels_only"] == []


def test_sections() -> None:
    assert section_of("generation_record") == "generation_records"
    assert section_of("watermark") == section_of("watermark_sdxl") == "watermarks"
    assert section_of("c2pa") == section_of("c2pa_ingredient") == "c2pa"
    assert section_of("provenance_warning") == "warnings"
    assert section_of("camera") is None
