"""Locators: display paths derived from the chain, and names every database can store."""

from __future__ import annotations

import copy
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
    assert Locator.of(raw).path == "caf%E9%00%0A.jpg"
    assert storable_name("Ünïcode ok.png") == "Ünïcode ok.png"
    assert Locator.of(raw).path.encode("utf-8")  # storable as UTF-8


def test_a_folder_name_cannot_fake_the_container_separator() -> None:
    on_disk = Locator.of("photos!/x.jpg")  # a folder really named "photos!"
    in_zip = Locator(("photos",)).child("x.jpg")  # a zip named "photos" holding x.jpg
    assert on_disk.path == "photos%21/x.jpg"
    assert in_zip.path == "photos!/x.jpg"
    assert on_disk.path != in_zip.path


def test_locators_are_escaped_once_through_parent_child_and_copying() -> None:
    loc = Locator.of("100%/a%25b\n.jpg").child("in%ner/x%0A.txt")
    assert loc.path == "100%25/a%2525b%0A.jpg!/in%25ner/x%250A.txt"
    assert loc.parent is not None and loc.parent.path == "100%25/a%2525b%0A.jpg"
    assert loc.parent.child("in%ner/x%0A.txt") == loc
    assert copy.deepcopy(loc) == loc  # the reduce protocol pickling uses, without unpickling anything
    assert Locator(loc.parts) == loc


def test_bidi_controls_and_separators_are_shown_escaped() -> None:
    assert storable_name("photo\u202egpj.exe") == "photo%u202Egpj.exe"
    assert storable_name("a\u2066b\u200fc\u061cd") == "a%u2066b%u200Fc%u061Cd"
    assert storable_name("nul\x00byte.txt") == "nul%00byte.txt"
    assert storable_name("c1\x85") == "c1%u0085"  # a C1 control is not the raw byte 0x85 (%85)
    assert storable_name(os.fsdecode(b"raw\x85")) == "raw%85"
