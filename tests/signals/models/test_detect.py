"""Format detection from a file's first bytes: protocol 0 and 1 pickles (no magic at all), legacy torch.save files
in any pickle protocol, and text that only looks like the start of a pickle. Every pickle here is benign and
hand-made; none is ever loaded."""

from __future__ import annotations

import collections
import pickle

import pytest

from cairn.signals.models import detect

NEVER = "cairn_test_never_imported_xyz"


def _reduce(module: str, name: str, arg: str) -> bytes:
    """A protocol-0 pickle that would call module.name(arg): GLOBAL, MARK, STRING, TUPLE, REDUCE, STOP."""
    return f"c{module}\n{name}\n(S'{arg}'\ntR.".encode()


@pytest.mark.parametrize(
    "data",
    [
        _reduce(NEVER, "system", "echo bicycle"),
        f"(S'echo beach'\ni{NEVER}\nrun\np0\n.".encode(),  # INST after a MARK
        f"S'{NEVER}'\nS'run'\n".encode() + b"\x93S'ls'\n\x85R.",  # STACK_GLOBAL in a protocol-0 stream
        pickle.dumps(collections.OrderedDict(a=1), protocol=1),
        pickle.dumps(collections.OrderedDict(a=1), protocol=0),
        b"\x80\x01" + _reduce(NEVER, "system", "echo proto 1"),  # a PROTO 1 that Python itself never writes
    ],
)
def test_protocol_0_and_1_pickles_that_import_are_pickles(data: bytes) -> None:
    assert detect.detect(data, len(data)) == detect.PICKLE


def test_a_head_cut_from_a_longer_pickle_is_one_a_whole_file_that_ends_early_is_not() -> None:
    data = f"c{NEVER}\nsystem\n(S'{'x' * 200}'\ntR.".encode()
    head = data[:40]  # ends inside the string
    assert detect.detect(head, len(data)) == detect.PICKLE
    assert detect.detect(head, None) == detect.PICKLE
    assert detect.detect(head, len(head)) is None  # nothing a loader could run: it fails at the cut


@pytest.mark.parametrize(
    "data",
    [
        b"cat\ndog\n",  # a GLOBAL, then the file ends: no STOP
        b"class Bicycle:\n    wheels = 2\n",
        b"config\nname\nvalue\n",
        b"(lp0\nI1\naI2\na.",  # a protocol-0 list: a pickle, but it imports nothing
        b"Subject: a red bicycle on a beach\n",
        b"\x80\x01" + b"\x00" * 40,
        b"\x80\x06" + b"N.",  # no such protocol
        b"",
    ],
)
def test_text_and_import_free_pickles_are_not_model_files(data: bytes) -> None:
    assert detect.detect(data, len(data)) is None


def test_protocol_2_and_later_pickles_need_no_walk() -> None:
    assert detect.detect(b"\x80\x02N.", 4) == detect.PICKLE
    assert detect.detect(b"\x80\x05garbage", 9) == detect.PICKLE


@pytest.mark.parametrize("frame", [b"", b"\x95" + (14).to_bytes(8, "little")])
@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_legacy_torch_magic_in_any_protocol(protocol: int, frame: bytes) -> None:
    magic = detect.TORCH_LEGACY_MAGIC[2:]  # LONG1 of the magic number
    head = bytes([0x80, protocol]) + (frame if protocol >= 4 else b"") + magic + b"."
    assert detect.is_torch_legacy(head)
    assert not detect.is_torch_legacy(bytes([0x80, protocol]) + frame + b"\x8a\x0a" + bytes(10) + b".")
    assert not detect.is_torch_legacy(b"\x80\x02N.")
