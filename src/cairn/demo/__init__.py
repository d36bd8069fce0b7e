"""Deterministic, benign demo evidence: ``generate(out_dir, size, seed)`` and its ``DemoManifest``."""

from cairn.demo.context import Contributor, DemoContext, contributor
from cairn.demo.generator import CONTRIBUTORS, SIZES, DemoError, generate, parse_size
from cairn.demo.manifest import DemoEntry, DemoManifest

__all__ = [
    "CONTRIBUTORS",
    "SIZES",
    "Contributor",
    "DemoContext",
    "DemoEntry",
    "DemoError",
    "DemoManifest",
    "contributor",
    "generate",
    "parse_size",
]
