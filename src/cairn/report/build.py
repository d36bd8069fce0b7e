"""Make a case's triage report (``cairn report``): gather, render, write atomically, optionally print to PDF, audit.

One entry point, :func:`write_report`, for the command line and (later) the review app's button.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cairn.report.facts import MAX_PICTURES, REPORT_ACTION, gather
from cairn.report.html import render
from cairn.store.rows import storable_text

if TYPE_CHECKING:
    from cairn.store import CaseStore


@dataclass(frozen=True)
class ReportResult:
    """What was written: the HTML (and PDF) paths and SHA-256, and the audit entry that records them."""

    html: Path
    html_sha256: str
    pdf: Path | None
    pdf_sha256: str | None
    audit_seq: int


def render_report(store: CaseStore, *, with_thumbnails: bool = False) -> str:
    """The report's HTML for ``store``'s case as it is now (no file written, nothing audited)."""
    return render(gather(store, with_thumbnails=with_thumbnails), max_pictures=MAX_PICTURES)


def write_report(
    store: CaseStore, out: Path, *, actor: str, pdf: Path | None = None, with_thumbnails: bool = False
) -> ReportResult:
    """Write the report's HTML to ``out`` (replaced atomically) and, with ``pdf``, print it there with chromium
    (:mod:`cairn.report.pdf`'s errors propagate, after the HTML is written and before anything is audited); then
    append ``report.generated`` to the case's audit log with each file's path, size and SHA-256 and the options."""
    from cairn.report.pdf import print_pdf

    html = render_report(store, with_thumbnails=with_thumbnails).encode("utf-8")
    _write_atomic(out, html)
    html_sha = hashlib.sha256(html).hexdigest()
    pdf_sha = None
    if pdf is not None:
        print_pdf(out, pdf)
        pdf_sha = _sha256_file(pdf)
    details: dict[str, Any] = {
        "html": {"path": storable_text(str(out.resolve())), "bytes": len(html), "sha256": html_sha},
        "pdf": None
        if pdf is None
        else {"path": storable_text(str(pdf.resolve())), "bytes": pdf.stat().st_size, "sha256": pdf_sha},
        "options": {"with_thumbnails": with_thumbnails, "pdf": pdf is not None},
    }
    entry = store.audit_append(REPORT_ACTION, details, actor)
    return ReportResult(out, html_sha, pdf, pdf_sha, int(entry["seq"]))


def part_path(path: Path) -> Path:
    """A fresh name beside ``path`` for writing it before an atomic rename (not created here)."""
    return path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(6)}.part")


def _write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = part_path(path)
    try:
        with tmp.open("xb") as fh:  # the user's umask gives the mode, as for any file they write
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
