"""Tar container formats: plain tar, tar.gz, tar.bz2 and tar.xz.

A plain tar is recognised by ``ustar`` at offset 257, or (a pre-POSIX v7 tar) by a first header whose
checksum is right, and read by seeking over member data. A gzip, bzip2
or xz file is a container only when its decompressed first block is a tar header; it is read as one
forward stream (never decompressed to disk or memory as a whole), and the decompressed/compressed ratio of
the whole stream is checked as it goes so a bomb is stopped early. Symlink members are listed as
``kind="symlink"`` and hard links, devices and fifos as ``kind="other"``, all without content.
"""

from __future__ import annotations

import bz2
import lzma
import tarfile
import zlib
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import IO, cast

from cairn.model import ItemMeta
from cairn.settings import Limits
from cairn.signals.filetype import is_tar_header
from cairn.sources.containers import (
    BOMB_FLOOR,
    HEAD_SIZE,
    ContainerDamaged,
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

_Decompressor = Callable[[IO[bytes]], IO[bytes]]


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
            raise ContainerLimitExceeded(
                f"archive expands beyond max_archive_total ({lim.max_archive_total} bytes)"
            )
        if self.delivered > BOMB_FLOOR:
            comp = max(self.counter.count, 1)
            if self.delivered / comp > lim.max_archive_ratio:
                raise ContainerLimitExceeded(
                    f"archive expands more than {lim.max_archive_ratio:g} times its compressed size "
                    f"({self.delivered} bytes from {comp})"
                )
        return b


def _next(tf: tarfile.TarFile) -> tarfile.TarInfo | None:
    ti = tf.next()
    tf.members.clear()  # type: ignore[attr-defined]  # keep memory flat for archives with very many entries
    return ti


def _member(tf: tarfile.TarFile, ti: tarfile.TarInfo, compressed: Callable[[], int] | None) -> RawMember:
    mtime = float(ti.mtime) if ti.mtime is not None else None
    if ti.isdir():
        return RawMember(ti.name, ItemMeta(size=0, mtime=mtime, mode=ti.mode), is_dir=True)
    if ti.issym():
        meta = ItemMeta(size=0, mtime=mtime, kind="symlink", link_target=ti.linkname, mode=ti.mode)
        return RawMember(ti.name, meta)
    if ti.isreg():
        return RawMember(
            ti.name,
            ItemMeta(size=ti.size, mtime=mtime, mode=ti.mode),
            open=lambda: _extract(tf, ti),
            compressed=compressed,
        )
    target = ti.linkname if ti.islnk() else None
    return RawMember(ti.name, ItemMeta(size=0, mtime=mtime, kind="other", link_target=target, mode=ti.mode))


def _extract(tf: tarfile.TarFile, ti: tarfile.TarInfo) -> IO[bytes]:
    f = tf.extractfile(ti)
    if f is None:
        raise tarfile.ReadError(f"member {ti.name!r} has no data")
    return f


def plain_tar_members(stream: IO[bytes], limits: Limits) -> Generator[RawMember, None, None]:
    """Entries of an uncompressed tar, reading headers only (member data is seeked over)."""
    stream.seek(0)
    tf = tarfile.open(fileobj=stream, mode="r:")  # noqa: SIM115  (closed below; generator)
    try:
        while (ti := _next(tf)) is not None:
            yield _member(tf, ti, None)
    finally:
        tf.close()  # does not close a stream it was given


def _since(counter: _Counter, start: int) -> Callable[[], int]:
    return lambda: counter.count - start + _READ_AHEAD_SLACK


def _stream_members(decompress: _Decompressor) -> MembersFn:
    def members(stream: IO[bytes], limits: Limits) -> Generator[RawMember, None, None]:
        stream.seek(0)
        counter = _Counter(stream)
        guard = _Guard(decompress(counter), counter, limits)  # type: ignore[arg-type]
        tf = tarfile.open(fileobj=guard, mode="r|")  # type: ignore[call-overload]  # noqa: SIM115
        try:
            while (ti := _next(tf)) is not None:
                yield _member(tf, ti, _since(counter, counter.count))
            if guard.eof and guard.delivered < tf.offset:
                raise ContainerDamaged("archive ends inside a member (file truncated)")
            inner = guard.inner
            if isinstance(inner, _Gunzip):
                while guard.read(1024 * 1024):  # reach the end of the compressed data
                    pass
                if inner.trailing:
                    raise ContainerDamaged(
                        f"{inner.trailing} bytes of data that is not gzip follow the compressed stream; "
                        "every member before them was read (gzip ignores such data with a warning)"
                    )
        finally:
            tf.close()

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
