"""Finds the signals: every module of ``cairn.signals`` that defines ``SIGNALS`` contributes them.

A new hash type or extractor is one new module with a ``SIGNALS`` list; nothing else to edit. Third-party
packages add theirs through the ``cairn.signals`` entry-point group, through the same path as built-ins.
Names are constants chosen by each signal (never derived from class names) and must be unique.
"""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass
from functools import lru_cache
from importlib.metadata import entry_points

from cairn.signals.base import ImageSignal, StreamSignal

_INFRASTRUCTURE = {"base", "registry"}


@dataclass(frozen=True)
class SignalSet:
    """The registered signals, each kind sorted by (order, name) so runs are reproducible."""

    stream: tuple[StreamSignal, ...]
    image: tuple[ImageSignal, ...]

    @property
    def names(self) -> list[str]:
        return [s.name for s in self.stream] + [s.name for s in self.image]


def _collect(objs: list[object], origin: str, stream: dict[str, StreamSignal], image: dict[str, ImageSignal]) -> None:
    for obj in objs:
        name = getattr(obj, "name", None)
        if not isinstance(name, str) or not name:
            raise TypeError(f"signal {obj!r} from {origin} has no constant name")
        if name in stream or name in image:
            raise ValueError(f"duplicate signal name {name!r} (again in {origin})")
        if hasattr(obj, "start"):
            stream[name] = obj  # type: ignore[assignment]
        elif hasattr(obj, "apply"):
            image[name] = obj  # type: ignore[assignment]
        else:
            raise TypeError(f"signal {name!r} from {origin} is neither a stream nor an image signal")


@lru_cache(maxsize=1)
def signals() -> SignalSet:
    """All signals: built-in modules first, then entry points."""
    import cairn.signals as pkg

    stream: dict[str, StreamSignal] = {}
    image: dict[str, ImageSignal] = {}
    for info in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda m: m.name):
        if info.name in _INFRASTRUCTURE or info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{pkg.__name__}.{info.name}")
        objs = getattr(module, "SIGNALS", None)
        if objs is not None:
            _collect(list(objs), module.__name__, stream, image)
    for ep in entry_points(group="cairn.signals"):
        _collect(list(ep.load()), f"entry point {ep.name}", stream, image)
    return SignalSet(
        stream=tuple(sorted(stream.values(), key=lambda s: (s.order, s.name))),
        image=tuple(sorted(image.values(), key=lambda s: (s.order, s.name))),
    )
