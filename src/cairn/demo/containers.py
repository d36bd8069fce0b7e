"""Deterministic zip / tar / tar.gz builders and the ``containers`` contributor.

Every archive header carries fixed dates, owners and modes; gzip headers carry a fixed mtime and no
file name. Archives are built in memory (they are small) and written through the context.
"""

from __future__ import annotations

import gzip
import io
import tarfile
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from cairn.demo.context import BASE_TIME, ZIP_DATE_TIME, DemoContext, content_entry, contributor
from cairn.demo.manifest import CONTAINER, IMAGE, TEXT, DemoEntry, duplicate_of, member_path
from cairn.demo.pictures import EXTENSIONS, draw_picture, encode, random_size


@dataclass(frozen=True)
class Member:
    """One archive member: ``data`` None makes a directory entry (never a manifest entry).

    ``inner`` lists the members of a nested container held in ``data``, for the manifest only.
    """

    name: str
    data: bytes | None
    content_type: str = "binary"
    roles: tuple[str, ...] = ()
    inner: tuple[Member, ...] = ()
    compress: bool = True


def zip_info(name: str, *, directory: bool = False, compress: bool = True) -> zipfile.ZipInfo:
    """A ``ZipInfo`` with fixed date, system and permissions; ``name`` is kept verbatim."""
    zi = zipfile.ZipInfo(name, date_time=ZIP_DATE_TIME)
    zi.create_system = 3
    if directory:
        zi.external_attr = (0o40755 << 16) | 0x10
        zi.compress_type = zipfile.ZIP_STORED
    else:
        zi.external_attr = 0o100644 << 16
        zi.compress_type = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    return zi


def zip_bytes(members: Sequence[Member]) -> bytes:
    """A zip holding ``members`` in order."""
    bio = io.BytesIO()
    with zipfile.ZipFile(bio, "w") as zf:
        for m in members:
            if m.data is None:
                zf.writestr(zip_info(m.name, directory=True), b"")
            else:
                zf.writestr(zip_info(m.name, compress=m.compress), m.data)
    return bio.getvalue()


def tar_info(name: str, size: int = 0, *, directory: bool = False) -> tarfile.TarInfo:
    """A ``TarInfo`` with fixed time, owner and mode; ``name`` is kept verbatim (even absolute)."""
    ti = tarfile.TarInfo(name)
    ti.size = 0 if directory else size
    ti.mtime = BASE_TIME
    ti.mode = 0o755 if directory else 0o644
    ti.type = tarfile.DIRTYPE if directory else tarfile.REGTYPE
    ti.uid = ti.gid = 1000
    ti.uname = ti.gname = "alex"
    return ti


def tar_bytes(members: Sequence[Member]) -> bytes:
    """An uncompressed (PAX) tar holding ``members`` in order."""
    bio = io.BytesIO()
    with tarfile.open(fileobj=bio, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for m in members:
            if m.data is None:
                tf.addfile(tar_info(m.name, directory=True))
            else:
                tf.addfile(tar_info(m.name, len(m.data)), io.BytesIO(m.data))
    return bio.getvalue()


def gzip_bytes(data: bytes) -> bytes:
    """``data`` gzip-compressed with a fixed header time and no file name."""
    bio = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=bio, mtime=BASE_TIME, compresslevel=6) as gz:
        gz.write(data)
    return bio.getvalue()


def member_entries(container: str, members: Sequence[Member]) -> list[DemoEntry]:
    """Manifest entries of the file members of ``container`` (logical path), recursing into ``inner``."""
    out: list[DemoEntry] = []
    for m in members:
        if m.data is None:
            continue
        path = member_path(container, m.name)
        out.append(content_entry(path, m.data, m.content_type, m.roles))
        out.extend(member_entries(path, m.inner))
    return out


def picture_member(rng: np.random.Generator, name: str, fmt: str, *roles: str) -> Member:
    """A member holding a freshly drawn picture; JPEG/WebP are stored, others deflated."""
    data = encode(draw_picture(rng, *random_size(rng, 96, 640)), fmt)
    return Member(name, data, fmt, (IMAGE, *roles), compress=fmt not in ("jpeg", "webp"))


def text_member(name: str, text: str) -> Member:
    return Member(name, text.encode("utf-8"), "text", (TEXT,))


def zip_member(name: str, members: Sequence[Member], *roles: str) -> Member:
    """A member that is itself a zip of ``members``."""
    return Member(name, zip_bytes(members), "zip", (CONTAINER, *roles), tuple(members), compress=False)


@contributor("containers")
def containers(ctx: DemoContext) -> list[DemoEntry]:
    """Zip, tar and tar.gz archives with folders and pictures; zip-in-tar.gz and zip-in-zip nesting."""
    rng = ctx.rng("containers")
    out: list[DemoEntry] = []

    def put(rel: str, data: bytes, fmt: str, members: Sequence[Member]) -> None:
        out.append(ctx.write(rel, data, fmt, (CONTAINER,)))
        out.extend(member_entries(rel, members))
        ctx.report(len(out))

    # A picture on disk that also sits, byte-identical, inside the holiday zip.
    loose_path = "Users/alex/Pictures/holiday/IMG_2001.jpg"
    loose = encode(draw_picture(rng, 640, 480, "blobs"), "jpeg")
    out.append(ctx.write(loose_path, loose, "jpeg", (IMAGE,)))

    holiday = [
        Member("holiday/", None),
        Member("holiday/beach/", None),
        Member("holiday/beach/IMG_2001.jpg", loose, "jpeg", (IMAGE, duplicate_of(loose_path)), compress=False),
        picture_member(rng, "holiday/beach/IMG_2002.png", "png"),
        Member("holiday/city/", None),
        picture_member(rng, "holiday/city/IMG_2003.webp", "webp"),
        picture_member(rng, "holiday/city/Café.gif", "gif"),
        text_member("readme.txt", "Holiday pictures, summer 2021.\n"),
    ]
    put("Downloads/holiday photos.zip", zip_bytes(holiday), "zip", holiday)

    phone = [
        Member("DCIM/", None),
        Member("DCIM/Camera/", None),
        picture_member(rng, "DCIM/Camera/IMG_3001.jpg", "jpeg"),
        picture_member(rng, "DCIM/Camera/IMG_3002.jpg", "jpeg"),
        picture_member(rng, "DCIM/Camera/IMG_3003.bmp", "bmp"),
        Member("notes/", None),
        text_member("notes/todo.txt", "buy milk\ncall the garage\n"),
        picture_member(rng, "notes/whiteboard.tif", "tiff"),
    ]
    put("Backups/2021/phone-backup.tar", tar_bytes(phone), "tar", phone)

    inner = [
        picture_member(rng, "c.png", "png"),
        picture_member(rng, "deeper/d.jpg", "jpeg"),
    ]
    archive = [
        Member("photos/", None),
        picture_member(rng, "photos/a.jpg", "jpeg"),
        picture_member(rng, "photos/b.png", "png"),
        Member("nested/", None),
        zip_member("nested/inner.zip", inner),
    ]
    put("Backups/2021/archive.tar.gz", gzip_bytes(tar_bytes(archive)), "gzip", archive)

    images = [
        picture_member(rng, "x.png", "png"),
        picture_member(rng, "icons/y.gif", "gif"),
    ]
    projects = [
        text_member("docs/report.txt", "Quarterly report draft.\n"),
        zip_member("assets/images.zip", images),
        picture_member(rng, f"assets/cover.{EXTENSIONS['webp']}", "webp"),
    ]
    put("Users/alex/Documents/projects.zip", zip_bytes(projects), "zip", projects)
    return out
