"""The carrier walk: what it reads from each container as real writers (Pillow, libavif) write it, that plain
pictures give nothing, and hostile structures (truncated chunks, wrong lengths, CRC errors, decompression bombs,
IFD loops, huge counts, bad UTF-16) as warnings, never exceptions; and the scan signal's findings and note."""

from __future__ import annotations

import io
import struct
import zlib

import pytest
from PIL import Image, PngImagePlugin

from cairn import errors
from cairn.demo import ai_samples as demo
from cairn.model import FileResult, ItemMeta, Locator
from cairn.settings import ScanSettings
from cairn.signals.ai_generation import AiGenerationSignal
from cairn.signals.imaging import decode_image
from cairn.signals.provenance.carriers import extract_carriers
from cairn.signals.provenance.limits import ProvenanceLimits
from cairn.signals.provenance.parsers import ParseWarning
from cairn.signals.provenance.record import Carrier

PICTURE = Image.new("RGB", (48, 32), (200, 30, 30))


def encode(fmt: str, img: Image.Image = PICTURE, **options: object) -> bytes:
    out = io.BytesIO()
    img.save(out, fmt, **options)
    return out.getvalue()


def messages(warnings: list[ParseWarning]) -> list[str]:
    return [w.message for w in warnings]


def chunk(ctype: bytes, payload: bytes, crc: int | None = None) -> bytes:
    value = zlib.crc32(ctype + payload) if crc is None else crc
    return struct.pack(">I", len(payload)) + ctype + payload + struct.pack(">I", value)


def png_with_chunks(*chunks: bytes) -> bytes:
    """A real PNG with ``chunks`` inserted after IHDR."""
    plain = encode("PNG")
    return plain[:33] + b"".join(chunks) + plain[33:]


@pytest.mark.parametrize(
    ("fmt", "options"),
    [
        ("PNG", {}),
        ("JPEG", {"quality": 90}),
        ("WEBP", {"quality": 80}),
        ("WEBP", {"lossless": True}),
        ("GIF", {}),
        ("TIFF", {}),
        ("BMP", {}),
        ("AVIF", {}),
    ],
)
def test_plain_pictures_give_nothing(fmt: str, options: dict[str, object]) -> None:
    assert extract_carriers(encode(fmt, **options)) == ([], [])


def test_every_png_text_chunk_kind() -> None:
    info = PngImagePlugin.PngInfo()
    info.add_text("plain", "Latin-1 caf\xe9")
    info.add_text("squeezed", "z" * 500, zip=True)
    info.add_itxt("utf8", "bicycle \u2192 beach", lang="en", tkey="Fahrrad")
    info.add_itxt("XML:com.adobe.xmp", "<x:xmpmeta/>", zip=True)
    info.add(b"comf", b'prompt\x00{"1": {}}', after_idat=True)
    carriers, warnings = extract_carriers(encode("PNG", pnginfo=info))
    assert warnings == []
    assert [(c.key, c.text, c.container) for c in carriers] == [
        ("plain", "Latin-1 caf\xe9", "png"),
        ("squeezed", "z" * 500, "png"),
        ("utf8", "bicycle \u2192 beach", "png"),
        ("xmp", "<x:xmpmeta/>", "png"),
        ("prompt", '{"1": {}}', "png"),
    ]
    assert carriers[0].where == "PNG tEXt 'plain' at byte 33"
    assert carriers[1].where.startswith("PNG zTXt 'squeezed' at byte ")
    assert carriers[4].where.startswith("PNG comf 'prompt' at byte ")


def test_png_exif_chunk_and_avif_items() -> None:
    exif = Image.Exif()
    exif[0x0131] = "NovelAI"
    png = encode("PNG", exif=exif)
    carriers, warnings = extract_carriers(png)
    assert warnings == [] and [(c.key, c.text) for c in carriers] == [("Software", "NovelAI")]
    assert carriers[0].where == f"PNG eXIf at byte {png.index(b'eXIf') - 4}: IFD0 0x0131 Software"
    avif = encode("AVIF", exif=exif, xmp=demo.xmp_packet(demo.TRAINED).encode())
    carriers, warnings = extract_carriers(avif)
    assert warnings == []
    assert [(c.key, c.container) for c in carriers] == [("Software", "avif"), ("xmp", "avif")]
    assert carriers[0].where.startswith("AVIF/HEIF Exif item ") and carriers[1].text == demo.xmp_packet(demo.TRAINED)


def test_jpeg_comment_and_exif_text_tags() -> None:
    exif = Image.Exif()
    exif[0x010F] = "Canon"
    exif[0x0110] = "EOS 5D"
    exif[0x010E] = "a red bicycle"
    exif[0x010D] = 'workflow:{"nodes": []}'  # DocumentName: identified by its key: prefix, not its number
    exif[0x9C9C] = "Windows comment".encode("utf-16-le") + b"\x00\x00"
    exif.get_ifd(0x8769)[0x927C] = bytes(range(256)) * 48  # a camera's binary maker note: no carrier
    carriers, warnings = extract_carriers(encode("JPEG", exif=exif, comment=b"a JPEG comment"))
    assert warnings == []
    assert {c.key: c.text for c in carriers} == {
        "Make": "Canon",
        "Model": "EOS 5D",
        "ImageDescription": "a red bicycle",
        "workflow": '{"nodes": []}',
        "XPComment": "Windows comment",
        "comment": "a JPEG comment",
    }
    where = {c.key: c.where for c in carriers}
    assert where["workflow"] == "JPEG APP1 Exif at byte 20: IFD0 0x010D tag 0x010D ('workflow:' prefix)"


@pytest.mark.parametrize(
    ("raw", "text", "how", "problems"),
    [
        (b"UNICODE\x00" + "caf\xe9".encode("utf-16-be"), "caf\xe9", "UNICODE prefix, UTF-16BE", 0),
        (b"UNICODE\x00" + "caf\xe9".encode("utf-16-le"), "caf\xe9", "UNICODE prefix, UTF-16LE", 0),
        (b"UNICODE\x00\xff\xfe" + "kite".encode("utf-16-le"), "kite", "UNICODE prefix, UTF-16LE", 0),
        (b"UNICODE\x00\xfe\xff" + "kite".encode("utf-16-be"), "kite", "UNICODE prefix, UTF-16BE", 0),
        (b"UNICODE\x00" + "kite".encode("utf-16-be") + b"\x00", "kite", "UNICODE prefix, UTF-16BE", 1),
        (b"UNICODE\x00\xd8\x00\x00a", "\ufffda", "UNICODE prefix, UTF-16BE", 1),  # a lone high surrogate
        (b"ASCII\x00\x00\x00kite\x00", "kite", "ASCII prefix", 0),
        (b"\x00" * 8 + b"kite", "kite", "undefined prefix", 0),
        (b"JIS\x00\x00\x00\x00\x00kite", "kite", "JIS prefix", 0),
        ("caf\xe9".encode(), "caf\xe9", "no prefix", 0),
        (b"caf\xe9", "caf\xe9", "no prefix", 0),  # not UTF-8: read as Latin-1
    ],
)
def test_user_comment_forms(raw: bytes, text: str, how: str, problems: int) -> None:
    data = demo.jpeg_with_user_comment(PICTURE, raw)
    [carrier], warnings = extract_carriers(data)
    assert carrier.key == "UserComment" and carrier.text == text
    assert carrier.where == f"JPEG APP1 Exif at byte 20: ExifIFD 0x9286 UserComment ({how})"
    assert len(warnings) == problems
    assert all("malformed" in m for m in messages(warnings))


def test_webp_exif_with_and_without_the_exif_prefix() -> None:
    exif = Image.Exif()
    exif[0x0131] = "Fooocus v2.5.5"
    webp = encode("WEBP", exif=exif, xmp=b"<x/>")
    carriers, warnings = extract_carriers(webp)
    assert warnings == [] and [(c.key, c.text) for c in carriers] == [("Software", "Fooocus v2.5.5"), ("xmp", "<x/>")]
    at = webp.index(b"EXIF")
    size = struct.unpack("<I", webp[at + 4 : at + 8])[0]
    tiff = webp[at + 8 : at + 8 + size]
    prefixed = b"Exif\x00\x00" + tiff
    body = b"VP8X" + webp[16:30] if webp[12:16] == b"VP8X" else b""
    assert body  # Pillow writes VP8X for metadata
    rebuilt = webp[:at] + b"EXIF" + struct.pack("<I", len(prefixed)) + prefixed + webp[at + 8 + size :]
    rebuilt = rebuilt[:4] + struct.pack("<I", len(rebuilt) - 8) + rebuilt[8:]
    carriers, warnings = extract_carriers(rebuilt)
    assert warnings == [] and carriers[0].text == "Fooocus v2.5.5"


# -- hostile input ---------------------------------------------------------------------------------------


def test_png_truncated_chunk_crc_error_and_missing_keyword() -> None:
    good = chunk(b"tEXt", b"parameters\x00a kite")
    data = png_with_chunks(chunk(b"tEXt", b"bad\x00crc", crc=1), chunk(b"tEXt", b"no keyword here"), good)
    carriers, warnings = extract_carriers(data)
    assert [(c.key, c.text) for c in carriers] == [("bad", "crc"), ("parameters", "a kite")]
    assert messages(warnings) == [
        "chunk CRC does not match; read anyway",
        "no keyword (or one over 79 bytes); not read",
    ]
    cut = data[: data.index(b"a kite") + 2]
    carriers, warnings = extract_carriers(cut)
    assert [c.key for c in carriers] == ["bad"]
    assert messages(warnings)[-1] == "chunk declares 17 bytes, only 13 remain; not read"
    huge = png_with_chunks(struct.pack(">I", 0xFFFFFFF0) + b"tEXt" + b"x\x00y")
    carriers, warnings = extract_carriers(huge)
    assert carriers == [] and "declares 4,294,967,280 bytes" in messages(warnings)[0]


def test_ztxt_bomb_truncated_stream_and_bad_method() -> None:
    limits = ProvenanceLimits(max_decompressed=1024 * 1024)
    bomb = zlib.compress(b"\x00" * (8 * 1024 * 1024), 9)  # 8 MiB from about 8 KB
    truncated = zlib.compress(" ".join(f"kite{i}" for i in range(400)).encode())[:-30]
    data = png_with_chunks(
        chunk(b"zTXt", b"bomb\x00\x00" + bomb),
        chunk(b"zTXt", b"cut\x00\x00" + truncated),
        chunk(b"zTXt", b"method\x00\x07" + bomb[:10]),
        chunk(b"iTXt", b"itxt\x00\x01\x00\x00\x00" + bomb),
        chunk(b"iTXt", b"short\x00\x01"),
        chunk(b"iTXt", b"utf\x00\x00\x00\x00\x00caf\xe9"),
    )
    carriers, warnings = extract_carriers(data, limits)
    assert [c.key for c in carriers] == ["cut", "utf"]
    assert carriers[0].text is not None and carriers[0].text.startswith("kite0 kite1 kite2")
    assert carriers[1].text == "caf\ufffd"
    assert messages(warnings) == [
        "compressed text inflates past the 1,048,576-byte limit; not read",
        "compressed text is truncated; the part that inflated was read",
        "unknown compression method; not read",
        "compressed text inflates past the 1,048,576-byte limit; not read",
        "iTXt header is truncated; not read",
        "iTXt text is not valid UTF-8; read with replacement characters",
    ]


def test_text_and_carrier_count_limits() -> None:
    limits = ProvenanceLimits(max_text=100, max_carriers=5)
    data = png_with_chunks(*(chunk(b"tEXt", f"k{i}\x00".encode() + b"v" * 300) for i in range(8)))
    carriers, warnings = extract_carriers(data, limits)
    assert len(carriers) == 5 and all(len(c.text or "") == 100 for c in carriers)
    assert messages(warnings).count("text of 300 characters cut to the 100 limit") == 5
    assert "more than 5 metadata carriers; the rest were not read" in messages(warnings)


def _tiff(entries: list[tuple[int, int, int, bytes]], next_ifd: int = 0, count: int | None = None) -> bytes:
    """A little-endian TIFF block with one IFD at offset 8 (entries: tag, type, count, 4-byte value)."""
    n = len(entries) if count is None else count
    body = struct.pack("<H", n) + b"".join(struct.pack("<HHI", t, k, c) + v for t, k, c, v in entries)
    return b"II*\x00" + struct.pack("<I", 8) + body + struct.pack("<I", next_ifd)


def _jpeg_with_app1(payload: bytes) -> bytes:
    plain = encode("JPEG")
    return plain[:2] + b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload + plain[2:]


def test_exif_loops_huge_counts_and_values_past_the_end() -> None:
    software = (0x0131, 2, 4, b"Abc\x00")
    loop = _jpeg_with_app1(b"Exif\x00\x00" + _tiff([software], next_ifd=8))  # IFD0's next IFD is itself
    carriers, warnings = extract_carriers(loop)
    assert [c.text for c in carriers] == ["Abc"]
    assert messages(warnings) == ["IFD at offset 8 was already read (a loop); not read again"]
    sub_loop = _jpeg_with_app1(b"Exif\x00\x00" + _tiff([(0x8769, 4, 1, struct.pack("<I", 8)), software]))
    carriers, warnings = extract_carriers(sub_loop)
    assert [c.text for c in carriers] == ["Abc"] and "a loop" in messages(warnings)[0]
    huge = _jpeg_with_app1(b"Exif\x00\x00" + _tiff([software], count=0xFFFF))
    carriers, warnings = extract_carriers(huge)
    assert [c.text for c in carriers] == ["Abc"] and messages(warnings) == ["IFD declares 65535 entries; 1 were read"]
    past = _jpeg_with_app1(b"Exif\x00\x00" + _tiff([(0x0131, 2, 0x7FFFFFFF, struct.pack("<I", 12))]))
    carriers, warnings = extract_carriers(past)
    assert carriers == [] and "runs past the end of the EXIF block" in messages(warnings)[0]
    bad_offset = _jpeg_with_app1(b"Exif\x00\x00" + b"II*\x00" + struct.pack("<I", 0xFFFFFF00))
    carriers, warnings = extract_carriers(bad_offset)
    assert carriers == [] and "past the end of the EXIF block" in messages(warnings)[0]
    not_tiff = _jpeg_with_app1(b"Exif\x00\x00garbage!")
    assert messages(extract_carriers(not_tiff)[1]) == ["EXIF block has no TIFF header; not read"]


def test_jpeg_webp_gif_wrong_lengths() -> None:
    jpeg = encode("JPEG", comment=b"hello")
    at = jpeg.index(b"\xff\xfe")
    bad = jpeg[: at + 2] + b"\xff\xf0" + jpeg[at + 4 :]
    carriers, warnings = extract_carriers(bad)
    assert carriers == [] and "past the end of the file" in messages(warnings)[0]
    webp = encode("WEBP", xmp=b"<x/>")
    at = webp.index(b"XMP ")
    bad = webp[: at + 4] + struct.pack("<I", 0x7FFFFFF0) + webp[at + 8 :]
    carriers, warnings = extract_carriers(bad)
    assert carriers == [] and "past the end" in messages(warnings)[0]
    gif = encode("GIF", comment=b"a kite")
    carriers, warnings = extract_carriers(gif[: gif.index(b"a kite") + 3])
    assert [c.text for c in carriers] == ["a k"]
    assert messages(warnings) == ["cut short by the end of the file; the part before it was read"]
    cut_in_pixels = gif[: len(gif) - 10]  # a truncated picture is the decoder's to report: no provenance warning
    assert extract_carriers(cut_in_pixels) == ([Carrier("comment", "a kite", carriers[0].where, container="gif")], [])


def test_every_prefix_of_a_file_with_every_carrier_never_raises() -> None:
    exif = Image.Exif()
    exif.get_ifd(0x8769)[0x9286] = b"UNICODE\x00" + "kite".encode("utf-16-be")
    exif[0x0131] = "Fooocus v2.5.5"
    info = PngImagePlugin.PngInfo()
    info.add_text("parameters", "a kite\nSteps: 5, Sampler: Euler, Seed: 7", zip=True)
    for data in (
        encode("JPEG", exif=exif, comment=b"c", xmp=b"<x/>"),
        encode("PNG", pnginfo=info, exif=exif),
        encode("WEBP", exif=exif, xmp=b"<x/>"),
        encode("GIF", comment=b"a kite"),
        encode("AVIF", exif=exif),
        encode("TIFF", exif=exif),
    ):
        for cut in range(len(data)):
            carriers, warnings = extract_carriers(data[:cut])
            assert isinstance(carriers, list) and isinstance(warnings, list)
            assert not any("walk stopped:" in m for m in messages(warnings)), cut


# -- the scan signal ---------------------------------------------------------------------------------------


def _apply(data: bytes) -> FileResult:
    result = FileResult(Locator.of("x"), ItemMeta(size=len(data)))
    settings = ScanSettings()
    outcome = decode_image(data, settings)
    assert outcome.decoded is not None
    AiGenerationSignal().apply(outcome.decoded, result, settings)
    return result


def test_signal_findings_warnings_and_note() -> None:
    clean = _apply(demo.png_with(PICTURE, [("parameters", demo.a1111_infotext())]))
    [finding] = clean.findings
    assert (finding.signal, finding.kind, finding.where) == (
        "ai_generation",
        "generation_record",
        "PNG tEXt 'parameters' at byte 33",
    )
    assert finding.data["tool"] == "A1111" and finding.data["model"]["hash_kind"] == "autov2"
    assert clean.errors == []
    odd = "a kite\nSteps: 5, Sampler: Euler, Seed: 7, Model hash: 12345"
    result = _apply(demo.png_with(PICTURE, [("parameters", odd)]))
    assert [f.kind for f in result.findings] == ["generation_record", "provenance_warning"]
    assert result.findings[1].data == {
        "parser": "a1111",
        "message": "Model hash '12345' is neither AutoV2 (10 hex) nor AutoV1 (8 hex)",
    }
    assert result.findings[1].where == "PNG tEXt 'parameters' at byte 33"
    [note] = result.errors
    assert note.code == errors.PROVENANCE_UNREADABLE and errors.is_note(note.code)
    assert _apply(encode("PNG")).findings == []


def test_signal_stores_a_bounded_number_of_warnings() -> None:
    data = png_with_chunks(*(chunk(b"tEXt", f"no keyword {i}".encode()) for i in range(60)))
    result = _apply(data)
    kinds = [f.kind for f in result.findings]
    assert kinds == ["provenance_warning"] * 51
    assert result.findings[-1].data == {"parser": "limits", "message": "10 more provenance warnings not stored"}
    [note] = result.errors
    assert note.code == errors.PROVENANCE_UNREADABLE and note.message.startswith("60 provenance metadata problem(s)")
