"""The detail page's EXIF summary: readable tags, bounded sizes, damaged blocks reported, never raised."""

from __future__ import annotations

from PIL import Image

from cairn.review.exif import MAX_BYTES, MAX_TAGS, MAX_VALUE, exif_summary


def _block(tags: dict[int, object]) -> bytes:
    exif = Image.Exif()
    for tag, value in tags.items():
        exif[tag] = value
    return exif.tobytes()


def test_a_camera_block_is_summarised_by_tag_name() -> None:
    found = exif_summary(_block({0x010F: "Cairn Optics", 0x0110: "DemoCam 7", 0x0112: 6}))
    assert found is not None and found.error is None
    assert found.tags == [("Make", "Cairn Optics"), ("Model", "DemoCam 7"), ("Orientation", "6")]


def test_nothing_stored_is_none_and_damage_is_reported() -> None:
    assert exif_summary(None) is None and exif_summary(b"") is None
    damaged = exif_summary(b"not an exif block at all")
    assert damaged is not None and damaged.tags == [] and damaged.error and "unreadable" in damaged.error
    huge = exif_summary(b"MM\x00*" + b"\x00" * MAX_BYTES)
    assert huge is not None and huge.error and "not summarised" in huge.error


def test_values_and_tag_counts_are_bounded() -> None:
    long = exif_summary(_block({0x010E: "beach " * 200, 0x9286: b"\x01\x02" * 50}))
    assert long is not None
    text = dict(long.tags)
    assert len(text["ImageDescription"]) == MAX_VALUE + 3 and text["ImageDescription"].endswith("...")
    many = exif_summary(_block({0xC000 + i: f"bicycle {i}" for i in range(MAX_TAGS + 20)}))
    assert many is not None and len(many.tags) == MAX_TAGS and many.truncated
