"""The per-item task: a pure function of (item, settings) -> FileResult, run in any worker.

One read pass: the head is sniffed, every stream signal sees every byte once, and a picture is decoded
once from the bytes already read (pictures up to ``Limits.max_image_file_bytes`` are read whole, then
decoded from memory; larger ones are streamed and only hashed). Nothing here touches the database; the
scan loop's writer does.
"""

from __future__ import annotations

import contextlib
import io
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import BinaryIO

from cairn import errors
from cairn.model import EvidenceItem, FileResult, ItemError
from cairn.settings import ScanSettings
from cairn.signals import filetype
from cairn.signals.base import ItemContext
from cairn.signals.imaging import decode_image
from cairn.signals.registry import signals

HEAD_BYTES = 64 * 1024
_NOATIME = getattr(os, "O_NOATIME", 0)


def open_readonly(path: str) -> BinaryIO:
    """Open an evidence file read-only, without updating its access time where the OS allows it."""
    flags = os.O_RDONLY | getattr(os, "O_BINARY", 0) | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(path, flags | _NOATIME)
    except PermissionError:
        fd = os.open(path, flags)  # O_NOATIME needs file ownership; plain read-only still never writes
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


def _read_full(fh: BinaryIO, head: bytes) -> bytes:
    parts = [head]
    while chunk := fh.read(4 * 1024 * 1024):
        parts.append(chunk)
    return b"".join(parts)


def _safe(result: FileResult, name: str, fn: object, *args: object) -> None:
    try:
        fn(*args)  # type: ignore[operator]
    except Exception as exc:  # a signal bug must not lose the item or the other signals
        result.errors.append(
            errors.item_error(errors.SIGNAL_FAILED, f"signal {name!r} failed: {type(exc).__name__}: {exc}")
        )


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
        too_big = ftype.is_image and size > settings.limits.max_image_file_bytes
        if too_big:
            result.errors.append(
                errors.item_error(
                    errors.IMAGE_BOMB,
                    f"picture file is {size:,} bytes, over the {settings.limits.max_image_file_bytes:,}-byte "
                    "decode limit; its digests were computed, its pixels were not decoded (raise "
                    "Limits.max_image_file_bytes to decode it)",
                )
            )
        if ftype.is_image and not too_big:
            data = item.data if item.data is not None else _read_full(fh, head)  # never a second copy
            view = memoryview(data)
            for step in range(0, len(data), settings.chunk_size):
                feed(view[step : step + settings.chunk_size])
            result.bytes_read = len(data)
        else:
            chunk = head
            total = 0
            while chunk:
                total += len(chunk)
                feed(chunk)
                chunk = fh.read(settings.chunk_size)
            result.bytes_read = total
    for name, state in states:
        _safe(result, name, state.finish, result)
    if data is not None:
        outcome = decode_image(data, settings)
        result.image = outcome.info
        result.errors.extend(outcome.errors)
        if outcome.decoded is not None:
            for signal in registered.image:
                _safe(result, signal.name, signal.apply, outcome.decoded, result, settings)
