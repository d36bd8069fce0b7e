"""``cairn detector``: check a user-supplied AI-image detector (ONNX model + JSON config), and evaluate it on the
user's own labelled pictures (ROC AUC, accuracy/precision/recall/F1 at a threshold, Brier score, calibration)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from cairn.cli.bars import counted

if TYPE_CHECKING:

    from cairn.signals.detector.run import Detector

detector_app = typer.Typer(
    help="A user-supplied AI-image detector (an ONNX model and its JSON config): check it, evaluate it.",
    no_args_is_help=True,
)
err = Console(stderr=True, soft_wrap=True)


def checked_detector(config_path: Path) -> Detector:
    """The detector of ``config_path``, loaded and run once on a grey picture; on any problem the command ends
    (exit 2) with what to fix (the config's field, the model's input, ``pip install onnxruntime``)."""
    from cairn.signals.detector.config import DetectorConfigError, load_config
    from cairn.signals.detector.run import DetectorRunError, DetectorUnavailable, open_detector, probe

    try:
        detector = open_detector(load_config(config_path))
        probe(detector)
    except DetectorConfigError as exc:
        err.print(f"[red]Bad detector config:[/] {exc}")
        raise typer.Exit(2) from exc
    except DetectorUnavailable as exc:
        err.print(f"[red]No detector runtime:[/] {exc}")
        raise typer.Exit(2) from exc
    except DetectorRunError as exc:
        err.print(f"[red]The detector cannot run:[/] {exc}")
        raise typer.Exit(2) from exc
    return detector


@detector_app.command("check")
def detector_check(
    config: Annotated[Path, typer.Argument(help="The detector's JSON config (its model path is relative to it).")],
) -> None:
    """Validate a detector config, load its model and run it once; print its name, version and digests."""
    detector = checked_detector(config)
    c = detector.config
    typer.echo(
        f"detector {c.name!r} version {c.version!r}: input {c.input.layout} {c.input.size[0]}x{c.input.size[1]} "
        f"(height x width) {c.input.channels}, output {c.output.kind} -> {c.output.label!r}, threshold "
        f"{c.threshold:g}; {detector.runtime}\n  config {c.path} SHA-256 {c.config_sha256}\n"
        f"  model  {c.model} SHA-256 {c.model_sha256}"
    )


@detector_app.command("evaluate")
def detector_evaluate(
    labels: Annotated[
        Path, typer.Option(help="CSV with a header 'path,label' (1 = AI-generated, 0 = not), one picture a row.")
    ],
    config: Annotated[
        Path | None, typer.Option(help="Run this detector config on the listed files (paths relative to the CSV).")
    ] = None,
    case: Annotated[
        Path | None, typer.Option("--case", "-c", help="Use the scores a scan with --detector stored in this case.")
    ] = None,
    db: Annotated[str | None, typer.Option("--db", help="The case's database URL (with --case).")] = None,
    name: Annotated[
        str | None, typer.Option(help="With --case: use only the scores of the detector of this name.")
    ] = None,
    threshold: Annotated[
        float | None,
        typer.Option(min=0.0, max=1.0, help="Scores at or above it are AI calls (default: the detector's own)."),
    ] = None,
    bins: Annotated[int, typer.Option(min=1, max=100, help="Equal-width bins of the calibration table.")] = 10,
    format: Annotated[str, typer.Option("--format", "-f", help="Output format: table or json.")] = "table",
    progress: Annotated[bool, typer.Option(help="Show a progress bar (with --config).")] = True,
) -> None:
    """Evaluate a detector on your own labelled pictures: ROC AUC, accuracy, precision, recall and F1 at the
    threshold, Brier score, expected calibration error and the reliability table.

    Labelled files without a score (unreadable, not a picture, not in the case, the detector failed) are listed
    with the reason and left out of the metrics.
    """
    from cairn.signals.detector.evaluate import LabelsError, evaluation, read_labels

    if format not in ("table", "json"):
        err.print(f"[red]Unknown format {format!r}:[/] choose table or json.")
        raise typer.Exit(2)
    if (config is None) == (case is None):
        err.print("[red]Give one source of scores:[/] --config CONFIG.json (run the detector) or --case CASE_DIR.")
        raise typer.Exit(2)
    try:
        rows = read_labels(labels)
    except LabelsError as exc:
        err.print(f"[red]Bad labels file {labels}:[/] {exc}")
        raise typer.Exit(2) from exc
    if config is not None:
        scored, source = _from_config(config, labels, rows, progress)
    else:
        assert case is not None
        scored, source = _from_case(case, db, rows, name)
    chosen = threshold if threshold is not None else float(source.get("threshold") or 0.5)
    report = evaluation(scored, chosen, bins, source)
    if format == "json":
        typer.echo(json.dumps(report, ensure_ascii=False, indent=2))
    else:
        _print_report(report)
    if report["without_score"]:
        err.print(
            f"[yellow]{len(report['without_score']):,} of {report['labelled']:,} labelled files have no score[/] "
            "and are left out of the metrics" + (" (listed above)" if format == "table" else " (see without_score)")
        )


def _from_config(config: Path, labels: Path, rows: list[Any], progress: bool) -> tuple[list[Any], dict[str, Any]]:
    from cairn.signals.detector.evaluate import score_files

    detector = checked_detector(config)
    with counted(progress, len(rows), "scoring pictures", err) as tick:
        scored = score_files(rows, labels.absolute().parent, detector, tick)
    c = detector.config
    source = {**c.identity(), "threshold": c.threshold, "runtime": detector.runtime, "source": f"config {c.path}"}
    return scored, source


def _from_case(case: Path, db: str | None, rows: list[Any], name: str | None) -> tuple[list[Any], dict[str, Any]]:
    from cairn.cli.main import _open_store
    from cairn.signals.detector.evaluate import case_scores

    with _open_store(case, db, create=False) as store:
        try:
            scored, identities = case_scores(rows, store.iter_file_rows(with_provenance=True), name)
        except ValueError as exc:
            err.print(f"[red]Not evaluated:[/] {exc} with --name NAME.")
            raise typer.Exit(2) from exc
    if not identities:
        err.print(
            f"[yellow]No detector score is stored in {case} for the listed files[/]"
            + (f" from a detector named {name!r}" if name else "")
            + ": scan the evidence with `cairn scan EVIDENCE --case CASE_DIR --detector CONFIG.json` first."
        )
    source = {**(identities[0] if identities else {"detector": name}), "source": f"case {case}"}
    return scored, source


def _num(value: float | None, digits: int = 4) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _print_report(report: dict[str, Any]) -> None:
    console = Console(soft_wrap=True)
    d = report["detector"]
    typer.echo(
        f"detector {d.get('detector')!r} version {d.get('version')!r} (model SHA-256 {d.get('model_sha256')}), "
        f"scores from the {d.get('source')}"
    )
    t = report["at_threshold"]
    summary = Table(show_header=False, title="Evaluation on the labelled set")
    for label, value in (
        ("labelled files", f"{report['labelled']:,}"),
        ("scored (n)", f"{report['n']:,}: {report['positives']:,} AI-generated, {report['negatives']:,} not"),
        ("ROC AUC", _num(report["roc_auc"])),
        (f"at threshold {t['threshold']:g}", f"TP {t['true_positives']:,}  FP {t['false_positives']:,}  "
         f"TN {t['true_negatives']:,}  FN {t['false_negatives']:,}"),
        ("accuracy", _num(t["accuracy"])),
        ("precision", _num(t["precision"])),
        ("recall", _num(t["recall"])),
        ("F1", _num(t["f1"])),
        ("Brier score", _num(report["brier"])),
        ("expected calibration error", _num(report["ece"])),
    ):
        summary.add_row(label, value)
    console.print(summary)
    table = Table("scores", "n", "mean score", "share AI-generated", "gap", title="Reliability (calibration)")
    for b in report["bins"]:
        table.add_row(
            f"{b['low']:.2f}-{b['high']:.2f}", f"{b['n']:,}", _num(b["mean_score"], 3), _num(b["positive_rate"], 3),
            _num(b["gap"], 3),
        )
    console.print(table)
    if report["without_score"]:
        missing = Table("path", "label", "why no score", title="Labelled files without a score")
        for m in report["without_score"]:
            missing.add_row(m["path"], str(m["label"]), m["problem"] or "-")
        console.print(missing)
    typer.echo("A score is a model's opinion, not proof: these numbers hold for this labelled set only.")
