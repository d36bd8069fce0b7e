"""Benign demo pictures carrying generation records the way A1111, Forge, Fooocus, SwarmUI and NovelAI write
them, an XMP DigitalSourceType declaration, and the demo's AI-samples hook.

Every picture is drawn (no model made it) and every record describes a benign generation ("a red bicycle on a
beach"); model and LoRA hashes are those of the demo's own tiny model files (:mod:`cairn.demo.ai_models`)
where the demo has one (so a scan links each picture to its files), else digests of placeholder labels (a
model named but not on the evidence), stable so tests can expect them. How each tool writes its record (read
from the tools' public source and documentation):

* **A1111** PNG: tEXt ``parameters`` (prompt, ``Negative prompt:`` line, settings line; ``Lora hashes`` and
  ``TI hashes`` JSON-quoted). JPEG: Pillow's JPEG, then ``piexif.insert`` of a big-endian TIFF (in place of the
  JFIF segment) with UserComment in the Exif sub-IFD, ``UNICODE\\0`` + UTF-16 **big-endian**; the other
  UserComment forms readers meet are written too, through Pillow's EXIF: ``UNICODE\\0`` + UTF-16 little-endian
  (no byte-order mark), ``ASCII\\0\\0\\0``, and no prefix. GIF: a comment extension (A1111's ``comment=``).
* **Forge** PNG: the same ``parameters`` with ``Version: f2.0.1v1.10.1-...``. (The stealth pixel copy Forge adds
  is written by :mod:`cairn.signals.provenance.stealth`'s demo writers.)
* **Fooocus** PNG: tEXt ``parameters`` (its JSON scheme, keys sorted) + ``fooocus_scheme`` = ``fooocus``; JPEG:
  Pillow's top-level EXIF (IFD0) UserComment without prefix (the A1111 scheme text), MakerNote = ``a1111``,
  Software = ``Fooocus v2.5.5``; WebP: the same EXIF with the JSON scheme.
* **SwarmUI** PNG: iTXt ``parameters`` (empty language) holding its JSON with ``sui_models`` hashes
  (``0x`` + 64 hex); JPEG: UserComment ``UNICODE\\0`` + UTF-16 little-endian.
* **NovelAI** PNG: tEXt ``Title``, ``Description``, ``Software`` = NovelAI, ``Source``, ``Generation time``,
  ``Comment`` (JSON).
* **XMP** JPEG: APP1 XMP with ``Iptc4xmpExt:DigitalSourceType`` trainedAlgorithmicMedia (and one with plain
  algorithmicMedia, which is not generative AI).

The hook: :data:`WRITERS` is a tuple of functions ``(folder) -> [paths written]``; :func:`ai_samples` (a demo
contributor) runs each into ``AI_FOLDER``, fixes the files' times and lists them with role ``ai_sample``. Other
sample writers (ComfyUI/InvokeAI, stealth copies, watermarks) append their functions to ``WRITERS``.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import struct
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, PngImagePlugin

from cairn.demo import ai_samples_c2pa, ai_samples_graphs, ai_samples_pixels
from cairn.demo.ai_models import file_hash
from cairn.demo.context import DemoContext, content_entry, contributor, file_time
from cairn.demo.manifest import IMAGE, DemoEntry
from cairn.demo.pictures import draw_picture

#: Where the AI samples go in the demo tree.
AI_FOLDER = "Users/alex/Pictures/AI"
#: Manifest role of every AI sample.
AI_SAMPLE = "ai_sample"

PROMPT = "a red bicycle on a beach"
NEGATIVE = "blurry, lowres"
SEED = 1234567890
STEPS = 20
CFG = 7.0
WIDTH, HEIGHT = 320, 256


def placeholder(label: str) -> str:
    """A stable 64-hex stand-in for a model file's SHA-256 (there is no model file)."""
    return hashlib.sha256(f"cairn demo placeholder: {label}".encode()).hexdigest()


CHECKPOINT = "v1-5-pruned-emaonly"
CHECKPOINT_AUTOV2 = file_hash("v1-5-pruned-emaonly.ckpt", "autov2")  # the demo checkpoint (ai_models)
VAE = "vae-ft-mse-840000-ema-pruned.safetensors"
VAE_AUTOV2 = file_hash(VAE, "autov2")
LORA = "beachStyle_v2"
LORA_AUTOV3 = file_hash(f"Lora/{LORA}.safetensors", "autov3")
LORA_WEIGHT = 0.8
EMBEDDING = "sandTexture"
EMBEDDING_SHA12 = file_hash(f"{EMBEDDING}.safetensors", "sha256_12")
A1111_VERSION = "v1.10.1"
FORGE_VERSION = "f2.0.1v1.10.1-previous-313-g8a042934"
FOOOCUS_VERSION = "2.5.5"
FOOOCUS_CHECKPOINT = "juggernautXL_v8Rundiffusion"
FOOOCUS_CHECKPOINT_AUTOV2 = placeholder(FOOOCUS_CHECKPOINT)[:10]
FOOOCUS_LORA = "sd_xl_offset_example-lora_1.0"
FOOOCUS_LORA_AUTOV2 = file_hash(f"{FOOOCUS_LORA}.safetensors", "autov2")
FOOOCUS_LORA_WEIGHT = 0.1
SWARM_VERSION = "0.9.5.2"
SWARM_CHECKPOINT = "OfficialStableDiffusion/sd_xl_base_1.0"
SWARM_CHECKPOINT_TENSOR = placeholder("sd_xl_base_1.0 tensors")
SWARM_LORA = "Beach/bicycle_style_v1"
SWARM_LORA_TENSOR = file_hash("bicycle_style_v1.safetensors", "tensor_sha256")
NOVELAI_SOURCE_MODEL = "Stable Diffusion XL"
NOVELAI_SOURCE_HASH = "C1E1DE52"
TRAINED = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
ALGORITHMIC = "http://cv.iptc.org/newscodes/digitalsourcetype/algorithmicMedia"


def picture(name: str, width: int = WIDTH, height: int = HEIGHT) -> Image.Image:
    """A drawn benign scene, its own for each sample name (same name, same pixels)."""
    rng = np.random.default_rng(int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big"))
    return draw_picture(rng, width, height, "scene")


# -- the records, as each tool writes its text -------------------------------------------------------------


def a1111_infotext(version: str = A1111_VERSION, width: int = WIDTH, height: int = HEIGHT) -> str:
    """A1111's infotext: prompt with a LoRA tag, negative prompt, settings line (quoted values JSON-quoted)."""
    settings = {
        "Steps": STEPS,
        "Sampler": "DPM++ 2M",
        "Schedule type": "Karras",
        "CFG scale": 7,
        "Seed": SEED,
        "Size": f"{width}x{height}",
        "Model hash": CHECKPOINT_AUTOV2,
        "Model": CHECKPOINT,
        "VAE hash": VAE_AUTOV2,
        "VAE": VAE,
        "Clip skip": 2,
        "Lora hashes": f"{LORA}: {LORA_AUTOV3}",
        "TI hashes": f"{EMBEDDING}: {EMBEDDING_SHA12}",
        "Version": version,
    }
    line = ", ".join(f"{k}: {_quote(str(v))}" for k, v in settings.items())
    return f"{PROMPT}, <lora:{LORA}:{LORA_WEIGHT}>, {EMBEDDING}\nNegative prompt: {NEGATIVE}\n{line}"


def _quote(text: str) -> str:
    """A1111's rule: a value holding ``,``, ``:`` or a newline is written JSON-quoted."""
    return json.dumps(text, ensure_ascii=False) if any(ch in text for ch in ",:\n") else text


def fooocus_json() -> dict[str, Any]:
    """Fooocus' JSON scheme (its keys; Fooocus writes them sorted)."""
    doc = {
        "adm_guidance": "(1.5, 0.8, 0.3)",
        "base_model": FOOOCUS_CHECKPOINT,
        "base_model_hash": FOOOCUS_CHECKPOINT_AUTOV2,
        "full_negative_prompt": [NEGATIVE],
        "full_prompt": [PROMPT],
        "guidance_scale": 4.0,
        "loras": [[FOOOCUS_LORA, FOOOCUS_LORA_WEIGHT, FOOOCUS_LORA_AUTOV2]],
        "metadata_scheme": "fooocus",
        "negative_prompt": NEGATIVE,
        "performance": "Speed",
        "prompt": PROMPT,
        "refiner_model": "None",
        "refiner_switch": 0.5,
        "resolution": f"({WIDTH}, {HEIGHT})",
        "sampler": "dpmpp_2m_sde_gpu",
        "scheduler": "karras",
        "seed": str(SEED),
        "sharpness": 2.0,
        "steps": 30,
        "styles": "['Fooocus V2', 'Fooocus Enhance']",
        "vae": "Default (model)",
        "version": f"Fooocus v{FOOOCUS_VERSION}",
    }
    return dict(sorted(doc.items()))


def fooocus_a1111_text() -> str:
    """Fooocus' A1111 scheme: its own keys in A1111's layout; LoRA hashes are AutoV2 (10 hex)."""
    settings = {
        "Steps": 30,
        "Sampler": "DPM++ 2M SDE Karras",
        "Seed": SEED,
        "Size": f"{WIDTH}x{HEIGHT}",
        "CFG scale": 4.0,
        "Sharpness": 2.0,
        "ADM Guidance": "(1.5, 0.8, 0.3)",
        "Model": FOOOCUS_CHECKPOINT,
        "Model hash": FOOOCUS_CHECKPOINT_AUTOV2,
        "Performance": "Speed",
        "Scheduler": "karras",
        "VAE": "Default (model)",
        "Lora hashes": f"{FOOOCUS_LORA}: {FOOOCUS_LORA_AUTOV2}",
        "Lora weights": f"{FOOOCUS_LORA}: {FOOOCUS_LORA_WEIGHT}",
        "Version": f"Fooocus v{FOOOCUS_VERSION}",
    }
    line = ", ".join(f"{k}: {_quote(str(v))}" for k, v in settings.items())
    return f"{PROMPT}\nNegative prompt: {NEGATIVE}\n{line}"


def swarmui_json() -> dict[str, Any]:
    """SwarmUI's metadata JSON with model hashes (``ImageMetadataIncludeModelHash``)."""
    return {
        "sui_image_params": {
            "prompt": PROMPT,
            "negativeprompt": NEGATIVE,
            "model": SWARM_CHECKPOINT,
            "seed": SEED,
            "steps": STEPS,
            "cfgscale": CFG,
            "aspectratio": "Custom",
            "width": WIDTH,
            "height": HEIGHT,
            "sampler": "euler",
            "scheduler": "normal",
            "loras": [SWARM_LORA],
            "loraweights": [str(LORA_WEIGHT)],
            "swarm_version": SWARM_VERSION,
        },
        "sui_extra_data": {"date": "2025-01-25", "prep_time": "1.20 sec", "generation_time": "4.84 sec"},
        "sui_models": [
            {"name": f"{SWARM_CHECKPOINT}.safetensors", "param": "model", "hash": "0x" + SWARM_CHECKPOINT_TENSOR},
            {"name": f"{SWARM_LORA}.safetensors", "param": "loras", "hash": "0x" + SWARM_LORA_TENSOR},
        ],
    }


def novelai_chunks() -> list[tuple[str, str]]:
    """NovelAI's PNG text chunks, in its order."""
    comment = {
        "prompt": PROMPT,
        "steps": 28,
        "height": HEIGHT,
        "width": WIDTH,
        "scale": 5.0,
        "uncond_scale": 1.0,
        "cfg_rescale": 0.0,
        "seed": SEED,
        "n_samples": 1,
        "hide_debug_overlay": False,
        "noise_schedule": "native",
        "legacy_v3_extend": False,
        "sampler": "k_euler_ancestral",
        "uc": NEGATIVE,
        "request_type": "PromptGenerateRequest",
    }
    return [
        ("Title", "AI generated image"),
        ("Description", PROMPT),
        ("Software", "NovelAI"),
        ("Source", f"{NOVELAI_SOURCE_MODEL} {NOVELAI_SOURCE_HASH}"),
        ("Generation time", "1.8"),
        ("Comment", json.dumps(comment)),
    ]


def xmp_packet(source_type: str, creator_tool: str | None = None) -> str:
    """An XMP packet declaring an IPTC DigitalSourceType."""
    tool = f'\n   xmp:CreatorTool="{creator_tool}"' if creator_tool else ""
    return (
        '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>\n'
        '<x:xmpmeta xmlns:x="adobe:ns:meta/">\n <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">\n'
        '  <rdf:Description rdf:about=""\n'
        '   xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/"\n'
        f'   xmlns:xmp="http://ns.adobe.com/xap/1.0/"{tool}\n'
        f'   Iptc4xmpExt:DigitalSourceType="{source_type}"/>\n'
        ' </rdf:RDF>\n</x:xmpmeta>\n<?xpacket end="w"?>'
    )


# -- encoders ----------------------------------------------------------------------------------------------


def png_with(img: Image.Image, texts: list[tuple[str, str]], itxt: bool = False) -> bytes:
    """PNG bytes with ``texts`` as tEXt chunks (iTXt, empty language, when ``itxt``)."""
    info = PngImagePlugin.PngInfo()
    for key, value in texts:
        if itxt:
            info.add_itxt(key, value, lang="", tkey="")
        else:
            info.add_text(key, value)
    out = io.BytesIO()
    img.save(out, "PNG", pnginfo=info, compress_level=6)
    return out.getvalue()


def user_comment(text: str, form: str) -> bytes:
    """UserComment bytes: ``unicode-be`` (A1111/piexif), ``unicode-le``, ``ascii`` or ``plain`` (no prefix)."""
    if form == "unicode-be":
        return b"UNICODE\x00" + text.encode("utf-16-be")
    if form == "unicode-le":
        return b"UNICODE\x00" + text.encode("utf-16-le")
    if form == "ascii":
        return b"ASCII\x00\x00\x00" + text.encode("ascii", errors="replace")
    if form == "plain":
        return text.encode("utf-8")
    raise ValueError(f"unknown UserComment form {form!r}")


def jpeg_with_user_comment(img: Image.Image, comment: bytes) -> bytes:
    """A JPEG whose EXIF holds ``comment`` as the Exif sub-IFD's UserComment (as piexif writes A1111's)."""
    exif = Image.Exif()
    exif.get_ifd(0x8769)[0x9286] = comment
    out = io.BytesIO()
    img.save(out, "JPEG", quality=90, exif=exif)
    return out.getvalue()


def piexif_app1(comment: bytes) -> bytes:
    """The APP1 segment A1111 writes with ``piexif.dump({"Exif": {UserComment: ...}})``: a big-endian TIFF whose
    IFD0 holds only the Exif sub-IFD pointer, the sub-IFD holding UserComment (type UNDEFINED)."""
    exif_at = 8 + 18  # header, then IFD0 (count, one entry, next-IFD offset)
    value_at = exif_at + 18
    ifd0 = struct.pack(">HHHII", 1, 0x8769, 4, 1, exif_at) + struct.pack(">I", 0)
    inline = len(comment) <= 4
    value = comment.ljust(4, b"\x00") if inline else struct.pack(">I", value_at)
    exif_ifd = struct.pack(">HHHI", 1, 0x9286, 7, len(comment)) + value + struct.pack(">I", 0)
    tiff = b"MM\x00\x2a" + struct.pack(">I", 8) + ifd0 + exif_ifd + (b"" if inline else comment)
    payload = b"Exif\x00\x00" + tiff
    return b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload


def piexif_insert(jpeg: bytes, app1: bytes) -> bytes:
    """``app1`` put into ``jpeg`` as ``piexif.insert`` does: in place of the JFIF APP0 segment right after SOI."""
    if jpeg[2:4] == b"\xff\xe0":
        app0_end = 4 + struct.unpack(">H", jpeg[4:6])[0]
        return jpeg[:2] + app1 + jpeg[app0_end:]
    return jpeg[:2] + app1 + jpeg[2:]


def a1111_jpeg(img: Image.Image, text: str) -> bytes:
    """A JPEG as A1111 saves one: Pillow's JPEG, then piexif's Exif APP1 (UNICODE + UTF-16BE) over its JFIF."""
    out = io.BytesIO()
    img.save(out, "JPEG", quality=90)
    return piexif_insert(out.getvalue(), piexif_app1(user_comment(text, "unicode-be")))


def with_ifd0(img: Image.Image, fmt: str, tags: dict[int, str | bytes]) -> bytes:
    """``img`` as ``fmt`` with ``tags`` set on Pillow's top-level EXIF (IFD0), as Fooocus writes them."""
    exif = Image.Exif()
    for tag, value in tags.items():
        exif[tag] = value
    out = io.BytesIO()
    options: dict[str, Any] = {"quality": 90} if fmt == "JPEG" else {"quality": 80, "method": 4}
    img.save(out, fmt, exif=exif, **options)
    return out.getvalue()


def jpeg_with_xmp(img: Image.Image, packet: str) -> bytes:
    """A JPEG with ``packet`` in an APP1 XMP segment."""
    out = io.BytesIO()
    img.save(out, "JPEG", quality=90, xmp=packet.encode("utf-8"))
    return out.getvalue()


def gif_with_comment(img: Image.Image, comment: str) -> bytes:
    out = io.BytesIO()
    img.convert("P", palette=Image.Palette.ADAPTIVE, colors=64).save(out, "GIF", comment=comment.encode("utf-8"))
    return out.getvalue()


# -- the writers -------------------------------------------------------------------------------------------


def _write(folder: Path, name: str, data: bytes) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    with open(path, "xb") as fh:
        fh.write(data)
    return path


def write_a1111_png(folder: Path) -> list[Path]:
    """A1111 PNG: tEXt ``parameters``."""
    return [_write(folder, "a1111_bicycle.png", png_with(picture("a1111 png"), [("parameters", a1111_infotext())]))]


def write_a1111_jpegs(folder: Path) -> list[Path]:
    """A1111 JPEGs, one per UserComment form: A1111's own (piexif: big-endian TIFF replacing the JFIF segment,
    ``UNICODE`` + UTF-16BE), then the forms other writers use, through Pillow's EXIF (UNICODE + UTF-16LE,
    ASCII, no prefix)."""
    text = a1111_infotext()
    paths = [_write(folder, "a1111_bicycle_unicode-be.jpg", a1111_jpeg(picture("a1111 unicode-be"), text))]
    for form in ("unicode-le", "ascii", "plain"):
        data = jpeg_with_user_comment(picture(f"a1111 {form}"), user_comment(text, form))
        paths.append(_write(folder, f"a1111_bicycle_{form}.jpg", data))
    return paths


def write_a1111_gif(folder: Path) -> list[Path]:
    """A GIF whose comment extension holds A1111's infotext."""
    return [_write(folder, "a1111_bicycle.gif", gif_with_comment(picture("a1111 gif"), a1111_infotext()))]


def write_forge_png(folder: Path) -> list[Path]:
    """Forge PNG: tEXt ``parameters`` with Forge's ``f2...`` version."""
    data = png_with(picture("forge png"), [("parameters", a1111_infotext(FORGE_VERSION))])
    return [_write(folder, "forge_bicycle.png", data)]


def write_fooocus(folder: Path) -> list[Path]:
    """Fooocus PNG (JSON scheme), JPEG (A1111 scheme in IFD0 EXIF) and WebP (JSON scheme in IFD0 EXIF)."""
    doc = json.dumps(fooocus_json())
    png = png_with(picture("fooocus png"), [("parameters", doc), ("fooocus_scheme", "fooocus")])
    software = f"Fooocus v{FOOOCUS_VERSION}"
    jpeg = with_ifd0(picture("fooocus jpeg"), "JPEG", {0x9286: fooocus_a1111_text(), 0x0131: software, 0x927C: "a1111"})
    webp = with_ifd0(picture("fooocus webp"), "WEBP", {0x9286: doc, 0x0131: software, 0x927C: "fooocus"})
    return [
        _write(folder, "fooocus_bicycle.png", png),
        _write(folder, "fooocus_bicycle.jpg", jpeg),
        _write(folder, "fooocus_bicycle.webp", webp),
    ]


def write_swarmui(folder: Path) -> list[Path]:
    """SwarmUI PNG (iTXt ``parameters``) and JPEG (UserComment, UNICODE + UTF-16LE)."""
    doc = json.dumps(swarmui_json(), indent=2)
    png = png_with(picture("swarmui png"), [("parameters", doc)], itxt=True)
    jpeg = jpeg_with_user_comment(picture("swarmui jpeg"), user_comment(doc, "unicode-le"))
    return [_write(folder, "swarmui_bicycle.png", png), _write(folder, "swarmui_bicycle.jpg", jpeg)]


def write_novelai_png(folder: Path) -> list[Path]:
    """NovelAI PNG text chunks."""
    return [_write(folder, "novelai_bicycle.png", png_with(picture("novelai png"), novelai_chunks()))]


def write_xmp_jpegs(folder: Path) -> list[Path]:
    """JPEGs declaring IPTC DigitalSourceType: trainedAlgorithmicMedia, and plain algorithmicMedia (not AI)."""
    return [
        _write(folder, "xmp_trained_bicycle.jpg", jpeg_with_xmp(picture("xmp trained"), xmp_packet(TRAINED))),
        _write(
            folder, "xmp_algorithmic_pattern.jpg", jpeg_with_xmp(picture("xmp algorithmic"), xmp_packet(ALGORITHMIC))
        ),
    ]


#: The sample writers the demo runs, each ``(folder) -> [paths written]``. Append other tools' writers here.
WRITERS: tuple[Callable[[Path], list[Path]], ...] = (
    write_a1111_png,
    write_a1111_jpegs,
    write_a1111_gif,
    write_forge_png,
    write_fooocus,
    write_swarmui,
    write_novelai_png,
    write_xmp_jpegs,
    *ai_samples_graphs.WRITERS,
    *ai_samples_c2pa.WRITERS,
    *ai_samples_pixels.WRITERS,
)

_TYPES = {
    ".png": "png",
    ".jpg": "jpeg",
    ".jpeg": "jpeg",
    ".webp": "webp",
    ".gif": "gif",
    ".tif": "tiff",
    ".tiff": "tiff",
    ".bmp": "bmp",
}


def write_samples(folder: Path, writers: tuple[Callable[[Path], list[Path]], ...] = WRITERS) -> list[Path]:
    """Run every writer into ``folder`` (tests use this without the rest of the demo)."""
    paths: list[Path] = []
    for writer in writers:
        paths.extend(writer(folder))
    return paths


@contributor("ai_samples")
def ai_samples(ctx: DemoContext) -> list[DemoEntry]:
    """Every AI sample writer's pictures, under ``AI_FOLDER`` with fixed times."""
    folder = ctx.root.joinpath(*AI_FOLDER.split("/"))
    entries: list[DemoEntry] = []
    for path in write_samples(folder):
        rel = path.relative_to(ctx.root).as_posix()
        t = file_time(rel)
        os.utime(path, (t, t))
        entries.append(
            content_entry(rel, path.read_bytes(), _TYPES.get(path.suffix.lower(), "binary"), (IMAGE, AI_SAMPLE))
        )
        ctx.report(len(entries))
    return entries
