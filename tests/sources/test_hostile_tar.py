"""Hostile tars (issue 10): sparse bombs, unknown type flags, damage in the middle, odd names and values.

Each test builds its tar here (by hand, with tarfile, or with GNU tar when it is installed) and checks
the promise through ``cairn.sources.containers.expand`` or a full scan into a case database.
"""

from __future__ import annotations

import bz2
import gzip
import hashlib
import io
import lzma
import shutil
import subprocess
import tarfile
from collections.abc import Callable
from pathlib import Path

import pytest

from cairn import errors as E
from cairn.model import EvidenceItem, ItemMeta, Locator
from cairn.pipeline.scan import scan
from cairn.settings import Limits, ScanSettings
from cairn.sources.containers import expand
from cairn.store import CaseStore
from tests.sources import blob, codes, content

GB2 = 2 * 1024**3
COMPRESS: dict[str, Callable[[bytes], bytes]] = {
    "tar": lambda b: b,
    "tar.gz": gzip.compress,
    "tar.bz2": bz2.compress,
    "tar.xz": lzma.compress,
}


def gnu_tar() -> str:
    """Path of GNU tar, or skip the test saying how to install it."""
    tar = shutil.which("tar")
    if tar is None or "GNU tar" not in subprocess.run([tar, "--version"], capture_output=True, text=True).stdout:
        pytest.skip("GNU tar is needed to build this archive (apt-get install tar / brew install gnu-tar)")
    return tar


def members(data: bytes, name: str = "t.tar", limits: Limits | None = None) -> dict[str, EvidenceItem]:
    """Every item ``expand`` yields for the archive ``data``, by path (the archive itself included)."""
    items = list(expand(Locator((name,)), ItemMeta(size=len(data)), io.BytesIO(data), limits or Limits(), None, None))
    out = {i.locator.path: i for i in items}
    assert len(out) == len(items)
    return out


def message(item: EvidenceItem, code: str) -> str:
    return next(e.message for e in item.errors if e.code == code)


def fix_checksum(block: bytearray) -> bytes:
    block[148:156] = b" " * 8
    block[148:156] = b"%06o\x00 " % sum(block)
    return bytes(block)


def add(tf: tarfile.TarFile, name: str, data: bytes | None = None, **fields: object) -> None:
    ti = tarfile.TarInfo(name)
    ti.size = len(data or b"")
    ti.mtime = 1_600_000_000
    for key, value in fields.items():
        setattr(ti, key, value)
    tf.addfile(ti, io.BytesIO(data) if data is not None else None)


def build(entries: list[tuple[str, bytes]], fmt: int = tarfile.USTAR_FORMAT) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as tf:
        for name, data in entries:
            add(tf, name, data)
    return buf.getvalue()


def strip_end(data: bytes) -> bytes:
    """The archive without its end-of-archive marker and padding (headers and data only)."""
    pos = len(data)
    while pos >= 512 and data[pos - 512 : pos] == bytes(512):
        pos -= 512
    return data[:pos]


# ------------------------------------------------------------------------------- item 2: sparse


def old_gnu_sparse(name: str, realsize: int, regions: list[tuple[int, int]], stored: bytes) -> bytes:
    """A GNU 'S' header (up to 4 regions in the header) followed by the stored data."""
    ti = tarfile.TarInfo(name)
    ti.size = len(stored)
    ti.type = tarfile.GNUTYPE_SPARSE
    ti.mtime = 1_600_000_000
    block = bytearray(ti.tobuf(format=tarfile.GNU_FORMAT))
    pos = 386
    for offset, numbytes in regions:
        block[pos : pos + 24] = b"%011o\x00%011o\x00" % (offset, numbytes)
        pos += 24
    block[483:495] = b"%011o\x00" % realsize
    pad = -len(stored) % 512
    return fix_checksum(block) + stored + bytes(pad)


def pax_sparse(tf: tarfile.TarFile, version: str, name: str, realsize: int, data: bytes) -> None:
    """A GNU pax sparse member (0.0, 0.1 or 1.0) whose one data region is ``data`` at offset 0."""
    n = len(data)
    if version == "1.0":
        pax = {"GNU.sparse.major": "1", "GNU.sparse.minor": "0", "GNU.sparse.name": name}
        pax["GNU.sparse.realsize"] = str(realsize)
        stored = f"1\n0\n{n}\n".encode().ljust(512, b"\x00") + data
        add(tf, f"GNUSparseFile.0/{name}", stored, pax_headers=pax)
        return
    if version == "0.1":
        pax = {"GNU.sparse.size": str(realsize), "GNU.sparse.map": f"0,{n}"}
    else:
        pax = {"GNU.sparse.size": str(realsize), "GNU.sparse.numblocks": "1"}
        pax |= {"GNU.sparse.offset": "0", "GNU.sparse.numbytes": str(n)}
    add(tf, name, data, pax_headers=pax)


def sparse_bomb_tar() -> bytes:
    """About 6 KB: three members declaring 2 GB each (old GNU, pax 0.1, pax 1.0) and a plain one."""
    buf = io.BytesIO()
    buf.write(old_gnu_sparse("gnu.img", GB2, [(0, 512)], b"G" * 512))
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:  # writes after the 'S' member
        pax_sparse(tf, "0.1", "pax01.img", GB2, b"P" * 512)
        pax_sparse(tf, "1.0", "pax10.img", GB2, b"Q" * 512)
        add(tf, "after.txt", b"still here")
    return buf.getvalue()


@pytest.mark.parametrize("kind", ["tar", "tar.gz"])
def test_sparse_members_declaring_gigabytes_are_bombs_without_being_read(kind: str) -> None:
    data = COMPRESS[kind](sparse_bomb_tar())
    assert len(data) < 16 * 1024
    got = members(data, f"s.{kind}")
    for name in ("gnu.img", "pax01.img", "pax10.img"):
        item = got[f"s.{kind}!/{name}"]
        assert codes(item) == {E.ARCHIVE_BOMB} and not item.has_content
        assert item.meta.size == GB2
        assert f"{GB2} bytes from" in message(item, E.ARCHIVE_BOMB)
    assert content(got[f"s.{kind}!/after.txt"]) == b"still here"
    assert not got[f"s.{kind}"].errors


def test_sparse_bomb_scanned_into_a_case(tmp_path: Path) -> None:
    evidence = tmp_path / "evidence"
    evidence.mkdir()
    (evidence / "s.tar").write_bytes(sparse_bomb_tar())
    spool = tmp_path / "spool"
    with CaseStore.open(tmp_path / "case") as store:
        scan(evidence, store, ScanSettings(workers=1, temp_dir=str(spool)), show_progress=False)
        rows = {r["path"]: r for r in store.iter_file_rows()}
    for name in ("gnu.img", "pax01.img", "pax10.img"):
        row = rows[f"s.tar!/{name}"]
        assert E.ARCHIVE_BOMB in (row["error"] or "") and row["sha256"] is None
    assert rows["s.tar!/after.txt"]["sha256"] == hashlib.sha256(b"still here").hexdigest()


@pytest.mark.parametrize("version", ["old", "0.0", "0.1", "1.0"])
def test_modest_hand_built_sparse_is_hashed_with_zero_holes(version: str) -> None:
    realsize, stored = 1_500_000, blob(7, 100_000)  # holes 14 times the stored bytes: under the ratio
    if version == "old":
        data = old_gnu_sparse("m.img", realsize, [(0, len(stored))], stored) + bytes(1024)
    else:
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
            pax_sparse(tf, version, "m.img", realsize, stored)
        data = buf.getvalue()
    item = members(data)["t.tar!/m.img"]
    assert not item.errors
    assert content(item) == stored + bytes(realsize - len(stored))


def test_sparse_limits_and_damaged_maps() -> None:
    stored = blob(8, 100_000)
    modest = old_gnu_sparse("m.img", 1_500_000, [(0, len(stored))], stored)
    lying = old_gnu_sparse("lie.img", 1_500_000, [(0, 600_000)], stored)  # names more data than it stores
    data = modest + lying + build([("after.txt", b"after")])
    got = members(data)
    assert content(got["t.tar!/m.img"]) == stored + bytes(1_400_000)
    assert codes(got["t.tar!/lie.img"]) == {E.ARCHIVE_CORRUPT} and not got["t.tar!/lie.img"].has_content
    assert "600000 bytes of data" in message(got["t.tar!/lie.img"], E.ARCHIVE_CORRUPT)
    assert content(got["t.tar!/after.txt"]) == b"after"
    small = members(modest + build([]), limits=Limits(max_member_size=1_000_000))
    assert codes(small["t.tar!/m.img"]) == {E.MEMBER_TOO_LARGE} and not small["t.tar!/m.img"].has_content
    total = members(modest + build([]), limits=Limits(max_archive_total=1_000_000))
    assert codes(total["t.tar"]) == {E.ARCHIVE_BOMB}


def sparse_file(path: Path, size: int, pieces: list[tuple[int, bytes]]) -> Path:
    with open(path, "wb") as fh:
        fh.truncate(size)
        for offset, data in pieces:
            fh.seek(offset)
            fh.write(data)
    return path


@pytest.mark.parametrize(
    ("fmt", "version", "kind"),
    [("gnu", None, "tar"), ("posix", "0.0", "tar"), ("posix", "0.1", "tar"), ("posix", "1.0", "tar.gz")],
)
def test_gnu_tar_sparse_files_read_as_gnu_tar_extracts_them(
    tmp_path: Path, fmt: str, version: str | None, kind: str
) -> None:
    tar = gnu_tar()
    src = tmp_path / "src"
    src.mkdir()
    pieces = [(0, blob(1, 70_000)), (2 * 1024 * 1024, blob(2, 70_000))]
    want = sparse_file(src / "disk.img", 3 * 1024 * 1024, pieces).read_bytes()
    cmd = [tar, "--sparse", f"--format={fmt}", "-cf", str(tmp_path / "s.tar"), "disk.img"]
    cmd[2:2] = [f"--sparse-version={version}"] if version else []
    subprocess.run(cmd, cwd=src, check=True)
    data = COMPRESS[kind]((tmp_path / "s.tar").read_bytes())
    assert len(data) < 1024 * 1024  # GNU tar stored the holes as a map
    got = members(data, f"s.{kind}")
    item = got[f"s.{kind}!/disk.img"]
    assert not item.errors and not got[f"s.{kind}"].errors
    assert content(item) == want


def test_gnu_tar_of_three_two_gigabyte_sparse_files(tmp_path: Path) -> None:
    tar = gnu_tar()
    src = tmp_path / "src"
    src.mkdir()
    for i in range(3):
        made = sparse_file(src / f"big{i}.img", GB2, [(i * 1024**3 // 2, b"data" * 1024)])
        if made.stat().st_blocks * 512 > 1024 * 1024:
            pytest.skip("this file system does not keep holes, so GNU tar would read 6 GB")
    subprocess.run([tar, "--sparse", "-cf", str(tmp_path / "b.tar"), "."], cwd=src, check=True)
    data = (tmp_path / "b.tar").read_bytes()
    assert len(data) < 64 * 1024
    got = members(data, "b.tar")
    for i in range(3):
        item = got[f"b.tar!/big{i}.img"]
        assert codes(item) == {E.ARCHIVE_BOMB} and item.meta.size == GB2 and not item.has_content


# ------------------------------------------------------------------------- item 8: type flags


def typed_tar() -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as tf:
        add(tf, "z.bin", b"hidden behind Z", type=b"Z")
        add(tf, "contig.bin", b"contiguous file", type=tarfile.CONTTYPE)
        add(tf, "q.bin", b"behind q" * 100, type=b"q")
        add(tf, "after.txt", b"after")
    return buf.getvalue()


@pytest.mark.parametrize("kind", ["tar", "tar.gz", "tar.xz"])
def test_unknown_type_flags_are_read_as_regular_files(kind: str) -> None:
    got = members(COMPRESS[kind](typed_tar()), f"t.{kind}")
    z, q = got[f"t.{kind}!/z.bin"], got[f"t.{kind}!/q.bin"]
    assert content(z) == b"hidden behind Z" and content(q) == b"behind q" * 100
    assert codes(z) == {E.UNKNOWN_MEMBER_TYPE} and "'Z'" in message(z, E.UNKNOWN_MEMBER_TYPE)
    assert "'q'" in message(q, E.UNKNOWN_MEMBER_TYPE)
    assert z.meta.kind == "file" and z.meta.size == len(b"hidden behind Z")
    contig = got[f"t.{kind}!/contig.bin"]
    assert content(contig) == b"contiguous file" and not contig.errors
    assert content(got[f"t.{kind}!/after.txt"]) == b"after"
    assert not got[f"t.{kind}"].errors


def test_gnu_tar_extracts_the_unknown_type_with_the_same_bytes(tmp_path: Path) -> None:
    tar = gnu_tar()
    (tmp_path / "t.tar").write_bytes(typed_tar())
    out = tmp_path / "out"
    out.mkdir()
    subprocess.run([tar, "-xf", str(tmp_path / "t.tar")], cwd=out, capture_output=True)  # warns on Z, q
    got = members(typed_tar())
    for name in ("z.bin", "contig.bin", "q.bin", "after.txt"):
        assert (out / name).read_bytes() == content(got[f"t.tar!/{name}"])


# -------------------------------------------------------------------- item 11: damage, resync

FIVE = [(f"{c}.bin", blob(i, 1000 + 100 * i)) for i, c in enumerate("abcde")]


def header_offsets(data: bytes) -> list[int]:
    with tarfile.open(fileobj=io.BytesIO(data)) as tf:
        return [ti.offset for ti in tf.getmembers()]


def junk_between(data: bytes, nbytes: int = 512) -> tuple[bytes, int]:
    at = header_offsets(data)[1]
    return data[:at] + blob(99, nbytes) + data[at:], at


def flipped_header(data: bytes, index: int) -> tuple[bytes, int]:
    at = header_offsets(data)[index]
    out = bytearray(data)
    out[at + 3] ^= 0x04  # one bit of the name: the checksum no longer matches
    return bytes(out), at


def check_listed(got: dict[str, EvidenceItem], name: str, present: str) -> None:
    for member, data in FIVE:
        if member[0] in present:
            assert content(got[f"{name}!/{member}"]) == data
        else:
            assert f"{name}!/{member}" not in got
    assert len(got) == len(present) + 1


@pytest.mark.parametrize("kind", list(COMPRESS))
def test_junk_block_between_members_is_skipped_and_recorded(kind: str) -> None:
    damaged, at = junk_between(build(FIVE))
    name = f"j.{kind}"
    got = members(COMPRESS[kind](damaged), name)
    check_listed(got, name, "abcde")
    assert codes(got[name]) == {E.ARCHIVE_CORRUPT}
    msg = message(got[name], E.ARCHIVE_CORRUPT)
    assert f"512 bytes at offset {at} are not a valid tar header" in msg and "512 bytes skipped in all" in msg


@pytest.mark.parametrize("kind", list(COMPRESS))
@pytest.mark.parametrize("index", [0, 2])
def test_flipped_bit_in_a_header_loses_only_that_member(kind: str, index: int) -> None:
    damaged, at = flipped_header(build(FIVE), index)
    name = f"f.{kind}"
    got = members(COMPRESS[kind](damaged), name)
    check_listed(got, name, "abcde".replace("abcde"[index], ""))
    skipped = header_offsets(build(FIVE))[index + 1] - at
    assert f"{skipped} bytes at offset {at} are not a valid tar header" in message(got[name], E.ARCHIVE_CORRUPT)


@pytest.mark.parametrize("kind", ["tar", "tar.gz"])
def test_megabytes_of_junk_are_passed_forward(kind: str) -> None:
    """Junk larger than the search's chunk and the forward reader's look-back, in the middle and at the end."""
    damaged, at = junk_between(build(FIVE), 3 * 1024 * 1024)
    name = f"m.{kind}"
    got = members(COMPRESS[kind](damaged + blob(5, 700_000)), name)
    check_listed(got, name, "abcde")
    msg = message(got[name], E.ARCHIVE_CORRUPT)
    assert f"{3 * 1024 * 1024} bytes at offset {at}" in msg
    assert "700000 bytes of data that is not tar follow the last entry" in msg


@pytest.mark.parametrize("kind", ["tar", "tar.bz2"])
def test_entries_after_an_end_of_archive_marker_are_listed(kind: str) -> None:
    first = build(FIVE[:2])
    data = first + build(FIVE[2:])
    name = f"cat.{kind}"
    got = members(COMPRESS[kind](data), name)
    check_listed(got, name, "abcde")
    msg = message(got[name], E.ARCHIVE_CORRUPT)
    assert f"end-of-archive marker at offset {len(strip_end(first))}" in msg and f"offset {len(first)}" in msg


def test_clean_tars_and_zero_padding_record_nothing() -> None:
    data = build(FIVE) + bytes(100_000)
    got = members(data)
    check_listed(got, "t.tar", "abcde")
    assert not got["t.tar"].errors
    assert not members(gzip.compress(data), "t.tar.gz")["t.tar.gz"].errors


def test_damage_everywhere_still_ends() -> None:
    """Only junk after the first header; a negative size that would make tarfile read headers again."""
    only = build(FIVE[:1])
    got = members(strip_end(only) + blob(3, 5000))
    assert content(got["t.tar!/a.bin"]) == FIVE[0][1]
    assert "5000 bytes of data that is not tar" in message(got["t.tar"], E.ARCHIVE_CORRUPT)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        add(tf, "a.bin", b"A" * 10)
        add(tf, "neg.bin", b"", pax_headers={"size": "-2048"})
        add(tf, "c.bin", b"C" * 10)
    got = members(buf.getvalue())
    assert codes(got["t.tar!/neg.bin"]) == {E.ARCHIVE_CORRUPT}
    assert content(got["t.tar!/a.bin"]) == b"A" * 10 and content(got["t.tar!/c.bin"]) == b"C" * 10


def gnu_listing(tar: str, path: Path, *extra: str) -> list[str]:
    run = subprocess.run([tar, *extra, "-tf", str(path)], capture_output=True, text=True)
    return run.stdout.split()


def test_resync_lists_what_gnu_tar_lists(tmp_path: Path) -> None:
    tar = gnu_tar()
    cases = {
        "junk.tar": (junk_between(build(FIVE))[0], ()),
        "flip.tar": (flipped_header(build(FIVE), 2)[0], ()),
        "cat.tar": (build(FIVE[:2]) + build(FIVE[2:]), ("--ignore-zeros",)),
    }
    for file, (data, extra) in cases.items():
        (tmp_path / file).write_bytes(data)
        ours = sorted(p.split("!/", 1)[1] for p in members(data, file) if "!/" in p)
        assert ours == sorted(gnu_listing(tar, tmp_path / file, *extra)), file


# ------------------------------------------------- items 10, 15, 16: names, times, link targets


def odd_values_tar() -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        add(tf, "", b"no name at all")
        add(tf, "x", b"empty pax path", pax_headers={"path": ""})
        add(tf, "lnk", type=tarfile.SYMTYPE, linkname="x", pax_headers={"linkpath": "target\x00hidden"})
        add(tf, "far.txt", b"far future", pax_headers={"mtime": "1e20"})
        add(tf, "farther.txt", b"farther", pax_headers={"mtime": str(2**80)})
        add(tf, "after.txt", b"after")
    return buf.getvalue()


@pytest.mark.parametrize("kind", ["tar", "tar.gz"])
def test_empty_names_nul_link_targets_and_huge_times_are_passed_on(kind: str) -> None:
    name = f"o.{kind}"
    got = members(COMPRESS[kind](odd_values_tar()), name)
    unnamed = [i for i in got.values() if E.ODD_NAME in codes(i)]
    assert sorted(content(i) for i in unnamed) == [b"empty pax path", b"no name at all"]
    assert all(E.is_note(code) for i in unnamed for code in codes(i))  # kept, examined, noted
    link = got[f"{name}!/lnk"]
    assert link.meta.kind == "symlink" and link.meta.link_target == "target\x00hidden"
    assert got[f"{name}!/far.txt"].meta.mtime == 1e20
    assert got[f"{name}!/farther.txt"].meta.mtime == float(2**80)
    assert content(got[f"{name}!/after.txt"]) == b"after"
    assert not got[name].errors and len(got) == 7


def test_odd_values_scan_into_a_case(tmp_path: Path) -> None:
    evidence = tmp_path / "evidence"
    evidence.mkdir()
    (evidence / "o.tar").write_bytes(odd_values_tar())
    with CaseStore.open(tmp_path / "case") as store:
        scan(evidence, store, ScanSettings(workers=1), show_progress=False)
        rows = {r["path"]: r for r in store.iter_file_rows()}
    assert len(rows) == 7
    for member, data in (("far.txt", b"far future"), ("farther.txt", b"farther"), ("after.txt", b"after")):
        assert rows[f"o.tar!/{member}"]["sha256"] == hashlib.sha256(data).hexdigest()
    assert "o.tar!/lnk" in rows
    assert sum(1 for r in rows.values() if E.ODD_NAME in (r["notes"] or "")) == 2


def _pax_header_bomb(value_bytes: int, compress: Callable[[bytes], bytes] = bytes) -> bytes:
    """A tar whose first entry is a pax header holding one ``value_bytes`` record, then an ordinary file."""
    body = b" comment=" + b"c" * value_bytes + b"\n"
    length = len(body) + len(str(len(body) + 10))
    record = str(length).encode() + body
    header = tarfile.TarInfo("././@PaxHeader")
    header.type, header.size = tarfile.XHDTYPE, len(record)
    out = header.tobuf(format=tarfile.USTAR_FORMAT) + record + bytes(-len(record) % 512)
    out += build([("after.txt", b"after the header")])
    return compress(out)


@pytest.mark.parametrize("compress", [bytes, gzip.compress], ids=["tar", "tar.gz"])
def test_an_oversized_extended_header_is_skipped_not_read_into_memory(
    monkeypatch: pytest.MonkeyPatch, compress: Callable[[bytes], bytes]
) -> None:
    from cairn.sources import tar_container

    monkeypatch.setattr(tar_container, "MAX_EXTENDED_HEADER", 64 * 1024)  # the real limit is 16 MiB
    got = members(_pax_header_bomb(200_000, compress))
    after = got["t.tar!/after.txt"]
    assert content(after) == b"after the header" and not after.errors
    assert codes(got["t.tar"]) == {E.ARCHIVE_CORRUPT}
    assert "extended header of" in message(got["t.tar"], E.ARCHIVE_CORRUPT)
    ordinary = members(_pax_header_bomb(30_000, compress))  # under the limit: read as tar reads it
    assert not ordinary["t.tar"].errors and content(ordinary["t.tar!/after.txt"]) == b"after the header"
