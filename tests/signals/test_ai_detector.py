"""The ai_detector signal: off by default, a detector_score finding whose values match the tiny model's formula in
NumPy, and a detector that cannot run recorded as detector_failed, never raised."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cairn import errors
from cairn.model import FileResult, ItemMeta, Locator
from cairn.settings import ScanSettings
from cairn.signals.ai_detector import AiDetectorSignal
from cairn.signals.base import DecodedImage
from cairn.signals.detector.config import load_config
from cairn.signals.detector.run import runtime_version
from cairn.signals.imaging import decode_image
from tests.signals.detector.tiny_model import expected_score, solid, write_detector


def decoded_png(pixels: np.ndarray) -> DecodedImage:
    """The scan's own decode of ``pixels`` written as a PNG."""
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    outcome = decode_image(buffer.getvalue(), ScanSettings().resolved(1))
    assert outcome.decoded is not None
    return outcome.decoded


def apply(decoded: DecodedImage, detector: Path | None) -> FileResult:
    result = FileResult(Locator.of("picture.png"), ItemMeta())
    AiDetectorSignal().apply(decoded, result, ScanSettings(detector=str(detector) if detector else None))
    return result


def test_without_a_detector_nothing_is_stored() -> None:
    result = apply(decoded_png(solid((200, 10, 10))), None)
    assert result.findings == [] and result.errors == []
    assert ScanSettings().detector is None


def test_the_finding_holds_the_score_the_formula_gives_and_the_detector_identity(tmp_path: Path) -> None:
    path = write_detector(tmp_path, threshold=0.6)
    config = load_config(path)
    rng = np.random.default_rng(11)
    for pixels in (solid((200, 10, 10)), solid((10, 10, 200)), rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)):
        result = apply(decoded_png(pixels), path)
        assert result.errors == []
        [finding] = result.findings
        assert (finding.signal, finding.kind) == ("ai_detector", "detector_score")
        score = finding.data["score"]
        assert score == pytest.approx(expected_score(pixels), abs=1e-6)
        assert finding.data == {
            "detector": "tiny-red-blue",
            "version": "1.0",
            "config_sha256": config.config_sha256,
            "model_sha256": config.model_sha256,
            "score": score,
            "label": "AI-generated (test: red)",
            "threshold": 0.6,
            "above_threshold": score >= 0.6,
            "runtime": runtime_version(),
        }
        assert finding.where == "pixels: whole 32x32 picture resized to 32x32 (bilinear), RGB, NCHW"
        json.dumps(finding.data)  # storable as it is
    red, blue = (apply(decoded_png(solid(c)), path).findings[0].data for c in ((200, 10, 10), (10, 10, 200)))
    assert red["above_threshold"] is True and blue["above_threshold"] is False


def test_grey_and_large_pictures(tmp_path: Path) -> None:
    path = write_detector(tmp_path)
    grey = decoded_png(np.full((40, 60), 90, dtype=np.uint8))
    assert grey.rgb.ndim == 2
    [finding] = apply(grey, path).findings
    assert finding.data["score"] == pytest.approx(0.5, abs=1e-6)
    assert finding.where == "pixels: whole 60x40 picture resized to 32x32 (bilinear), RGB, NCHW"
    reduced = decoded_png(solid((200, 10, 10), (300, 400)))
    reduced.draft_scale = 0.5
    [finding] = apply(reduced, path).findings
    assert finding.where.endswith("; decoded at 0.5 scale")
    assert finding.data["score"] == pytest.approx(expected_score(solid((200, 10, 10))), abs=1e-6)


def test_a_detector_that_cannot_run_is_a_detector_failed_error_on_the_item(tmp_path: Path) -> None:
    picture = decoded_png(solid((200, 10, 10)))
    wrong_size = write_detector(tmp_path / "size", input={"size": [64, 64]})
    broken = write_detector(tmp_path / "broken")
    (tmp_path / "broken" / "tiny.onnx").write_bytes(b"not a model")
    bad_config = tmp_path / "bad.json"
    bad_config.write_text('{"name": "x"}', encoding="utf-8")
    for path, message in (
        (wrong_size, "but the config says NCHW with size [64, 64]"),
        (broken, "onnxruntime cannot load the model"),
        (bad_config, "'version' is missing"),
        (tmp_path / "absent.json", "cannot read the detector config"),
    ):
        result = apply(picture, path)
        assert result.findings == []
        [error] = result.errors
        assert error.code == errors.DETECTOR_FAILED and not errors.is_note(error.code)
        assert error.message.startswith("the detector did not run: ") and message in error.message


def test_a_scan_whose_model_cannot_run_records_detector_failed_on_each_picture_and_completes(tmp_path: Path) -> None:
    from cairn.pipeline.scan import scan
    from cairn.store import CaseStore

    evidence = tmp_path / "evidence"
    evidence.mkdir()
    for name, colour in (("red.png", (200, 10, 10)), ("blue.png", (10, 10, 200))):
        Image.fromarray(solid(colour)).save(evidence / name)
    (evidence / "notes.txt").write_text("a red bicycle on a beach", encoding="utf-8")
    path = write_detector(tmp_path / "det")
    (tmp_path / "det" / "tiny.onnx").write_bytes(b"\x08\x07 not a model")  # hashed fine, refused by onnxruntime
    with CaseStore.open(tmp_path / "case") as store:
        summary = scan(evidence, store, ScanSettings(workers=1, detector=str(path)), show_progress=False)
        rows = {r["path"]: r for r in store.iter_file_rows(with_provenance=True)}
    assert summary.status == "completed" and summary.error_codes == {"detector_failed": 2}
    for name in ("red.png", "blue.png"):
        assert rows[name]["error"].startswith("detector_failed: the detector did not run: onnxruntime cannot load")
        assert rows[name]["provenance"]["detector_scores"] == [] and rows[name]["pdq"]  # the other signals ran
    assert rows["notes.txt"]["error"] is None
