"""Where generation records hide in a file: text chunks, EXIF tags, XMP packets and comments, read from its bytes.

:func:`extract_carriers` walks only the container's own structure (PNG chunk headers, JPEG segment headers up
to the scan data, RIFF chunk headers, GIF blocks, ISOBMFF boxes), never searching the whole file, so a picture
without metadata costs a few header reads. What it reads:

* **PNG** ``tEXt`` (Latin-1), ``zTXt`` and ``iTXt`` (UTF-8; compressed text is inflated step by step and never
  past ``max_decompressed``), ComfyUI's private ``comf`` chunks of animated PNGs (``key\\0json``) and an
  ``eXIf`` chunk (read like JPEG EXIF). Carrier key: the keyword.
* **EXIF** (JPEG APP1 ``Exif\\0\\0``, WebP ``EXIF``, PNG ``eXIf``, AVIF/HEIF ``Exif`` item, a TIFF file): IFD0's
  text tags (ImageDescription, Make, Model, Software, Artist, Copyright, XPComment) and, wherever they are
  (Fooocus writes them into IFD0), UserComment (0x9286) and MakerNote (0x927C); the Exif sub-IFD's too. A text
  tag written as ``key:{json}`` (ComfyUI's ``prompt:``/``workflow:`` from tag 0x0110 down) becomes a carrier
  keyed by that ``key``, whatever its tag number. UserComment's 8-byte character code is honoured:
  ``UNICODE\\0`` then UTF-16 (a byte-order mark wins, else the byte order the text's zero bytes show, else
  big-endian as A1111 writes it), ``ASCII\\0\\0\\0``, ``JIS``, eight NULs, or no code at all (Fooocus, Pillow).
  Carrier key: the tag's name.
* **XMP** (JPEG APP1 ``http://ns.adobe.com/xap/1.0/``, WebP ``XMP``, TIFF 0x02BC, PNG ``XML:com.adobe.xmp``
  iTXt, AVIF/HEIF ``mime`` item): key ``xmp``.
* **Comments**: JPEG ``COM`` segments and GIF comment extensions: key ``comment``.

Every carrier's ``where`` names the structure so a reviewer can find it with exiftool or a hex viewer
("PNG tEXt 'parameters' at byte 33", "JPEG APP1 Exif at byte 2: ExifIFD 0x9286 UserComment (UNICODE prefix,
UTF-16BE)").
Hostile input (truncated chunks, lengths past the end, CRC errors, IFD loops, huge counts, bad UTF-16) never
raises: damage to a metadata structure becomes a :class:`~cairn.signals.provenance.parsers.ParseWarning` (parser
``carriers``) and the walk goes on where it can; damage elsewhere (picture data, other segments) ends the walk
quietly, since the decoder reports it and no metadata was lost to it.
"""

from __future__ import annotations

import re
import struct
import zlib
from dataclasses import dataclass, field

from cairn.signals.provenance.jpeg import JpegWalk
from cairn.signals.provenance.limits import DEFAULT_LIMITS, ProvenanceLimits
from cairn.signals.provenance.parsers import ParseWarning
from cairn.signals.provenance.record import Carrier

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
#: PNG chunks that may hold records; every other chunk is skipped by its header alone.
PNG_TEXT_CHUNKS = (b"tEXt", b"zTXt", b"iTXt", b"comf", b"eXIf")
#: JPEG APP1 identifiers.
EXIF_ID = b"Exif\x00\x00"
XMP_ID = b"http://ns.adobe.com/xap/1.0/\x00"
#: JPEG segments that may carry records (APP1 Exif/XMP, COM): only their damage is a provenance warning; extended
#: XMP (thumbnails, edit history) is not read.
METADATA_MARKERS = (0xE1, 0xFE)

#: EXIF/TIFF tags read as text, by number: (name, where they count).
TEXT_TAGS: dict[int, str] = {
    0x010E: "ImageDescription",
    0x010F: "Make",
    0x0110: "Model",
    0x0131: "Software",
    0x013B: "Artist",
    0x8298: "Copyright",
    0x9286: "UserComment",
    0x927C: "MakerNote",
    0x9C9C: "XPComment",
    0x9C9F: "XPSubject",
    0x9C9B: "XPTitle",
}
EXIF_IFD_POINTER = 0x8769
XMP_TAG = 0x02BC
#: Bytes per value of each TIFF field type (1 BYTE, 2 ASCII, 3 SHORT, 4 LONG, 5 RATIONAL, 6 SBYTE, 7 UNDEFINED,
#: 8 SSHORT, 9 SLONG, 10 SRATIONAL, 11 FLOAT, 12 DOUBLE, 13 IFD).
TYPE_SIZES = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8, 13: 4}
#: At most this many IFD entries are read from one IFD (the rest: a warning).
MAX_IFD_ENTRIES = 1024
#: At most this many IFDs are walked in one EXIF block (IFD0, its chain, the Exif sub-IFD).
MAX_IFDS = 8
#: A MakerNote is a carrier only when it is short text without NULs (Fooocus' scheme name; camera makers' notes
#: are binary and often tens of kilobytes).
MAX_MAKERNOTE_TEXT = 4096
#: At most this many blocks of a GIF or boxes of an ISOBMFF file are walked.
MAX_BLOCKS = 1_000_000

#: ComfyUI writes extra PNG-info keys into IFD0 text tags as ``key:value`` (``prompt:{...}``).
_KEY_PREFIX = re.compile(r"([A-Za-z_][A-Za-z0-9_ .-]{0,63}):(?=\s*[\[{])")


@dataclass
class _Out:
    """The carriers and warnings one walk collects, within the limits."""

    limits: ProvenanceLimits
    carriers: list[Carrier] = field(default_factory=list)
    warnings: list[ParseWarning] = field(default_factory=list)
    full: bool = False

    def warn(self, where: str, message: str) -> None:
        if len(self.warnings) < self.limits.max_carriers:
            self.warnings.append(ParseWarning("carriers", where, message[:500]))

    def add(self, key: str, text: str | None, where: str, container: str, data: bytes | None = None) -> None:
        if len(self.carriers) >= self.limits.max_carriers:
            if not self.full:  # said once, even past the warning cap
                self.full = True
                message = f"more than {self.limits.max_carriers} metadata carriers; the rest were not read"
                self.warnings.append(ParseWarning("carriers", where, message))
            return
        if text is not None and len(text) > self.limits.max_text:
            self.warn(where, f"text of {len(text):,} characters cut to the {self.limits.max_text:,} limit")
            text = text[: self.limits.max_text]
        self.carriers.append(Carrier(key=key, text=text, where=where, data=data, container=container))


def extract_carriers(
    data: bytes, limits: ProvenanceLimits = DEFAULT_LIMITS
) -> tuple[list[Carrier], list[ParseWarning]]:
    """The metadata carriers of the file whose bytes are ``data``, and warnings for what could not be read.

    Recognises PNG, JPEG, WebP, GIF, TIFF and AVIF/HEIF by their signatures; any other file gives nothing.
    """
    out = _Out(limits)
    head = data[:16]
    try:
        if head.startswith(PNG_SIGNATURE):
            _png(data, out)
        elif head.startswith(b"\xff\xd8"):
            _jpeg(data, out)
        elif head[:4] == b"RIFF" and head[8:12] == b"WEBP":
            _webp(data, out)
        elif head[:6] in (b"GIF87a", b"GIF89a"):
            _gif(data, out)
        elif head[:4] in (b"II*\x00", b"MM\x00*"):
            _tiff(data, 0, len(data), "TIFF", "tiff", out)
        elif head[4:8] == b"ftyp":
            _isobmff(data, out)
    except (IndexError, struct.error, ValueError) as exc:  # a walk bug on odd input must cost a warning only
        out.warn("", f"metadata walk stopped: {type(exc).__name__}: {exc}")
    return out.carriers, out.warnings


# -- text helpers ------------------------------------------------------------------------------------------


def _inflate(payload: bytes, where: str, out: _Out, gzip: bool = False) -> bytes | None:
    """``payload`` decompressed (zlib, or gzip), never past ``max_decompressed`` bytes; None on error."""
    limit = out.limits.max_decompressed
    inflater = zlib.decompressobj(47 if gzip else 15)
    try:
        result = inflater.decompress(payload, limit + 1)
    except zlib.error as exc:
        out.warn(where, f"compressed text could not be inflated ({exc})")
        return None
    if len(result) > limit or inflater.unconsumed_tail:
        out.warn(where, f"compressed text inflates past the {limit:,}-byte limit; not read")
        return None
    if not inflater.eof:
        out.warn(where, "compressed text is truncated; the part that inflated was read")
    return result


def _printable_share(text: str) -> float:
    if not text:
        return 1.0
    good = sum(1 for ch in text if ch.isprintable() or ch in "\n\r\t")
    return good / len(text)


def _decode_utf16(raw: bytes) -> tuple[str, str, bool]:
    """UTF-16 text of ``raw``: (text, which order, whether it was clean)."""
    if raw[:2] == b"\xfe\xff":
        order, raw = "BE", raw[2:]
    elif raw[:2] == b"\xff\xfe":
        order, raw = "LE", raw[2:]
    else:
        sample = raw[:512]
        zeros_even = sample[0::2].count(0)
        zeros_odd = sample[1::2].count(0)
        if zeros_even > zeros_odd:
            order = "BE"
        elif zeros_odd > zeros_even:
            order = "LE"
        else:
            order = "BE"  # no sign either way: A1111 (piexif) writes big-endian whatever the TIFF byte order
    clean = len(raw) % 2 == 0
    if not clean:
        raw = raw[:-1]
    codec = "utf-16-be" if order == "BE" else "utf-16-le"
    try:
        text = raw.decode(codec)
    except UnicodeDecodeError:
        text = raw.decode(codec, errors="replace")
        clean = False
    return text.rstrip("\x00"), order, clean


def _user_comment(raw: bytes, where: str, out: _Out) -> tuple[str, str]:
    """UserComment text and a description of its encoding, for ``where``."""
    code = raw[:8]
    if code == b"UNICODE\x00":
        text, order, clean = _decode_utf16(raw[8:])
        if not clean:
            out.warn(
                where,
                "UserComment's UTF-16 text is malformed (odd length or bad surrogates); read with "
                "replacement characters",
            )
        return text, f"UNICODE prefix, UTF-16{order}"
    if code == b"ASCII\x00\x00\x00":
        return _bytes_text(raw[8:]), "ASCII prefix"
    if code == b"JIS\x00\x00\x00\x00\x00":
        try:
            return raw[8:].decode("shift_jis").rstrip("\x00"), "JIS prefix"
        except UnicodeDecodeError:
            return _bytes_text(raw[8:]), "JIS prefix, not valid Shift-JIS"
    if code == b"\x00" * 8:
        return _bytes_text(raw[8:]), "undefined prefix"
    return _bytes_text(raw), "no prefix"


def _bytes_text(raw: bytes) -> str:
    """Text of a tag's bytes: UTF-8 where valid, else Latin-1 (every byte shown); trailing NULs dropped."""
    raw = raw.rstrip(b"\x00")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


# -- PNG ---------------------------------------------------------------------------------------------------


def _png(data: bytes, out: _Out) -> None:
    pos = len(PNG_SIGNATURE)
    end = len(data)
    while pos + 8 <= end:
        length, ctype = struct.unpack(">I4s", data[pos : pos + 8])
        body = pos + 8
        name = ctype.decode("latin-1")
        if length > end - body:
            if ctype in PNG_TEXT_CHUNKS:
                out.warn(
                    f"PNG {name} at byte {pos}",
                    f"chunk declares {length:,} bytes, only {end - body:,} remain; not read",
                )
            return  # a picture chunk cut short is the decoder's to report, not a metadata problem
        if ctype in PNG_TEXT_CHUNKS:
            payload = data[body : body + length]
            crc_at = body + length
            if crc_at + 4 <= end:
                (crc,) = struct.unpack(">I", data[crc_at : crc_at + 4])
                if crc != zlib.crc32(ctype + payload):
                    out.warn(f"PNG {name} at byte {pos}", "chunk CRC does not match; read anyway")
            else:
                out.warn(f"PNG {name} at byte {pos}", "chunk CRC missing (file truncated); read anyway")
            _png_chunk(ctype, payload, pos, out)
        elif ctype == b"IEND":
            return
        pos = body + length + 4


def _png_chunk(ctype: bytes, payload: bytes, pos: int, out: _Out) -> None:
    name = ctype.decode("latin-1")
    if ctype == b"eXIf":
        _tiff(payload, 0, len(payload), f"PNG eXIf at byte {pos}", "png", out)
        return
    nul = payload.find(b"\x00", 0, 80)
    if nul < 1:
        out.warn(f"PNG {name} at byte {pos}", "no keyword (or one over 79 bytes); not read")
        return
    keyword = payload[:nul].decode("latin-1")
    where = f"PNG {name} '{keyword}' at byte {pos}"
    rest = payload[nul + 1 :]
    if ctype == b"tEXt":
        out.add(keyword, rest.decode("latin-1"), where, "png")
    elif ctype == b"comf":  # ComfyUI's animated PNG: key\0json, JSON as Latin-1 bytes
        out.add(keyword, _bytes_text(rest), where, "png")
    elif ctype == b"zTXt":
        if not rest or rest[0] != 0:
            out.warn(where, "unknown compression method; not read")
            return
        raw = _inflate(rest[1:], where, out)
        if raw is not None:
            out.add(keyword, raw.decode("latin-1"), where, "png")
    else:  # iTXt: flag, method, language\0, translated keyword\0, text
        if len(rest) < 2:
            out.warn(where, "iTXt header is truncated; not read")
            return
        flag, method = rest[0], rest[1]
        lang_end = rest.find(b"\x00", 2)
        trans_end = rest.find(b"\x00", lang_end + 1) if lang_end >= 0 else -1
        if trans_end < 0:
            out.warn(where, "iTXt language or translated keyword is not terminated; not read")
            return
        text_bytes: bytes | None = rest[trans_end + 1 :]
        if flag:
            if method != 0:
                out.warn(where, "unknown compression method; not read")
                return
            text_bytes = _inflate(rest[trans_end + 1 :], where, out)
        if text_bytes is None:
            return
        try:
            text = text_bytes.decode("utf-8")
        except UnicodeDecodeError:
            out.warn(where, "iTXt text is not valid UTF-8; read with replacement characters")
            text = text_bytes.decode("utf-8", errors="replace")
        out.add("xmp" if keyword == "XML:com.adobe.xmp" else keyword, text, where, "png")


# -- JPEG --------------------------------------------------------------------------------------------------


def _jpeg(data: bytes, out: _Out) -> None:
    for segment in JpegWalk(data):  # ends quietly on damaged structure: the decoder reports it
        marker, pos, body = segment.marker, segment.pos, segment.body
        if body is None:
            if marker in METADATA_MARKERS:
                out.warn(
                    f"JPEG segment 0x{marker:02X} at byte {pos}",
                    f"declares {segment.length} bytes, past the end of the file; not read",
                )
            return
        if marker == 0xE1:
            if body.startswith(EXIF_ID):
                _tiff(body, len(EXIF_ID), len(body), f"JPEG APP1 Exif at byte {pos}", "jpeg", out)
            elif body.startswith(XMP_ID):
                out.add("xmp", _bytes_text(body[len(XMP_ID) :]), f"JPEG APP1 XMP at byte {pos}", "jpeg")
        elif marker == 0xFE:
            out.add("comment", _bytes_text(body), f"JPEG COM at byte {pos}", "jpeg")


# -- WebP --------------------------------------------------------------------------------------------------


def _webp(data: bytes, out: _Out) -> None:
    end = min(len(data), 8 + struct.unpack("<I", data[4:8])[0])
    pos = 12
    while pos + 8 <= end:
        fourcc, size = struct.unpack("<4sI", data[pos : pos + 8])
        body = pos + 8
        name = fourcc.decode("latin-1")
        if size > end - body:
            if fourcc in (b"EXIF", b"XMP "):
                out.warn(f"WebP {name} at byte {pos}", f"chunk declares {size:,} bytes, past the end; not read")
            return
        if fourcc == b"EXIF":
            start = body + (len(EXIF_ID) if data[body : body + 6] == EXIF_ID else 0)
            _tiff(data, start, body + size, f"WebP EXIF at byte {pos}", "webp", out)
        elif fourcc == b"XMP ":
            out.add("xmp", _bytes_text(data[body : body + size]), f"WebP XMP at byte {pos}", "webp")
        pos = body + size + (size & 1)


# -- GIF ---------------------------------------------------------------------------------------------------


def _gif(data: bytes, out: _Out) -> None:
    end = len(data)
    if end < 13:
        return
    flags = data[10]
    pos = 13 + (3 * (2 << (flags & 7)) if flags & 0x80 else 0)
    blocks = 0
    while pos < end and blocks < MAX_BLOCKS:
        blocks += 1
        intro = data[pos]
        if intro == 0x3B:  # trailer
            return
        if intro == 0x21:
            if pos + 2 > end:
                break
            label = data[pos + 1]
            start = pos
            pos, text, complete = _sub_blocks(data, pos + 2, label == 0xFE)
            if label == 0xFE and text is not None:
                where = f"GIF comment extension at byte {start}"
                if not complete:
                    out.warn(where, "cut short by the end of the file; the part before it was read")
                out.add("comment", _bytes_text(text), where, "gif")
        elif intro == 0x2C:
            if pos + 10 > end:
                break
            iflags = data[pos + 9]
            pos += 10 + (3 * (2 << (iflags & 7)) if iflags & 0x80 else 0) + 1  # descriptor, colour table, LZW size
            pos = _sub_blocks(data, pos, False)[0]
        else:
            return  # damaged block structure: the decoder reports it


def _sub_blocks(data: bytes, pos: int, keep: bool) -> tuple[int, bytes | None, bool]:
    """Walk GIF data sub-blocks from ``pos``: (position after the terminator, their bytes if ``keep``, whether the
    terminator was there before the end of the file)."""
    end = len(data)
    parts: list[bytes] = []
    while pos < end:
        size = data[pos]
        if size == 0:
            return pos + 1, b"".join(parts) if keep else None, True
        if keep:
            parts.append(data[pos + 1 : pos + 1 + size])
        pos += 1 + size
    return end, b"".join(parts) if keep else None, False


# -- TIFF / EXIF -------------------------------------------------------------------------------------------


def _tiff(data: bytes, start: int, stop: int, label: str, container: str, out: _Out) -> None:
    """Read the text tags of the TIFF structure in ``data[start:stop]`` (offsets count from ``start``)."""
    block = data[start:stop]
    if len(block) < 8 or block[:4] not in (b"II*\x00", b"MM\x00*"):
        out.warn(label, "EXIF block has no TIFF header; not read")
        return
    fmt = "<" if block[:2] == b"II" else ">"
    (ifd0,) = struct.unpack(fmt + "I", block[4:8])
    seen: set[int] = set()
    queue: list[tuple[str, int]] = [("IFD0", ifd0)]
    chain = 0
    while queue and len(seen) < MAX_IFDS:
        name, offset = queue.pop(0)
        if offset == 0:
            continue
        if offset in seen:
            out.warn(f"{label}: {name}", f"IFD at offset {offset} was already read (a loop); not read again")
            continue
        seen.add(offset)
        next_ifd, sub = _ifd(block, offset, fmt, name, label, container, out)
        if sub is not None:
            queue.append(("ExifIFD", sub))
        if next_ifd and name != "ExifIFD":
            chain += 1
            queue.append((f"IFD{chain}", next_ifd))


def _ifd(
    block: bytes, offset: int, fmt: str, name: str, label: str, container: str, out: _Out
) -> tuple[int, int | None]:
    """Read one IFD; (next IFD offset or 0, Exif sub-IFD offset or None)."""
    where_ifd = f"{label}: {name}"
    if offset + 2 > len(block):
        out.warn(where_ifd, f"IFD offset {offset} is past the end of the EXIF block; not read")
        return 0, None
    (count,) = struct.unpack(fmt + "H", block[offset : offset + 2])
    fits = (len(block) - offset - 2) // 12
    if count > fits or count > MAX_IFD_ENTRIES:
        out.warn(where_ifd, f"IFD declares {count} entries; {min(fits, MAX_IFD_ENTRIES)} were read")
        count = min(count, fits, MAX_IFD_ENTRIES)
    sub: int | None = None
    for i in range(count):
        entry = offset + 2 + 12 * i
        tag, ftype, n = struct.unpack(fmt + "HHI", block[entry : entry + 8])
        if tag == EXIF_IFD_POINTER and name.startswith("IFD"):
            (sub,) = struct.unpack(fmt + "I", block[entry + 8 : entry + 12])
            continue
        tag_name = TEXT_TAGS.get(tag)
        if tag_name is None and not (tag == XMP_TAG or (name == "IFD0" and ftype == 2)):
            continue
        size = TYPE_SIZES.get(ftype, 1) * n
        if size <= 4:
            raw = block[entry + 8 : entry + 8 + size]
        else:
            (value_at,) = struct.unpack(fmt + "I", block[entry + 8 : entry + 12])
            if value_at + size > len(block):
                out.warn(
                    f"{where_ifd} 0x{tag:04X}",
                    f"value of {size:,} bytes at offset {value_at} runs past the end of the EXIF block; not read",
                )
                continue
            raw = block[value_at : value_at + size]
        _tag_carrier(tag, tag_name, ftype, raw, f"{where_ifd} 0x{tag:04X}", container, out)
    next_at = offset + 2 + 12 * count
    next_ifd = struct.unpack(fmt + "I", block[next_at : next_at + 4])[0] if next_at + 4 <= len(block) else 0
    return next_ifd, sub


def _tag_carrier(tag: int, tag_name: str | None, ftype: int, raw: bytes, where: str, container: str, out: _Out) -> None:
    if tag == XMP_TAG:
        out.add("xmp", _bytes_text(raw), f"{where} XMP", container)
        return
    if tag == 0x9286:
        text, how = _user_comment(raw, where, out)
        out.add("UserComment", text, f"{where} UserComment ({how})", container)
        return
    if tag_name is not None and tag_name.startswith("XP"):  # Windows tags: UTF-16LE in BYTE fields
        text = raw.decode("utf-16-le", errors="replace").rstrip("\x00")
        out.add(tag_name, text, f"{where} {tag_name}", container)
        return
    if tag == 0x927C and (len(raw) > MAX_MAKERNOTE_TEXT or b"\x00" in raw.rstrip(b"\x00")):
        return  # a camera's binary maker note, not text (checked on the bytes: no decode of a large note)
    text = _bytes_text(raw)
    if tag == 0x927C and _printable_share(text) < 0.95:
        return
    label = tag_name or f"tag 0x{tag:04X}"
    m = _KEY_PREFIX.match(text)
    if m is not None and tag != 0x9286:
        key = m.group(1)
        out.add(key, text[m.end() :], f"{where} {label} ('{key}:' prefix)", container)
        return
    if tag_name is None:
        return  # an IFD0 text tag that is no record carrier
    out.add(tag_name, text, f"{where} {tag_name}", container)


# -- AVIF / HEIF (ISOBMFF) ---------------------------------------------------------------------------------


def _boxes(data: bytes, start: int, stop: int) -> list[tuple[bytes, int, int]]:
    """The boxes in ``data[start:stop]``: (type, payload start, payload end); stops at a malformed box."""
    found: list[tuple[bytes, int, int]] = []
    pos = start
    while pos + 8 <= stop and len(found) < 4096:
        size, btype = struct.unpack(">I4s", data[pos : pos + 8])
        header = 8
        if size == 1:
            if pos + 16 > stop:
                break
            (size,) = struct.unpack(">Q", data[pos + 8 : pos + 16])
            header = 16
        elif size == 0:
            size = stop - pos
        if size < header or pos + size > stop:
            break
        found.append((btype, pos + header, pos + size))
        pos += size
    return found


def _isobmff(data: bytes, out: _Out) -> None:
    """The Exif and XMP items of an AVIF/HEIF file (``meta`` box: ``iinf`` item types, ``iloc`` extents)."""
    top = _boxes(data, 0, len(data))
    meta = next(((s, e) for t, s, e in top if t == b"meta"), None)
    if meta is None:
        return
    inner = _boxes(data, meta[0] + 4, meta[1])  # meta is a full box: 4 bytes version and flags
    kinds: dict[int, str] = {}
    locations: dict[int, list[tuple[int, int]]] = {}
    for btype, s, e in inner:
        if btype == b"iinf":
            version = data[s]
            count_size = 2 if version == 0 else 4
            for itype, is_, ie in _boxes(data, s + 4 + count_size, e):
                if itype != b"infe" or data[is_] < 2:
                    continue
                id_size = 2 if data[is_] == 2 else 4
                item_id = int.from_bytes(data[is_ + 4 : is_ + 4 + id_size], "big")
                kind_at = is_ + 4 + id_size + 2
                item_type = data[kind_at : kind_at + 4]
                if item_type == b"Exif":
                    kinds[item_id] = "exif"
                elif item_type == b"mime":
                    rest = data[kind_at + 4 : ie]
                    name_end = rest.find(b"\x00")
                    content = rest[name_end + 1 :].split(b"\x00", 1)[0] if name_end >= 0 else b""
                    if content == b"application/rdf+xml":
                        kinds[item_id] = "xmp"
        elif btype == b"iloc":
            locations = _iloc(data, s, e)
    for item_id, kind in sorted(kinds.items()):
        extents = locations.get(item_id)
        if not extents or len(extents) != 1:
            out.warn(f"AVIF/HEIF item {item_id} ({kind})", "item is not one extent in the file; not read")
            continue
        offset, length = extents[0]
        if offset + length > len(data):
            out.warn(f"AVIF/HEIF item {item_id} ({kind})", "item runs past the end of the file; not read")
            continue
        where = f"AVIF/HEIF {kind.upper() if kind == 'xmp' else 'Exif'} item {item_id} at byte {offset}"
        if kind == "xmp":
            out.add("xmp", _bytes_text(data[offset : offset + length]), where, "avif")
        elif length >= 4:
            (skip,) = struct.unpack(">I", data[offset : offset + 4])  # offset to the TIFF header
            _tiff(data, offset + 4 + skip, offset + length, where, "avif", out)


def _iloc(data: bytes, s: int, e: int) -> dict[int, list[tuple[int, int]]]:
    """Item extents (absolute offset, length) from an ``iloc`` box (construction method 0 only)."""
    version = data[s]
    sizes = data[s + 4]
    offset_size, length_size = sizes >> 4, sizes & 15
    more = data[s + 5]
    base_size, index_size = more >> 4, (more & 15 if version in (1, 2) else 0)
    pos = s + 6
    id_size = 4 if version == 2 else 2
    count_size = 4 if version == 2 else 2
    count = int.from_bytes(data[pos : pos + count_size], "big")
    pos += count_size
    found: dict[int, list[tuple[int, int]]] = {}
    for _ in range(min(count, 4096)):
        if pos + id_size > e:
            break
        item_id = int.from_bytes(data[pos : pos + id_size], "big")
        pos += id_size
        method = 0
        if version in (1, 2):
            method = int.from_bytes(data[pos : pos + 2], "big") & 15
            pos += 2
        pos += 2  # data reference index
        base = int.from_bytes(data[pos : pos + base_size], "big")
        pos += base_size
        extents = int.from_bytes(data[pos : pos + 2], "big")
        pos += 2
        spans: list[tuple[int, int]] = []
        for _ in range(min(extents, 64)):
            pos += index_size
            off = int.from_bytes(data[pos : pos + offset_size], "big")
            pos += offset_size
            length = int.from_bytes(data[pos : pos + length_size], "big")
            pos += length_size
            spans.append((base + off, length))
        if method == 0:
            found[item_id] = spans
    return found
