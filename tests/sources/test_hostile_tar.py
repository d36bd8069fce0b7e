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
