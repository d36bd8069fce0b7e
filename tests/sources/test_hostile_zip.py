"""Hostile zips built byte by byte: overlapping entries, directory floods, lying modes, odd names.

Each test builds its zip with ``struct`` (small: the checks are structural, not size-based) and asserts
the promise through the container engine (``expand``) or a full scan into a SQLite case.
"""

from __future__ import annotations

import io
import struct
import zlib
from dataclasses import dataclass

from cairn import errors as E
from cairn.model import EvidenceItem, ItemMeta, Locator
from cairn.settings import Limits
from cairn.sources.containers import expand
from tests.sources import codes, content


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
