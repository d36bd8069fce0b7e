"""Content type from magic bytes, and whether a file's extension lies about it.

A table of signatures (offset, bytes), as plaso's parsers declare theirs; the first match in table order
wins, so more specific signatures come first. Adding a type is one row.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FileType:
    """A recognised content type: short label, MIME type, the extensions it is normally given."""

    label: str
    mime: str
    extensions: frozenset[str]
    is_image: bool = False


def _t(label: str, mime: str, exts: str, image: bool = False) -> FileType:
    return FileType(label, mime, frozenset(exts.split()), image)


JPEG = _t("jpeg", "image/jpeg", "jpg jpeg jpe jfif", True)
PNG = _t("png", "image/png", "png apng", True)
GIF = _t("gif", "image/gif", "gif", True)
WEBP = _t("webp", "image/webp", "webp", True)
BMP = _t("bmp", "image/bmp", "bmp dib", True)
TIFF = _t("tiff", "image/tiff", "tif tiff", True)
ICO = _t("ico", "image/x-icon", "ico", True)
ZIP = _t("zip", "application/zip", "zip cbz jar docx xlsx pptx odt apk epub")
GZIP = _t("gzip", "application/gzip", "gz tgz")
BZIP2 = _t("bzip2", "application/x-bzip2", "bz2 tbz2")
XZ = _t("xz", "application/x-xz", "xz txz")
TAR = _t("tar", "application/x-tar", "tar")
SEVENZ = _t("7z", "application/x-7z-compressed", "7z")
RAR = _t("rar", "application/vnd.rar", "rar")
PDF = _t("pdf", "application/pdf", "pdf")
AVIF = _t("avif", "image/avif", "avif", True)
HEIC = _t("heic", "image/heic", "heic heif hif", True)  # recognised; decoded only where a HEIF decoder is present
MP4 = _t("mp4", "video/mp4", "mp4 m4v mov 3gp")
WEBM = _t("webm", "video/webm", "webm mkv")
AVI = _t("avi", "video/x-msvideo", "avi")
WAV = _t("wav", "audio/wav", "wav")
SQLITE = _t("sqlite", "application/vnd.sqlite3", "sqlite db sqlite3")
ELF = _t("elf", "application/x-executable", "so bin elf")
PE = _t("pe", "application/vnd.microsoft.portable-executable", "exe dll sys")
TEXT = _t("text", "text/plain", "txt log csv md json xml html htm ini cfg yaml yml")
EMPTY = _t("empty", "application/x-empty", "")
BINARY = _t("binary", "application/octet-stream", "bin dat")

#: (offset, magic, type); RIFF/ftyp containers are refined below.
SIGNATURES: tuple[tuple[int, bytes, FileType], ...] = (
    (0, b"\xff\xd8\xff", JPEG),
    (0, b"\x89PNG\r\n\x1a\n", PNG),
    (0, b"GIF87a", GIF),
    (0, b"GIF89a", GIF),
    (0, b"BM", BMP),
    (0, b"II*\x00", TIFF),
    (0, b"MM\x00*", TIFF),
    (0, b"II+\x00", TIFF),
    (0, b"MM\x00+", TIFF),
    (0, b"\x00\x00\x01\x00", ICO),
    (0, b"PK\x03\x04", ZIP),
    (0, b"PK\x05\x06", ZIP),
    (0, b"PK\x07\x08", ZIP),
    (257, b"ustar", TAR),
    (0, b"\x1f\x8b", GZIP),
    (0, b"BZh", BZIP2),
    (0, b"\xfd7zXZ\x00", XZ),
    (0, b"7z\xbc\xaf\x27\x1c", SEVENZ),
    (0, b"Rar!\x1a\x07", RAR),
    (0, b"%PDF-", PDF),
    (0, b"\x1aE\xdf\xa3", WEBM),
    (0, b"SQLite format 3\x00", SQLITE),
    (0, b"\x7fELF", ELF),
    (0, b"MZ", PE),
)

_RIFF = {b"WEBP": WEBP, b"AVI ": AVI, b"WAVE": WAV}
#: ISO base media files (``ftyp`` box) that are still pictures, by major brand; the rest are video.
_FTYP_IMAGE = {
    b"avif": AVIF,
    b"avis": AVIF,
    **{brand: HEIC for brand in (b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1")},
}

#: Every extension some known type claims; an unknown extension is never called a mismatch.
KNOWN_EXTENSIONS = (
    frozenset(e for _, _, t in SIGNATURES for e in t.extensions)
    | WEBP.extensions
    | TEXT.extensions
    | AVIF.extensions
    | HEIC.extensions
)


def sniff(head: bytes) -> FileType:
    """The content type of data starting with ``head`` (give at least 512 bytes where the file has them)."""
    if not head:
        return EMPTY
    if head[:4] == b"RIFF" and head[8:12] in _RIFF:
        return _RIFF[head[8:12]]
    if head[4:8] == b"ftyp":
        return _FTYP_IMAGE.get(head[8:12], MP4)
    for offset, magic, ftype in SIGNATURES:
        if head[offset : offset + len(magic)] == magic:
            if ftype is BMP and len(head) >= 14 and int.from_bytes(head[2:6], "little") < 14:
                continue  # "BM" text, not a bitmap header
            return ftype
    if is_tar_header(head):
        return TAR  # a pre-POSIX (v7) tar: no magic, only a header checksum
    return TEXT if _looks_like_text(head) else BINARY


def is_tar_header(block: bytes) -> bool:
    """True when ``block`` starts with a 512-byte tar header whose checksum is right (v7 tars included).

    Old (v7) tars carry no ``ustar`` magic; the checksum field (octal, at offset 148) is all there is.
    Both the POSIX unsigned and the historic signed byte sum are accepted, as GNU tar does.
    """
    if len(block) < 512 or block[0] == 0:
        return False
    digits = block[148:156].replace(b"\x00", b" ").strip()
    if not digits or any(c not in b"01234567" for c in digits):
        return False
    stored = int(digits, 8)
    unsigned = sum(block[:148]) + 8 * 0x20 + sum(block[156:512])
    signed = unsigned - 256 * sum(1 for b in (*block[:148], *block[156:512]) if b >= 0x80)
    return stored in (unsigned, signed)


def _looks_like_text(head: bytes) -> bool:
    sample = head[:4096]
    if b"\x00" in sample:
        return False
    try:
        sample.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(sample) - 4:  # a multi-byte character cut at the end of the sample is fine
            return False
    return True


def extension_of(name: str) -> str:
    """Lowercase extension without the dot ('' when none); ``a.tar.gz`` gives ``gz``."""
    base = name.rsplit("/", 1)[-1]
    if "." not in base.lstrip("."):
        return ""
    return base.rsplit(".", 1)[-1].lower()


def extension_mismatch(name: str, ftype: FileType) -> bool:
    """True when the extension is one a known type claims, yet not one this content's type uses."""
    ext = extension_of(name)
    if not ext or ext not in KNOWN_EXTENSIONS or ftype in (EMPTY, BINARY):
        return False
    if ftype is TAR and ext in GZIP.extensions | BZIP2.extensions | XZ.extensions:
        return False
    return ext not in ftype.extensions
