"""Shared tests for every generation-record parser, in the spirit of tests/matching/format_helper.py.

A parser's test class subclasses ``ParserTestHelper``, sets ``PARSER`` (the parser's registered name) and returns
its ``Sample``s: files it builds from benign pictures, each with the exact records (and warning messages) reading
it must give. It inherits:

* the records read from each sample's bytes (carriers module, then the whole parser registry, as the scan reads
  them) are exactly the expected ones, and the carrier walk gives no warning;
* the parser is registered under its name, and claims what it reads (no other parser reads the same carrier);
* hostile copies of each sample never raise and never trip the registry's safety net (a parser that raised):
  the file cut at many points, each carrier text cut in half, wrapped in 10,000 brackets, made 5 MB long, or
  given wrong JSON types;
* a file's record is found the same when the carrier comes through the carriers module and when the carrier
  is handed to the parser directly.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import ClassVar

import pytest

from cairn.signals.provenance.carriers import extract_carriers
from cairn.signals.provenance.limits import ProvenanceLimits
from cairn.signals.provenance.parsers import ParseWarning, parse_all, parsers
from cairn.signals.provenance.record import Carrier, GenerationRecord

#: Small limits for hostile copies: a text over 64 KiB is cut, JSON over 32 deep refused.
HOSTILE_LIMITS = ProvenanceLimits(max_text=64 * 1024, max_json_depth=32, max_decompressed=256 * 1024)


@dataclass(frozen=True)
class Sample:
    """A picture a test writes (``write(folder) -> [path]``, one path) and what reading it must give."""

    name: str
    write: Callable[[Path], list[Path]]
    records: list[GenerationRecord]
    warnings: list[str] = field(default_factory=list)  # expected warning messages (substrings), in order


def read_bytes(
    data: bytes, limits: ProvenanceLimits | None = None
) -> tuple[list[Carrier], list[GenerationRecord], list[ParseWarning]]:
    """Carriers, records and all warnings (carrier walk first) of a file's bytes, as the scan reads them."""
    carriers, walk_warnings = extract_carriers(data, limits) if limits else extract_carriers(data)
    records, warnings = parse_all(carriers, limits) if limits else parse_all(carriers)
    return carriers, records, walk_warnings + warnings


def safety_net_tripped(warnings: list[ParseWarning]) -> list[str]:
    """Warnings saying a parser raised (the registry's safety net), which no input may cause."""
    return [w.message for w in warnings if w.parser != "limits" and " failed: " in w.message]


def hostile_texts(text: str) -> list[str]:
    """Hostile versions of one carrier's text."""
    out = [text[: len(text) // 2], text[:1], "", "\x00" * 64, "[" * 10_000 + "]" * 10_000, text + "x" * 5_000_000]
    stripped = text.lstrip()
    if stripped.startswith("{"):
        try:
            doc = json.loads(text)
        except ValueError:
            doc = None
        if isinstance(doc, dict):
            for value in ([], {}, None, 1e308, -1, "x" * 10_000, [[[]]], {"a": {"b": [1, "2"]}}):
                out.append(json.dumps({k: value for k in doc}))
            out.append(json.dumps({k: [v] * 3 for k, v in doc.items()}))
        out.append('{"a": ' * 5_000 + "1" + "}" * 5_000)
    else:
        out.append(text.replace(":", ': "unterminated'))
        out.append(text.replace(", ", ",\n"))
        out.append(text + ', Lora hashes: "' + "x: y, " * 10_000)
    return out


class ParserTestHelper:
    """Subclass with ``PARSER`` and ``samples``; every test below runs on every sample."""

    PARSER: ClassVar[str]

    def samples(self) -> list[Sample]:
        raise NotImplementedError

    @pytest.fixture(scope="class")
    @classmethod
    def written(cls, tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Sample, bytes]]:
        folder = tmp_path_factory.mktemp(f"parser_{cls.PARSER}")
        out: dict[str, tuple[Sample, bytes]] = {}
        for sample in cls().samples():
            [path] = sample.write(folder)
            out[sample.name] = (sample, path.read_bytes())
        return out

    def test_parser_is_registered(self) -> None:
        assert self.PARSER in [p.name for p in parsers()]

    def test_samples_give_exactly_the_expected_records(self, written: dict[str, tuple[Sample, bytes]]) -> None:
        for name, (sample, data) in written.items():
            _carriers, records, warnings = read_bytes(data)
            assert records == sample.records, name
            messages = [w.message for w in warnings]
            assert len(messages) == len(sample.warnings), (name, messages)
            for got, expected in zip(messages, sample.warnings, strict=True):
                assert expected in got, (name, got)
            assert all(r.parser == self.PARSER for r in records if r.parser != "xmp"), name

    def test_each_carrier_is_read_by_one_parser(self, written: dict[str, tuple[Sample, bytes]]) -> None:
        for name, (_sample, data) in written.items():
            carriers, records, _ = read_bytes(data)
            wheres = [r.where for r in records]
            assert len(wheres) == len(set(wheres)), name  # never two records from one carrier
            assert len(records) <= len(carriers), name

    def test_handing_the_carriers_over_directly_gives_the_same(self, written: dict[str, tuple[Sample, bytes]]) -> None:
        for name, (sample, data) in written.items():
            carriers, _walk = extract_carriers(data)
            copies = [replace(c) for c in carriers]
            records, _ = parse_all(copies)
            assert records == sample.records, name

    def test_truncated_files_never_raise(self, written: dict[str, tuple[Sample, bytes]]) -> None:
        for name, (_sample, data) in written.items():
            cuts = sorted({*range(0, min(len(data), 400), 7), *range(0, len(data), max(1, len(data) // 60))})
            for cut in cuts:
                _c, records, warnings = read_bytes(data[:cut], HOSTILE_LIMITS)
                assert safety_net_tripped(warnings) == [], (name, cut)
                assert all(isinstance(r, GenerationRecord) for r in records)

    def test_flipped_bytes_never_raise(self, written: dict[str, tuple[Sample, bytes]]) -> None:
        for name, (_sample, data) in written.items():
            for at in range(8, min(len(data), 2_000), 13):
                damaged = bytearray(data)
                damaged[at] ^= 0xFF
                _c, _r, warnings = read_bytes(bytes(damaged), HOSTILE_LIMITS)
                assert safety_net_tripped(warnings) == [], (name, at)

    def test_hostile_carrier_texts_never_raise(self, written: dict[str, tuple[Sample, bytes]]) -> None:
        for name, (_sample, data) in written.items():
            carriers, _ = extract_carriers(data)
            for i, carrier in enumerate(carriers):
                for text in hostile_texts(carrier.text or ""):
                    changed = [*carriers[:i], replace(carrier, text=text), *carriers[i + 1 :]]
                    records, warnings = parse_all(changed, HOSTILE_LIMITS)
                    assert safety_net_tripped(warnings) == [], (name, carrier.key, text[:80])
                    for record in records:
                        assert len(record.raw) <= HOSTILE_LIMITS.max_text


def png_chunk_at(data: bytes, ctype: bytes, keyword: str) -> int:
    """Byte offset of the PNG chunk of type ``ctype`` whose keyword is ``keyword`` (an independent walk, so tests
    state where a record is without asking the code under test)."""
    pos = 8
    while pos + 8 <= len(data):
        length = int.from_bytes(data[pos : pos + 4], "big")
        if data[pos + 4 : pos + 8] == ctype and data[pos + 8 :].startswith(keyword.encode("latin-1") + b"\x00"):
            return pos
        pos += 12 + length
    raise LookupError(f"no {ctype!r} chunk {keyword!r}")


def riff_chunk_at(data: bytes, fourcc: bytes) -> int:
    """Byte offset of a WebP file's first chunk ``fourcc``."""
    pos = 12
    while pos + 8 <= len(data):
        size = int.from_bytes(data[pos + 4 : pos + 8], "little")
        if data[pos : pos + 4] == fourcc:
            return pos
        pos += 8 + size + (size & 1)
    raise LookupError(f"no {fourcc!r} chunk")
