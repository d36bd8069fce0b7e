"""The signal contract: a signal computes one kind of value from an item, in the single read pass.

Two shapes, mirroring python-threatexchange's SignalType mixins:

* ``StreamSignal`` sees the item's bytes chunk by chunk (digests; later model-file hashes).
* ``ImageSignal`` sees the one decoded image (PDQ, thumbnail, EXIF; later provenance), never decoding
  again itself.

Signals write into the ``FileResult`` they are given and raise nothing on bad data they can describe:
they append an ``ItemError`` instead. A signal that raises anyway is recorded as ``signal_failed`` and
the other signals still run.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from cairn.model import FileResult, Locator
from cairn.settings import ScanSettings

if TYPE_CHECKING:
    import numpy as np
    from PIL import Image


@dataclass(frozen=True)
class ItemContext:
    """What a stream signal may know about the item before its first byte: identity, sniffed type, size.

    A signal for one kind of file (a model file, a video) looks at ``type_label``/``head`` and returns a
    state that ignores the bytes when the item is not its kind.
    """

    locator: Locator
    type_label: str
    mime: str
    size: int | None
    head: bytes  # the first bytes (up to 64 KiB), already read for sniffing


class StreamState(Protocol):
    """Per-item state of a stream signal."""

    def update(self, chunk: bytes | memoryview) -> None: ...

    def finish(self, result: FileResult) -> None: ...


class StreamSignal(Protocol):
    """A signal over the raw bytes of every item with content."""

    name: str
    order: int

    def start(self, settings: ScanSettings, context: ItemContext) -> StreamState: ...


@dataclass
class DecodedImage:
    """The one decode of an image: the file's bytes, the Pillow image (first frame), its RGB pixels.

    ``data`` lets metadata and provenance signals read chunks, segments and manifests where they lie in
    the file, without reading or decoding it again.
    """

    data: bytes
    image: Image.Image
    rgb: np.ndarray  # HxWx3 uint8 (or HxW uint8 for grey), see cairn.signals.pixels.to_rgb
    draft_scale: float = 1.0  # <1.0 when decoded at reduced scale (--fast-pdq)


class ImageSignal(Protocol):
    """A signal over the decoded image of an item that is a picture."""

    name: str
    order: int

    def apply(self, decoded: DecodedImage, result: FileResult, settings: ScanSettings) -> None: ...
