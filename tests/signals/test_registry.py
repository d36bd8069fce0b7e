"""The signal registry finds every built-in module's SIGNALS, in a fixed order, and refuses duplicates."""

from __future__ import annotations

import pytest

from cairn.signals.digests import Digest
from cairn.signals.registry import _collect, signals


def test_builtins_are_found_in_a_reproducible_order() -> None:
    found = signals()
    stream = ["md5", "sha1", "sha256", "ai_model"]  # ai_model after the digests: it reuses their SHA-256
    assert [s.name for s in found.stream] == stream
    image = ["pdq", "thumbnail", "ai_generation", "c2pa", "ai_stealth", "ai_watermark", "ai_detector"]
    assert [s.name for s in found.image] == image
    assert found.names == [*stream, *image]
    assert [(s.order, s.name) for s in found.image] == sorted((s.order, s.name) for s in found.image)


def test_a_duplicate_name_is_refused() -> None:
    stream: dict[str, object] = {}
    image: dict[str, object] = {}
    _collect([Digest("blake2b", "blake2b")], "a plugin", stream, image)  # type: ignore[arg-type]
    assert list(stream) == ["blake2b"]
    with pytest.raises(ValueError, match="duplicate signal name 'blake2b'"):
        _collect([Digest("blake2b", "blake2b")], "another plugin", stream, image)  # type: ignore[arg-type]


def test_an_object_that_is_no_signal_is_refused() -> None:
    class Nameless:
        pass

    with pytest.raises(TypeError, match="no constant name"):
        _collect([Nameless()], "a plugin", {}, {})
