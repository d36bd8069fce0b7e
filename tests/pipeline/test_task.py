"""The per-item task on real bytes: digests equal hashlib's, pictures decoded once, bad input recorded."""

from __future__ import annotations

import hashlib
import io
import os
import shutil
from pathlib import Path

import numpy as np
import pdqhash
import pytest
from PIL import Image

from cairn import errors
from cairn.model import EvidenceItem, ItemMeta, Locator
from cairn.pipeline.task import process_item
from cairn.settings import Limits, ScanSettings
from tests.unprivileged import run_unprivileged, world_traversable_dir


def _item_from_bytes(name: str, data: bytes) -> EvidenceItem:
    return EvidenceItem(Locator((name,)), ItemMeta(size=len(data)), data=data)


def _jpeg(width: int = 320, height: int = 240, seed: int = 1) -> bytes:
    rng = np.random.default_rng(seed)
    base = np.linspace(0, 255, width, dtype=np.float32)[None, :, None].repeat(height, 0).repeat(3, 2)
    noise = rng.normal(0, 20, (height, width, 3))
    pixels = np.clip(base + noise, 0, 255).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, format="JPEG", quality=90)
    return buf.getvalue()


def test_digests_match_hashlib_for_a_file_on_disk(tmp_path: Path) -> None:
    data = os.urandom(3 * 1024 * 1024 + 17)
    path = tmp_path / "blob.dat"
    path.write_bytes(data)
    item = EvidenceItem(Locator(("blob.dat",)), ItemMeta(size=len(data)), os_path=str(path))
    result = process_item(item, ScanSettings(chunk_size=64 * 1024))
    assert result.hashes == {
        "md5": hashlib.md5(data).hexdigest(),
        "sha1": hashlib.sha1(data).hexdigest(),
        "sha256": hashlib.sha256(data).hexdigest(),
    }
    assert result.bytes_read == len(data)
    assert result.errors == []


def test_jpeg_gets_pdq_equal_to_reference_and_a_thumbnail() -> None:
    data = _jpeg()
    result = process_item(_item_from_bytes("a.jpg", data), ScanSettings())
    assert result.type_label == "jpeg" and not result.extension_mismatch
    assert result.image is not None and (result.image.width, result.image.height) == (320, 240)
    rgb = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))
    bits, quality = pdqhash.compute(rgb)
    expected = "".join(f"{int(''.join(map(str, bits[i : i + 4])), 2):x}" for i in range(0, 256, 4))
    assert result.hashes["pdq"] == expected
    assert result.hash_quality["pdq"] == quality
    assert result.thumbnail is not None
    thumb = Image.open(io.BytesIO(result.thumbnail))
    assert thumb.format == "WEBP" and max(thumb.size) == 256
    assert result.hashes["sha256"] == hashlib.sha256(data).hexdigest()


def test_truncated_jpeg_keeps_digests_and_records_corruption() -> None:
    data = _jpeg()[:3000]
    result = process_item(_item_from_bytes("cut.jpg", data), ScanSettings())
    assert result.hashes["sha256"] == hashlib.sha256(data).hexdigest()
    assert "pdq" not in result.hashes
    assert [e.code for e in result.errors] == [errors.IMAGE_CORRUPT]
    assert result.image is not None and result.image.width == 320  # the header was still read


def test_pixel_bomb_is_refused_before_decoding() -> None:
    buf = io.BytesIO()
    Image.new("L", (400, 300)).save(buf, format="PNG")
    settings = ScanSettings(limits=Limits(max_image_pixels=100_000))
    result = process_item(_item_from_bytes("big.png", buf.getvalue()), settings)
    assert [e.code for e in result.errors] == [errors.IMAGE_BOMB]
    assert "pdq" not in result.hashes and result.thumbnail is None


def test_extension_lie_is_flagged() -> None:
    buf = io.BytesIO()
    Image.new("RGB", (64, 64), (200, 30, 30)).save(buf, format="PNG")
    result = process_item(_item_from_bytes("holiday.jpg", buf.getvalue()), ScanSettings())
    assert result.type_label == "png"
    assert result.extension_mismatch


def test_fast_pdq_decodes_reduced_and_stays_close() -> None:
    data = _jpeg(2400, 1800, seed=5)
    exact = process_item(_item_from_bytes("x.jpg", data), ScanSettings())
    fast = process_item(_item_from_bytes("x.jpg", data), ScanSettings(fast_pdq=True))
    assert fast.image is not None and fast.image.width == 2400  # the real size is recorded
    distance = bin(int(exact.hashes["pdq"], 16) ^ int(fast.hashes["pdq"], 16)).count("1")
    assert distance <= 31


def test_unreadable_file_is_recorded(tmp_path: Path) -> None:
    # A path that cannot be read as a file (here a directory; as root, chmod 0 would not stop us).
    target = tmp_path / "not-a-file"
    target.mkdir()
    item = EvidenceItem(Locator(("gone.bin",)), ItemMeta(size=1), os_path=str(target))
    result = process_item(item, ScanSettings())
    assert [e.code for e in result.errors] == [errors.UNREADABLE]
    assert result.hashes == {}


def test_item_without_content_keeps_source_errors() -> None:
    err = errors.item_error(errors.SYMLINK_LOOP, "a -> b -> a")
    item = EvidenceItem(Locator(("a",)), ItemMeta(kind="symlink"), errors=(err,))
    result = process_item(item, ScanSettings())
    assert result.errors == [err] and result.hashes == {}


def test_permission_denied_is_recorded_as_unreadable() -> None:
    root = world_traversable_dir()
    path = root / "locked.jpg"
    path.write_bytes(_jpeg())
    path.chmod(0)
    item = EvidenceItem(Locator(("locked.jpg",)), ItemMeta(size=path.stat().st_size), os_path=str(path))
    try:
        result = run_unprivileged(lambda: process_item(item, ScanSettings()))
    finally:
        shutil.rmtree(root)
    assert [e.code for e in result.errors] == [errors.UNREADABLE]
    assert "permission" in result.errors[0].message.lower()
    assert result.hashes == {}


def test_picture_file_over_the_read_limit_is_hashed_not_decoded() -> None:
    data = _jpeg()
    settings = ScanSettings(limits=Limits(max_image_file_bytes=len(data) - 1))
    result = process_item(_item_from_bytes("big.jpg", data), settings)
    assert result.hashes["sha256"] == hashlib.sha256(data).hexdigest()
    assert [e.code for e in result.errors] == [errors.IMAGE_BOMB]
    assert result.image is None and "pdq" not in result.hashes


class _Broken:
    """A stream signal whose update raises: a plugin with a bug."""

    name = "broken"
    order = 99

    def start(self, settings: ScanSettings, context: object) -> _Broken:
        return self

    def update(self, chunk: bytes | memoryview) -> None:
        raise RuntimeError("plugin bug")

    def finish(self, result: object) -> None:
        raise AssertionError("never reached: the failed state is dropped")


def test_a_failing_stream_signal_is_recorded_and_the_others_still_run(monkeypatch: pytest.MonkeyPatch) -> None:
    import cairn.pipeline.task as task
    from cairn.signals.registry import SignalSet, signals

    real = signals()
    monkeypatch.setattr(task, "signals", lambda: SignalSet((*real.stream, _Broken()), real.image))  # type: ignore[arg-type]
    data = _jpeg()
    result = process_item(_item_from_bytes("a.jpg", data), ScanSettings())
    assert [e.code for e in result.errors] == [errors.SIGNAL_FAILED]
    assert "plugin bug" in result.errors[0].message
    assert result.hashes["sha256"] == hashlib.sha256(data).hexdigest() and "pdq" in result.hashes
