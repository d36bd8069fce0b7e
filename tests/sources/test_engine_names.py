"""The container engine names every member distinctly and notes odd ones (issue 10, items 7, 10, 14)."""

from __future__ import annotations

import functools
import io
import warnings
import zipfile
from collections.abc import Generator
from pathlib import Path
from typing import IO

from cairn import errors as E
from cairn.model import ItemMeta
from cairn.settings import Limits
from cairn.sources.archive_file import ArchiveFileSource
from cairn.sources.containers import ContainerFormat, RawMember, Signature, formats, register
from tests.sources import by_path, codes, collect, content, write

#: A test-only container: the magic line, then one member per line as ``name<TAB>content`` (names may
#: hold anything but TAB and newline escapes, which are spelt ``\\t``/``\\n``/``\\0``). It lets the engine be
#: tried with names no real archive writer in the standard library will produce.
_MAGIC = b"CAIRN-TEST-LIST\n"


def _members(stream: IO[bytes], limits: Limits) -> Generator[RawMember, None, None]:
    stream.seek(len(_MAGIC))
    for line in stream.read().decode("utf-8").splitlines():
        raw_name, body = line.split("\t", 1)
        name = raw_name.replace("\\0", "\x00").replace("\\n", "\n")
        data = body.encode()
        yield RawMember(name, ItemMeta(size=len(data)), open=functools.partial(io.BytesIO, data))


if "test-list" not in {f.name for f in formats()}:
    register(ContainerFormat("test-list", (Signature(0, _MAGIC),), _members))


def test_forty_thousand_same_name_members_and_a_literal_hash_two(tmp_path: Path) -> None:
    buf = io.BytesIO()
    with warnings.catch_warnings(), zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
        warnings.simplefilter("ignore")  # zipfile warns of every duplicate name it writes
        zf.writestr("x#2", b"literal")
        zf.writestr("x%#2", b"literal percent")
        for i in range(40_000):
            zf.writestr("x", str(i % 7).encode())
        zf.writestr("d/a.jpg", b"first")
        zf.writestr("d/a.jpg", b"second")
    zpath = write(tmp_path / "dups.zip", buf.getvalue())
    items = by_path(collect(ArchiveFileSource(zpath)))
    assert len(items) == 40_000 + 4 + 1
    assert content(items["dups.zip!/x#2"]) == b"literal" and not items["dups.zip!/x#2"].errors
    assert content(items["dups.zip!/x%25#2"]) == b"literal percent"
    assert not items["dups.zip!/x"].errors
    for n in (2, 3, 40_000):
        dup = items[f"dups.zip!/x%#{n}"]
        assert codes(dup) == {E.DUPLICATE_NAME} and all(E.is_note(e.code) for e in dup.errors)
        assert content(dup) == str((n - 1) % 7).encode()
    assert content(items["dups.zip!/d/a%#2.jpg"]) == b"second"
    assert codes(items["dups.zip!/d/a%#2.jpg"]) == {E.DUPLICATE_NAME}


def test_empty_nul_and_bidi_member_names_are_noted_and_examined(tmp_path: Path) -> None:
    lines = ["\tno name", "nul\\0byte.txt\tnul", "photo\u202egpj.exe\tbidi", "\tno name again", "ok.txt\tplain"]
    path = write(tmp_path / "odd.lst", _MAGIC + "\n".join(lines).encode())
    items = by_path(collect(ArchiveFileSource(path)))
    assert set(items) == {
        "odd.lst",
        "odd.lst!/%(empty)",
        "odd.lst!/%(empty)%#2",
        "odd.lst!/nul%00byte.txt",
        "odd.lst!/photo%u202Egpj.exe",
        "odd.lst!/ok.txt",
    }
    assert codes(items["odd.lst!/%(empty)"]) == {E.ODD_NAME}
    assert codes(items["odd.lst!/%(empty)%#2"]) == {E.ODD_NAME, E.DUPLICATE_NAME}
    assert codes(items["odd.lst!/nul%00byte.txt"]) == {E.ODD_NAME}
    assert "NUL" in items["odd.lst!/nul%00byte.txt"].errors[0].message
    assert codes(items["odd.lst!/photo%u202Egpj.exe"]) == {E.ODD_NAME}
    assert content(items["odd.lst!/photo%u202Egpj.exe"]) == b"bidi"
    assert not items["odd.lst!/ok.txt"].errors and content(items["odd.lst!/ok.txt"]) == b"plain"
    assert items["odd.lst"].is_container and not items["odd.lst"].errors


def test_a_bidi_file_name_on_disk_is_noted(tmp_path: Path) -> None:
    write(tmp_path / "ev" / "photo\u202egpj.exe", b"MZ not really")
    from cairn.sources.folder import FolderSource  # noqa: PLC0415

    items = by_path(collect(FolderSource(tmp_path / "ev")))
    assert codes(items["photo%u202Egpj.exe"]) == {E.ODD_NAME}
