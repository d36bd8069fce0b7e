"""One expansion budget per evidence file, spent at every level of nesting (issue 10, item 1)."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

from cairn import errors as E
from cairn.settings import Limits
from cairn.sources.containers import BOMB_FLOOR
from cairn.sources.folder import FolderSource
from tests.sources import by_path, codes, collect, content, write, zip_bytes
from tests.sources.hostile_nesting import RATIO, compressible, deflate_ratio, nested_budget_bomb


def test_each_level_is_harmless_but_the_whole_is_refused(tmp_path: Path) -> None:
    data = nested_budget_bomb()
    with zipfile.ZipFile(io.BytesIO(data)) as zf:  # the hostile file really is harmless level by level
        for info in zf.infolist():
            assert info.file_size / info.compress_size < RATIO
        assert sum(i.file_size for i in zf.infolist()) / len(data) < RATIO
    write(tmp_path / "ev" / "outer.zip", data)
    limits = Limits(max_archive_ratio=RATIO)
    items = by_path(collect(FolderSource(tmp_path / "ev"), limits))

    budget = max(BOMB_FLOOR, int(len(data) * RATIO))
    bombs = [i for i in items.values() if E.ARCHIVE_BOMB in codes(i) and not i.is_container]
    assert len(bombs) == 1, sorted(items)
    bomb = bombs[0]
    assert bomb.locator.path.startswith("outer.zip!/l1.zip!/q")
    assert not bomb.has_content and "across all its nested archives" in bomb.errors[-1].message
    for container in ("outer.zip", "outer.zip!/l1.zip"):  # every container the budget stopped says so
        assert E.ARCHIVE_BOMB in codes(items[container]), container
    delivered = sum(len(content(i)) for p, i in items.items() if "!/" in p and i.has_content)
    assert delivered <= budget
    assert all(content(items[f"outer.zip!/p{i}.bin"]) == compressible(i, 256 * 1024) for i in range(4))
    assert not any(p.endswith("q7.bin") for p in items)  # the members after the trip were not read


def test_a_genuine_nested_archive_is_read_in_full(tmp_path: Path) -> None:
    leaves = [(f"q{i}.bin", compressible(7 + i, 64 * 1024)) for i in range(4)]
    inner = zip_bytes(leaves, zipfile.ZIP_DEFLATED)
    write(tmp_path / "ev" / "ok.zip", zip_bytes([("inner.zip", inner), ("a.bin", compressible(3, 1000))]))
    assert deflate_ratio(compressible(7, 64 * 1024)) > 5
    items = by_path(collect(FolderSource(tmp_path / "ev"), Limits(max_archive_ratio=RATIO)))
    assert not any(i.errors for i in items.values())
    assert len(items) == 1 + 2 + 4
