"""Static pickle inspection: tensors of hand-written torch-style state dicts, flagged imports with their call
arguments (and proof that nothing was imported or run), nested pickles, legacy and zip checkpoints, and hostile
pickles that must end as bounded errors. Every pickle here is benign and built in the test; torch is optional."""

from __future__ import annotations

import base64
import builtins
import collections
import importlib.util
import io
import pickle
import random
import struct
import sys
import time
import tracemalloc
import zipfile
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest

from cairn.signals.models import pickles
from cairn.signals.models.pickles import (
    ALLOWED,
    PickleLimits,
    PickleReport,
    inspect_pickle,
    inspect_pickles_in_a_row,
    inspect_torch_zip,
)

NEVER = "cairn_test_never_imported_xyz"  # a module that does not exist: importing it would fail loudly

# --------------------------------------------------------------------------------------------------- writers


def _str(s: str) -> bytes:
    raw = s.encode()
    return b"X" + struct.pack("<I", len(raw)) + raw


def _int(i: int) -> bytes:
    if 0 <= i < 256:
        return b"K" + bytes([i])
    if 0 <= i < 65536:
        return b"M" + struct.pack("<H", i)
    return b"J" + struct.pack("<i", i)


def _tuple(parts: list[bytes]) -> bytes:
    if not parts:
        return b")"
    if len(parts) <= 3:
        return b"".join(parts) + bytes([0x84 + len(parts)])
    return b"(" + b"".join(parts) + b"t"


def _global(module: str, name: str) -> bytes:
    return b"c" + f"{module}\n{name}\n".encode()


class TorchWriter:
    """Emits protocol-2 opcodes the way torch.save writes a state dict: globals and repeated strings memoized
    (BINPUT, LONG_BINPUT past 255) and fetched again with BINGET/LONG_BINGET, a persistent-id tuple per
    storage, REDUCE of torch._utils._rebuild_tensor_v2, SETITEMS into an OrderedDict."""

    def __init__(self, legacy: bool = False) -> None:
        self.memo: dict[object, int] = {}
        self.legacy = legacy

    def _put(self) -> bytes:
        idx = len(self.memo)
        return b"q" + bytes([idx]) if idx < 256 else b"r" + struct.pack("<I", idx)

    def memoized(self, key: object, emit: bytes) -> bytes:
        if key in self.memo:
            idx = self.memo[key]
            return b"h" + bytes([idx]) if idx < 256 else b"j" + struct.pack("<I", idx)
        out = emit + self._put()
        self.memo[key] = len(self.memo)
        return out

    def fresh(self, emit: bytes) -> bytes:
        out = emit + self._put()
        self.memo[object()] = len(self.memo)
        return out

    def glob(self, module: str, name: str) -> bytes:
        return self.memoized(("global", module, name), _global(module, name))

    def ordered_dict(self) -> bytes:
        return self.fresh(self.glob("collections", "OrderedDict") + b")R")

    def tensor(self, storage: str, key: str, shape: tuple[int, ...], *, v3_dtype: str = "", offset: int = 0) -> bytes:
        numel = 1
        for d in shape:
            numel *= d
        stride = [1] * len(shape)
        for i in range(len(shape) - 2, -1, -1):
            stride[i] = stride[i + 1] * shape[i + 1]
        storage_type = self.glob("torch.storage", "UntypedStorage") if v3_dtype else self.glob("torch", storage)
        pid_parts = [
            self.memoized("storage", _str("storage")),
            storage_type,
            self.fresh(_str(key)),
            self.memoized("cpu", _str("cpu")),
            _int(numel),
        ]
        if self.legacy:
            pid_parts.append(b"N")
        args = [
            self.fresh(_tuple(pid_parts)) + b"Q",
            _int(offset),
            self.fresh(_tuple([_int(d) for d in shape])),
            self.fresh(_tuple([_int(s) for s in stride])),
            b"\x89",
            self.ordered_dict(),
        ]
        func = "_rebuild_tensor_v2"
        if v3_dtype:
            args.append(self.glob("torch", v3_dtype))
            func = "_rebuild_tensor_v3"
        return self.fresh(self.glob("torch._utils", func) + self.fresh(b"(" + b"".join(args) + b"t") + b"R")

    def state_dict_body(self, entries: list[tuple[str, str, str, tuple[int, ...]]]) -> bytes:
        out = self.ordered_dict() + b"("
        for name, storage, key, shape in entries:
            out += self.fresh(_str(name)) + self.tensor(storage, key, shape)
        return out + b"u"

    def state_dict(self, entries: list[tuple[str, str, str, tuple[int, ...]]]) -> bytes:
        return b"\x80\x02" + self.state_dict_body(entries) + b"."


ENTRIES = [
    ("model.diffusion_model.input_blocks.0.0.weight", "HalfStorage", "0", (320, 4, 3, 3)),
    ("model.diffusion_model.input_blocks.0.0.bias", "FloatStorage", "1", (320,)),
    ("cond_stage_model.embeddings", "BFloat16Storage", "2", (77, 768)),
    ("step", "LongStorage", "3", ()),
]
DTYPES = {"HalfStorage": "float16", "FloatStorage": "float32", "BFloat16Storage": "bfloat16", "LongStorage": "int64"}


def evil(module: str, name: str, *args: str) -> bytes:
    """A pickle that would call module.name(*args) - built by hand, never loaded."""
    return b"\x80\x02" + _global(module, name) + _tuple([_str(a) for a in args]) + b"R."


class _Reduce:
    """A harmless object whose pickle calls ``func(*args)`` on load (pickle.dumps only looks the func up)."""

    def __init__(self, func: Callable[..., object], *args: object) -> None:
        self.func, self.args = func, args

    def __reduce__(self) -> tuple[Callable[..., object], tuple[object, ...]]:
        return self.func, self.args


def _only_disallowed(rep: PickleReport) -> list[str]:
    return [i.qualname for i in rep.imports if not i.allowed]


@pytest.fixture
def no_imports(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Records every import made while the test runs; loading pickles is made to fail loudly."""
    seen: list[str] = []
    real_import = builtins.__import__

    def spy(name: str, *args: Any, **kwargs: Any) -> Any:
        seen.append(name)
        return real_import(name, *args, **kwargs)

    def forbidden(*args: object, **kwargs: object) -> None:
        raise AssertionError("a pickle was loaded")

    monkeypatch.setattr(builtins, "__import__", spy)
    monkeypatch.setattr(pickle, "loads", forbidden)
    monkeypatch.setattr(pickle, "load", forbidden)
    monkeypatch.setattr(pickle, "Unpickler", forbidden)
    yield seen


# --------------------------------------------------------------------------------------------------- tensors


def test_state_dict_tensors_recovered_exactly() -> None:
    data = TorchWriter().state_dict(ENTRIES)
    rep = inspect_pickle(data)
    assert rep.errors == []
    assert rep.complete and rep.protocol == 2 and rep.length == len(data)
    assert [(t.name, t.dtype, t.shape, t.storage_key) for t in rep.tensors] == [
        (name, DTYPES[storage], shape, key) for name, storage, key, shape in ENTRIES
    ]
    assert all(t.path == t.name and t.location == "cpu" for t in rep.tensors)
    assert rep.dangerous == []
    assert {i.qualname for i in rep.imports} == {
        "collections.OrderedDict",
        "torch._utils._rebuild_tensor_v2",
        "torch.HalfStorage",
        "torch.FloatStorage",
        "torch.BFloat16Storage",
        "torch.LongStorage",
    }
    assert all(i.allowed and i.category in ("torch", "python") and i.calls == () for i in rep.imports)


def test_many_tensors_through_long_memo_indices() -> None:
    entries = [(f"layers.{i}.weight", "FloatStorage", str(i), (i % 5 + 1, 3)) for i in range(400)]
    data = TorchWriter().state_dict(entries)
    assert b"r" in data and b"j" in data  # LONG_BINPUT / LONG_BINGET were written
    rep = inspect_pickle(memoryview(data))
    assert rep.errors == [] and not rep.truncated_tensors
    assert [(t.name, t.shape, t.storage_key) for t in rep.tensors] == [(n, s, k) for n, _, k, s in entries]


def test_tensor_limit_keeps_the_first_and_flags_the_cut() -> None:
    entries = [(f"w{i}", "FloatStorage", str(i), (2,)) for i in range(30)]
    rep = inspect_pickle(TorchWriter().state_dict(entries), limits=PickleLimits(max_tensors=10))
    assert rep.truncated_tensors and [t.name for t in rep.tensors] == [f"w{i}" for i in range(10)]


def test_checkpoint_dict_gives_paths_and_keeps_keys_as_names() -> None:
    w = TorchWriter()
    body = w.state_dict_body(ENTRIES[:2])
    data = b"\x80\x02}q\xff(" + _str("state_dict") + body + _str("epoch") + _int(3) + b"u."
    rep = inspect_pickle(data)
    assert rep.errors == []
    assert [t.name for t in rep.tensors] == [ENTRIES[0][0], ENTRIES[1][0]]
    assert [t.path for t in rep.tensors] == [f"state_dict.{ENTRIES[0][0]}", f"state_dict.{ENTRIES[1][0]}"]


def test_v3_dtype_argument_parameter_and_view_offset() -> None:
    w = TorchWriter()  # its memo follows the order of emission: emit in byte order
    data = b"\x80\x02" + w.ordered_dict() + b"(" + _str("f8") + w.tensor("", "5", (4,), v3_dtype="float8_e4m3fn")
    data += _str("p") + w.glob("torch._utils", "_rebuild_parameter") + w.tensor("HalfStorage", "6", (2, 2)) + b"\x88"
    data += w.ordered_dict() + b"\x87R"
    data += _str("v") + w.tensor("FloatStorage", "6", (3,), offset=1) + b"u."
    rep = inspect_pickle(data)
    assert rep.errors == [] and rep.dangerous == []
    assert [(t.name, t.dtype, t.shape, t.storage_key, t.storage_offset) for t in rep.tensors] == [
        ("f8", "float8_e4m3fn", (4,), "5", 0),
        ("p", "float16", (2, 2), "6", 0),
        ("v", "float32", (3,), "6", 1),
    ]


# --------------------------------------------------------------------------------------------------- policy


def test_allowlist_policy() -> None:
    for needed in [
        ("torch._utils", "_rebuild_tensor"),
        ("torch._utils", "_rebuild_tensor_v2"),
        ("torch._utils", "_rebuild_parameter"),
        ("torch._utils", "_rebuild_parameter_with_state"),
        ("torch._utils", "_rebuild_qtensor"),
        ("torch._utils", "_rebuild_sparse_tensor"),
        ("torch._utils", "_rebuild_device_tensor_from_numpy"),
        ("torch._utils", "_rebuild_meta_tensor_no_storage"),
        ("torch", "FloatStorage"),
        ("torch", "BoolStorage"),
        ("torch", "float16"),
        ("torch", "bfloat16"),
        ("torch", "Size"),
        ("collections", "OrderedDict"),
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
    ]:
        assert needed in ALLOWED, needed
    for never in [
        ("builtins", "getattr"),
        ("builtins", "eval"),
        ("builtins", "exec"),
        ("builtins", "__import__"),
        ("os", "system"),
        ("posix", "system"),
        ("nt", "system"),
        ("subprocess", "Popen"),
        ("runpy", "_run_code"),
        ("webbrowser", "open"),
        ("socket", "socket"),
        ("torch.storage", "_load_from_bytes"),
        ("pytorch_lightning.callbacks.model_checkpoint", "ModelCheckpoint"),
        ("copyreg", "_reconstructor"),
    ]:
        assert never not in ALLOWED, never
    assert pickles.ALLOWED_CATEGORY["numpy", "ndarray"] == "numpy"


def test_notes_and_aliases_on_hand_written_globals() -> None:
    body = b"".join(
        _global(m, n) + b"0"
        for m, n in [
            ("torch.storage", "_load_from_bytes"),
            ("posix", "system"),
            ("pytorch_lightning.callbacks.model_checkpoint", "ModelCheckpoint"),
            ("__builtin__", "set"),
            ("__builtin__", "eval"),
            ("torch", "_utils._rebuild_tensor_v2"),
        ]
    )
    rep = inspect_pickle(b"\x80\x02" + body + b"N.")
    assert rep.errors == []
    got = {(i.module, i.name): (i.allowed, i.note) for i in rep.imports}
    assert got["torch.storage", "_load_from_bytes"][0] is False
    assert "nested pickle" in got["torch.storage", "_load_from_bytes"][1]
    assert got["posix", "system"] == (False, "can run code or reach the operating system")
    assert got["pytorch_lightning.callbacks.model_checkpoint", "ModelCheckpoint"] == (False, "")
    assert got["builtins", "set"] == (True, "")  # protocol-2 spelling of builtins
    assert got["builtins", "eval"][0] is False
    assert got["torch", "_utils._rebuild_tensor_v2"][0] is False
    assert [i.offset for i in rep.imports][:2] == [2, 2 + len(_global("torch.storage", "_load_from_bytes")) + 1]


@pytest.mark.parametrize("protocol", range(6))
def test_ordinary_python_and_numpy_values_are_clean(protocol: int) -> None:
    value = {
        "text": "a red bicycle on a beach",
        "ints": [0, 1, -1, 255, 65535, 2**31, -(2**63), 10**30],
        "floats": (0.5, -1e300),
        "flags": [True, False, None],
        "raw": b"\x00\x01 bytes",
        "buf": bytearray(b"abc"),
        "set": {1, 2},
        "frozen": frozenset({"beach"}),
        "odict": collections.OrderedDict(a=1),
        "complex": 1 + 2j,
        "slice": slice(1, 5, 2),
        "array": np.arange(6, dtype=np.float16).reshape(2, 3),
        "scalar": np.float64(0.25),
    }
    data = pickle.dumps(value, protocol=protocol)
    rep = inspect_pickle(data)
    assert rep.errors == [] and rep.complete and rep.length == len(data)
    assert rep.dangerous == []
    assert any(i.category == "numpy" for i in rep.imports)


# --------------------------------------------------------------------------------------------------- dangerous


def test_disallowed_callable_flagged_with_argument_and_never_run(
    capsys: pytest.CaptureFixture[str], no_imports: list[str]
) -> None:
    for protocol in (0, 2, 4):
        data = pickle.dumps(_Reduce(print, "hello from a pickle"), protocol=protocol)
        rep = inspect_pickle(data)
        assert rep.errors == []
        [imp] = rep.dangerous
        assert (imp.module, imp.name, imp.allowed, imp.calls) == ("builtins", "print", False, ("hello from a pickle",))
    assert capsys.readouterr().out == ""


def test_unknown_module_is_never_imported(no_imports: list[str]) -> None:
    data = evil(NEVER, "boom", "echo hello")
    rep = inspect_pickle(data)
    assert rep.errors == [] and rep.complete
    [imp] = rep.dangerous
    assert (imp.qualname, imp.calls, imp.offset) == (f"{NEVER}.boom", ("echo hello",), 2)
    assert NEVER not in sys.modules
    assert not any(NEVER in name for name in no_imports)
    assert importlib.util.find_spec(NEVER) is None  # it really does not exist: an import would have raised


def test_stack_global_and_os_getcwd() -> None:
    import os

    rep = inspect_pickle(pickle.dumps(_Reduce(os.getcwd), protocol=4))
    assert b"\x93" in pickle.dumps(_Reduce(os.getcwd), protocol=4)  # STACK_GLOBAL
    [imp] = rep.dangerous
    assert imp.module in ("posix", "nt") and imp.name == "getcwd"
    assert imp.note == "can run code or reach the operating system"


def test_calls_through_a_computed_callable_are_recorded() -> None:
    # getattr(__import__('os'), 'system')('echo hi') - the classic chain, written by hand
    data = (
        b"\x80\x02"
        + _global("builtins", "getattr")
        + _global("builtins", "__import__")
        + _str("os")
        + b"\x85R"
        + _str("system")
        + b"\x86R"
        + _str("echo hi")
        + b"\x85R."
    )
    rep = inspect_pickle(data)
    assert rep.errors == []
    got = {i.qualname: i.calls for i in rep.dangerous}
    assert got == {
        "builtins.getattr": ("builtins.__import__('os')", "system", "echo hi"),
        "builtins.__import__": ("os",),
    }


def test_inst_obj_newobj_ex_and_build_record_arguments() -> None:
    inst = b"(S'hello'\ni" + f"{NEVER}\nInst\n".encode()
    obj = b"(" + _global(NEVER, "Obj") + _int(7) + b"o0"
    newobj_ex = _global(NEVER, "Ex") + _tuple([_str("a")]) + b"}" + _str("key") + _str("v") + b"s\x920"
    build = _global(NEVER, "Built") + b")R}" + _str("state") + _int(1) + b"sb0"
    rep = inspect_pickle(b"\x80\x04" + obj + newobj_ex + build + inst + b".")
    assert rep.errors == []
    got = {i.name: i.calls for i in rep.dangerous}
    assert got == {"Obj": ("7",), "Ex": ("a", "key='v'"), "Built": ("{'state': 1}",), "Inst": ("hello",)}


def test_rebuild_from_type_v2_follows_the_inner_call() -> None:
    # _rebuild_from_type_v2(func, new_type, args, state) calls func(*args): a hostile func is followed
    args = _global(NEVER, "hook") + _global("torch", "Tensor") + _tuple([_str("x")]) + b"}"
    data = b"\x80\x02" + _global("torch._tensor", "_rebuild_from_type_v2") + b"(" + args + b"tR."
    rep = inspect_pickle(data)
    assert [(i.qualname, i.calls) for i in rep.dangerous] == [(f"{NEVER}.hook", ("x",))]


# --------------------------------------------------------------------------------------------------- nested


INNER = evil(NEVER, "nested", "echo nested")


@pytest.mark.parametrize(
    ("value", "how"),
    [
        (INNER, "bytes"),
        (base64.b64encode(INNER).decode(), "base64"),
        (base64.urlsafe_b64encode(INNER), "base64"),
        (INNER.hex(), "hex"),
        (INNER.hex().upper().encode(), "hex"),
    ],
)
@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
def test_nested_pickle_found(value: object, how: str, protocol: int) -> None:
    outer = pickle.dumps({"blob": value, "note": "a red bicycle"}, protocol=protocol)
    rep = inspect_pickle(outer)
    assert rep.errors == []
    assert _only_disallowed(rep) == []  # the outer pickle itself imports nothing disallowed ...
    [(where, sub)] = rep.nested
    if how == "bytes" and protocol == 2:
        how = "latin-1 text"  # protocol 2 writes bytes as _codecs.encode(text, 'latin1')
    assert where.startswith("value at offset ") and where.endswith(f"({how})")
    assert sub.complete and _only_disallowed(sub) == [f"{NEVER}.nested"]
    assert [i.qualname for i in rep.dangerous] == [f"{NEVER}.nested"]  # ... but its nested one does


def test_load_from_bytes_with_its_nested_pickle() -> None:
    data = b"\x80\x02" + _global("torch.storage", "_load_from_bytes") + b"C" + bytes([len(INNER)]) + INNER + b"\x85R."
    rep = inspect_pickle(data)
    assert [i.qualname for i in rep.dangerous] == ["torch.storage._load_from_bytes", f"{NEVER}.nested"]
    assert len(rep.nested) == 1


def test_nested_depth_is_bounded() -> None:
    data = INNER
    for _ in range(5):
        data = pickle.dumps({"next": base64.b64encode(data).decode()}, protocol=4)
    rep = inspect_pickle(data)
    depth, cur = 0, rep
    while cur.nested:
        cur = cur.nested[0][1]
        depth += 1
    assert depth == 3
    assert any("deeper than 3 levels" in e for e in cur.errors)


def test_text_that_merely_starts_like_a_pickle_is_not_reported() -> None:
    rep = inspect_pickle(pickle.dumps(["gA not base64 at all", "8002zz", b"\x80\x02garbage"], protocol=4))
    assert rep.errors == [] and rep.nested == []


# --------------------------------------------------------------------------------------------------- legacy files


def _legacy_file(tail: bytes) -> tuple[bytes, bytes]:
    w = TorchWriter(legacy=True)
    state = w.state_dict(ENTRIES[:2])
    parts = [
        pickle.dumps(0x1950A86A20F9469CFC6C, protocol=2),
        pickle.dumps(1001, protocol=2),
        pickle.dumps({"protocol_version": 1001, "little_endian": True, "type_sizes": {"int": 4}}, protocol=2),
        state,
        pickle.dumps(["0", "1"], protocol=2),
    ]
    return b"".join(parts) + tail, state


def test_pickles_in_a_row_stop_at_the_raw_storage_bytes() -> None:
    raw = struct.pack("<q", 0x2E4E) + b"\x00" * 64  # a size that reads as the tiny pickle b'N.'
    data, state = _legacy_file(raw)
    reps = inspect_pickles_in_a_row(data)
    assert len(reps) == 5 and all(r.complete and r.errors == [] for r in reps)
    assert [r.start for r in reps[1:]] == [reps[i].start + reps[i].length for i in range(4)]
    assert reps[4].start + reps[4].length == len(data) - len(raw)
    assert [(t.name, t.storage_key) for t in reps[3].tensors] == [(n, k) for n, _, k, _ in ENTRIES[:2]]
    assert len(inspect_pickles_in_a_row(data, limit=2)) == 2


def test_pickles_in_a_row_keeps_a_damaged_one_and_garbage_first() -> None:
    data, state = _legacy_file(b"")
    cut = data[:-5]  # ends inside the storage-keys pickle
    reps = inspect_pickles_in_a_row(cut)
    assert len(reps) == 5 and not reps[4].complete and reps[4].errors
    [only] = inspect_pickles_in_a_row(b"\x01\x02 not a pickle")
    assert not only.complete and "unknown opcode" in only.errors[0]


# --------------------------------------------------------------------------------------------------- zip


class _Unseekable(io.RawIOBase):
    """A write-only stream: zipfile then writes sizes after each member (flag bit 3), as torch does."""

    def __init__(self) -> None:
        self.data = bytearray()

    def writable(self) -> bool:
        return True

    def write(self, b: Any) -> int:
        self.data += bytes(b)
        return len(b)


def _torch_zip(pkl: bytes, *, method: int = zipfile.ZIP_STORED, unseekable: bool = False, zip64: bool = False) -> bytes:
    stream: Any = _Unseekable() if unseekable else io.BytesIO()
    with zipfile.ZipFile(stream, "w", compression=method) as z:
        for name, content in [
            ("archive/data.pkl", pkl),
            ("archive/byteorder", b"little"),
            ("archive/data/0", b"\x00" * 4096),
            ("archive/data/1", b"PK\x07\x08" + b"\x01" * 1000),  # tensor bytes that look like a descriptor
            ("archive/version", b"3\n"),
            ("archive/.data/serialization_id", b"1234567890"),
        ]:
            info = zipfile.ZipInfo(name)
            info.compress_type = method
            with z.open(info, "w", force_zip64=zip64) as f:
                f.write(content)
    return bytes(stream.data if unseekable else stream.getvalue())


MEMBERS = [
    "archive/data.pkl",
    "archive/byteorder",
    "archive/data/0",
    "archive/data/1",
    "archive/version",
    "archive/.data/serialization_id",
]


@pytest.mark.parametrize("kind", ["stored", "bit3", "deflated", "deflated_bit3", "zip64", "zip64_bit3"])
def test_torch_zip_members_and_tensors(kind: str) -> None:
    pkl = TorchWriter().state_dict(ENTRIES[:2])
    method = zipfile.ZIP_DEFLATED if kind.startswith("deflated") else zipfile.ZIP_STORED
    data = _torch_zip(pkl, method=method, unseekable="bit3" in kind, zip64=kind.startswith("zip64"))
    assert bool(struct.unpack_from("<H", data, 6)[0] & 8) == ("bit3" in kind)
    csize, name_len = struct.unpack_from("<I", data, 18)[0], struct.unpack_from("<H", data, 26)[0]
    assert (csize == 0xFFFFFFFF and data[30 + name_len : 32 + name_len] == b"\x01\x00") == kind.startswith("zip64")
    rep = inspect_torch_zip(data)
    assert rep.errors == [] and rep.complete and rep.end_of_archive
    assert rep.prefix == "archive" and rep.members == MEMBERS and rep.member_count == 6 and rep.tensor_records == 2
    assert (rep.version, rep.byteorder) == ("3", "little") or method == zipfile.ZIP_DEFLATED
    assert [(t.name, t.dtype, t.shape, t.storage_key) for t in rep.tensors] == [
        (n, DTYPES[s], shape, k) for n, s, k, shape in ENTRIES[:2]
    ]
    assert rep.dangerous == []


@pytest.mark.parametrize("unseekable", [False, True])
def test_torch_zip_prefix_ending_inside_data_pkl(unseekable: bool) -> None:
    pkl = TorchWriter().state_dict(ENTRIES)
    data = _torch_zip(pkl, unseekable=unseekable)
    at = data.index(pkl)
    rep = inspect_torch_zip(data[: at + len(pkl) // 2])
    assert not rep.complete and rep.prefix == "archive"
    assert any("data.pkl" in e and "partial" in e for e in rep.errors)
    partial = rep.pickles["archive/data.pkl"]
    assert not partial.complete and partial.errors and partial.imports  # what was read is still reported
    # a prefix that ends inside a tensor record after data.pkl is complete
    rep = inspect_torch_zip(data[: data.index(b"\x00" * 4096) + 100])
    assert rep.complete and len(rep.tensors) == len(ENTRIES) and rep.errors == [] and not rep.end_of_archive


def test_torch_zip_with_a_dangerous_pickle_and_a_second_pkl() -> None:
    stream = io.BytesIO()
    with zipfile.ZipFile(stream, "w") as z:
        z.writestr("archive/data.pkl", evil(NEVER, "zipped", "echo zip"))
        z.writestr("archive/constants.pkl", pickle.dumps((1, 2), protocol=2))
    rep = inspect_torch_zip(stream.getvalue())
    assert rep.complete and set(rep.pickles) == {"archive/data.pkl", "archive/constants.pkl"}
    assert [(i.qualname, i.calls) for i in rep.dangerous] == [(f"{NEVER}.zipped", ("echo zip",))]


def test_torch_zip_duplicate_member_names_are_each_inspected() -> None:
    stream = io.BytesIO()
    with zipfile.ZipFile(stream, "w") as z, pytest.warns(UserWarning, match="Duplicate name"):
        z.writestr("archive/data.pkl", TorchWriter().state_dict(ENTRIES[:1]))
        z.writestr("archive/data.pkl", evil(NEVER, "second_copy", "echo dup"))
    rep = inspect_torch_zip(stream.getvalue())
    assert rep.complete and len(rep.pickles) == 2 and rep.member_count == 2
    assert [t.name for t in rep.tensors] == [ENTRIES[0][0]]  # the first copy's
    assert [i.name for i in rep.dangerous] == ["second_copy"]
    assert rep.errors == ["member name 'archive/data.pkl' appears more than once"]


def test_zip_bomb_member_is_stopped_by_the_bound() -> None:
    stream = io.BytesIO()
    with zipfile.ZipFile(stream, "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr("archive/data.pkl", b"\x80\x02(" + b"N" * (64 * 1024 * 1024))
    data = stream.getvalue()
    assert len(data) < 1024 * 1024
    tracemalloc.start()
    t0 = time.perf_counter()
    rep = inspect_torch_zip(data, max_inflate=1024 * 1024)
    took = time.perf_counter() - t0
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert took < 5 and peak < 32 * 1024 * 1024
    assert not rep.complete
    assert any("declares" in e for e in rep.errors) and any("zip bomb" in e for e in rep.errors)


def test_not_a_zip_and_damaged_zips() -> None:
    assert inspect_torch_zip(b"\x80\x02N.").errors == ["not a zip archive: no local file header at offset 0"]
    data = _torch_zip(TorchWriter().state_dict(ENTRIES[:1]))
    rep = inspect_torch_zip(data[:20])
    assert not rep.complete and rep.member_count == 0
    stream = io.BytesIO()
    with zipfile.ZipFile(stream, "w") as z:
        z.writestr("readme.txt", b"a red bicycle")
    rep = inspect_torch_zip(stream.getvalue())
    assert rep.complete and rep.end_of_archive and rep.pickles == {}
    assert rep.errors == ["no data.pkl member: not a torch.save checkpoint"]
    junk = bytearray(data)
    second = junk.index(b"PK\x03\x04", 4)
    junk[second : second + 4] = b"JUNK"
    rep = inspect_torch_zip(bytes(junk))
    assert rep.complete and any("no zip header" in e for e in rep.errors)


# --------------------------------------------------------------------------------------------------- hostile


def _quick(data: bytes, limits: PickleLimits = pickles.DEFAULT_LIMITS, *, memory: bool = False) -> PickleReport:
    """The report of a hostile pickle, which must come within seconds, with an error line; with ``memory``,
    also within a few MiB (traced, which slows the walk: for pickles of few opcodes)."""
    if memory:
        tracemalloc.start()
    t0 = time.perf_counter()
    rep = inspect_pickle(data, limits=limits)
    took = time.perf_counter() - t0
    if memory:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert peak < 4 * 1024 * 1024, peak
    assert took < 5, took
    assert rep.errors, "a hostile pickle must leave an error line"
    return rep


def test_truncated_pickle_keeps_what_it_saw() -> None:
    data = TorchWriter().state_dict(ENTRIES)
    cut = len(data) * 3 // 4
    rep = _quick(data[:cut])
    assert not rep.complete and rep.length <= cut
    assert "truncated" in rep.errors[0] and rep.imports
    # the pairs read before the cut still wait for their SETITEMS: their tensors are named all the same
    assert [t.name for t in rep.tensors] == [name for name, *_ in ENTRIES[: len(rep.tensors)]]
    assert len(rep.tensors) >= 2 and all(t.path == "" for t in rep.tensors)


def test_huge_declared_lengths_in_a_small_buffer() -> None:
    for head in [
        b"X" + struct.pack("<I", 2**31),
        b"\x8d" + struct.pack("<Q", 2**63),
        b"\x8e" + struct.pack("<Q", 2**62),
        b"\x96" + struct.pack("<Q", 2**40),
        b"B" + struct.pack("<I", 2**32 - 1),
        b"T" + struct.pack("<i", 2**31 - 1),
        b"T" + struct.pack("<i", -5),
        b"\x8b" + struct.pack("<i", 2**31 - 1),
        b"\x8b" + struct.pack("<i", -1),
    ]:
        rep = _quick(b"\x80\x04" + head + b"abc.", memory=True)
        assert not rep.complete and ("declared" in rep.errors[0] or "negative" in rep.errors[0]), rep.errors


def test_memo_get_of_unknown_index() -> None:
    for op in [b"h\x05", b"j\xff\xff\xff\xff", b"g12\n"]:
        rep = _quick(b"\x80\x02N" + op + b".", memory=True)
        assert "never put" in rep.errors[0]


def test_deep_stack_of_lists() -> None:
    n = 1_000_000
    rep = _quick(b"\x80\x02" + b"]" * n + b"a" * (n - 1) + b".")
    assert "stack limit" in rep.errors[0]
    rep = _quick(b"\x80\x02" + b"(" * n + b".")
    assert "stack limit" in rep.errors[0]


def test_deeply_nested_lists_built_through_the_memo_with_a_tensor_at_the_bottom() -> None:
    # current list in memo 0; each level: new list -> memo 1, append it to the current one, make it current
    level = b"h\x00]q\x01a0h\x01q\x000"
    w = TorchWriter()
    w.memo = {i: i for i in range(2)}  # the writer's own memo starts after the two working slots
    tensor = w.tensor("FloatStorage", "0", (2, 2))
    data = b"\x80\x02]q\x00q\x01" + level * 100_000 + b"h\x00" + tensor + b"a0."
    rep = inspect_pickle(data, limits=PickleLimits(max_path_depth=50))
    assert rep.complete and len(rep.tensors) == 1
    assert any("not followed past 50 levels" in e for e in rep.errors)


def test_billion_laughs_costs_nothing() -> None:
    # list 0 holds ten 'lol's; list k holds ten references to list k-1; 40 levels: 10**40 'lol's if expanded
    data = b"\x80\x02](" + _str("lol") * 10 + b"eq\x00"
    for k in range(1, 41):
        data += b"](" + (b"h" + bytes([k - 1])) * 10 + b"e" + b"q" + bytes([k])
    data += _global(NEVER, "laugh") + b"h\x28\x85R."
    t0 = time.perf_counter()
    rep = inspect_pickle(data)
    assert time.perf_counter() - t0 < 1
    assert rep.complete and rep.errors == []
    [imp] = rep.dangerous
    assert len(imp.calls[0]) <= 200 and imp.calls[0].startswith("[[[")
    rep = _quick(b"\x80\x02N" + b"2" * 300_000 + b".")  # DUP flood
    assert "stack limit" in rep.errors[0]


def test_nested_tuples_stop_at_the_cell_budget() -> None:
    rep = _quick(b"\x80\x02N" + b"\x85" * 2_000_000 + b".", limits=PickleLimits(max_cells=1000))
    assert rep.complete and any("cell limit" in e for e in rep.errors)


@pytest.mark.parametrize(
    ("data", "limits", "message"),
    [
        (b"\x80\x02" + b"N0" * 5000 + b"N.", PickleLimits(max_ops=1000), "opcode limit"),
        (b"\x80\x04N" + b"\x94" * 5000 + b".", PickleLimits(max_memo=100), "memo limit"),
        (b"\x80\x02N" + b"p1\n" * 3 + b"\x06.", pickles.DEFAULT_LIMITS, "unknown opcode 0x06"),
        (b"\x80\x06N.", pickles.DEFAULT_LIMITS, "unsupported pickle protocol 6"),
        (b"\x80\x02.", pickles.DEFAULT_LIMITS, "STOP with an empty stack"),
        (b"\x80\x02a.", pickles.DEFAULT_LIMITS, "underflow"),
        (b"\x80\x02K\x01Na.", pickles.DEFAULT_LIMITS, "APPEND or ADDITEMS to a int"),
        (b"\x80\x02}(Nu.", pickles.DEFAULT_LIMITS, "odd number"),
        (b"\x80\x02e.", pickles.DEFAULT_LIMITS, "no MARK"),
        (b"\x80\x02c" + b"a" * 10_000 + b"\nb\n.", pickles.DEFAULT_LIMITS, "line longer than"),
        (b"\x80\x02cos\nsys", pickles.DEFAULT_LIMITS, "truncated"),
        (b"\x80\x02Iabc\n.", pickles.DEFAULT_LIMITS, "bad INT"),
        (b"S'unquoted\n.", pickles.DEFAULT_LIMITS, "not quoted"),
        (b"\x80\x05\x97.", pickles.DEFAULT_LIMITS, "NEXT_BUFFER"),
        (b"", pickles.DEFAULT_LIMITS, "truncated"),
    ],
)
def test_malformed_pickles_end_in_errors(data: bytes, limits: PickleLimits, message: str) -> None:
    rep = _quick(data, limits=limits)
    assert message in rep.errors[0], rep.errors


def test_error_lines_name_the_offset_and_opcode() -> None:
    data = TorchWriter().state_dict(ENTRIES)
    cut = data.index(ENTRIES[2][0].encode()) + 3  # inside the third key's BINUNICODE
    rep = inspect_pickle(data[:cut])
    assert rep.errors == [
        f"truncated: string of {len(ENTRIES[2][0])} bytes declared, 3 left (at offset {cut - 8}, BINUNICODE)"
    ]


def test_limits_that_degrade_but_keep_walking() -> None:
    many_globals = b"".join(_global(NEVER, f"g{i}") + b"0" for i in range(50))
    rep = inspect_pickle(b"\x80\x02" + many_globals + b"N.", limits=PickleLimits(max_imports=10))
    assert rep.complete and len(rep.imports) == 10 and "40 more imports" in rep.errors[-1]
    big_list = b"](" + b"N" * 500 + b"e0"
    rep = inspect_pickle(b"\x80\x02" + big_list + _global(NEVER, "after") + b".", limits=PickleLimits(max_cells=100))
    assert rep.complete and any("cell limit" in e for e in rep.errors)
    assert [i.name for i in rep.dangerous] == ["after"]  # globals after the limit are still listed
    nested = pickle.dumps([bytes(bytearray(INNER)) for _ in range(20)], protocol=4)
    rep = inspect_pickle(nested, limits=PickleLimits(max_nested=5))
    assert len(rep.nested) == 5 and any("nested pickle limit" in e for e in rep.errors)


def test_start_end_and_offsets() -> None:
    data = b"junk" + evil(NEVER, "at", "x") + b"more"
    rep = inspect_pickle(data, start=4, end=len(data) - 4, where="member")
    assert rep.complete and rep.start == 4 and rep.where == "member" and rep.imports[0].offset == 2
    assert rep.length == len(data) - 8
    assert "outside the data" in inspect_pickle(b"abc", start=10).errors[0]


def test_random_and_mutated_input_never_raises() -> None:
    rng = random.Random(13)
    seeds = [TorchWriter().state_dict(ENTRIES), pickle.dumps({"a": [1, 2.5, "x", b"y", (None,)]}, protocol=0)]
    seeds.append(pickle.dumps({"a": [1, 2.5, "x", b"y", (None,), {3}]}, protocol=5))
    t0 = time.perf_counter()
    for i in range(600):
        if i % 3 == 0:
            data = rng.randbytes(rng.randrange(1, 400))
        else:
            data = bytearray(rng.choice(seeds))
            for _ in range(rng.randrange(1, 6)):
                data[rng.randrange(len(data))] = rng.randrange(256)
            data = bytes(data)
        rep = inspect_pickle(data)
        assert rep.complete or rep.errors
        inspect_pickles_in_a_row(data)
        inspect_torch_zip(b"PK\x03\x04" + data)
    assert time.perf_counter() - t0 < 30


# --------------------------------------------------------------------------------------------------- torch (optional)


def test_against_files_written_by_torch(tmp_path: Any) -> None:
    torch = pytest.importorskip("torch")
    sd = collections.OrderedDict(
        [("a.weight", torch.zeros(2, 3, dtype=torch.float16)), ("b", torch.ones(4)), ("c", torch.zeros(5, 1)[1:])]
    )
    expected = [(k, str(v.dtype).removeprefix("torch."), tuple(v.shape)) for k, v in sd.items()]
    torch.save({"state_dict": sd}, tmp_path / "zip.pt")
    torch.save(sd, tmp_path / "legacy.pt", _use_new_zipfile_serialization=False)
    rep = inspect_torch_zip((tmp_path / "zip.pt").read_bytes())
    assert rep.complete and rep.dangerous == [] and rep.tensor_records == 3
    assert [(t.name, t.dtype, t.shape) for t in rep.tensors] == expected
    reps = inspect_pickles_in_a_row((tmp_path / "legacy.pt").read_bytes())
    assert len(reps) == 5 and [(t.name, t.dtype, t.shape) for t in reps[3].tensors] == expected


# ------------------------------------------------------------------------------------------- real-world findings
# Each reproduces, on a benign hand-made sample, what tests/realworld/test_model_files.py found on real files.


def _qtensor_pickle() -> bytes:
    """A quantized tensor as torch.save writes one: _rebuild_qtensor(storage, offset, size, stride,
    (torch.per_tensor_affine, scale, zero_point), requires_grad, hooks)."""
    pid = _tuple([_str("storage"), _global("torch", "QInt8Storage"), _str("0"), _str("cpu"), _int(4)]) + b"Q"
    qparams = _tuple([_global("torch", "per_tensor_affine"), b"G" + struct.pack(">d", 0.1), _int(0)])
    args = [pid, _int(0), _tuple([_int(4)]), _tuple([_int(1)]), qparams, b"\x89", _global("collections", "OrderedDict")]
    tensor = _global("torch._utils", "_rebuild_qtensor") + _tuple([*args[:-1], args[-1] + b")R"]) + b"R"
    return b"\x80\x02}(" + _str("q") + tensor + b"u."


def test_quantized_tensor_is_clean() -> None:
    # torch.load(weights_only=True) takes the quantization schemes: they are plain enum values
    rep = inspect_pickle(_qtensor_pickle())
    assert rep.errors == [] and rep.dangerous == []
    assert [(t.name, t.dtype, t.shape) for t in rep.tensors] == [("q", "qint8", (4,))]
    assert {("torch", s) for s in ("per_channel_affine", "per_tensor_symmetric", "per_channel_symmetric")} <= ALLOWED


@pytest.mark.parametrize("layout", ["sparse_coo", "sparse_csr"])
def test_sparse_tensor_is_one_tensor_of_the_values_dtype(layout: str) -> None:
    # torch writes _rebuild_sparse_tensor(layout, (indices, values, size, is_coalesced)) for COO and
    # (compressed indices, plain indices, values, size) for CSR: torch.load gives one tensor
    w = TorchWriter()
    get_layout = _global("torch.serialization", "_get_layout") + _str(f"torch.{layout}") + b"\x85R"
    size = _global("torch", "Size") + _tuple([_int(3), _int(3)]) + b"\x85R"
    if layout == "sparse_coo":
        parts = [w.tensor("LongStorage", "0", (2, 3)), w.tensor("FloatStorage", "1", (3,)), size, b"\x89"]
    else:
        parts = [w.tensor("LongStorage", "0", (4,)), w.tensor("LongStorage", "1", (3,))]
        parts += [w.tensor("FloatStorage", "2", (3,)), size]
    sparse = _global("torch._utils", "_rebuild_sparse_tensor") + _tuple([get_layout, _tuple(parts)]) + b"R"
    data = b"\x80\x02}(" + _str("sp") + sparse + _str("dense") + w.tensor("FloatStorage", "9", (2,)) + b"u."
    rep = inspect_pickle(data)
    assert rep.errors == [] and rep.dangerous == []
    values_key = "1" if layout == "sparse_coo" else "2"
    assert [(t.name, t.dtype, t.shape, t.storage_key) for t in rep.tensors] == [
        ("sp", "float32", (3, 3), values_key),
        ("dense", "float32", (2,), "9"),
    ]


def _zip_of(members: list[tuple[str, bytes]], method: int = zipfile.ZIP_STORED) -> bytes:
    stream = io.BytesIO()
    with zipfile.ZipFile(stream, "w", compression=method) as z:
        for name, content in members:
            z.writestr(name, content)
    return stream.getvalue()


@pytest.mark.parametrize("method", [zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED])
def test_zip_member_holding_a_pickle_under_another_name_is_inspected(method: int) -> None:
    # a pickle named data.txt; and a local header whose name ('datap.kl') is not the central directory's
    # ('data.pkl', the name a loader reads)
    data = _zip_of([("archive/data.txt", evil(NEVER, "renamed", "echo renamed"))], method)
    rep = inspect_torch_zip(data)
    assert [(i.qualname, i.calls) for i in rep.dangerous] == [(f"{NEVER}.renamed", ("echo renamed",))]
    assert list(rep.pickles) == ["archive/data.txt"]
    data = _zip_of([("data.pkl", evil(NEVER, "hidden", "echo hidden"))], method)
    local = data.replace(b"data.pkl", b"datap.kl", 1)
    assert zipfile.ZipFile(io.BytesIO(local)).namelist() == ["data.pkl"]
    rep = inspect_torch_zip(local)
    assert rep.members == ["datap.kl"] and [i.name for i in rep.dangerous] == ["hidden"]


def test_zip_member_that_merely_starts_like_a_pickle_is_left_out() -> None:
    tensor_bytes = b"\x80\x02" + bytes(range(256)) * 4  # raw storage bytes that happen to start with PROTO 2
    data = _torch_zip(TorchWriter().state_dict(ENTRIES[:1])).replace(b"\x00" * 4096, tensor_bytes + b"\x00" * 3070)
    rep = inspect_torch_zip(data)
    assert rep.complete and rep.errors == [] and list(rep.pickles) == ["archive/data.pkl"]


def test_stored_pickle_flagged_as_encrypted_is_read() -> None:
    data = bytearray(_zip_of([("model/config.pkl", evil(NEVER, "flagged", "echo flagged"))]))
    for sig, flags_at in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):  # bit 0 in the local and central headers
        at = data.index(sig) + flags_at
        data[at] |= 1
    rep = inspect_torch_zip(bytes(data))
    assert [i.name for i in rep.dangerous] == ["flagged"]
    assert any("flagged as encrypted" in e for e in rep.errors)
    # really encrypted bytes stay unread, and are counted
    noise = bytearray(_zip_of([("model/config.pkl", bytes(random.Random(5).randbytes(64)))]))
    noise[6] |= 1
    rep = inspect_torch_zip(bytes(noise))
    assert rep.pickles == {} and "1 encrypted members not read" in rep.errors


def _tensor(storage: str, key: str, shape: tuple[int, ...]) -> bytes:
    """A tensor whose opcodes stand alone (its own memo entries, reused only within itself)."""
    return TorchWriter().tensor(storage, key, shape)


def _module(cls: str, parameters: list[tuple[str, bytes]], children: list[tuple[str, bytes]]) -> bytes:
    """An nn.Module as pickle writes one: the class called with no arguments, then BUILD with its __dict__."""

    def ordered(pairs: list[tuple[str, bytes]]) -> bytes:
        body = b"".join(_str(k) + v for k, v in pairs)
        return TorchWriter().ordered_dict() + (b"(" + body + b"u" if pairs else b"")

    state = [_str("training"), b"\x88", _str("_parameters"), ordered(parameters), _str("_buffers"), ordered([])]
    state += [_str("_modules"), ordered(children)]
    return _global(NEVER, cls) + b")\x81}(" + b"".join(state) + b"ub"


def test_whole_pickled_module_names_tensors_as_its_state_dict_would() -> None:
    conv = _module(
        "Conv", [("weight", _tensor("FloatStorage", "0", (4, 3))), ("bias", _tensor("FloatStorage", "1", (4,)))], []
    )
    head = _module("Head", [("weight", _tensor("HalfStorage", "2", (2, 4)))], [])
    data = b"\x80\x02" + _module("Net", [], [("conv", conv), ("head", head)]) + b"."
    rep = inspect_pickle(data)
    assert rep.errors == []
    assert [(t.name, t.path, t.dtype) for t in rep.tensors] == [
        ("conv.weight", "conv.weight", "float32"),
        ("conv.bias", "conv.bias", "float32"),
        ("head.weight", "head.weight", "float16"),
    ]
    assert sorted({i.name for i in rep.dangerous}) == ["Conv", "Head", "Net"]  # the classes are still flagged
    # an object whose state merely has other keys keeps them in its tensors' paths
    other = b"\x80\x02" + _global(NEVER, "Box") + b")\x81}(" + _str("_payload") + _tensor("FloatStorage", "3", (1,))
    rep = inspect_pickle(other + b"ub.")
    assert [(t.name, t.path) for t in rep.tensors] == [("_payload", "_payload")]
