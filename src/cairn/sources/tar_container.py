"""Tar container formats: plain tar, tar.gz, tar.bz2 and tar.xz.

A plain tar is recognised by ``ustar`` at offset 257, or (a pre-POSIX v7 tar) by a first header whose
checksum is right, and read by seeking over member data. A gzip, bzip2 or xz file is a container only
when its decompressed first block is a tar header; it is read as one forward stream (never decompressed
to disk or memory as a whole), and the decompressed/compressed ratio of the whole stream is checked as it
goes so a bomb is stopped early.

Entries, as GNU tar reads them:

* Regular files (``0``, ``\\0``, contiguous ``7``) and GNU sparse files are read with their content; a
  sparse file's holes read as zeros. Holes are expansion: a sparse member whose size is more than
  ``max_archive_ratio`` times the bytes it stores (and over ``BOMB_FLOOR``) gets ``ARCHIVE_BOMB`` and a
  member declaring more than ``max_member_size`` gets ``MEMBER_TOO_LARGE``, both without reading it; a
  sparse map that does not fit its member gets ``ARCHIVE_CORRUPT``.
* A type flag tarfile does not read (``Z``, ``q`` ...; GNU's volume label ``V`` or dumpdir ``D``) is
  read as a regular file with an ``UNKNOWN_MEMBER_TYPE`` note naming the flag (and the record it marks,
  for the GNU and Solaris ones). Any name is passed on as it is, an empty one included
  (the engine labels it and notes it); tarfile's reading never raises on one.
* Symlinks are listed as ``kind="symlink"``; hard links, devices and fifos as ``kind="other"``, all
  without content. Times and link targets are passed on raw (a pax mtime of 1e20 stays 1e20).
* Damage does not end the listing: a block that is not a valid header (junk, a flipped bit, a damaged
  extended header, extended data tarfile cannot parse such as a sparse map with comment lines) is
  skipped up to the next 512-byte block that is one, as GNU tar does, and entries after an
  end-of-archive marker are listed too. Every skip is recorded as ``ARCHIVE_CORRUPT`` on the
  archive (offsets and byte counts in the tar data). The search reads each byte once with constant work
  per 512-byte block, and compressed tars are searched forward only.
"""

from __future__ import annotations

import bz2
import lzma
import re
import tarfile
import zlib
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field
from typing import IO, cast

from cairn import errors as E
from cairn.model import ItemError, ItemMeta
from cairn.settings import Limits
from cairn.signals.filetype import is_tar_header
from cairn.sources.containers import (
    BOMB_FLOOR,
    HEAD_SIZE,
    ContainerDamaged,
    ContainerDamageSkipped,
    ContainerFormat,
    ContainerLimitExceeded,
    MembersFn,
    RawMember,
    Signature,
    register,
)

#: Compressed bytes a decompressor may have read ahead of the member it is in; added to each member's
#: compressed size so buffering never makes a normal member look like a bomb.
_READ_AHEAD_SLACK = 64 * 1024
_BLOCK = tarfile.BLOCKSIZE
#: Bytes read at a time when searching for the next valid header (a multiple of the block size).
_SCAN_CHUNK = 64 * 1024
#: Largest read passed to a decompressor at once, so the ratio guard sees every MiB.
_READ_CHUNK = 1024 * 1024
#: Skipped regions named one by one in the archive's message; the rest are counted.
_REGIONS_SHOWN = 5
#: The checksum field of a block tarfile could accept starts (after blanks) with an octal digit, or is
#: base-256; anything else is rejected without computing the sum.
_SUM_START = re.compile(rb"[\x80\xff]|[ \t\n\r\x0b\x0c]*[0-7]")

_Decompressor = Callable[[IO[bytes]], IO[bytes]]
#: What tarfile raises on a header it cannot use. Besides ``ReadError``, a checksum-valid header whose
#: extended data does not parse (a GNU sparse 1.0 map with comment lines, as in libarchive's
#: ``test_read_format_gtar_sparse_1_17_posix10_modified.tar``; a number out of range) raises a plain
#: ``ValueError``/``OverflowError`` from deep inside tarfile: that too is a damaged header to skip.
_HEADER_ERRORS = (tarfile.ReadError, ValueError, OverflowError)


#: Largest extended header (pax ``x``/``g``, GNU long name ``L``/``K``) read into memory: tarfile reads one
#: whole, in one call, so a 200 MB pax header took 700 MB and a multi-GB one would end the scanning process.
#: A larger one is skipped as damage (the members after it are found by resynchronising).
MAX_EXTENDED_HEADER = 16 * 1024**2


class _HeaderTooLarge(tarfile.ReadError):
    """An extended header larger than ``MAX_EXTENDED_HEADER``."""


class _HeaderBound:
    """The archive stream as tarfile sees it: a single read above ``MAX_EXTENDED_HEADER`` is refused.

    Member data is read by the engine in pieces of at most 1 MiB, so only an extended header's data can
    ask for more at once; refusing it raises ``tarfile.ReadError``, which the listing treats as a damaged
    header and skips.
    """

    def __init__(self, raw: IO[bytes]) -> None:
        self.raw = raw

    def read(self, n: int = -1, /) -> bytes:
        if n is None or n < 0 or n > MAX_EXTENDED_HEADER:
            raise _HeaderTooLarge(
                f"an extended header of {n} bytes, over the {MAX_EXTENDED_HEADER}-byte limit, was not read"
            )
        return self.raw.read(n)

    def seek(self, offset: int, whence: int = 0, /) -> int:
        return self.raw.seek(offset, whence)

    def tell(self) -> int:
        return self.raw.tell()

    def close(self) -> None:
        """Nothing to release; the underlying stream belongs to the caller."""


class _Counter:
    """Counts the compressed bytes read from the underlying stream."""

    def __init__(self, raw: IO[bytes]) -> None:
        self.raw = raw
        self.count = 0

    def read(self, n: int = -1, /) -> bytes:
        b = self.raw.read(n)
        self.count += len(b)
        return b


class _Guard:
    """Decompressed stream that raises ContainerLimitExceeded when the archive expands too much."""

    def __init__(self, inner: IO[bytes], counter: _Counter, limits: Limits) -> None:
        self.inner = inner
        self.counter = counter
        self.limits = limits
        self.delivered = 0
        self.eof = False

    def read(self, n: int = -1, /) -> bytes:
        b = self.inner.read(n)
        if not b and n != 0:
            self.eof = True
        self.delivered += len(b)
        lim = self.limits
        if self.delivered > lim.max_archive_total:
            raise ContainerLimitExceeded(f"archive expands beyond max_archive_total ({lim.max_archive_total} bytes)")
        if self.delivered > BOMB_FLOOR:
            comp = max(self.counter.count, 1)
            if self.delivered / comp > lim.max_archive_ratio:
                raise ContainerLimitExceeded(
                    f"archive expands more than {lim.max_archive_ratio:g} times its compressed size "
                    f"({self.delivered} bytes from {comp})"
                )
        return b


class _Forward:
    """A forward-only stream made to look seekable, for tarfile's ``r:`` mode on a decompressed tar.

    Seeking forward reads and drops bytes; seeking back is allowed only into the last ``_KEEP`` bytes
    read (enough to go back to a header the resynchronising search has just read). Reads from the
    underlying stream are at most ``_READ_CHUNK`` bytes, so a huge declared size is never asked of a
    decompressor at once. A read past the end returns what there was, as a file does.
    """

    _KEEP = 1024 * 1024

    def __init__(self, raw: IO[bytes]) -> None:
        self.raw = raw
        self.pos = 0
        self.end = 0  # bytes taken from ``raw`` so far
        self.history = bytearray()  # the last bytes taken from ``raw``, ending at ``end``
        self.eof = False

    def tell(self) -> int:
        return self.pos

    def seekable(self) -> bool:
        return True

    def read(self, n: int = -1, /) -> bytes:
        out = bytearray()
        if self.pos < self.end:
            start = len(self.history) - (self.end - self.pos)
            stop = len(self.history) if n < 0 else min(len(self.history), start + n)
            out += self.history[start:stop]
            self.pos += stop - start
            n = n if n < 0 else n - (stop - start)
        while n != 0 and not self.eof and self.pos >= self.end:
            b = self.raw.read(_READ_CHUNK if n < 0 else min(n, _READ_CHUNK))
            if not b:
                self.eof = True
                break
            self.history += b
            if len(self.history) > 2 * self._KEEP:
                del self.history[: len(self.history) - self._KEEP]
            self.end += len(b)
            self.pos = self.end
            out += b
            n = n if n < 0 else n - len(b)
        return bytes(out)

    def seek(self, offset: int, whence: int = 0, /) -> int:
        if whence not in (0, 1):
            raise OSError("a compressed tar is read forward only; it cannot seek from its end")
        target = offset if whence == 0 else self.pos + offset
        if target < self.end - len(self.history):
            raise OSError(f"a compressed tar is read forward only; cannot go back to offset {target}")
        if target <= self.end:
            self.pos = target
            return target
        self.pos = self.end
        while self.pos < target and not self.eof:
            self.read(min(target - self.pos, _READ_CHUNK))
        self.pos = target
        return target

    def close(self) -> None:
        """Nothing to release; the underlying stream belongs to the caller."""


# ------------------------------------------------------------------------------------ damage


@dataclass
class _Damage:
    """What the reader skipped: regions of the tar data that were not valid headers, for the archive."""

    regions: list[str] = field(default_factory=list)
    skipped: int = 0  # bytes in all

    def add(self, what: str, nbytes: int) -> None:
        self.regions.append(what)
        self.skipped += nbytes

    def summary(self) -> str:
        shown = "; ".join(self.regions[:_REGIONS_SHOWN])
        more = len(self.regions) - _REGIONS_SHOWN
        if more > 0:
            shown += f"; and {more} more such places"
        return (
            f"tar archive is damaged: {shown} ({self.skipped} bytes skipped in all, offsets in the tar data). "
            "Reading went on at the next valid header, as GNU tar does, and every entry found was listed; "
            "the skipped bytes were not examined. Try a repair tool on a copy of the file."
        )


def _is_header(block: bytes) -> bool:
    """True when tarfile would accept ``block`` as a header (right checksum, numeric fields that parse)."""
    try:
        tarfile.TarInfo.frombuf(block, "utf-8", "surrogateescape")
    except Exception:
        return False
    return True


@dataclass
class _Found:
    """Outcome of a search for the next header: where it is (None: none before the end of the data)."""

    offset: int | None
    junk: int  # bytes passed over that were not all zeros
    zeros_first: bool  # the first block searched was all zeros (an end-of-archive marker)
    stop: int  # where the search stopped


def _scan(f: IO[bytes], start: int) -> _Found:
    """Find the first block at or after ``start`` (a block boundary) that is a valid header.

    Leaves ``f`` positioned at that header. Constant work per block: an all-zero chunk is passed at
    once, and the checksum is computed only for blocks whose checksum field could hold one.
    """
    f.seek(start)
    pos = start
    junk = 0
    zeros_first: bool | None = None
    while chunk := f.read(_SCAN_CHUNK):
        n = len(chunk)
        if chunk.count(0) == n:
            zeros_first = True if zeros_first is None else zeros_first
            pos += n
            continue
        for i in range(0, n, _BLOCK):
            j = min(i + _BLOCK, n)
            zero = chunk.count(0, i, j) == j - i
            if zeros_first is None:
                zeros_first = zero
            if zero:
                continue
            if j - i == _BLOCK and _SUM_START.match(chunk, i + 148, i + 156) and _is_header(chunk[i:j]):
                f.seek(pos + i)
                return _Found(pos + i, junk, bool(zeros_first), pos + i)
            junk += j - i
        pos += n
    return _Found(None, junk, bool(zeros_first), pos)


def _record(damage: _Damage, at: int, found: _Found, bad_header: bool, why: str = "") -> None:
    """Describe in ``damage`` what lay between ``at`` and the header found (or the end of the data).

    ``why``: tarfile's complaint when the header at ``at`` had a right checksum but could not be used.
    """
    because = f" ({why})" if why else ""
    if found.offset is not None:
        gap = found.offset - at
        if found.zeros_first and not bad_header:
            what = f"an end-of-archive marker at offset {at} is followed by more entries from offset {found.offset}"
            if found.junk:
                what += f" ({found.junk} bytes between them are not tar data)"
            damage.add(what, found.junk)
        else:
            damage.add(f"{gap} bytes at offset {at} are not a valid tar header{because}", gap)
    elif bad_header:
        damage.add(f"a damaged header at offset {at}{because} is followed by no valid header", found.stop - at)
    elif found.junk:
        damage.add(f"{found.junk} bytes of data that is not tar follow the last entry (from offset {at})", found.junk)


def _why(exc: Exception) -> str:
    """tarfile's complaint about a header, for the archive's message (empty for its generic ReadError)."""
    if isinstance(exc, _HeaderTooLarge):
        return str(exc)
    if isinstance(exc, tarfile.ReadError):
        return ""
    return f"its extended data cannot be read: {type(exc).__name__}: {str(exc)[:80]}"


def _ends_before(f: IO[bytes], offset: int) -> bool:
    """True when the data ends before ``offset`` (the previous member was cut off)."""
    if offset <= 0:
        return False
    f.seek(offset - 1)
    return not f.read(1)


def _open(f: IO[bytes], damage: _Damage) -> tarfile.TarFile | None:
    """A TarFile on ``f`` that starts at the first valid header (None: there is none)."""
    at = 0
    f.seek(0)
    bad = not _is_header(f.read(_BLOCK))
    why = ""
    while True:
        if bad:
            found = _scan(f, at + _BLOCK)
            _record(damage, at, found, bad_header=True, why=why)
            if found.offset is None:
                return None
            at = found.offset
        f.seek(at)
        try:
            return tarfile.open(fileobj=cast(IO[bytes], _HeaderBound(f)), mode="r:")  # noqa: SIM115  (closed by the caller)
        except _HEADER_ERRORS as exc:
            bad = True  # an extended header whose data or next header is damaged
            why = _why(exc)


def _entries(tf: tarfile.TarFile, f: IO[bytes], damage: _Damage) -> Iterator[tarfile.TarInfo]:
    """Every entry tarfile can read, resynchronising on the next valid header after damage."""
    while True:
        at = tf.offset
        bad = False
        why = ""
        read_ahead = getattr(tf, "firstmember", None) is not None  # read by tarfile.open; tf.offset is past it
        try:
            ti = tf.next()
        except _HEADER_ERRORS as exc:
            if _ends_before(f, at):
                raise ContainerDamaged("archive ends inside a member (file truncated)") from None
            ti, bad, why = None, True, _why(exc)  # an extended header whose data or next header is damaged
        tf.members.clear()  # type: ignore[attr-defined]  # keep memory flat for archives with very many entries
        if ti is not None:
            if tf.offset <= at and not read_ahead:  # a negative size would make tarfile read the same headers again
                tf.offset = max(ti.offset_data, at + _BLOCK)
            yield ti
            continue
        if _ends_before(f, at + 1):
            return
        found = _scan(f, at + _BLOCK if bad else at)
        if found.offset is not None or found.junk or bad:
            _record(damage, at, found, bad, why)
        if found.offset is None:
            return
        tf.offset = found.offset


# ------------------------------------------------------------------------------------ members


def _mtime(ti: tarfile.TarInfo) -> float | None:
    try:
        return float(ti.mtime) if ti.mtime is not None else None
    except (OverflowError, ValueError, TypeError):
        return None


def _stored(tf: tarfile.TarFile, ti: tarfile.TarInfo) -> int:
    """Bytes the member's data takes in the archive (to the next header; block padding included)."""
    return max(tf.offset - ti.offset_data, 0)


def _sparse_problem(ti: tarfile.TarInfo, stored: int) -> str | None:
    """Why the sparse map of ``ti`` cannot be read as GNU tar would (None: it can)."""
    end = 0
    data = 0
    for offset, numbytes in cast("list[tuple[int, int]]", ti.sparse or []):
        if offset < 0 or numbytes < 0 or offset + numbytes > ti.size:
            return f"a sparse region ({offset}, {numbytes}) lies outside the member's {ti.size} bytes"
        if numbytes == 0:
            continue
        if offset < end:
            return f"sparse regions overlap or are out of order at offset {offset}"
        end = offset + numbytes
        data += numbytes
    if data > stored:
        return f"the sparse map names {data} bytes of data but the archive stores {stored}"
    return None


def _limit_error(ti: tarfile.TarInfo, stored: int, limits: Limits) -> ItemError | None:
    """An error for a member that must not be read: too large, a sparse bomb, or a broken sparse map."""
    if ti.size < 0:
        return E.item_error(E.ARCHIVE_CORRUPT, f"member declares a negative size ({ti.size}); it was not read.")
    if ti.size > limits.max_member_size:
        return E.item_error(
            E.MEMBER_TOO_LARGE,
            f"member declares {ti.size} bytes, beyond max_member_size ({limits.max_member_size} bytes); its "
            "content was not examined. Raise Limits.max_member_size to examine it.",
        )
    if ti.sparse is None:
        return None
    if (problem := _sparse_problem(ti, stored)) is not None:
        return E.item_error(
            E.ARCHIVE_CORRUPT,
            f"sparse member's map is damaged ({problem}); its content was not examined. Try GNU tar on a "
            "copy of the archive.",
        )
    if ti.size > BOMB_FLOOR and ti.size > limits.max_archive_ratio * max(stored, 1):
        return E.item_error(
            E.ARCHIVE_BOMB,
            f"sparse member expands to {ti.size} bytes from {stored} bytes stored in the archive (its holes "
            f"are expansion), more than {limits.max_archive_ratio:g} times; its content was not examined. "
            "Raise Limits.max_archive_ratio if it is genuine.",
        )
    return None


#: Type flags that GNU or Solaris tar define for records that are not files (tarfile reads none of them).
_NOT_FILES = {
    b"V": "a GNU volume label",
    b"M": "a GNU multi-volume continuation",
    b"D": "a GNU dumpdir (an incremental backup's directory listing)",
    b"N": "an old GNU long-name record",
    b"A": "a Solaris ACL",
    b"E": "a Solaris extended attribute",
    b"I": "a Solaris inode record",
    b"X": "an old Solaris extended header",
}


def _unknown_type(ti: tarfile.TarInfo) -> tuple[ItemError, ...]:
    """The note of a member whose type flag tarfile does not read (empty for a known type)."""
    if ti.type in tarfile.SUPPORTED_TYPES:
        return ()
    flag = ti.type.decode("latin-1")
    if (what := _NOT_FILES.get(ti.type)) is not None:
        message = (
            f"tar type flag {flag!r} marks {what}, not a file; its data was read as a regular file so that "
            "nothing it holds goes unexamined."
        )
    else:
        message = (
            f"tar type flag {flag!r} is not one tar defines; the member was read as a regular file, as GNU tar "
            "extracts it."
        )
    return (E.item_note(E.UNKNOWN_MEMBER_TYPE, message),)


def _member(
    tf: tarfile.TarFile, ti: tarfile.TarInfo, compressed: Callable[[], int] | None, limits: Limits
) -> RawMember:
    mtime = _mtime(ti)
    if ti.isdir():
        return RawMember(ti.name, ItemMeta(size=0, mtime=mtime, mode=ti.mode), is_dir=True)
    if ti.issym():
        meta = ItemMeta(size=0, mtime=mtime, kind="symlink", link_target=ti.linkname, mode=ti.mode)
        return RawMember(ti.name, meta)
    notes = _unknown_type(ti)
    if ti.isreg() or notes:
        stored = _stored(tf, ti)
        meta = ItemMeta(size=ti.size, mtime=mtime, mode=ti.mode)
        if (err := _limit_error(ti, stored, limits)) is not None:
            return RawMember(ti.name, meta, errors=(*notes, err))
        if ti.sparse is not None:
            compressed = lambda: stored  # noqa: E731  (holes are expansion of the bytes stored)
        return RawMember(ti.name, meta, open=lambda: _extract(tf, ti), compressed=compressed, errors=notes)
    target = ti.linkname if ti.islnk() else None
    meta = ItemMeta(size=0, mtime=mtime, kind="other", link_target=target, mode=ti.mode)
    return RawMember(ti.name, meta)


def _extract(tf: tarfile.TarFile, ti: tarfile.TarInfo) -> IO[bytes]:
    f = tf.extractfile(ti)
    if f is None:
        raise tarfile.ReadError(f"member {ti.name!r} has no data")
    return f


def _read_all(
    f: IO[bytes], counter: Callable[[], int] | None, limits: Limits, damage: _Damage
) -> Generator[RawMember, None, None]:
    """Members of the tar data in ``f`` (seekable, or a ``_Forward``); records skipped damage."""
    tf = _open(f, damage)
    if tf is None:
        raise ContainerDamaged("no valid tar header was found")
    try:
        for ti in _entries(tf, f, damage):
            comp = None if counter is None else _since(counter, counter())
            yield _member(tf, ti, comp, limits)
    finally:
        tf.close()  # does not close a stream it was given


def plain_tar_members(stream: IO[bytes], limits: Limits) -> Generator[RawMember, None, None]:
    """Entries of an uncompressed tar, reading headers only (member data is seeked over)."""
    damage = _Damage()
    yield from _read_all(stream, None, limits, damage)
    if damage.regions:
        raise ContainerDamageSkipped(damage.summary())


def _since(counter: Callable[[], int], start: int) -> Callable[[], int]:
    return lambda: counter() - start + _READ_AHEAD_SLACK


def _stream_members(decompress: _Decompressor) -> MembersFn:
    def members(stream: IO[bytes], limits: Limits) -> Generator[RawMember, None, None]:
        stream.seek(0)
        counter = _Counter(stream)
        guard = _Guard(decompress(cast(IO[bytes], counter)), counter, limits)
        damage = _Damage()
        yield from _read_all(cast(IO[bytes], _Forward(cast(IO[bytes], guard))), lambda: counter.count, limits, damage)
        inner = guard.inner
        if isinstance(inner, _Gunzip):
            while guard.read(_READ_CHUNK):  # reach the end of the compressed data
                pass
            if inner.trailing:
                raise ContainerDamaged(
                    f"{inner.trailing} bytes of data that is not gzip follow the compressed stream; "
                    "every member before them was read (gzip ignores such data with a warning)"
                    + (f"; also, {damage.summary()}" if damage.regions else "")
                )
        if damage.regions:
            raise ContainerDamageSkipped(damage.summary())

    return members


def _confirm(decompress: _Decompressor) -> Callable[[IO[bytes]], bool]:
    def confirm(stream: IO[bytes]) -> bool:
        stream.seek(0)
        reader = decompress(stream)
        head = b""
        while len(head) < HEAD_SIZE and (more := reader.read(HEAD_SIZE - len(head))):
            head += more
        return head[257:262] == b"ustar" or is_tar_header(head)

    return confirm


class _Gunzip:
    """Forward stream of the gzip members in ``raw``, read as gzip(1) reads them.

    Zero padding after the last member is skipped; any other data there ends the stream without an
    error (``trailing`` counts its bytes), where Python's ``GzipFile`` would raise and lose every member.
    A stream cut off inside a member raises EOFError.
    """

    def __init__(self, raw: IO[bytes]) -> None:
        self._raw = raw
        self._d = zlib.decompressobj(31)
        self._pending = b""
        self._done = False
        self.trailing = 0

    def _next_member(self) -> None:
        rest = self._d.unused_data
        while len(rest) < 2 and (more := self._raw.read(64 * 1024)):
            rest += more
        if rest[:2] == b"\x1f\x8b":
            self._d = zlib.decompressobj(31)
            self._pending = rest
            return
        self._done = True
        while True:
            self.trailing += len(rest.lstrip(b"\x00")) if not self.trailing else len(rest)
            rest = self._raw.read(1024 * 1024)
            if not rest:
                return

    def read(self, n: int = -1, /) -> bytes:
        """Up to ``n`` decompressed bytes (``n`` < 0: up to 1 MiB); b"" at the end."""
        if n == 0:
            return b""
        n = n if n > 0 else 1024 * 1024
        out = b""
        while not out and not self._done:
            if self._d.eof:
                self._next_member()
                continue
            data = self._pending or self._raw.read(64 * 1024)
            if not data:
                raise EOFError("compressed file ended before the end-of-stream marker was reached")
            out = self._d.decompress(data, n)
            self._pending = self._d.unconsumed_tail
        return out

    def close(self) -> None:
        """Nothing to release; the underlying stream belongs to the caller."""


def _gz(f: IO[bytes]) -> IO[bytes]:
    return cast(IO[bytes], _Gunzip(f))


def _bz2(f: IO[bytes]) -> IO[bytes]:
    return cast(IO[bytes], bz2.BZ2File(f, mode="rb"))


def _xz(f: IO[bytes]) -> IO[bytes]:
    return cast(IO[bytes], lzma.LZMAFile(f, mode="rb"))


@dataclass(frozen=True)
class _TarChecksum(Signature):
    """Matches a tar header by its checksum: pre-POSIX (v7) tars carry no ``ustar`` magic."""

    def matches(self, head: bytes) -> bool:
        """True when ``head`` holds a tar header with a right checksum at ``offset``."""
        return is_tar_header(head[self.offset : self.offset + 512])


_USTAR = (Signature(257, b"ustar"), _TarChecksum(0, b""))

FORMATS = (
    ContainerFormat("tar", _USTAR, plain_tar_members),
    ContainerFormat("tar.gz", (Signature(0, b"\x1f\x8b"),), _stream_members(_gz), _confirm(_gz)),
    ContainerFormat("tar.bz2", (Signature(0, b"BZh"),), _stream_members(_bz2), _confirm(_bz2)),
    ContainerFormat("tar.xz", (Signature(0, b"\xfd7zXZ\x00"),), _stream_members(_xz), _confirm(_xz)),
)
for _fmt in FORMATS:
    register(_fmt)
