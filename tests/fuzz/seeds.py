"""Benign seed files for fuzzing: small pictures and archives written by Pillow, zipfile and tarfile."""

from __future__ import annotations

import io
import tarfile
import zipfile
from collections.abc import Callable

import numpy as np
from PIL import Image, PngImagePlugin


def _noise(width: int = 40, height: int = 30) -> Image.Image:
    rng = np.random.default_rng(3)
    return Image.fromarray(rng.integers(0, 255, (height, width, 3), dtype=np.uint8))


def picture(fmt: str, **options: object) -> bytes:
    """A small noise picture in ``fmt``; GIF and WEBP get two frames."""
    im = _noise()
    buf = io.BytesIO()
    if fmt in ("GIF", "WEBP"):
        im.save(buf, format=fmt, save_all=True, append_images=[im.transpose(Image.Transpose.FLIP_LEFT_RIGHT)])
    else:
        im.save(buf, format=fmt, **options)
    return buf.getvalue()


def png_with_text() -> bytes:
    info = PngImagePlugin.PngInfo()
    info.add_text("parameters", "a red bicycle on a beach, Steps: 20, Seed: 7", zip=True)
    buf = io.BytesIO()
    _noise().save(buf, format="PNG", pnginfo=info)
    return buf.getvalue()


def zip_archive(nested: bool = False) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("a/pic.png", picture("PNG"))
        zf.writestr("b.txt", "a red bicycle on a beach " * 20)
        zf.writestr("c.txt", b"", compress_type=zipfile.ZIP_STORED)
        if nested:
            zf.writestr("inner.zip", zip_archive())
    return buf.getvalue()


def tar_archive(mode: str = "w") -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode=mode) as tf:  # type: ignore[call-overload]
        for name, data in (("pic.jpg", picture("JPEG")), ("inner.zip", zip_archive()), ("t.txt", b"hello\n")):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mtime = 1_700_000_000
            tf.addfile(info, io.BytesIO(data))
        link = tarfile.TarInfo("link")
        link.type = tarfile.SYMTYPE
        link.linkname = "t.txt"
        tf.addfile(link)
    return buf.getvalue()


class _Unseekable(io.RawIOBase):
    """A write-only stream that cannot seek: zipfile then writes data descriptors after each member."""

    def __init__(self) -> None:
        self.buf = bytearray()

    def writable(self) -> bool:
        return True

    def write(self, b: bytes) -> int:  # type: ignore[override]
        self.buf += b
        return len(b)


def zip_streamed() -> bytes:
    out = _Unseekable()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("pic.gif", picture("GIF"))
        zf.writestr("d/e.txt", "a red bicycle on a beach\n" * 5)
    return bytes(out.buf)


def tar_gnu_longnames() -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as tf:
        for i, data in enumerate((picture("BMP"), b"x" * 3000)):
            info = tarfile.TarInfo(f"{'deep/' * 30}file{i}")
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


CONTAINER_SEEDS: dict[str, Callable[[], bytes]] = {
    "zip-streamed": zip_streamed,
    "tar-gnu": tar_gnu_longnames,
    "zip": zip_archive,
    "zip-nested": lambda: zip_archive(nested=True),
    "tar": tar_archive,
    "tar.gz": lambda: tar_archive("w:gz"),
    "tar.bz2": lambda: tar_archive("w:bz2"),
    "tar.xz": lambda: tar_archive("w:xz"),
    "tar-pax": lambda: _pax_tar(),
    "png+zip": lambda: picture("PNG") + zip_archive(),
}

PICTURE_SEEDS: dict[str, Callable[[], bytes]] = {
    "jpeg": lambda: picture("JPEG"),
    "jpeg-progressive": lambda: picture("JPEG", progressive=True, quality=80),
    "png": lambda: picture("PNG"),
    "png-text": png_with_text,
    "gif": lambda: picture("GIF"),
    "webp": lambda: picture("WEBP"),
    "tiff": lambda: picture("TIFF"),
    "bmp": lambda: picture("BMP"),
}


def _pax_tar() -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        data = b"a red bicycle on a beach\n"
        info = tarfile.TarInfo("long/" + "n" * 150 + ".txt")
        info.size = len(data)
        info.pax_headers = {"comment": "benign"}
        tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _digests(text: bytes) -> dict[str, str]:
    import hashlib

    return {k: hashlib.new(k, text).hexdigest() for k in ("md5", "sha1", "sha256")}


def hash_set_seeds() -> dict[str, bytes]:
    """Small hash sets in every format cairn reads, of benign bytes' digests."""
    import json

    bike, kite = _digests(b"a red bicycle"), _digests(b"a blue kite")
    vics = {
        "@odata.context": "http://github.com/VICSDATAMODEL/ProjectVic/DataModels/2.0.xml/US/$metadata#Media",
        "value": [
            {
                "MD5": bike["md5"], "SHA1": bike["sha1"], "Category": 1, "VictimIdentified": "true", "Series": "s",
                "AlternativeHashes": [{"HashName": "SHA256", "HashValue": bike["sha256"]}],
            },
            {"MD5": kite["md5"], "Category": "2", "IsDistributed": True},
        ],
    }
    nsrl_header = '"SHA-1","MD5","CRC32","FileName","FileSize","ProductCode","OpSystemCode","SpecialCode"\n'
    return {
        "vics": json.dumps(vics).encode(),
        "icse": (
            "MD5;SHA1;PhotoDNA;Image ID;Is distributed;Victim identified;Offender identified;Series name\n"
            f"{bike['md5']};{bike['sha1']};;12;y;n;t;x\n"
        ).encode(),
        "csv": f"md5,sha256,category,series\n{bike['md5']},{bike['sha256']},1,a\n{kite['md5']},,2,b\n".encode(),
        "te": f"pdq {'0' * 63}1\nmd5 {bike['md5']}\n".encode(),
        "nsrl": (nsrl_header + f'"{bike["sha1"].upper()}","{bike["md5"].upper()}","0","a.txt",1,1,"1",""\n').encode(),
        "list": f"{bike['md5']}\n{kite['md5']}\n".encode(),
    }
