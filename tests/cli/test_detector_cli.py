"""``cairn scan --detector`` and ``cairn detector check|evaluate`` as a user runs them, with the tiny ONNX model the
tests build: scores stored per picture and shown by ``cairn files --format json``, the detector recorded with the
run (a resumed scan refuses another one), clear exits for a bad config or a missing onnxruntime, and the evaluation
of a labelled set from a config and from the case, checked against independent computations."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from cairn.cli.main import app
from cairn.signals.detector import run as detector_run
from cairn.signals.detector.config import load_config
from cairn.store import CaseStore
from tests.signals.detector.tiny_model import K, expected_score, solid, write_detector

runner = CliRunner()
RED, BLUE = (200, 10, 10), (10, 10, 200)


def run(*args: str, code: int = 0) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == code, result.output
    return result.output


def run_json(*args: str) -> Any:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def evidence_folder(root: Path) -> dict[str, np.ndarray]:
    """Benign pictures (and a text file) in ``root``; the pixels each picture decodes to, by path."""
    rng = np.random.default_rng(21)
    pixels = {
        "red.png": solid(RED),
        "sub/red_large.png": solid(RED, (120, 200)),
        "blue.png": solid(BLUE),
        "sub/blue_noise.png": np.clip(solid(BLUE).astype(int) + rng.integers(-8, 9, (32, 32, 3)), 0, 255).astype(
            np.uint8
        ),
        "purple.png": solid((120, 10, 110)),
        "noise.png": rng.integers(0, 256, (32, 32, 3), dtype=np.uint8),
    }
    for name, values in pixels.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(values).save(root / name)
    Image.fromarray(np.full((32, 32), 77, dtype=np.uint8)).save(root / "grey.png")
    pixels["grey.png"] = np.full((32, 32, 3), 77, dtype=np.uint8)
    (root / "notes.txt").write_text("a red bicycle on a beach", encoding="utf-8")
    return pixels


def want(values: np.ndarray) -> float:
    """The tiny model's score of a picture of any size, resized as the config says (bilinear to 32x32)."""
    if values.shape[:2] != (32, 32):
        values = np.asarray(Image.fromarray(values).resize((32, 32), resample=Image.Resampling.BILINEAR))
    return expected_score(values)


def test_scan_with_a_detector_stores_each_pictures_score_and_records_the_detector(
    tmp_path: Path, case_args: list[str]
) -> None:
    evidence = tmp_path / "evidence"
    pixels = evidence_folder(evidence)
    config_path = write_detector(tmp_path / "detector")
    config = load_config(config_path)
    out = run("scan", str(evidence), *case_args, "--workers", "1", "--no-progress", "--detector", str(config_path))
    assert "completed" in out
    rows = {r["path"]: r for r in run_json("files", *case_args, "--format", "json")}
    assert set(rows) == {*pixels, "notes.txt"}
    for path, values in pixels.items():
        assert rows[path]["error"] is None, path
        [entry] = rows[path]["provenance"]["detector_scores"]
        assert (entry["signal"], entry["kind"]) == ("ai_detector", "detector_score")
        data = entry["data"]
        assert data["score"] == pytest.approx(want(values), abs=1e-5), path
        assert data["detector"] == "tiny-red-blue" and data["version"] == "1.0"
        assert (data["config_sha256"], data["model_sha256"]) == (config.config_sha256, config.model_sha256)
        assert data["above_threshold"] == (data["score"] >= 0.5) and data["threshold"] == 0.5
        height, width = values.shape[:2]
        assert entry["where"] == f"pixels: whole {width}x{height} picture resized to 32x32 (bilinear), RGB, NCHW"
    assert rows["red.png"]["provenance"]["detector_scores"][0]["data"]["above_threshold"] is True
    assert rows["blue.png"]["provenance"]["detector_scores"][0]["data"]["above_threshold"] is False
    assert rows["notes.txt"]["provenance"]["detector_scores"] == [] and rows["notes.txt"]["error"] is None
    assert "audit chain intact" in run("audit", "verify", *case_args)
    [summary] = json.loads(run("provenance", *case_args, "--format", "json"))["detectors"]
    above = sum(1 for p in pixels if rows[p]["provenance"]["detector_scores"][0]["data"]["above_threshold"])
    assert summary == {"detector": "tiny-red-blue", "version": "1.0", "scored": len(pixels), "above_threshold": above}
    assert "pictures scored" in run("provenance", *case_args)

    case_dir = Path(case_args[1])
    db = case_args[3] if len(case_args) > 2 else None
    with CaseStore.open(case_dir, db, read_only=True) as store:
        [settings] = [r["settings"] for r in store.runs()]
    assert settings["detector"] == str(config_path.resolve())
    assert settings["detector_identity"] == {**config.identity(), "runtime": detector_run.runtime_version()}

    # the same detector again: nothing new to do; another model, or none, would mix two ways of scoring
    run("scan", str(evidence), *case_args, "--workers", "1", "--no-progress", "--detector", str(config_path))
    other = write_detector(tmp_path / "other", k=-K)
    refused = run("scan", str(evidence), *case_args, "--no-progress", "--detector", str(other), code=2)
    assert "Not resumed" in refused and "detector_identity" in refused
    refused = run("scan", str(evidence), *case_args, "--no-progress", code=2)
    assert "detector_identity" in refused


def test_scan_refuses_a_detector_it_cannot_run_before_it_starts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    evidence = tmp_path / "evidence"
    evidence_folder(evidence)
    case = tmp_path / "case"
    bad = tmp_path / "bad.json"
    bad.write_text('{"name": "x", "version": "1", "model": "x.onnx", "input": {}, "output": {}, "treshold": 1}')
    out = run("scan", str(evidence), "--case", str(case), "--detector", str(bad), code=2)
    assert "Bad detector config" in out and "'treshold'" in out
    wrong_size = write_detector(tmp_path / "size", input={"size": [64, 64]})
    out = run("scan", str(evidence), "--case", str(case), "--detector", str(wrong_size), code=2)
    assert "The detector cannot run" in out and "input.size" in out
    good = write_detector(tmp_path / "good")
    monkeypatch.setattr(detector_run, "onnxruntime_module", lambda: None)
    out = run("scan", str(evidence), "--case", str(case), "--detector", str(good), code=2)
    assert "onnxruntime is not installed" in out and "pip install onnxruntime" in out
    assert not case.exists()  # nothing was scanned, no case made


def test_detector_check_prints_the_identity(tmp_path: Path) -> None:
    path = write_detector(tmp_path)
    config = load_config(path)
    out = run("detector", "check", str(path))
    assert "tiny-red-blue" in out and config.config_sha256 in out and config.model_sha256 in out
    run("detector", "check", str(tmp_path / "absent.json"), code=2)


def labels_csv(evidence: Path, rows: list[tuple[str, int]]) -> Path:
    path = evidence.parent / "labels.csv"
    path.write_text("path,label\n" + "".join(f"{p},{y}\n" for p, y in rows), encoding="utf-8")
    return path


def auc_by_pairs(scores: list[float], labels: list[int]) -> float:
    pos = [s for s, y in zip(scores, labels, strict=True) if y]
    neg = [s for s, y in zip(scores, labels, strict=True) if not y]
    return sum(1.0 if p > n else 0.5 if p == n else 0.0 for p in pos for n in neg) / (len(pos) * len(neg))


def test_evaluate_from_a_config_and_from_the_case_agree_with_independent_numbers(
    tmp_path: Path, case_args: list[str]
) -> None:
    evidence = tmp_path / "evidence"
    pixels = evidence_folder(evidence)
    config_path = write_detector(tmp_path / "detector")
    # "AI-generated" here is just the test's name for the red pictures; purple and noise are labelled against
    # what the model says, so the metrics are not perfect
    truth = {"red.png": 1, "sub/red_large.png": 1, "purple.png": 0, "noise.png": 1, "blue.png": 0,
             "sub/blue_noise.png": 0, "grey.png": 0}
    labels = tmp_path / "labels.csv"
    lines = [f"evidence/{p},{y}" for p, y in truth.items()] + ["evidence/notes.txt,0", "evidence/gone.png,1"]
    labels.write_text("path,label\n" + "\n".join(lines) + "\n", encoding="utf-8")

    from_config = run_json("detector", "evaluate", "--labels", str(labels), "--config", str(config_path),
                           "--format", "json", "--no-progress", "--bins", "4")
    scores = [want(pixels[p]) for p in truth]
    ys = list(truth.values())
    assert (from_config["labelled"], from_config["n"], from_config["positives"], from_config["negatives"]) == (
        9, 7, 3, 4
    )
    assert from_config["roc_auc"] == pytest.approx(auc_by_pairs(scores, ys), abs=1e-9)
    called = [s >= 0.5 for s in scores]
    tp = sum(c and y for c, y in zip(called, ys, strict=True))
    fp = sum(c and not y for c, y in zip(called, ys, strict=True))
    at = from_config["at_threshold"]
    assert (at["true_positives"], at["false_positives"]) == (tp, fp)
    assert at["accuracy"] == pytest.approx(sum(c == bool(y) for c, y in zip(called, ys, strict=True)) / 7)
    assert from_config["brier"] == pytest.approx(sum((s - y) ** 2 for s, y in zip(scores, ys, strict=True)) / 7,
                                                 abs=1e-6)
    assert len(from_config["bins"]) == 4 and sum(b["n"] for b in from_config["bins"]) == 7
    missing = {m["path"]: m["problem"] for m in from_config["without_score"]}
    assert set(missing) == {"evidence/notes.txt", "evidence/gone.png"}
    assert missing["evidence/notes.txt"].startswith("not decoded")

    strict = run_json("detector", "evaluate", "--labels", str(labels), "--config", str(config_path),
                      "--format", "json", "--no-progress", "--threshold", "0.9")
    assert strict["at_threshold"]["threshold"] == 0.9
    assert strict["at_threshold"]["false_positives"] + strict["at_threshold"]["true_positives"] == sum(
        s >= 0.9 for s in scores
    )

    run("scan", str(evidence), *case_args, "--workers", "1", "--no-progress", "--detector", str(config_path))
    case_labels = labels_csv(evidence, [*truth.items(), ("notes.txt", 0)])
    from_case = run_json("detector", "evaluate", "--labels", str(case_labels), *case_args, "--format", "json",
                         "--bins", "4")
    for key in ("n", "positives", "negatives", "roc_auc", "at_threshold"):
        assert from_case[key] == from_config[key], key
    assert from_case["brier"] == pytest.approx(from_config["brier"], abs=1e-6)
    assert from_case["without_score"] == [
        {"path": "notes.txt", "label": 0, "problem": "no detector score stored in the case for this path"}
    ]
    assert from_case["detector"]["model_sha256"] == load_config(config_path).model_sha256

    table = run("detector", "evaluate", "--labels", str(case_labels), *case_args)
    assert "ROC AUC" in table and "Reliability" in table and "notes.txt" in table and "not proof" in table
    named = runner.invoke(app, ["detector", "evaluate", "--labels", str(case_labels), *case_args, "--name", "x",
                                "-f", "json"])
    assert named.exit_code == 0 and json.loads(named.stdout)["n"] == 0  # no score of a detector by that name
    assert "No detector score is stored" in named.stderr and "named 'x'" in named.stderr


def test_evaluate_refuses_unclear_requests(tmp_path: Path) -> None:
    labels = tmp_path / "labels.csv"
    labels.write_text("path,label\na.png,2\n", encoding="utf-8")
    config = write_detector(tmp_path / "det")
    out = run("detector", "evaluate", "--labels", str(labels), code=2)
    assert "Give one source of scores" in out
    out = run("detector", "evaluate", "--labels", str(labels), "--config", str(config), "--case", str(tmp_path), code=2)
    assert "Give one source of scores" in out
    out = run("detector", "evaluate", "--labels", str(labels), "--config", str(config), code=2)
    assert "Bad labels file" in out and "line 2" in out
    out = run("detector", "evaluate", "--labels", str(labels), "--config", str(config), "-f", "xml", code=2)
    assert "Unknown format" in out
