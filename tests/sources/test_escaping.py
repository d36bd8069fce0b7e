"""Name escaping is injective: two different raw names never share a logical path (issue 10, items 6, 14)."""

from __future__ import annotations

import os

from hypothesis import given, settings
from hypothesis import strategies as st

from cairn.model import Locator, escape_path, storable_name
from cairn.sources.containers import sanitise_member_name

# Characters that matter to the escaping, mixed with ordinary ones so collisions would be found quickly.
_TRICKY = st.sampled_from(
    ["%", "2", "5", "F", "0", "A", "u", "!", "/", ".", "\\", ":", "C", "#", "\n", "\x00", "\x7f", "\x85",
     "\u202e", "\u2066", "\u200f", "\u061c", "\u2028", "\udcff", "\udc85", "\ud800", "ÿ", "é", "a", "b"]
)
_RAW = st.lists(_TRICKY | st.characters(), max_size=12).map("".join)
_COMPONENT = _RAW.filter(lambda s: s and "/" not in s and s not in (".", ".."))


def _structure(raw: str) -> tuple[int, tuple[str, ...]]:
    """What normalising keeps of a member name: leading slashes and the non-empty, non-'.' components."""
    lead = len(raw) - len(raw.lstrip("/"))
    return lead, tuple(c for c in raw[lead:].split("/") if c not in ("", "."))


@settings(max_examples=400, deadline=None)
@given(_RAW, _RAW)
def test_storable_name_is_injective(a: str, b: str) -> None:
    if a != b:
        assert storable_name(a) != storable_name(b)
    storable_name(a).encode("utf-8")  # never a lone surrogate: every database takes it
    assert not any(ch in storable_name(a) for ch in "\x00\n\r\x1b\u202e")


@settings(max_examples=400, deadline=None)
@given(st.lists(_COMPONENT, min_size=1, max_size=3), st.lists(_COMPONENT, min_size=1, max_size=3))
def test_folder_paths_are_injective_and_never_fake_a_container(a: list[str], b: list[str]) -> None:
    pa, pb = escape_path("/".join(a)), escape_path("/".join(b))
    if a != b:
        assert pa != pb
    assert "!/" not in pa


@settings(max_examples=600, deadline=None)
@given(_RAW, _RAW)
def test_member_labels_differ_unless_normalising_makes_the_names_equal(a: str, b: str) -> None:
    la, lb = sanitise_member_name(a)[0], sanitise_member_name(b)[0]
    if _structure(a) != _structure(b):
        assert la != lb, (a, b)
    assert "!/" not in la and not la.startswith("/") and ".." not in la.split("/")


@settings(max_examples=300, deadline=None)
@given(st.lists(_COMPONENT, min_size=1, max_size=2), _RAW, _RAW)
def test_whole_locators_are_injective(folder: list[str], a: str, b: str) -> None:
    top = Locator.of("/".join(folder))
    la, lb = top.child_escaped(sanitise_member_name(a)[0]), top.child_escaped(sanitise_member_name(b)[0])
    if _structure(a) != _structure(b):
        assert la.path != lb.path
    assert la.path.split("!/")[0] == top.path  # a member never changes where its container appears to end


def test_the_issue_examples_get_distinct_names() -> None:
    pairs = [
        (os.fsdecode(b"a\xffb"), "a%FFb"),
        ("x\ny", "x%0Ay"),
        ("d!/f", "d%21/f"),
        ("..", "%2E%2E"),
        ("/etc/x", "%2Fetc/x"),
        ("", "%00"),
        ("x#2", "x"),
    ]
    for raw_a, raw_b in pairs:
        assert escape_path(raw_a) != escape_path(raw_b) or not raw_a
        assert sanitise_member_name(raw_a)[0] != sanitise_member_name(raw_b)[0]
    assert sanitise_member_name("")[0] == sanitise_member_name("./")[0] == "%(empty)"
    assert sanitise_member_name("nul\x00byte.txt")[0] == "nul%00byte.txt"
    assert sanitise_member_name("photo\u202egpj.exe")[0] == "photo%u202Egpj.exe"
