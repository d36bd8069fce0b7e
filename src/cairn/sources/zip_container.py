"""Zip container format.

Members come from the central directory. When it is missing or damaged (a truncated download, a carved
file) the local file headers are walked from the start instead, so members before the damage are still
found; the container is then marked ``ARCHIVE_CORRUPT``. Member times: the zip DOS ``date_time`` has no
time zone; it is read as if it were UTC. An "extended timestamp" extra field (0x5455), which is real UTC,
wins when present. Encrypted members are listed with ``ARCHIVE_ENCRYPTED`` and no content.
"""

from __future__ import annotations

import calendar
import stat
import struct
import zipfile
import zlib
from collections.abc import Callable, Generator
from functools import partial
from types import TracebackType
from typing import IO

from cairn import errors as E
from cairn.model import ItemError, ItemMeta
from cairn.settings import Limits
from cairn.sources.containers import (
    ContainerDamaged,
    ContainerFormat,
    RawMember,
    Signature,
    register,
)

_LOCAL = b"PK\x03\x04"
_SPAN = b"PK\x07\x08"
_EOCD = b"PK\x05\x06"


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


def _ext_mtime(extra: bytes) -> float | None:
    """mtime from an extended-timestamp extra field (0x5455), or None."""
    i = 0
    while i + 4 <= len(extra):
        hid, size = struct.unpack_from("<HH", extra, i)
        body = extra[i + 4 : i + 4 + size]
        if hid == 0x5455 and len(body) >= 5 and body[0] & 1:
            return float(struct.unpack_from("<i", body, 1)[0])
        i += 4 + size
    return None


def _mtime(date_time: tuple[int, int, int, int, int, int], extra: bytes) -> float | None:
    ext = _ext_mtime(extra)
    return ext if ext is not None else _dos_time(date_time)


def _central_members(zf: zipfile.ZipFile) -> Generator[RawMember, None, None]:
    for info in zf.infolist():
        mode = (info.external_attr >> 16) if info.create_system == 3 else None
        mtime = _mtime(info.date_time, info.extra)
        is_dir = info.is_dir() or (mode is not None and stat.S_ISDIR(mode))
        encrypted = bool(info.flag_bits & 0x1)
        if mode is not None and stat.S_ISLNK(mode) and not encrypted:
            target: str | None = None
            try:
                with zf.open(info) as f:
                    target = f.read(4096).decode("utf-8", "replace")
            except Exception:
                target = None
            meta = ItemMeta(size=info.file_size, mtime=mtime, kind="symlink", link_target=target, mode=mode)
            yield RawMember(info.filename, meta)
            continue
        special = mode is not None and not is_dir and not stat.S_ISREG(mode) and stat.S_IFMT(mode) != 0
        if special and not info.file_size:
            # A FIFO/device entry with data is read as a file: Info-ZIP gives what it zips from stdin
            # (``zip out.zip -``) the mode of the pipe, yet stores the bytes.
            meta = ItemMeta(size=info.file_size, mtime=mtime, kind="other", mode=mode)
            yield RawMember(info.filename, meta)
            continue
        meta = ItemMeta(size=info.file_size, mtime=mtime, mode=mode)
        if encrypted:
            yield RawMember(info.filename, meta, is_dir=is_dir, errors=(_encrypted(),))
            continue
        yield RawMember(
            info.filename,
            meta,
            is_dir=is_dir,
            open=partial(zf.open, info),
            compressed=_const(info.compress_size),
        )


class _LocalReader:
    """Read-only stream of one member found by the local-header walk (stored or deflated), CRC-checked."""

    def __init__(self, stream: IO[bytes], start: int, csize: int, method: int, crc: int) -> None:
        self._stream = stream
        self._pos = start
        self._left = csize
        self._crc_expected = crc
        self._crc = 0
        self._d = zlib.decompressobj(-15) if method == 8 else None
        self._tail = b""
        self._done = False

    def __enter__(self) -> _LocalReader:
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
            raise zipfile.BadZipFile("member data ends early (file truncated)")
        self._pos += len(b)
        self._left -= len(b)
        return b

    def _finish(self) -> bytes:
        if not self._done:
            self._done = True
            if self._crc != self._crc_expected:
                raise zipfile.BadZipFile("CRC-32 mismatch")
        return b""

    def read(self, n: int = -1) -> bytes:
        """Up to ``n`` bytes (``n`` < 0: up to 1 MiB)."""
        n = n if n >= 0 else 1024 * 1024
        if self._d is None:
            out = self._raw(n)
        else:
            out = b""
            while not out:
                if self._d.eof:
                    break
                inp = self._tail or self._raw(64 * 1024)
                if not inp and not self._tail:
                    raise zipfile.BadZipFile("deflate stream ends early (file truncated)")
                out = self._d.decompress(inp, n)
                self._tail = self._d.unconsumed_tail
        if not out:
            return self._finish()
        self._crc = zlib.crc32(out, self._crc)
        return out


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
    stream.seek(0, 2)
    end = stream.tell()
    stream.seek(0)
    pos = 4 if stream.read(4) == _SPAN else 0
    found = 0
    while True:
        stream.seek(pos)
        if stream.read(4) != _LOCAL:
            break
        hdr = stream.read(26)
        if len(hdr) < 26:
            raise ContainerDamaged(f"local header {found + 1} is cut off")
        _v, flags, method, mt, md, crc, csize, _usize, nlen, xlen = struct.unpack("<HHHHHIIIHH", hdr)
        raw_name = stream.read(nlen)
        extra = stream.read(xlen)
        if len(raw_name) < nlen or len(extra) < xlen:
            raise ContainerDamaged(f"local header {found + 1} is cut off")
        name = raw_name.decode("utf-8" if flags & 0x800 else "cp437", "replace")
        date_time = (
            (md >> 9) + 1980,
            (md >> 5) & 0xF,
            md & 0x1F,
            mt >> 11,
            (mt >> 5) & 0x3F,
            (mt & 0x1F) * 2,
        )
        start = pos + 30 + nlen + xlen
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
            usize = _usize
            nxt = start + csize
        meta = ItemMeta(size=usize, mtime=_mtime(date_time, extra))
        if start + csize > end:
            err = E.item_error(
                E.ARCHIVE_CORRUPT, "member data is cut off by the end of the file; its content was not read."
            )
            yield RawMember(name, meta, is_dir=is_dir, errors=(err,))
            raise ContainerDamaged(f"file ends inside entry {found + 1} ({name!r})")
        found += 1
        if flags & 0x1:
            yield RawMember(name, meta, is_dir=is_dir, errors=(_encrypted(),))
        elif method not in (0, 8):
            err = E.item_error(
                E.UNREADABLE,
                f"member uses compression method {method}, which cannot be recovered without the central "
                "directory; it was not examined.",
            )
            yield RawMember(name, meta, is_dir=is_dir, errors=(err,))
        else:
            yield RawMember(
                name,
                meta,
                is_dir=is_dir,
                open=partial(_LocalReader, stream, start, csize, method, crc),
                compressed=_const(csize) if method == 8 else None,
            )
        pos = nxt
    raise ContainerDamaged(f"{found} entries recovered from local headers")


def zip_members(stream: IO[bytes], limits: Limits) -> Generator[RawMember, None, None]:
    """Entries of a zip archive, from the central directory or, failing that, the local headers."""
    try:
        zf = zipfile.ZipFile(stream)
    except (zipfile.BadZipFile, ValueError, struct.error, OSError, EOFError) as exc:
        why = f"{type(exc).__name__}: {exc}"
        try:
            yield from _local_members(stream, limits)
        except ContainerDamaged as damage:
            raise ContainerDamaged(f"{damage}; central directory unusable ({why})") from None
        return
    try:
        yield from _central_members(zf)
    finally:
        zf.close()  # a ZipFile given a stream never closes the stream


FORMAT = ContainerFormat(
    name="zip",
    signatures=(Signature(0, b"PK\x03\x04"), Signature(0, _EOCD), Signature(0, _SPAN)),
    members=zip_members,
)
register(FORMAT)
