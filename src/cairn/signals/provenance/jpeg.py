"""The marker segments of a JPEG before its scan data, walked once for every reader that needs them."""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass


@dataclass(frozen=True)
class JpegSegment:
    """One marker segment: its marker byte, where it starts, its declared length (2 + the body's), and its body
    (None when the declared length is under 2 or runs past the end of the file)."""

    marker: int
    pos: int
    length: int
    body: bytes | None


class JpegWalk:
    """Iterating yields the segments from SOI to the scan data (SOS) or EOI, in order; fill bytes and
    stand-alone markers are stepped over. The walk ends at a byte that is not a marker where one must be
    (damaged structure: the decoder's to report) or after a segment yielded with ``body`` None. Afterwards
    ``complete`` says whether it reached SOS or EOI over well-formed markers, so a reader can tell a real miss
    from a miss behind damage."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.complete = False

    def __iter__(self) -> Iterator[JpegSegment]:
        data, pos, end = self.data, 2, len(self.data)
        while pos + 4 <= end:
            if data[pos] != 0xFF:
                return
            marker = data[pos + 1]
            if marker == 0xFF:  # fill byte
                pos += 1
                continue
            if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
                pos += 2
                continue
            if marker in (0xDA, 0xD9):  # start of scan / end of image: the metadata segments are behind us
                self.complete = True
                return
            (length,) = struct.unpack_from(">H", data, pos + 2)
            if length < 2 or pos + 2 + length > end:
                yield JpegSegment(marker, pos, length, None)
                return
            yield JpegSegment(marker, pos, length, data[pos + 4 : pos + 2 + length])
            pos += 2 + length
