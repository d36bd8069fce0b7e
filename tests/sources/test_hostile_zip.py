"""Hostile zips built byte by byte: overlapping entries, directory floods, lying modes, odd names.

Each test builds its zip with ``struct`` (small: the checks are structural, not size-based) and asserts
the promise through the container engine (``expand``) or a full scan into a SQLite case.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import sqlite3
import stat
import struct
import tracemalloc
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TypeVar

import numpy as np
import pytest
import sqlalchemy as sa
from PIL import Image

from cairn import errors as E
from cairn.model import EMPTY_NAME, EvidenceItem, ItemMeta, Locator
from cairn.pipeline.scan import scan
from cairn.settings import Limits, ScanSettings
from cairn.sources.containers import expand
from cairn.store import CaseStore
from tests.sources import codes, content, zip_bytes
from tests.store.pg import pg_schema_url

T = TypeVar("T")


def deflate(data: bytes) -> bytes:
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    return c.compress(data) + c.flush()


@dataclass
class Entry:
    """One central-directory record; ``offset`` is where its local header is."""

    name: bytes
    offset: int
    csize: int
    usize: int
    crc: int
    method: int = 8
    mode: int | None = None
    flags: int = 0


def local_header(name: bytes, csize: int, usize: int, crc: int, method: int = 8, flags: int = 0) -> bytes:
    fields = (20, flags, method, 0, 0x5021, crc, csize, usize, len(name), 0)
    return struct.pack("<4sHHHHHIIIHH", b"PK\x03\x04", *fields) + name


def central(e: Entry) -> bytes:
    system, attr = (3, e.mode << 16) if e.mode is not None else (0, 0)
    return (
        struct.pack(
            "<4sBBHHHHHIIIHHHHHII",
            b"PK\x01\x02",
            20,
            system,
            20,
            e.flags,
            e.method,
            0,
            0x5021,
            e.crc,
            e.csize,
            e.usize,
            len(e.name),
            0,
            0,
            0,
            0,
            attr,
            e.offset,
        )
        + e.name
    )


def end_record(count: int, cd_size: int, cd_offset: int) -> bytes:
    return struct.pack("<4sHHHHIIH", b"PK\x05\x06", 0, 0, min(count, 0xFFFF), min(count, 0xFFFF), cd_size, cd_offset, 0)


def assemble(body: bytes, entries: list[Entry], declared: int | None = None) -> bytes:
    cd = b"".join(central(e) for e in entries)
    return body + cd + end_record(len(entries) if declared is None else declared, len(cd), len(body))


def plain_zip(members: list[tuple[bytes, bytes, int | None]]) -> bytes:
    """A well-formed zip of deflated members (name, data, Unix mode or None)."""
    body = b""
    entries = []
    for name, data, mode in members:
        comp, crc = deflate(data), zlib.crc32(data)
        entries.append(Entry(name, len(body), len(comp), len(data), crc, mode=mode))
        body += local_header(name, len(comp), len(data), crc) + comp
    return assemble(body, entries)


def items(data: bytes, limits: Limits | None = None) -> dict[str, EvidenceItem]:
    got = list(expand(Locator(("x.zip",)), ItemMeta(size=len(data)), io.BytesIO(data), limits or Limits(), None, None))
    out = {i.locator.path: i for i in got}
    assert len(out) == len(got), "logical paths must be unique"
    assert got[-1].locator.path == "x.zip" and got[-1].is_container
    return out


# ------------------------------------------------------------------------------ item 1: overlaps


def test_entries_sharing_one_stream_are_refused() -> None:
    """40 directory entries point at one deflate stream: the first is read, the other 39 are refused."""
    kernel = bytes(200_000)
    comp, crc = deflate(kernel), zlib.crc32(kernel)
    body = local_header(b"k", len(comp), len(kernel), crc) + comp
    ok_at = len(body)
    body += local_header(b"ok.txt", 5, 5, zlib.crc32(b"fine!"), method=0) + b"fine!"
    entries = [Entry(f"b{i:02}".encode(), 0, len(comp), len(kernel), crc) for i in range(40)]
    entries.insert(3, Entry(b"ok.txt", ok_at, 5, 5, zlib.crc32(b"fine!"), method=0))
    got = items(assemble(body, entries))

    assert E.ARCHIVE_BOMB in codes(got["x.zip"]) and "39 zip entries overlap" in got["x.zip"].errors[0].message
    assert content(got["x.zip!/b00"]) == kernel and not got["x.zip!/b00"].errors
    for i in range(1, 40):
        member = got[f"x.zip!/b{i:02}"]
        assert codes(member) == {E.ARCHIVE_BOMB} and not member.has_content
        assert "overlaps that of central directory entry 1" in member.errors[0].message
    assert content(got["x.zip!/ok.txt"]) == b"fine!"
    assert len(got) == 42


def stored_block(data: bytes) -> bytes:
    """A non-final stored deflate block quoting ``data`` (the "quote" of Fifield's overlapped bomb)."""
    return b"\x00" + struct.pack("<HH", len(data), len(data) ^ 0xFFFF)


def test_quoted_overlap_is_refused() -> None:
    """Fifield's "better zip bomb": each entry's deflate stream quotes the next local header and runs on
    into the next entry's data, so every entry's range covers all the following ones."""
    n = 6
    names = [f"q{i}".encode() for i in range(n)]
    kernel_data = b"kernel " * 3000
    data, plain = deflate(kernel_data), kernel_data
    headers: list[bytes] = [b""] * n
    entries: list[Entry] = []
    for i in reversed(range(n)):  # built backwards: each header holds the sizes of all that follows it
        crc = zlib.crc32(plain)
        headers[i] = local_header(names[i], len(data), len(plain), crc)
        entries.insert(0, Entry(names[i], 0, len(data), len(plain), crc))
        if i:
            data = stored_block(headers[i]) + headers[i] + data
            plain = headers[i] + plain
    at = 0
    for i in range(n):
        entries[i].offset = at
        at += len(headers[i]) + len(stored_block(b""))
    data = assemble(headers[0] + data, entries)
    got = items(data)

    assert E.ARCHIVE_BOMB in codes(got["x.zip"])
    first = got["x.zip!/q0"]
    assert E.ARCHIVE_BOMB not in codes(first)  # read as usual (it starts with a local header: a container)
    assert content(first) == b"".join(headers[1:]) + kernel_data
    for i in range(1, n):
        assert codes(got[f"x.zip!/q{i}"]) == {E.ARCHIVE_BOMB} and not got[f"x.zip!/q{i}"].has_content


# ------------------------------------------------------------------------ item 3: directory flood


def zip64_end(count: int, cd_size: int, cd_offset: int, at: int) -> bytes:
    """A zip64 end record at ``at`` declaring ``count`` entries, its locator, and a saturated end record."""
    rec = struct.pack("<4sQHHIIQQQQ", b"PK\x06\x06", 44, 45, 45, 0, 0, count, count, cd_size, cd_offset)
    locator = struct.pack("<4sIQI", b"PK\x06\x07", 0, at, 1)
    end = struct.pack("<4sHHHHIIH", b"PK\x05\x06", 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0)
    return rec + locator + end


def measured(run: Callable[[], T]) -> tuple[T, int]:
    """What ``run()`` returns, and the peak bytes Python allocated while it ran."""
    tracemalloc.start()
    try:
        out = run()
        return out, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_declared_flood_is_refused_with_bounded_memory() -> None:
    """A few-KB zip whose zip64 end record declares 10 million entries: archive_bomb, memory flat."""
    body = b""
    entries = []
    for i in range(3):
        data = f"member {i}".encode()
        entries.append(Entry(f"m{i}.txt".encode(), len(body), len(data), len(data), zlib.crc32(data), method=0))
        body += local_header(entries[-1].name, len(data), len(data), zlib.crc32(data), method=0) + data
    cd = b"".join(central(e) for e in entries)
    honest = body + cd + zip64_end(10_000_000, len(cd), len(body), len(body) + len(cd))
    lying = body + cd + zip64_end(10_000_000, 10_000_000 * 46, len(body), len(body) + len(cd))  # CD not there
    assert len(honest) < 4096
    items(plain_zip([(b"warm.txt", b"up", None)]))  # imports done before measuring
    for data in (honest, lying):
        got, peak = measured(partial(items, data))
        assert peak < 256 * 1024, peak
        assert E.ARCHIVE_BOMB in codes(got["x.zip"]) and "10000000 entries" in got["x.zip"].errors[0].message
        assert [content(got[f"x.zip!/m{i}.txt"]) for i in range(3)] == [b"member 0", b"member 1", b"member 2"]


def test_directory_is_read_in_bounded_pieces(tmp_path: Path) -> None:
    """100,000 real entries and a member limit of 1,000: 1,000 are listed, and memory does not grow with
    the directory (zipfile would hold every entry of it, tens of MB)."""
    n = 100_000
    header = local_header(b"", 0, 0, 0, method=0)
    body = bytearray()
    cd = bytearray()
    for i in range(n):
        name = f"{i:06}".encode()
        cd += central(Entry(name, len(body), 0, 0, 0, method=0))
        body += header[:26] + struct.pack("<HH", len(name), 0) + name
    path = tmp_path / "many.zip"
    path.write_bytes(bytes(body) + bytes(cd) + end_record(n, len(cd), len(body)))
    del body, cd
    limits = Limits(max_archive_members=1000)
    items(plain_zip([(b"warm.txt", b"up", None)]))  # imports done before measuring
    with path.open("rb") as fh:
        meta = ItemMeta(size=path.stat().st_size)
        listed, peak = measured(lambda: list(expand(Locator(("many.zip",)), meta, fh, limits, None, None)))
    got = {i.locator.path: i for i in listed}
    assert peak < 2 * 1024**2, peak
    assert len(got) == 1001 and codes(got["many.zip"]) == {E.ARCHIVE_BOMB}
    assert "more than max_archive_members (1000)" in got["many.zip"].errors[0].message
    assert content(got["many.zip!/000999"]) == b""


def test_fifty_thousand_entries_list_fully(tmp_path: Path) -> None:
    """A real 50,000-entry zip (written by zipfile) lists every member with the default limits."""
    path = tmp_path / "big.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zf:
        for i in range(50_000):
            zf.writestr(f"d{i % 50}/f{i:05}.txt", str(i))
    with path.open("rb") as fh:
        got = list(expand(Locator(("big.zip",)), ItemMeta(size=path.stat().st_size), fh, Limits(), None, None))
    assert len(got) == 50_001 and not got[-1].errors
    assert got[12_345].locator.path == "big.zip!/d45/f12345.txt" and content(got[12_345]) == b"12345"


# ------------------------------------------------------------------------- item 9: lying modes


def picture() -> bytes:
    """A benign 128x96 noisy gradient PNG (about 30 KB)."""
    rng = np.random.default_rng(3)
    y, x = np.mgrid[0:96, 0:128]
    base = np.stack([x * 2, y * 2, (x + y)], axis=2) + rng.integers(0, 40, (96, 128, 3))
    buf = io.BytesIO()
    Image.fromarray(np.clip(base, 0, 255).astype(np.uint8), "RGB").save(buf, "PNG")
    return buf.getvalue()


def lying_modes_zip() -> bytes:
    pic = picture()
    return plain_zip(
        [
            (b"photo", pic, stat.S_IFDIR | 0o755),  # mode says directory, no trailing '/', holds a picture
            (b"alias", pic, stat.S_IFLNK | 0o777),  # mode says symlink, holds a picture
            (b"pipe", b"notes hidden in a pipe\n", stat.S_IFIFO | 0o644),
            (b"slashed/", b"data behind a directory name\n", None),
            (b"link", b"../elsewhere/target.txt", stat.S_IFLNK | 0o777),  # an ordinary Info-ZIP symlink
            (b"real/", b"", stat.S_IFDIR | 0o755),  # a real directory entry
            (b"modedir", b"", stat.S_IFDIR | 0o755),  # mode says directory, no data: a directory
            (b"dev", b"", stat.S_IFCHR | 0o600),
            (b"plain.txt", b"plain", stat.S_IFREG | 0o644),
        ]
    )


def test_lying_modes_are_read_as_data() -> None:
    pic = picture()
    got = items(lying_modes_zip())
    listed = ("photo", "alias", "pipe", "slashed", "link", "dev", "plain.txt")  # no row for directories
    assert set(got) == {"x.zip", *(f"x.zip!/{n}" for n in listed)}
    assert not got["x.zip"].errors
    for name, data, claimed in (
        ("photo", pic, "directory"),
        ("alias", pic, "symbolic link"),
        ("pipe", b"notes hidden in a pipe\n", "FIFO"),
        ("slashed", b"data behind a directory name\n", "ends with '/'"),
    ):
        member = got[f"x.zip!/{name}"]
        assert member.meta.kind == "file" and content(member) == data, name
        assert [e.code for e in member.errors] == [E.CLAIMED_MODE] and claimed in member.errors[0].message, name
    link = got["x.zip!/link"]  # an ordinary link: its data is its target, recorded in full
    assert link.meta.kind == "symlink" and link.meta.link_target == "../elsewhere/target.txt"
    assert not link.errors and not link.has_content
    alias_target = got["x.zip!/alias"].meta.link_target
    assert alias_target is not None and alias_target.startswith("\udc89PNG\r\n")  # raw bytes, losslessly
    assert got["x.zip!/dev"].meta.kind == "other" and not got["x.zip!/dev"].has_content
    assert not got["x.zip!/plain.txt"].errors


def test_lying_modes_are_hashed_and_decoded_in_a_scan(tmp_path: Path) -> None:
    pic = picture()
    (tmp_path / "ev").mkdir()
    (tmp_path / "ev" / "modes.zip").write_bytes(lying_modes_zip())
    with CaseStore.open(tmp_path / "case") as store:
        summary = scan(tmp_path / "ev", store, ScanSettings(workers=1), actor="tester", show_progress=False)
    assert summary.status == "completed"
    con = sqlite3.connect(tmp_path / "case" / "case.db")
    query = (
        "SELECT f.path, f.kind, f.link_target, h.value, i.width, i.height FROM files f "
        "LEFT JOIN file_hashes h ON h.file_id = f.id AND h.kind = 'sha256' LEFT JOIN images i ON i.file_id = f.id"
    )
    rows = {r[0]: r[1:] for r in con.execute(query)}
    notes = {p: c for p, c in con.execute("SELECT f.path, e.code FROM file_errors e JOIN files f ON f.id = e.file_id")}
    con.close()
    sha = hashlib.sha256(pic).hexdigest()
    assert rows["modes.zip!/photo"] == ("file", None, sha, 128, 96)
    assert rows["modes.zip!/alias"][0] == "file" and rows["modes.zip!/alias"][2:] == (sha, 128, 96)
    assert rows["modes.zip!/pipe"][2] == hashlib.sha256(b"notes hidden in a pipe\n").hexdigest()
    assert rows["modes.zip!/link"] == ("symlink", "../elsewhere/target.txt", None, None, None)
    assert {notes[f"modes.zip!/{n}"] for n in ("photo", "alias", "pipe", "slashed")} == {E.CLAIMED_MODE}
    assert "modes.zip!/link" not in notes


# ------------------------------------------------------------ items 10, 14, 16: names and targets


def test_empty_name_does_not_lose_the_members_after_it() -> None:
    data = plain_zip([(b"a.txt", b"first", None), (b"", b"nameless", None), (b"b.txt", b"after", None)])
    cut = data[: data.index(b"PK\x01\x02")]
    for archive, damage in ((data, set()), (cut, {E.ARCHIVE_CORRUPT})):  # from the directory; from local headers
        got = items(archive)
        assert codes(got["x.zip"]) == damage
        empty = got[f"x.zip!/{EMPTY_NAME}"]
        assert content(empty) == b"nameless" and E.ODD_NAME in codes(empty)
        assert content(got["x.zip!/a.txt"]) == b"first" and content(got["x.zip!/b.txt"]) == b"after"


def test_names_are_given_in_full() -> None:
    """A NUL (which zipfile truncates at) and bytes that are not UTF-8 (under the UTF-8 flag) are kept."""
    body = b""
    entries = []
    for name, flags in ((b"nul\x00byte.txt", 0), (b"bad\xffutf8.txt", 0x800)):
        crc = zlib.crc32(name)
        entries.append(Entry(name, len(body), len(name), len(name), crc, method=0, flags=flags))
        body += local_header(name, len(name), len(name), crc, method=0, flags=flags) + name
    got = items(assemble(body, entries))
    assert content(got["x.zip!/nul%00byte.txt"]) == b"nul\x00byte.txt"
    assert E.ODD_NAME in codes(got["x.zip!/nul%00byte.txt"])
    assert content(got["x.zip!/bad%FFutf8.txt"]) == b"bad\xffutf8.txt"
    assert set(got) == {"x.zip", "x.zip!/nul%00byte.txt", "x.zip!/bad%FFutf8.txt"}


def test_unicode_path_field_wins_when_it_matches() -> None:
    """Info-ZIP's Unicode path extra field (0x7075) names the member as unzip shows it."""
    raw, real = "caf\x82.txt".encode("latin-1"), "café.txt"
    field = struct.pack("<HHB", 0x7075, 5 + len(real.encode()), 1) + struct.pack("<I", zlib.crc32(raw)) + real.encode()
    data = plain_zip([(raw, b"coffee", None)])
    cd = data.index(b"PK\x01\x02")
    patched = bytearray(data[:cd])
    record = bytearray(data[cd : cd + 46 + len(raw)])
    record[30:32] = struct.pack("<H", len(field))
    patched += record + field
    patched += end_record(1, len(record) + len(field), cd)
    assert content(items(bytes(patched))["x.zip!/café.txt"]) == b"coffee"


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_symlink_target_with_nul_is_stored(tmp_path: Path, backend: str) -> None:
    target = b"../evil\x00target"
    data = plain_zip([(b"link", target, stat.S_IFLNK | 0o777), (b"innocent.txt", b"innocent", None)])
    assert items(data)["x.zip!/link"].meta.link_target == "../evil\x00target"
    (tmp_path / "ev").mkdir()
    (tmp_path / "ev" / "links.zip").write_bytes(data)
    with contextlib.ExitStack() as stack:
        url = stack.enter_context(pg_schema_url()) if backend == "postgresql" else None
        with CaseStore.open(tmp_path / "case", url) as store:
            summary = scan(tmp_path / "ev", store, ScanSettings(workers=1), actor="tester", show_progress=False)
        assert summary.status == "completed"
        engine = sa.create_engine(url or f"sqlite:///{tmp_path / 'case' / 'case.db'}")
        with engine.connect() as conn:
            query = sa.text("SELECT path, link_target FROM files")
            rows: dict[str, str | None] = {p: t for p, t in conn.execute(query)}
        engine.dispose()
    assert set(rows) == {"links.zip", "links.zip!/link", "links.zip!/innocent.txt"}
    stored = rows["links.zip!/link"]
    assert stored is not None and stored.startswith("../evil") and stored.endswith("target") and "\x00" not in stored


# -------------------------------------------------------------------------- methods and prefixes


def test_bzip2_and_lzma_members_are_read_and_crc_checked() -> None:
    text = b"benign text, repeated. " * 400
    for method in (zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA):
        data = zip_bytes([("t.txt", text), ("u.txt", text[::-1])], method)
        got = items(data)
        assert content(got["x.zip!/t.txt"]) == text and content(got["x.zip!/u.txt"]) == text[::-1], method
        bad = bytearray(data)
        crc_at = data.index(b"PK\x01\x02") + 16  # the CRC of the first entry in the central directory
        bad[crc_at] ^= 0xFF
        got = items(bytes(bad))
        assert codes(got["x.zip!/t.txt"]) == {E.ARCHIVE_CORRUPT} and not got["x.zip!/t.txt"].has_content
        assert content(got["x.zip!/u.txt"]) == text[::-1]


def test_prefix_data_before_the_archive() -> None:
    """A stub before the zip (a self-extractor, or a zip appended to a file): offsets are found as unzip does."""
    data = plain_zip([(b"a.txt", b"alpha", None), (b"b.txt", b"beta", None)])
    got = items(b"PK\x03\x04 stub that is not an entry " + bytes(1000) + data)
    assert content(got["x.zip!/a.txt"]) == b"alpha" and content(got["x.zip!/b.txt"]) == b"beta"
    assert not got["x.zip"].errors
