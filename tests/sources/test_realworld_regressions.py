"""Archives shaped like the real-world samples of docs/real-world-files.md that once went wrong.

Each test builds here, by hand, a small archive with the property of a third-party file (libarchive's test
archives; those files themselves are never committed) and checks what cairn's zip and tar readers make
of it through ``cairn.sources.containers.expand``.
"""

from __future__ import annotations

import gzip
import io
import struct
import tarfile
import zlib

import pytest

from cairn import errors as E
from cairn.model import EvidenceItem, ItemMeta, Locator
from cairn.settings import Limits
from cairn.sources.containers import expand
from tests.sources import content


def members(data: bytes, name: str) -> dict[str, EvidenceItem]:
    """Every item ``expand`` yields for the archive ``data``, by path (the archive itself included)."""
    items = list(expand(Locator((name,)), ItemMeta(size=len(data)), io.BytesIO(data), Limits(), None, None))
    out = {i.locator.path: i for i in items}
    assert len(out) == len(items)
    return out


def codes(item: EvidenceItem) -> set[str]:
    return {e.code for e in item.errors}


def message(item: EvidenceItem, code: str) -> str:
    return next(e.message for e in item.errors if e.code == code)


def add(tf: tarfile.TarFile, name: str, data: bytes, **fields: object) -> None:
    ti = tarfile.TarInfo(name)
    ti.size = len(data)
    ti.mtime = 1_600_000_000
    for key, value in fields.items():
        setattr(ti, key, value)
    tf.addfile(ti, io.BytesIO(data))


# ------------------------------------------------------------------------------------------ tar


def commented_sparse_map_tar() -> bytes:
    """A GNU pax 1.0 sparse member whose map starts with comment lines, then an ordinary member.

    Like libarchive's ``test_read_format_gtar_sparse_1_17_posix10_modified.tar``: tarfile raises a bare
    ValueError parsing that map, which once ended the listing with every member lost.
    """
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        pax = {"GNU.sparse.major": "1", "GNU.sparse.minor": "0", "GNU.sparse.name": "sparse"}
        pax["GNU.sparse.realsize"] = "3000"
        stored = b"#!gnu-sparse-format\n#format:1.0\n1\n0\n512\n".ljust(512, b"\x00") + b"S" * 512
        add(tf, "GNUSparseFile.0/sparse", stored, pax_headers=pax)
        add(tf, "after.txt", b"still here")
    return buf.getvalue()


@pytest.mark.parametrize("kind", ["tar", "tar.gz"])
def test_sparse_map_tarfile_cannot_parse_loses_no_member(kind: str) -> None:
    data = commented_sparse_map_tar()
    data = gzip.compress(data) if kind == "tar.gz" else data
    items = members(data, f"t.{kind}")
    assert content(items[f"t.{kind}!/after.txt"]) == b"still here"
    raw = items[f"t.{kind}!/GNUSparseFile.0/sparse"]  # read as GNU tar without sparse support would
    assert content(raw).startswith(b"#!gnu-sparse-format") and content(raw).endswith(b"S" * 512)
    top = items[f"t.{kind}"]
    assert codes(top) == {E.ARCHIVE_CORRUPT}
    assert "ValueError" in message(top, E.ARCHIVE_CORRUPT) and "offset 0" in message(top, E.ARCHIVE_CORRUPT)


def test_gnu_volume_label_is_named_in_its_note() -> None:
    """Like libarchive's ``test_read_format_tar_empty_with_gnulabel.tar``: a 'V' record, read as a file."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as tf:
        add(tf, "label", b"", type=b"V")
        add(tf, "file.txt", b"data")
    items = members(buf.getvalue(), "l.tar")
    label = items["l.tar!/label"]
    assert codes(label) == {E.UNKNOWN_MEMBER_TYPE}
    assert "'V'" in message(label, E.UNKNOWN_MEMBER_TYPE) and "GNU volume label" in message(
        label, E.UNKNOWN_MEMBER_TYPE
    )
    assert content(items["l.tar!/file.txt"]) == b"data" and not items["l.tar"].errors


# ------------------------------------------------------------------------------------------ zip


def zip_entry(
    local_name: bytes, central_name: bytes, data: bytes, offset: int, extra: bytes = b""
) -> tuple[bytes, bytes]:
    """(local header + data, central record) of one stored entry written by hand."""
    crc = zlib.crc32(data)
    fixed = (20, 0, 0, 0, 0x5021, crc, len(data), len(data))
    local = struct.pack("<4sHHHHHIIIHH", b"PK\x03\x04", *fixed, len(local_name), len(extra))
    central = struct.pack(
        "<4sHHHHHHIIIHHHHHII",
        b"PK\x01\x02",
        0x031E,
        *fixed,
        len(central_name),
        len(extra),
        0,
        0,
        0,
        0o100644 << 16,
        offset,
    )
    return local + local_name + extra + data, central + central_name + extra


def zip_of(entries: list[tuple[bytes, bytes, bytes]], extra: bytes = b"", end_sig: bytes = b"PK\x05\x06") -> bytes:
    """A zip of (local name, central name, data) entries; ``end_sig`` replaces the end record's signature."""
    body = b""
    directory = b""
    for local_name, central_name, data in entries:
        local, central = zip_entry(local_name, central_name, data, len(body), extra)
        body += local
        directory += central
    n = len(entries)
    end = struct.pack("<4sHHHHIIH", end_sig, 0, 0, n, n, len(directory), len(body), 0)
    return body + directory + end


def test_local_name_differing_from_the_central_one_is_read() -> None:
    """Like libarchive's ``test_read_format_zip_7075_utf8_paths.zip`` (zipfile refuses such members)."""
    data = zip_of([(b"File 1.txt", b"File 1.txt", b"one"), (b"File 2 - xx.txt", b"File 2 - \x94.txt", b"two")])
    items = members(data, "u.zip")
    assert content(items["u.zip!/File 2 - \u00f6.txt"]) == b"two"  # the central name, cp437
    assert content(items["u.zip!/File 1.txt"]) == b"one"
    assert not any(i.errors for i in items.values())


#: Extra fields padded as some writers do (libarchive's ``test_read_format_zip_extra_padding.zip``): an
#: empty type-0 field, an extended timestamp, a 4-byte type-0 field, and 3 bytes too short to be a field.
PADDED_EXTRA = (
    struct.pack("<HH", 0, 0)
    + struct.pack("<HHBII", 0x5455, 9, 3, 0x5C1558D2, 0x5C1558DB)
    + struct.pack("<HHI", 0, 4, 0)
    + bytes(3)
)


def test_padded_extra_fields_are_read() -> None:
    items = members(zip_of([(b"a", b"a", b"b\n")], extra=PADDED_EXTRA), "p.zip")
    a = items["p.zip!/a"]
    assert content(a) == b"b\n" and a.meta.mtime == 0x5C1558D2 and not a.errors
    assert not items["p.zip"].errors


def test_damaged_end_record_signature_falls_back_to_local_headers() -> None:
    """The libarchive sample itself has ``\\0K\\x05\\x06`` for its end record: the member is still read."""
    items = members(zip_of([(b"a", b"a", b"b\n")], extra=PADDED_EXTRA, end_sig=b"\x00K\x05\x06"), "p.zip")
    assert content(items["p.zip!/a"]) == b"b\n" and items["p.zip!/a"].meta.mtime == 0x5C1558D2
    assert codes(items["p.zip"]) == {E.ARCHIVE_CORRUPT}
