"""The demo evidence generator: determinism, manifest truth, coverage of every kind a scan meets."""

from __future__ import annotations

import gzip
import hashlib
import io
import itertools
import json
import os
import struct
import tarfile
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pdqhash
import pytest
from PIL import Image

from cairn import errors
from cairn.demo import DemoError, DemoManifest, generate, parse_size
from cairn.demo.manifest import (
    ANIMATED,
    BAD,
    CONTAINER,
    DANGLING,
    DUPLICATE_OF,
    EMPTY,
    EXIF,
    EXT_MISMATCH,
    IMAGE,
    LARGE,
    MULTIPAGE,
    NEAR_DUPLICATE_OF,
    SYMLINK,
    SYMLINK_TO,
    DemoEntry,
)
from cairn.model import CONTAINER_SEP
from cairn.settings import Limits

Tree = tuple[Path, DemoManifest]


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Tree:
    root = tmp_path_factory.mktemp("demo") / "evidence"
    return root, generate(root, "small", seed=7)


def snapshot(root: Path) -> dict[str, tuple[str, bytes | str, int]]:
    """Every path under ``root`` -> (kind, content or link target, mtime_ns), never following links."""
    out: dict[str, tuple[str, bytes | str, int]] = {}
    for dirpath, dirs, files in os.walk(root):
        for name in dirs + files:
            p = Path(dirpath) / name
            rel = p.relative_to(root).as_posix()
            st = p.lstat()
            if p.is_symlink():
                out[rel] = ("link", os.readlink(p), st.st_mtime_ns)
            elif p.is_dir():
                out[rel] = ("dir", "", st.st_mtime_ns)
            else:
                out[rel] = ("file", p.read_bytes(), st.st_mtime_ns)
    out["."] = ("dir", "", root.stat().st_mtime_ns)
    return out


def open_members(data: bytes, content_type: str) -> dict[str, bytes]:
    """All file members of a zip / tar / tar.gz held in ``data``, by raw member name."""
    if content_type == "zip":
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            return {i.filename: zf.read(i) for i in zf.infolist() if not i.is_dir()}
    if content_type == "gzip":
        data = gzip.decompress(data)
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as tf:
        out: dict[str, bytes] = {}
        for ti in tf.getmembers():
            if ti.isfile():
                fh = tf.extractfile(ti)
                assert fh is not None
                out[ti.name] = fh.read()
        return out


def content_of(root: Path, manifest: DemoManifest, entry: DemoEntry) -> bytes:
    """The bytes of an entry, on disk or through its chain of containers."""
    by_path = manifest.by_path()
    parts = entry.parts
    data = root.joinpath(*parts[0].split("/")).read_bytes()
    for i in range(1, len(parts)):
        container = by_path[CONTAINER_SEP.join(parts[:i])]
        data = open_members(data, container.content_type)[parts[i]]
    return data


def pdq(img: Image.Image) -> np.ndarray:
    vec, _quality = pdqhash.compute(np.ascontiguousarray(np.asarray(img.convert("RGB"))))
    return np.asarray(vec)


def decode(data: bytes) -> Image.Image:
    img = Image.open(io.BytesIO(data))
    img.load()
    return img


def test_same_seed_gives_identical_trees(small: Tree, tmp_path: Path) -> None:
    root, manifest = small
    again = generate(tmp_path / "again", "small", seed=7)
    assert again.to_json() == manifest.to_json()
    first, second = snapshot(root), snapshot(tmp_path / "again")
    assert sorted(first) == sorted(second)
    for rel in first:
        assert first[rel] == second[rel], rel


def test_other_seed_differs(small: Tree, tmp_path: Path) -> None:
    _root, manifest = small
    other = generate(tmp_path / "other", "small", seed=8)
    assert {e.sha256 for e in other} != {e.sha256 for e in manifest}


def test_every_entry_exists_with_its_content(small: Tree) -> None:
    root, manifest = small
    for entry in manifest:
        if entry.has(SYMLINK):
            assert root.joinpath(*entry.path.split("/")).is_symlink(), entry.path
            continue
        data = content_of(root, manifest, entry)
        assert len(data) == entry.size, entry.path
        assert hashlib.sha256(data).hexdigest() == entry.sha256, entry.path


def test_every_file_on_disk_is_listed(small: Tree) -> None:
    root, manifest = small
    listed = {e.path for e in manifest if not e.in_archive}
    on_disk = {rel for rel, (kind, _c, _t) in snapshot(root).items() if kind != "dir"}
    assert on_disk == listed
    assert not any(p.endswith("manifest.json") for p in on_disk)  # the manifest is never written into the tree


def test_small_covers_every_kind(small: Tree) -> None:
    _root, manifest = small
    assert 60 <= len(manifest) <= 140  # the target (100) and the fixed AI samples and model files
    for role in (
        IMAGE,
        CONTAINER,
        SYMLINK,
        EXT_MISMATCH,
        EXIF,
        ANIMATED,
        MULTIPAGE,
        LARGE,
        DANGLING,
        EMPTY,
        DUPLICATE_OF,
        NEAR_DUPLICATE_OF,
        SYMLINK_TO,
        "mode:P",
        "mode:L",
        "mode:RGBA",
        "mode:CMYK",
        "mode:I;16",
        "mode:1",
    ):
        assert manifest.with_role(role), role
    types = {e.content_type for e in manifest}
    assert {"jpeg", "png", "webp", "gif", "bmp", "tiff", "zip", "tar", "gzip"} <= types
    assert {"text", "binary", "pdf", "empty", "symlink"} <= types
    codes = {c for e in manifest for c in e.bad_codes}
    assert codes == {
        errors.IMAGE_CORRUPT,
        errors.IMAGE_BOMB,
        errors.ARCHIVE_CORRUPT,
        errors.ARCHIVE_BOMB,
        errors.PATH_TRAVERSAL,
        errors.SYMLINK_LOOP,
    }
    variants = {e.role_values(NEAR_DUPLICATE_OF)[0].rsplit(":", 1)[1] for e in manifest.with_role(NEAR_DUPLICATE_OF)}
    assert {"resized", "recompressed", "cropped", "brightness", "to_jpeg", "to_webp"} <= variants
    # Nesting: a zip in a tar.gz and a zip in a zip, and folders with spaces and non-ASCII names.
    assert any(e.parts[0].endswith(".tar.gz") and len(e.parts) == 3 for e in manifest)
    assert any(len(e.parts) > 1 and e.parts[0].endswith(".zip") and e.parts[1].endswith(".zip") for e in manifest)
    paths = [e.path for e in manifest]
    assert any(" " in p for p in paths) and any(not p.isascii() for p in paths)
    assert max(p.split(CONTAINER_SEP)[0].count("/") for p in paths) >= 5
    # Exactly one picture of 3000+ px in small.
    assert len(manifest.with_role(LARGE)) == 1


def test_images_decode_as_declared(small: Tree) -> None:
    root, manifest = small
    formats = {"jpeg": "JPEG", "png": "PNG", "webp": "WEBP", "gif": "GIF", "bmp": "BMP", "tiff": "TIFF"}
    for entry in manifest.with_role(IMAGE):
        if entry.bad_codes:
            continue
        img = decode(content_of(root, manifest, entry))
        assert img.format == formats[entry.content_type], entry.path
        for mode in entry.role_values("mode:"):
            assert img.mode == mode, entry.path
        if entry.has(ANIMATED) or entry.has(MULTIPAGE):
            assert getattr(img, "n_frames", 1) == int(entry.role_values("frames:")[0]) > 1
        if entry.has(EXIF):
            exif = img.getexif()
            assert exif[0x0112] == 6 and exif[0x010F] and exif[0x0110]
            assert exif.get_ifd(0x8769)[0x9003] == "2021:07:14 10:22:31"
        if entry.has(EXT_MISMATCH):
            suffix = entry.path.rsplit(".", 1)[-1].lower()
            assert suffix not in {entry.content_type, "jpg" if entry.content_type == "jpeg" else "?"}
        if entry.has(LARGE):
            assert max(img.size) >= 3000


def test_damaged_images_fail_to_decode(small: Tree) -> None:
    root, manifest = small
    corrupt = [e for e in manifest if errors.IMAGE_CORRUPT in e.bad_codes]
    assert {e.content_type for e in corrupt} == {"jpeg", "png"}
    for entry in corrupt:
        with pytest.raises((OSError, SyntaxError, ValueError)):
            decode(content_of(root, manifest, entry))


def test_image_bomb_is_small_and_declares_huge_size(small: Tree) -> None:
    root, manifest = small
    (entry,) = [e for e in manifest if errors.IMAGE_BOMB in e.bad_codes]
    data = content_of(root, manifest, entry)
    assert len(data) < 256 * 1024
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    assert width * height > Limits().max_image_pixels
    # The IDAT stream is valid: its first rows inflate (only a bounded prefix is decompressed).
    idat = data.index(b"IDAT")
    head = zlib.decompressobj().decompress(data[idat + 4 : idat + 4 + 4096], 1 << 16)
    assert head and set(head) == {0}


def test_hostile_archives(small: Tree) -> None:
    root, manifest = small
    traversal = [e for e in manifest if errors.PATH_TRAVERSAL in e.bad_codes]
    names = {e.parts[-1] for e in traversal}
    assert "../../etc/evil.txt" in names and any(n.startswith("/") for n in names)
    for entry in traversal:  # names are kept raw inside their archives
        container = manifest.by_path()[entry.parts[0]]
        assert entry.parts[-1] in open_members(content_of(root, manifest, container), container.content_type)

    (bomb,) = [e for e in manifest if errors.ARCHIVE_BOMB in e.bad_codes]
    with zipfile.ZipFile(root / bomb.parts[0]) as zf:
        info = zf.getinfo(bomb.parts[1])
        assert info.file_size / info.compress_size > 200
    assert (root / bomb.parts[0]).stat().st_size < 256 * 1024

    broken = [e for e in manifest if errors.ARCHIVE_CORRUPT in e.bad_codes]
    assert {e.content_type for e in broken} == {"zip", "gzip"}
    for entry in broken:
        with pytest.raises((zipfile.BadZipFile, tarfile.TarError, EOFError, OSError, zlib.error)):
            open_members((root / entry.path).read_bytes(), entry.content_type)
        assert not any(e.path.startswith(entry.path + CONTAINER_SEP) for e in manifest)


def test_symlinks(small: Tree) -> None:
    root, manifest = small
    loops = [e for e in manifest if errors.SYMLINK_LOOP in e.bad_codes]
    assert len(loops) == 2
    for entry in loops:
        with pytest.raises(OSError):
            (root / entry.path).stat()
    (link,) = manifest.with_role(SYMLINK_TO)
    target = link.role_values(SYMLINK_TO)[0]
    assert (root / link.path).resolve() == (root / target).resolve()
    (dangling,) = manifest.with_role(DANGLING)
    assert (root / dangling.path).is_symlink() and not (root / dangling.path).exists()


def test_duplicates_are_identical_and_near_duplicates_are_near(small: Tree) -> None:
    root, manifest = small
    by_path = manifest.by_path()
    for entry in manifest.with_role(DUPLICATE_OF):
        original = by_path[entry.role_values(DUPLICATE_OF)[0]]
        assert entry.sha256 == original.sha256 and entry.path != original.path
    near = manifest.with_role(NEAR_DUPLICATE_OF)
    assert len(near) >= 6
    for entry in near:
        base_path, _variant = entry.role_values(NEAR_DUPLICATE_OF)[0].rsplit(":", 1)
        base = decode(content_of(root, manifest, by_path[base_path]))
        variant = decode(content_of(root, manifest, entry))
        assert entry.sha256 != by_path[base_path].sha256
        assert int((pdq(base) != pdq(variant)).sum()) <= 31, entry.path


def test_distinct_pictures_are_far_apart(small: Tree) -> None:
    root, manifest = small
    originals = [e for e in manifest if e.roles == (IMAGE,) and e.content_type != "gif"]
    assert len(originals) >= 20
    hashes = {e.path: pdq(decode(content_of(root, manifest, e))) for e in originals}
    for a, b in itertools.combinations(hashes, 2):
        assert int((hashes[a] != hashes[b]).sum()) > 31, (a, b)


def test_numeric_size_and_progress(tmp_path: Path) -> None:
    seen: list[int] = []
    manifest = generate(tmp_path / "n", 130, seed=3, progress=seen.append)
    assert len(manifest) == 130 and manifest.size == "custom" and manifest.target == 130
    assert seen and seen[-1] == 130 and seen == sorted(seen)


def test_manifest_json_is_deterministic(small: Tree) -> None:
    _root, manifest = small
    doc = json.loads(manifest.to_json())
    assert doc["count"] == len(manifest) and doc["seed"] == 7 and doc["size"] == "small"
    assert [e["path"] for e in doc["entries"]] == sorted(e.path for e in manifest)
    assert manifest.to_json() == manifest.to_json()


def test_refuses_non_empty_directory(tmp_path: Path) -> None:
    (tmp_path / "keep.txt").write_text("x")
    with pytest.raises(DemoError, match="non-empty"):
        generate(tmp_path, "small")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.txt"]


@pytest.mark.parametrize("bad", ["huge", "0", -5, 0, "1.5", ""])
def test_rejects_bad_sizes(bad: str | int) -> None:
    with pytest.raises(DemoError):
        parse_size(bad)


def test_parse_size() -> None:
    assert parse_size("small") == ("small", 100)
    assert parse_size("Medium") == ("medium", 1000)
    assert parse_size("250") == ("custom", 250)
    assert parse_size(42) == ("custom", 42)
    assert BAD == "bad:"
