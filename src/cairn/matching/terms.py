"""Investigators' own term lists, and where a text hits them.

cairn ships no term list: a user loads theirs (``cairn terms import FILE``). A list file is UTF-8 text, one term
(a word or a phrase) per line; blank lines and lines starting with ``#`` are skipped. Matching is on whole words,
case-insensitively (Unicode case folding), with ``_``, ``-`` and runs of punctuation or spaces read as one word
break, so the term ``red bicycle`` hits ``Red_Bicycle``, ``red-bicycle`` and ``a red  bicycle.``, never
``redbicycle`` or ``bored bicycles``. A term ending in ``*`` also hits words that start with it (``bicycl*``
hits ``bicycles``). Matching costs one set lookup per word and phrase length, whatever the size of the list.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

#: Bounds of one list file.
MAX_TERMS = 200_000
MAX_TERM_CHARS = 200
MAX_TERM_WORDS = 8
MAX_FILE_BYTES = 64 * 1024 * 1024
#: Characters of the matched text kept around a hit (the hit itself always).
CONTEXT = 40

_WORD = re.compile(r"[^\W_]+", re.UNICODE)


class TermListError(ValueError):
    """A term list file that cannot be read."""


def words(text: str) -> list[str]:
    """The words of ``text`` as matching sees them: case-folded runs of letters and digits."""
    return [w.casefold() for w in _WORD.findall(text)]


def _spans(text: str) -> list[tuple[str, int, int]]:
    return [(m.group().casefold(), m.start(), m.end()) for m in _WORD.finditer(text)]


@dataclass
class TermFile:
    """A list file read: its terms (as written, de-duplicated in order), digest and what was skipped."""

    terms: list[str]
    sha256: str
    skipped: int = 0
    warnings: list[str] = field(default_factory=list)


def read_terms(path: Path) -> TermFile:
    """Read a term list file (see the module notes); ``TermListError`` if it is not UTF-8 text or too large."""
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise TermListError(f"{path.name} is {size:,} bytes, over the {MAX_FILE_BYTES:,}-byte limit for a term list")
    data = path.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise TermListError(f"{path.name} is not UTF-8 text ({exc}); save the list as UTF-8") from exc
    out = TermFile([], hashlib.sha256(data).hexdigest())
    seen: set[tuple[str, ...]] = set()
    for number, line in enumerate(text.splitlines(), 1):
        term = line.strip()
        if not term or term.startswith("#"):
            continue
        problem = _problem(term)
        if problem is None and len(out.terms) >= MAX_TERMS:
            problem = f"over {MAX_TERMS:,} terms"
        if problem is not None:
            out.skipped += 1
            if len(out.warnings) < 100:
                out.warnings.append(f"line {number}: {problem}; skipped")
            continue
        key = _key(term)
        if key in seen:
            continue
        seen.add(key)
        out.terms.append(term)
    if not out.terms:
        raise TermListError(f"{path.name} holds no usable term (one word or phrase per line, # for comments)")
    return out


def _problem(term: str) -> str | None:
    if len(term) > MAX_TERM_CHARS:
        return f"longer than {MAX_TERM_CHARS} characters"
    parts = words(term.rstrip("*"))
    if not parts:
        return "no letters or digits"
    if len(parts) > MAX_TERM_WORDS:
        return f"more than {MAX_TERM_WORDS} words"
    return None


def _key(term: str) -> tuple[str, ...]:
    parts = tuple(words(term.rstrip("*")))
    return (*parts[:-1], parts[-1] + "*") if term.endswith("*") else parts


@dataclass(frozen=True)
class Hit:
    """One term found in one text: the list, the term as written, and the text around it."""

    list_name: str
    term: str
    excerpt: str


class TermMatcher:
    """Every term of the loaded lists, by word tuple; :meth:`find` walks a text once."""

    def __init__(self, lists: Iterable[tuple[str, Iterable[str]]]) -> None:
        self.exact: dict[tuple[str, ...], list[tuple[str, str]]] = {}
        self.prefix: dict[tuple[str, ...], list[tuple[str, str]]] = {}  # last word is a prefix
        self.lengths: set[int] = set()
        self.prefix_lengths: set[int] = set()
        for list_name, terms in lists:
            for term in terms:
                key = _key(term)
                if not key:
                    continue
                if key[-1].endswith("*"):
                    stem = (*key[:-1], key[-1][:-1])
                    self.prefix.setdefault(stem, []).append((list_name, term))
                    self.prefix_lengths.add(len(stem))
                else:
                    self.exact.setdefault(key, []).append((list_name, term))
                    self.lengths.add(len(key))

    def __bool__(self) -> bool:
        return bool(self.exact or self.prefix)

    def find(self, text: str) -> Iterator[Hit]:
        """Each (list, term) hit in ``text`` once, in text order."""
        spans = _spans(text)
        seen: set[tuple[str, str]] = set()
        for i in range(len(spans)):
            for n in sorted(self.lengths | self.prefix_lengths):
                if i + n > len(spans):
                    break
                window = tuple(w for w, _, _ in spans[i : i + n])
                found = list(self.exact.get(window, [])) if n in self.lengths else []
                if n in self.prefix_lengths:
                    for cut in range(1, len(window[-1]) + 1):
                        found.extend(self.prefix.get((*window[:-1], window[-1][:cut]), []))
                for list_name, term in found:
                    if (list_name, term) in seen:
                        continue
                    seen.add((list_name, term))
                    start, end = spans[i][1], spans[i + n - 1][2]
                    excerpt = text[max(0, start - CONTEXT) : end + CONTEXT].replace("\n", " ")
                    yield Hit(list_name, term, excerpt)
