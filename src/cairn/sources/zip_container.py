"""Zip container format, read without ``zipfile``: every structure is parsed here, in bounded pieces.

Contract (what a caller of ``zip_members`` can rely on):

* **Directory.** The end-of-central-directory record (and the zip64 locator and record when present) is
  found in the last 64 KiB; prefix data (a self-extractor stub) is allowed, as ``unzip`` allows it. The
  central directory is then read as a stream of records in bounded pieces: memory does not grow with
  the number of entries it declares. At most ``limits.max_archive_members`` records are read; an archive
  that declares or holds more gets ``ARCHIVE_BOMB`` (the first ones are listed). The per-entry state kept
  for the overlap check is a few machine words per entry, bounded by the same limit.
* **Overlaps.** Each entry's local header plus its compressed data is a byte range of the file. When two
  entries' ranges overlap (many entries pointing at one deflate stream, or the "quoted overlap" of
  Fifield's "better zip bomb"), the entry that comes first in the central directory is read as usual and
  every other entry of the overlapping group is listed with ``ARCHIVE_BOMB`` and no content; the
  container gets ``ARCHIVE_BOMB`` too. Detection is structural, not size-based.
* **Damage.** When the directory is missing or damaged (a truncated download, a carved file) the local
  file headers are walked from the start instead, so members before the damage are still found; the
  container is then marked ``ARCHIVE_CORRUPT``.
* **Members.** Stored, deflate, bzip2 and LZMA members are read here, CRC-checked (a mismatch is
  ``ARCHIVE_CORRUPT`` on the member). Other methods (Deflate64, ...) are ``UNREADABLE``; encrypted
  members are listed with ``ARCHIVE_ENCRYPTED`` and no content.
* **Names** are given to the engine in full, as stored: a NUL or an invalid UTF-8 byte is kept (the
  engine escapes them and notes odd names; invalid UTF-8 arrives as surrogate escapes). The Info-ZIP
  Unicode path field (0x7075) wins when its CRC matches the stored name, as in ``unzip``. An empty name
  is an entry like any other: it is listed and the entries after it are read as usual.
* **Modes.** Data is data, as Info-ZIP extracts it: an entry is a directory only when its name ends with
  ``/`` or its Unix mode says directory *and* it holds no data. An entry whose mode says directory,
  symbolic link, FIFO, device or socket yet holds data is read, hashed and decoded as a file, with a
  ``CLAIMED_MODE`` note naming the claimed mode. An ordinary symbolic link (its data a UTF-8 path of at
  most 4 KiB without NUL, what Info-ZIP writes) is listed as kind "symlink" with that path as
  ``link_target``: its data is recorded in full there. Any other symbolic-link entry is read as a file with
  the note, its first 4 KiB also recorded as ``link_target`` (raw; a NUL is kept). Info-ZIP's own stdin
  member (``zip out.zip -``, named ``-``, mode of the pipe) gets no note. A device or FIFO entry without data is
  listed as kind "other".
* **Times.** The DOS ``date_time`` has no time zone; it is read as if it were UTC. An "extended
  timestamp" extra field (0x5455), which is real UTC, wins when present.
"""

from __future__ import annotations

import bz2
import calendar
import lzma
import stat
import struct
import zlib
from array import array
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, replace
from functools import partial
from types import TracebackType
from typing import IO, Protocol

import numpy as np

from cairn import errors as E
from cairn.model import ItemError, ItemMeta
from cairn.settings import Limits
from cairn.sources.containers import (
    ContainerDamaged,
    ContainerFormat,
    ContainerLimitExceeded,
    RawMember,
    Signature,
    register,
)

_LOCAL = b"PK\x03\x04"
_CENTRAL = b"PK\x01\x02"
_SPAN = b"PK\x07\x08"
_EOCD = b"PK\x05\x06"
_EOCD64 = b"PK\x06\x06"
_LOCATOR64 = b"PK\x06\x07"

_LOCAL_HDR = struct.Struct("<4sHHHHHIIIHH")  # 30 bytes
_CENTRAL_HDR = struct.Struct("<4sBBHHHHHIIIHHHHHII")  # 46 bytes
_EOCD_REC = struct.Struct("<4sHHHHIIH")  # 22 bytes
_EOCD64_REC = struct.Struct("<4sQHHIIQQQQ")  # 56 bytes
_LOCATOR64_REC = struct.Struct("<4sIQI")  # 20 bytes

#: The end record is within this many bytes of the end of the file (record + the longest comment).
_EOCD_SEARCH = _EOCD_REC.size + 0xFFFF
#: Bytes of the central directory read at a time (one record is at most 46 + 3 * 65535 bytes).
_PIECE = 256 * 1024
#: Bytes of a symbolic link's data kept as its target.
_LINK_MAX = 4096
_U32 = 0xFFFFFFFF
_UNIX = 3
#: Methods read here: stored, deflate, bzip2, LZMA.
_METHODS = (0, 8, 12, 14)
_ENTRIES_PER_BATCH = 65536


class BadZip(Exception):
    """A member's structure or data is damaged (recorded by the engine as ``ARCHIVE_CORRUPT``)."""


class _NoDirectory(Exception):
    """The central directory cannot be used; the local headers are walked instead. ``declared`` is the
    entry count the end record nearest the end of the file declares (0: none found)."""

    def __init__(self, why: str, declared: int = 0) -> None:
        super().__init__(why)
        self.declared = declared


def _encrypted() -> ItemError:
    return E.item_error(
        E.ARCHIVE_ENCRYPTED,
        "member is encrypted and cannot be read without a password; it was listed but not examined.",
    )


def _const(n: int) -> Callable[[], int]:
    return lambda: n


def _dos_time(date_time: tuple[int, int, int, int, int, int]) -> float | None:
    try:
        y, mo, d, h, mi, s = date_time
        if not (1 <= mo <= 12 and 1 <= d <= 31):
            return None
        return float(calendar.timegm((y, mo, d, h, mi, s, 0, 0, 0)))
    except (ValueError, OverflowError, TypeError):
        return None


def _dos_date_time(mtime: int, mdate: int) -> tuple[int, int, int, int, int, int]:
    return ((mdate >> 9) + 1980, (mdate >> 5) & 0xF, mdate & 0x1F, mtime >> 11, (mtime >> 5) & 0x3F, (mtime & 0x1F) * 2)


def _extra_fields(extra: bytes) -> Iterator[tuple[int, bytes]]:
    """(header id, body) of each extra field; a cut-off last field is given as far as it goes."""
    i = 0
    while i + 4 <= len(extra):
        hid, size = struct.unpack_from("<HH", extra, i)
        yield hid, extra[i + 4 : i + 4 + size]
        i += 4 + size


def _ext_mtime(extra: bytes) -> float | None:
    """mtime from an extended-timestamp extra field (0x5455), or None."""
    for hid, body in _extra_fields(extra):
        if hid == 0x5455 and len(body) >= 5 and body[0] & 1:
            return float(struct.unpack_from("<i", body, 1)[0])
    return None


def _mtime(date_time: tuple[int, int, int, int, int, int], extra: bytes) -> float | None:
    ext = _ext_mtime(extra)
    return ext if ext is not None else _dos_time(date_time)


def _decode_name(raw: bytes, flags: int, extra: bytes) -> str:
    """The member name as ``unzip`` shows it; nothing is dropped (invalid UTF-8 -> surrogate escapes)."""
    for hid, body in _extra_fields(extra):
        if hid == 0x7075 and len(body) >= 5 and body[0] == 1 and body[1:5] == struct.pack("<I", zlib.crc32(raw)):
            return body[5:].decode("utf-8", "surrogateescape")
    if flags & 0x800:
        return raw.decode("utf-8", "surrogateescape")
    return raw.decode("cp437")


# ------------------------------------------------------------------------------------- reading


class _Decoder(Protocol):
    """What the member reader needs of a decompressor (bz2's and lzma's objects have this shape)."""

    @property
    def eof(self) -> bool: ...

    @property
    def needs_input(self) -> bool: ...

    def decompress(self, data: bytes, max_length: int = -1) -> bytes: ...


class _Inflate:
    """zlib's raw deflate decompressor in the shape of ``_Decoder``."""

    def __init__(self) -> None:
        self._d = zlib.decompressobj(-15)
        self._tail = b""

    @property
    def eof(self) -> bool:
        return self._d.eof

    @property
    def needs_input(self) -> bool:
        return not self._tail

    def decompress(self, data: bytes, max_length: int = -1) -> bytes:
        out = self._d.decompress(self._tail + data, max(max_length, 0))
        self._tail = self._d.unconsumed_tail
        return out


def _lzma_decoder(header: bytes) -> _Decoder:
    """Raw LZMA1 decompressor from the zip LZMA header (version, properties size, 5 property bytes)."""
    if len(header) < 9:
        raise BadZip("LZMA header is cut off")
    psize = struct.unpack_from("<H", header, 2)[0]
    if psize != 5:
        raise BadZip(f"LZMA properties of {psize} bytes (5 expected)")
    byte0, dict_size = header[4], struct.unpack_from("<I", header, 5)[0]
    if byte0 >= 9 * 5 * 5:
        raise BadZip("LZMA properties are invalid")
    lc, rest = byte0 % 9, byte0 // 9
    filt = {"id": lzma.FILTER_LZMA1, "dict_size": dict_size, "lc": lc, "lp": rest % 5, "pb": rest // 5}
    return lzma.LZMADecompressor(lzma.FORMAT_RAW, filters=[filt])


class _Reader:
    """Read-only stream of one member's data at ``start`` (``csize`` bytes), decompressed and CRC-checked.

    ``method`` is one of ``_METHODS`` (others raise NotImplementedError, which the engine records as
    ``UNREADABLE``). ``eos`` says that the compressed stream must end by itself (deflate, bzip2, LZMA
    with an end marker); stored data and LZMA without an end marker end with their bytes.
    """

    def __init__(self, stream: IO[bytes], start: int, csize: int, method: int, crc: int, flags: int) -> None:
        if method not in _METHODS:
            raise NotImplementedError(f"compression method {method} is not supported")
        self._stream = stream
        self._pos = start
        self._left = csize
        self._crc_expected = crc
        self._crc = 0
        self._done = False
        self._eos = method in (8, 12) or (method == 14 and bool(flags & 0x2))
        self._d: _Decoder | None = None
        if method == 8:
            self._d = _Inflate()
        elif method == 12:
            self._d = bz2.BZ2Decompressor()
        elif method == 14:
            self._d = _lzma_decoder(self._raw(9))

    def __enter__(self) -> _Reader:
        return self

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        """Nothing to release; the archive stream belongs to the caller."""

    def _raw(self, n: int) -> bytes:
        if self._left <= 0:
            return b""
        self._stream.seek(self._pos)
        b = self._stream.read(min(n, self._left))
        if not b:
            raise BadZip("member data ends early (file truncated)")
        self._pos += len(b)
        self._left -= len(b)
        return b

    def _finish(self) -> bytes:
        if not self._done:
            self._done = True
            if self._crc != self._crc_expected:
                raise BadZip("CRC-32 mismatch")
        return b""

    def _decoded(self, d: _Decoder, n: int) -> bytes:
        out = b""
        while not out and not d.eof:
            inp = b""
            if d.needs_input:
                inp = self._raw(64 * 1024)
                if not inp:
                    if self._eos:
                        raise BadZip("compressed stream ends early (file truncated or damaged)")
                    break
            out = d.decompress(inp, n)
        return out

    def read(self, n: int = -1) -> bytes:
        """Up to ``n`` bytes (``n`` < 0: up to 1 MiB); b"" at the end, after the CRC was checked."""
        if n == 0:
            return b""
        n = n if n > 0 else 1024 * 1024
        out = self._raw(n) if self._d is None else self._decoded(self._d, n)
        if not out:
            return self._finish()
        self._crc = zlib.crc32(out, self._crc)
        return out


# ------------------------------------------------------------------------------ central directory


@dataclass(frozen=True)
class _End:
    """Where the central directory is: absolute start, size, the entry count declared, and ``concat``
    (bytes of prefix data before the archive, added to every offset the archive records)."""

    start: int
    size: int
    declared: int
    concat: int


@dataclass(frozen=True, slots=True)
class _Entry:
    """One central-directory record, with the zip64 values resolved."""

    raw_name: bytes
    name: str
    made_by_system: int
    flags: int
    method: int
    date_time: tuple[int, int, int, int, int, int]
    crc: int
    csize: int
    usize: int
    offset: int  # of the local header, relative (add concat)
    external_attr: int
    extra: bytes


def _file_size(stream: IO[bytes]) -> int:
    stream.seek(0, 2)
    return stream.tell()


def _end_from(stream: IO[bytes], pos: int, rec: bytes, file_size: int) -> tuple[_End | None, int]:
    """The directory an end record at ``pos`` describes (None when it is not where the record says) and
    the entry count the record declares (the zip64 one when there is a zip64 record)."""
    _sig, disk, cd_disk, _n_disk, count, cd_size, cd_offset, _clen = _EOCD_REC.unpack(rec)
    end_of_dir = pos
    if pos >= _LOCATOR64_REC.size + _EOCD64_REC.size:
        stream.seek(pos - _LOCATOR64_REC.size - _EOCD64_REC.size)
        z64 = stream.read(_EOCD64_REC.size + _LOCATOR64_REC.size)
        if z64[_EOCD64_REC.size : _EOCD64_REC.size + 4] == _LOCATOR64 and z64[:4] == _EOCD64:
            _s, _rs, _mb, _ne, disk, cd_disk, _nd, count, cd_size, cd_offset = _EOCD64_REC.unpack_from(z64)
            end_of_dir = pos - _LOCATOR64_REC.size - _EOCD64_REC.size
    concat = end_of_dir - cd_size - cd_offset
    if disk or cd_disk or concat < 0 or end_of_dir > file_size:
        return None, count  # a piece of a multi-disk archive, or a directory that is not there
    start = cd_offset + concat
    if cd_size:
        stream.seek(start)
        if stream.read(4) != _CENTRAL:
            return None, count
    return _End(start=start, size=cd_size, declared=count, concat=concat), count


def _find_end(stream: IO[bytes]) -> _End:
    """The end-of-central-directory record nearest the end whose directory is where it says."""
    size = _file_size(stream)
    base = max(0, size - _EOCD_SEARCH)
    stream.seek(base)
    tail = stream.read(size - base)
    pos = tail.rfind(_EOCD)
    declared: int | None = None
    while pos >= 0:
        if pos + _EOCD_REC.size <= len(tail):
            end, count = _end_from(stream, base + pos, tail[pos : pos + _EOCD_REC.size], size)
            if end is not None:
                return end
            declared = count if declared is None else declared
        pos = tail.rfind(_EOCD, 0, pos)
    raise _NoDirectory("no usable end-of-central-directory record", declared or 0)


class _Window:
    """A byte range of a stream read in pieces of ``_PIECE`` bytes (bounded memory)."""

    def __init__(self, stream: IO[bytes], start: int, size: int) -> None:
        self._stream = stream
        self._pos = start
        self._end = start + size
        self._buf = b""
        self._off = 0

    def left(self) -> int:
        return self._end - self._pos + len(self._buf) - self._off

    def take(self, n: int) -> bytes:
        while len(self._buf) - self._off < n:
            want = min(_PIECE, self._end - self._pos)
            chunk = b""
            if want > 0:
                self._stream.seek(self._pos)
                chunk = self._stream.read(want)
            if not chunk:
                raise _NoDirectory("central directory is cut off")
            self._pos += len(chunk)
            self._buf = self._buf[self._off :] + chunk
            self._off = 0
        out = self._buf[self._off : self._off + n]
        self._off += n
        return out


def _zip64(usize: int, csize: int, offset: int, extra: bytes) -> tuple[int, int, int]:
    """Sizes and offset with the saturated (0xFFFFFFFF) ones taken from the zip64 extra field."""
    for hid, body in _extra_fields(extra):
        if hid != 0x0001:
            continue
        vals = [struct.unpack_from("<Q", body, i)[0] for i in range(0, len(body) - 7, 8)]
        if usize == _U32 and vals:
            usize = vals.pop(0)
        if csize == _U32 and vals:
            csize = vals.pop(0)
        if offset == _U32 and vals:
            offset = vals.pop(0)
        break
    return usize, csize, offset


_Record = tuple[tuple[int, ...], bytes]


def _records(stream: IO[bytes], end: _End, limit: int) -> Iterator[_Record]:
    """The first ``limit`` records of the central directory, read in bounded pieces: the 46-byte header's
    fields (after the signature) and the name, extra and comment bytes that follow it."""
    win = _Window(stream, end.start, end.size)
    n = 0
    while n < limit and win.left() > 0:
        fields = _CENTRAL_HDR.unpack(win.take(_CENTRAL_HDR.size))
        if fields[0] != _CENTRAL:
            raise _NoDirectory(f"central directory record {n + 1} has a bad signature")
        nlen, xlen, clen = fields[11:14]
        yield fields[1:], win.take(nlen + xlen + clen)
        n += 1


def _placed(fields: tuple[int, ...], var: bytes) -> tuple[int, int, int]:
    """Uncompressed size, compressed size and local-header offset of a record (zip64 values resolved)."""
    csize, usize, nlen, xlen, offset = fields[8], fields[9], fields[10], fields[11], fields[-1]
    if _U32 in (csize, usize, offset):
        return _zip64(usize, csize, offset, var[nlen : nlen + xlen])
    return usize, csize, offset


def _entries(stream: IO[bytes], end: _End, limit: int) -> Iterator[_Entry]:
    """The first ``limit`` records of the central directory as entries."""
    for fields, var in _records(stream, end, limit):
        _ver, system, _need, flags, method, mt, md, crc, _cs, _us, nlen, xlen, *_rest, eattr, _off = fields
        raw, extra = var[:nlen], var[nlen : nlen + xlen]
        usize, csize, offset = _placed(fields, var)
        yield _Entry(
            raw_name=raw,
            name=_decode_name(raw, flags, extra),
            made_by_system=system,
            flags=flags,
            method=method,
            date_time=_dos_date_time(mt, md),
            crc=crc,
            csize=csize,
            usize=usize,
            offset=offset,
            external_attr=eattr,
            extra=extra,
        )


def _local_span(stream: IO[bytes], at: int) -> int:
    """Bytes of the local header at ``at`` (30 + name + extra); 30 when there is none there."""
    stream.seek(at)
    hdr = stream.read(_LOCAL_HDR.size)
    if len(hdr) < _LOCAL_HDR.size or hdr[:4] != _LOCAL:
        return _LOCAL_HDR.size
    nlen, xlen = _LOCAL_HDR.unpack(hdr)[-2:]
    return int(_LOCAL_HDR.size + nlen + xlen)


@dataclass(frozen=True)
class _Survey:
    """What one pass over the directory found: how many records were read, whether it holds more than
    that, and for each record in an overlapping group other than its first, the index of that first."""

    count: int
    more: bool
    overlap_first: np.ndarray | None


def _overlaps(stream: IO[bytes], concat: int, offsets: array[int], csizes: array[int]) -> np.ndarray | None:
    """Per record: -1, or (for a record whose byte range overlaps another's) the index of the record kept
    for its group of overlapping ranges; None when no two ranges overlap.

    A record's range is its local header, name, extra and compressed data. Ranges sorted by start form
    groups of mutually overlapping ranges; in each group the record first in the directory is kept.
    """
    n = len(offsets)
    if n < 2:
        return None
    starts = np.frombuffer(offsets, dtype=np.uint64)
    order = np.argsort(starts, kind="stable")
    in_order: array[int] = array("Q")  # range ends, in the order of the starts
    for a in range(0, n, _ENTRIES_PER_BATCH):
        for i in order[a : a + _ENTRIES_PER_BATCH].tolist():
            end = offsets[i] + _local_span(stream, offsets[i] + concat) + csizes[i]
            in_order.append(min(end, 2**64 - 1))
    ends = np.frombuffer(in_order, dtype=np.uint64)
    sorted_starts = starts[order]
    reach = np.maximum.accumulate(ends)
    new_group = np.empty(n, dtype=bool)
    new_group[0] = True
    new_group[1:] = sorted_starts[1:] >= reach[:-1]
    if new_group.all():
        return None
    heads = np.flatnonzero(new_group)
    group_of = np.cumsum(new_group) - 1
    firsts = np.minimum.reduceat(order, heads)
    first_sorted = firsts[group_of]
    marks = np.full(n, -1, dtype=np.int64)
    marks[order] = np.where(first_sorted == order, -1, first_sorted)
    return marks


def _survey(stream: IO[bytes], end: _End, limits: Limits) -> _Survey:
    """Read the directory once (bounded memory): record count, whether it holds more, overlaps."""
    offsets: array[int] = array("Q")
    csizes: array[int] = array("Q")
    for fields, var in _records(stream, end, limits.max_archive_members + 1):
        _usize, csize, offset = _placed(fields, var)
        offsets.append(offset)
        csizes.append(csize)
    more = len(offsets) > limits.max_archive_members or end.declared > limits.max_archive_members
    count = min(len(offsets), limits.max_archive_members)
    del offsets[count:], csizes[count:]
    return _Survey(count=count, more=more, overlap_first=_overlaps(stream, end.concat, offsets, csizes))


# ------------------------------------------------------------------------------------- members


def _open_entry(stream: IO[bytes], concat: int, e: _Entry) -> _Reader:
    """Open a member found in the central directory: its local header says where the data begins."""
    if e.method not in _METHODS:
        raise NotImplementedError(f"compression method {e.method} is not supported")
    at = e.offset + concat
    stream.seek(at)
    hdr = stream.read(_LOCAL_HDR.size)
    if len(hdr) < _LOCAL_HDR.size or hdr[:4] != _LOCAL:
        raise BadZip(f"no local file header at offset {at}")
    nlen, xlen = _LOCAL_HDR.unpack(hdr)[-2:]
    return _Reader(stream, at + _LOCAL_HDR.size + nlen + xlen, e.csize, e.method, e.crc, e.flags)


def _holds_data(e: _Entry) -> bool:
    """True when the entry has content (an empty deflate stream is 2 bytes; encryption adds a header)."""
    empty = (0 if e.method == 0 else 2) + (28 if e.flags & 0x1 else 0)
    return e.usize > 0 or e.csize > empty


_MODE_NAMES = {
    stat.S_IFDIR: "directory",
    stat.S_IFLNK: "symbolic link",
    stat.S_IFIFO: "FIFO (named pipe)",
    stat.S_IFCHR: "character device",
    stat.S_IFBLK: "block device",
    stat.S_IFSOCK: "socket",
}


def _claimed(mode: int, usize: int) -> ItemError:
    what = _MODE_NAMES.get(stat.S_IFMT(mode), f"file type {stat.S_IFMT(mode):#o}")
    return E.item_note(
        E.CLAIMED_MODE,
        f"its mode {mode:#o} says {what}, yet it holds data ({usize} bytes declared); the data was examined "
        "as a file, as Info-ZIP extracts it.",
    )


def _dir_with_data(usize: int) -> ItemError:
    return E.item_note(
        E.CLAIMED_MODE,
        f"its name ends with '/' (a directory), yet it holds data ({usize} bytes declared); the data was "
        "examined as a file.",
    )


def _link_bytes(stream: IO[bytes], concat: int, e: _Entry) -> bytes | None:
    try:
        with _open_entry(stream, concat, e) as f:
            return bytes(f.read(_LINK_MAX + 1))
    except Exception:
        return None


def _plain_link(raw: bytes | None, e: _Entry) -> str | None:
    """The target of an ordinary symbolic link (what Info-ZIP stores: a short UTF-8 path, no NUL), or None."""
    if raw is None or e.usize > _LINK_MAX or len(raw) != e.usize or not raw or b"\x00" in raw:
        return None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _overlapped(e: _Entry, meta: ItemMeta, first: int) -> RawMember:
    err = E.item_error(
        E.ARCHIVE_BOMB,
        f"its data overlaps that of central directory entry {first + 1} (a zip bomb shape: entries sharing "
        "one compressed stream); it was listed but not expanded.",
    )
    return RawMember(e.name, meta, errors=(err,))


def _claims(
    stream: IO[bytes], concat: int, e: _Entry, meta: ItemMeta, fmt: int
) -> tuple[ItemMeta, tuple[ItemError, ...]]:
    """Meta and notes of an entry holding data whose mode or name claims something else."""
    if fmt in (0, stat.S_IFREG):
        return meta, ((_dir_with_data(e.usize),) if e.name.endswith("/") else ())
    assert meta.mode is not None
    notes = () if fmt == stat.S_IFIFO and e.name == "-" else (_claimed(meta.mode, e.usize),)
    if fmt == stat.S_IFLNK and not e.flags & 0x1:
        raw = _link_bytes(stream, concat, e)
        target = None if raw is None else raw[:_LINK_MAX].decode("utf-8", "surrogateescape")
        meta = replace(meta, link_target=target)
    return meta, notes


def _central_member(stream: IO[bytes], concat: int, e: _Entry, overlap_first: int) -> RawMember:
    """The RawMember for one directory record; see the module docstring for the rules on modes."""
    mode = (e.external_attr >> 16) if e.made_by_system == _UNIX else None
    fmt = stat.S_IFMT(mode) if mode else 0
    data = _holds_data(e)
    meta = ItemMeta(size=e.usize, mtime=_mtime(e.date_time, e.extra), mode=mode)
    if (e.name.endswith("/") or fmt == stat.S_IFDIR) and not data:
        return RawMember(e.name, meta, is_dir=True)
    if overlap_first >= 0:
        return _overlapped(e, meta, overlap_first)
    if fmt not in (0, stat.S_IFREG) and not data:
        kind, target = ("symlink", "") if fmt == stat.S_IFLNK else ("other", None)
        return RawMember(e.name, replace(meta, size=0, kind=kind, link_target=target))
    if fmt == stat.S_IFLNK and not e.flags & 0x1:
        target = _plain_link(_link_bytes(stream, concat, e), e)
        if target is not None:  # an ordinary link: its data is the target, recorded in full as link_target
            return RawMember(e.name, replace(meta, kind="symlink", link_target=target))
    meta, notes = _claims(stream, concat, e, meta, fmt)
    if e.flags & 0x1:
        return RawMember(e.name, meta, errors=(*notes, _encrypted()))
    opener = partial(_open_entry, stream, concat, e)
    return RawMember(e.name, meta, open=opener, compressed=_const(e.csize), errors=notes)


def _central_members(stream: IO[bytes], end: _End, survey: _Survey, limits: Limits) -> Generator[RawMember, None, None]:
    marks = survey.overlap_first
    for i, e in enumerate(_entries(stream, end, survey.count)):
        yield _central_member(stream, end.concat, e, -1 if marks is None else int(marks[i]))
    why: list[str] = []
    if marks is not None:
        refused = int(np.count_nonzero(marks >= 0))
        why.append(
            f"{refused} zip entries overlap the data of another entry (a zip bomb shape); they were listed "
            "without content"
        )
    if survey.more:
        why.append(_too_many(end.declared, survey.count, limits))
    if why:
        raise ContainerLimitExceeded("; ".join(why), listed_all=not survey.more)


# ------------------------------------------------------------------------------ local-header walk


def _deflate_length(stream: IO[bytes], start: int, limits: Limits) -> int:
    """Compressed length of the raw deflate stream at ``start`` (for entries with a data descriptor)."""
    d = zlib.decompressobj(-15)
    stream.seek(start)
    consumed = 0
    produced = 0
    while not d.eof:
        chunk = stream.read(64 * 1024)
        if not chunk:
            raise ContainerDamaged("deflate data ends early (file truncated)")
        consumed += len(chunk)
        data = chunk
        while data and not d.eof:
            produced += len(d.decompress(data, 1024 * 1024))
            data = d.unconsumed_tail
            if produced > limits.max_member_size:
                raise ContainerDamaged("member without sizes expands beyond max_member_size while recovering")
    return consumed - len(d.unused_data)


def _local_members(stream: IO[bytes], limits: Limits) -> Generator[RawMember, None, None]:
    end = _file_size(stream)
    stream.seek(0)
    pos = 4 if stream.read(4) == _SPAN else 0
    found = 0
    while True:
        stream.seek(pos)
        hdr = stream.read(_LOCAL_HDR.size)
        if hdr[:4] != _LOCAL:
            break
        if len(hdr) < _LOCAL_HDR.size:
            raise ContainerDamaged(f"local header {found + 1} is cut off")
        _sig, _v, flags, method, mt, md, crc, csize, usize, nlen, xlen = _LOCAL_HDR.unpack(hdr)
        raw_name = stream.read(nlen)
        extra = stream.read(xlen)
        if len(raw_name) < nlen or len(extra) < xlen:
            raise ContainerDamaged(f"local header {found + 1} is cut off")
        name = _decode_name(raw_name, flags, extra)
        start = pos + _LOCAL_HDR.size + nlen + xlen
        is_dir = name.endswith("/")
        if flags & 0x8:
            if method != 8 or flags & 0x1:
                raise ContainerDamaged(f"cannot recover entry {name!r}: its size is in a data descriptor")
            csize = _deflate_length(stream, start, limits)
            stream.seek(start + csize)
            dd = stream.read(16)
            off = 4 if dd[:4] == _SPAN else 0
            if len(dd) < off + 12:
                raise ContainerDamaged(f"data descriptor of {name!r} is cut off")
            crc, _, usize = struct.unpack_from("<III", dd, off)
            nxt = start + csize + off + 12
        else:
            usize, csize, _ = _zip64(usize, csize, 0, extra)
            nxt = start + csize
        meta = ItemMeta(size=usize, mtime=_mtime(_dos_date_time(mt, md), extra))
        is_dir = is_dir and not csize
        notes = (_dir_with_data(usize),) if name.endswith("/") and not is_dir else ()
        if start + csize > end:
            err = E.item_error(
                E.ARCHIVE_CORRUPT, "member data is cut off by the end of the file; its content was not read."
            )
            yield RawMember(name, meta, is_dir=is_dir, errors=(*notes, err))
            raise ContainerDamaged(f"file ends inside entry {found + 1} ({name!r})")
        found += 1
        if flags & 0x1:
            yield RawMember(name, meta, is_dir=is_dir, errors=(*notes, _encrypted()))
        elif method not in _METHODS:
            err = E.item_error(
                E.UNREADABLE,
                f"member uses compression method {method}, which cannot be recovered without the central "
                "directory; it was not examined.",
            )
            yield RawMember(name, meta, is_dir=is_dir, errors=(*notes, err))
        else:
            yield RawMember(
                name,
                meta,
                is_dir=is_dir,
                open=partial(_Reader, stream, start, csize, method, crc, flags),
                compressed=_const(csize) if method else None,
                errors=notes,
            )
        pos = nxt
    raise ContainerDamaged(f"{found} entries recovered from local headers")


def _too_many(declared: int, listed: int, limits: Limits) -> str:
    return (
        f"the central directory declares {declared} entries or holds more than max_archive_members "
        f"({limits.max_archive_members}); only the first {listed} were listed. Raise Limits.max_archive_members "
        "if it is genuine"
    )


def zip_members(stream: IO[bytes], limits: Limits) -> Generator[RawMember, None, None]:
    """Entries of a zip archive, from the central directory or, failing that, the local headers."""
    try:
        end = _find_end(stream)
        survey = _survey(stream, end, limits)
    except (_NoDirectory, OSError) as exc:
        declared = exc.declared if isinstance(exc, _NoDirectory) else 0
        why = f"central directory unusable ({exc})"
        try:
            yield from _local_members(stream, limits)
        except ContainerDamaged as damage:
            if declared > limits.max_archive_members:
                raise ContainerLimitExceeded(f"{_too_many(declared, 0, limits)}; {damage}; {why}") from None
            raise ContainerDamaged(f"{damage}; {why}") from None
        return
    yield from _central_members(stream, end, survey, limits)


def locate_appended(stream: IO[bytes]) -> int | None:
    """Where a zip whose end record closes ``stream`` starts, when it follows other data (a picture, an
    executable stub): the offset its directory's own offsets count from, or None. Reads a bounded tail."""
    try:
        end = _find_end(stream)
    except (_NoDirectory, OSError, struct.error, ValueError):
        return None
    return end.concat if end.declared else None


FORMAT = ContainerFormat(
    name="zip",
    signatures=(Signature(0, b"PK\x03\x04"), Signature(0, _EOCD), Signature(0, _SPAN)),
    members=zip_members,
    locate=locate_appended,
)
register(FORMAT)
