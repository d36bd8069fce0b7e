"""exiftool, a third-party reader and writer, against the carriers and parsers.

Reading: for every text carrier cairn finds in the demo's AI samples, exiftool's own decode of the same tag
(UserComment in each character code and byte order, IFD0 strings, PNG text, GIF comment, XMP
DigitalSourceType) must give the same text. Writing: exiftool writes a UserComment (its own ``UNICODE`` form),
XMP DigitalSourceType and Software into a plain JPEG, and cairn must read the records from what it wrote.
Skipped where exiftool is not installed (Debian package ``libimage-exiftool-perl``), failing under ``CI=true``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from cairn.demo import ai_samples as demo
from cairn.signals.provenance.carriers import extract_carriers
from cairn.signals.provenance.parsers import parse_all

EXIFTOOL = shutil.which("exiftool")


def need_exiftool() -> str:
    if EXIFTOOL is None:
        if os.environ.get("CI") == "true":
            pytest.fail("exiftool is missing (apt-get install libimage-exiftool-perl)")
        pytest.skip("exiftool is not installed (apt-get install libimage-exiftool-perl)")
    return EXIFTOOL


def exiftool_tags(path: Path) -> dict[str, Any]:
    out = subprocess.run(
        [need_exiftool(), "-json", "-G1", "-charset", "exif=utf8", "-n", str(path)],
        capture_output=True,
        check=True,
        text=True,
        encoding="utf-8",
    ).stdout
    tags: dict[str, Any] = json.loads(out)[0]
    return tags


def exiftool_name(where: str, key: str) -> str | None:
    """exiftool's group:tag for the carrier found at ``where`` (None: a carrier exiftool names otherwise)."""
    if "PNG tEXt" in where or "PNG iTXt" in where:
        return "PNG:" + "".join(part[:1].upper() + part[1:] for part in key.split())
    if "GIF comment" in where:
        return "File:Comment"
    group = "ExifIFD" if "ExifIFD" in where else "IFD0" if "IFD0" in where else None
    if group is None:
        return None
    return f"{group}:{'MakerNoteUnknownText' if key == 'MakerNote' else key}"


def test_exiftool_decodes_every_carrier_to_the_same_text(tmp_path: Path) -> None:
    need_exiftool()
    paths = [
        p
        for writer in (
            demo.write_a1111_png,
            demo.write_a1111_jpegs,
            demo.write_a1111_gif,
            demo.write_fooocus,
            demo.write_swarmui,
            demo.write_novelai_png,
        )
        for p in writer(tmp_path)
    ]
    compared = 0
    for path in paths:
        carriers, warnings = extract_carriers(path.read_bytes())
        assert warnings == [], path.name
        tags = exiftool_tags(path)
        for carrier in carriers:
            name = exiftool_name(carrier.where, carrier.key)
            if name is None or carrier.key == "Generation time":
                continue
            assert name in tags, (path.name, name, sorted(tags))
            assert str(tags[name]) == carrier.text, (path.name, name)
            compared += 1
    assert compared >= 20  # every text carrier of the 15 sample files


def test_exiftool_reads_the_declared_source_type(tmp_path: Path) -> None:
    need_exiftool()
    [trained, algorithmic] = demo.write_xmp_jpegs(tmp_path)
    [record], _ = parse_all(extract_carriers(trained.read_bytes())[0])
    assert exiftool_tags(trained)["XMP-iptcExt:DigitalSourceType"] == record.extra["digital_source_type_uri"]
    assert exiftool_tags(algorithmic)["XMP-iptcExt:DigitalSourceType"] == demo.ALGORITHMIC
    assert parse_all(extract_carriers(algorithmic.read_bytes())[0]) == ([], [])


def test_records_from_what_exiftool_writes(tmp_path: Path) -> None:
    tool = need_exiftool()
    [plain] = [p for p in demo.write_xmp_jpegs(tmp_path) if "algorithmic" in p.name]
    target = tmp_path / "exiftool_written.jpg"
    shutil.copy(plain, target)
    text = (
        "a blue teapot \u2192 on a table\nNegative prompt: blurry\n"
        "Steps: 20, Sampler: Euler a, CFG scale: 7, Seed: 5, Size: 320x256, Model hash: 0123456789, Model: teapot"
    )
    subprocess.run(
        [
            tool,
            "-q",
            "-overwrite_original",
            "-charset",
            "exif=utf8",
            f"-UserComment={text}",
            f"-XMP-iptcExt:DigitalSourceType={demo.TRAINED}",
            "-Software=Adobe Firefly",
            str(target),
        ],
        check=True,
    )
    records, warnings = parse_all(extract_carriers(target.read_bytes())[0])
    assert warnings == []
    [a1111, declared] = records
    assert (a1111.tool, a1111.prompt, a1111.negative_prompt, a1111.seed) == ("A1111", text.split("\n")[0], "blurry", 5)
    assert a1111.model is not None and (a1111.model.hash, a1111.model.hash_kind) == ("0123456789", "autov2")
    assert "ExifIFD 0x9286 UserComment (UNICODE prefix" in a1111.where
    assert declared.parser == "xmp" and declared.tool == "Adobe Firefly"
    assert declared.extra["digital_source_type"] == "trainedAlgorithmicMedia"
