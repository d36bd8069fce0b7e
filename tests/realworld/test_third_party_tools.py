"""Files written by real third-party tools, scanned by cairn, checked against independent readers.

Benign pictures (gradients, shapes, noise) are made here with numpy/Pillow; then Info-ZIP, GNU tar,
bsdtar, 7-Zip, libjpeg-turbo, exiftool, ImageMagick and gzip write the evidence in the shapes they
really produce. Every file must get exactly one row, digests equal to ``hashlib``'s, PDQ equal to
threatexchange's for RGB/L pictures (close to it for other modes), and errors only where a file really
cannot be read. The Debian packages are listed in ``.ci/apt-packages.txt``; a test whose tool is missing
skips naming the package, except under ``CI=true`` where it fails.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import sqlite3
import struct
import subprocess
import tarfile
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import NoReturn

import numpy as np
import pytest
from PIL import Image, ImageDraw
from threatexchange.signal_type.pdq.pdq_hasher import _pdq_from_numpy_array, pdq_from_bytes

from cairn.pipeline.scan import scan
from cairn.settings import ScanSettings
from cairn.signals.pdq import pdq_distance
from cairn.store import CaseStore

#: Bits a non-RGB/L decode (CMYK, palette, 16-bit) may differ from the reference on Pillow's RGB.
TOLERANCE = 16


#: How each tool says what it is: (arguments, text its output must hold). A program of the same name that
#: is something else (a ``convert`` that is not ImageMagick, a ``tar`` that is not GNU tar) is not used.
IDENTITY: dict[str, tuple[tuple[str, ...], str]] = {
    "zip": (("-v",), "Info-ZIP"),
    "tar": (("--version",), "GNU tar"),
    "gzip": (("--version",), "gzip"),
    "bsdtar": (("--version",), "libarchive"),
    "xz": (("--version",), "XZ Utils"),
    "7z": ((), "7-Zip"),
    "cjpeg": (("-version",), "libjpeg-turbo"),
    "jpegtran": (("-version",), "libjpeg-turbo"),
    "exiftool": (("-ver",), "."),
    "convert": (("-version",), "ImageMagick"),
    "magick": (("-version",), "ImageMagick"),
}


def _missing(message: str) -> NoReturn:
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


def _says(path: str, args: tuple[str, ...], mark: str) -> bool:
    """True when ``path args`` runs and its output (stdout or stderr) holds ``mark``."""
    try:
        proc = subprocess.run([path, *args], capture_output=True, stdin=subprocess.DEVNULL, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return False
    return mark in (proc.stdout + proc.stderr).decode(errors="replace")


def need(tool: str, package: str) -> str:
    """Path of ``tool`` once it has said what it is; skip (fail under CI=true) naming the Debian package when it
    is missing or is another program of the same name."""
    path = shutil.which(tool)
    if path is None:
        _missing(f"{tool} not found: apt-get install {package} (listed in .ci/apt-packages.txt)")
    args, mark = IDENTITY.get(tool, (("--version",), ""))
    if not _says(path, args, mark):
        _missing(
            f"{path} is not the {tool} of {package} (`{tool} {' '.join(args)}` does not say {mark!r}): "
            f"apt-get install {package} (listed in .ci/apt-packages.txt)"
        )
    return path


def imagemagick() -> str:
    """ImageMagick 7's ``magick`` where it is one, else ImageMagick 6's ``convert``."""
    magick = shutil.which("magick")
    if magick is not None and _says(magick, *IDENTITY["magick"]):
        return magick
    return need("convert", "imagemagick")


def run(*cmd: str, cwd: Path, stdin: bytes | None = None) -> bytes:
    """Run a tool; its stdout. A failing tool fails the test with its stderr."""
    proc = subprocess.run(cmd, cwd=cwd, input=stdin, capture_output=True)
    assert proc.returncode == 0, f"{cmd} failed: {proc.stderr.decode(errors='replace')}"
    return proc.stdout


@dataclass
class Row:
    """One stored file with what the checks need."""

    path: str
    type_label: str | None
    mismatch: bool
    hashes: dict[str, str] = field(default_factory=dict)
    quality: int | None = None
    size: tuple[int, int] | None = None
    frames: int | None = None
    orientation: int | None = None
    has_exif: bool = False
    codes: list[str] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)


def scan_rows(evidence: Path, case_dir: Path) -> dict[str, Row]:
    """Scan ``evidence`` into a new SQLite case; every stored row by path (a duplicate path fails)."""
    with CaseStore.open(case_dir) as store:
        summary = scan(evidence, store, ScanSettings(workers=1), actor="tester", show_progress=False)
    assert summary.status == "completed"
    con = sqlite3.connect(case_dir / "case.db")
    rows: dict[str, Row] = {}
    by_id: dict[int, Row] = {}
    query = (
        "SELECT f.id, f.path, f.type_label, f.extension_mismatch, i.width, i.height, i.frames, i.orientation, "
        "i.exif IS NOT NULL FROM files f LEFT JOIN images i ON i.file_id = f.id"
    )
    for fid, path, label, mismatch, width, height, frames, orientation, has_exif in con.execute(query):
        assert path not in rows, f"two rows for {path}"
        row = Row(path, label, bool(mismatch), frames=frames, orientation=orientation, has_exif=bool(has_exif))
        row.size = (width, height) if width is not None else None
        rows[path] = by_id[int(fid)] = row
    for fid, kind, value, quality in con.execute("SELECT file_id, kind, value, quality FROM file_hashes"):
        by_id[int(fid)].hashes[kind] = value
        if kind == "pdq":
            by_id[int(fid)].quality = quality
    for fid, code, message in con.execute("SELECT file_id, code, message FROM file_errors ORDER BY ordinal"):
        by_id[int(fid)].codes.append(code)
        by_id[int(fid)].messages.append(message)
    con.close()
    return rows


def check_digests(row: Row, data: bytes) -> None:
    """MD5, SHA-1 and SHA-256 of the row equal hashlib's of ``data``."""
    for kind in ("md5", "sha1", "sha256"):
        assert row.hashes.get(kind) == hashlib.new(kind, data).hexdigest(), (row.path, kind, row.codes)


def check_picture(row: Row, data: bytes, frames: int = 1) -> None:
    """No error; size and frames as Pillow reads them; PDQ as threatexchange (exact for RGB/L)."""
    assert row.codes == [], (row.path, row.messages)
    check_digests(row, data)
    with Image.open(io.BytesIO(data)) as im:
        assert row.size == im.size, row.path
        assert row.frames == frames == getattr(im, "n_frames", 1), row.path
        mode = im.mode
        rgb = np.asarray(im.convert("RGB"))
    if mode in ("RGB", "L"):
        assert (row.hashes["pdq"], row.quality) == pdq_from_bytes(data), row.path
    else:
        reference, _ = _pdq_from_numpy_array(rgb)
        assert pdq_distance(row.hashes["pdq"], reference) <= TOLERANCE, (row.path, mode)


def scene(width: int = 320, height: int = 240, seed: int = 7) -> Image.Image:
    """A benign RGB picture: a colour gradient, a few shapes and a little noise."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    base = np.stack([x * 255 // width, y * 255 // height, (x + y) * 127 // (width + height)], axis=2)
    noisy = np.clip(base + rng.integers(-12, 13, base.shape), 0, 255).astype(np.uint8)
    im = Image.fromarray(noisy, "RGB")
    draw = ImageDraw.Draw(im)
    draw.ellipse((40, 30, 150, 140), fill=(230, 200, 40))
    draw.rectangle((180, 120, 290, 210), fill=(30, 90, 200))
    draw.polygon([(200, 20), (300, 60), (240, 100)], fill=(20, 160, 90))
    return im


@pytest.fixture(scope="module")
def pictures(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Source pictures the tools start from: scene.png/.jpg/.ppm, scene2.png, grey.png."""
    root = tmp_path_factory.mktemp("pictures")
    pic = scene()
    pic.save(root / "scene.png")
    pic.save(root / "scene.jpg", quality=90)
    pic.save(root / "scene.ppm")
    scene(256, 256, seed=11).save(root / "scene2.png")
    pic.convert("L").save(root / "grey.png")
    return root


def _copy(pictures: Path, dest: Path, *names: str) -> None:
    dest.mkdir(parents=True, exist_ok=True)
    for name in names:
        shutil.copy(pictures / name, dest / name)


# ------------------------------------------------------------------------------------------ archives


def test_info_zip_shapes(pictures: Path, tmp_path: Path) -> None:
    """Info-ZIP: stdin streamed to a pipe (data descriptor), -fd, -fz (zip64), -P (encrypted), comment."""
    zip_ = need("zip", "zip")
    ev = tmp_path / "ev"
    ev.mkdir()
    jpg = (pictures / "scene.jpg").read_bytes()
    png = (pictures / "scene.png").read_bytes()
    (ev / "streamed.zip").write_bytes(run(zip_, "-q", "-", "-", cwd=pictures, stdin=jpg))
    run(zip_, "-q", "-fd", str(ev / "descriptors.zip"), "scene.jpg", "scene.png", cwd=pictures)
    run(zip_, "-q", "-fz", str(ev / "zip64.zip"), "scene.jpg", "scene.png", cwd=pictures)
    run(zip_, "-q", "-P", "benign", str(ev / "encrypted.zip"), "scene.png", cwd=pictures)
    run(zip_, "-q", "-z", str(ev / "comment.zip"), "scene.jpg", cwd=pictures, stdin=b"a comment\n.\n")
    with zipfile.ZipFile(ev / "streamed.zip") as zf:
        assert zf.infolist()[0].flag_bits & 0x8, "zip to a pipe writes a data descriptor"
    rows = scan_rows(ev, tmp_path / "case")

    assert len(rows) == 5 + 1 + 2 + 2 + 1 + 1
    for archive in ("streamed", "descriptors", "zip64", "encrypted", "comment"):
        row = rows[f"{archive}.zip"]
        assert row.type_label == "zip" and row.codes == [], (archive, row.messages)
        check_digests(row, (ev / f"{archive}.zip").read_bytes())
    check_picture(rows["streamed.zip!/-"], jpg)
    for archive in ("descriptors", "zip64"):
        check_picture(rows[f"{archive}.zip!/scene.jpg"], jpg)
        check_picture(rows[f"{archive}.zip!/scene.png"], png)
    check_picture(rows["comment.zip!/scene.jpg"], jpg)
    secret = rows["encrypted.zip!/scene.png"]
    assert secret.codes == ["archive_encrypted"] and "password" in secret.messages[0]
    assert "sha256" not in secret.hashes


@pytest.mark.parametrize("fmt", ["gnu", "posix", "ustar", "v7"])
def test_gnu_tar_formats(pictures: Path, tmp_path: Path, fmt: str) -> None:
    """GNU tar in each format, plain and through gzip, bzip2 and xz; long names where the format has them."""
    tar = need("tar", "tar")
    for tool, package in (("gzip", "gzip"), ("bzip2", "bzip2"), ("xz", "xz-utils")):
        need(tool, package)
    src = tmp_path / "src"
    deep = "d" * 60 + "/" + "e" * 60 if fmt in ("gnu", "posix") else "short"
    _copy(pictures, src / deep, "scene.jpg", "grey.png")
    ev = tmp_path / "ev"
    ev.mkdir()
    for suffix, flag in (("tar", None), ("tar.gz", "--gzip"), ("tar.bz2", "--bzip2"), ("tar.xz", "--xz")):
        cmd = [tar, f"--format={fmt}", "-cf", str(ev / f"pics.{suffix}")] + ([flag] if flag else []) + [deep]
        run(*cmd, cwd=src)
    rows = scan_rows(ev, tmp_path / "case")

    for suffix in ("tar", "tar.gz", "tar.bz2", "tar.xz"):
        container = rows[f"pics.{suffix}"]
        assert container.codes == [], (suffix, container.messages)
        assert not container.mismatch
        for name in ("scene.jpg", "grey.png"):
            check_picture(rows[f"pics.{suffix}!/{deep}/{name}"], (pictures / name).read_bytes())
    assert rows["pics.tar"].type_label == "tar"
    assert len(rows) == 4 * 3


def test_gzip_alone_and_with_trailing_data(pictures: Path, tmp_path: Path) -> None:
    """A gzipped picture is a file, not a container; a tar.gz with data after it keeps every member."""
    gzip_ = need("gzip", "gzip")
    tar = need("tar", "tar")
    ev = tmp_path / "ev"
    ev.mkdir()
    (ev / "scene.png.gz").write_bytes(run(gzip_, "-c", "scene.png", cwd=pictures))
    tgz = run(tar, "-cf", "-", "scene.jpg", "scene2.png", cwd=pictures)
    (ev / "padded.tgz").write_bytes(run(gzip_, "-c", cwd=pictures, stdin=tgz) + b"\0" * 1000)
    (ev / "trailing.tgz").write_bytes(run(gzip_, "-c", cwd=pictures, stdin=tgz) + b"appended, not gzip")
    rows = scan_rows(ev, tmp_path / "case")

    alone = rows["scene.png.gz"]
    assert alone.type_label == "gzip" and alone.codes == [] and not alone.mismatch
    check_digests(alone, (ev / "scene.png.gz").read_bytes())
    assert rows["padded.tgz"].codes == []
    assert rows["trailing.tgz"].codes == ["archive_corrupt"]
    assert "not gzip" in rows["trailing.tgz"].messages[0]
    for archive in ("padded", "trailing"):
        for name in ("scene.jpg", "scene2.png"):
            check_picture(rows[f"{archive}.tgz!/{name}"], (pictures / name).read_bytes())
    assert len(rows) == 7


def test_bsdtar_pax_and_zip(pictures: Path, tmp_path: Path) -> None:
    """libarchive's bsdtar: a pax tar.xz with a long name and a zip (written streaming, as bsdtar does)."""
    bsdtar = need("bsdtar", "libarchive-tools")
    need("xz", "xz-utils")
    deep = "f" * 80 + "/" + "g" * 80
    src = tmp_path / "src"
    _copy(pictures, src / deep, "scene.jpg", "scene.png")
    ev = tmp_path / "ev"
    ev.mkdir()
    run(bsdtar, "--format", "pax", "-cJf", str(ev / "pics.tar.xz"), deep, cwd=src)
    run(bsdtar, "--format", "zip", "-cf", str(ev / "pics.zip"), deep, cwd=src)
    rows = scan_rows(ev, tmp_path / "case")

    for archive in ("pics.tar.xz", "pics.zip"):
        assert rows[archive].codes == [], rows[archive].messages
        for name in ("scene.jpg", "scene.png"):
            check_picture(rows[f"{archive}!/{deep}/{name}"], (pictures / name).read_bytes())
    assert len(rows) == 6


def test_7zip_zip(pictures: Path, tmp_path: Path) -> None:
    """7-Zip writes zips too: deflate reads; Deflate64 (which Python cannot decode) is recorded, not lost."""
    seven = need("7z", "p7zip-full")
    ev = tmp_path / "ev"
    ev.mkdir()
    run(seven, "a", "-tzip", str(ev / "plain.zip"), "scene.jpg", "grey.png", cwd=pictures)
    run(seven, "a", "-tzip", "-mm=Deflate64", str(ev / "deflate64.zip"), "scene.ppm", cwd=pictures)
    with zipfile.ZipFile(ev / "deflate64.zip") as zf:
        assert zf.infolist()[0].compress_type == 9
    rows = scan_rows(ev, tmp_path / "case")

    assert rows["plain.zip"].codes == []
    for name in ("scene.jpg", "grey.png"):
        check_picture(rows[f"plain.zip!/{name}"], (pictures / name).read_bytes())
    member = rows["deflate64.zip!/scene.ppm"]
    assert member.codes == ["unreadable"] and "cannot be decoded" in member.messages[0]
    assert len(rows) == 5


# ------------------------------------------------------------------------------------------ pictures


def test_libjpeg_turbo(pictures: Path, tmp_path: Path) -> None:
    """cjpeg progressive and greyscale, jpegtran rotated with every marker copied: PDQ as the reference."""
    cjpeg = need("cjpeg", "libjpeg-turbo-progs")
    jpegtran = need("jpegtran", "libjpeg-turbo-progs")
    ev = tmp_path / "ev"
    ev.mkdir()
    (ev / "progressive.jpg").write_bytes(run(cjpeg, "-progressive", "-quality", "85", "scene.ppm", cwd=pictures))
    (ev / "grey.jpg").write_bytes(run(cjpeg, "-grayscale", "scene.ppm", cwd=pictures))
    (ev / "rotated.jpg").write_bytes(run(jpegtran, "-rotate", "90", "-copy", "all", "scene.jpg", cwd=pictures))
    rows = scan_rows(ev, tmp_path / "case")

    for name in ("progressive.jpg", "grey.jpg", "rotated.jpg"):
        assert rows[name].type_label == "jpeg" and not rows[name].mismatch
        check_picture(rows[name], (ev / name).read_bytes())
    assert rows["rotated.jpg"].size == (240, 320)
    original = pdq_from_bytes((pictures / "scene.jpg").read_bytes())[0]
    assert pdq_distance(rows["progressive.jpg"].hashes["pdq"], original) <= TOLERANCE


def test_exiftool_orientation(pictures: Path, tmp_path: Path) -> None:
    """exiftool writes Make/Model/Orientation: recorded, and the PDQ of the pixels is unchanged."""
    exiftool = need("exiftool", "libimage-exiftool-perl")
    ev = tmp_path / "ev"
    _copy(pictures, ev, "scene.jpg")
    shutil.copy(ev / "scene.jpg", ev / "tagged.jpg")
    run(
        exiftool,
        "-q",
        "-overwrite_original",
        "-Make=Benchmark",
        "-Model=Bench 1",
        "-Orientation#=6",
        "tagged.jpg",
        cwd=ev,
    )
    rows = scan_rows(ev, tmp_path / "case")

    plain, tagged = rows["scene.jpg"], rows["tagged.jpg"]
    check_picture(tagged, (ev / "tagged.jpg").read_bytes())
    assert tagged.orientation == 6 and tagged.has_exif
    assert plain.orientation is None
    assert tagged.hashes["sha256"] != plain.hashes["sha256"]
    assert (tagged.hashes["pdq"], tagged.quality) == (plain.hashes["pdq"], plain.quality)


def test_imagemagick(pictures: Path, tmp_path: Path) -> None:
    """ImageMagick: CMYK JPEG, 16-bit, palette and interlaced PNG, multi-page TIFF, animated GIF."""
    magick = imagemagick()
    ev = tmp_path / "ev"
    ev.mkdir()
    for args, out in (
        (["scene.png", "-colorspace", "CMYK", "-quality", "92"], "cmyk.jpg"),
        (["scene.png", "-depth", "16"], "PNG48:deep.png"),
        (["scene.png", "-colors", "200"], "PNG8:palette.png"),
        (["scene.png", "-interlace", "PNG"], "PNG24:interlaced.png"),
        (["scene.png", "scene2.png", "grey.png"], "pages.tif"),
        (["-delay", "20", "scene.png", "scene2.png", "grey.png"], "animated.gif"),
    ):
        target = out.split(":", 1)[0] + ":" + str(ev / out.split(":", 1)[1]) if ":" in out else str(ev / out)
        run(magick, *args, target, cwd=pictures)
    rows = scan_rows(ev, tmp_path / "case")
    assert len(rows) == 6
    data = {name: (ev / name).read_bytes() for name in rows}

    original = pdq_from_bytes((pictures / "scene.png").read_bytes())[0]
    check_picture(rows["cmyk.jpg"], data["cmyk.jpg"])
    check_picture(rows["deep.png"], data["deep.png"])
    # 8 bits written as 16 (v * 257) come back exactly: the same PDQ as the 8-bit original
    assert rows["deep.png"].hashes["pdq"] == original
    check_picture(rows["palette.png"], data["palette.png"])
    check_picture(rows["interlaced.png"], data["interlaced.png"])
    assert rows["interlaced.png"].hashes["pdq"] == original
    check_picture(rows["pages.tif"], data["pages.tif"], frames=3)
    check_picture(rows["animated.gif"], data["animated.gif"], frames=3)
    for name in ("cmyk.jpg", "palette.png", "pages.tif", "animated.gif"):
        assert pdq_distance(rows[name].hashes["pdq"], original) <= TOLERANCE, name


def test_tar_of_tool_outputs_is_read_like_the_folder(pictures: Path, tmp_path: Path) -> None:
    """The same tool outputs, scanned as a folder and as one tar given as evidence: equal digests and PDQ."""
    tar = need("tar", "tar")
    src = tmp_path / "src"
    _copy(pictures, src, "scene.jpg", "scene.png", "grey.png")
    archive = tmp_path / "evidence.tar"
    run(tar, "--format=v7", "-cf", str(archive), "scene.jpg", "scene.png", "grey.png", cwd=src)
    folder_rows = scan_rows(src, tmp_path / "case1")
    tar_rows = scan_rows(archive, tmp_path / "case2")
    assert tar_rows["evidence.tar"].type_label == "tar"
    for name, row in folder_rows.items():
        member = tar_rows[f"evidence.tar!/{name}"]
        assert (member.hashes, member.size) == (row.hashes, row.size), name
    with tarfile.open(archive) as tf:
        assert sorted(tf.getnames()) == sorted(folder_rows)


def test_damaged_png_data_is_recorded(pictures: Path, tmp_path: Path) -> None:
    """An ImageMagick PNG whose compressed pixels are damaged (chunk CRC still right): image_corrupt, no PDQ.

    Regression: Pillow's PNG ``getexif`` loads the pixels; its failure used to be swallowed and the
    second ``load()`` then "succeeded" on an empty tile list, hashing a blank picture without an error.
    """
    magick = imagemagick()
    ev = tmp_path / "ev"
    ev.mkdir()
    run(magick, "scene.png", str(ev / "good.png"), cwd=pictures)
    data = bytearray((ev / "good.png").read_bytes())
    at = data.index(b"IDAT")
    length = struct.unpack(">I", data[at - 4 : at])[0]
    for k in range(200, 240):
        data[at + 4 + k] ^= 0xFF
    data[at + 4 + length : at + 8 + length] = struct.pack(">I", zlib.crc32(bytes(data[at : at + 4 + length])))
    (ev / "damaged.png").write_bytes(bytes(data))
    rows = scan_rows(ev, tmp_path / "case")

    check_picture(rows["good.png"], (ev / "good.png").read_bytes())
    damaged = rows["damaged.png"]
    assert damaged.codes == ["image_corrupt"] and "pdq" not in damaged.hashes
    assert damaged.size == (320, 240)
    check_digests(damaged, bytes(data))


def test_a_program_named_like_a_tool_but_not_it_is_skipped_not_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = tmp_path / "bin" / "convert"
    fake.parent.mkdir()
    fake.write_text("#!/bin/sh\necho 'convert: a file-system converter, not pictures'\n", encoding="utf-8")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake.parent}{os.pathsep}{os.environ.get('PATH', '')}")
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="is not the convert of imagemagick"):
        need("convert", "imagemagick")
