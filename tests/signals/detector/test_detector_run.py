"""Running a detector: cairn's input tensor and score against the tiny model's formula computed in NumPy, the
output kinds, crops and resizes, and every way a model can fail to fit its config."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cairn.signals.detector import run
from cairn.signals.detector.config import DetectorConfigError, OutputSpec, load_config
from cairn.signals.detector.run import (
    DetectorRunError,
    DetectorUnavailable,
    cached_detector,
    crop_box,
    describe,
    open_detector,
    probe,
    score_of,
)
from tests.signals.detector.tiny_model import K, build_model, config_dict, expected_score, solid, write_detector

RED, BLUE = (200, 10, 10), (10, 10, 200)


def pictures(n: int = 6, size: tuple[int, int] = (32, 32), seed: int = 3) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, (*size, 3), dtype=np.uint8) for _ in range(n)]


@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
def test_scores_match_the_formula_with_normalisation_and_either_layout(tmp_path: Path, layout: str) -> None:
    mean, std = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
    path = write_detector(tmp_path, layout=layout, k=0.5, input={"mean": list(mean), "std": list(std)})
    detector = open_detector(load_config(path))
    for rgb in [*pictures(), solid(RED), solid(BLUE)]:
        want = expected_score(rgb, k=0.5, mean=mean, std=std)
        assert detector.score(rgb) == pytest.approx(want, abs=1e-6)


def test_red_scores_high_and_blue_low_and_bgr_swaps_them(tmp_path: Path) -> None:
    rgb_order = open_detector(load_config(write_detector(tmp_path / "rgb")))
    bgr_order = open_detector(load_config(write_detector(tmp_path / "bgr", input={"channels": "BGR"})))
    assert rgb_order.score(solid(RED)) > 0.99 and rgb_order.score(solid(BLUE)) < 0.01
    assert bgr_order.score(solid(RED)) < 0.01 and bgr_order.score(solid(BLUE)) > 0.99
    for rgb in pictures():
        assert bgr_order.score(rgb) == pytest.approx(expected_score(rgb, channels="BGR"), abs=1e-6)


def test_the_three_output_kinds_give_the_same_score(tmp_path: Path) -> None:
    heads = {head: open_detector(load_config(write_detector(tmp_path / head, head=head))) for head in
             ("sigmoid", "logit", "two_class")}
    for rgb in pictures(4):
        want = expected_score(rgb)
        for head, detector in heads.items():
            assert detector.score(rgb) == pytest.approx(want, abs=1e-6), head


def test_grey_and_strided_pictures_score_as_their_rgb_copies(tmp_path: Path) -> None:
    detector = open_detector(load_config(write_detector(tmp_path)))
    grey = np.random.default_rng(5).integers(0, 256, (32, 32), dtype=np.uint8)
    assert detector.score(grey) == detector.score(np.repeat(grey[:, :, None], 3, axis=2))
    assert detector.score(grey) == pytest.approx(0.5, abs=1e-6)  # equal channels: z = 0
    big = pictures(1, (64, 64))[0]
    view = big[::2, ::2]  # a non-contiguous view, as the decode may hand over
    assert not view.flags["C_CONTIGUOUS"]
    assert detector.score(view) == detector.score(view.copy())
    assert detector.score(view) == pytest.approx(expected_score(view), abs=1e-6)
    rgba_view = np.random.default_rng(6).integers(0, 256, (32, 32, 4), dtype=np.uint8)[:, :, :3]
    assert detector.score(rgba_view) == pytest.approx(expected_score(rgba_view), abs=1e-6)


def test_a_picture_of_another_size_is_resized_with_the_configured_filter(tmp_path: Path) -> None:
    for resize, pillow in (("bilinear", Image.Resampling.BILINEAR), ("bicubic", Image.Resampling.BICUBIC)):
        detector = open_detector(load_config(write_detector(tmp_path / resize, input={"resize": resize})))
        for rgb in pictures(3, (48, 80)):
            resized = np.asarray(Image.fromarray(rgb).resize((32, 32), resample=pillow))
            assert detector.score(rgb) == pytest.approx(expected_score(resized), abs=1e-6)
        assert detector.score(solid(RED, (300, 500))) == pytest.approx(expected_score(solid(RED)), abs=1e-6)


def test_center_crop_keeps_the_middle_of_a_wide_picture(tmp_path: Path) -> None:
    wide = solid(BLUE, (32, 96))
    wide[:, 32:64] = RED  # the central square is red, the sides blue
    cropped = open_detector(load_config(write_detector(tmp_path / "crop", input={"crop": "center"})))
    whole = open_detector(load_config(write_detector(tmp_path / "whole")))
    assert cropped.score(wide) == pytest.approx(expected_score(solid(RED)), abs=1e-6)
    assert whole.score(wide) < 0.5  # two thirds blue
    spec = cropped.config.input
    assert describe(spec, 96, 32) == "pixels: central 32x32 of the 96x32 picture resized to 32x32 (bilinear), RGB, NCHW"
    assert describe(whole.config.input, 96, 32) == "pixels: whole 96x32 picture resized to 32x32 (bilinear), RGB, NCHW"


@pytest.mark.parametrize(
    ("width", "height", "size", "box"),
    [
        (96, 32, (32, 32), (32, 0, 64, 32)),
        (32, 96, (32, 32), (0, 32, 32, 64)),
        (100, 100, (50, 100), (0, 25, 100, 75)),  # size is (height, width): a 2:1 wide target
        (7, 3, (1, 1), (2, 0, 5, 3)),
        (1, 1, (224, 224), (0, 0, 1, 1)),
        (1, 500, (10, 1000), (0, 249, 1, 250)),  # never an empty crop; offsets round down
    ],
)
def test_crop_box(width: int, height: int, size: tuple[int, int], box: tuple[int, int, int, int]) -> None:
    assert crop_box(width, height, size) == box


def test_score_of_reads_each_output_kind_and_refuses_what_it_cannot_read() -> None:
    probability = OutputSpec("probability", "AI")
    assert score_of(np.array([[0.25]]), probability) == 0.25
    assert score_of(np.array([1.0 + 1e-9]), probability) == 1.0
    assert score_of(np.array([0.1, 0.9]), OutputSpec("probability", "AI", index=1)) == 0.9
    assert score_of(np.array([0.0]), OutputSpec("sigmoid", "AI")) == 0.5
    assert score_of(np.array([-1000.0]), OutputSpec("logit", "AI")) == 0.0  # no overflow
    assert score_of(np.array([1000.0]), OutputSpec("logit", "AI")) == 1.0
    logits = np.array([[1.0, 2.0, 3.0]])
    want = np.exp(2.0) / np.exp([1.0, 2.0, 3.0]).sum()
    assert score_of(logits, OutputSpec("softmax", "AI", index=1)) == pytest.approx(want)
    with pytest.raises(DetectorRunError, match="not a probability in 0..1; .* 'sigmoid'"):
        score_of(np.array([2.5]), probability)
    with pytest.raises(DetectorRunError, match="holds 2 values; set 'output.index'"):
        score_of(np.array([0.1, 0.9]), probability)
    with pytest.raises(DetectorRunError, match="'output.index' is 3 but the model's output holds 2 value"):
        score_of(np.array([0.1, 0.9]), OutputSpec("probability", "AI", index=3))
    with pytest.raises(DetectorRunError, match="NaN or infinity"):
        score_of(np.array([np.nan]), OutputSpec("sigmoid", "AI"))
    with pytest.raises(DetectorRunError, match="empty"):
        score_of(np.array([]), probability)
    with pytest.raises(DetectorRunError, match="softmax but the model's output holds one value"):
        score_of(np.array([0.3]), OutputSpec("softmax", "AI", index=0))


def test_a_model_that_does_not_fit_its_config_is_refused_when_opened(tmp_path: Path) -> None:
    wrong_size = write_detector(tmp_path / "size", input={"size": [64, 64]})  # the model takes 32x32
    with pytest.raises(DetectorRunError, match=r"has shape \[1, 3, 32, 32\], but the config says NCHW with size"):
        open_detector(load_config(wrong_size))
    (tmp_path / "nhwc").mkdir()
    build_model(tmp_path / "nhwc" / "tiny.onnx", layout="NHWC")
    (tmp_path / "nhwc" / "tiny.json").write_text(json.dumps(config_dict()), encoding="utf-8")  # says NCHW
    with pytest.raises(DetectorRunError, match="correct 'input.size' or 'input.layout'"):
        open_detector(load_config(tmp_path / "nhwc" / "tiny.json"))
    two_values = write_detector(tmp_path / "two", head="two_class", output={"kind": "probability"})
    del_index = json.loads(two_values.read_text())
    del del_index["output"]["index"]
    two_values.write_text(json.dumps(del_index), encoding="utf-8")
    with pytest.raises(DetectorRunError, match="holds 2 values; set 'output.index'"):
        probe(open_detector(load_config(two_values)))
    named = write_detector(tmp_path / "named", input={"name": "image"}, output={"name": "logits"})
    with pytest.raises(DetectorRunError, match="no input named 'image'; its inputs are pixels"):
        open_detector(load_config(named))


def test_a_file_that_is_no_model_is_refused(tmp_path: Path) -> None:
    path = write_detector(tmp_path)
    (tmp_path / "tiny.onnx").write_bytes(b"a red bicycle on a beach, not a model")
    with pytest.raises(DetectorRunError, match="onnxruntime cannot load the model"):
        open_detector(load_config(path))


def test_without_onnxruntime_the_error_says_how_to_install_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = load_config(write_detector(tmp_path))
    monkeypatch.setattr(run, "onnxruntime_module", lambda: None)
    with pytest.raises(DetectorUnavailable, match="pip install onnxruntime"):
        open_detector(config)
    assert run.runtime_version() is None


def test_the_process_cache_loads_once_and_again_when_a_file_changes(tmp_path: Path) -> None:
    path = write_detector(tmp_path)
    first = cached_detector(path)
    assert cached_detector(str(path)) is first
    assert first.score(solid(RED)) == pytest.approx(expected_score(solid(RED)), abs=1e-6)
    build_model(tmp_path / "new.onnx", k=-K)
    (tmp_path / "new.onnx").replace(tmp_path / "tiny.onnx")  # a new model at the same path: red now scores low
    second = cached_detector(path)
    assert second is not first and second.config.model_sha256 != first.config.model_sha256
    assert second.score(solid(RED)) == pytest.approx(expected_score(solid(RED), k=-K), abs=1e-6)
    path.write_text("{}", encoding="utf-8")
    with pytest.raises(DetectorConfigError, match="'name' is missing"):
        cached_detector(path)
    with pytest.raises(DetectorConfigError, match="'name' is missing"):  # remembered, same error
        cached_detector(path)
