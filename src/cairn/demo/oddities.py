"""Files a scan must survive: damaged images and archives, hostile names, bombs, lying extensions,
non-image files and symbolic links. Every payload is benign text, zeros, noise or a flat colour.
"""

from __future__ import annotations

import hashlib
import io
import struct
import zipfile
import zlib

from cairn import errors
from cairn.demo.containers import (
    Member,
    gzip_bytes,
    member_entries,
    picture_member,
    tar_bytes,
    text_member,
    zip_bytes,
    zip_info,
)
from cairn.demo.context import DemoContext, contributor
from cairn.demo.manifest import (
    BINARY,
    CONTAINER,
    DANGLING,
    EMPTY,
    EXT_MISMATCH,
    IMAGE,
    TEXT,
    DemoEntry,
    bad,
    symlink_to,
)
from cairn.demo.pictures import draw_picture, encode

#: Declared size of the decompression-bomb PNG (900 megapixels; the default limit is 200).
BOMB_SIDE = 30_000
#: Uncompressed size of the zip-bomb member (zeros); it deflates about 1000:1.
ZIP_BOMB_SIZE = 32 * 1024 * 1024


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def flat_png_bomb(width: int, height: int, colour: tuple[int, int, int] = (90, 160, 220)) -> bytes:
    """A valid 1-bit palette PNG of one flat colour, compressed row block by row block (no full raster)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 3, 0, 0, 0)
    plte = bytes(colour) + b"\xff\xff\xff"
    row = b"\x00" * (1 + (width + 7) // 8)  # filter byte 0, palette index 0
    block_rows = 256
    block = row * block_rows
    comp = zlib.compressobj(9)
    parts: list[bytes] = []
    for _ in range(height // block_rows):
        parts.append(comp.compress(block))
    parts.append(comp.compress(row * (height % block_rows)))
    parts.append(comp.flush())
    return b"".join(
        [
            b"\x89PNG\r\n\x1a\n",
            _chunk(b"IHDR", ihdr),
            _chunk(b"PLTE", plte),
            _chunk(b"IDAT", b"".join(parts)),
            _chunk(b"IEND", b""),
        ]
    )


def truncate_jpeg(data: bytes) -> bytes:
    """Cut a JPEG halfway through its entropy-coded scan data (after the SOS marker)."""
    sos = data.find(b"\xff\xda")
    if sos < 0:
        raise ValueError("no SOS marker")
    return data[: sos + (len(data) - sos) // 2]


def zip_bomb(member: str, size: int) -> tuple[bytes, str]:
    """A zip with one deflated member of ``size`` zeros, streamed; returns (zip bytes, member sha256)."""
    bio = io.BytesIO()
    digest = hashlib.sha256()
    chunk = bytes(1024 * 1024)
    with zipfile.ZipFile(bio, "w") as zf, zf.open(zip_info(member), "w") as fh:
        left = size
        while left:
            piece = chunk[: min(left, len(chunk))]
            fh.write(piece)
            digest.update(piece)
            left -= len(piece)
    return bio.getvalue(), digest.hexdigest()


PDF_LIKE = (
    b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n"
    b"1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n"
    b"2 0 obj << /Type /Pages /Kids [] /Count 0 >> endobj\n"
    b"% cairn demo: a PDF header, not a complete document\n"
    b"trailer << /Root 1 0 R >>\n%%EOF\n"
)


@contributor("oddities")
def oddities(ctx: DemoContext) -> list[DemoEntry]:
    """Bad, hostile and odd files, each tagged with the error code a scan should record."""
    rng = ctx.rng("oddities")
    out: list[DemoEntry] = []

    def put(rel: str, data: bytes, fmt: str, *roles: str) -> DemoEntry:
        entry = ctx.write(rel, data, fmt, roles)
        out.append(entry)
        ctx.report(len(out))
        return entry

    # Extensions that lie.
    put("Downloads/photo.jpg", encode(draw_picture(rng, 300, 200), "png"), "png", IMAGE, EXT_MISMATCH)
    jpeg_txt = encode(draw_picture(rng, 320, 240), "jpeg")
    put("Users/alex/Documents/notes.txt", jpeg_txt, "jpeg", IMAGE, EXT_MISMATCH)

    # Damaged images.
    whole = encode(draw_picture(rng, 640, 480, "blobs"), "jpeg")
    put("DCIM/101CAMERA/IMG_0104.JPG", truncate_jpeg(whole), "jpeg", IMAGE, bad(errors.IMAGE_CORRUPT))
    png = encode(draw_picture(rng, 200, 200), "png")
    garbage = rng.integers(0, 256, size=len(png) - 33, dtype="u1").tobytes()
    put("Users/alex/Pictures/broken.png", png[:33] + garbage, "png", IMAGE, bad(errors.IMAGE_CORRUPT))

    # A decompression-bomb image: 900 megapixels declared, about 100 KB on disk.
    bomb = flat_png_bomb(BOMB_SIDE, BOMB_SIDE)
    put("Downloads/huge.png", bomb, "png", IMAGE, bad(errors.IMAGE_BOMB))

    # Hostile archives.
    tools = [
        text_member("readme.txt", "Nothing to see here.\n"),
        Member(
            "../../etc/evil.txt",
            b"benign text with a hostile name\n",
            "text",
            (TEXT, bad(errors.PATH_TRAVERSAL)),
        ),
    ]
    put("Downloads/tools.zip", zip_bytes(tools), "zip", CONTAINER)
    out.extend(member_entries("Downloads/tools.zip", tools))

    bomb_zip, bomb_sha = zip_bomb("disk.img", ZIP_BOMB_SIZE)
    put("Downloads/wallpapers.zip", bomb_zip, "zip", CONTAINER)
    out.append(
        DemoEntry(
            "Downloads/wallpapers.zip!/disk.img",
            (BINARY, bad(errors.ARCHIVE_BOMB)),
            "binary",
            ZIP_BOMB_SIZE,
            bomb_sha,
        )
    )

    etc = [
        text_member("etc/hostname", "demo-laptop\n"),
        Member(
            "/etc/passwd",
            b"demo:x:1000:1000:Demo User:/home/demo:/bin/sh\n",
            "text",
            (TEXT, bad(errors.PATH_TRAVERSAL)),
        ),
    ]
    put("Backups/etc-backup.tar", tar_bytes(etc), "tar", CONTAINER)
    out.extend(member_entries("Backups/etc-backup.tar", etc))

    # Truncated archives (members are not listed: how many survive is the scanner's business).
    pics = [picture_member(rng, f"IMG_50{i:02d}.png", "png") for i in range(4)]
    whole_zip = zip_bytes(pics)
    put(
        "Downloads/broken download.zip",
        whole_zip[: len(whole_zip) // 2],
        "zip",
        CONTAINER,
        bad(errors.ARCHIVE_CORRUPT),
    )
    pics = [Member("old/", None)] + [picture_member(rng, f"old/IMG_60{i:02d}.bmp", "bmp") for i in range(3)]
    whole_tgz = gzip_bytes(tar_bytes(pics))
    put(
        "Backups/old/backup-2019.tar.gz",
        whole_tgz[: len(whole_tgz) // 2],
        "gzip",
        CONTAINER,
        bad(errors.ARCHIVE_CORRUPT),
    )

    # Non-image files.
    put(
        "Users/alex/AppData/cache.bin",
        rng.integers(0, 256, size=4096, dtype="u1").tobytes(),
        "binary",
        BINARY,
    )
    shopping = "Shopping list\n- apples\n- bread\n- a red bicycle bell\n"
    put("Users/alex/Documents/shopping list.txt", shopping.encode(), "text", TEXT)
    put("Users/alex/Documents/manual.pdf", PDF_LIKE, "pdf", BINARY)
    put("Downloads/empty.dat", b"", "empty", EMPTY)

    # Symbolic links: a loop, one to a picture in the tree, one dangling.
    profile = "Users/alex/Pictures/profile.jpg"
    put(profile, encode(draw_picture(rng, 256, 256), "jpeg"), "jpeg", IMAGE)
    links = [
        ctx.symlink("Users/alex/links/a", "b", (bad(errors.SYMLINK_LOOP),)),
        ctx.symlink("Users/alex/links/b", "a", (bad(errors.SYMLINK_LOOP),)),
        ctx.symlink("Users/alex/Desktop/profile shortcut.jpg", "../Pictures/profile.jpg", (symlink_to(profile),)),
        ctx.symlink("Users/alex/links/gone.jpg", "nowhere/gone.jpg", (DANGLING,)),
    ]
    out.extend(e for e in links if e is not None)
    ctx.report(len(out))
    return out
