"""A model file's description from the bytes its reader needs: format details, tensors, metadata, training
terms (kohya ``ss_*``), ``modelspec.*``, hash claims and, for pickles, what they would import.

:func:`describe` never raises on a bad file: what cannot be read is a warning (a ``model_unreadable`` error
when nothing could be); the hashes are computed elsewhere, over every byte, whatever happens here.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from cairn.signals.models import detect
from cairn.signals.models.classify import ModelKind, Tensor, classify, kohya_style
from cairn.signals.models.safetensors_header import SafetensorsError, parse

#: Tensors listed in a finding (the count is always given; the classification saw them all).
LISTED_TENSORS = 32
#: Tags kept of a LoRA's tag frequencies (the most frequent; the total count is kept).
LISTED_TAGS = 500
#: kohya keys shown in the training summary, in this order.
TRAINING_KEYS = (
    "ss_output_name",
    "ss_sd_model_name",
    "ss_base_model_version",
    "ss_training_comment",
    "ss_network_module",
    "ss_network_dim",
    "ss_network_alpha",
    "ss_num_train_images",
    "ss_num_reg_images",
    "ss_seed",
    "ss_resolution",
    "ss_training_started_at",
    "ss_training_finished_at",
    "ss_new_sd_model_hash",
    "ss_sd_model_hash",
)


@dataclass
class Description:
    """What a reader made of a model file."""

    format: str
    where: str
    data: dict[str, Any] = field(default_factory=dict)
    tensors: list[Tensor] = field(default_factory=list)
    kind: ModelKind | None = None
    warnings: list[str] = field(default_factory=list)
    unreadable: str | None = None  # why nothing could be read (an error), else None
    partial: str | None = None  # why part of it could not be read (limits, truncation: an error too), else None
    dangerous: list[str] = field(default_factory=list)  # "module.name" of imports outside the allowlist


def describe(fmt: str, data: bytes, size: int | None) -> Description:
    """Describe a model file of format ``fmt`` from its first bytes ``data`` (see ``detect.capture_bytes``)."""
    reader = _READERS[fmt]
    try:
        out = reader(data, size)
    except (ValueError, KeyError, IndexError, UnicodeDecodeError, RecursionError, MemoryError) as exc:
        out = Description(fmt, "start of file", unreadable=f"{type(exc).__name__}: {exc}")
    if out.unreadable is None and out.kind is None:
        out.kind = classify(out.tensors, out.data.get("metadata") or out.data.get("gguf_metadata"))
    return out


def _safetensors(data: bytes, size: int | None) -> Description:
    try:
        header = parse(data, size)
    except SafetensorsError as exc:
        return Description(detect.SAFETENSORS, "header", unreadable=str(exc))
    out = Description(detect.SAFETENSORS, f"header, bytes 8 to {header.tensor_offset:,}")
    out.tensors = [(name, shape) for name, _, shape in header.tensors]
    out.warnings.extend(header.warnings)
    out.data["header_length"] = header.header_length
    out.data["tensor_count"] = header.tensor_count
    out.data["tensors"] = [[n, d, list(s)] for n, d, s in header.tensors[:LISTED_TENSORS]]
    out.data["dtypes"] = dict(Counter(d for _, d, _ in header.tensors))
    if header.metadata:
        out.data["metadata"] = header.metadata
    training = training_summary(header.metadata, header.decoded)
    if training:
        out.data["training"] = training
    spec = {k: v for k, v in header.metadata.items() if k.startswith("modelspec.")}
    if spec:
        out.data["modelspec"] = spec
    out.data["kohya_tensor_names"] = kohya_style(n for n, _ in out.tensors)
    return out


def training_summary(metadata: dict[str, str], decoded: dict[str, Any]) -> dict[str, Any]:
    """The kohya training facts an investigator reads first, tag frequencies summed over the dataset folders."""
    out: dict[str, Any] = {k.removeprefix("ss_"): metadata[k] for k in TRAINING_KEYS if metadata.get(k)}
    freq = decoded.get("ss_tag_frequency")
    if isinstance(freq, dict):
        tags: Counter[str] = Counter()
        for per_folder in freq.values():
            if isinstance(per_folder, dict):
                for tag, count in per_folder.items():
                    if isinstance(count, int | float):
                        tags[str(tag).strip()[:200]] += int(count)
        out["tag_count"] = len(tags)
        out["tags"] = dict(tags.most_common(LISTED_TAGS))
        out["tag_folders"] = [str(k)[:200] for k in freq][:100]
    dirs = decoded.get("ss_dataset_dirs")
    if isinstance(dirs, dict):
        out["dataset_dirs"] = {
            str(k)[:200]: {kk: vv for kk, vv in v.items() if isinstance(vv, int | float | str)}
            for k, v in list(dirs.items())[:100]
            if isinstance(v, dict)
        }
    return out


def _gguf(data: bytes, size: int | None) -> Description:
    from cairn.signals.models.gguf_header import GgufError, read_gguf

    try:
        info = read_gguf(data, size)
    except GgufError as exc:
        return Description(detect.GGUF, "header", unreadable=str(exc))
    out = Description(detect.GGUF, "header (key/values and tensor infos)")
    out.warnings.extend(info.errors)
    out.partial = info.errors[0] if info.errors else None
    if not info.complete:
        out.warnings.append(f"header longer than the {detect.CAPTURE:,} bytes read: tensor list incomplete")
    out.data.update(
        version=info.version,
        byte_order=info.byte_order,
        tensor_count=info.tensor_count,
        gguf_metadata={k: _plain(v) for k, v in info.metadata.items()},
        tensors=[[n, t, list(s)] for n, s, t in info.tensors[:LISTED_TENSORS]],
    )
    out.tensors = [(n, s) for n, s, _ in info.tensors]
    arch = info.metadata.get("general.architecture")
    if isinstance(arch, str):
        out.kind = ModelKind(
            "llm" if arch not in ("clip", "flux", "sd1", "sdxl", "sd3") else "other",
            None,
            f"GGUF general.architecture {arch!r}",
        )
    return out


def _onnx(data: bytes, size: int | None) -> Description:
    from cairn.signals.models.onnx_header import OnnxError, read_onnx

    try:
        info = read_onnx(data, size)
    except OnnxError as exc:
        return Description(detect.ONNX, "start of file", unreadable=str(exc))
    out = Description(detect.ONNX, "ModelProto (metadata, graph inputs and outputs; weights skipped)")
    out.warnings.extend(info.errors)
    out.partial = info.errors[0] if info.errors else None
    fields = {k: _plain(v) for k, v in vars(info).items() if k not in ("errors",)}
    out.data.update(fields)
    out.kind = ModelKind("other", None, "an ONNX graph (its purpose is read from its names, inputs and outputs)")
    return out


def _diffusers(data: bytes, size: int | None) -> Description:
    out = Description(detect.DIFFUSERS, "model_index.json")
    out.data.update(detect.diffusers_index(data))
    out.kind = ModelKind("checkpoint", None, "a diffusers pipeline's model_index.json (the folder holds the model)")
    return out


def _pickle_data(report: Any) -> dict[str, Any]:
    return {
        "protocol": report.protocol,
        "length": report.length,
        "imports": sorted({f"{i.module}.{i.name}" for i in report.imports}),
        "dangerous": [
            {"callable": f"{i.module}.{i.name}", "offset": i.offset, "calls": list(i.calls)} for i in report.dangerous
        ],
        "nested": [{"where": where, **_pickle_data(inner)} for where, inner in report.nested],
        "errors": list(report.errors),
        "tensor_count": len(report.tensors),
    }


def _tensors_of(report: Any) -> list[Tensor]:
    return [(t.name, tuple(t.shape)) for t in report.tensors]


def _torch_zip(data: bytes, size: int | None) -> Description:
    from cairn.signals.models.pickles import inspect_torch_zip

    zipped = inspect_torch_zip(data)
    out = Description(detect.TORCH_ZIP, f"zip members of archive {zipped.prefix!r}")
    out.warnings.extend(zipped.errors)
    out.data["archive"] = zipped.prefix
    out.data["member_count"] = zipped.member_count
    out.data["members"] = zipped.members[:LISTED_TENSORS]
    out.data["pickles"] = {name: _pickle_data(r) for name, r in zipped.pickles.items()}
    problems = [*zipped.errors, *(f"{n}: {e}" for n, r in zipped.pickles.items() for e in r.errors)]
    if problems or not zipped.complete:
        out.partial = problems[0] if problems else "the archive's data.pkl was not read in full"
    for name, report in zipped.pickles.items():
        out.tensors.extend(_tensors_of(report))
        out.dangerous.extend(_dangerous(report))
        if name.endswith("data.pkl"):
            out.where = f"{name} (zip member), its pickle opcodes walked, never run"
    _tensor_list(out)
    return out


def _pickle(data: bytes, size: int | None) -> Description:
    from cairn.signals.models.pickles import inspect_pickles_in_a_row

    reports = inspect_pickles_in_a_row(data)
    if not reports:
        return Description(detect.PICKLE, "start of file", unreadable="no readable pickle at the start")
    out = Description(detect.PICKLE, f"{len(reports)} pickle(s) from offset 0, opcodes walked, never run")
    out.data["legacy_torch"] = detect.is_torch_legacy(data)
    out.data["pickles"] = [_pickle_data(r) for r in reports]
    problems = [e for r in reports for e in r.errors]
    if problems:
        out.partial = problems[0]
    for report in reports:
        out.tensors.extend(_tensors_of(report))
        out.dangerous.extend(_dangerous(report))
    _tensor_list(out)
    return out


def _dangerous(report: Any) -> list[str]:
    """``module.name`` of the imports outside the allowlist (``report.dangerous`` already holds the nested
    pickles' own)."""
    return [f"{i.module}.{i.name}" for i in report.dangerous]


def _tensor_list(out: Description) -> None:
    out.data["tensor_count"] = len(out.tensors)
    out.data["tensors"] = [[n, list(s)] for n, s in out.tensors[:LISTED_TENSORS]]


def _plain(value: Any) -> Any:
    """A JSON-storable copy (tuples as lists, bytes as hex, other objects as text)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, bytes):
        return value[:256].hex()
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)[:1000]


_READERS = {
    detect.SAFETENSORS: _safetensors,
    detect.GGUF: _gguf,
    detect.ONNX: _onnx,
    detect.DIFFUSERS: _diffusers,
    detect.TORCH_ZIP: _torch_zip,
    detect.PICKLE: _pickle,
}
