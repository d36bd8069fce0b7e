"""The per-item task: a pure function of (item, settings) -> FileResult, run in any worker.

One read pass: the head is sniffed, every stream signal sees every byte once, and a picture is decoded
once from the bytes already read (pictures up to ``Limits.max_image_file_bytes`` are read whole, then
decoded from memory; larger ones, even ones that grow past it while read, are streamed and only hashed).
Nothing here touches the database; the scan loop's writer does.

A file on disk is checked after its read: when its size or modification time as listed, the bytes read,
and its size or time after the read (``fstat`` of the open file) disagree, it changed during the scan: it
gets ``changed_during_scan`` and the size stored is the bytes actually hashed (the other sizes are in the
message).
"""

from __future__ import annotations

import contextlib
import io
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import BinaryIO

from cairn import errors
from cairn.model import EvidenceItem, FileResult, ItemError, ItemMeta
from cairn.pipeline.executor import Lost
from cairn.settings import Limits, ScanSettings
from cairn.signals import filetype
from cairn.signals.base import ItemContext
from cairn.signals.imaging import decode_image
from cairn.signals.registry import signals
from cairn.sources.deep_path import open_path

HEAD_BYTES = 64 * 1024
_NOATIME = getattr(os, "O_NOATIME", 0)


def open_readonly(path: str) -> BinaryIO:
    """Open an evidence file read-only, without updating its access time where the OS allows it."""
    flags = os.O_RDONLY | getattr(os, "O_BINARY", 0) | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = open_path(path, flags | _NOATIME)
    except PermissionError:
        fd = open_path(path, flags)  # O_NOATIME needs file ownership; plain read-only still never writes
    return os.fdopen(fd, "rb", buffering=0)


@contextmanager
def _content(item: EvidenceItem) -> Iterator[BinaryIO]:
    if item.data is not None:
        yield io.BytesIO(item.data)
        return
    path = item.os_path or item.spool_path
    assert path is not None
    with open_readonly(path) as fh:
        yield fh


def _read_full(fh: BinaryIO, head: bytes, at_most: int) -> bytes:
    """``head`` and what follows it, up to ``at_most`` bytes in all (a file may grow while it is read)."""
    parts = [head]
    total = len(head)
    while total < at_most and (chunk := fh.read(min(4 * 1024 * 1024, at_most - total))):
        parts.append(chunk)
        total += len(chunk)
    return b"".join(parts)


def _stream(fh: BinaryIO, head: bytes, feed: Callable[[bytes], None], chunk_size: int) -> int:
    """Feed ``head`` and the rest of ``fh`` chunk by chunk; return the bytes fed."""
    total = 0
    chunk = head
    while True:
        if chunk:
            total += len(chunk)
            feed(chunk)
        chunk = fh.read(chunk_size)
        if not chunk:
            return total


def _grown_past_limit(total: int, limit: int) -> ItemError:
    return errors.item_error(
        errors.IMAGE_BOMB,
        f"picture file grew to {total:,} bytes while it was read, over the {limit:,}-byte decode limit; its "
        "digests were computed, its pixels were not decoded",
    )


def _changed_during_scan(listed: ItemMeta, now: os.stat_result, hashed: int) -> ItemError | None:
    """A ``changed_during_scan`` error when the file's size or time when listed, the bytes read, and its
    size or time after the read do not all agree; None when they do."""
    seen = []
    if listed.size is not None and listed.size != hashed:
        seen.append(f"it was listed at {listed.size:,} bytes")
    if now.st_size != hashed:
        seen.append(f"it was {now.st_size:,} bytes after the read")
    if listed.mtime is not None and now.st_mtime != listed.mtime:
        seen.append(f"its modification time moved from {listed.mtime} to {now.st_mtime}")
    if not seen:
        return None
    return errors.item_error(
        errors.CHANGED_DURING_SCAN,
        f"the file changed while it was scanned: {hashed:,} bytes were read and hashed, but {'; '.join(seen)}. "
        "The stored size and digests are of the bytes read; scan a read-only image of the evidence to get "
        "results that hold",
    )


def _safe(result: FileResult, name: str, fn: object, *args: object) -> None:
    try:
        fn(*args)  # type: ignore[operator]
    except Exception as exc:  # a signal bug must not lose the item or the other signals
        result.errors.append(
            errors.item_error(errors.SIGNAL_FAILED, f"signal {name!r} failed: {type(exc).__name__}: {exc}")
        )


def item_budget(item: EvidenceItem, limits: Limits) -> float | None:
    """Seconds ``item`` may take: ``item_timeout`` plus ``item_timeout_per_gib`` per GiB of its size; None
    when ``item_timeout`` is 0 (no timeout)."""
    if limits.item_timeout <= 0:
        return None
    size = len(item.data) if item.data is not None else (item.meta.size or 0)
    return limits.item_timeout + limits.item_timeout_per_gib * size / 1024**3


def lost_result(item: EvidenceItem, lost: Lost) -> FileResult:
    """The result of an item that produced none: ``timeout`` (past its budget) or ``worker_crashed``.

    Its spooled copy, if any, is removed here (the worker that would have removed it is gone).
    """
    result = FileResult(locator=item.locator, meta=item.meta, is_container=item.is_container)
    result.errors.extend(item.errors)
    if lost.reason == "timeout":
        result.errors.append(
            errors.item_error(
                errors.TIMEOUT,
                f"the item {lost.detail}; it has no digests. Raise Limits.item_timeout to give it more time",
            )
        )
    else:
        result.errors.append(
            errors.item_error(
                errors.WORKER_CRASHED,
                f"while this item was examined, {lost.detail}; it has no digests. A decoder crash on hostile "
                "input, or the machine running out of memory, does this",
            )
        )
    if item.spool_path:
        with contextlib.suppress(OSError):
            os.unlink(item.spool_path)
    return result


def process_item(item: EvidenceItem, settings: ScanSettings) -> FileResult:
    """Compute every signal for one item; problems are recorded on the result, never raised."""
    result = FileResult(locator=item.locator, meta=item.meta, is_container=item.is_container)
    result.errors.extend(item.errors)
    if not item.has_content:
        return result
    try:
        _process_content(item, settings, result)
    except OSError as exc:
        result.errors.append(
            ItemError(errors.UNREADABLE, f"could not read the file ({exc.strerror or exc}); check permissions")
        )
    finally:
        if item.spool_path:
            with contextlib.suppress(OSError):
                os.unlink(item.spool_path)
    return result


def _process_content(item: EvidenceItem, settings: ScanSettings, result: FileResult) -> None:
    registered = signals()
    with _content(item) as fh:
        head = fh.read(HEAD_BYTES)
        ftype = filetype.sniff(head)
        result.type_label = ftype.label
        result.mime = ftype.mime
        result.extension_mismatch = filetype.extension_mismatch(item.locator.name, ftype)
        size = item.meta.size or 0
        context = ItemContext(item.locator, ftype.label, ftype.mime, item.meta.size, head)
        states = [(s.name, s.start(settings, context)) for s in registered.stream]

        def feed(chunk: bytes | memoryview) -> None:
            for name, state in list(states):
                try:
                    state.update(chunk)
                except Exception as exc:  # one broken signal must not cost the item or the others
                    states.remove((name, state))
                    result.errors.append(
                        errors.item_error(
                            errors.SIGNAL_FAILED, f"signal {name!r} failed: {type(exc).__name__}: {exc}"
                        )
                    )

        data: bytes | None = None
        limit = settings.limits.max_image_file_bytes
        too_big = ftype.is_image and size > limit
        if too_big:
            result.errors.append(
                errors.item_error(
                    errors.IMAGE_BOMB,
                    f"picture file is {size:,} bytes, over the {limit:,}-byte decode limit; its digests were "
                    "computed, its pixels were not decoded (raise Limits.max_image_file_bytes to decode it)",
                )
            )
        if ftype.is_image and not too_big:
            data = item.data if item.data is not None else _read_full(fh, head, limit + 1)  # never a second copy
            view = memoryview(data)
            for step in range(0, len(data), settings.chunk_size):
                feed(view[step : step + settings.chunk_size])
            total = len(data)
            if total > limit:  # the file grew past the limit after it was listed: hash the rest, never decode
                data = None
                if item.data is None:
                    total += _stream(fh, b"", feed, settings.chunk_size)
                result.errors.append(_grown_past_limit(total, limit))
        else:
            total = _stream(fh, head, feed, settings.chunk_size)
        result.bytes_read = total
        if item.os_path is not None:
            changed = _changed_during_scan(item.meta, os.fstat(fh.fileno()), total)
            if changed is not None:
                result.errors.append(changed)
                result.meta = replace(item.meta, size=total)  # the size stored is that of the bytes hashed
    for name, state in states:
        _safe(result, name, state.finish, result)
    if data is not None:
        outcome = decode_image(data, settings)
        result.image = outcome.info
        result.errors.extend(outcome.errors)
        if outcome.decoded is not None:
            for signal in registered.image:
                _safe(result, signal.name, signal.apply, outcome.decoded, result, settings)
