"""Check a ``cairn scan`` of files other tools wrote against independent readers.

Usage: ``python bench/realworld_check.py EVIDENCE [--case DIR] [--pdq-tolerance BITS] [--verbose]``

EVIDENCE is a folder or an archive. The script scans it into a throwaway case (or ``--case``), then
re-reads everything itself, with the standard library and Pillow, and compares row by row:

* every regular file (and every member Python's ``zipfile``/``tarfile`` can read, recursively) has
  exactly one row, and its MD5/SHA-1/SHA-256 equal ``hashlib``'s;
* every picture cairn sniffs as an image: width, height and frame count equal Pillow's; for mode RGB or
  L the PDQ hash and quality equal threatexchange's ``pdq_from_bytes``; for other modes the PDQ hash is
  within ``--pdq-tolerance`` bits of the reference on Pillow's ``convert("RGB")`` (outliers listed);
* an image error is recorded exactly when Pillow cannot load the picture (both directions listed);
* counts by sniffed type, error code and extension mismatch are printed for review.

Prints a report and exits 1 when a hard check (row count, digests, exact PDQ, dimensions) fails.
"""

from __future__ import annotations

import argparse
import collections
import hashlib
import io
import os
import sqlite3
import subprocess
import sys
import tarfile
import tempfile
import warnings
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from threatexchange.signal_type.pdq.pdq_hasher import _pdq_from_numpy_array, pdq_from_bytes

from cairn.sources.containers import sanitise_member_name

Image.MAX_IMAGE_PIXELS = None
#: cairn's default ``Limits.max_image_pixels``: larger pictures are not loaded here either.
MAX_PIXELS = 200_000_000
SEP = "!/"
IMAGE_ERRORS = frozenset({"image_corrupt", "image_unsupported", "image_bomb"})


@dataclass
class Row:
    """One stored file row with its hashes, image info and error codes."""

    path: str
    type_label: str | None
    mismatch: bool
    is_container: bool
    hashes: dict[str, str] = field(default_factory=dict)
    pdq_quality: int | None = None
    width: int | None = None
    height: int | None = None
    frames: int | None = None
    mode: str | None = None
    orientation: int | None = None
    errors: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class Report:
    """Problems (hard failures) and notes (for a human to judge), by heading."""

    problems: dict[str, list[str]] = field(default_factory=lambda: collections.defaultdict(list))
    notes: dict[str, list[str]] = field(default_factory=lambda: collections.defaultdict(list))


def scan(evidence: Path, case: Path) -> None:
    """Run ``cairn scan`` in a subprocess; raise when it does not complete."""
    cmd = [sys.executable, "-m", "cairn.cli", "scan", str(evidence), "--case", str(case), "--no-progress"]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"cairn scan failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")


def load_rows(case: Path) -> dict[str, Row]:
    """Every file row of the case database, keyed by logical path."""
    con = sqlite3.connect(f"file:{case / 'case.db'}?mode=ro", uri=True)
    rows: dict[str, Row] = {}
    ids: dict[int, Row] = {}
    q = "SELECT f.id, f.path, f.type_label, f.extension_mismatch, f.is_container, i.width, i.height, i.frames, "
    q += "i.mode, i.orientation FROM files f LEFT JOIN images i ON i.file_id = f.id"
    for fid, path, label, mism, cont, w, h, frames, mode, orient in con.execute(q):
        row = Row(path, label, bool(mism), bool(cont), width=w, height=h, frames=frames, mode=mode)
        row.orientation = orient
        if path in rows:
            raise SystemExit(f"two rows for {path!r}")
        rows[path] = ids[int(fid)] = row
    for fid, kind, value, quality in con.execute("SELECT file_id, kind, value, quality FROM file_hashes"):
        ids[int(fid)].hashes[kind] = value
        if kind == "pdq":
            ids[int(fid)].pdq_quality = quality
    for fid, code, message in con.execute("SELECT file_id, code, message FROM file_errors ORDER BY file_id, ordinal"):
        ids[int(fid)].errors.append((code, message))
    con.close()
    return rows


def _members(data: bytes, depth: int) -> Iterator[tuple[str, bytes | None]]:
    """(name, bytes) of the regular members stdlib can list; bytes None when stdlib cannot read one."""
    if depth <= 0:
        return
    buf = io.BytesIO(data)
    if data[:4] in (b"PK\x03\x04", b"PK\x05\x06") and zipfile.is_zipfile(buf):
        try:
            zf = zipfile.ZipFile(buf)
        except Exception:
            return
        for info in zf.infolist():
            if info.is_dir():
                continue
            mode = info.external_attr >> 16 if info.create_system == 3 else 0
            if mode and (mode & 0o170000) not in (0, 0o100000):
                continue
            try:
                yield info.filename, zf.read(info)
            except Exception:
                yield info.filename, None
        return
    try:
        tf = tarfile.open(fileobj=io.BytesIO(data), mode="r:*")  # noqa: SIM115  (a generator holds it)
    except Exception:
        return
    try:
        for ti in tf:
            if not ti.isreg():
                continue
            f = tf.extractfile(ti)
            yield ti.name, f.read() if f is not None else None
    except Exception:
        return


def expected_items(evidence: Path, max_depth: int = 4) -> Iterator[tuple[str, bytes | None]]:
    """(logical path, content) of every regular file and readable archive member under ``evidence``."""

    def nested(prefix: str, data: bytes, depth: int) -> Iterator[tuple[str, bytes | None]]:
        for name, content in _members(data, depth):
            path = f"{prefix}{SEP}{sanitise_member_name(name)[0]}"
            yield path, content
            if content is not None:
                yield from nested(path, content, depth - 1)

    if evidence.is_file():
        data = evidence.read_bytes()
        yield evidence.name, data
        yield from nested(evidence.name, data, max_depth)
        return
    for root, dirs, names in os.walk(evidence):
        dirs.sort()
        for name in sorted(names):
            full = Path(root, name)
            if full.is_symlink() or not full.is_file():
                continue
            rel = full.relative_to(evidence).as_posix()
            data = full.read_bytes()
            yield rel, data
            yield from nested(rel, data, max_depth)


def hamming(a: str, b: str) -> int:
    """Bit distance of two hex hashes."""
    return (int(a, 16) ^ int(b, 16)).bit_count()


def _pillow(data: bytes) -> tuple[Image.Image | None, str | None]:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            im = Image.open(io.BytesIO(data))
            if im.size[0] * im.size[1] > MAX_PIXELS:
                return None, f"over {MAX_PIXELS} pixels ({im.size[0]}x{im.size[1]}), not loaded"
            im.load()
        return im, None
    except Exception as exc:
        return None, f"{type(exc).__name__}: {exc}"


def check_image(path: str, data: bytes, row: Row, tolerance: int, rep: Report) -> None:
    """Compare one image row against Pillow and the threatexchange reference."""
    im, why = _pillow(data)
    codes = {c for c, _ in row.errors}
    if im is None:
        if not codes & IMAGE_ERRORS:
            rep.problems["Pillow cannot load, cairn recorded no image error"].append(f"{path}: {why}")
        else:
            rep.notes["broken image, error recorded"].append(f"{path}: {row.errors[-1][1][:110]}")
        return
    if codes & IMAGE_ERRORS and "image_bomb" not in codes:
        rep.problems["Pillow loads it, cairn recorded an image error"].append(f"{path}: {row.errors}")
        return
    try:
        frames = int(getattr(Image.open(io.BytesIO(data)), "n_frames", 1))
    except Exception:
        frames = 1
    if (row.width, row.height) != im.size or row.frames != frames:
        rep.problems["dimensions or frames differ"].append(
            f"{path}: cairn {row.width}x{row.height}/{row.frames} vs Pillow {im.size[0]}x{im.size[1]}/{frames}"
        )
    if "pdq" not in row.hashes:
        rep.problems["image without PDQ"].append(f"{path}: mode {im.mode} errors {row.errors}")
        return
    if im.mode in ("RGB", "L"):
        ref, quality = pdq_from_bytes(data)
        if ref != row.hashes["pdq"] or quality != row.pdq_quality:
            rep.problems["PDQ differs from threatexchange (RGB/L)"].append(
                f"{path}: mode {im.mode} cairn {row.hashes['pdq']}/{row.pdq_quality} ref {ref}/{quality} "
                f"dist {hamming(ref, row.hashes['pdq'])}"
            )
        else:
            rep.notes["PDQ bit-identical (RGB/L)"].append(path)
        return
    try:
        ref, _ = _pdq_from_numpy_array(np.asarray(im.convert("RGB")))
    except Exception as exc:
        rep.notes["Pillow cannot convert to RGB"].append(f"{path}: {im.mode} {exc}")
        return
    dist = hamming(ref, row.hashes["pdq"])
    key = f"PDQ within {tolerance} bits of Pillow RGB ({im.mode})"
    if dist > tolerance:
        rep.notes[f"PDQ outlier vs Pillow convert('RGB') (> {tolerance} bits)"].append(
            f"{path}: mode {im.mode} format {im.format} dist {dist} icc={'icc_profile' in im.info}"
        )
    else:
        rep.notes[key].append(f"{path}: {dist}")


def check(evidence: Path, case: Path, tolerance: int) -> Report:
    """Scan ``evidence`` into ``case`` and compare every row; returns the report."""
    scan(evidence, case)
    rows = load_rows(case)
    rep = Report()
    seen: set[str] = set()
    for path, data in expected_items(evidence):
        row = rows.get(path)
        if row is None:
            rep.problems["no row for a file or a member stdlib reads"].append(path)
            continue
        seen.add(path)
        if data is None:
            rep.notes["member stdlib cannot read"].append(f"{path}: cairn errors {[c for c, _ in row.errors]}")
            continue
        for kind, fn in (("md5", hashlib.md5), ("sha1", hashlib.sha1), ("sha256", hashlib.sha256)):
            if row.hashes.get(kind) != fn(data).hexdigest():
                rep.problems[f"{kind} differs or missing"].append(f"{path}: {row.errors}")
        if row.mismatch:
            rep.notes["extension mismatch flagged"].append(f"{path}: sniffed {row.type_label}")
        if row.width is not None or any(c in IMAGE_ERRORS for c, _ in row.errors):
            check_image(path, data, row, tolerance, rep)
        elif not row.is_container:
            im, _ = _pillow(data)
            if im is not None:
                rep.notes["Pillow decodes it, cairn did not treat it as an image"].append(
                    f"{path}: {im.format} sniffed {row.type_label}"
                )
    for path, row in rows.items():
        if path not in seen:
            rep.notes["row stdlib does not list (link, damaged or unsupported member)"].append(
                f"{path}: {[c for c, _ in row.errors]}"
            )
    labels = collections.Counter(r.type_label for r in rows.values())
    codes = collections.Counter(c for r in rows.values() for c, _ in r.errors)
    rep.notes["summary"].append(f"{len(rows)} rows; types {dict(labels.most_common())}; errors {dict(codes)}")
    for row in rows.values():
        for code, message in row.errors:
            rep.notes[f"error {code}"].append(f"{row.path}: {message[:140]}")
    return rep


def print_report(rep: Report, verbose: bool) -> None:
    """Problems in full; notes in full with ``verbose``, else counts and a few examples."""
    for heading, items in rep.problems.items():
        print(f"PROBLEM {heading} ({len(items)})")
        for item in items:
            print(f"  {item}")
    for heading, items in sorted(rep.notes.items()):
        print(f"note {heading} ({len(items)})")
        for item in items if verbose or heading == "summary" else items[:5]:
            print(f"  {item}")


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; 1 when a hard check failed."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    ap.add_argument("evidence", type=Path)
    ap.add_argument("--case", type=Path, default=None, help="case folder (default: a temporary one)")
    ap.add_argument("--pdq-tolerance", type=int, default=16, help="bits allowed for non-RGB/L modes")
    ap.add_argument("--verbose", "-v", action="store_true")
    args: Any = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="cairn-realworld-") as tmp:
        case = args.case or Path(tmp, "case")
        rep = check(args.evidence.resolve(), case, args.pdq_tolerance)
    print_report(rep, args.verbose)
    return 1 if rep.problems else 0


if __name__ == "__main__":
    sys.exit(main())
