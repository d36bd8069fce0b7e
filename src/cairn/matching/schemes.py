"""Category schemes as data, a ``Category`` that always carries its scheme, and explicit mapping tables.

Promises: a category value is never read without its scheme (Project VIC US 0 "Non-Pertinent" and DHS 0
"Uncategorized" are different values, because their schemes differ); a record with no category is
uncategorised (``None``), never 0; a category moves to another scheme only through a ``SchemeMapping`` the
caller supplies (built in or loaded from a user's JSON file), and ``map_category`` refuses anything else.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

#: A category value: a small integer (VICS/DHS bytes) or a short code (CAID "A", "B", "C", "N").
CategoryValue = int | str

#: The pseudo-scheme of the raw numeric codes an exporting tool writes into a VICS ``Category`` field.
#: Only a mapping table gives them a meaning (UK CAID's codes are set by the exporting tool).
VICS_CODES = "vics-code"


class SchemeError(ValueError):
    """A category that is not in its scheme, or a mapping that was not given or does not apply."""


@dataclass(frozen=True)
class Scheme:
    """A category scheme: its name and what each value means. ``numeric`` schemes have integer values."""

    name: str
    labels: Mapping[CategoryValue, str]
    numeric: bool
    description: str

    def label(self, value: CategoryValue) -> str:
        """The label of ``value``; ``SchemeError`` when the scheme has no such value."""
        try:
            return self.labels[value]
        except KeyError:
            raise SchemeError(f"category {value!r} is not in scheme {self.name!r}") from None

    def parse(self, raw: object) -> CategoryValue:
        """``raw`` (as a file holds it: 1, "1", " a ") as a value of this scheme; ``SchemeError`` otherwise."""
        value: CategoryValue
        if self.numeric:
            if isinstance(raw, bool):
                raise SchemeError(f"category {raw!r} is not a number")
            try:
                value = int(str(raw).strip()) if not isinstance(raw, int) else raw
            except ValueError:
                raise SchemeError(f"category {raw!r} is not a number in scheme {self.name!r}") from None
        else:
            value = str(raw).strip().upper()
        self.label(value)
        return value


@dataclass(frozen=True)
class Category:
    """One category value with its scheme and label. Compare categories only within one scheme."""

    scheme: str
    value: CategoryValue
    label: str

    def as_dict(self) -> dict[str, object]:
        """``{scheme, value, label}``, the shape ``cairn files --format json`` shows."""
        return {"scheme": self.scheme, "value": self.value, "label": self.label}


VIC_US = Scheme(
    "vic-us",
    MappingProxyType(
        {
            0: "Non-Pertinent",
            1: "Child Abuse Material",
            2: "Child Exploitive (non-CAM) / Age Difficult",
            3: "CGI/Animation",
            4: "Comparison images",
        }
    ),
    numeric=True,
    description="Project VIC US (VICS). A realistic AI-generated image is not CGI by default.",
)
DHS = Scheme(
    "dhs",
    MappingProxyType(
        {
            0: "Uncategorized",
            1: "Illegal",
            2: "Age Difficult",
            3: "CGI/Animation",
            4: "Exemplar/Comparison",
            5: "Non-pertinent",
        }
    ),
    numeric=True,
    description="The older US DHS scheme: 0 means uncategorised here, non-pertinent in vic-us.",
)
CAID = Scheme(
    "caid",
    MappingProxyType(
        {
            "A": "Category A (Sentencing Council)",
            "B": "Category B (Sentencing Council)",
            "C": "Category C (Sentencing Council)",
            "N": "Non-indecent",
        }
    ),
    numeric=False,
    description="UK CAID. Numeric codes in a VICS file are the exporting tool's: read them through a mapping.",
)
NONE = Scheme(
    "none",
    MappingProxyType({}),
    numeric=False,
    description="The set carries no categories; every record is uncategorised.",
)

SCHEMES: Mapping[str, Scheme] = MappingProxyType({s.name: s for s in (VIC_US, DHS, CAID, NONE)})


def get_scheme(name: str) -> Scheme:
    """The scheme called ``name``; ``SchemeError`` naming the known ones otherwise."""
    try:
        return SCHEMES[name]
    except KeyError:
        raise SchemeError(f"unknown category scheme {name!r} (known: {', '.join(SCHEMES)})") from None


def category(scheme: str, raw: object) -> Category | None:
    """The ``Category`` that ``raw`` means in ``scheme``; ``None`` when ``raw`` is absent or empty.

    ``SchemeError`` when the value is not in the scheme. Scheme ``none`` gives ``None`` for every value.
    """
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    if isinstance(raw, int | str | float):  # what files hold: cached, as a set repeats a handful of values
        return _category(scheme, type(raw).__name__, raw)
    return _make_category(scheme, raw)


@functools.lru_cache(maxsize=4096)
def _category(scheme: str, kind: str, raw: object) -> Category | None:
    """``category`` for hashable raw values; ``kind`` keeps 1, 1.0 and True apart in the cache."""
    return _make_category(scheme, raw)


def _make_category(scheme: str, raw: object) -> Category | None:
    found = get_scheme(scheme)
    if found is NONE:
        return None
    value = found.parse(raw)
    return Category(found.name, value, found.label(value))


@dataclass(frozen=True)
class SchemeMapping:
    """An explicit table from the values of one scheme (or the raw ``vics-code``s) to another scheme's."""

    source: str
    target: str
    table: Mapping[str, CategoryValue]  # keys as text: "1", "A"
    name: str = ""

    def lookup(self, raw: object) -> Category | None:
        """The target category the table gives ``raw``, ``None`` for an absent value; ``SchemeError`` if unlisted."""
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            return None
        key = _key(raw)
        if key not in self.table:
            raise SchemeError(f"category {raw!r} of {self.source!r} is not in mapping {self.name or self.target!r}")
        return category(self.target, self.table[key])


def _key(raw: object) -> str:
    """A table key for a raw value: its text, stripped; upper-case for letters ("a" and "A" are one code)."""
    return str(raw.value if isinstance(raw, Category) else raw).strip().upper()


def map_category(value: Category | None, target: str, mapping: SchemeMapping | None = None) -> Category | None:
    """``value`` in scheme ``target``: unchanged when already there, else only through ``mapping``.

    Refuses (``SchemeError``) with no mapping, with a mapping for other schemes, or for a value the table does
    not list. ``None`` (uncategorised) stays ``None``: no table turns "no category" into a category.
    """
    if value is None:
        return None
    if value.scheme == target:
        return value
    if mapping is None:
        raise SchemeError(f"no mapping table given from {value.scheme!r} to {target!r}; schemes are never conflated")
    if mapping.source != value.scheme or mapping.target != target:
        raise SchemeError(
            f"mapping {mapping.name or '(unnamed)'} maps {mapping.source!r} -> {mapping.target!r}, "
            f"not {value.scheme!r} -> {target!r}"
        )
    return mapping.lookup(value.value)


def load_mapping(path: Path) -> SchemeMapping:
    """A user's mapping file: JSON ``{"source": S, "target": T, "table": {"1": "A", ...}, "name": N}``.

    ``source`` is a scheme name or ``vics-code`` (the numeric codes a tool wrote into VICS ``Category``);
    every target value must be in the target scheme. ``SchemeError`` says what is wrong with the file.
    """
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SchemeError(f"cannot read mapping file {path}: {exc}") from exc
    return mapping_from_dict(data, default_name=path.stem)


def mapping_from_dict(data: object, default_name: str = "") -> SchemeMapping:
    """A ``SchemeMapping`` from already-parsed JSON, checked as ``load_mapping`` describes."""
    if not isinstance(data, dict):
        raise SchemeError("a mapping file holds one JSON object")
    source, target, table = data.get("source"), data.get("target"), data.get("table")
    if not isinstance(source, str) or (source != VICS_CODES and source not in SCHEMES):
        raise SchemeError(f"mapping source {source!r} is not a scheme or {VICS_CODES!r}")
    if not isinstance(target, str) or target not in SCHEMES:
        raise SchemeError(f"mapping target {target!r} is not a scheme")
    if not isinstance(table, dict) or not table:
        raise SchemeError("mapping table must be a non-empty object of source value -> target value")
    scheme = get_scheme(target)
    checked: dict[str, CategoryValue] = {}
    for key, raw in table.items():
        if isinstance(raw, bool) or not isinstance(raw, int | str):
            raise SchemeError(f"mapping value {raw!r} for {key!r} is not a category value")
        value = scheme.parse(raw)
        checked[_key(key)] = value
    name = data.get("name", default_name)
    return SchemeMapping(source, target, MappingProxyType(checked), str(name))
