"""Term lists (benign terms only: cairn ships none) and the word matcher."""

from __future__ import annotations

from pathlib import Path

import pytest

from cairn.matching.terms import MAX_TERM_WORDS, TermListError, TermMatcher, read_terms, words


def matcher(*terms: str) -> TermMatcher:
    return TermMatcher([("benign", terms)])


def found(m: TermMatcher, text: str) -> list[str]:
    return [h.term for h in m.find(text)]


def test_whole_words_and_phrases_case_folded() -> None:
    m = matcher("red bicycle", "beach", "Sand")
    assert found(m, "A Red_Bicycle on the BEACH, sand-castle") == ["red bicycle", "beach", "Sand"]
    assert found(m, "redbicycle, beaches, bored bicycle, sandy") == []
    assert found(m, "a red  bicycle.") == ["red bicycle"]
    assert found(m, "red-bicycle") == ["red bicycle"]


def test_prefix_terms() -> None:
    m = matcher("bicycl*", "blue sk*")
    assert found(m, "three bicycles under a blue skyline") == ["bicycl*", "blue sk*"]
    assert found(m, "a tricycle under blue water") == []


def test_each_term_once_per_text_and_excerpt() -> None:
    m = matcher("beach")
    hits = list(m.find("beach " * 50 + "end"))
    assert len(hits) == 1 and hits[0].excerpt.startswith("beach beach")
    assert "\n" not in next(iter(m.find("a\nbeach\nb"))).excerpt


def test_unicode_folding() -> None:
    assert words("STRASSE straße Ärger") == ["strasse", "strasse", "ärger"]
    assert found(matcher("straße"), "Die STRASSE") == ["straße"]


def test_read_terms(tmp_path: Path) -> None:
    path = tmp_path / "list.txt"
    long_phrase = " ".join(["word"] * (MAX_TERM_WORDS + 1))
    path.write_text(
        f"\ufeff# benign test list\n\nbicycle\nBicycle\n  beach  \n!!!\n{long_phrase}\nblue sk*\n", encoding="utf-8"
    )
    read = read_terms(path)
    assert read.terms == ["bicycle", "beach", "blue sk*"]  # de-duplicated by words, comments and blanks skipped
    assert read.skipped == 2 and len(read.warnings) == 2 and "line 6" in read.warnings[0]
    assert len(read.sha256) == 64


@pytest.mark.parametrize("content", [b"\xff\xfe\x00b", b"# only a comment\n\n"])
def test_unusable_files_are_refused(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "bad.txt"
    path.write_bytes(content)
    with pytest.raises(TermListError):
        read_terms(path)


def test_many_terms_cost_one_lookup_per_word() -> None:
    m = TermMatcher([("big", [f"term{i}" for i in range(100_000)] + ["beach"])])
    assert found(m, "a red bicycle on a beach, term99999") == ["beach", "term99999"]
