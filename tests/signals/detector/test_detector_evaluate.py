"""Evaluation inputs: the labels CSV (strict, bounded), scores by running the detector on the listed files, and
scores read back from a case's rows; files without a score are reported with the reason."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from cairn.signals.detector.config import load_config
from cairn.signals.detector.evaluate import (
    Label,
    LabelsError,
    Scored,
    case_scores,
    evaluation,
    read_labels,
    score_files,
)
from cairn.signals.detector.run import open_detector
from tests.signals.detector.tiny_model import expected_score, solid, write_detector


def labels_file(tmp_path: Path, text: str | bytes) -> Path:
    path = tmp_path / "labels.csv"
    path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    return path


def test_labels_are_read_with_a_header_extra_columns_and_a_bom(tmp_path: Path) -> None:
    text = "\ufeffnote,Label,PATH\nbeach,1,a/red.png\n\n, 0 ,\"b,blue.png\"\n"
    assert read_labels(labels_file(tmp_path, text)) == [Label("a/red.png", 1, 2), Label("b,blue.png", 0, 4)]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "the labels file is empty"),
        ("a/red.png,1\n", "must be a header naming the columns 'path' and 'label'"),
        ("path,label\nred.png,yes\n", "line 2: the label is 'yes'; write 1 .* or 0"),
        ("path,label\nred.png,0.5\n", "line 2: the label is '0.5'"),
        ("path,label\nred.png\n", "line 2 has 1 cell"),
        ("path,label\n,1\n", "line 2 has an empty path"),
        ("path,label\nred.png,1\nblue.png,0\nred.png,0\n", "line 4 lists 'red.png' again \\(first on line 2\\)"),
        ("path,label\n" + "x" * 40_000 + ",1\n", "a line longer than"),
        ('path,label\n"red.png,1\n', "not readable as CSV|line 2 has 1 cell"),
    ],
)
def test_a_bad_labels_file_is_refused_with_the_line(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(LabelsError, match=message):
        read_labels(labels_file(tmp_path, text))


def test_labels_files_are_bounded_and_must_be_utf8(tmp_path: Path) -> None:
    rows = "".join(f"p{i}.png,{i % 2}\n" for i in range(11))
    with pytest.raises(LabelsError, match="more than 10 rows"):
        read_labels(labels_file(tmp_path, "path,label\n" + rows), max_rows=10)
    assert len(read_labels(labels_file(tmp_path, "path,label\n" + rows), max_rows=11)) == 11
    with pytest.raises(LabelsError, match="not UTF-8"):
        read_labels(labels_file(tmp_path, b"path,label\n\xff\xfe.png,1\n"))
    with pytest.raises(LabelsError, match="cannot read the labels file"):
        read_labels(tmp_path / "absent.csv")


def test_score_files_runs_the_detector_as_a_scan_decodes_and_reports_what_it_cannot_score(tmp_path: Path) -> None:
    detector = open_detector(load_config(write_detector(tmp_path / "det")))
    pics = tmp_path / "pics"
    (pics / "sub").mkdir(parents=True)
    Image.fromarray(solid((200, 10, 10))).save(pics / "sub" / "red.png")
    Image.fromarray(solid((10, 10, 200))).save(pics / "blue.png")
    (pics / "notes.txt").write_text("a red bicycle on a beach", encoding="utf-8")
    absolute = tmp_path / "elsewhere.png"
    Image.fromarray(solid((10, 10, 200))).save(absolute)
    labels = [Label("sub/red.png", 1, 2), Label("blue.png", 0, 3), Label("notes.txt", 0, 4),
              Label("gone.png", 1, 5), Label(str(absolute), 0, 6)]
    ticks: list[int] = []
    out = score_files(labels, pics, detector, ticks.append)
    assert ticks == [1, 2, 3, 4, 5]
    assert out[0].score == pytest.approx(expected_score(solid((200, 10, 10))), abs=1e-6)
    assert out[1].score == pytest.approx(expected_score(solid((10, 10, 200))), abs=1e-6)
    assert out[2].score is None and out[2].problem is not None and out[2].problem.startswith("not decoded")
    assert out[3].score is None and out[3].problem is not None and "cannot read" in out[3].problem
    assert out[4].score == out[1].score


def row(path: str, evidence: str, *scores: dict[str, Any]) -> dict[str, Any]:
    return {"path": path, "evidence": evidence, "provenance": {"detector_scores": [{"data": s} for s in scores]}}


def stored(score: float, name: str = "tiny", model: str = "m1", threshold: float = 0.5) -> dict[str, Any]:
    return {"detector": name, "version": "1", "config_sha256": "c1", "model_sha256": model, "score": score,
            "threshold": threshold}


def test_case_scores_match_paths_as_listed_or_under_the_evidence_root_and_report_the_rest() -> None:
    rows = [
        row("a/red.png", "/ev", stored(0.9)),
        row("blue.png", "/ev", stored(0.2)),
        row("plain.png", "/ev"),  # scanned without a detector
        row("other.png", "/ev2", stored(0.4)),  # not listed
    ]
    labels = [Label("./a/red.png", 1, 2), Label("/ev/blue.png", 0, 3), Label("plain.png", 1, 4),
              Label("never.png", 0, 5)]
    scored, identities = case_scores(labels, rows)
    assert [s.score for s in scored] == [0.9, 0.2, None, None]
    assert scored[2].problem == scored[3].problem == "no detector score stored in the case for this path"
    assert identities == [{"detector": "tiny", "version": "1", "config_sha256": "c1", "model_sha256": "m1",
                           "threshold": 0.5}]


def test_case_scores_refuse_two_detectors_unless_one_is_named() -> None:
    rows = [row("a.png", "/ev", stored(0.9), stored(0.1, name="other", model="m2")), row("b.png", "/ev", stored(0.3))]
    labels = [Label("a.png", 1, 2), Label("b.png", 0, 3)]
    with pytest.raises(ValueError, match="scored by 2 detectors .*tiny 1 .*other 1"):
        case_scores(labels, rows)
    scored, identities = case_scores(labels, rows, name="other")
    assert [s.score for s in scored] == [0.1, None] and identities[0]["model_sha256"] == "m2"
    scored, _ = case_scores(labels, rows, name="tiny")
    assert [s.score for s in scored] == [0.9, 0.3]


def test_a_path_in_two_evidences_with_different_scores_is_reported_not_guessed() -> None:
    rows = [row("a.png", "/ev1", stored(0.9)), row("a.png", "/ev2", stored(0.2))]
    scored, _ = case_scores([Label("a.png", 1, 2)], rows)
    assert scored[0].score is None and scored[0].problem is not None and "more than one evidence" in scored[0].problem
    scored, _ = case_scores([Label("/ev2/a.png", 1, 2)], rows)
    assert scored[0].score == 0.2


def test_evaluation_keeps_the_unscored_files_out_of_the_metrics_and_lists_them() -> None:
    scored = [Scored("a", 1, 0.9), Scored("b", 0, 0.2), Scored("c", 1, None, "not decoded (image_corrupt)")]
    report = evaluation(scored, 0.5, 4, {"detector": "tiny"})
    assert report["labelled"] == 3 and report["n"] == 2 and report["roc_auc"] == 1.0
    assert report["without_score"] == [{"path": "c", "label": 1, "problem": "not decoded (image_corrupt)"}]
    assert report["detector"] == {"detector": "tiny"} and len(report["bins"]) == 4
