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

Where cairn sees more than ``zipfile``/``tarfile``, or refuses by design, the difference is an INTENDED
line, not a problem, and is still checked where a reference exists:

* tar members after an end-of-archive marker (``tarfile`` with ``ignore_zeros`` lists them) and members
  with a type flag tarfile does not define (its ``extractfile`` reads them as files): digests compared;
* zip members ``zipfile`` refuses (local and central names differ, a declared size that lies) whose data
  this script decodes by hand with a matching CRC-32: digests compared against that data;
* a zip after a prefix (``zipfile`` reads past one): cairn opens it behind pictures and executables;
  behind other data it does not look, listed as a GAP;
* sparse tar members refused with ``archive_bomb`` (holes count against ``max_archive_ratio``): expanded
  again here through cairn with the ratio lifted and compared with ``tarfile``'s expansion;
* zip entries refused for overlapping another (``archive_bomb``), rows for entries stdlib does not list
  (links, lying modes, unknown types and odd names with their notes, members recovered from an archive
  stdlib cannot open, members of an appended archive), and PNGs whose oversized metadata chunk cairn
  skipped (``image_chunk_skipped``) where Pillow refuses the whole picture.

Prints a report and exits 1 when a hard check (row count, digests, exact PDQ, dimensions) fails.
"""

from __future__ import annotations

import argparse
import bz2
import collections
import hashlib
import io
import lzma
import os
import sqlite3
import struct
import subprocess
import sys
import tarfile
import tempfile
import warnings
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from threatexchange.signal_type.pdq.pdq_hasher import _pdq_from_numpy_array, pdq_from_bytes

from cairn.model import ItemMeta, Locator
from cairn.settings import Limits
from cairn.sources.containers import expand, sanitise_member_name

Image.MAX_IMAGE_PIXELS = None
#: cairn's default ``Limits.max_image_pixels``: larger pictures are not loaded here either.
MAX_PIXELS = 200_000_000
SEP = "!/"
IMAGE_ERRORS = frozenset({"image_corrupt", "image_unsupported", "image_bomb"})
#: Types behind which cairn looks for an appended archive (containers.carries_appended).
CARRIERS_OTHER = frozenset({"pe", "elf"})

# How an expected item differs from a plain stdlib reading (empty: it does not).
AFTER_END = "tar member after an end-of-archive marker or damage (tarfile ignore_zeros lists it)"
UNKNOWN_TYPE = "tar member with a type flag tarfile does not define (read as a file)"
BY_HAND = "zip member zipfile refuses, data CRC-valid when decoded by hand"
APPENDED = "zip after a prefix (zipfile reads past it)"
SPARSE_REFUSED = "sparse tar member refused: holes count against max_archive_ratio (checked with the ratio lifted)"
OVERLAP_REFUSED = "zip entry refused for overlapping another entry's data"
CHUNK_SKIPPED = "PNG metadata chunk skipped so the pixels are hashed (Pillow refuses the picture)"
NO_CONTENT = "link or special entry (no content)"
WITH_NOTE = "entry read as data with a note (lying mode, unknown type, odd name)"
RECOVERED = "member recovered from an archive stdlib cannot open or read to its end"
IN_APPENDED = "member of an appended archive"
NOT_RECOGNISED = "empty member of a file stdlib opens as an archive and cairn does not (nothing to examine)"
NOT_BEHIND = "zip after a prefix that is neither a picture nor an executable: cairn does not look behind it"


@dataclass
class Row:
    """One stored file row with its hashes, image info and error codes."""

    path: str
    type_label: str | None
    mismatch: bool
    is_container: bool
    kind: str = "file"
    hashes: dict[str, str] = field(default_factory=dict)
    pdq_quality: int | None = None
    width: int | None = None
    height: int | None = None
    frames: int | None = None
    mode: str | None = None
    orientation: int | None = None
    errors: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class Expected:
    """One file or member the independent readers find, with its bytes (None: they cannot read it)."""

    path: str
    data: bytes | None
    how: str = ""  # one of the headings above when this is not a plain stdlib reading
    sparse: bool = False
    parent: bytes | None = None  # the containing archive's bytes, kept for sparse members only


@dataclass
class Report:
    """Problems (hard failures), intended differences and notes (for a human to judge), by heading."""

    problems: dict[str, list[str]] = field(default_factory=lambda: collections.defaultdict(list))
    intended: dict[str, list[str]] = field(default_factory=lambda: collections.defaultdict(list))
    gaps: dict[str, list[str]] = field(default_factory=lambda: collections.defaultdict(list))
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
    q = "SELECT f.id, f.path, f.type_label, f.extension_mismatch, f.is_container, f.kind, i.width, i.height, "
    q += "i.frames, i.mode, i.orientation FROM files f LEFT JOIN images i ON i.file_id = f.id"
    for fid, path, label, mism, cont, kind, w, h, frames, mode, orient in con.execute(q):
        row = Row(path, label, bool(mism), bool(cont), kind, width=w, height=h, frames=frames, mode=mode)
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


_LOCAL = struct.Struct("<4sHHHHHIIIHH")
_DECODERS = {
    zipfile.ZIP_STORED: lambda b: b,
    zipfile.ZIP_DEFLATED: lambda b: zlib.decompressobj(-15).decompress(b),
    zipfile.ZIP_BZIP2: bz2.decompress,
}


def _lzma_member(b: bytes) -> bytes:
    """A zip LZMA member: 2 version bytes, a 2-byte properties size, the properties, then raw LZMA1."""
    (psize,) = struct.unpack("<H", b[2:4])
    filt = lzma._decode_filter_properties(lzma.FILTER_LZMA1, b[4 : 4 + psize])  # type: ignore[attr-defined]
    return lzma.LZMADecompressor(lzma.FORMAT_RAW, filters=[filt]).decompress(b[4 + psize :])


def _by_hand(data: bytes, info: zipfile.ZipInfo) -> bytes | None:
    """The member's data decoded here from its local header and the directory's sizes, when its CRC-32 is
    the directory's (None otherwise): a second reading for members zipfile refuses on a formality."""
    if info.flag_bits & 0x1:
        return None
    try:
        sig, *_, name_len, extra_len = _LOCAL.unpack_from(data, info.header_offset)
        if sig != b"PK\x03\x04":
            return None
        start = info.header_offset + _LOCAL.size + name_len + extra_len
        raw = data[start : start + info.compress_size]
        out = _lzma_member(raw) if info.compress_type == zipfile.ZIP_LZMA else _DECODERS[info.compress_type](raw)
    except Exception:
        return None
    return out if zlib.crc32(out) == info.CRC else None


def _zip_members(data: bytes) -> Iterator[tuple[str, bytes | None, str]]:
    buf = io.BytesIO(data)
    prefix = "" if data[:4] in (b"PK\x03\x04", b"PK\x05\x06") else APPENDED
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
            yield info.filename, zf.read(info), prefix
        except Exception:
            content = _by_hand(data, info)
            yield info.filename, content, (prefix or BY_HAND) if content is not None else prefix


def _tar_members(data: bytes) -> Iterator[tuple[str, bytes | None, str, bool]]:
    """Regular members and members of unknown type (tarfile reads both as files), then, with
    ``ignore_zeros``, the ones after an end-of-archive marker."""
    seen: collections.Counter[str] = collections.Counter()
    for ignore_zeros in (False, True):
        found: collections.Counter[str] = collections.Counter()
        try:
            tf = tarfile.open(fileobj=io.BytesIO(data), mode="r:*", ignore_zeros=ignore_zeros)  # noqa: SIM115
        except Exception:
            return
        try:
            for ti in tf:
                unknown = ti.type not in tarfile.SUPPORTED_TYPES
                if not (ti.isreg() or unknown):
                    continue
                found[ti.name] += 1
                if ignore_zeros and found[ti.name] <= seen[ti.name]:
                    continue
                f = tf.extractfile(ti)
                how = AFTER_END if ignore_zeros else UNKNOWN_TYPE if unknown else ""
                yield ti.name, f.read() if f is not None else None, how, ti.issparse()
        except Exception:
            pass
        seen = found


def _opens_as_tar(data: bytes) -> bool:
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:*"):
            return True
    except Exception:
        return False


def _members(data: bytes, depth: int) -> Iterator[tuple[str, bytes | None, str, bool]]:
    """(name, bytes, how, sparse) of the members stdlib can list; bytes None when it cannot read one.

    A tar is tried before a zip after a prefix: ``zipfile`` finds the end record of a zip that is the
    last member of an uncompressed tar and would read the tar as that zip.
    """
    if depth <= 0:
        return
    if data[:4] not in (b"PK\x03\x04", b"PK\x05\x06") and _opens_as_tar(data):
        yield from _tar_members(data)
    elif zipfile.is_zipfile(io.BytesIO(data)):
        for name, content, how in _zip_members(data):
            yield name, content, how, False


def expected_items(evidence: Path, max_depth: int = 4) -> Iterator[Expected]:
    """Every regular file and readable archive member under ``evidence``, by logical path."""

    def nested(prefix: str, data: bytes, depth: int) -> Iterator[Expected]:
        for name, content, how, sparse in _members(data, depth):
            path = f"{prefix}{SEP}{sanitise_member_name(name)[0]}"
            yield Expected(path, content, how, sparse, data if sparse else None)
            if content is not None:
                yield from nested(path, content, depth - 1)

    if evidence.is_file():
        data = evidence.read_bytes()
        yield Expected(evidence.name, data)
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
            yield Expected(rel, data)
            yield from nested(rel, data, max_depth)


def sparse_with_ratio_lifted(parent_path: str, parent: bytes) -> dict[str, str]:
    """SHA-256 of every member of ``parent`` as cairn expands it with no ratio limit, by logical path."""
    limits = Limits(max_archive_ratio=1e18, max_archive_total=2**62)
    out: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="cairn-realworld-sparse-") as tmp:
        meta = ItemMeta(size=len(parent))
        for item in expand(Locator(tuple(parent_path.split(SEP))), meta, io.BytesIO(parent), limits, None, tmp):
            if item.data is not None:
                out[item.locator.path] = hashlib.sha256(item.data).hexdigest()
            elif item.spool_path is not None:
                out[item.locator.path] = hashlib.sha256(Path(item.spool_path).read_bytes()).hexdigest()
                os.unlink(item.spool_path)
    return out


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
        if "image_chunk_skipped" in codes and not codes & IMAGE_ERRORS:
            rep.intended[CHUNK_SKIPPED].append(f"{path}: Pillow {why}")
        elif not codes & IMAGE_ERRORS:
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


def _parent(path: str) -> str | None:
    return path.rsplit(SEP, 1)[0] if SEP in path else None


def _codes(row: Row) -> set[str]:
    return {c for c, _ in row.errors}


def _carrier(row: Row | None) -> bool:
    """True when cairn looks behind this row's content for an appended archive (a picture, an executable)."""
    return row is not None and (
        row.width is not None or bool(_codes(row) & IMAGE_ERRORS) or row.type_label in CARRIERS_OTHER
    )


def _missing(exp: Expected, rows: dict[str, Row], rep: Report) -> None:
    parent = _parent(exp.path)
    prow = rows.get(parent or "")
    if exp.data == b"" and prow is not None and not prow.is_container and exp.how != APPENDED:
        rep.gaps[NOT_RECOGNISED].append(f"{exp.path} (in {parent}, sniffed {prow.type_label})")
        return
    if exp.how == APPENDED and parent is not None and not _carrier(prow):
        rep.gaps[NOT_BEHIND].append(
            f"{exp.path} (in {parent}, sniffed {rows[parent].type_label if parent in rows else '?'})"
        )
        return
    rep.problems["no row for a file or a member stdlib reads"].append(exp.path + (f" ({exp.how})" if exp.how else ""))


def _digests(path: str, data: bytes, row: Row, rep: Report) -> None:
    for kind, fn in (("md5", hashlib.md5), ("sha1", hashlib.sha1), ("sha256", hashlib.sha256)):
        if row.hashes.get(kind) != fn(data).hexdigest():
            rep.problems[f"{kind} differs or missing"].append(f"{path}: {row.errors}")


def _check_refused_sparse(refused: list[Expected], rep: Report) -> None:
    """Sparse members cairn refused by ratio: cairn's expansion with the ratio lifted must equal tarfile's."""
    by_parent: dict[str, list[Expected]] = collections.defaultdict(list)
    for exp in refused:
        by_parent[_parent(exp.path) or ""].append(exp)
    for parent_path, exps in by_parent.items():
        parent = exps[0].parent
        lifted = sparse_with_ratio_lifted(parent_path, parent) if parent is not None else {}
        for exp in exps:
            assert exp.data is not None
            if lifted.get(exp.path) != hashlib.sha256(exp.data).hexdigest():
                rep.problems["sparse member: cairn's expansion (ratio lifted) differs from tarfile's"].append(exp.path)
            else:
                rep.intended[SPARSE_REFUSED].append(f"{exp.path}: {len(exp.data)} bytes, equal with the ratio lifted")


def _check_unlisted(rows: dict[str, Row], seen: set[str], rep: Report) -> None:
    """Sort the rows stdlib does not list into the intended kinds; the rest are for review."""
    for path, row in rows.items():
        if path in seen:
            continue
        codes = _codes(row)
        parent = rows.get(_parent(path) or "")
        pcodes = _codes(parent) if parent is not None else set()
        if row.kind in ("symlink", "other"):
            heading = NO_CONTENT
        elif codes & {"claimed_mode", "unknown_member_type", "odd_name"}:
            heading = WITH_NOTE
        elif "archive_corrupt" in pcodes:
            heading = RECOVERED
        elif "appended_data" in pcodes:
            heading = IN_APPENDED
        else:
            rep.notes["row stdlib does not list, unexplained (review)"].append(f"{path}: {sorted(codes)}")
            continue
        rep.intended[heading].append(f"{path}: {sorted(codes)}")


def check(evidence: Path, case: Path, tolerance: int) -> Report:
    """Scan ``evidence`` into ``case`` and compare every row; returns the report."""
    scan(evidence, case)
    rows = load_rows(case)
    rep = Report()
    seen: set[str] = set()
    refused_sparse: list[Expected] = []
    for exp in expected_items(evidence):
        path, data = exp.path, exp.data
        row = rows.get(path)
        if row is None:
            _missing(exp, rows, rep)
            continue
        seen.add(path)
        if data is None:
            rep.notes["member stdlib cannot read"].append(f"{path}: cairn errors {[c for c, _ in row.errors]}")
            continue
        bomb = [m for c, m in row.errors if c == "archive_bomb"]
        if exp.sparse and bomb:
            refused_sparse.append(exp)
            continue
        if any("overlaps" in m for m in bomb):
            rep.intended[OVERLAP_REFUSED].append(f"{path}: {bomb[0][:100]}")
            continue
        if exp.how:
            rep.intended[exp.how].append(path)
        _digests(path, data, row, rep)
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
    _check_refused_sparse(refused_sparse, rep)
    _check_unlisted(rows, seen, rep)
    labels = collections.Counter(r.type_label for r in rows.values())
    codes = collections.Counter(c for r in rows.values() for c, _ in r.errors)
    rep.notes["summary"].append(f"{len(rows)} rows; types {dict(labels.most_common())}; errors {dict(codes)}")
    for row in rows.values():
        for code, message in row.errors:
            rep.notes[f"error {code}"].append(f"{row.path}: {message[:140]}")
    return rep


def print_report(rep: Report, verbose: bool) -> None:
    """Problems in full; intended differences, gaps and notes in full with ``verbose``, else counts and a
    few examples."""
    for heading, items in rep.problems.items():
        print(f"PROBLEM {heading} ({len(items)})")
        for item in items:
            print(f"  {item}")
    for label, section in (("INTENDED", rep.intended), ("GAP", rep.gaps), ("note", rep.notes)):
        for heading, items in sorted(section.items()):
            print(f"{label} {heading} ({len(items)})")
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
