"""A learned AI-image detector the user supplies, run on the one decode of every picture (issue 13).

Off unless ``ScanSettings.detector`` names a detector config (``cairn scan --detector CONFIG.json``; the format is
in :mod:`cairn.signals.detector.config`): then it costs nothing. When on, every decoded picture gets a
``Finding(signal="ai_detector", kind="detector_score", data={detector, version, config_sha256, model_sha256,
score, label, threshold, above_threshold, runtime}, where="pixels: whole 640x480 picture resized to 224x224
(bilinear), RGB, NCHW")``. A score is the model's opinion, not proof. A detector that cannot run on a picture
(the config or model unreadable or changed into something unusable, onnxruntime missing in a worker, the model
refusing the input, an output the config cannot read) gives that picture a ``detector_failed`` error; the other
signals and the scan go on.
"""

from __future__ import annotations

from cairn import errors
from cairn.model import FileResult, Finding
from cairn.settings import ScanSettings
from cairn.signals.base import DecodedImage

NAME = "ai_detector"
KIND = "detector_score"


class AiDetectorSignal:
    """Stores the configured detector's score of each picture (nothing when no detector is configured)."""

    name = NAME
    order = 80  # after the provenance signals: independent of them, and the slowest when on

    def apply(self, decoded: DecodedImage, result: FileResult, settings: ScanSettings) -> None:
        path = getattr(settings, "detector", None)
        if not path:
            return
        from cairn.signals.detector.config import DetectorConfigError
        from cairn.signals.detector.run import DetectorRunError, DetectorUnavailable, cached_detector, describe

        try:
            detector = cached_detector(path)
            score = detector.score(decoded.rgb)
        except (DetectorConfigError, DetectorUnavailable, DetectorRunError) as exc:
            result.errors.append(errors.item_error(errors.DETECTOR_FAILED, f"the detector did not run: {exc}"))
            return
        config = detector.config
        height, width = decoded.rgb.shape[:2]
        where = describe(config.input, width, height)
        if decoded.draft_scale < 1.0:
            where += f"; decoded at {decoded.draft_scale:g} scale"
        data = {
            **config.identity(),
            "score": score,
            "label": config.output.label,
            "threshold": config.threshold,
            "above_threshold": score >= config.threshold,
            "runtime": detector.runtime,
        }
        result.findings.append(Finding(NAME, KIND, data, where))


SIGNALS = [AiDetectorSignal()]
