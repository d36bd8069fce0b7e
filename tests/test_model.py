"""Locators: display paths derived from the chain, and names every database can store."""

from __future__ import annotations

import os

from cairn.model import Locator, storable_name


def test_display_path_and_parents() -> None:
    loc = Locator(("evidence.zip",)).child("inner/dir/a.jpg")
    assert loc.path == "evidence.zip!/inner/dir/a.jpg"
    assert loc.depth == 1 and loc.name == "a.jpg"
    assert loc.parent == Locator(("evidence.zip",))


def test_non_utf8_and_control_characters_become_visible_escapes() -> None:
    raw = os.fsdecode(b"caf\xe9\x00\n.jpg")  # Latin-1 name from an old drive, with a NUL and a newline
    assert storable_name(raw) == "caf%E9%00%0A.jpg"
    assert Locator((raw,)).path == "caf%E9%00%0A.jpg"
    assert storable_name("Ünïcode ok.png") == "Ünïcode ok.png"
    assert Locator((raw,)).path.encode("utf-8")  # storable as UTF-8


def test_a_folder_name_cannot_fake_the_container_separator() -> None:
    on_disk = Locator(("photos!/x.jpg",))  # a folder really named "photos!"
    in_zip = Locator(("photos",)).child("x.jpg")  # a zip named "photos" holding x.jpg
    assert on_disk.path == "photos%21/x.jpg"
    assert in_zip.path == "photos!/x.jpg"
    assert on_disk.path != in_zip.path
