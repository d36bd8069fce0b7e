"""Orchestration of a demo "seized drive": the contributor registry and ``generate``.

Each contributor writes one kind of content and returns its manifest entries; adding a kind of content
(AI-metadata images, model files, videos, ...) is one new module and one line in ``CONTRIBUTORS``, placed
before ``filler``, which runs last and tops the tree up to the target count.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from cairn.demo.ai_models import ai_models
from cairn.demo.ai_samples import ai_samples
from cairn.demo.containers import containers
from cairn.demo.context import Contributor, DemoContext
from cairn.demo.filler import filler
from cairn.demo.manifest import DemoEntry, DemoManifest
from cairn.demo.oddities import oddities
from cairn.demo.pictures import pictures
from cairn.demo.variants import variants

#: Entry counts the named sizes aim at (archive members included).
SIZES: dict[str, int] = {"small": 100, "medium": 1_000, "large": 11_500}

#: The registry, in run order. ``filler`` must stay last.
CONTRIBUTORS: tuple[Contributor, ...] = (pictures, variants, containers, oddities, ai_samples, ai_models, filler)


class DemoError(ValueError):
    """The demo tree cannot be generated as asked (bad size, non-empty output directory, ...)."""


def parse_size(size: str | int) -> tuple[str, int]:
    """``"small"|"medium"|"large"`` or a positive count (int or digits) -> (scale name, target count)."""
    if isinstance(size, int) and not isinstance(size, bool):
        count = size
    elif isinstance(size, str) and size.strip().lower() in SIZES:
        name = size.strip().lower()
        return name, SIZES[name]
    elif isinstance(size, str) and size.strip().isdigit():
        count = int(size.strip())
    else:
        raise DemoError(f"size must be small, medium, large or a positive number, not {size!r}")
    if count <= 0:
        raise DemoError(f"size must be a positive number of files, not {count}")
    return "custom", count


def generate(
    out_dir: Path,
    size: str | int = "small",
    seed: int = 7,
    progress: Callable[[int], None] | None = None,
    contributors: Sequence[Contributor] = CONTRIBUTORS,
) -> DemoManifest:
    """Write a deterministic, benign demo evidence tree into ``out_dir`` and return its manifest.

    ``out_dir`` must be missing or an empty directory (``DemoError`` otherwise). The same ``seed`` and
    ``size`` give byte-identical files with identical times. ``progress`` receives the running count of
    entries. The tree holds at least the fixed set of every contributor, so a ``size`` below that count
    yields the fixed set only. The manifest is returned, never written into ``out_dir``.
    """
    scale, target = parse_size(size)
    out_dir = Path(out_dir)
    if out_dir.exists():
        if not out_dir.is_dir():
            raise DemoError(f"{out_dir} exists and is not a directory")
        if any(out_dir.iterdir()):
            raise DemoError(f"refusing to write demo evidence into non-empty directory {out_dir}")
    out_dir.mkdir(parents=True, exist_ok=True)
    ctx = DemoContext(out_dir, seed, scale, target, progress)
    entries: list[DemoEntry] = []
    seen: set[str] = set()
    for contrib in contributors:
        produced = contrib(ctx)
        for entry in produced:
            if entry.path in seen:
                raise RuntimeError(f"contributor {contrib.name!r} repeated the entry {entry.path!r}")
            seen.add(entry.path)
        entries.extend(produced)
        ctx.done = len(entries)
        ctx.report(0)
    ctx.fix_dir_times()
    return DemoManifest(seed, scale, target, tuple(sorted(entries, key=lambda e: e.path)))
