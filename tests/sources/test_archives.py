"""Containers: nesting, depth, hostile names, bombs, damage, skip, spooling, registry."""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import os
import tarfile
import zipfile
from pathlib import Path

import pytest

from cairn import errors as E
from cairn.model import EvidenceItem
from cairn.settings import Limits
from cairn.sources import containers
from cairn.sources.containers import sanitise_member_name
from cairn.sources.folder import FolderSource
from cairn.sources.zip_container import FORMAT as ZIP_FORMAT
from tests.sources import blob, by_path, codes, collect, content, tar_bytes, write, zip_bytes


def _nested_tree(root: Path) -> None:
    inner = zip_bytes([("x/y.txt", b"why"), ("./z.bin", blob(5, 2000)), ("x/", b"")])
    outer = tar_bytes([("./docs/readme.txt", b"read me"), ("deep/inner.zip", inner)], mode="w:gz")
    write(root / "evidence" / "bundle.tar.gz", outer)
    write(root / "evidence" / "a.txt", b"top")


def test_nested_zip_in_targz_in_folder(tmp_path: Path) -> None:
    _nested_tree(tmp_path)
    items = collect(FolderSource(tmp_path / "evidence"))
    assert [i.locator.path for i in items] == [  # one pass: members first, then their container
        "a.txt",
        "bundle.tar.gz!/docs/readme.txt",
        "bundle.tar.gz!/deep/inner.zip!/x/y.txt",
        "bundle.tar.gz!/deep/inner.zip!/z.bin",
        "bundle.tar.gz!/deep/inner.zip",
        "bundle.tar.gz",
    ]
    got = by_path(items)
    assert all(not i.errors for i in items)
    assert got["bundle.tar.gz"].is_container and got["bundle.tar.gz!/deep/inner.zip"].is_container
    assert not got["a.txt"].is_container
    zbin = got["bundle.tar.gz!/deep/inner.zip!/z.bin"]
    assert zbin.locator.parts == ("bundle.tar.gz", "deep/inner.zip", "z.bin")
    assert zbin.locator.depth == 2 and content(zbin) == blob(5, 2000)
    assert zbin.meta.size == 2000
    assert zbin.meta.mtime == 1_577_934_246.0  # 2020-01-02 03:04:06 read as UTC
    readme = got["bundle.tar.gz!/docs/readme.txt"]
    assert content(readme) == b"read me" and readme.meta.mtime == 1_600_000_000
    assert content(got["bundle.tar.gz!/deep/inner.zip!/x/y.txt"]) == b"why"


def test_depth_limit(tmp_path: Path) -> None:
    _nested_tree(tmp_path)
    got = by_path(collect(FolderSource(tmp_path / "evidence"), Limits(max_archive_depth=1)))
    inner = got["bundle.tar.gz!/deep/inner.zip"]
    assert codes(inner) == {E.ARCHIVE_DEPTH} and not inner.is_container
    assert inner.data is not None and inner.data.startswith(b"PK")  # still hashed as a file
    assert not any(p.startswith("bundle.tar.gz!/deep/inner.zip!/") for p in got)
    top = by_path(collect(FolderSource(tmp_path / "evidence"), Limits(max_archive_depth=0)))
    assert set(top) == {"a.txt", "bundle.tar.gz"} and codes(top["bundle.tar.gz"]) == {E.ARCHIVE_DEPTH}


def test_sanitising_rule() -> None:
    assert sanitise_member_name("../../etc/x") == ("%2E%2E/%2E%2E/etc/x", True)
    assert sanitise_member_name("/etc/x") == ("%2Fetc/x", True)
    assert sanitise_member_name("C:\\win\\x") == ("C%3A%5Cwin%5Cx", True)
    assert sanitise_member_name("a/../b") == ("a/%2E%2E/b", True)
    assert sanitise_member_name("./a//b/./c") == ("a/b/c", False)
    assert sanitise_member_name("a!/b") == ("a%21/b", False)
    assert sanitise_member_name("..data/ok..") == ("..data/ok..", False)


def test_traversal_names_in_zip_and_tar(tmp_path: Path) -> None:
    write(
        tmp_path / "ev" / "t.zip", zip_bytes([("../../etc/x", b"one"), ("/abs.txt", b"two"), ("a\\b", b"3")])
    )
    write(tmp_path / "ev" / "t.tar", tar_bytes([("/etc/passwd", b"four"), ("../up", b"five")], mode="w"))
    got = by_path(collect(FolderSource(tmp_path / "ev")))
    expect = {
        "t.zip!/%2E%2E/%2E%2E/etc/x": (b"one", "../../etc/x"),
        "t.zip!/%2Fabs.txt": (b"two", "/abs.txt"),
        "t.zip!/a%5Cb": (b"3", "a\\b"),
        "t.tar!/%2Fetc/passwd": (b"four", "/etc/passwd"),
        "t.tar!/%2E%2E/up": (b"five", "../up"),
    }
    for path, (data, raw) in expect.items():
        it = got[path]
        assert codes(it) == {E.PATH_TRAVERSAL}
        assert repr(raw) in it.errors[0].message
        assert content(it) == data
    assert not (tmp_path / "etc").exists() and not (tmp_path / "up").exists()


def test_zip_bomb_is_refused_while_reading(tmp_path: Path) -> None:
    size = 20 * 1024 * 1024
    write(tmp_path / "ev" / "bomb.zip", zip_bytes([("ok.txt", b"fine"), ("zeros.bin", bytes(size))]))
    got = by_path(collect(FolderSource(tmp_path / "ev"), Limits(max_archive_ratio=50)))
    bomb = got["bomb.zip!/zeros.bin"]
    assert codes(bomb) == {E.ARCHIVE_BOMB} and not bomb.has_content
    stopped_at = int(bomb.errors[0].message.split("size (")[1].split(" bytes")[0])
    assert stopped_at < size // 4  # refused long before the end
    assert content(got["bomb.zip!/ok.txt"]) == b"fine"
    small = by_path(collect(FolderSource(tmp_path / "ev"), Limits(max_member_size=1024 * 1024)))
    assert codes(small["bomb.zip!/zeros.bin"]) == {E.MEMBER_TOO_LARGE}
    assert not small["bomb.zip!/zeros.bin"].has_content


def test_targz_bomb_and_archive_limits(tmp_path: Path) -> None:
    write(
        tmp_path / "ev" / "b.tar.gz", tar_bytes([("ok.txt", b"fine"), ("zeros.bin", bytes(20 * 1024 * 1024))])
    )
    got = by_path(collect(FolderSource(tmp_path / "ev"), Limits(max_archive_ratio=50)))
    assert E.ARCHIVE_BOMB in codes(got["b.tar.gz"]) | codes(got["b.tar.gz!/zeros.bin"])
    assert not got["b.tar.gz!/zeros.bin"].has_content
    assert content(got["b.tar.gz!/ok.txt"]) == b"fine"
    many = [(f"f{i:02}.txt", b"x") for i in range(10)]
    write(tmp_path / "ev2" / "many.zip", zip_bytes(many))
    got = by_path(collect(FolderSource(tmp_path / "ev2"), Limits(max_archive_members=4)))
    assert codes(got["many.zip"]) == {E.ARCHIVE_BOMB}
    assert sorted(got) == ["many.zip", *(f"many.zip!/f{i:02}.txt" for i in range(4))]
    got = by_path(collect(FolderSource(tmp_path / "ev2"), Limits(max_archive_total=5)))
    assert codes(got["many.zip"]) == {E.ARCHIVE_BOMB} and len(got) == 6


def test_truncated_zip_keeps_earlier_members(tmp_path: Path) -> None:
    data = zip_bytes([("a.bin", blob(1, 4000)), ("b.bin", blob(2, 4000)), ("c.bin", blob(3, 4000))])
    write(tmp_path / "ev" / "cut.zip", data[: len(data) * 3 // 4])
    got = by_path(collect(FolderSource(tmp_path / "ev")))
    assert codes(got["cut.zip"]) == {E.ARCHIVE_CORRUPT} and got["cut.zip"].is_container
    assert content(got["cut.zip!/a.bin"]) == blob(1, 4000)
    assert content(got["cut.zip!/b.bin"]) == blob(2, 4000)
    assert codes(got["cut.zip!/c.bin"]) == {E.ARCHIVE_CORRUPT} and not got["cut.zip!/c.bin"].has_content


def test_zip_crc_damage_is_on_the_member(tmp_path: Path) -> None:
    data = bytearray(zip_bytes([("a.txt", b"A" * 100), ("b.txt", b"hello world")], zipfile.ZIP_STORED))
    i = data.index(b"hello world")
    data[i] = ord("j")
    write(tmp_path / "ev" / "crc.zip", bytes(data))
    got = by_path(collect(FolderSource(tmp_path / "ev")))
    assert not got["crc.zip"].errors
    assert content(got["crc.zip!/a.txt"]) == b"A" * 100
    assert codes(got["crc.zip!/b.txt"]) == {E.ARCHIVE_CORRUPT}


@pytest.mark.parametrize("mode", ["w:gz", "w"])
def test_truncated_tar_keeps_earlier_members(tmp_path: Path, mode: str) -> None:
    data = tar_bytes(
        [("a.bin", blob(1, 40_000)), ("b.bin", blob(2, 40_000)), ("c.bin", blob(3, 40_000))], mode
    )
    write(tmp_path / "ev" / "cut.tar.gz", data[: len(data) // 2])
    got = by_path(collect(FolderSource(tmp_path / "ev")))
    assert codes(got["cut.tar.gz"]) == {E.ARCHIVE_CORRUPT}
    assert content(got["cut.tar.gz!/a.bin"]) == blob(1, 40_000)
    assert codes(got["cut.tar.gz!/b.bin"]) == {E.ARCHIVE_CORRUPT}
    assert "cut.tar.gz!/c.bin" not in got


def test_encrypted_member(tmp_path: Path) -> None:
    data = bytearray(zip_bytes([("plain.txt", b"p"), ("secret.txt", b"s")], zipfile.ZIP_STORED))
    for sig in (b"PK\x03\x04", b"PK\x01\x02"):  # set the "encrypted" flag of the second entry
        pos = data.index(sig, data.index(sig) + 1)
        data[pos + (6 if sig == b"PK\x03\x04" else 8)] |= 1
    write(tmp_path / "ev" / "enc.zip", bytes(data))
    got = by_path(collect(FolderSource(tmp_path / "ev")))
    assert codes(got["enc.zip!/secret.txt"]) == {E.ARCHIVE_ENCRYPTED}
    assert not got["enc.zip!/secret.txt"].has_content
    assert content(got["enc.zip!/plain.txt"]) == b"p"


def test_tar_links_and_devices_have_no_content(tmp_path: Path) -> None:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:xz") as tf:
        f = tarfile.TarInfo("f.txt")
        f.size = 2
        tf.addfile(f, io.BytesIO(b"hi"))
        for name, kind in (("sym", tarfile.SYMTYPE), ("hard", tarfile.LNKTYPE), ("dev", tarfile.CHRTYPE)):
            ti = tarfile.TarInfo(name)
            ti.type = kind
            ti.linkname = "f.txt" if kind != tarfile.CHRTYPE else ""
            tf.addfile(ti)
    write(tmp_path / "ev" / "l.tar.xz", buf.getvalue())
    got = by_path(collect(FolderSource(tmp_path / "ev")))
    assert got["l.tar.xz"].is_container
    assert got["l.tar.xz!/sym"].meta.kind == "symlink" and got["l.tar.xz!/sym"].meta.link_target == "f.txt"
    assert got["l.tar.xz!/hard"].meta.kind == "other" and got["l.tar.xz!/dev"].meta.kind == "other"
    assert not any(got[f"l.tar.xz!/{n}"].has_content for n in ("sym", "hard", "dev"))
    assert content(got["l.tar.xz!/f.txt"]) == b"hi"


def test_compressed_non_tar_is_a_plain_file(tmp_path: Path) -> None:
    write(tmp_path / "ev" / "log.gz", gzip.compress(b"not a tar" * 100))
    write(tmp_path / "ev" / "t.tar.bz2", bz2.compress(tar_bytes([("in.txt", b"bz")], mode="w")))
    write(tmp_path / "ev" / "x.xz", lzma.compress(b"plain"))
    got = by_path(collect(FolderSource(tmp_path / "ev")))
    assert set(got) == {"log.gz", "t.tar.bz2", "t.tar.bz2!/in.txt", "x.xz"}
    assert not got["log.gz"].is_container and got["t.tar.bz2"].is_container
    assert content(got["t.tar.bz2!/in.txt"]) == b"bz"


def test_duplicate_member_names_are_kept(tmp_path: Path) -> None:
    with pytest.warns(UserWarning):
        data = zip_bytes([("d.txt", b"first"), ("d.txt#2", b"real"), ("d.txt", b"second"), ("./d.txt", b"3")])
    write(tmp_path / "ev" / "dup.zip", data)
    got = by_path(collect(FolderSource(tmp_path / "ev")))
    assert content(got["dup.zip!/d.txt"]) == b"first"
    assert content(got["dup.zip!/d.txt#2"]) == b"real"
    assert content(got["dup.zip!/d%#2.txt"]) == b"second"  # a label no member can literally have
    assert content(got["dup.zip!/d%#3.txt"]) == b"3"


def test_skip(tmp_path: Path) -> None:
    _nested_tree(tmp_path)
    src = FolderSource(tmp_path / "evidence")
    all_paths = [i.locator.path for i in collect(src)]
    done = {
        "a.txt",
        "bundle.tar.gz",
        "bundle.tar.gz!/deep/inner.zip",
        "bundle.tar.gz!/deep/inner.zip!/x/y.txt",
    }
    asked: list[str] = []

    def skip(path: str) -> bool:
        asked.append(path)
        return path in done

    rest = [i.locator.path for i in collect(src, skip=skip)]
    assert rest == [p for p in all_paths if p not in done]
    assert set(asked) == set(all_paths)
    everything = [i.locator.path for i in collect(src, skip=lambda p: True)]
    assert everything == []


def test_spooled_members(tmp_path: Path) -> None:
    inner = zip_bytes([("n.bin", blob(7, 50_000))], zipfile.ZIP_STORED)
    write(tmp_path / "ev" / "s.tar", tar_bytes([("big.bin", blob(6, 100_000)), ("in.zip", inner)], mode="w"))
    spool = tmp_path / "spool"
    spool.mkdir()
    items = collect(FolderSource(tmp_path / "ev", temp_dir=str(spool)), Limits(in_memory_member_size=16))
    got = by_path(items)
    for path, data in (("s.tar!/big.bin", blob(6, 100_000)), ("s.tar!/in.zip!/n.bin", blob(7, 50_000))):
        it = got[path]
        assert it.data is None and it.spool_path is not None and Path(it.spool_path).parent == spool
        assert content(it) == data
    assert got["s.tar!/in.zip"].is_container and content(got["s.tar!/in.zip"]) == inner
    for it in items:
        if it.spool_path:
            os.unlink(it.spool_path)
    # spools made only to look inside skipped members are removed by the source itself
    list(
        FolderSource(tmp_path / "ev", temp_dir=str(spool)).items(
            Limits(in_memory_member_size=16), lambda p: True
        )
    )
    assert list(spool.iterdir()) == []


def test_registry_refuses_duplicate_names() -> None:
    names = [f.name for f in containers.formats()]
    assert names[:5] == ["zip", "tar", "tar.gz", "tar.bz2", "tar.xz"]
    with pytest.raises(ValueError, match="already registered"):
        containers.register(ZIP_FORMAT)


def test_items_never_raise_on_garbage(tmp_path: Path) -> None:
    write(tmp_path / "ev" / "junk.zip", b"PK\x03\x04" + b"\xff" * 100)
    write(tmp_path / "ev" / "junk.tar.gz", gzip.compress(tar_bytes([("a", b"a")], mode="w"))[:40])
    header = bytearray(512)
    header[257:262] = b"ustar"
    write(tmp_path / "ev" / "junk.tar", bytes(header) + os.urandom(700))
    items: list[EvidenceItem] = collect(FolderSource(tmp_path / "ev"))
    assert {i.locator.path for i in items} >= {"junk.zip", "junk.tar"}
    assert E.ARCHIVE_CORRUPT in codes(by_path(items)["junk.zip"])


class _Unseekable(io.RawIOBase):
    """A write-only sink zipfile cannot seek in, so it writes data descriptors."""

    def __init__(self) -> None:
        self.buf = bytearray()

    def writable(self) -> bool:
        return True

    def write(self, b: bytes) -> int:  # type: ignore[override]
        self.buf += b
        return len(b)


def test_zip_without_central_directory_and_data_descriptors(tmp_path: Path) -> None:
    sink = _Unseekable()
    with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("one.txt", b"one " * 1000)
        zf.writestr("two.bin", blob(9, 3000))
    data = bytes(sink.buf)
    assert data[6] & 0x08  # sizes only in data descriptors
    write(tmp_path / "ev" / "dd.zip", data[: data.index(b"PK\x01\x02")])  # central directory lost
    got = by_path(collect(FolderSource(tmp_path / "ev")))
    assert codes(got["dd.zip"]) == {E.ARCHIVE_CORRUPT}
    assert "central directory" in got["dd.zip"].errors[0].message
    assert content(got["dd.zip!/one.txt"]) == b"one " * 1000
    assert content(got["dd.zip!/two.bin"]) == blob(9, 3000)


def test_member_lying_about_its_size_is_read_under_the_streaming_limit(tmp_path: Path) -> None:
    data = bytearray(zip_bytes([("hello.txt", b"hello")], method=zipfile.ZIP_STORED))
    declared = (10**9).to_bytes(4, "little")
    data[22:26] = declared  # local header: uncompressed size
    central = data.rindex(b"PK\x01\x02")
    data[central + 24 : central + 28] = declared  # central directory: uncompressed size
    write(tmp_path / "e" / "liar.zip", bytes(data))
    items = by_path(collect(FolderSource(tmp_path / "e"), Limits(max_member_size=1000)))
    member = items["liar.zip!/hello.txt"]
    assert content(member) == b"hello"
    assert E.MEMBER_TOO_LARGE not in codes(member)


def test_read_position_moves_through_a_large_archive(tmp_path: Path) -> None:
    members = [(f"part{i}.bin", blob(i, 200_000)) for i in range(8)]  # incompressible
    archive = write(tmp_path / "ev" / "big.tar.gz", tar_bytes(members, mode="w:gz"))
    write(tmp_path / "ev" / "z.txt", b"after the archive")
    source = FolderSource(tmp_path / "ev")
    seen = [(item.locator.path, source.position()) for item in source.items(Limits())]
    size = archive.stat().st_size
    inside = [pos for path, pos in seen if "!/" in path]
    assert len(inside) == 8
    assert any(0 < pos < size for pos in inside), "the position must move while members are read"
    assert inside == sorted(inside)
    assert source.position() == size + len(b"after the archive")
