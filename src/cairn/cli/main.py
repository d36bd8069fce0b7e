"""The ``cairn`` command line: demo evidence, scan, file listings, the audit chain and hash sets."""

from __future__ import annotations

import re
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TextIO

import typer
from rich.console import Console
from rich.table import Table

from cairn import __version__
from cairn.cli.bars import counted
from cairn.cli.detector import checked_detector, detector_app
from cairn.cli.terms import terms_app
from cairn.report.cli import report
from cairn.review.cli import serve, user_app

if TYPE_CHECKING:
    from rich.progress import TaskID

    from cairn.matching.schemes import SchemeMapping

app = typer.Typer(
    name="cairn",
    help="Forensic triage of seized media: what is on this evidence, what is known, what is new.",
    no_args_is_help=True,
    add_completion=False,
)
audit_app = typer.Typer(help="The tamper-evident audit chain of a case.", no_args_is_help=True)
app.add_typer(audit_app, name="audit")
hashset_app = typer.Typer(
    help="Hash sets (Project VIC, ICSE, CSV, ThreatExchange, NSRL, plain lists): stored once per database.",
    no_args_is_help=True,
)
app.add_typer(hashset_app, name="hashset")
app.add_typer(detector_app, name="detector")
app.add_typer(terms_app, name="terms")
app.add_typer(user_app, name="user")
app.command()(serve)
app.command()(report)

err = Console(stderr=True, soft_wrap=True)  # messages stay whole lines, whatever the terminal width

CaseOpt = Annotated[Path, typer.Option("--case", "-c", help="Case folder (holds the SQLite database).")]
DbOpt = Annotated[
    str | None,
    typer.Option("--db", help="Database URL, e.g. postgresql://user@host/db (default: SQLite in the case)."),
]


class Format(StrEnum):
    csv = "csv"
    json = "json"


def _open_store(case: Path, db: str | None, create: bool):  # type: ignore[no-untyped-def]
    """The case store: for a write command (``create``) or read-only (read commands never write anything)."""
    from cairn.case_config import CaseConfigError, resolve_db_url
    from cairn.store import CaseFolderMismatch, CaseStore
    from cairn.store.health import CaseDatabaseCorrupt
    from cairn.store.identity import CaseOpenError
    from cairn.store.rows import storable_text

    try:
        str(case.absolute()).encode("utf-8")
    except UnicodeEncodeError:
        err.print(
            f"[red]The case folder path {storable_text(str(case))} is not valid UTF-8.[/] Choose a case folder "
            "whose path is (evidence paths may be anything; the case's own path is recorded as text)."
        )
        raise typer.Exit(2) from None
    if not create and not case.is_dir():
        err.print(f"[red]No case folder at {case}.[/] Run `cairn scan EVIDENCE --case {case}` first.")
        raise typer.Exit(2)
    try:
        url = resolve_db_url(case, db, record_url=create)
        return CaseStore.open(case, url, read_only=not create)
    except (CaseConfigError, CaseFolderMismatch, CaseDatabaseCorrupt) as exc:
        err.print(f"[red]{exc}[/]")
        raise typer.Exit(2) from exc
    except CaseOpenError as exc:
        err.print(f"[red]Cannot read the case:[/] {exc}")
        raise typer.Exit(2) from exc


@app.command()
def version() -> None:
    """Print cairn's version."""
    typer.echo(__version__)


def _manifest_path(evidence_dir: Path) -> Path:
    """Where ``cairn demo`` keeps the manifest: beside the evidence folder, never inside it."""
    return evidence_dir.parent / f"{evidence_dir.name}.manifest.json"


@app.command()
def demo(
    evidence_dir: Annotated[Path, typer.Argument(help="Empty or new folder to write demo evidence into.")],
    size: Annotated[str, typer.Option(help="small | medium | large | a number of files.")] = "small",
    seed: Annotated[int, typer.Option(help="Seed: same seed and size give byte-identical evidence.")] = 7,
    replace: Annotated[
        bool,
        typer.Option(help="Regenerate a folder an earlier `cairn demo` made (one with its manifest beside it)."),
    ] = False,
) -> None:
    """Write benign synthetic 'seized drive' evidence (shapes, gradients, noise, archives, bad files).

    The manifest of what was written goes beside the folder as ``EVIDENCE_DIR.manifest.json``.
    """
    import shutil

    from cairn.demo import DemoError, generate

    manifest_path = _manifest_path(evidence_dir)
    if replace and evidence_dir.exists():
        if not manifest_path.exists():
            err.print(
                f"[red]Refusing to replace {evidence_dir}:[/] no {manifest_path.name} beside it, so cairn did "
                "not make it. Choose a new folder."
            )
            raise typer.Exit(2)
        shutil.rmtree(evidence_dir)
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from cairn.demo import parse_size

    try:
        _, target = parse_size(size)
    except DemoError as exc:
        err.print(f"[red]{exc}[/]")
        raise typer.Exit(2) from exc
    columns = (TextColumn("[bold]writing demo evidence"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    try:
        with Progress(*columns, console=err, transient=True) as bar:
            task = bar.add_task("demo", total=target)
            manifest = generate(evidence_dir, size, seed=seed, progress=lambda n: bar.update(task, completed=n))
    except DemoError as exc:
        err.print(f"[red]{exc}[/] (use --replace to regenerate a demo folder, or choose a new folder)")
        raise typer.Exit(2) from exc
    manifest_path.write_text(manifest.to_json(), encoding="utf-8")
    typer.echo(f"wrote {len(manifest.entries)} demo items into {evidence_dir} (manifest: {manifest_path})")


class Watermarks(StrEnum):
    auto = "auto"
    all = "all"
    off = "off"


@app.command()
def scan(
    evidence: Annotated[Path, typer.Argument(help="Evidence: a folder or an archive file (read only).")],
    case: CaseOpt,
    db: DbOpt = None,
    workers: Annotated[int, typer.Option(help="Worker processes; 0 = one per core.")] = 0,
    fast_pdq: Annotated[
        bool, typer.Option("--fast-pdq", help="Decode JPEGs at reduced scale for PDQ (not bit-identical).")
    ] = False,
    watermarks: Annotated[
        Watermarks,
        typer.Option(
            help="Invisible-watermark check: auto (pictures with a generation record, or both sides multiples of "
            "64 up to 2048), all (every colour picture of 256x256 or more), off."
        ),
    ] = Watermarks.auto,
    detector: Annotated[
        Path | None,
        typer.Option(
            help="Score every picture with this AI-image detector: a JSON config beside an ONNX model (see "
            "`cairn detector check`); needs onnxruntime."
        ),
    ] = None,
    actor: Annotated[str | None, typer.Option(help="Examiner name for the audit log.")] = None,
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
    batch: Annotated[int, typer.Option(help="Files stored per database transaction.", min=1)] = 256,
    temp_dir: Annotated[
        Path | None, typer.Option(help="Where large archive members are spooled (default: the system temp).")
    ] = None,
    item_timeout: Annotated[
        float,
        typer.Option(
            help="Seconds one item may take (plus 60 s per GiB of it); past it: a timeout error, a new worker. "
            "0 = none (then one worker runs inline).",
            min=0,
        ),
    ] = 300.0,
    decode_memory: Annotated[
        int | None,
        typer.Option(
            help="MiB one worker may spend decoding one picture (default: half the memory / workers, >= 256).",
            min=16,
        ),
    ] = None,
    auto_match: Annotated[
        bool,
        typer.Option(
            "--match/--no-match",
            help="When the database holds hash sets, run `cairn match` (default settings) after the scan.",
        ),
    ] = True,
) -> None:
    """Hash and analyse every file of EVIDENCE into the case database; resumes an interrupted scan.

    When the case's database holds at least one complete hash set, the scan ends by matching the case
    against them (as `cairn match` with its defaults would) unless --no-match is given.
    """
    from cairn.pipeline.scan import ResumeMismatch
    from cairn.pipeline.scan import scan as run_scan
    from cairn.settings import Limits, ScanSettings
    from cairn.signals.detector.config import DetectorConfigError
    from cairn.sources.base import OutOfSpace
    from cairn.store.locks import ScanInProgress

    if not evidence.exists():
        err.print(f"[red]No evidence at {evidence}.[/] Give a folder or an archive file.")
        raise typer.Exit(2)
    evidence_root = evidence.resolve()
    for label, folder in (("case folder", case), ("temp folder", temp_dir)):
        if folder is not None and evidence_root.is_dir() and folder.resolve().is_relative_to(evidence_root):
            err.print(
                f"[red]The {label} {folder} is inside the evidence {evidence}.[/] cairn never writes into "
                f"evidence: choose a {label} outside it."
            )
            raise typer.Exit(2)
    if detector is not None:
        checked_detector(detector)  # a config, model or runtime problem ends the command before the scan
    limits = Limits(
        item_timeout=item_timeout,
        decode_memory_budget=decode_memory * 1024**2 if decode_memory is not None else None,
    )
    settings = ScanSettings(
        limits=limits,
        fast_pdq=fast_pdq,
        workers=workers,
        temp_dir=str(temp_dir) if temp_dir else None,
        watermarks=watermarks.value,
        detector=str(detector.resolve()) if detector is not None else None,
    )
    with _open_store(case, db, create=True) as store:
        try:
            summary = run_scan(evidence, store, settings, actor=actor, show_progress=progress, console=err,
                               batch_items=batch)
        except KeyboardInterrupt:
            err.print("[yellow]Interrupted.[/] Run the same `cairn scan` again to finish where it stopped.")
            raise typer.Exit(130) from None
        except ResumeMismatch as exc:
            err.print(f"[red]Not resumed:[/] {exc}")
            raise typer.Exit(2) from exc
        # the detector changed after it was checked, or another scan of this evidence is running
        except (DetectorConfigError, ScanInProgress) as exc:
            err.print(f"[red]Not scanned:[/] {exc}")
            raise typer.Exit(2) from exc
        except OutOfSpace as exc:
            err.print(f"[red]Out of space:[/] {exc.strerror}")
            raise typer.Exit(3) from exc
        matched = _match_after_scan(store, actor, progress) if auto_match and summary.status == "completed" else None
        totals = store.counts()
    table = Table(title=f"cairn scan: {evidence}", show_header=False)
    table.add_row("case", str(case))
    table.add_row("run", f"#{summary.run_id} {summary.status} in {summary.seconds:.1f} s")
    table.add_row("files this run", f"{summary.files:,} ({summary.bytes / 1e6:,.1f} MB)")
    if summary.skipped_already_done:
        table.add_row("already stored", f"{summary.skipped_already_done:,} (resumed)")
    table.add_row("images", f"{summary.images:,}")
    table.add_row("containers", f"{summary.containers:,}")
    table.add_row("with errors", f"{summary.errors:,}")
    if summary.path_collisions:
        table.add_row(
            "[red]path collisions[/]",
            f"{summary.path_collisions:,} items named like a stored file, stored renamed with a path_collision "
            "error: please report this",
        )
    from cairn.errors import is_note

    for code, n in sorted(summary.error_codes.items()):
        table.add_row(f"  {code}" + (" (note)" if is_note(code) else ""), f"{n:,}")
    table.add_row("case totals", ", ".join(f"{k} {v:,}" for k, v in totals.items()))
    table.add_row("evidence digest", summary.evidence_digest or "-")
    if matched is not None:
        c = matched["counts"]
        table.add_row(
            "matches",
            f"run #{matched['match_run_id']}: {c['files_matched']:,} files matched ({c['exact_hits']:,} exact hits, "
            f"{c['pdq_hits']:,} PDQ hits, {c['ignorable_hits']:,} on known-harmless sets) against "
            + ", ".join(s["name"] for s in matched["settings"]["sets"]),
        )
    Console().print(table)


def _match_after_scan(store, actor: str | None, progress: bool):  # type: ignore[no-untyped-def]
    """`cairn match` with its default settings when the database holds a complete hash set; else None."""
    from cairn.store.case_store import default_actor

    if not store.hash_sets():
        return None
    interrupted = _interrupted("the scan is stored; run `cairn match` to match it.", label="Matching interrupted:")
    with _match_progress(progress) as tick, interrupted:
        return store.run_match(actor=actor or default_actor(), progress=tick)


@app.command()
def files(
    case: CaseOpt,
    db: DbOpt = None,
    format: Annotated[Format, typer.Option("--format", "-f", help="Output format.")] = Format.csv,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write here instead of stdout.")] = None,
) -> None:
    """One row per file: path, size, type, md5, sha1, sha256, pdq, pdq_quality, width, height, error, ...

    ... then extension_mismatch, mtime (ISO 8601 UTC) and evidence (the root the file came from). JSON adds
    ``matches``: the file's hits in the latest `cairn match` run, ``group``, and ``provenance``: the file's
    generation records, watermark and C2PA findings and provenance warnings.
    """
    from cairn.report.export import write_csv, write_json

    writer = write_csv if format is Format.csv else write_json
    with_matches = format is Format.json
    with _open_store(case, db, create=False) as store:
        if output is None:
            writer(store.iter_file_rows(with_matches=with_matches, with_provenance=with_matches), sys.stdout)
        else:
            with output.open("w", encoding="utf-8", newline="") as fh:
                n = writer(store.iter_file_rows(with_matches=with_matches, with_provenance=with_matches), fh)
            err.print(f"wrote {n:,} rows to {output}")


@app.command()
def provenance(
    case: CaseOpt,
    db: DbOpt = None,
    format: Annotated[str, typer.Option("--format", "-f", help="Output format: table or json.")] = "table",
    top: Annotated[int, typer.Option(min=1, help="How many models and LoRAs to list.")] = 20,
) -> None:
    """Summarise the case's AI provenance: images with generation records by tool, top models and LoRAs (by hash
    kind and hash, and by name), watermark and C2PA findings, and images whose records are only in the pixels.
    """
    import json

    if format not in ("table", "json"):
        err.print(f"[red]Unknown format {format!r}:[/] choose table or json.")
        raise typer.Exit(2)
    with _open_store(case, db, create=False) as store:
        summary = store.provenance_summary(top=top)
    if format == "json":
        typer.echo(json.dumps(summary, ensure_ascii=False, indent=2))
        return
    console = Console(soft_wrap=True)
    typer.echo(
        f"{summary['images_with_records']:,} images carry {summary['records']:,} generation records "
        f"({summary['declared_ai_images']:,} declared AI by XMP/EXIF only)"
    )
    tools = Table("tool", "images", "records", title="Generation records by tool")
    for row in summary["by_tool"]:
        tools.add_row(row["tool"], str(row["images"]), str(row["records"]))
    console.print(tools)
    for label in ("models", "loras"):
        by_hash = Table("hash kind", "hash", "images", "names", title=f"Top {label} by hash")
        for row in summary[label]["by_hash"]:
            by_hash.add_row(row["hash_kind"], row["hash"], str(row["images"]), ", ".join(row.get("names", [])))
        console.print(by_hash)
        by_name = Table("name", "images", title=f"Top {label} by name")
        for row in summary[label]["by_name"]:
            by_name.add_row(row["name"], str(row["images"]))
        console.print(by_name)
    marks, c2pa = summary["watermarks"], summary["c2pa"]
    typer.echo(
        f"watermarks: {marks['findings']:,} findings in {marks['images']:,} images"
        + "".join(f"; {r['scheme']} {r['verdict']}: {r['findings']}" for r in marks["by_scheme"])
    )
    codes = ", ".join(f"{k} {v}" for k, v in c2pa["failure_codes"].items())
    typer.echo(
        f"C2PA: {c2pa['findings']:,} findings in {c2pa['images']:,} images, "
        f"{c2pa['ai_generated_images']:,} declaring generative AI; states "
        + (", ".join(f"{k} {v}" for k, v in c2pa["by_state"].items()) or "-")
        + (f"; failure codes {codes}" if codes else "")
    )
    typer.echo(f"provenance warnings: {summary['warnings']['findings']:,} in {summary['warnings']['images']:,} images")
    typer.echo(f"records only in the pixels (metadata stripped): {len(summary['pixels_only']):,}")
    for path in summary["pixels_only"]:
        typer.echo(f"  {path}")
    for det in summary["detectors"]:
        typer.echo(
            f"detector {det['detector']} {det['version']}: {det['scored']:,} pictures scored, "
            f"{det['above_threshold']:,} at or above its threshold (a model's opinion, not proof)"
        )
    _print_models(console, summary["models_on_evidence"])
    terms = summary["term_hits"]
    if terms["lists"]:
        typer.echo(
            f"term hits ({terms['lists']} list(s)): {terms['hits']:,} in {terms['model_files']:,} model files and "
            f"{terms['images']:,} images; `cairn terms hits --case {case}` lists them"
        )


def _print_models(console: Console, report: dict[str, Any]) -> None:
    """The model-file part of ``cairn provenance``: files on the evidence and the images naming each."""
    table = Table(title="Model files on the evidence")
    table.add_column("model file", overflow="fold", ratio=3)  # the path matters most: wrapped, never cut
    for column in ("format", "kind", "family", "images by hash", "by name only"):
        table.add_column(column, overflow="fold", ratio=1)
    for row in report["model_files"]:
        table.add_row(
            row["path"], row["format"], str(row["kind"] or "-"), str(row["family"] or "-"),
            str(row["images_by_hash"]), str(row["images_by_name_only"]),
        )
    console.print(table)
    if report["model_files_in_other_cases"]:
        other = Table("case", "model file", "images by hash", "by name only", title="Named models found in other cases")
        for row in report["model_files_in_other_cases"]:
            other.add_row(row["case"], row["path"], str(row["images_by_hash"]), str(row["images_by_name_only"]))
        console.print(other)
    if report["references_in_lists"]:
        listed = Table(
            "role", "name", "hash kind", "hash", "images", "list: label", title="Named models in reference lists"
        )
        for ref in report["references_in_lists"]:
            labels = "; ".join(f"{e['set']}: {e['label'] or '-'}" for e in ref["entries"])
            listed.add_row(*(str(ref[k] or "-") for k in ("role", "name", "hash_kind", "hash", "images")), labels)
        console.print(listed)
    missing = Table("role", "name", "hash kind", "hash", "images", title="Named models not found on any evidence")
    for ref in report["references_not_found"]:
        missing.add_row(*(str(ref[k] or "-") for k in ("role", "name", "hash_kind", "hash", "images")))
    console.print(missing)


@audit_app.command("verify")
def audit_verify(case: CaseOpt, db: DbOpt = None) -> None:
    """Check the audit chain; exit 1 on any edited, deleted, reordered or missing entry."""
    with _open_store(case, db, create=False) as store:
        problems = store.audit_verify()
        entries = len(store.audit_entries())
    if problems:
        for problem in problems:
            err.print(f"[red]BROKEN[/] {problem}")
        err.print(f"[red]audit chain of {case} is NOT intact ({len(problems)} problem(s))[/]")
        raise typer.Exit(1)
    typer.echo(f"audit chain intact: {entries} entries")


@audit_app.command("show")
def audit_show(case: CaseOpt, db: DbOpt = None) -> None:
    """Print the audit log, oldest first."""
    with _open_store(case, db, create=False) as store:
        for entry in store.audit_entries():
            typer.echo(f"{entry['seq']:>5} {entry['at']} {entry['actor']:<12} {entry['action']:<22} "
                       f"{entry['details_json']}")


@app.command()
def upgrade(case: CaseOpt, db: DbOpt = None) -> None:
    """Migrate a case's database to this cairn's schema and give a case made before case ids its id.

    A write command (read commands never change a case): for a case on read-only media, upgrade a copy.
    """
    from cairn.case_config import read_config
    from cairn.store.migrate import HEAD_REVISION

    if not (case / "case.db").is_file() and db is None and read_config(case).db_url is None:
        err.print(f"[red]No case at {case}.[/] Give the case folder a `cairn scan` made.")
        raise typer.Exit(2)
    with _open_store(case, db, create=True) as store:
        uid = read_config(case).uid
    typer.echo(f"case {store.case_name!r} is at schema revision {HEAD_REVISION}; its id is {uid}")


@app.command()
def runs(case: CaseOpt, db: DbOpt = None) -> None:
    """List the scan runs of a case with their status and counts."""
    with _open_store(case, db, create=False) as store:
        for run in store.runs():
            counts = run.get("counts") or {}
            summary = ", ".join(f"{k} {v}" for k, v in counts.items() if not isinstance(v, dict))
            typer.echo(
                f"#{run['id']} evidence {run['evidence_id']} {run['status']:<11} {run['started_at']} -> "
                f"{run['ended_at'] or '-'}  {summary}"
            )


@app.command()
def match(
    case: CaseOpt,
    db: DbOpt = None,
    pdq_threshold: Annotated[
        int, typer.Option("--pdq-threshold", min=0, max=256, help="Largest PDQ Hamming distance that matches.")
    ] = 31,
    sets: Annotated[
        list[str] | None, typer.Option("--set", help="Match only this hash set (repeat for several; default all).")
    ] = None,
    dihedral: Annotated[
        bool,
        typer.Option(
            "--dihedral",
            help="Also match each picture's 7 rotated/mirrored PDQ variants (rot90, rot180, rot270, flipx, flipy, "
            "flipplus, flipminus); a hit records the transform.",
        ),
    ] = False,
    actor: Annotated[str | None, typer.Option(help="Examiner name for the audit log.")] = None,
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
) -> None:
    """Match the case's files against the database's hash sets: exact (md5, sha1, sha256) and PDQ near-match.

    Each run is recorded (settings, the sets' SHA-256, counts) and audited; `cairn files --format json` shows
    the latest run's hits. Run it again after importing a new set: no rescan needed. With --dihedral, rotated
    and mirrored copies of listed pictures are found too; each such hit names its `transform`.
    """
    from cairn.store.case_store import default_actor

    with (
        _open_store(case, db, create=True) as store,
        _match_progress(progress) as tick,
        _interrupted("this match run was not kept; the previous results still show."),
        _sets_refused(case),
    ):
        summary = store.run_match(
            actor=actor or default_actor(),
            set_names=sets,
            pdq_threshold=pdq_threshold,
            progress=tick,
            dihedral=dihedral,
        )
    counts = summary["counts"]
    names = ", ".join(s["name"] for s in summary["settings"]["sets"])
    turned = f" ({counts['dihedral_hits']:,} rotated/mirrored)" if dihedral else ""
    typer.echo(
        f"match run #{summary['match_run_id']} against {names}: {counts['files_matched']:,} files matched "
        f"({counts['exact_hits']:,} exact hits, {counts['pdq_hits']:,} PDQ hits within {pdq_threshold}{turned}, "
        f"{counts['ignorable_hits']:,} on known-harmless sets); {counts['pdq_skipped_low_quality']:,} PDQs below "
        "quality 50 skipped"
    )
    if dihedral and counts["pdq_without_variants"]:
        err.print(
            f"[yellow]{counts['pdq_without_variants']:,} pictures have no stored rotated/mirrored PDQ variants[/] "
            "(scanned by an older cairn): only their own PDQ was matched. Scan the evidence again into a new "
            "--case folder to match their rotations and flips."
        )


@app.command()
def groups(
    case: CaseOpt,
    db: DbOpt = None,
    pdq_threshold: Annotated[
        int, typer.Option("--pdq-threshold", min=0, max=256, help="Largest PDQ Hamming distance that groups.")
    ] = 31,
    format: Annotated[str, typer.Option("--format", "-f", help="Output format: table or json.")] = "table",
    actor: Annotated[str | None, typer.Option(help="Examiner name for the audit log.")] = None,
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
) -> None:
    """Group the case's near-duplicate files ("stacks"): exact copies first, then PDQs within the threshold.

    A reviewer sees one representative per group (highest PDQ quality, then most pixels, then first path).
    Each run is stored and audited; `cairn files --format json` shows each file's `group` from the latest run.
    """
    import json

    from cairn.store.case_store import default_actor

    if format not in ("table", "json"):
        err.print(f"[red]Unknown format {format!r}:[/] choose table or json.")
        raise typer.Exit(2)
    with _open_store(case, db, create=True) as store, _match_progress(progress) as tick:
        with _interrupted("no groups were stored; the previous groups still show."):
            summary = store.run_groups(
                actor=actor or default_actor(),
                pdq_threshold=pdq_threshold,
                progress=None if tick is None else (lambda done, total: tick("groups", done, total)),
            )
        found = store.groups()
    counts = summary["counts"]
    if format == "json":
        typer.echo(json.dumps({"group_run_id": summary["group_run_id"], "settings": summary["settings"],
                               "counts": counts, "groups": found}, ensure_ascii=False, indent=2))
        return
    table = Table("group", "files", "representative", "members (PDQ distance to the representative)")
    for g in found:
        others = [f"{m['path']} ({'-' if m['distance'] is None else m['distance']})"
                  for m in g["members"] if not m["representative"]]
        table.add_row(str(g["group"]), str(len(g["members"])), g["representative"], "\n".join(others))
    Console(soft_wrap=True).print(table)
    typer.echo(
        f"group run #{summary['group_run_id']}: {counts['groups']:,} groups of {counts['grouped_files']:,} files "
        f"(of {counts['files']:,}; PDQ within {pdq_threshold}, {counts['pdq_skipped']:,} without a PDQ of "
        "quality 50 compared by SHA-256 only)"
    )


@contextmanager
def _interrupted(message: str, label: str = "Interrupted:") -> Iterator[None]:
    """Ctrl-C in the block: say what was kept (``message``) and exit 130."""
    try:
        yield
    except KeyboardInterrupt:
        err.print(f"[yellow]{label}[/] {message}")
        raise typer.Exit(130) from None


@contextmanager
def _sets_refused(case: Path) -> Iterator[None]:
    """Exit 2, saying what to do, on the refusals of ``run_match``/``match_hashes``: ``KeyError`` (no set of that
    name) or ``ValueError`` (no set to match against)."""
    try:
        yield
    except KeyError as exc:
        err.print(f"[red]No hash set named {exc.args[0]}[/] in this database; `cairn hashset list` shows them.")
        raise typer.Exit(2) from exc
    except ValueError as exc:
        err.print(f"[red]Nothing matched:[/] {exc}. Import one with `cairn hashset import FILE --case {case}`.")
        raise typer.Exit(2) from exc


@contextmanager
def _match_progress(show: bool) -> Iterator[Callable[[str, int, int], None] | None]:
    """A progress bar per matching stage (nothing when ``show`` is False)."""
    if not show:
        yield None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    columns = (TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    labels = {"index": "PDQ index", "match": "matching hashes"}
    with Progress(*columns, console=err, transient=True) as bar:
        tasks: dict[str, TaskID] = {}

        def tick(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(labels.get(stage, stage), total=total)
            bar.update(tasks[stage], completed=done, total=total)

        yield tick


class SetFormat(StrEnum):
    auto = "auto"
    vics = "vics"
    csv = "csv"
    icse = "icse"
    te = "te"
    nsrl = "nsrl"
    list = "list"


class SetScheme(StrEnum):
    vic_us = "vic-us"
    dhs = "dhs"
    caid = "caid"
    none = "none"


class ExportFormat(StrEnum):
    vics = "vics"
    csv = "csv"


@hashset_app.command("import")
def hashset_import(
    file: Annotated[Path, typer.Argument(help="The hash-set file (read only).")],
    case: CaseOpt,
    db: DbOpt = None,
    name: Annotated[str | None, typer.Option(help="The set's name in the database (default: the file's stem).")] = None,
    format: Annotated[SetFormat, typer.Option("--format", "-f", help="The file's format.")] = SetFormat.auto,
    scheme: Annotated[
        SetScheme | None, typer.Option(help="Category scheme of the file (default: the format's own).")
    ] = None,
    known_harmless: Annotated[
        bool | None,
        typer.Option(
            "--known-harmless/--known-bad",
            help="Whether the set lists known-harmless files (ignorable) or known material; required for plain lists.",
        ),
    ] = None,
    mapping: Annotated[
        Path | None,
        typer.Option(
            help="A JSON mapping table for the file's category codes (e.g. a tool's CAID codes in a VICS file): "
            '{"source": "vics-code", "target": "caid", "table": {"1": "A", ...}}. The set takes its target scheme.'
        ),
    ] = None,
    actor: Annotated[str | None, typer.Option(help="Examiner name for the audit log.")] = None,
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
) -> None:
    """Import a hash set into the case's database (every case in that database can then use it)."""
    from cairn.matching.formats import ReadOptions, UnknownFormat, WrongFormat, detect_format
    from cairn.matching.schemes import SchemeError
    from cairn.store.case_store import default_actor
    from cairn.store.hash_sets import HashSetRefused

    if not file.is_file():
        err.print(f"[red]No hash-set file at {file}.[/] Give the path of a file to import.")
        raise typer.Exit(2)
    try:
        chosen = detect_format(file).name if format is SetFormat.auto else format.value
    except UnknownFormat as exc:
        err.print(f"[red]{exc}.[/] Name the format with --format (vics, csv, icse, te, nsrl, list).")
        raise typer.Exit(2) from exc
    code_table = _load_mapping_option(mapping)
    if code_table is not None and scheme is not None and scheme.value != code_table.target:
        err.print(
            f"[red]--scheme {scheme.value} and --mapping {mapping} disagree:[/] the mapping gives {code_table.target} "
            "categories. Leave out --scheme (the mapping's target is the set's scheme)."
        )
        raise typer.Exit(2)
    if code_table is None or chosen == "list":  # a mapping is the scheme a CSV category column needs
        _check_import_options(file, chosen, scheme, known_harmless)
    options = ReadOptions(scheme=scheme.value if scheme else None, code_table=code_table, ignorable=known_harmless)
    with _open_store(case, db, create=True) as store:
        try:
            with (
                _interrupted("nothing of this set was kept. Run the same command again."),
                _record_progress(progress) as tick,
            ):
                summary = store.import_hash_set(
                    file, actor=actor or default_actor(), name=name, format_name=chosen, options=options,
                    progress=tick,
                )
        except HashSetRefused as exc:
            err.print(f"[red]Not imported:[/] {exc}")
            raise typer.Exit(2) from exc
        except (WrongFormat, UnknownFormat) as exc:
            err.print(f"[red]{file} is not a {chosen} file:[/] {exc}. Check --format (or use --format auto).")
            raise typer.Exit(2) from exc
        except SchemeError as exc:
            err.print(f"[red]Not imported:[/] {exc}. Check --scheme.")
            raise typer.Exit(2) from exc
    for warning in summary["warning_samples"][:10]:
        err.print(f"[yellow]warning[/] line/record {warning}")
    typer.echo(
        f"imported hash set {summary['name']!r}: {summary['records']:,} records, {summary['warnings']:,} warnings "
        f"({summary['skipped']:,} rows skipped); format {summary['format']}, scheme {summary['scheme']}, "
        f"{'known-harmless' if summary['ignorable'] else 'known material'}; SHA-256 {summary['source_sha256']}"
    )


def _load_mapping_option(path: Path | None) -> SchemeMapping | None:
    """The ``--mapping`` table read from ``path`` (None without one); a file that is not one ends the command
    with what is wrong and the expected shape."""
    from cairn.matching.schemes import SchemeError, load_mapping

    if path is None:
        return None
    try:
        return load_mapping(path)
    except SchemeError as exc:
        err.print(
            f"[red]Bad --mapping file:[/] {exc}. Expected JSON like "
            '{"source": "vics-code", "target": "caid", "table": {"1": "A", "2": "B", "3": "C", "4": "N"}}.'
        )
        raise typer.Exit(2) from exc


def _check_import_options(file: Path, chosen: str, scheme: SetScheme | None, known_harmless: bool | None) -> None:
    """Refuse, saying what to add, a plain list without --known-harmless/--known-bad, or a CSV whose category
    column has no --scheme to read it in."""
    if chosen == "list" and known_harmless is None:
        err.print(
            f"[red]{file.name} is a plain hash list:[/] say what it lists with --known-harmless (files to set "
            "aside) or --known-bad (known material)."
        )
        raise typer.Exit(2)
    if chosen == "vics" and scheme is None:
        with file.open("rb") as stream:
            variant = re.search(rb"/2\.0\.xml/(UK|CUSTOM)/", stream.read(65536), re.IGNORECASE)
        if variant is not None:
            err.print(
                f"[red]{file.name} is a VICS 2.0 {variant.group(1).decode().upper()} file:[/] its Category bytes are "
                "the exporting tool's own codes (UK CAID A/B/C/non-indecent), not Project VIC US categories. Give "
                '--mapping TABLE.json ({"source": "vics-code", "target": "caid", "table": {"1": "A", ...}}) to read '
                "them, or --scheme none to import the hashes without categories (the codes are kept verbatim)."
            )
            raise typer.Exit(2)
    if chosen == "csv" and scheme is None:
        from cairn.matching.formats._text import column_name, delimiter_of, first_line

        with file.open("rb") as stream:
            line = first_line(stream.read(65536))
        if "category" in {column_name(c) for c in line.split(delimiter_of(line))}:
            err.print(
                f"[red]{file.name} has a category column but no scheme:[/] add --scheme vic-us, dhs, caid or none "
                "(the same number means different things in different schemes)."
            )
            raise typer.Exit(2)


@contextmanager
def _record_progress(show: bool) -> Iterator[Callable[[int], None] | None]:
    """A progress bar of records imported and records/s (nothing when ``show`` is False)."""
    if not show:
        yield None
        return
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    columns = (
        SpinnerColumn(),
        TextColumn("[bold]importing[/] {task.completed:,.0f} records"),
        TextColumn("{task.fields[rate]}"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=err, transient=True) as bar:
        task = bar.add_task("import", total=None, rate="")
        started = time.monotonic()

        def tick(done: int) -> None:
            elapsed = max(time.monotonic() - started, 1e-6)
            bar.update(task, completed=done, rate=f"{done / elapsed:,.0f} records/s")

        yield tick


@hashset_app.command("list")
def hashset_list(case: CaseOpt, db: DbOpt = None) -> None:
    """List the hash sets of the case's database with their counts, format, scheme and source digest."""
    with _open_store(case, db, create=False) as store:
        sets = store.hash_sets()
    if not sets:
        typer.echo("no hash sets in this database (import one with `cairn hashset import FILE --case CASE_DIR`)")
        return
    table = Table(title="hash sets")
    for column in ("name", "records", "warnings", "format", "scheme", "kind", "imported", "by", "source SHA-256"):
        table.add_column(column, overflow="fold")
    for s in sets:
        table.add_row(
            s["name"], f"{s['record_count']:,}", f"{s['warning_count']:,}", s["format"], s["scheme"],
            "known-harmless" if s["ignorable"] else "known material", s["imported_at"], s["imported_by"],
            s["source_sha256"],
        )
    Console(width=200).print(table)


@hashset_app.command("export")
def hashset_export(
    case: CaseOpt,
    set_name: Annotated[str, typer.Option("--set", help="The name of the set (see `cairn hashset list`).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="The file to write.")],
    db: DbOpt = None,
    format: Annotated[ExportFormat, typer.Option("--format", "-f", help="vics (VICS 2.0) or csv.")] = (
        ExportFormat.vics
    ),
    only_categorised: Annotated[
        bool, typer.Option("--only-categorised", help="Leave out records that carry no category.")
    ] = False,
    mapping: Annotated[
        Path | None,
        typer.Option(
            help="VICS only: a JSON mapping table (source vics-code, target the set's scheme) giving the Category "
            "byte to write for each category, e.g. the receiving tool's CAID codes."
        ),
    ] = None,
) -> None:
    """Write a hash set as VICS 2.0 JSON or plain CSV (its categories in the set's scheme)."""
    from cairn.matching.schemes import SchemeError

    code_table = _load_mapping_option(mapping)
    with _open_store(case, db, create=False) as store:
        if not any(s["name"] == set_name for s in store.hash_sets()):
            err.print(f"[red]No hash set named {set_name!r}[/] in this database; `cairn hashset list` shows them.")
            raise typer.Exit(2)
        try:
            with out.open("w", encoding="utf-8", newline="") as fh:
                report = store.export_hash_set(
                    set_name, format.value, fh, only_categorised=only_categorised, mapping=code_table
                )
        except SchemeError as exc:
            out.unlink(missing_ok=True)
            err.print(f"[red]Not exported:[/] {exc}. Check --mapping (its target must be the set's scheme).")
            raise typer.Exit(2) from exc
    for warning in report.warnings[:10]:
        err.print(f"[yellow]warning[/] record {warning.position}: {warning.message}")
    typer.echo(f"wrote {report.written:,} records of {set_name!r} to {out} ({len(report.warnings):,} warnings)")


#: The columns `cairn hashset match-file` writes, one line per hit.
MATCH_FILE_COLUMNS = (
    "query", "query_line", "set", "kind", "distance", "category_scheme", "category_value", "category_label", "series",
)


@hashset_app.command("match-file")
def hashset_match_file(
    queries: Annotated[Path, typer.Argument(help="CSV with a pdq, md5, sha1 or sha256 column (read only).")],
    case: CaseOpt,
    db: DbOpt = None,
    sets: Annotated[
        list[str] | None, typer.Option("--set", help="Match only this hash set (repeat for several; default all).")
    ] = None,
    pdq_threshold: Annotated[
        int, typer.Option("--pdq-threshold", min=0, max=256, help="Largest PDQ Hamming distance that matches.")
    ] = 31,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="The CSV to write (default: stdout).")] = None,
    chunk: Annotated[int, typer.Option(help="Queries per chunk (bounds memory).", min=1, hidden=True)] = 100_000,
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
) -> None:
    """Match hashes that arrived without media against the database's hash sets; one CSV line per hit.

    The same index and code path as `cairn match`, in chunks, so millions of queries fit in bounded memory.
    Read-only: nothing about the case changes (no file, match run or hit of the case is involved), so the
    case database and its audit log are not written; the output file is the record of the result.
    """
    from cairn.matching.formats import WrongFormat
    from cairn.matching.match import chunked
    from cairn.matching.queries import QueryReport, count_lines, read_queries

    if not queries.is_file():
        err.print(f"[red]No queries file at {queries}.[/] Give a CSV with a pdq, md5, sha1 or sha256 column.")
        raise typer.Exit(2)
    report = QueryReport()
    with _open_store(case, db, create=False) as store:
        with _sets_refused(case):
            hits = store.match_hashes(
                chunked(read_queries(queries, report), chunk), set_names=sets, pdq_threshold=pdq_threshold
            )
        try:
            with _open_out(out) as fh, counted(progress, count_lines(queries), "matching lines", err) as tick:
                written = _write_hits(hits, fh, tick)
        except WrongFormat as exc:
            err.print(f"[red]{queries} holds no hash column:[/] {exc}. Name a column pdq, md5, sha1 or sha256.")
            raise typer.Exit(2) from exc
    for warning in report.read.warnings[:10]:
        err.print(f"[yellow]warning[/] line {warning.position}: {warning.message}")
    counts = report.counts
    err.print(
        f"{counts.queries:,} hashes matched ({report.read.skipped:,} rows skipped, {report.read.warning_count:,} "
        f"warnings, {counts.pdq_skipped_low_quality:,} PDQs below quality 50 skipped): {written:,} hits"
        + (f" written to {out}" if out is not None else "")
    )


@contextmanager
def _open_out(out: Path | None) -> Iterator[TextIO]:
    if out is None:
        yield sys.stdout
        return
    with out.open("w", encoding="utf-8", newline="") as fh:
        yield fh


def _write_hits(chunks: Iterator[list[dict[str, Any]]], fh: TextIO, tick: Callable[[int], None] | None) -> int:
    """Write every hit as a CSV line (text cells neutralised for spreadsheets); return how many."""
    import csv

    from cairn.report.export import neutralise

    writer = csv.writer(fh, lineterminator="\n")
    writer.writerow(MATCH_FILE_COLUMNS)
    written = 0
    for rows in chunks:
        for r in rows:
            cells = [r["query"], r["key"], r["set"], r["kind"], r["distance"], r["category_scheme"],
                     r["category_value"], r["category_label"], r["series"]]
            writer.writerow(["" if c is None else neutralise(c) if isinstance(c, str) else c for c in cells])
        written += len(rows)
        if tick is not None and rows:
            tick(int(rows[-1]["key"]))
    return written


def main() -> None:  # pragma: no cover - console entry point
    app()
