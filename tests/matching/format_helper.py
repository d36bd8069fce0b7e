"""Shared tests for every hash-set format, in the spirit of python-threatexchange's signal_type_test_helper.

A format's test class subclasses ``FormatTestHelper``, sets ``FORMAT`` and returns its ``Sample``s (files it
builds itself from benign bytes, with the records it expects); it inherits: the records read are exactly the
expected ones, with the expected warning and skip counts; ``--format auto`` picks this format; and a round trip
read -> VICS 2.0 -> read gives the same hashes, categories, series, flags, comments and extras.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from cairn.matching.formats import HashRecord, ReadOptions, ReadReport, detect_format
from cairn.matching.formats.base import HashSetFormat
from cairn.matching.formats.vics import VICS as VICS_FORMAT
from cairn.matching.formats.vics import vics_codes
from cairn.matching.schemes import Category, category


def digests(text: bytes) -> dict[str, str]:
    """md5, sha1, sha256 and a PDQ-shaped 256-bit value (the sha256 of a label) of benign bytes."""
    return {
        "md5": hashlib.md5(text).hexdigest(),
        "sha1": hashlib.sha1(text).hexdigest(),
        "sha256": hashlib.sha256(text).hexdigest(),
        "pdq": hashlib.sha256(b"pdq:" + text).hexdigest(),
    }


BIKE = digests(b"a red bicycle")
KITE = digests(b"a blue kite")
TREE = digests(b"a green tree")
PHOTODNA = bytes((i * 7) % 256 for i in range(144))  # 144 bytes, as PhotoDNA is


def cat(scheme: str, value: object) -> Category | None:
    return category(scheme, value)


@dataclass(frozen=True)
class Sample:
    """A file a test builds (text, bytes, or a function writing it) and what reading it must give."""

    name: str
    content: str | bytes | Callable[[Path], None]
    expected: list[HashRecord]
    filename: str = "set.txt"
    options: ReadOptions = ReadOptions()
    warnings: int = 0
    skipped: int = 0
    roundtrip_warnings: int = 0  # values kept verbatim in extra that VICS read-back warns about again
    details: dict[str, Any] = field(default_factory=dict)

    def build(self, folder: Path) -> Path:
        path = folder / self.name / self.filename
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(self.content, str):
            path.write_text(self.content, encoding="utf-8")
        elif isinstance(self.content, bytes):
            path.write_bytes(self.content)
        else:
            self.content(path)
        return path


def essence(record: HashRecord, with_ignorable: bool = True) -> tuple[Any, ...]:
    """What a record says (all but its position), comparable with ``==``."""
    base = (
        dict(record.hashes),
        record.category,
        record.series,
        dict(record.flags),
        record.comments,
        dict(record.extra),
    )
    return (*base, record.ignorable) if with_ignorable else base


def read_all(fmt: HashSetFormat, path: Path, options: ReadOptions) -> tuple[list[HashRecord], ReadReport]:
    report = ReadReport()
    return list(fmt.read(path, options, report)), report


class FormatTestHelper:
    """Common tests; subclasses set ``FORMAT`` and implement ``samples``."""

    FORMAT: ClassVar[HashSetFormat]

    def samples(self) -> list[Sample]:
        raise NotImplementedError

    def test_reads_expected_records(self, tmp_path: Path) -> None:
        for sample in self.samples():
            records, report = read_all(self.FORMAT, sample.build(tmp_path), sample.options)
            assert [essence(r) for r in records] == [essence(r) for r in sample.expected], sample.name
            assert (report.warning_count, report.skipped) == (sample.warnings, sample.skipped), (
                sample.name,
                report.warnings,
            )
            assert report.records == len(records)
            for key, value in sample.details.items():
                assert report.details.get(key) == value, (sample.name, key)

    def test_auto_detects_format(self, tmp_path: Path) -> None:
        for sample in self.samples():
            assert detect_format(sample.build(tmp_path)) is self.FORMAT, sample.name

    def test_round_trip_through_vics_2_0(self, tmp_path: Path) -> None:
        for sample in self.samples():
            records, _ = read_all(self.FORMAT, sample.build(tmp_path), sample.options)
            out = io.StringIO()
            table = sample.options.code_table
            written = VICS_FORMAT.write(records, out, category_codes=vics_codes(table) if table else None)
            assert written.written == len(records) and not written.warnings, sample.name
            path = tmp_path / sample.name / "export.json"
            path.write_text(out.getvalue(), encoding="utf-8")
            scheme = sample.options.scheme or self.FORMAT.default_scheme  # the set's scheme travels with it
            back, report = read_all(VICS_FORMAT, path, dataclasses.replace(sample.options, scheme=scheme))
            assert report.details["vics_version"] == "2.0"
            assert (report.warning_count, report.skipped) == (sample.roundtrip_warnings, 0), report.warnings
            assert [essence(r, False) for r in back] == [essence(r, False) for r in records], sample.name
