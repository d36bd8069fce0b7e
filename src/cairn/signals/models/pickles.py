"""Static inspection of Python pickles in AI model files (PyTorch checkpoints): what a pickle would import and
call, and which tensors it describes, read from its opcodes alone.

Nothing is ever unpickled and nothing a pickle names is ever imported. A bounded opcode walker of our own (not
``pickletools.genops``: every declared length and count is checked against the buffer before anything is read)
runs a small symbolic model of the unpickler: its stack, marks and memo hold plain values (str, bytes, int,
float, bool, None, tuple) and stand-ins for everything else (a global, the result of a call, a persistent id, a
tensor, an unknown). That is enough to list the globals, the arguments of calls to those outside the allowlist,
the tensors of a state dict (name, dtype, shape, storage key) and pickles nested inside string or bytes values.

Bounds (:class:`PickleLimits`): opcodes walked, stack depth, memo entries, container cells kept, strings kept,
imports and tensors listed, nested pickles and their depth, and the steps of the walk that names tensors. A
malformed or truncated pickle, or one that hits a bound, ends its walk with a line in ``errors``: nothing is
raised, nothing recurses on the input's nesting, and memory stays proportional to the bounds.

Policy. ``ALLOWED`` lists the globals a PyTorch checkpoint needs to rebuild its tensors and containers:
``torch._utils._rebuild_*`` and ``torch._tensor._rebuild_from_type_v2``, the typed storages (``torch.FloatStorage``
...), ``torch.UntypedStorage``, the dtypes (``torch.float16`` ...), layouts, memory formats and quantization schemes
(``torch.per_tensor_affine`` ...), ``torch.Size``, ``torch.device``, ``torch.Tensor``,
``torch.nn.parameter.Parameter``, ``torch.serialization._get_layout`` (category ``torch``);
``collections.OrderedDict``, ``builtins`` set, frozenset, bytearray, slice and complex, ``_codecs.encode`` (how
protocol 2 writes bytes) (category ``python``); NumPy's array, dtype and scalar rebuilders, ``_frombuffer`` included
(category ``numpy``). Protocol-2 spellings (``__builtin__``, ``copy_reg``) count as their Python 3 modules; dotted
names (``torch`` ``_utils._rebuild_tensor_v2``, an attribute chain) never match. Everything else is *not allowed*:
that means "for a human to look at", not "malicious" - a class such as
``pytorch_lightning.callbacks.model_checkpoint.ModelCheckpoint`` (or the classes of a whole pickled ``nn.Module``)
is flagged like ``os.system``, only the note differs (``note`` says when a global runs code, reaches the system, or
loads a nested pickle, as ``torch.storage._load_from_bytes`` does). ``PickleReport.dangerous`` lists the not-allowed
imports of the pickle *and* of the pickles nested in it, since a loader may well unpickle those too.
"""

from __future__ import annotations

import binascii
import codecs
import collections
import re
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass

__all__ = [
    "ALLOWED",
    "ALLOWED_CATEGORY",
    "DEFAULT_LIMITS",
    "PickleImport",
    "PickleLimits",
    "PickleReport",
    "TensorInfo",
    "TorchZipReport",
    "inspect_pickle",
    "inspect_pickles_in_a_row",
    "inspect_torch_zip",
]


# --------------------------------------------------------------------------------------------------- the policy

_TORCH_REBUILDERS = (
    "_rebuild_tensor",
    "_rebuild_tensor_v2",
    "_rebuild_tensor_v3",
    "_rebuild_parameter",
    "_rebuild_parameter_with_state",
    "_rebuild_qtensor",
    "_rebuild_sparse_tensor",
    "_rebuild_device_tensor_from_numpy",
    "_rebuild_device_tensor_from_cpu_tensor",
    "_rebuild_meta_tensor_no_storage",
    "_rebuild_nested_tensor",
    "_rebuild_wrapper_subclass",
)

# typed storage class -> the dtype of its elements (torch.UntypedStorage holds bytes)
_STORAGE_DTYPES = {
    "DoubleStorage": "float64",
    "FloatStorage": "float32",
    "HalfStorage": "float16",
    "BFloat16Storage": "bfloat16",
    "LongStorage": "int64",
    "IntStorage": "int32",
    "ShortStorage": "int16",
    "CharStorage": "int8",
    "ByteStorage": "uint8",
    "BoolStorage": "bool",
    "ComplexDoubleStorage": "complex128",
    "ComplexFloatStorage": "complex64",
    "QInt8Storage": "qint8",
    "QUInt8Storage": "quint8",
    "QInt32Storage": "qint32",
    "QUInt4x2Storage": "quint4x2",
    "QUInt2x4Storage": "quint2x4",
    "UntypedStorage": "uint8",
}

_DTYPE_ALIASES = {
    "float": "float32",
    "double": "float64",
    "half": "float16",
    "cfloat": "complex64",
    "cdouble": "complex128",
    "chalf": "complex32",
    "short": "int16",
    "int": "int32",
    "long": "int64",
}

_DTYPES = frozenset(
    {
        "float16", "float32", "float64", "bfloat16", "complex32", "complex64", "complex128", "bool",
        "uint8", "uint16", "uint32", "uint64", "int8", "int16", "int32", "int64",
        "qint8", "quint8", "qint32", "quint4x2", "quint2x4",
        "float8_e4m3fn", "float8_e4m3fnuz", "float8_e5m2", "float8_e5m2fnuz", "float8_e8m0fnu", "float4_e2m1fn_x2",
        "bits8", "bits16", "bits1x8", "bits2x4", "bits4x2", "bit",
        *(f"int{i}" for i in range(1, 8)), *(f"uint{i}" for i in range(1, 8)),
    }
)  # fmt: skip

_TORCH_PLAIN = (
    "Size", "device", "Tensor", "strided", "sparse_coo", "sparse_csr", "sparse_csc", "sparse_bsr", "sparse_bsc",
    "_mkldnn", "jagged", "contiguous_format", "channels_last", "channels_last_3d", "preserve_format",
    # the quantization schemes _rebuild_qtensor is given (plain enum values)
    "per_tensor_affine", "per_channel_affine", "per_tensor_symmetric", "per_channel_symmetric",
    "per_channel_affine_float_qparams",
)  # fmt: skip


def _build_allowlist() -> dict[tuple[str, str], str]:
    allowed: dict[tuple[str, str], str] = {}
    for name in _TORCH_REBUILDERS:
        allowed["torch._utils", name] = "torch"
    allowed["torch._tensor", "_rebuild_from_type_v2"] = "torch"
    allowed["torch.serialization", "_get_layout"] = "torch"
    allowed["torch.nn.parameter", "Parameter"] = "torch"
    allowed["torch.storage", "UntypedStorage"] = "torch"
    for name in (*_STORAGE_DTYPES, *_DTYPES, *_DTYPE_ALIASES, *_TORCH_PLAIN):
        allowed["torch", name] = "torch"
    allowed["collections", "OrderedDict"] = "python"
    for name in ("set", "frozenset", "bytearray", "slice", "complex"):
        allowed["builtins", name] = "python"
    allowed["_codecs", "encode"] = "python"
    for core in ("numpy.core.multiarray", "numpy._core.multiarray"):
        allowed[core, "_reconstruct"] = "numpy"
        allowed[core, "scalar"] = "numpy"
    for numeric in ("numpy.core.numeric", "numpy._core.numeric"):
        allowed[numeric, "_frombuffer"] = "numpy"  # protocol 5 arrays
    allowed["numpy", "ndarray"] = "numpy"
    allowed["numpy", "dtype"] = "numpy"
    return allowed


ALLOWED_CATEGORY: dict[tuple[str, str], str] = _build_allowlist()
"""Allowed (module, name) -> its category: ``torch``, ``python`` or ``numpy``."""

ALLOWED: frozenset[tuple[str, str]] = frozenset(ALLOWED_CATEGORY)
"""The (module, name) globals a checkpoint may import without being flagged for a human."""

# protocol 0-2 pickles name Python 2 modules; the unpickler maps them (fix_imports)
_MODULE_ALIASES = {"__builtin__": "builtins", "copy_reg": "copyreg", "exceptions": "builtins"}

_SYSTEM_MODULES = frozenset(
    {
        "os", "posix", "nt", "posixpath", "ntpath", "subprocess", "runpy", "webbrowser", "socket", "sys",
        "shutil", "importlib", "ctypes", "pty", "code", "codeop", "multiprocessing", "signal", "asyncio",
        "pickle", "_pickle", "marshal", "types", "urllib", "http", "ftplib", "smtplib", "telnetlib", "requests",
        "pdb", "bdb", "timeit", "tempfile", "pathlib", "io", "_io", "threading", "_thread", "zipimport",
        "pkgutil", "commands", "platform", "operator", "functools", "dill", "cloudpickle", "joblib",
    }
)  # fmt: skip
_RISKY_BUILTINS = frozenset(
    {
        "eval", "exec", "compile", "getattr", "setattr", "delattr", "__import__", "open", "globals", "locals",
        "vars", "input", "breakpoint", "exit", "quit", "help", "apply", "execfile", "reload", "memoryview",
        "type", "object", "super", "classmethod", "staticmethod", "property",
    }
)  # fmt: skip


def _note_for(module: str, name: str) -> str:
    """A short hint for a human on a global outside the allowlist ('' when there is nothing special to say)."""
    if (module, name) == ("torch.storage", "_load_from_bytes"):
        return "calls torch.load on the bytes it is given: a nested pickle"
    top = module.split(".", 1)[0]
    if top in _SYSTEM_MODULES or (module == "builtins" and name in _RISKY_BUILTINS):
        return "can run code or reach the operating system"
    if module == "copyreg" and name == "_reconstructor":
        return "instantiates the class it is given"
    if "." in name:
        return "dotted name: an attribute chain, never allowed"
    if module.startswith("<"):
        return "resolved by the loader's registry, unknown here"
    return ""


# --------------------------------------------------------------------------------------------------- the API


@dataclass(frozen=True)
class PickleLimits:
    """Upper bounds on one inspection (nested pickles share the opcode, cell and nested-pickle budgets)."""

    max_ops: int = 20_000_000  # opcodes walked, all nested pickles of one call together
    max_stack: int = 100_000  # values on the stack, and marks
    max_memo: int = 1_000_000  # memo entries
    max_cells: int = 4_000_000  # containers created plus elements kept in them
    max_str: int = 1024  # characters (or bytes) kept of one string (or bytes) value
    max_line: int = 4096  # bytes of a protocol-0 GLOBAL/INST name line, or of a number line
    max_long_bytes: int = 64  # bytes of a LONG1/LONG4 integer that is turned into an int (longer: unknown)
    max_imports: int = 10_000  # imports listed
    max_tensors: int = 200_000  # tensors listed
    max_calls: int = 32  # call arguments recorded for one import
    max_repr: int = 200  # characters of one recorded call argument
    max_nested: int = 64  # nested pickles inspected
    max_nested_depth: int = 3  # pickle in a pickle in a pickle ...
    max_walk: int = 4_000_000  # containers visited to give tensors their path
    max_path_depth: int = 128  # container nesting followed for a path
    max_errors: int = 50  # error lines kept


DEFAULT_LIMITS = PickleLimits()


@dataclass(frozen=True)
class PickleImport:
    """One global the pickle would import (GLOBAL, STACK_GLOBAL, INST, EXT*), where it is, and whether it is
    allowed. ``calls``: for a global outside the allowlist, short renderings of the arguments of its calls
    (REDUCE, NEWOBJ, NEWOBJ_EX, OBJ, INST; BUILD's state; calls made through the result of a call to it), one
    entry an argument (a string argument verbatim, anything else a bounded repr), the first ``max_calls``."""

    module: str
    name: str
    offset: int  # byte offset of the opcode within the pickle
    allowed: bool
    calls: tuple[str, ...] = ()
    category: str = ""  # allowed: 'torch', 'python' or 'numpy'; '' when not allowed
    note: str = ""  # a hint for a human on a global outside the allowlist

    @property
    def qualname(self) -> str:
        return f"{self.module}.{self.name}"


@dataclass(frozen=True)
class TensorInfo:
    """One tensor rebuilt by the pickle. ``name``: the dict key it was first stored under (a state dict's key),
    else its ``path``; ``path``: the keys and indices from the pickle's root to it, joined by '.' (equal to
    ``name`` for a plain state dict; in a whole pickled ``nn.Module`` both are what its ``state_dict()`` would
    call it, its ``_parameters``, ``_buffers`` and ``_modules`` levels left out); ``dtype``: from the storage
    type or the dtype argument ('' when unknown); ``storage_key``: the persistent id's key (zip:
    ``<prefix>/data/<key>``; legacy: the storage's key); '' for tensors without a storage (meta tensors)."""

    name: str
    dtype: str
    shape: tuple[int, ...]
    storage_key: str
    path: str = ""
    location: str = ""  # the storage's device when saved, e.g. 'cpu', 'cuda:0'
    storage_offset: int = 0  # in elements


@dataclass
class PickleReport:
    """What one pickle would do. ``length``: bytes it took up to and including STOP (bytes walked when it has
    no STOP); ``offset`` of imports and ``nested``'s places are within the pickle, which began at ``start`` of
    the data given. ``complete``: the walk reached STOP."""

    protocol: int | None
    length: int
    imports: list[PickleImport]
    tensors: list[TensorInfo]
    nested: list[tuple[str, PickleReport]]
    errors: list[str]
    truncated_tensors: bool = False
    start: int = 0
    where: str = ""
    complete: bool = False
    opcodes: int = 0

    @property
    def dangerous(self) -> list[PickleImport]:
        """The imports outside the allowlist, this pickle's first, then those of its nested pickles (depth
        first, in order)."""
        out: list[PickleImport] = []
        todo: list[PickleReport] = [self]
        while todo:
            rep = todo.pop()
            out.extend(imp for imp in rep.imports if not imp.allowed)
            todo.extend(sub for _, sub in reversed(rep.nested))
        return out


@dataclass
class TorchZipReport:
    """A PyTorch zip checkpoint's head, walked member by member. ``complete``: its ``*/data.pkl`` was read
    whole (or, with no data.pkl, the walk reached the central directory); ``members``: the first names;
    ``tensor_records``: ``<prefix>/data/<key>`` members seen; ``pickles``: member name -> report, for the
    ``.pkl`` members and for any other member whose bytes are a pickle (see :func:`inspect_torch_zip`)."""

    prefix: str
    members: list[str]
    member_count: int
    pickles: dict[str, PickleReport]
    errors: list[str]
    complete: bool
    tensor_records: int = 0
    truncated_members: bool = False
    end_of_archive: bool = False  # the walk reached the central directory
    version: str = ""  # the '<prefix>/version' member's text, when read
    byteorder: str = ""  # the '<prefix>/byteorder' member's text, when read

    @property
    def dangerous(self) -> list[PickleImport]:
        return [imp for rep in self.pickles.values() for imp in rep.dangerous]

    @property
    def tensors(self) -> list[TensorInfo]:
        data = [rep for name, rep in self.pickles.items() if name.endswith("/data.pkl")]
        return [t for rep in data for t in rep.tensors]


def inspect_pickle(
    data: bytes | bytearray | memoryview,
    *,
    start: int = 0,
    where: str = "",
    end: int | None = None,
    limits: PickleLimits = DEFAULT_LIMITS,
) -> PickleReport:
    """Walk the pickle that begins at ``data[start]`` (and must end by ``end``, default the data's end) without
    unpickling it. Never raises on bad input: problems are in the report's ``errors``."""
    buf = data if isinstance(data, bytes) else bytes(data)
    stop = len(buf) if end is None else max(0, min(end, len(buf)))
    if not 0 <= start <= stop:
        return PickleReport(None, 0, [], [], [], [f"start {start} is outside the data ({len(buf)} bytes)"], start=start)
    return _Walk(buf, start, stop, where, 0, limits, _Budget(limits)).run()


def inspect_pickles_in_a_row(
    data: bytes | bytearray | memoryview, *, limit: int = 8, limits: PickleLimits = DEFAULT_LIMITS
) -> list[PickleReport]:
    """The pickles written one after another at the start of ``data`` - a legacy ``torch.save`` file: magic
    number, protocol version, sys_info, the state, the storage keys, then raw storage bytes. Stops at the first
    bytes that are not a whole pickle (a damaged one that starts like a pickle is included, with its errors; the
    first report is always included), or after ``limit`` pickles. When the first starts with PROTO 2 or later,
    each later one must too (raw storage bytes can parse as a tiny protocol-0 pickle)."""
    buf = data if isinstance(data, bytes) else bytes(data)
    out: list[PickleReport] = []
    pos, n = 0, len(buf)
    needs_proto = False
    while len(out) < max(0, limit) and pos < n:
        looks = n - pos >= 2 and buf[pos] == 0x80 and 2 <= buf[pos + 1] <= 5
        if out and needs_proto and not looks:
            break
        rep = inspect_pickle(buf, start=pos, limits=limits)
        if not rep.complete:
            if not out or looks:
                out.append(rep)
            break
        if not out:
            needs_proto = looks
        out.append(rep)
        pos += rep.length
    return out


# --------------------------------------------------------------------------------------------------- the values


class _Unknown:
    __slots__ = ()

    def __repr__(self) -> str:
        return "?"


_UNKNOWN = _Unknown()
_MISSING = object()


class _ImportRec:
    __slots__ = ("module", "name", "offset", "allowed", "category", "note", "calls")

    def __init__(self, module: str, name: str, offset: int, category: str, note: str) -> None:
        self.module, self.name, self.offset = module, name, offset
        self.allowed = bool(category)
        self.category, self.note = category, note
        self.calls: list[str] = []


class _Global:
    __slots__ = ("module", "name", "allowed", "rec")

    def __init__(self, module: str, name: str, allowed: bool, rec: _ImportRec | None) -> None:
        self.module, self.name, self.allowed, self.rec = module, name, allowed, rec


class _Obj:
    """The result of a call the model does not follow; keeps what is later stored into it."""

    __slots__ = ("func", "args", "items", "appended", "state")

    def __init__(self, func: object, args: object) -> None:
        self.func, self.args = func, args
        self.items: list[tuple[object, object]] | None = None
        self.appended: list[object] | None = None
        self.state: object = None


class _List:
    __slots__ = ("items",)

    def __init__(self, items: list[object] | None = None) -> None:
        self.items = items


class _Dict:
    __slots__ = ("items",)

    def __init__(self) -> None:
        self.items: list[tuple[object, object]] | None = None


class _Set:
    __slots__ = ("items",)

    def __init__(self, items: list[object] | None = None) -> None:
        self.items = items


class _PersId:
    __slots__ = ("pid",)

    def __init__(self, pid: object) -> None:
        self.pid = pid


class _Storage:
    __slots__ = ("dtype", "key", "location", "numel")

    def __init__(self, dtype: str, key: str, location: str, numel: int) -> None:
        self.dtype, self.key, self.location, self.numel = dtype, key, location, numel


class _Tensor:
    __slots__ = ("name", "path", "dtype", "shape", "key", "location", "offset")

    def __init__(self, dtype: str, shape: tuple[int, ...], key: str, location: str, offset: int) -> None:
        self.name = ""
        self.path = ""
        self.dtype, self.shape, self.key, self.location, self.offset = dtype, shape, key, location, offset


_CONTAINERS = (_List, _Dict, _Set, _Obj, tuple)


class _Stop(Exception):
    """Ends a walk; the message becomes an error line."""


class _Budget:
    """What all the walks of one call share."""

    __slots__ = ("ops", "cells", "nested")

    def __init__(self, limits: PickleLimits) -> None:
        self.ops = limits.max_ops
        self.cells = limits.max_cells
        self.nested = limits.max_nested


_I4 = struct.Struct("<i").unpack_from
_U4 = struct.Struct("<I").unpack_from
_U2 = struct.Struct("<H").unpack_from
_U8 = struct.Struct("<Q").unpack_from
_F8 = struct.Struct(">d").unpack_from
_URLSAFE = bytes.maketrans(b"-_", b"+/")

_OP_NAMES = {
    0x28: "MARK", 0x2E: "STOP", 0x30: "POP", 0x31: "POP_MARK", 0x32: "DUP", 0x46: "FLOAT", 0x49: "INT",
    0x4A: "BININT", 0x4B: "BININT1", 0x4C: "LONG", 0x4D: "BININT2", 0x4E: "NONE", 0x50: "PERSID",
    0x51: "BINPERSID", 0x52: "REDUCE", 0x53: "STRING", 0x54: "BINSTRING", 0x55: "SHORT_BINSTRING",
    0x56: "UNICODE", 0x58: "BINUNICODE", 0x61: "APPEND", 0x62: "BUILD", 0x63: "GLOBAL", 0x64: "DICT",
    0x7D: "EMPTY_DICT", 0x65: "APPENDS", 0x67: "GET", 0x68: "BINGET", 0x69: "INST", 0x6A: "LONG_BINGET",
    0x6C: "LIST", 0x5D: "EMPTY_LIST", 0x6F: "OBJ", 0x70: "PUT", 0x71: "BINPUT", 0x72: "LONG_BINPUT",
    0x73: "SETITEM", 0x74: "TUPLE", 0x29: "EMPTY_TUPLE", 0x75: "SETITEMS", 0x47: "BINFLOAT", 0x80: "PROTO",
    0x81: "NEWOBJ", 0x82: "EXT1", 0x83: "EXT2", 0x84: "EXT4", 0x85: "TUPLE1", 0x86: "TUPLE2", 0x87: "TUPLE3",
    0x88: "NEWTRUE", 0x89: "NEWFALSE", 0x8A: "LONG1", 0x8B: "LONG4", 0x42: "BINBYTES", 0x43: "SHORT_BINBYTES",
    0x8C: "SHORT_BINUNICODE", 0x8D: "BINUNICODE8", 0x8E: "BINBYTES8", 0x8F: "EMPTY_SET", 0x90: "ADDITEMS",
    0x91: "FROZENSET", 0x92: "NEWOBJ_EX", 0x93: "STACK_GLOBAL", 0x94: "MEMOIZE", 0x95: "FRAME",
    0x96: "BYTEARRAY8", 0x97: "NEXT_BUFFER", 0x98: "READONLY_BUFFER",
}  # fmt: skip


# --------------------------------------------------------------------------------------------------- the walk


class _Walk:
    """One pickle's walk: the opcode loop and the symbolic stack, memo and results."""

    def __init__(
        self, buf: bytes, start: int, end: int, where: str, depth: int, limits: PickleLimits, budget: _Budget
    ) -> None:
        self.buf, self.start, self.end, self.where, self.depth = buf, start, end, where, depth
        self.limits, self.budget = limits, budget
        self.stack: list[object] = []
        self.marks: list[int] = []
        self.memo: dict[int, object] = {}
        self.protocol: int | None = None
        self.imports: list[_ImportRec] = []
        self.imports_cut = 0
        self.tensors: list[_Tensor] = []
        self.truncated_tensors = False
        self.nested: list[tuple[str, PickleReport]] = []
        self.errors: list[str] = []
        self.errors_cut = 0
        self.cells_noted = False
        self.nested_noted = False
        self.last_pos = self.last_at = self.last_ops = 0

    # ----------------------------------------------------------------------------------------- bookkeeping

    def error(self, text: str) -> None:
        if len(self.errors) < self.limits.max_errors:
            self.errors.append(text)
        else:
            self.errors_cut += 1

    def cells(self, n: int) -> bool:
        """Spend ``n`` cells of the shared budget; False (noted once) when it is spent."""
        budget = self.budget
        if budget.cells >= n:
            budget.cells -= n
            return True
        if not self.cells_noted:
            self.cells_noted = True
            self.error(f"cell limit of {self.limits.max_cells:,} reached: later container elements are not kept")
        return False

    def pop(self) -> object:
        stack = self.stack
        if len(stack) <= (self.marks[-1] if self.marks else 0):
            raise _Stop("stack underflow")
        return stack.pop()

    def pop_mark(self) -> list[object]:
        if not self.marks:
            raise _Stop("no MARK to pop to")
        k = self.marks.pop()
        stack = self.stack
        items = stack[k:]
        del stack[k:]
        return items

    def top(self) -> object:
        stack = self.stack
        if len(stack) <= (self.marks[-1] if self.marks else 0):
            raise _Stop("stack underflow")
        return stack[-1]

    def line(self, pos: int, what: str, limit: int | None = None) -> bytes:
        """The bytes from ``pos`` up to (not including) the next newline."""
        stop = self.end if limit is None else min(self.end, pos + limit + 1)
        nl = self.buf.find(b"\n", pos, stop)
        if nl < 0:
            if stop < self.end:
                raise _Stop(f"{what} line longer than {limit:,} bytes")
            raise _Stop(f"truncated: {what} line runs past the end of the data")
        return self.buf[pos:nl]

    def put(self, idx: int) -> None:
        # the memo's size is checked with the other limits, every 256 opcodes
        stack = self.stack
        if not stack:
            raise _Stop("memo put with an empty stack")
        self.memo[idx] = stack[-1]

    def get(self, idx: int) -> None:
        v = self.memo.get(idx, _MISSING)
        if v is _MISSING:
            raise _Stop(f"memo get of index {idx}, which was never put")
        self.stack.append(v)

    # ----------------------------------------------------------------------------------------- values

    def text(self, s: int, e: int, at: int) -> str:
        """A str value from UTF-8 bytes ``buf[s:e]`` (kept up to ``max_str`` characters)."""
        self.maybe_nested(self.buf, s, e, at, True)
        cap = self.limits.max_str
        raw = self.buf[s : min(e, s + 4 * cap)]
        try:
            value = raw.decode("utf-8", "surrogatepass")
        except UnicodeDecodeError:
            value = raw.decode("utf-8", "replace")
        return value[:cap]

    def raw_bytes(self, s: int, e: int, at: int) -> bytes:
        self.maybe_nested(self.buf, s, e, at, False)
        return self.buf[s : min(e, s + self.limits.max_str)]

    def maybe_nested(self, buf: bytes, s: int, e: int, at: int, is_text: bool) -> None:
        """Inspect ``buf[s:e]`` (a string or bytes value's payload) as a nested pickle when it is one: raw, as
        latin-1 text (how protocol 2 writes bytes), base64 or hex. Only a few bytes are looked at otherwise."""
        if e - s < 4:
            return
        b0, b1 = buf[s], buf[s + 1]
        if b0 == 0x80:
            if 2 <= b1 <= 5:
                self.sub(buf, s, e, at, "text" if is_text else "bytes")
        elif b0 == 0xC2:
            if is_text and b1 == 0x80 and 2 <= buf[s + 2] <= 5:
                try:
                    data = buf[s:e].decode("utf-8", "surrogatepass").encode("latin-1")
                except (UnicodeDecodeError, UnicodeEncodeError):
                    return
                self.sub(data, 0, len(data), at, "latin-1 text")
        elif b0 == 0x67 and b1 == 0x41:  # 'gA': base64 of b'\x80' + a protocol byte
            if e - s < 8:
                return
            seg = buf[s:e]
            if b"-" in seg or b"_" in seg:
                seg = seg.translate(_URLSAFE)
            try:
                data = binascii.a2b_base64(seg)
            except (binascii.Error, ValueError):
                return
            if len(data) >= 4 and data[0] == 0x80 and 2 <= data[1] <= 5:
                self.sub(data, 0, len(data), at, "base64")
        elif b0 == 0x38 and b1 == 0x30 and e - s >= 8 and buf[s + 2] == 0x30 and 0x32 <= buf[s + 3] <= 0x35:
            try:
                data = bytes.fromhex(buf[s:e].decode("ascii"))
            except (ValueError, UnicodeDecodeError):
                return
            self.sub(data, 0, len(data), at, "hex")

    def sub(self, data: bytes, s: int, e: int, at: int, how: str) -> None:
        where = f"value at offset {at - self.start} ({how})"
        if self.depth >= self.limits.max_nested_depth:
            self.error(f"nested pickle, {where}, not inspected: deeper than {self.limits.max_nested_depth} levels")
            return
        if self.budget.nested <= 0:
            if not self.nested_noted:
                self.nested_noted = True
                self.error(f"nested pickle limit of {self.limits.max_nested} reached, {where} and later not inspected")
            return
        self.budget.nested -= 1
        rep = _Walk(data, s, e, where, self.depth + 1, self.limits, self.budget).run()
        if rep.complete or rep.imports:
            self.nested.append((where, rep))

    def number(self, raw: bytes, what: str) -> int:
        try:
            return int(raw)
        except ValueError:
            raise _Stop(f"bad {what} argument {raw[:40]!r}") from None

    def import_(self, module: str, name: str, at: int, note: str = "") -> _Global:
        module = _MODULE_ALIASES.get(module, module)
        category = ALLOWED_CATEGORY.get((module, name), "")
        allowed = bool(category)
        note = note or ("" if allowed else _note_for(module, name))
        rec: _ImportRec | None = None
        if len(self.imports) < self.limits.max_imports:
            rec = _ImportRec(module[:256], name[:256], at - self.start, category, note)
            self.imports.append(rec)
        else:
            self.imports_cut += 1
        return _Global(module, name, allowed, rec)

    def new_tensor(
        self, dtype: str, shape: tuple[int, ...], key: str = "", location: str = "", offset: int = 0
    ) -> _Tensor:
        t = _Tensor(dtype, shape, key, location, offset)
        if len(self.tensors) < self.limits.max_tensors:
            self.tensors.append(t)
        else:
            self.truncated_tensors = True
        return t

    def forget_tensor(self, t: _Tensor) -> None:
        """Unlist ``t`` when it is among the last tensors listed (the parts of a tensor rebuilt from several)."""
        tensors = self.tensors
        for i in range(len(tensors) - 1, max(-1, len(tensors) - 9), -1):
            if tensors[i] is t:
                del tensors[i]
                return

    def persistent(self, pid: object) -> object:
        if type(pid) is tuple and len(pid) >= 5 and pid[0] == "storage":
            _, stype, key, location, numel = pid[:5]
            return _Storage(
                _dtype_of(stype),
                key if isinstance(key, str) else str(key) if isinstance(key, int) else "?",
                location if isinstance(location, str) else "",
                numel if isinstance(numel, int) else -1,
            )
        return _PersId(pid)

    # ----------------------------------------------------------------------------------------- containers

    def append(self, target: object, values: list[object]) -> None:
        t = type(target)
        if t is _List or t is _Set:
            assert isinstance(target, _List | _Set)
            if self.cells(len(values)):
                if target.items is None:
                    target.items = []
                target.items.extend(values)
        elif t is _Obj:
            assert isinstance(target, _Obj)
            if self.cells(len(values)):
                if target.appended is None:
                    target.appended = []
                target.appended.extend(values)
        elif t is _Unknown or t is _Global or t is _Tensor or t is _PersId:
            pass
        else:
            raise _Stop(f"APPEND or ADDITEMS to a {_kind(target)}")

    def setitems(self, target: object, pairs: list[object]) -> None:
        if len(pairs) % 2:
            raise _Stop("SETITEMS with an odd number of values")
        kv = list(zip(pairs[::2], pairs[1::2], strict=True))
        for k, v in kv:
            if type(v) is _Tensor and not v.name:
                if isinstance(k, str):
                    v.name = k
                elif isinstance(k, int):
                    v.name = str(k)
        t = type(target)
        if t is _Dict or t is _Obj:
            assert isinstance(target, _Dict | _Obj)
            if self.cells(len(kv)):
                if target.items is None:
                    target.items = []
                target.items.extend(kv)
        elif t is _Unknown or t is _Global or t is _Tensor or t is _PersId:
            pass
        else:
            raise _Stop(f"SETITEM on a {_kind(target)}")

    def new_obj(self, func: object, args: object) -> object:
        return _Obj(func, args) if self.cells(1) else _UNKNOWN

    # ----------------------------------------------------------------------------------------- calls

    def call(self, func: object, args: object, kwargs: object, depth: int = 0) -> object:
        """The value of ``func(*args, **kwargs)`` in the model; a global outside the allowlist has the
        arguments recorded (also when called through the result of a call to it)."""
        root, hops = func, 0
        while type(root) is _Obj and hops < 8:
            assert isinstance(root, _Obj)
            root, hops = root.func, hops + 1
        if isinstance(root, _Global) and not root.allowed and root.rec is not None:
            self.record(root.rec, args, kwargs)
        if isinstance(func, _Global) and func.allowed:
            special = _SPECIAL.get((func.module, func.name))
            if special is not None:
                value = special(self, args if type(args) is tuple else (), depth)
                if value is not None:
                    return value
        return self.new_obj(func, args)

    def record(self, rec: _ImportRec, args: object, kwargs: object) -> None:
        calls, cap = rec.calls, self.limits.max_calls
        if len(calls) >= cap:
            return
        width = self.limits.max_repr
        if type(args) is tuple:
            for a in args:
                if len(calls) >= cap:
                    return
                calls.append(_render_arg(a, width))
        elif args is not None:
            calls.append(_render_arg(args, width))
        if type(kwargs) is _Dict and kwargs.items:
            for k, v in kwargs.items:
                if len(calls) >= cap:
                    return
                calls.append(f"{k if isinstance(k, str) else _repr(k, 1)}={_repr(v, 2)}"[:width])

    def build(self, target: object, state: object) -> None:
        if type(target) is _Obj:
            assert isinstance(target, _Obj)
            if target.state is None:
                target.state = state
            root, hops = target.func, 0
            while type(root) is _Obj and hops < 8:
                assert isinstance(root, _Obj)
                root, hops = root.func, hops + 1
            rec = root.rec if isinstance(root, _Global) and not root.allowed else None
            if rec is not None and len(rec.calls) < self.limits.max_calls:
                rec.calls.append(_render_arg(state, self.limits.max_repr))

    # ----------------------------------------------------------------------------------------- the loop

    def run(self) -> PickleReport:
        root: object = _MISSING
        pos = self.start
        ops = 0
        try:
            root, pos, ops = self.loop()
        except _Stop as e:
            pos, ops, at = self.last_pos, self.last_ops, self.last_at
            name = _OP_NAMES.get(self.buf[at], "") if at < self.end else ""
            self.error(f"{e} (at offset {at - self.start}{', ' + name if name else ''})")
        except RecursionError:  # not expected: nothing recurses on the input; kept as a last line of defence
            pos, ops = self.last_pos, self.last_ops
            self.error("recursion limit reached")
        complete = root is not _MISSING
        if complete and self.tensors:
            self.name_paths(root)
        elif self.tensors:
            self.name_pending()
        if self.imports_cut:
            self.error(f"{self.imports_cut:,} more imports not listed (limit {self.limits.max_imports:,})")
        if self.errors_cut:
            self.errors.append(f"... and {self.errors_cut:,} more errors")
        return PickleReport(
            protocol=self.protocol,
            length=pos - self.start,
            imports=[
                PickleImport(r.module, r.name, r.offset, r.allowed, tuple(r.calls), r.category, r.note)
                for r in self.imports
            ],
            tensors=[
                TensorInfo(t.name or t.path, t.dtype, t.shape, t.key, t.path, t.location, t.offset)
                for t in self.tensors
            ],
            nested=self.nested,
            errors=self.errors,
            truncated_tensors=self.truncated_tensors,
            start=self.start,
            where=self.where,
            complete=complete,
            opcodes=ops,
        )

    def loop(self) -> tuple[object, int, int]:  # noqa: C901 - one opcode loop reads best as one function
        buf, end, stack, marks = self.buf, self.end, self.stack, self.marks
        max_stack, max_line = self.limits.max_stack, self.limits.max_line
        budget = self.budget
        memo, max_memo = self.memo, self.limits.max_memo
        pos = at = self.start
        ops = 0
        check_at = 0  # the limits on ops, stack, marks and memo are checked every 256 opcodes
        try:
            while True:
                at = pos
                if pos >= end:
                    raise _Stop("truncated: no STOP before the end of the data")
                op = buf[pos]
                pos += 1
                ops += 1
                if ops >= check_at:
                    if ops > budget.ops:
                        raise _Stop(f"opcode limit of {self.limits.max_ops:,} reached")
                    if len(stack) > max_stack or len(marks) > max_stack:
                        raise _Stop(f"stack limit of {max_stack:,} reached")
                    if len(memo) > max_memo:
                        raise _Stop(f"memo limit of {max_memo:,} entries reached")
                    check_at = ops + 256
                if op == 0x71:  # BINPUT
                    if pos >= end:
                        raise _Stop("truncated BINPUT")
                    if not stack:
                        raise _Stop("memo put with an empty stack")
                    memo[buf[pos]] = stack[-1]
                    pos += 1
                elif op == 0x68:  # BINGET
                    if pos >= end:
                        raise _Stop("truncated BINGET")
                    v = memo.get(buf[pos], _MISSING)
                    if v is _MISSING:
                        raise _Stop(f"memo get of index {buf[pos]}, which was never put")
                    stack.append(v)
                    pos += 1
                elif op == 0x72:  # LONG_BINPUT
                    if pos + 4 > end:
                        raise _Stop("truncated LONG_BINPUT")
                    if not stack:
                        raise _Stop("memo put with an empty stack")
                    memo[_U4(buf, pos)[0]] = stack[-1]
                    pos += 4
                elif op == 0x6A:  # LONG_BINGET
                    if pos + 4 > end:
                        raise _Stop("truncated LONG_BINGET")
                    self.get(_U4(buf, pos)[0])
                    pos += 4
                elif op == 0x58 or op == 0x8C or op == 0x8D:  # BINUNICODE, SHORT_BINUNICODE, BINUNICODE8
                    width = 4 if op == 0x58 else 1 if op == 0x8C else 8
                    if pos + width > end:
                        raise _Stop("truncated string length")
                    n = _U4(buf, pos)[0] if op == 0x58 else buf[pos] if op == 0x8C else _U8(buf, pos)[0]
                    pos += width
                    if n > end - pos:
                        raise _Stop(f"truncated: string of {n:,} bytes declared, {end - pos:,} left")
                    stack.append(self.text(pos, pos + n, at))
                    pos += n
                elif op == 0x28:  # MARK
                    marks.append(len(stack))
                elif op == 0x4B:  # BININT1
                    if pos >= end:
                        raise _Stop("truncated BININT1")
                    stack.append(buf[pos])
                    pos += 1
                elif op == 0x74:  # TUPLE
                    items = self.pop_mark()
                    if items and not self.cells(len(items)):
                        items = []
                    stack.append(tuple(items))
                elif op == 0x85 or op == 0x86 or op == 0x87:  # TUPLE1, TUPLE2, TUPLE3
                    k = op - 0x84
                    if len(stack) - (marks[-1] if marks else 0) < k:
                        raise _Stop("stack underflow")
                    items = stack[-k:]
                    del stack[-k:]
                    stack.append(tuple(items) if self.cells(k) else ())
                elif op == 0x52:  # REDUCE
                    args = self.pop()
                    func = self.pop()
                    stack.append(self.call(func, args, None))
                elif op == 0x29:  # EMPTY_TUPLE
                    stack.append(())
                elif op == 0x89:  # NEWFALSE
                    stack.append(False)
                elif op == 0x88:  # NEWTRUE
                    stack.append(True)
                elif op == 0x4E:  # NONE
                    stack.append(None)
                elif op == 0x7D:  # EMPTY_DICT
                    self.cells(1)
                    stack.append(_Dict())
                elif op == 0x5D:  # EMPTY_LIST
                    self.cells(1)
                    stack.append(_List())
                elif op == 0x75:  # SETITEMS
                    items = self.pop_mark()
                    self.setitems(self.top(), items)
                elif op == 0x73:  # SETITEM
                    v = self.pop()
                    k0 = self.pop()
                    self.setitems(self.top(), [k0, v])
                elif op == 0x61:  # APPEND
                    v = self.pop()
                    self.append(self.top(), [v])
                elif op == 0x65 or op == 0x90:  # APPENDS, ADDITEMS
                    items = self.pop_mark()
                    self.append(self.top(), items)
                elif op == 0x51:  # BINPERSID
                    pid = self.pop()
                    stack.append(self.persistent(pid) if self.cells(1) else _UNKNOWN)
                elif op == 0x4A:  # BININT
                    if pos + 4 > end:
                        raise _Stop("truncated BININT")
                    stack.append(_I4(buf, pos)[0])
                    pos += 4
                elif op == 0x4D:  # BININT2
                    if pos + 2 > end:
                        raise _Stop("truncated BININT2")
                    stack.append(_U2(buf, pos)[0])
                    pos += 2
                elif op == 0x94:  # MEMOIZE
                    self.put(len(self.memo))
                elif op == 0x63 or op == 0x69:  # GLOBAL, INST
                    what = "GLOBAL" if op == 0x63 else "INST"
                    mod_raw = self.line(pos, what, max_line)
                    pos += len(mod_raw) + 1
                    name_raw = self.line(pos, what, max_line)
                    pos += len(name_raw) + 1
                    g = self.import_(mod_raw.decode("utf-8", "replace"), name_raw.decode("utf-8", "replace"), at)
                    if op == 0x63:
                        stack.append(g)
                    else:
                        stack.append(self.call(g, tuple(self.pop_mark()), None))
                elif op == 0x93:  # STACK_GLOBAL
                    name = self.pop()
                    module = self.pop()
                    if isinstance(module, str) and isinstance(name, str):
                        stack.append(self.import_(module, name, at))
                    else:
                        note = "module or name computed, not a plain string: unknown here"
                        stack.append(self.import_("<computed>", "<computed>", at, note))
                elif op == 0x81:  # NEWOBJ
                    args = self.pop()
                    cls = self.pop()
                    stack.append(self.call(cls, args, None))
                elif op == 0x92:  # NEWOBJ_EX
                    kwargs = self.pop()
                    args = self.pop()
                    cls = self.pop()
                    stack.append(self.call(cls, args, kwargs))
                elif op == 0x6F:  # OBJ
                    items = self.pop_mark()
                    if not items:
                        raise _Stop("OBJ without a class")
                    stack.append(self.call(items[0], tuple(items[1:]), None))
                elif op == 0x62:  # BUILD
                    state = self.pop()
                    self.build(self.top(), state)
                elif op == 0x2E:  # STOP
                    if len(stack) <= (marks[-1] if marks else 0):
                        raise _Stop("STOP with an empty stack")
                    return stack.pop(), pos, ops
                elif op == 0x80:  # PROTO
                    if pos >= end:
                        raise _Stop("truncated PROTO")
                    proto = buf[pos]
                    pos += 1
                    if proto > 5:
                        raise _Stop(f"unsupported pickle protocol {proto}")
                    if self.protocol is None:
                        self.protocol = proto
                elif op == 0x95:  # FRAME: advisory, the opcodes inside are walked as they come
                    if pos + 8 > end:
                        raise _Stop("truncated FRAME")
                    pos += 8
                elif op == 0x30:  # POP
                    if len(stack) > (marks[-1] if marks else 0):
                        stack.pop()
                    else:
                        self.pop_mark()
                elif op == 0x31:  # POP_MARK
                    self.pop_mark()
                elif op == 0x32:  # DUP
                    stack.append(self.top())
                elif op == 0x8F:  # EMPTY_SET
                    self.cells(1)
                    stack.append(_Set())
                elif op == 0x91:  # FROZENSET
                    items = self.pop_mark()
                    stack.append(_Set(items if self.cells(len(items) + 1) else None))
                elif op == 0x6C:  # LIST
                    items = self.pop_mark()
                    stack.append(_List(items if self.cells(len(items) + 1) else None))
                elif op == 0x64:  # DICT
                    items = self.pop_mark()
                    d = _Dict()
                    self.cells(1)
                    self.setitems(d, items)
                    stack.append(d)
                elif op == 0x42 or op == 0x43 or op == 0x8E or op == 0x96:  # BINBYTES, SHORT_, BINBYTES8, BYTEARRAY8
                    width = 4 if op == 0x42 else 1 if op == 0x43 else 8
                    if pos + width > end:
                        raise _Stop("truncated bytes length")
                    n = _U4(buf, pos)[0] if op == 0x42 else buf[pos] if op == 0x43 else _U8(buf, pos)[0]
                    pos += width
                    if n > end - pos:
                        raise _Stop(f"truncated: bytes of {n:,} declared, {end - pos:,} left")
                    stack.append(self.raw_bytes(pos, pos + n, at))
                    pos += n
                elif op == 0x54 or op == 0x55:  # BINSTRING, SHORT_BINSTRING (Python 2 str: bytes)
                    width = 4 if op == 0x54 else 1
                    if pos + width > end:
                        raise _Stop("truncated string length")
                    n = _I4(buf, pos)[0] if op == 0x54 else buf[pos]
                    pos += width
                    if n < 0:
                        raise _Stop("negative string length")
                    if n > end - pos:
                        raise _Stop(f"truncated: string of {n:,} bytes declared, {end - pos:,} left")
                    stack.append(self.raw_bytes(pos, pos + n, at).decode("latin-1"))
                    pos += n
                elif op == 0x8A or op == 0x8B:  # LONG1, LONG4
                    width = 1 if op == 0x8A else 4
                    if pos + width > end:
                        raise _Stop("truncated LONG length")
                    n = buf[pos] if op == 0x8A else _I4(buf, pos)[0]
                    pos += width
                    if n < 0:
                        raise _Stop("negative LONG length")
                    if n > end - pos:
                        raise _Stop(f"truncated: LONG of {n:,} bytes declared, {end - pos:,} left")
                    if n <= self.limits.max_long_bytes:
                        stack.append(int.from_bytes(buf[pos : pos + n], "little", signed=True))
                    else:
                        stack.append(_UNKNOWN)
                    pos += n
                elif op == 0x47:  # BINFLOAT
                    if pos + 8 > end:
                        raise _Stop("truncated BINFLOAT")
                    stack.append(_F8(buf, pos)[0])
                    pos += 8
                elif op == 0x49 or op == 0x4C:  # INT, LONG (text)
                    raw = self.line(pos, "INT" if op == 0x49 else "LONG", max_line)
                    pos += len(raw) + 1
                    if op == 0x49 and raw in (b"00", b"01"):
                        stack.append(raw == b"01")
                    else:
                        digits = raw[:-1] if raw.endswith(b"L") else raw
                        stack.append(self.number(digits, "INT") if len(digits) <= 300 else _UNKNOWN)
                elif op == 0x46:  # FLOAT (text)
                    raw = self.line(pos, "FLOAT", max_line)
                    pos += len(raw) + 1
                    try:
                        stack.append(float(raw))
                    except ValueError:
                        raise _Stop(f"bad FLOAT argument {raw[:40]!r}") from None
                elif op == 0x53:  # STRING: a quoted, escaped literal
                    raw = self.line(pos, "STRING")
                    pos += len(raw) + 1
                    if len(raw) < 2 or raw[0] != raw[-1] or raw[0] not in b"'\"":
                        raise _Stop("STRING argument is not quoted")
                    try:
                        value = codecs.escape_decode(raw[1:-1])[0]
                    except ValueError:
                        raise _Stop("bad escape in a STRING argument") from None
                    self.maybe_nested(value, 0, len(value), at, False)
                    stack.append(value[: self.limits.max_str].decode("latin-1"))
                elif op == 0x56:  # UNICODE: raw-unicode-escape text
                    raw = self.line(pos, "UNICODE")
                    pos += len(raw) + 1
                    try:
                        text = raw.decode("raw-unicode-escape")
                    except UnicodeDecodeError:
                        raise _Stop("bad UNICODE argument") from None
                    encoded = text.encode("utf-8", "surrogatepass")
                    self.maybe_nested(encoded, 0, len(encoded), at, True)
                    stack.append(text[: self.limits.max_str])
                elif op == 0x67 or op == 0x70:  # GET, PUT (text)
                    raw = self.line(pos, "GET" if op == 0x67 else "PUT", max_line)
                    pos += len(raw) + 1
                    idx = self.number(raw, "memo index")
                    if op == 0x67:
                        self.get(idx)
                    else:
                        self.put(idx)
                elif op == 0x50:  # PERSID (text)
                    raw = self.line(pos, "PERSID", max_line)
                    pos += len(raw) + 1
                    stack.append(_PersId(raw[: self.limits.max_str].decode("ascii", "replace")))
                elif op == 0x82 or op == 0x83 or op == 0x84:  # EXT1, EXT2, EXT4
                    width = 1 if op == 0x82 else 2 if op == 0x83 else 4
                    if pos + width > end:
                        raise _Stop("truncated EXT code")
                    code = buf[pos] if op == 0x82 else _U2(buf, pos)[0] if op == 0x83 else _I4(buf, pos)[0]
                    pos += width
                    stack.append(self.import_("<extension registry>", str(code), at))
                elif op == 0x98:  # READONLY_BUFFER
                    self.top()
                elif op == 0x97:  # NEXT_BUFFER
                    raise _Stop("NEXT_BUFFER: out-of-band data the file cannot hold")
                else:
                    raise _Stop(f"unknown opcode 0x{op:02x}")
        finally:
            self.last_pos, self.last_at, self.last_ops = pos, at, ops
            budget.ops -= ops

    # ----------------------------------------------------------------------------------------- paths

    def name_pending(self) -> None:
        """After a walk that ended early: name the tensors of key/value pairs still waiting on the stack for
        their SETITEMS (torch writes them in batches of 1000)."""
        stack = self.stack
        bounds = [*self.marks, len(stack)]
        for lo, hi in zip(bounds, bounds[1:], strict=False):
            for i in range(lo, hi - 1, 2):
                k, v = stack[i], stack[i + 1]
                if type(v) is _Tensor and not v.name and isinstance(k, str):
                    v.name = k

    def name_paths(self, root: object) -> None:
        """Give every tensor reachable from ``root`` the path of its first place (preorder; each container
        visited once, so shared references cost nothing twice). In a pickled ``nn.Module`` - an object whose
        state holds ``_parameters`` - the ``_parameters``, ``_buffers`` and ``_modules`` levels are left out of
        the path, and a tensor found through them is named by that path, as ``state_dict()`` would name it."""
        seen: set[int] = set()
        steps = self.limits.max_walk
        max_depth = self.limits.max_path_depth
        noted = False
        # (value, path, depth, how it was reached: 0 plainly, 1 as an object's state, 2 through a module's parts)
        todo: list[tuple[object, str, int, int]] = [(root, "", 0, 0)]
        while todo:
            v, path, depth, how = todo.pop()
            t = type(v)
            if t is _Tensor:
                assert isinstance(v, _Tensor)
                if not v.path:
                    v.path = path
                    if how == 2 and path:
                        v.name = path
                continue
            if t not in _CONTAINERS or id(v) in seen:
                continue
            seen.add(id(v))
            steps -= 1
            if steps < 0:
                self.error(f"tensor path walk stopped after {self.limits.max_walk:,} containers")
                return
            if depth >= max_depth or len(path) > 4 * self.limits.max_str:
                if not noted:
                    noted = True
                    self.error(f"tensor paths not followed past {max_depth} levels of nesting")
                continue
            inner = 2 if how == 2 else 0
            children: list[tuple[object, str, int, int]] = []
            if isinstance(v, _Dict | _Obj):
                items = v.items or ()
                module = how == 1 and type(v) is _Dict and any(k == "_parameters" for k, _ in items)
                for k, x in items:
                    if module and k in _MODULE_PARTS:
                        children.append((x, path, depth + 1, 2))
                    else:
                        children.append((x, _join(path, _key_segment(k)), depth + 1, inner))
            if isinstance(v, _List | _Obj):
                values = v.items if isinstance(v, _List) else v.appended
                for i, x in enumerate(values or ()):
                    children.append((x, _join(path, str(i)), depth + 1, inner))
            elif isinstance(v, tuple):
                for i, x in enumerate(v):
                    children.append((x, _join(path, str(i)), depth + 1, inner))
            if isinstance(v, _Obj) and v.state is not None:
                children.append((v.state, path, depth + 1, 1))
            todo.extend(reversed(children))


_MODULE_PARTS = frozenset({"_parameters", "_buffers", "_modules"})


def _join(path: str, segment: str) -> str:
    return f"{path}.{segment}" if path else segment


def _key_segment(k: object) -> str:
    if isinstance(k, str):
        return k
    if isinstance(k, int):
        return str(k)
    return _repr(k, 1)


def _kind(v: object) -> str:
    return type(v).__name__.lstrip("_").lower()


# --------------------------------------------------------------------------------------------------- special calls


def _dtype_of(v: object) -> str:
    """A dtype name from a storage type or a dtype global ('' when neither)."""
    if isinstance(v, _Global) and v.module in ("torch", "torch.storage"):
        if v.name in _STORAGE_DTYPES:
            return _STORAGE_DTYPES[v.name]
        name = _DTYPE_ALIASES.get(v.name, v.name)
        if name in _DTYPES:
            return name
    return ""


def _shape(v: object) -> tuple[int, ...]:
    items = v if type(v) is tuple else v.items if isinstance(v, _List) else None
    if items is None:
        return ()
    return tuple(x if type(x) is int else -1 for x in items)


def _rebuild_from_storage(w: _Walk, args: tuple[object, ...], depth: int, dtype_at: int = -1) -> object:
    if len(args) < 3:
        return None
    storage, offset, size = args[0], args[1], args[2]
    dtype = ""
    if dtype_at >= 0 and len(args) > dtype_at:
        dtype = _dtype_of(args[dtype_at])
    if isinstance(storage, _Storage):
        return w.new_tensor(
            dtype or storage.dtype,
            _shape(size),
            storage.key,
            storage.location,
            offset if type(offset) is int else 0,
        )
    return w.new_tensor(dtype, _shape(size), "", "", offset if type(offset) is int else 0)


def _sp_tensor_v1_v2(w: _Walk, args: tuple[object, ...], depth: int) -> object:
    return _rebuild_from_storage(w, args, depth)


def _sp_tensor_v3(w: _Walk, args: tuple[object, ...], depth: int) -> object:
    return _rebuild_from_storage(w, args, depth, dtype_at=6)


def _sp_parameter(w: _Walk, args: tuple[object, ...], depth: int) -> object:
    return args[0] if args and type(args[0]) is _Tensor else None


def _sp_from_type_v2(w: _Walk, args: tuple[object, ...], depth: int) -> object:
    # _rebuild_from_type_v2(func, new_type, args, state): torch calls func(*args) - follow it (a hostile func
    # gets its arguments recorded like any other call)
    if len(args) >= 3 and depth < 4:
        value = w.call(args[0], args[2], None, depth + 1)
        if type(value) is _Tensor:
            return value
    return None


def _sp_meta(w: _Walk, args: tuple[object, ...], depth: int) -> object:
    # _rebuild_meta_tensor_no_storage(dtype, size, stride, requires_grad)
    if len(args) >= 2:
        return w.new_tensor(_dtype_of(args[0]), _shape(args[1]))
    return None


def _sp_wrapper(w: _Walk, args: tuple[object, ...], depth: int) -> object:
    # _rebuild_wrapper_subclass(cls, dtype, size, stride, storage_offset, layout, device, requires_grad)
    if len(args) >= 3:
        return w.new_tensor(_dtype_of(args[1]), _shape(args[2]))
    return None


def _sp_sparse(w: _Walk, args: tuple[object, ...], depth: int) -> object:
    # _rebuild_sparse_tensor(layout, data): data is (indices, values, size[, is_coalesced]) for COO and
    # (compressed indices, plain indices, values, size) for the compressed layouts. torch.load gives one tensor,
    # of the values' dtype and the given size: so is it listed, its parts not on their own
    if len(args) < 2 or type(args[1]) is not tuple:
        return None
    data = args[1]
    parts = [x for x in data if type(x) is _Tensor]
    sizes = [x for x in data if type(x) is tuple]
    if not parts or not sizes:
        return None
    values = parts[-1]
    assert isinstance(values, _Tensor)
    for part in parts:
        assert isinstance(part, _Tensor)
        w.forget_tensor(part)
    return w.new_tensor(values.dtype, _shape(sizes[0]), values.key, values.location, values.offset)


def _sp_ordered_dict(w: _Walk, args: tuple[object, ...], depth: int) -> object:
    d = _Dict()
    w.cells(1)
    if args:
        pairs = args[0].items if isinstance(args[0], _List) else args[0] if type(args[0]) is tuple else None
        flat: list[object] = []
        for p in pairs or ():
            items = p if type(p) is tuple else p.items if isinstance(p, _List) else None
            if items is not None and len(items) == 2:
                flat.extend(items)
        if flat:
            w.setitems(d, flat)
    return d


def _sp_set(w: _Walk, args: tuple[object, ...], depth: int) -> object:
    src = args[0] if args else None
    items = src.items if isinstance(src, _List | _Set) else list(src) if type(src) is tuple else None
    return _Set(list(items) if items and w.cells(len(items) + 1) else None)


def _sp_size(w: _Walk, args: tuple[object, ...], depth: int) -> object:
    if args and (type(args[0]) is tuple or isinstance(args[0], _List)):
        return tuple(_shape(args[0]))
    return None


def _sp_encode(w: _Walk, args: tuple[object, ...], depth: int) -> object:
    # protocol 2 writes bytes as _codecs.encode(text, 'latin1')
    if args and isinstance(args[0], str):
        return args[0].encode("latin-1", "replace")
    return None


def _sp_bytearray(w: _Walk, args: tuple[object, ...], depth: int) -> object:
    if not args:
        return b""
    if isinstance(args[0], bytes):
        return args[0]
    return _sp_encode(w, args, depth)


_SpecialFn = Callable[[_Walk, tuple[object, ...], int], object]
_SPECIAL: dict[tuple[str, str], _SpecialFn] = {}


def _register() -> None:
    table: dict[tuple[str, str], _SpecialFn] = {
        ("torch._utils", "_rebuild_tensor"): _sp_tensor_v1_v2,
        ("torch._utils", "_rebuild_tensor_v2"): _sp_tensor_v1_v2,
        ("torch._utils", "_rebuild_qtensor"): _sp_tensor_v1_v2,
        ("torch._utils", "_rebuild_tensor_v3"): _sp_tensor_v3,
        ("torch._utils", "_rebuild_parameter"): _sp_parameter,
        ("torch._utils", "_rebuild_parameter_with_state"): _sp_parameter,
        ("torch._tensor", "_rebuild_from_type_v2"): _sp_from_type_v2,
        ("torch._utils", "_rebuild_meta_tensor_no_storage"): _sp_meta,
        ("torch._utils", "_rebuild_wrapper_subclass"): _sp_wrapper,
        ("torch._utils", "_rebuild_sparse_tensor"): _sp_sparse,
        ("collections", "OrderedDict"): _sp_ordered_dict,
        ("builtins", "set"): _sp_set,
        ("builtins", "frozenset"): _sp_set,
        ("torch", "Size"): _sp_size,
        ("_codecs", "encode"): _sp_encode,
        ("builtins", "bytearray"): _sp_bytearray,
    }
    for key, fn in table.items():
        assert key in ALLOWED
        _SPECIAL[key] = fn


_register()


# --------------------------------------------------------------------------------------------------- rendering


def _render_arg(v: object, width: int) -> str:
    """One call argument for a human: a string verbatim, anything else a short repr; at most ``width``."""
    text = v if isinstance(v, str) else _repr(v, 2)
    return text if len(text) <= width else text[: width - 1] + "…"


def _repr(v: object, depth: int) -> str:  # noqa: C901 - one case per value kind
    """A short, bounded repr of a model value (at most ``depth`` levels, 6 elements a level)."""
    if v is None or isinstance(v, bool | float):
        return repr(v)
    if isinstance(v, int):
        text = repr(v)
        return text if len(text) <= 40 else text[:20] + "…"
    if isinstance(v, str):
        return repr(v[:80]) + ("…" if len(v) > 80 else "")
    if isinstance(v, bytes):
        return repr(v[:40]) + ("…" if len(v) > 40 else "")
    if isinstance(v, _Global):
        return f"{v.module}.{v.name}"
    if isinstance(v, _Tensor):
        return f"tensor({v.dtype or '?'}, {list(v.shape)})"
    if isinstance(v, _Storage):
        return f"storage({v.key!r}, {v.dtype or '?'})"
    if isinstance(v, _PersId):
        return f"persistent_id({_repr(v.pid, depth - 1) if depth > 0 else '…'})"
    if isinstance(v, _Obj):
        inner = _seq(v.args if type(v.args) is tuple else (v.args,), depth - 1) if depth > 0 else "…"
        return f"{_repr(v.func, 0) if isinstance(v.func, _Global) else 'call'}({inner})"
    if isinstance(v, tuple):
        return f"({_seq(v, depth - 1)}{',' if len(v) == 1 else ''})" if depth > 0 else "(…)"
    if isinstance(v, _List):
        return f"[{_seq(v.items or [], depth - 1)}]" if depth > 0 else "[…]"
    if isinstance(v, _Set):
        return f"{{{_seq(v.items or [], depth - 1)}}}" if depth > 0 else "{…}"
    if isinstance(v, _Dict):
        if depth <= 0:
            return "{…}"
        items = v.items or []
        body = ", ".join(f"{_repr(k, depth - 1)}: {_repr(x, depth - 1)}" for k, x in items[:6])
        return "{" + body + (", …" if len(items) > 6 else "") + "}"
    return "?"


def _seq(items: tuple[object, ...] | list[object], depth: int) -> str:
    if depth < 0:
        return "…"
    body = ", ".join(_repr(x, depth) for x in items[:6])
    return body + (", …" if len(items) > 6 else "")


# --------------------------------------------------------------------------------------------------- zip


_LFH = b"PK\x03\x04"
_ENDS = (b"PK\x01\x02", b"PK\x05\x06", b"PK\x06\x06", b"PK\x06\x07")
_DD = b"PK\x07\x08"
_LFH_FIELDS = struct.Struct("<HHHHHIIIHH")
_RECORD = re.compile(r"[^/]+/data/[^/]+")
_META_MEMBERS = ("version", "byteorder")


@dataclass
class _Member:
    name: str
    flags: int
    method: int
    csize: int
    usize: int
    data_at: int
    zip64: bool
    sizes_known: bool  # False: flag bit 3 with zero sizes - they follow the data, in a data descriptor


def _local_header(buf: bytes, pos: int) -> _Member | None:
    """The member whose local header starts at ``pos`` (signature already checked); None when ``buf`` ends
    before its data starts."""
    if pos + 30 > len(buf):
        return None
    _ver, flags, method, _t, _d, _crc, csize, usize, nlen, xlen = _LFH_FIELDS.unpack_from(buf, pos + 4)
    name_at = pos + 30
    data_at = name_at + nlen + xlen
    if data_at > len(buf):
        return None
    name = buf[name_at : name_at + nlen].decode("utf-8" if flags & 0x800 else "cp437", "replace")
    zip64 = False
    x = name_at + nlen
    while x + 4 <= data_at:  # extra fields: only zip64's sizes matter (torch also pads with an 'FB' field)
        xid, xsize = _U2(buf, x)[0], _U2(buf, x + 2)[0]
        if xid == 1:
            zip64 = True
            body, body_end = x + 4, min(x + 4 + xsize, data_at)
            if usize == 0xFFFFFFFF and body + 8 <= body_end:
                usize = _U8(buf, body)[0]
                body += 8
            if csize == 0xFFFFFFFF and body + 8 <= body_end:
                csize = _U8(buf, body)[0]
        x += 4 + xsize
    return _Member(name, flags, method, csize, usize, data_at, zip64, not (flags & 8) or csize != 0)


def _find_descriptor(buf: bytes, data_at: int, max_scan: int) -> tuple[int, int] | str:
    """(end of the data, start of the next header) of a member whose sizes follow its data: the first data
    descriptor whose compressed size equals its distance from ``data_at`` and that is followed by a zip
    signature or the end of ``buf``; 'absent' when there is none in ``buf``, 'limit' after ``max_scan``
    candidates."""
    n, p = len(buf), data_at
    for _ in range(max_scan):
        p = buf.find(_DD, p)
        if p < 0:
            return "absent"
        size = p - data_at
        for width, unpack in ((4, _U4), (8, _U8)):
            nxt = p + 8 + 2 * width
            if nxt <= n and unpack(buf, p + 8)[0] == size and (nxt + 2 > n or buf[nxt : nxt + 2] == b"PK"):
                return p, nxt
        p += 1
    return "limit"


def _after_descriptor(buf: bytes, data_end: int, zip64: bool) -> int:
    """Where the next header starts after the data descriptor at ``data_end`` (its signature is optional)."""
    p = data_end + 4 if buf[data_end : data_end + 4] == _DD else data_end
    for width in (8, 4) if zip64 else (4, 8):
        nxt = p + 4 + 2 * width
        if nxt >= len(buf) or buf[nxt : nxt + 2] == b"PK":
            return nxt
    return p + 12


def inspect_torch_zip(
    head: bytes | bytearray | memoryview,
    *,
    limits: PickleLimits = DEFAULT_LIMITS,
    max_inflate: int = 64 * 1024 * 1024,
    max_members: int = 1000,
    max_pickles: int = 16,
    max_scan: int = 100_000,
    max_headers: int = 1_000_000,
) -> TorchZipReport:
    """Walk the first bytes of a PyTorch zip checkpoint by its local headers: list its members (the first
    ``max_members`` names), count its tensor records, and inspect ``*/data.pkl`` and every other ``.pkl``
    member (stored, or deflated to at most ``max_inflate`` bytes), then at most ``max_pickles`` in all. A member
    named otherwise (the local header's name may not be the central directory's: a loader reads the latter) is
    inspected too when its bytes start with PROTO 2 to 5, and kept when they read as a pickle (to STOP, or with
    imports); so is a stored member flagged as encrypted (bit 0) whose bytes are a plain pickle, with an error
    line - other encrypted members are counted, not read. A member whose sizes follow its data (flag bit 3, as
    torch writes every member) ends at its pickle's STOP (checked against the data descriptor) or at the first
    consistent data descriptor (at most ``max_scan`` candidates); the walk ends after ``max_headers`` members.
    Never raises on bad input; at most ``limits.max_errors`` error lines."""
    buf = head if isinstance(head, bytes) else bytes(head)
    report = TorchZipReport(prefix="", members=[], member_count=0, pickles={}, errors=[], complete=False)
    if not buf.startswith(_LFH):
        report.errors.append("not a zip archive: no local file header at offset 0")
        return report
    n, pos = len(buf), 0
    data_pkl: str | None = None
    data_pkl_read = False
    skipped: collections.Counter[str] = collections.Counter()
    while pos + 4 <= n:
        if report.member_count >= max_headers:
            report.errors.append(f"the walk stops after {max_headers:,} members")
            break
        sig = buf[pos : pos + 4]
        if sig != _LFH:
            if sig in _ENDS:
                report.end_of_archive = True
            else:
                report.errors.append(f"no zip header at offset {pos:,}: the walk stops")
            break
        member = _local_header(buf, pos)
        if member is None:
            break
        name, at = member.name, member.data_at
        data_end: int | None = at + member.csize if member.sizes_known else None
        report.member_count += 1
        if len(report.members) < max_members:
            report.members.append(name[:512])
        else:
            report.truncated_members = True
        if _RECORD.fullmatch(name):
            report.tensor_records += 1
        is_data_pkl = name == "data.pkl" or name.endswith("/data.pkl")
        if is_data_pkl and data_pkl is None:
            data_pkl = name
            report.prefix = name[: -len("/data.pkl")] if "/" in name else ""
        named = name.endswith(".pkl")
        sniffed = _starts_like_pickle(buf, member)
        if member.flags & 1 and not (member.method == 0 and sniffed):
            skipped["encrypted members not read"] += 1
        elif named or sniffed:
            first_data_pkl = name == data_pkl and name not in report.pickles
            if len(report.pickles) < max_pickles or first_data_pkl:
                key = name
                if name in report.pickles:  # a scanner may read one copy and a loader another: keep each
                    key = f"{name} (again at offset {pos:,})"
                    report.errors.append(f"member name {name!r} appears more than once")
                found, whole, rep = _zip_pickle(buf, member, data_end, report, limits, max_inflate)
                data_end = data_end if found is None else found
                if named or rep.complete or rep.imports:  # bytes that merely start like a pickle are left out
                    report.pickles[key] = rep
                    if member.flags & 1:
                        report.errors.append(
                            f"member {name!r} is flagged as encrypted, yet its stored bytes are a plain pickle: "
                            "read (a loader that ignores the flag unpickles it)"
                        )
                if first_data_pkl and whole and rep.complete:
                    data_pkl_read = True
            else:
                skipped[f"pickle members not inspected (over {max_pickles})"] += 1
        if data_end is None:
            located = _find_descriptor(buf, at, max_scan)
            if located == "limit":
                report.errors.append(f"member {name!r}: no consistent data descriptor in {max_scan:,} tries")
            if isinstance(located, str):
                break  # the bytes read end inside this member (or the walk gave up on it)
            data_end, pos = located
        elif member.flags & 8:
            pos = _after_descriptor(buf, data_end, member.zip64)
        else:
            pos = data_end
        leaf = name.rsplit("/", 1)[-1]
        if leaf in _META_MEMBERS and member.method == 0 and data_end - at <= 64 and data_end <= n:
            setattr(report, leaf, buf[at:data_end].decode("ascii", "replace").strip())
    if data_pkl is None:
        report.errors.append(
            "no data.pkl member: not a torch.save checkpoint"
            if report.end_of_archive
            else "no data.pkl member in the bytes read"
        )
    elif not data_pkl_read:
        report.errors.append(f"the bytes read end before {data_pkl} does, or it is damaged: its report is partial")
    report.errors.extend(f"{count:,} {what}" for what, count in skipped.items())
    if len(report.errors) > limits.max_errors:
        report.errors[limits.max_errors :] = [f"... and {len(report.errors) - limits.max_errors:,} more errors"]
    report.complete = data_pkl_read or (data_pkl is None and report.end_of_archive)
    return report


def _starts_like_pickle(buf: bytes, member: _Member) -> bool:
    """The member's data (stored, or the first bytes it inflates to) starts with PROTO 2 to 5."""
    at = member.data_at
    if member.method == 0:
        first = buf[at : at + 2]
    elif member.method == 8 and not member.flags & 1:
        try:
            first = zlib.decompressobj(-15).decompress(buf[at : at + 1024], 2)
        except zlib.error:
            return False
    else:
        return False
    return len(first) == 2 and first[0] == 0x80 and 2 <= first[1] <= 5


def _zip_pickle(
    buf: bytes,
    member: _Member,
    data_end: int | None,
    report: TorchZipReport,
    limits: PickleLimits,
    max_inflate: int,
) -> tuple[int | None, bool, PickleReport]:
    """Inspect one .pkl member: (where its data ends, when that was not known and is found now; whether the
    member was read whole; the pickle's report). Problems with the member itself go to ``report.errors``."""
    n, name, at = len(buf), member.name, member.data_at
    if member.method == 0:
        stop = n if data_end is None else min(data_end, n)
        rep = inspect_pickle(buf, start=at, end=stop, where=name, limits=limits)
        if data_end is not None:
            if rep.complete and at + rep.length < data_end:
                rep.errors.append(f"{data_end - at - rep.length:,} bytes after STOP in the member")
            return None, data_end <= n, rep
        if not rep.complete:
            return None, False, rep
        end = at + rep.length
        p = end + 4 if buf[end : end + 4] == _DD else end  # the descriptor must follow STOP and state the length
        for width, unpack in ((4, _U4), (8, _U8)):
            if p + 4 + 2 * width <= n and unpack(buf, p + 4)[0] == rep.length:
                return end, True, rep
        rep.errors.append("no data descriptor right after STOP: the member may hold more bytes")
        return None, True, rep
    empty = PickleReport(None, 0, [], [], [], [], where=name)
    if member.method != 8:
        empty.errors.append(f"compression method {member.method} not read")
        return None, False, empty
    stop = n if data_end is None else min(data_end, n)
    if member.usize > max_inflate:
        report.errors.append(
            f"member {name!r} declares {member.usize:,} bytes inflated, over the {max_inflate:,} limit"
        )
    inflater = zlib.decompressobj(-15)
    try:
        out = inflater.decompress(memoryview(buf)[at:stop], max_inflate + 1)
    except zlib.error as e:
        empty.errors.append(f"deflate data is damaged ({e})")
        return None, False, empty
    found: int | None = None
    whole = data_end is None or data_end <= n
    if len(out) > max_inflate:
        report.errors.append(f"member {name!r} inflates past the {max_inflate:,} byte limit (a zip bomb?): cut")
        out, whole = out[:max_inflate], False
    elif not inflater.eof:
        report.errors.append(f"member {name!r}: the deflate stream ends early")
        whole = False
    elif data_end is None:
        found = stop - len(inflater.unused_data)
    return found, whole, inspect_pickle(out, where=name, limits=limits)
