"""Project VIC VICS JSON (OData): read v1.x and v2.0 by streaming (ijson), write v2.0 by streaming.

Reading: the version comes from the ``odata.metadata`` (1.x: ``.../1.3.xml#Media``, ``1.2.xml``) or
``@odata.context`` (2.0: ``.../2.0.xml/{Default|US|UK|CUSTOM}/$metadata#Media`` or ``#Cases``) URL,
recognised by pattern (``ReadReport.details``: ``vics_version``, ``vics_variant``, ``vics_entity``).
``value`` holds Media records (a hash set) or one Case whose ``Media`` list is streamed record by record;
the Case's own fields land in ``details["case"]`` (with ``case_id``: the GUID without braces, lower-case).
Known Media fields are matched case-insensitively; booleans may be JSON booleans or strings; PhotoDNA may be
base64 or hex, in ``PhotoDNA`` or in ``AlternativeHashes`` (which also carry SHA256, PDQ, ...). Every other
field, and any AlternativeHashes entry of an unknown kind, is kept verbatim in ``extra``; a value that cannot
be interpreted (a category outside the scheme, a flag that is not yes/no) is kept there under its own key
with a warning. Memory stays bounded by the largest single record, never by the file.

Writing: VICS 2.0 ``#Media`` (or ``#Cases`` with one Case) written record by record, extras first and the
normalised fields over them, so ``read -> write -> read`` gives the same hashes, categories, flags and extras.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import IO, Any, TextIO

import ijson

from cairn.matching.formats.base import (
    HEX_DIGITS,
    HEX_LENGTHS,
    CategoryMemo,
    FormatWarning,
    HashRecord,
    ReadOptions,
    ReadReport,
    SchemeError,
    WriteReport,
    WrongFormat,
    category_or_extra,
    clean_hash,
    collect_hashes,
    finish_record,
    flag_or_extra,
    make_record,
    normalise_hash,
    parse_flag,
)
from cairn.matching.schemes import NONE, VICS_CODES, CategoryValue, SchemeMapping

#: Media field -> normalised flag. The last two are ICSE flags, written as custom fields so they round-trip.
FLAG_FIELDS: Mapping[str, str] = {
    "VictimIdentified": "victim_identified",
    "OffenderIdentified": "offender_identified",
    "IsDistributed": "is_distributed",
    "IsPrecategorized": "is_precategorized",
    "IsSuspected": "is_suspected",
    "SelfGenerated": "self_generated",
    "FileAvailable": "file_available",
    "Baseline": "baseline",
}
_FLAG_BY_KEY = {k.lower(): v for k, v in FLAG_FIELDS.items()}
_FIELD_BY_FLAG = {v: k for k, v in FLAG_FIELDS.items()}
#: Media fields holding a hash directly.
_DIRECT_HASHES = {"md5": "md5", "sha1": "sha1", "sha256": "sha256", "photodna": "photodna"}
#: AlternativeHashes ``HashName`` (upper-case, without ``-``/``_``/spaces) -> kind, and the name written back.
_ALT_KINDS = {
    "MD5": "md5",
    "SHA1": "sha1",
    "SHA256": "sha256",
    "SHA512": "sha512",
    "PDQ": "pdq",
    "PHOTODNA": "photodna",
}
_ALT_NAMES = {"sha256": "SHA256", "sha512": "SHA512", "pdq": "PDQ"}
#: Lower-case forms of the field names as VICS spells them, so the common keys cost no new string each.
_LOWER = {
    name: name.lower()
    for name in (
        *FLAG_FIELDS,
        "MD5",
        "SHA1",
        "SHA256",
        "PhotoDNA",
        "Category",
        "Series",
        "Comments",
        "AlternativeHashes",
    )
}
_CONTEXT_KEYS = ("odata.metadata", "@odata.context", "odata.context")
_VERSION = re.compile(r"(\d+(?:\.\d+)+)\.xml(?:/([A-Za-z]+))?(?:/\$metadata)?#(\w+)")
CONTEXT_2_0 = "http://github.com/VICSDATAMODEL/ProjectVic/DataModels/2.0.xml/{variant}/$metadata#{entity}"
_BOM = b"\xef\xbb\xbf"
#: The context is looked for in the file's first bytes (exporters write it first).
_PEEK = 4096
_CONTEXT = re.compile(rb'"@?odata\.(?:metadata|context)"\s*:\s*"([^"]{1,1000})"', re.IGNORECASE)


class VicsFormat:
    """VICS JSON, versions 1.2, 1.3 and 2.0."""

    name = "vics"
    default_scheme = "vic-us"

    def sniff(self, head: bytes, filename: str) -> bool:
        text = head.removeprefix(_BOM).lstrip()
        if not text.startswith(b"{"):
            return False
        lowered = text[:65536].lower()
        if any(f'"{key}"'.encode() in lowered for key in _CONTEXT_KEYS):
            return True
        return b'"value"' in lowered and b'"md5"' in lowered

    def read(self, path: Path, options: ReadOptions, report: ReadReport) -> Iterator[HashRecord]:
        with path.open("rb") as stream:
            head = stream.read(_PEEK)
            start = 3 if head.startswith(_BOM) else 0
            stream.seek(start)
            context = _CONTEXT.search(head)
            found = _VERSION.search(context.group(1).decode("utf-8", "replace")) if context else None
            if context is not None and found is not None and found.group(3) == "Media":
                _set_context(context.group(1).decode("utf-8", "replace"), report)
                objects = _media_items(stream, report)  # a hash set: ijson's compiled builder, record by record
            else:
                objects = _media_objects(stream, report)  # a Case, or a shape only the events can tell
            fast = _FastReader(options, report, self.default_scheme)
            for number, media in enumerate(objects, start=1):
                record = fast.record(media, number)
                if record is None:  # not a plain record: the general reading (warnings, skips, odd values)
                    record = _record(media, number, options, report, self.default_scheme)
                if record is not None:
                    yield record

    def write(
        self,
        records: Iterable[HashRecord],
        out: TextIO,
        *,
        variant: str = "Default",
        case: Mapping[str, Any] | None = None,
        category_codes: Mapping[CategoryValue, int] | None = None,
    ) -> WriteReport:
        """Write VICS 2.0 to ``out``: ``#Media``, or ``#Cases`` with one Case holding ``case``'s fields."""
        return write_vics(records, out, variant=variant, case=case, category_codes=category_codes)


def _media_items(stream: IO[bytes], report: ReadReport) -> Iterator[dict[str, Any]]:
    """Each object of ``value`` in a file whose context says it holds Media records."""
    try:
        yield from ijson.items(stream, "value.item", use_float=True)
    except ijson.JSONError as exc:
        report.details["damaged"] = True
        report.warn(report.records + report.skipped + 1, f"JSON damaged, read stopped: {exc}")


def _media_objects(stream: IO[bytes], report: ReadReport) -> Iterator[dict[str, Any]]:
    """Each Media object of the file, built one at a time from ijson's event stream."""
    builder: Any = None  # the object being built at value.item (a Media, or a Case without its Media)
    media: Any = None  # a Media inside a Case
    in_case_media = False
    seen_value = seen_context = False
    top_key = ""
    events = ijson.parse(stream, use_float=True)
    try:
        for prefix, event, value in events:
            if media is not None:
                media.event(event, value)
                if event == "end_map" and prefix == "value.item.Media.item":
                    yield media.value
                    media = None
                continue
            if in_case_media:
                if event == "start_map" and prefix == "value.item.Media.item":
                    media = ijson.ObjectBuilder()
                    media.event(event, value)
                elif event == "end_array" and prefix == "value.item.Media":
                    in_case_media = False
                continue
            if builder is not None:
                if event == "map_key" and prefix == "value.item" and str(value).lower() == "media":
                    in_case_media = True
                    report.details["vics_entity"] = "Cases"
                    continue
                if event == "start_array" and prefix == "value.item.Media":
                    continue
                builder.event(event, value)
                if event == "end_map" and prefix == "value.item":
                    obj = builder.value
                    builder = None
                    if report.details.get("vics_entity") == "Cases" and _is_case(obj):
                        _set_case(obj, report)
                    else:
                        yield obj
                continue
            if prefix == "" and event == "start_map":
                continue
            if prefix == "" and event == "map_key":
                top_key = str(value)
                seen_value = seen_value or top_key == "value"
                continue
            if prefix == "" and event != "end_map":
                raise WrongFormat("not a JSON object")
            if prefix == top_key and top_key.lower() in _CONTEXT_KEYS and event == "string":
                seen_context = True
                _set_context(str(value), report)
            elif prefix == "value.item" and event == "start_map":
                builder = ijson.ObjectBuilder()
                builder.event(event, value)
    except ijson.JSONError as exc:
        if not (seen_value or seen_context):
            raise WrongFormat(f"not VICS JSON: {exc}") from exc
        report.details["damaged"] = True
        report.warn(report.records + report.skipped + 1, f"JSON damaged, read stopped: {exc}")
        return
    if not (seen_value or seen_context):
        raise WrongFormat("no OData context and no value list")


def _is_case(obj: object) -> bool:
    return isinstance(obj, dict) and not any(str(k).lower() == "md5" for k in obj)


def _set_case(case: dict[str, Any], report: ReadReport) -> None:
    report.details["case"] = case
    for key, value in case.items():
        if key.lower() == "caseid" and isinstance(value, str):
            report.details["case_id"] = value.strip().strip("{}").lower()


def _set_context(context: str, report: ReadReport) -> None:
    report.details["vics_context"] = context
    found = _VERSION.search(context)
    if found is None:
        report.warn(0, f"OData context {context!r} names no VICS version")
        return
    report.details["vics_version"] = found.group(1)
    if found.group(2):
        report.details["vics_variant"] = found.group(2)
    report.details["vics_entity"] = found.group(3)


def _record(
    media: Mapping[str, Any], number: int, options: ReadOptions, report: ReadReport, default_scheme: str
) -> HashRecord | None:
    if not isinstance(media, dict):
        report.skip(number, "a value entry that is not an object")
        return None
    raw_hashes: dict[str, object] = {}
    flags: dict[str, bool] = {}
    extra: dict[str, Any] = {}
    fields: dict[str, Any] = {"category": None, "series": None, "comments": None}
    for key, value in media.items():
        low = _LOWER.get(key) or key.lower()
        if low in _DIRECT_HASHES:
            raw_hashes[_DIRECT_HASHES[low]] = value
        elif low in _FLAG_BY_KEY:
            flag_or_extra(key, value, _FLAG_BY_KEY[low], flags, extra, number, report)
        elif low == "category":
            fields["category"] = category_or_extra(key, value, options, default_scheme, extra, number, report)
        elif low in ("series", "comments") and isinstance(value, str | None):
            fields[low] = value
        elif low == "alternativehashes" and isinstance(value, list):
            _read_alternatives(key, value, raw_hashes, extra, number, report)
        else:
            extra[key] = value
    hashes = collect_hashes(raw_hashes, number, report)
    ignorable = bool(options.ignorable)
    return finish_record(report, number, hashes, flags=flags, extra=extra, ignorable=ignorable, **fields)


#: What the fast reading does with a Media field (see ``_FastReader``).
_EXTRA, _HASH, _FLAG, _CATEGORY, _TEXT, _ALTERNATIVES = range(6)
#: AlternativeHashes ``HashName`` spellings the fast reading takes as they are (others: the general reading).
_ALT_EXACT = {**_ALT_KINDS, "PhotoDNA": "photodna", "Sha1": "sha1", "Sha256": "sha256"}
#: Most Media shapes (key lists) the fast reading remembers; past that, it plans each record afresh.
_MAX_REMEMBERED = 1024


def _plan(keys: tuple[str, ...]) -> tuple[tuple[str, int, str], ...] | None:
    """What to do with each field of a Media with exactly ``keys`` (in order); None when a known field occurs
    twice (``MD5`` and ``md5``): only the general reading resolves that."""
    steps: list[tuple[str, int, str]] = []
    known: set[str] = set()
    for key in keys:
        low = _LOWER.get(key) or key.lower()
        if low in _DIRECT_HASHES:
            step = (key, _HASH, _DIRECT_HASHES[low])
        elif low in _FLAG_BY_KEY:
            step = (key, _FLAG, _FLAG_BY_KEY[low])
        elif low == "category":
            step = (key, _CATEGORY, low)
        elif low in ("series", "comments"):
            step = (key, _TEXT, low)
        elif low == "alternativehashes":
            step = (key, _ALTERNATIVES, low)
        else:
            steps.append((key, _EXTRA, key))
            continue
        if step[2] in known:
            return None
        known.add(step[2])
        steps.append(step)
    return tuple(steps)


class _FastReader:
    """The reading of plain Media records without per-field name matching: a plan per key list (shape).

    ``record`` gives exactly what :func:`_record` gives for a Media whose every value reads cleanly (valid
    hashes, yes/no flags, a category the scheme knows, text series/comments, AlternativeHashes of known
    names), and None for any other, which the caller then reads the general way: so every warning, skip
    and value kept verbatim comes from one place, and this path never warns.
    """

    def __init__(self, options: ReadOptions, report: ReadReport, default_scheme: str) -> None:
        self.options = options
        self.report = report
        self.default_scheme = default_scheme
        self.no_scheme = (options.scheme or default_scheme) == NONE.name and options.code_table is None
        self.ignorable = bool(options.ignorable)
        self.plans: dict[tuple[str, ...], tuple[tuple[str, int, str], ...] | None] = {}
        self.categories = CategoryMemo(options, default_scheme)

    def record(self, media: object, number: int) -> HashRecord | None:
        if type(media) is not dict:
            return None
        keys = tuple(media)
        steps = self.plans.get(keys, ())
        if steps == ():
            steps = _plan(keys)
            if len(self.plans) < _MAX_REMEMBERED:
                self.plans[keys] = steps
        if steps is None:
            return None
        hashes: dict[str, str] = {}
        flags: dict[str, bool] = {}
        extra: dict[str, Any] = {}
        found = series = comments = None
        for key, action, name in steps:
            value = media[key]
            if action == _EXTRA:
                extra[key] = value
            elif action == _HASH:
                if name in hashes:
                    return None
                if type(value) is str and len(value) == HEX_LENGTHS[name] and not value.strip(HEX_DIGITS):
                    hashes[name] = value  # already normalised: the common case
                    continue
                digest = clean_hash(name, value)
                if digest is None:
                    return None
                hashes[name] = digest
            elif action == _FLAG:
                if value is True or value is False:
                    flags[name] = value
                elif value is not None:
                    try:
                        parsed = parse_flag(value)
                    except ValueError:
                        return None
                    if parsed is not None:
                        flags[name] = parsed
            elif action == _CATEGORY:
                if self.no_scheme:
                    if value is not None:
                        extra[key] = value
                    continue
                try:
                    found = self.categories.read(value)
                except SchemeError:
                    return None
            elif action == _TEXT:
                if value is not None and type(value) is not str:
                    extra[key] = value
                elif name == "series":
                    series = value
                else:
                    comments = value
            elif type(value) is not list:  # _ALTERNATIVES
                extra[key] = value
            else:
                for entry in value:
                    hash_name = entry.get("HashName") if type(entry) is dict else None
                    kind = _ALT_EXACT.get(hash_name) if type(hash_name) is str else None
                    if kind is None or kind in hashes:
                        return None
                    digest = clean_hash(kind, entry.get("HashValue"))
                    if digest is None:
                        return None
                    hashes[kind] = digest
        if not hashes:
            return None
        self.report.records += 1
        return make_record(hashes, found, series, flags, comments, self.ignorable, extra, number)


def _read_alternatives(
    key: str, entries: list[Any], raw_hashes: dict[str, object], extra: dict[str, Any], number: int, report: ReadReport
) -> None:
    unknown: list[Any] = []
    for entry in entries:
        name = entry.get("HashName") if isinstance(entry, dict) else None
        kind = _ALT_KINDS.get(re.sub(r"[-_ ]", "", str(name)).upper()) if name is not None else None
        if kind is None or not isinstance(entry, dict):
            unknown.append(entry)
            continue
        value = entry.get("HashValue")
        if kind in raw_hashes and raw_hashes[kind]:
            try:
                if normalise_hash(kind, value) != normalise_hash(kind, raw_hashes[kind]):
                    report.warn(number, f"AlternativeHashes {name} differs from the Media's own; the Media's kept")
            except ValueError:
                pass
            continue
        raw_hashes[kind] = value
    if unknown:
        extra[key] = unknown


def _media(record: HashRecord, codes: Mapping[CategoryValue, int] | None, report: WriteReport) -> dict[str, Any]:
    """The VICS 2.0 Media object of ``record``: normalised fields over the record's extras."""
    hashes = record.hashes
    known: dict[str, Any] = {}
    if "md5" in hashes:
        known["MD5"] = hashes["md5"]
    if "sha1" in hashes:
        known["SHA1"] = hashes["sha1"]
    if "photodna" in hashes:
        known["PhotoDNA"] = base64.b64encode(bytes.fromhex(hashes["photodna"])).decode("ascii")
    if record.category is not None:
        value = record.category.value
        code = codes.get(value) if codes is not None else (value if isinstance(value, int) else None)
        if code is None:
            report.warnings.append(
                _warning(record, f"category {record.category.scheme}/{value} has no VICS code; not written")
            )
        else:
            known["Category"] = code
    if record.series is not None:
        known["Series"] = record.series
    if record.comments is not None:
        known["Comments"] = record.comments
    for flag, state in record.flags.items():
        known[_FIELD_BY_FLAG.get(flag, flag)] = state
    alternatives = [
        {**({"MD5": hashes["md5"]} if "md5" in hashes else {}), "HashName": _ALT_NAMES[kind], "HashValue": value}
        for kind, value in hashes.items()
        if kind in _ALT_NAMES
    ]
    taken = {k.lower() for k in known}
    for key, value in record.extra.items():
        if key.lower() == "alternativehashes" and isinstance(value, list):
            alternatives.extend(value)
        elif key.lower() not in taken:
            known[key] = value
    if alternatives:
        known["AlternativeHashes"] = alternatives
    return known


def _warning(record: HashRecord, message: str) -> FormatWarning:
    return FormatWarning(record.position, message)


def vics_codes(mapping: SchemeMapping) -> dict[CategoryValue, int]:
    """The VICS ``Category`` code to write for each value of ``mapping``'s target scheme (its table reversed).

    ``mapping`` must map ``vics-code``s (the numeric codes in a file) to a scheme; where two codes give one
    value, the lowest code is written. ``SchemeError`` for any other mapping.
    """
    if mapping.source != VICS_CODES:
        raise SchemeError(f"mapping {mapping.name!r} maps {mapping.source!r}, not {VICS_CODES!r}")
    codes: dict[CategoryValue, int] = {}
    for code, value in sorted(mapping.table.items(), key=lambda item: int(item[0]) if item[0].isdigit() else -1):
        if not code.isdigit():
            raise SchemeError(f"mapping {mapping.name!r} has a code {code!r} that is not a VICS category byte")
        codes.setdefault(value, int(code))
    return codes


def write_vics(
    records: Iterable[HashRecord],
    out: TextIO,
    *,
    variant: str = "Default",
    case: Mapping[str, Any] | None = None,
    category_codes: Mapping[CategoryValue, int] | None = None,
) -> WriteReport:
    """Stream ``records`` to ``out`` as VICS 2.0 JSON; returns counts. ``variant``: Default, US, UK or CUSTOM."""
    report = WriteReport()
    entity = "Cases" if case is not None else "Media"
    context = CONTEXT_2_0.format(variant=variant, entity=entity)
    out.write("{\n" + json.dumps("@odata.context") + ": " + json.dumps(context) + ',\n"value": [\n')
    indent = ""
    if case is not None:
        fields = {k: v for k, v in case.items() if k.lower() != "media"}
        head = json.dumps(fields, ensure_ascii=False)[:-1]
        out.write(head + (", " if fields else "") + '"Media": [\n')
        indent = "  "
    for record in records:
        if report.written:
            out.write(",\n")
        out.write(indent + json.dumps(_media(record, category_codes, report), ensure_ascii=False))
        report.written += 1
    out.write("\n" + ("]}\n" if case is not None else "") + "]\n}\n")
    return report


VICS = VicsFormat()
