"""``cairn report``: a case's self-contained HTML triage report (and, with ``--pdf``, its PDF print).

Registered on the main app by :mod:`cairn.cli.main`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

_Case = Annotated[Path, typer.Option("--case", "-c", help="Case folder (holds the SQLite database).")]
_Db = Annotated[str | None, typer.Option("--db", help="Database URL (default: the case's own).")]


def report(
    case: _Case,
    out: Annotated[Path, typer.Option("--out", "-o", help="The HTML file to write (replaced if it exists).")],
    db: _Db = None,
    pdf: Annotated[
        Path | None, typer.Option(help="Also print the report to this PDF with the headless chromium.")
    ] = None,
    with_thumbnails: Annotated[
        bool,
        typer.Option(
            "--with-thumbnails",
            help="Embed the pictures of note's stored thumbnails, blurred and greyscale (the report then holds media).",
        ),
    ] = False,
    actor: Annotated[str | None, typer.Option(help="Examiner name for the audit log.")] = None,
) -> None:
    """Write a self-contained HTML triage report of the case: evidence and runs, counts, file types, known and
    unknown, categories, near duplicates, AI provenance, model files, term hits, review exposure, timeline.

    No media unless --with-thumbnails. The same case state gives the same bytes. Recorded in the case's audit log
    (report.generated, with the file's SHA-256): a write command, which migrates an older case as `cairn upgrade`.
    """
    from cairn.case_config import read_config
    from cairn.cli.main import _open_store, err
    from cairn.report import pdf as _pdf
    from cairn.report.build import write_report
    from cairn.report.pdf import ChromiumMissing, PdfFailed
    from cairn.store.case_store import default_actor

    if not case.is_dir() or (not (case / "case.db").is_file() and db is None and read_config(case).db_url is None):
        err.print(f"[red]No case at {case}.[/] Give the case folder a `cairn scan` made.")
        raise typer.Exit(2)
    for target in (out, pdf):
        if target is not None and target.is_dir():
            err.print(f"[red]{target} is a folder.[/] Give the path of the file to write.")
            raise typer.Exit(2)
    if pdf is not None and _pdf.chromium_version() is None:
        err.print(f"[red]No Chromium at {_pdf.CHROMIUM} to print the PDF:[/] {_pdf.INSTALL_HINT}. Nothing was written.")
        raise typer.Exit(2)
    with _open_store(case, db, create=True) as store:
        for target in (out, pdf):
            for ev in store.evidence_list():
                root = Path(str(ev["root"]))
                if target is not None and root.is_dir() and target.resolve().is_relative_to(root.resolve()):
                    err.print(
                        f"[red]{target} is inside the evidence {root}.[/] cairn never writes into evidence: "
                        "choose a place outside it."
                    )
                    raise typer.Exit(2)
        try:
            result = write_report(store, out, actor=actor or default_actor(), pdf=pdf, with_thumbnails=with_thumbnails)
        except ChromiumMissing as exc:
            err.print(f"[red]{exc}[/] The HTML was written; nothing was audited.")
            raise typer.Exit(2) from exc
        except PdfFailed as exc:
            err.print(f"[red]No PDF:[/] {exc}. The HTML was written; nothing was audited.")
            raise typer.Exit(1) from exc
        except OSError as exc:
            err.print(f"[red]Cannot write the report:[/] {exc.strerror or exc} ({exc.filename}). Nothing was audited.")
            raise typer.Exit(2) from exc
    typer.echo(f"wrote {result.html} (SHA-256 {result.html_sha256})")
    if result.pdf is not None:
        typer.echo(f"wrote {result.pdf} (SHA-256 {result.pdf_sha256})")
    typer.echo(f"recorded as audit entry #{result.audit_seq} (report.generated)")
