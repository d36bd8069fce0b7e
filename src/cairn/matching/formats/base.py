"""The hash-set format contract: a normalised ``HashRecord``, reading options, and the warnings a read counts.

A format is one object with a constant ``name``, a ``sniff(head, filename)`` for ``--format auto``, a
streaming ``read`` that yields ``HashRecord``s (never loading a whole file) and optionally a ``write``.
Every hash is validated against its kind and normalised to lower-case hex; a malformed value or row is a
counted ``FormatWarning`` with its line/record number, never an exception that ends the read. A file that
is not the format at all raises ``WrongFormat`` before any record is yielded.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TextIO

from cairn.matching.schemes import NONE, Category, SchemeError, SchemeMapping, category

#: Hex length of each hash kind a set may carry. PhotoDNA is 144 bytes (base64 192 chars in files).
HASH_HEX_LENGTHS: Mapping[str, int] = {
    "md5": 32,
    "sha1": 40,
    "sha256": 64,
    "sha512": 128,
    "pdq": 64,
    "photodna": 288,
    # AI model files, by the kinds generation records and model sites name them (see cairn.signals.ai_model):
    # a plain CSV with these columns is a reference list of known models
    "autov1": 8,
    "autov2": 10,
    "autov3": 12,
    "sha256_12": 12,
    "tensor_sha256": 64,
    "blake3": 64,
}
#: The model-file hash kinds above (only model files have them; a CSV names them in its header).
MODEL_KINDS = ("autov1", "autov2", "autov3", "sha256_12", "tensor_sha256", "blake3")
#: Hash kinds that identify content exactly (cryptographic digests of the file's bytes).
EXACT_KINDS = ("md5", "sha1", "sha256", "sha512")
#: At most this many warnings are kept word for word; all are counted.
MAX_KEPT_WARNINGS = 1000

_HEX = re.compile(r"[0-9a-f]+\Z")
#: ``str.strip`` of these leaves nothing of a lower-case hex string (a faster test than the regex).
HEX_DIGITS = "0123456789abcdef"
#: ``HASH_HEX_LENGTHS`` as a plain dict (the fast readers' lookups).
HEX_LENGTHS = dict(HASH_HEX_LENGTHS)
#: Most category values a ``CategoryMemo`` remembers; past that, it reads each value afresh.
MAX_REMEMBERED_CATEGORIES = 4096
_FLAG_TRUE = frozenset({"y", "yes", "t", "true", "1"})
_FLAG_FALSE = frozenset({"n", "no", "f", "false", "0"})


class WrongFormat(ValueError):
    """The file is not in this format (raised before any record is yielded)."""


@dataclass(frozen=True)
class HashRecord:
    """One entry of a hash set, normalised: hashes by kind, category with its scheme, series, flags.

    ``extra`` keeps the source's own fields (its key names, its values) that the normalised fields do not
    hold, so an export can write them back. ``position`` is the record's line (text formats) or record
    number (VICS, SQLite), counted from 1. ``ignorable`` marks known-harmless entries (NSRL, lists).
    """

    hashes: Mapping[str, str]
    category: Category | None = None
    series: str | None = None
    flags: Mapping[str, bool] = field(default_factory=dict)
    comments: str | None = None
    ignorable: bool = False
    extra: Mapping[str, Any] = field(default_factory=dict)
    position: int = 0


@dataclass(frozen=True)
class FormatWarning:
    """A problem with one row or record: where (``position``, 1-based) and what."""

    position: int
    message: str


@dataclass
class ReadReport:
    """What one read found besides its records: counts, warnings and file-level facts (VICS version, case)."""

    records: int = 0
    skipped: int = 0
    warning_count: int = 0
    warnings: list[FormatWarning] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)

    def warn(self, position: int, message: str) -> None:
        """Count a warning; keep its text while fewer than ``MAX_KEPT_WARNINGS`` are kept."""
        self.warning_count += 1
        if len(self.warnings) < MAX_KEPT_WARNINGS:
            self.warnings.append(FormatWarning(position, message))

    def skip(self, position: int, message: str) -> None:
        """Count a skipped row with its reason."""
        self.skipped += 1
        self.warn(position, f"row skipped: {message}")


@dataclass(frozen=True)
class ReadOptions:
    """How to interpret a file: its category scheme (None: the format's default), a mapping of raw codes,
    whether records are known-harmless (None: the format's default), and the kind of bare hashes whose
    length is ambiguous (a 64-hex list is SHA-256 unless ``hash_kind="pdq"``)."""

    scheme: str | None = None
    code_table: SchemeMapping | None = None
    ignorable: bool | None = None
    hash_kind: str | None = None


@dataclass
class WriteReport:
    """What one write did: records written and records it could not write (with warnings)."""

    written: int = 0
    skipped: int = 0
    warnings: list[FormatWarning] = field(default_factory=list)


class HashSetFormat(Protocol):
    """A hash-set format: a constant name, a sniff for auto-detection, a streaming reader."""

    @property
    def name(self) -> str: ...

    @property
    def default_scheme(self) -> str: ...

    def sniff(self, head: bytes, filename: str) -> bool: ...

    def read(self, path: Path, options: ReadOptions, report: ReadReport) -> Iterator[HashRecord]: ...


class HashSetWriter(Protocol):
    """A format that can also write records."""

    def write(self, records: Iterator[HashRecord] | list[HashRecord], out: TextIO) -> WriteReport: ...


def normalise_hash(kind: str, text: object) -> str:
    """``text`` as lower-case hex of hash ``kind``; ``ValueError`` saying why it is not one.

    PhotoDNA is accepted as hex (288) or base64 (192 chars, 144 bytes) and returned as hex.
    """
    if not isinstance(text, str):
        raise ValueError(f"{kind} value {text!r} is not text")
    expected = HASH_HEX_LENGTHS.get(kind)
    if expected is not None and len(text) == expected and _HEX.match(text):
        return text  # already normalised: the common case, with no new string made
    value = text.strip()
    if expected is None:
        raise ValueError(f"unknown hash kind {kind!r}")
    if kind == "photodna" and len(value) != expected:
        try:
            raw = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raise ValueError(f"photodna value is neither {expected} hex digits nor base64") from None
        if len(raw) * 2 != expected:
            raise ValueError(f"photodna base64 holds {len(raw)} bytes, not {expected // 2}")
        return raw.hex()
    value = value.lower()
    if value.startswith("0x"):
        value = value[2:]
    if len(value) != expected:
        raise ValueError(f"{kind} value has {len(value)} characters, not {expected} hex digits")
    if not _HEX.match(value):
        raise ValueError(f"{kind} value is not hexadecimal")
    return value


def clean_hash(kind: str, value: object) -> str | None:
    """What :func:`normalise_hash` gives for ``value``, or None when ``value`` is absent, blank or not a ``kind``
    hash: the fast readers' test, which leaves saying why to the general reading."""
    if type(value) is not str:
        return None
    if len(value) == HEX_LENGTHS[kind]:
        if not value.strip(HEX_DIGITS):
            return value
        lowered = value.lower()
        if not lowered.strip(HEX_DIGITS):
            return lowered
    if not value.strip():
        return None
    try:
        return normalise_hash(kind, value)
    except ValueError:
        return None


_new_object = object.__new__


def make_record(
    hashes: Mapping[str, str],
    category: Category | None,
    series: str | None,
    flags: Mapping[str, bool],
    comments: str | None,
    ignorable: bool,
    extra: Mapping[str, Any],
    position: int,
) -> HashRecord:
    """``HashRecord(hashes, category, series, flags, comments, ignorable, extra, position)``, the same object,
    made without the frozen dataclass's eight ``object.__setattr__`` calls (the fast readers make millions)."""
    record = _new_object(HashRecord)
    fields = record.__dict__
    fields["hashes"] = hashes
    fields["category"] = category
    fields["series"] = series
    fields["flags"] = flags
    fields["comments"] = comments
    fields["ignorable"] = ignorable
    fields["extra"] = extra
    fields["position"] = position
    return record


class CategoryMemo:
    """:func:`read_category` under one reading's options, remembered per value and its type (1, 1.0 and True
    stay apart); a value the scheme refuses raises ``SchemeError`` each time and is not remembered."""

    def __init__(self, options: ReadOptions, default_scheme: str) -> None:
        self.options = options
        self.default_scheme = default_scheme
        self.known: dict[tuple[type, object], Category | None] = {}

    def read(self, value: object) -> Category | None:
        key = (type(value), value)
        try:
            return self.known[key]
        except KeyError:
            pass
        except TypeError:  # an unhashable value (a list, an object): read, not remembered
            return read_category(value, self.options, self.default_scheme)
        found = read_category(value, self.options, self.default_scheme)
        if len(self.known) < MAX_REMEMBERED_CATEGORIES:
            self.known[key] = found
        return found


def kind_for_length(length: int, pdq: bool = False) -> str | None:
    """The kind of a bare hex hash of ``length`` digits (64 is SHA-256 unless ``pdq``)."""
    if length == 64:
        return "pdq" if pdq else "sha256"
    return {32: "md5", 40: "sha1", 128: "sha512"}.get(length)


def parse_flag(raw: object) -> bool | None:
    """A yes/no flag as files write it: JSON booleans, y/yes/t/true/1 and n/no/f/false/0 in any case.

    ``None`` for an absent or empty value; ``ValueError`` for anything else.
    """
    if raw is None or isinstance(raw, bool):
        return raw
    text = str(raw).strip().lower()
    if not text:
        return None
    if text in _FLAG_TRUE:
        return True
    if text in _FLAG_FALSE:
        return False
    raise ValueError(f"{raw!r} is not a yes/no value")


def read_category(raw: object, options: ReadOptions, default_scheme: str) -> Category | None:
    """The category ``raw`` means under ``options`` (a code table first, else the scheme); may raise
    ``SchemeError``."""
    if options.code_table is not None:
        return options.code_table.lookup(raw)
    return category(options.scheme or default_scheme, raw)


def flag_or_extra(
    key: str, value: object, flag: str, flags: dict[str, bool], extra: dict[str, Any], position: int, report: ReadReport
) -> None:
    """Set ``flags[flag]`` from the yes/no ``value``; one that is not yes/no is a warning, kept in ``extra[key]``."""
    try:
        parsed = parse_flag(value)
    except ValueError as exc:
        report.warn(position, f"{key}: {exc}")
        extra[key] = value
        return
    if parsed is not None:
        flags[flag] = parsed


def category_or_extra(
    key: str,
    value: object,
    options: ReadOptions,
    default_scheme: str,
    extra: dict[str, Any],
    position: int,
    report: ReadReport,
) -> Category | None:
    """The category ``value`` means (see :func:`read_category`), or None with ``value`` kept in ``extra[key]``:
    verbatim under the ``none`` scheme, with a warning when the scheme does not know it."""
    if (options.scheme or default_scheme) == NONE.name and options.code_table is None:
        if value is not None:
            extra[key] = value
        return None
    try:
        return read_category(value, options, default_scheme)
    except SchemeError as exc:
        report.warn(position, str(exc))
        extra[key] = value
        return None


def collect_hashes(pairs: Mapping[str, object], position: int, report: ReadReport) -> dict[str, str]:
    """Validated hashes from ``{kind: raw}``; empty values are absent, bad ones a warning each."""
    found: dict[str, str] = {}
    for kind, raw in pairs.items():
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            continue
        try:
            found[kind] = normalise_hash(kind, raw)
        except ValueError as exc:
            report.warn(position, str(exc))
    return found


def finish_record(
    report: ReadReport,
    position: int,
    hashes: dict[str, str],
    **fields: Any,
) -> HashRecord | None:
    """A record when ``hashes`` holds at least one valid hash, else a counted skip; counts the record."""
    if not hashes:
        report.skip(position, "no valid hash")
        return None
    report.records += 1
    return HashRecord(hashes=hashes, position=position, **fields)


__all__ = [
    "EXACT_KINDS",
    "HASH_HEX_LENGTHS",
    "MODEL_KINDS",
    "HEX_DIGITS",
    "HEX_LENGTHS",
    "CategoryMemo",
    "FormatWarning",
    "HashRecord",
    "HashSetFormat",
    "HashSetWriter",
    "ReadOptions",
    "ReadReport",
    "SchemeError",
    "WriteReport",
    "WrongFormat",
    "category_or_extra",
    "clean_hash",
    "collect_hashes",
    "finish_record",
    "flag_or_extra",
    "kind_for_length",
    "make_record",
    "normalise_hash",
    "parse_flag",
    "read_category",
]
