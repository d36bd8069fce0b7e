"""Issue 10 item 4: pictures just under the pixel limit stay inside a decode memory budget per worker.

Tiny files declaring huge sizes (a 38-byte WebP of 14142x14142, a 35-byte GIF of 65535x3051, a 68-byte
PNG) are refused with ``image_bomb`` before a pixel is decoded when they do not fit the budget, and the
process's peak memory shows it; a JPEG over the budget is decoded at reduced scale with an
``image_reduced_decode`` note; the budget's default follows the stated rule and is recorded with the run.
"""

from __future__ import annotations

import io
import json
import struct
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from cairn import errors
from cairn.model import EvidenceItem, ItemMeta, Locator
from cairn.pipeline.scan import ResumeMismatch, scan
from cairn.pipeline.task import process_item
from cairn.settings import MIB, Limits, ScanSettings, default_decode_memory_budget
from cairn.signals.imaging import decode_cost
from cairn.signals.pdq import pdq_distance
from cairn.store.case_store import CaseStore
from tests.signals.hostile_pictures import gif_declaring, png_declaring, webp_declaring

BUDGET = 64 * MIB


def _item(name: str, data: bytes) -> EvidenceItem:
    return EvidenceItem(Locator((name,)), ItemMeta(size=len(data)), data=data)


_MEASURE = """
import json, sys
from cairn.model import EvidenceItem, ItemMeta, Locator
from cairn.pipeline.task import process_item
from cairn.settings import Limits, ScanSettings

def status(field):
    with open("/proc/self/status") as fh:
        return next(int(line.split()[1]) * 1024 for line in fh if line.startswith(field + ":"))

data = open(sys.argv[1], "rb").read()
settings = ScanSettings(limits=Limits(decode_memory_budget=int(sys.argv[2])))
process_item(EvidenceItem(Locator(("warm.png",)), ItemMeta(size=len(WARM)), data=WARM), settings)
with open("/proc/self/clear_refs", "w") as fh:
    fh.write("5")
start = status("VmRSS")
result = process_item(EvidenceItem(Locator((sys.argv[1],)), ItemMeta(size=len(data)), data=data), settings)
print(json.dumps({"codes": [e.code for e in result.errors], "grown": status("VmHWM") - start,
                  "pdq": "pdq" in result.hashes}))
"""


def _measured(tmp_path: Path, name: str, data: bytes, budget: int) -> dict[str, Any]:
    """Process one picture in a fresh Python and return its error codes and how much its peak memory grew."""
    if not Path("/proc/self/clear_refs").exists():
        pytest.skip("peak memory cannot be reset here")
    path = tmp_path / name
    path.write_bytes(data)
    warm = io.BytesIO()
    Image.new("RGB", (32, 32)).save(warm, "PNG")
    script = f"WARM = {warm.getvalue()!r}\n" + _MEASURE
    out = subprocess.run(
        [sys.executable, "-c", script, str(path), str(budget)], capture_output=True, text=True, check=True
    )
    measured: dict[str, Any] = json.loads(out.stdout)
    return measured


@pytest.mark.parametrize(
    ("name", "data", "size"),
    [
        ("bomb.webp", webp_declaring(14142, 14142), (14142, 14142)),
        ("bomb.gif", gif_declaring(65535, 3051), (65535, 3051)),
        ("bomb.png", png_declaring(14142, 14142), (14142, 14142)),
    ],
)
def test_tiny_files_declaring_huge_pictures_are_refused_within_the_budget(
    tmp_path: Path, name: str, data: bytes, size: tuple[int, int]
) -> None:
    assert len(data) < 100
    settings = ScanSettings(limits=Limits(decode_memory_budget=BUDGET))
    result = process_item(_item(name, data), settings)
    assert [e.code for e in result.errors] == [errors.IMAGE_BOMB]
    assert "decode memory budget" in result.errors[0].message
    assert result.image is not None and (result.image.width, result.image.height) == size
    assert "sha256" in result.hashes and "pdq" not in result.hashes and result.thumbnail is None
    assert _measured(tmp_path, name, data, BUDGET)["grown"] < BUDGET // 4


def test_the_webp_bomb_really_is_one() -> None:
    """The 38-byte WebP decodes (a flat green picture), so refusing it is what keeps memory bounded."""
    small = webp_declaring(300, 200)
    result = process_item(_item("ok.webp", small), ScanSettings(limits=Limits(decode_memory_budget=BUDGET)))
    assert result.errors == [] and result.image is not None and result.image.width == 300
    assert decode_cost("RGB", "WEBP", 14142, 14142) > 3 * 1024**3  # what a full decode would have held


def _gradient_jpeg(side: int) -> bytes:
    y, x = np.mgrid[0:side, 0:side]
    pixels = np.stack([x * 255 // side, y * 255 // side, (x + y) * 127 // side], axis=-1).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, "JPEG", quality=85)
    return buf.getvalue()


def test_a_jpeg_over_the_budget_is_decoded_at_reduced_scale_with_a_note() -> None:
    data = _gradient_jpeg(2048)
    full = process_item(_item("big.jpg", data), ScanSettings())
    budget = decode_cost("RGB", "JPEG", 1024, 1024, len(data)) + MIB  # half scale fits, full does not
    assert decode_cost("RGB", "JPEG", 2048, 2048, len(data)) > budget
    reduced = process_item(_item("big.jpg", data), ScanSettings(limits=Limits(decode_memory_budget=budget)))
    assert [e.code for e in reduced.errors] == [errors.IMAGE_REDUCED_DECODE]
    assert errors.is_note(reduced.errors[0].code) and "1/2 scale" in reduced.errors[0].message
    assert reduced.image is not None and (reduced.image.width, reduced.image.height) == (2048, 2048)
    assert reduced.thumbnail is not None
    assert pdq_distance(full.hashes["pdq"], reduced.hashes["pdq"]) <= 16


def test_a_picture_that_fits_is_decoded_in_full_without_a_note() -> None:
    data = _gradient_jpeg(512)
    result = process_item(_item("a.jpg", data), ScanSettings(limits=Limits(decode_memory_budget=BUDGET)))
    assert result.errors == [] and "pdq" in result.hashes


@pytest.mark.parametrize(
    ("mode", "fmt"),
    [("P", "PNG"), ("RGBA", "PNG"), ("I;16", "PNG"), ("CMYK", "JPEG"), ("RGB", "WEBP"), ("P", "GIF"), ("F", "TIFF")],
)
def test_the_cost_estimate_bounds_the_real_peak(tmp_path: Path, mode: str, fmt: str) -> None:
    """One full-size normalised copy at most: the measured peak stays under the estimate the budget uses."""
    width, height = 1600, 1200
    y, x = np.mgrid[0:height, 0:width]
    grey = ((x * 7 + y * 3) % 256).astype(np.uint8)
    picture = Image.fromarray(np.stack([grey, grey[::-1], grey[:, ::-1]], axis=-1))
    if mode == "I;16":
        picture = Image.fromarray(grey.astype(np.uint16) * 257)
    elif mode != "RGB":
        picture = picture.convert(mode)
    buf = io.BytesIO()
    picture.save(buf, fmt)
    data = buf.getvalue()
    del picture, buf, grey, x, y
    result = process_item(_item(f"x.{fmt.lower()}", data), ScanSettings(limits=Limits(decode_memory_budget=BUDGET)))
    assert result.errors == [] and "pdq" in result.hashes
    assert result.image is not None and result.image.mode == mode
    measured = _measured(tmp_path, f"x.{fmt.lower()}", data, BUDGET)
    assert measured["codes"] == [] and measured["pdq"]
    grown = measured["grown"]
    estimate = decode_cost(mode, fmt, width, height, len(data))
    assert grown <= estimate, f"peak grew {grown:,} B, over the estimate of {estimate:,} B"


def test_the_default_budget_follows_the_stated_rule() -> None:
    gib = 1024**3
    assert default_decode_memory_budget(8, memory=64 * gib) == 4 * gib
    assert default_decode_memory_budget(1, memory=16 * gib) == 8 * gib
    assert default_decode_memory_budget(64, memory=4 * gib) == 256 * MIB  # never below the floor
    assert default_decode_memory_budget(3, memory=10 * gib) % MIB == 0


def test_the_resolved_budget_is_recorded_and_a_resume_keeps_it(tmp_path: Path) -> None:
    evidence = tmp_path / "evidence"
    evidence.mkdir()
    (evidence / "a.jpg").write_bytes(_gradient_jpeg(256))
    with CaseStore.open(tmp_path / "case") as store:
        scan(
            evidence, store, ScanSettings(workers=1, limits=Limits(decode_memory_budget=300 * MIB)), show_progress=False
        )
        again = scan(evidence, store, ScanSettings(workers=1), show_progress=False)  # no budget given: keeps it
        assert again.skipped_already_done == 1
        budgets = [run["settings"]["limits"]["decode_memory_budget"] for run in store.runs()]
        assert budgets == [300 * MIB, 300 * MIB]
        with pytest.raises(ResumeMismatch):
            scan(
                evidence,
                store,
                ScanSettings(workers=1, limits=Limits(decode_memory_budget=400 * MIB)),
                show_progress=False,
            )


def gif_frame_beyond_screen(width: int, height: int) -> bytes:
    """A GIF with a 16x16 screen and one frame of ``width x height``: Pillow sizes the picture (and its
    disposal canvas) from the frame while *opening* it, before cairn sees a size."""
    out = b"GIF89a" + struct.pack("<HHBBB", 16, 16, 0x80, 0, 0) + b"\0\0\0\xff\xff\xff"
    out += b"!\xf9\x04\x08\x00\x00\x00\x00"  # graphic control: dispose to background
    out += b"," + struct.pack("<HHHHB", 0, 0, width, height, 0) + b"\x02\x02\x44\x01\x00" + b";"
    return out


def test_a_gif_that_allocates_while_opening_is_refused_before_it_does(tmp_path: Path) -> None:
    """Found by the long fuzzing run: a 1.8 KB GIF took 3 GB inside Pillow's ``Image.open``."""
    data = gif_frame_beyond_screen(61640, 60000)
    result = process_item(_item("frame.gif", data), ScanSettings(limits=Limits(decode_memory_budget=BUDGET)))
    assert [e.code for e in result.errors] == [errors.IMAGE_BOMB] and "pdq" not in result.hashes
    assert _measured(tmp_path, "frame.gif", data, BUDGET)["grown"] < BUDGET // 4
