"""End to end: the demo's AI samples scanned by ``cairn scan``, their records in ``cairn files --format json`` and
the case summary of ``cairn provenance``, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import pytest
from tests.signals.provenance.test_a1111 import A1111_JPEG_EXIF, JPEG_EXIF, PNG_PARAMETERS, a1111_record
from tests.signals.provenance.test_swarmui import swarm_record
from typer.testing import CliRunner

from cairn.cli.main import app
from cairn.demo import ai_samples as demo
from cairn.signals.provenance.record import GenerationRecord

runner = CliRunner()


def run(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture
def scanned(tmp_path: Path, db_url: str | None) -> tuple[list[str], dict[str, dict[str, Any]]]:
    evidence = tmp_path / "evidence"
    demo.write_samples(evidence / "AI")
    case_args = ["--case", str(tmp_path / "case"), *(["--db", db_url] if db_url else [])]
    run("scan", str(evidence), *case_args, "--workers", "1", "--no-progress")
    rows = json.loads(run("files", *case_args, "--format", "json"))
    return case_args, {Path(r["path"]).name: r for r in rows}


def records(row: dict[str, Any]) -> list[dict[str, Any]]:
    return list(row["provenance"]["generation_records"])


def expected(record: GenerationRecord) -> dict[str, Any]:
    return json.loads(json.dumps(record.as_dict()))


def test_files_json_carries_each_files_records(scanned: tuple[list[str], dict[str, dict[str, Any]]]) -> None:
    case_args, files = scanned
    assert records(files["a1111_bicycle.png"]) == [expected(a1111_record(PNG_PARAMETERS))]
    forge = a1111_record(PNG_PARAMETERS, demo.FORGE_VERSION, "Forge")
    assert records(files["forge_bicycle.png"]) == [expected(forge)]
    assert records(files["a1111_bicycle_unicode-be.jpg"]) == [expected(a1111_record(A1111_JPEG_EXIF))]
    for form, how in (("ascii", "ASCII prefix"), ("plain", "no prefix")):
        assert records(files[f"a1111_bicycle_{form}.jpg"]) == [expected(a1111_record(f"{JPEG_EXIF} ({how})"))]
    swarm_where = f"{JPEG_EXIF} (UNICODE prefix, UTF-16LE)"
    assert records(files["swarmui_bicycle.jpg"]) == [expected(swarm_record(swarm_where))]
    tools = {name: [r["tool"] for r in records(row)] for name, row in files.items()}
    assert tools["fooocus_bicycle.png"] == tools["fooocus_bicycle.jpg"] == tools["fooocus_bicycle.webp"] == ["Fooocus"]
    assert tools["novelai_bicycle.png"] == ["NovelAI"]
    assert tools["xmp_trained_bicycle.jpg"] == ["unknown"]
    assert records(files["xmp_trained_bicycle.jpg"])[0]["extra"]["digital_source_type"] == "trainedAlgorithmicMedia"
    assert tools["xmp_algorithmic_pattern.jpg"] == []
    assert tools["comfyui_bicycle.webp"] == ["ComfyUI"] and tools["invokeai_bicycle.png"] == ["InvokeAI"]
    for name in demo_names():
        row = files[name]
        assert set(row["provenance"]) == {
            "generation_records",
            "watermarks",
            "c2pa",
            "warnings",
            "model_files",
            "detector_scores",
            "model_links",
        }, name
        assert row["provenance"]["warnings"] == [], name
        assert row["notes"] is None or "provenance_unreadable" not in row["notes"], name
    csv_head = run("files", *case_args, "--format", "csv").splitlines()[0]
    assert "provenance" not in csv_head


def demo_names() -> list[str]:
    """The sample files this module's writers make (others' writers add more to the folder)."""
    return [
        "a1111_bicycle.png",
        "a1111_bicycle_unicode-be.jpg",
        "a1111_bicycle_unicode-le.jpg",
        "a1111_bicycle_ascii.jpg",
        "a1111_bicycle_plain.jpg",
        "a1111_bicycle.gif",
        "forge_bicycle.png",
        "fooocus_bicycle.png",
        "fooocus_bicycle.jpg",
        "fooocus_bicycle.webp",
        "swarmui_bicycle.png",
        "swarmui_bicycle.jpg",
        "novelai_bicycle.png",
        "xmp_trained_bicycle.jpg",
        "xmp_algorithmic_pattern.jpg",
    ]


def test_provenance_summary_agrees_with_the_files(scanned: tuple[list[str], dict[str, dict[str, Any]]]) -> None:
    case_args, files = scanned
    summary = json.loads(run("provenance", *case_args, "--format", "json", "--top", "50"))
    by_tool: dict[str, set[str]] = defaultdict(set)
    record_count: Counter[str] = Counter()
    loras: dict[tuple[str, str], set[str]] = defaultdict(set)
    text_files, pixel_files = set(), set()
    for name, row in files.items():
        for record in records(row):
            by_tool[record["tool"]].add(name)
            record_count[record["tool"]] += 1
            (pixel_files if record["where"].startswith("pixels") else text_files).add(row["path"])
            for ref in record["loras"]:
                if ref["hash"]:
                    loras[(ref["hash_kind"], ref["hash"])].add(name)
    assert summary["images_with_records"] == sum(1 for row in files.values() if records(row))
    assert summary["records"] == sum(record_count.values())
    assert {t["tool"]: (t["images"], t["records"]) for t in summary["by_tool"]} == {
        tool: (len(names), record_count[tool]) for tool, names in by_tool.items()
    }
    assert {(r["hash_kind"], r["hash"]): r["images"] for r in summary["loras"]["by_hash"]} == {
        key: len(names) for key, names in loras.items()
    }
    a1111_images = {n for n in demo_names() if n.startswith("a1111_")}
    assert by_tool["A1111"] == a1111_images  # the six A1111 samples and nothing else
    top_lora = next(r for r in summary["loras"]["by_hash"] if r["hash"] == demo.LORA_AUTOV3)
    assert top_lora["hash_kind"] == "autov3" and top_lora["names"] == [demo.LORA]
    checkpoint = next(r for r in summary["models"]["by_hash"] if r["hash"] == demo.CHECKPOINT_AUTOV2)
    assert checkpoint["hash_kind"] == "autov2" and checkpoint["images"] >= len(a1111_images) + 1  # + Forge
    assert summary["declared_ai_images"] == 1 + sum(
        1 for n, row in files.items() if n not in demo_names() and any(r["parser"] == "xmp" for r in records(row))
    )
    assert summary["pixels_only"] == sorted(pixel_files - text_files)
    if "forge_stealth_stripped.png" in files:  # the stealth writers' stripped copy: attributed by its pixels only
        assert files["forge_stealth_stripped.png"]["path"] in summary["pixels_only"]
    assert summary["warnings"]["findings"] == sum(len(row["provenance"]["warnings"]) for row in files.values())
    assert summary["watermarks"]["findings"] == sum(len(row["provenance"]["watermarks"]) for row in files.values())
    assert summary["c2pa"]["findings"] == sum(len(row["provenance"]["c2pa"]) for row in files.values())
    table = run("provenance", *case_args)
    assert "Generation records by tool" in table and "records only in the pixels" in table
    assert f"{summary['images_with_records']:,} images carry" in table
