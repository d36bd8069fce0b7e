"""describe() on pickles: a legacy torch.save file is recognised whatever pickle protocol it was written with."""

from __future__ import annotations

import pickle

import pytest

from cairn.signals.models import detect
from cairn.signals.models.describe import describe

MAGIC_NUMBER = 0x1950A86A20F9469CFC6C  # the first pickle of a legacy torch.save file


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
def test_legacy_torch_file_in_any_protocol(protocol: int) -> None:
    # torch.save(obj, f, pickle_protocol=N, _use_new_zipfile_serialization=False) pickles the magic number, the
    # protocol version and the system info, each with protocol N (FRAME from 4 on), then the object
    data = b"".join(
        pickle.dumps(v, protocol=protocol) for v in (MAGIC_NUMBER, 1001, {"little_endian": True}, {"a": 1}, [])
    )
    assert detect.detect(data, len(data)) == detect.PICKLE
    desc = describe(detect.PICKLE, data, len(data))
    assert desc.data["legacy_torch"] is True and desc.dangerous == []
    other = pickle.dumps(12345, protocol=protocol)
    assert describe(detect.PICKLE, other, len(other)).data["legacy_torch"] is False
