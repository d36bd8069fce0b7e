"""``cairn detector evaluate``: a detector's scores on the user's own labelled pictures, and what they are worth.

The labels are a CSV file with a header naming (at least) the columns ``path`` and ``label``: one picture a row,
``label`` 1 for AI-generated, 0 for not. The scores come either from running a detector on the listed files
(:func:`score_files`; a relative path is read from the CSV's folder) or from a case the detector already scanned
(:func:`case_scores`; a path as ``cairn files`` lists it, or the evidence root joined with it). A listed picture
with no score (unreadable, not decodable, never scanned, the detector failed) is reported with the reason and left
out of the metrics, never silently dropped.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cairn.signals.detector import metrics
from cairn.signals.detector.run import Detector, DetectorRunError

#: The most rows a labels file may hold.
MAX_LABEL_ROWS = 1_000_000
#: The longest cell (characters) of a labels file.
MAX_CELL = 8192


class LabelsError(ValueError):
    """The labels file cannot be read; the message names the line and what to fix."""


@dataclass(frozen=True)
class Label:
    """One labelled picture: its path as written, its label (1: AI-generated), its line in the CSV."""

    path: str
    label: int
    line: int


@dataclass(frozen=True)
class Scored:
    """A labelled picture with its score, or None and the reason there is none."""

    path: str
    label: int
    score: float | None
    problem: str | None = None


def read_labels(path: Path, max_rows: int = MAX_LABEL_ROWS) -> list[Label]:
    """The labels of a CSV with a ``path,label`` header (more columns are ignored); raises ``LabelsError``."""
    try:
        with path.open("r", encoding="utf-8-sig", newline="") as fh:
            return _parse_labels(fh, max_rows)
    except OSError as exc:
        raise LabelsError(f"cannot read the labels file {path}: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise LabelsError(f"the labels file {path} is not UTF-8 text; save it as UTF-8 CSV") from exc


def _parse_labels(fh: io.TextIOBase | Any, max_rows: int) -> list[Label]:
    reader = csv.reader(_bounded_lines(fh))
    try:
        header = next(reader, None)
        if header is None:
            raise LabelsError("the labels file is empty; write a header line 'path,label' and one row per picture")
        columns = [c.strip().lower() for c in header]
        if "path" not in columns or "label" not in columns:
            raise LabelsError(
                f"line 1 is {','.join(header)[:80]!r}; the first line must be a header naming the columns "
                "'path' and 'label' (1 = AI-generated, 0 = not)"
            )
        at_path, at_label = columns.index("path"), columns.index("label")
        out: list[Label] = []
        seen: dict[str, int] = {}
        for row in reader:
            line = reader.line_num
            if not any(cell.strip() for cell in row):
                continue
            if len(out) >= max_rows:
                raise LabelsError(f"more than {max_rows:,} rows; split the labels file")
            if len(row) <= max(at_path, at_label):
                raise LabelsError(f"line {line} has {len(row)} cell(s); it needs a path and a label")
            name, value = row[at_path].strip(), row[at_label].strip()
            if not name:
                raise LabelsError(f"line {line} has an empty path")
            if value not in ("0", "1"):
                raise LabelsError(f"line {line}: the label is {value[:20]!r}; write 1 (AI-generated) or 0 (not)")
            if name in seen:
                raise LabelsError(f"line {line} lists {name[:200]!r} again (first on line {seen[name]}); keep one")
            seen[name] = line
            out.append(Label(name, int(value), line))
    except csv.Error as exc:
        raise LabelsError(f"line {reader.line_num}: not readable as CSV ({exc})") from exc
    return out


def _bounded_lines(fh: Any) -> Iterable[str]:
    """The file's lines, refusing one longer than a row can reasonably be (a file with no line breaks)."""
    while True:
        line = fh.readline(4 * MAX_CELL + 1)
        if not line:
            return
        if len(line) > 4 * MAX_CELL:
            raise LabelsError(f"a line longer than {4 * MAX_CELL:,} characters; is this a labels CSV?")
        yield line


def score_files(
    labels: Sequence[Label],
    base: Path,
    detector: Detector,
    progress: Callable[[int], None] | None = None,
) -> list[Scored]:
    """Run ``detector`` on each listed file (a relative path is taken from ``base``), decoded as a scan decodes."""
    from cairn.settings import ScanSettings
    from cairn.signals.imaging import decode_image

    settings = ScanSettings().resolved(1)
    limit = settings.limits.max_image_file_bytes
    out: list[Scored] = []
    for done, item in enumerate(labels, 1):
        path = Path(item.path) if Path(item.path).is_absolute() else base / item.path
        out.append(_score_one(item, path, detector, settings, limit, decode_image))
        if progress is not None:
            progress(done)
    return out


def _score_one(item: Label, path: Path, detector: Detector, settings: Any, limit: int, decode: Any) -> Scored:
    try:
        with path.open("rb") as fh:
            data = fh.read(limit + 1)
    except OSError as exc:
        return Scored(item.path, item.label, None, f"cannot read {path}: {exc.strerror or exc}")
    if len(data) > limit:
        return Scored(item.path, item.label, None, f"over {limit:,} bytes, the most a scan decodes")
    outcome = decode(data, settings)
    if outcome.decoded is None:
        codes = ", ".join(e.code for e in outcome.errors) or "not a picture"
        return Scored(item.path, item.label, None, f"not decoded ({codes})")
    try:
        return Scored(item.path, item.label, detector.score(outcome.decoded.rgb))
    except DetectorRunError as exc:
        return Scored(item.path, item.label, None, f"the detector failed: {exc}")


def case_scores(
    labels: Sequence[Label], rows: Iterable[Mapping[str, Any]], name: str | None = None
) -> tuple[list[Scored], list[dict[str, Any]]]:
    """Each label's stored score among ``rows`` (``CaseStore.iter_file_rows(with_provenance=True)``), and the
    detectors the case's scores of the listed files come from (name, version, digests, threshold).

    ``name`` keeps only scores of the detector of that name. Raises ``ValueError`` when the listed files were
    scored by more than one detector (name, version, config and model SHA-256) and none was chosen.
    """
    wanted = {_normal(label.path) for label in labels}
    found: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        keys = {_normal(str(row["path"])), _normal(f"{row.get('evidence') or ''}/{row['path']}")} & wanted
        if not keys:
            continue
        for entry in (row.get("provenance") or {}).get("detector_scores") or []:
            data = entry.get("data") if isinstance(entry, Mapping) else None
            if not isinstance(data, Mapping) or (name is not None and data.get("detector") != name):
                continue
            for key in keys:
                found.setdefault(key, []).append(dict(data))
    identities: dict[tuple[Any, ...], dict[str, Any]] = {}
    for scores in found.values():
        for data in scores:
            ident = _identity(data)
            identities.setdefault(tuple(ident.values()), ident)
    if len(identities) > 1:
        listed = "; ".join(
            f"{i['detector']} {i['version']} (model {str(i['model_sha256'])[:12]})" for i in identities.values()
        )
        raise ValueError(
            f"the listed files were scored by {len(identities)} detectors ({listed}); choose one by name"
        )
    out = []
    for label in labels:
        stored = found.get(_normal(label.path), [])
        if not stored:
            out.append(Scored(label.path, label.label, None, "no detector score stored in the case for this path"))
            continue
        distinct = {float(d["score"]) for d in stored if isinstance(d.get("score"), int | float)}
        if len(distinct) != 1:
            problem = "the case holds different scores for this path (in more than one evidence); list it once"
            out.append(Scored(label.path, label.label, None, problem))
            continue
        out.append(Scored(label.path, label.label, distinct.pop()))
    return out, list(identities.values())


def _identity(data: Mapping[str, Any]) -> dict[str, Any]:
    keys = ("detector", "version", "config_sha256", "model_sha256", "threshold")
    return {k: data.get(k) for k in keys}


def _normal(path: str) -> str:
    """A path compared as text: forward slashes, no leading ``./``, no doubled slashes."""
    text = path.replace("\\", "/")
    while "//" in text:
        text = text.replace("//", "/")
    while text.startswith("./"):
        text = text[2:]
    return text


def evaluation(scored: Sequence[Scored], threshold: float, bins: int, detector: Mapping[str, Any]) -> dict[str, Any]:
    """The report: the detector, the metrics over the scored pictures, and the pictures without a score."""
    kept = [s for s in scored if s.score is not None]
    scores = [float(s.score) for s in kept if s.score is not None]
    return {
        "detector": dict(detector),
        "labelled": len(scored),
        **metrics.report(scores, [s.label for s in kept], threshold, bins),
        "without_score": [{"path": s.path, "label": s.label, "problem": s.problem} for s in scored if s.score is None],
    }
