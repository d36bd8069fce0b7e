"""The invisible-watermark (dwtDct) reader against the package's own encoder and decoder, on benign drawn
pictures: SDXL's 48 bits, SD 1.x's 'StableDiffusionV1', SD 2.x's 'SDV2', an InvokeAI-style text; both channel
orders; unmarked pictures; the scan signal and its cost policy.

The package (``pip install --no-deps invisible-watermark PyWavelets opencv-python-headless``: its PyPI release
imports torch on load, so its dwtDct module is loaded from its file, without the package's ``__init__``) is a
test-only tool; the tests that need it are skipped where it is not installed.
"""

from __future__ import annotations

import importlib.util
import io
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
from PIL import Image

from cairn.demo import ai_samples_pixels as demo
from cairn.model import FileResult, Finding, ItemMeta, Locator
from cairn.settings import ScanSettings
from cairn.signals.ai_watermark import AiWatermarkSignal, due, generator_size
from cairn.signals.imaging import decode_image
from cairn.signals.provenance import watermark as wm

NOTE = "pip install --no-deps invisible-watermark PyWavelets opencv-python-headless"


def package_dwtdct() -> ModuleType:
    """The package's ``maxDct`` module (its dwtDct encoder and decoder), loaded without importing torch."""
    pytest.importorskip("cv2", reason=NOTE)
    pytest.importorskip("pywt", reason=NOTE)
    spec = importlib.util.find_spec("imwatermark")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip(f"invisible-watermark is not installed ({NOTE})")
    path = Path(list(spec.submodule_search_locations)[0]) / "maxDct.py"
    module_spec = importlib.util.spec_from_file_location("imwatermark_maxdct", path)
    assert module_spec is not None and module_spec.loader is not None
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def maxdct() -> ModuleType:
    return package_dwtdct()


def scene(height: int = 512, width: int = 512, seed: int = 0) -> np.ndarray:
    """A benign RGB picture: gradients, a disc and a bar, light noise (values kept off 0 and 255)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    red = 60 + 140 * x / width
    green = 60 + 140 * y / height
    blue = 128 + 50 * np.sin(x / 37.0) * np.cos(y / 23.0)
    disc = (x - width * 0.6) ** 2 + (y - height * 0.4) ** 2 < (min(width, height) * 0.15) ** 2
    red[disc], green[disc], blue[disc] = 200, 40, 40  # a red ball
    bar = (np.abs(y - height * 0.75) < height * 0.03) & (x > width * 0.2) & (x < width * 0.8)
    red[bar], green[bar], blue[bar] = 40, 40, 60
    pixels = np.stack([red, green, blue], axis=-1) + rng.normal(0, 4, (height, width, 3))
    return np.clip(np.rint(pixels), 20, 235).astype(np.uint8)


def textured(height: int = 512, width: int = 512, seed: int = 0) -> np.ndarray:
    """:func:`scene` with grain (sigma 12), as generated pictures have: the package's encoder keeps every bit
    of its messages on such content (on smooth content a block's peak moves and bits are lost)."""
    rng = np.random.default_rng(seed + 1000)
    grain = scene(height, width, seed).astype(np.float64) + rng.normal(0, 12, (height, width, 3))
    return np.clip(np.rint(grain), 0, 255).astype(np.uint8)


def package_embed(maxdct: ModuleType, rgb: np.ndarray, bits: np.ndarray, order: str) -> np.ndarray:
    """The package's dwtDct embedding, handed the picture as a caller does: BGR (Stability's scripts, SD 1.x/2.x
    reference scripts, InvokeAI) or the RGB array as is (diffusers); returned as RGB."""
    encoder = maxdct.EmbedMaxDct([int(b) for b in bits], wmLen=int(bits.size))
    if order == "bgr":
        return np.ascontiguousarray(encoder.encode(np.ascontiguousarray(rgb[..., ::-1]))[..., ::-1])
    return np.ascontiguousarray(encoder.encode(rgb.copy()))


def package_decode(maxdct: ModuleType, rgb: np.ndarray, nbits: int, order: str) -> np.ndarray:
    bgr_in = np.ascontiguousarray(rgb[..., ::-1]) if order == "bgr" else rgb
    return np.asarray(maxdct.EmbedMaxDct([], wmLen=nbits).decode(bgr_in), dtype=np.uint8)


def positive(scores: list[wm.WatermarkScore]) -> list[wm.WatermarkScore]:
    return [s for s in scores if s.verdict != "none"]


def stored(scores: list[wm.WatermarkScore]) -> list[tuple[str, str, int]]:
    return [(s.scheme, s.verdict, s.matched_bits) for s in scores if s.verdict in wm.STORED_VERDICTS]


# -- bit for bit against the package ---------------------------------------------------------------------------


@pytest.mark.parametrize("scheme", wm.SCHEMES, ids=lambda s: s.name)
@pytest.mark.parametrize("order", wm.ORDERS)
@pytest.mark.parametrize(("height", "width"), [(512, 512), (768, 512), (1023, 1029), (1024, 1536)])
def test_decoder_matches_the_package_on_its_own_embedding(
    maxdct: ModuleType, scheme: wm.Scheme, order: str, height: int, width: int
) -> None:
    marked = package_embed(maxdct, scene(height, width, seed=height), scheme.bits, order)
    expected = package_decode(maxdct, marked, scheme.bits.size, order)
    bits, _ = wm.tally(wm.block_votes(marked, order), scheme.bits.size)
    assert np.array_equal(bits, expected)
    # the score: the package's reading in the better of the two orders
    readings = {o: package_decode(maxdct, marked, scheme.bits.size, o) for o in wm.ORDERS}
    matched, best = max((int((readings[o] == scheme.bits).sum()), o) for o in reversed(wm.ORDERS))
    score = wm.score_scheme(scheme, {o: wm.block_votes(marked, o) for o in wm.ORDERS})
    assert (score.matched_bits, score.channel_order) == (matched, best)
    assert score.p_false_positive == min(1.0, 2 * wm.p_at_least(matched, scheme.bits.size))
    balanced = wm.balanced_accuracy(readings[best], scheme.bits)
    assert score.verdict == wm.scheme_verdict(scheme, matched, balanced, score.p_false_positive)
    # the package's encoder loses bits where a block's peak moves (smooth content): on this picture it keeps
    # (nearly) every bit in one channel order and some in the other; a verdict worth storing is always the
    # embedded scheme's (a weak SD 2.x mark may read as a "partial" SD 1.x: both are ASCII), and the prescreen
    # (blocks in rows spread over the picture) never loses one
    found = positive(wm.decode(marked, prescreen=False))
    assert [name for name, _, _ in stored(found)] in ([scheme.name], [])
    if order == "rgb":
        assert [(s.scheme, s.verdict) for s in found] == [(scheme.name, "very likely")]
    assert stored(wm.decode(marked)) == stored(found)


@pytest.mark.skipif(wm.kernel() != "c", reason="the _dwtdct extension did not build (pip install -e . with gcc)")
def test_c_kernel_votes_equal_the_numpy_path() -> None:
    """The C kernel and the NumPy steps give the same votes: odd sizes (cut to whole 8x8 blocks), marked and
    unmarked, noise and extremes, a non-contiguous view, and sampled block rows."""
    rng = np.random.default_rng(12)
    pictures = [
        scene(520, 776, seed=1),
        wm.embed(textured(512, 512, seed=2), wm.SDXL.bits, "rgb"),
        wm.embed(textured(263, 301, seed=3), wm.SD1.bits, "bgr"),
        rng.integers(0, 256, (517, 1029, 3), dtype=np.uint8),
        np.full((64, 72, 3), 255, dtype=np.uint8),
        scene(640, 480, seed=4)[::-1, :, ::-1],  # a flipped view, not C-contiguous
        np.dstack([scene(264, 328, seed=5), np.full((264, 328), 255, np.uint8)])[..., :3],  # RGB of RGBA memory
        rng.integers(0, 256, (7, 300, 3), dtype=np.uint8),  # no whole block row
    ]
    for rgb in pictures:
        c_path = wm.orders_votes(rgb)
        numpy_path = wm.numpy_orders_votes(rgb)
        for order in wm.ORDERS:
            assert c_path[order].size == (rgb.shape[0] // 8) * (rgb.shape[1] // 8)
            assert np.array_equal(c_path[order], numpy_path[order]), (rgb.shape, order)
        if rgb.shape[0] >= 24:
            rows = np.array([0, rgb.shape[0] // 16, rgb.shape[0] // 8 - 1])
            sampled = wm.sampled_votes(rgb, rows)
            band = rgb[(rows[:, None] * 8 + np.arange(8)).ravel()]
            for order, votes in wm.numpy_orders_votes(band).items():
                assert np.array_equal(sampled[order].votes, votes)
    with pytest.raises(ValueError, match="outside"):
        wm.sampled_votes(pictures[0], np.array([520 // 8]))
    assert wm._c_votes(np.zeros((64, 64), np.uint8), wm.ORDERS, None) is None  # grey: not the kernel's


@pytest.mark.parametrize("seed", range(4))
def test_unmarked_pictures_read_as_the_package_reads_them_and_score_none(maxdct: ModuleType, seed: int) -> None:
    rgb = scene(512 + 64 * seed, 640, seed=seed)
    for order in wm.ORDERS:
        for nbits in (32, 48, 64, 136):
            bits, _ = wm.tally(wm.block_votes(rgb, order), nbits)
            assert np.array_equal(bits, package_decode(maxdct, rgb, nbits, order))
    assert stored(wm.decode(rgb)) == stored(wm.decode(rgb, prescreen=False)) == []  # a chance "partial" is not


def test_flat_and_extreme_pictures_score_none() -> None:
    for value in (0, 128, 255):
        assert positive(wm.decode(np.full((512, 512, 3), value, dtype=np.uint8))) == []
    stripes = np.zeros((512, 512, 3), dtype=np.uint8)
    stripes[:, ::2] = 255
    assert positive(wm.decode(stripes)) == []


def test_invokeai_text(maxdct: ModuleType) -> None:
    bits = np.unpackbits(np.frombuffer(b"InvokeAI", dtype=np.uint8))
    marked = package_embed(maxdct, textured(768, 768, seed=9), bits, "bgr")
    assert np.array_equal(package_decode(maxdct, marked, 64, "bgr"), bits)
    [found] = positive(wm.decode(marked))
    assert (found.scheme, found.decoded_text, found.channel_order) == ("text", "InvokeAI", "bgr")
    assert found.p_false_positive == pytest.approx(len(wm.TEXT_LENGTHS) * 2 * (95 / 256) ** 8)


@pytest.mark.parametrize("text", [b"InvokeAI", b"my own mark 2024"])
def test_texts_pass_the_prescreen_of_large_pictures(maxdct: ModuleType, text: bytes) -> None:
    """A 1024x1024 picture is prescreened (an eighth of its blocks): the ASCII high bits let a text through."""
    bits = np.unpackbits(np.frombuffer(text, dtype=np.uint8))
    marked = package_embed(maxdct, textured(1024, 1024, seed=3), bits, "bgr")
    assert np.array_equal(package_decode(maxdct, marked, bits.size, "bgr"), bits)
    quick, full = wm.decode(marked), wm.decode(marked, prescreen=False)
    assert stored(quick) == stored(full) == [("text", "very likely" if len(text) >= 12 else "likely", bits.size)]
    assert [s.decoded_text for s in quick if s.scheme == "text"] == [text.decode()]


def test_printable_known_messages_are_reported_once() -> None:
    """'SDV2' and 'StableDiffusionV1' also read as texts: only the known scheme is reported."""
    for scheme in (wm.SD2, wm.SD1):
        scores = wm.decode(wm.embed(textured(seed=3), scheme.bits, "bgr"))
        assert [(s.scheme, s.matched_bits) for s in positive(scores)] == [(scheme.name, scheme.bits.size)]


# -- cairn's own encoder (the demo's) --------------------------------------------------------------------------


@pytest.mark.parametrize("scheme", wm.SCHEMES, ids=lambda s: s.name)
@pytest.mark.parametrize("order", wm.ORDERS)
def test_own_encoder_is_read_by_the_package(maxdct: ModuleType, scheme: wm.Scheme, order: str) -> None:
    marked = wm.embed(scene(seed=11), scheme.bits, order)
    assert np.array_equal(package_decode(maxdct, marked, scheme.bits.size, order), scheme.bits)


def test_own_encoder_round_trip_without_the_package() -> None:
    for scheme in wm.SCHEMES:
        for order in wm.ORDERS:
            [found] = positive(wm.decode(wm.embed(scene(seed=5), scheme.bits, order)))
            assert (found.scheme, found.matched_bits, found.channel_order) == (scheme.name, scheme.bits.size, order)
    text = np.unpackbits(np.frombuffer(b"case 2024 test", dtype=np.uint8))
    [found] = positive(wm.decode(wm.embed(scene(seed=6), text, "bgr")))
    assert found.decoded_text == "case 2024 test"


def test_demo_pictures(tmp_path: Path) -> None:
    paths = {p.name: p for p in demo.write_watermarked(tmp_path)}
    for name, scheme, order in ((demo.SDXL_MARKED, "sdxl", "rgb"), (demo.SD1_MARKED, "sd1", "bgr")):
        rgb = np.asarray(Image.open(paths[name]).convert("RGB"))
        [found] = positive(wm.decode(rgb))
        total = {"sdxl": 48, "sd1": 136}[scheme]
        assert (found.scheme, found.matched_bits, found.total_bits, found.channel_order) == (
            scheme,
            total,
            total,
            order,
        )
        assert found.verdict == "very likely"


def test_absence_proves_nothing_resizing_removes_the_mark() -> None:
    marked = wm.embed(scene(seed=2), wm.SDXL.bits, "bgr")
    assert stored(wm.decode(marked)) == [("sdxl", "very likely", 48)]
    resized = np.asarray(Image.fromarray(marked).resize((448, 448), Image.Resampling.BICUBIC))
    assert stored(wm.decode(resized)) == stored(wm.decode(resized, prescreen=False)) == []


# -- scoring ---------------------------------------------------------------------------------------------------


def test_stability_thresholds() -> None:
    assert [wm.sdxl_verdict(n) for n in (0, 27, 28, 33, 34, 35, 36, 48)] == [
        "none",
        "none",
        "partial",
        "partial",
        "likely",
        "likely",
        "very likely",
        "very likely",
    ]


def test_binomial_tail() -> None:
    assert wm.p_at_least(48, 48) == 2.0**-48
    assert wm.p_at_least(0, 136) == 1.0
    assert wm.p_at_least(2, 3) == 0.5
    assert wm.p_at_least(3, 4) == 5 / 16
    assert wm.p_at_least(36, 48) < wm.p_at_least(34, 48) < wm.p_at_least(28, 48) < 0.5


def test_short_messages_need_the_chance_level_too() -> None:
    """SD 2.x's 32 bits: 24 matched is a balanced share of 0.75 but happens by chance once in ~140 (two orders)."""
    assert wm.scheme_verdict(wm.SD2, 24, 0.76, min(1.0, 2 * wm.p_at_least(24, 32))) == "partial"
    assert wm.scheme_verdict(wm.SD2, 27, 0.85, min(1.0, 2 * wm.p_at_least(27, 32))) == "very likely"
    # SDXL: Stability's thresholds, counting the two channel orders read (35 for likely, 37 for very likely)
    sdxl = {n: wm.scheme_verdict(wm.SDXL, n, 0.0, min(1.0, 2 * wm.p_at_least(n, 48))) for n in range(33, 39)}
    assert sdxl == {33: "partial", 34: "partial", 35: "likely", 36: "likely", 37: "very likely", 38: "very likely"}
    assert [wm.text_verdict(p) for p in (1e-6, 0.02, 0.2)] == ["very likely", "likely", "partial"]


def test_prescreen_on_unmarked_pictures() -> None:
    """Large unmarked pictures: the prescreen's scores are returned without reading every block (nothing
    stored-worthy either way); the full reading agrees that nothing is worth storing."""
    for seed in range(3):
        rgb = scene(1024, 1536, seed=seed)
        quick, full = wm.decode(rgb), wm.decode(rgb, prescreen=False)
        assert stored(quick) == stored(full) == []


def test_share_verdicts_ignore_one_sided_decodes() -> None:
    zeros = np.zeros(32, dtype=np.uint8)
    assert wm.balanced_accuracy(zeros, wm.SD2.bits) == 0.5
    assert wm.balanced_accuracy(wm.SD2.bits, wm.SD2.bits) == 1.0
    assert wm.share_verdict(0.5) == "none" and wm.share_verdict(1.0) == "very likely"


def test_size_limits() -> None:
    assert wm.check_size(255, 256) == "255x256 is under invisible-watermark's minimum of 256x256 pixels"
    assert wm.check_size(256, 256) is None
    assert wm.check_size(65536, 1) is not None


# -- the scan signal and its policy ----------------------------------------------------------------------------


def png(rgb: np.ndarray) -> bytes:
    out = io.BytesIO()
    Image.fromarray(rgb).save(out, "PNG")
    return out.getvalue()


def run_signal(data: bytes, policy: str, findings: list[Finding] | None = None) -> FileResult:
    settings = ScanSettings(watermarks=policy)
    outcome = decode_image(data, settings)
    assert outcome.decoded is not None
    result = FileResult(Locator.of("sample.png"), ItemMeta(), findings=list(findings or []))
    AiWatermarkSignal().apply(outcome.decoded, result, settings)
    return result


RECORD = Finding("ai_generation", "generation_record", {"tool": "A1111"}, "PNG tEXt 'parameters'")


def test_policy() -> None:
    assert generator_size(512, 512) and generator_size(832, 1216) and generator_size(2048, 2048)
    assert not generator_size(4032, 3024) and not generator_size(1920, 1080) and not generator_size(2112, 64)
    assert due("auto", 1920, 1080, has_record=True) and not due("auto", 1920, 1080, has_record=False)
    assert due("all", 1920, 1080, has_record=False) and not due("off", 512, 512, has_record=True)
    with pytest.raises(ValueError, match="unknown watermark policy"):
        due("sometimes", 512, 512, has_record=False)


def test_signal_stores_a_finding_for_a_marked_picture() -> None:
    data = png(wm.embed(scene(seed=4), wm.SDXL.bits, "rgb"))
    [finding] = run_signal(data, "auto").findings
    assert (finding.signal, finding.kind) == ("ai_watermark", "watermark")
    assert finding.where == wm.WHERE.format(order="RGB")
    assert finding.data["scheme"] == "sdxl" and finding.data["verdict"] == "very likely"
    assert finding.data["stability_verdict"] == "very likely"
    assert (finding.data["matched_bits"], finding.data["total_bits"]) == (48, 48)
    assert finding.data["note"] == wm.ABSENCE_NOTE
    assert run_signal(data, "off").findings == []


def test_signal_policy_on_other_sizes() -> None:
    odd = wm.embed(scene(500, 700, seed=8), wm.SD1.bits, "bgr")
    assert run_signal(png(odd), "auto").findings == []  # not a generator size, no record: not checked
    [finding] = run_signal(png(odd), "all").findings
    assert finding.data["scheme"] == "sd1"
    [_, finding] = run_signal(png(odd), "auto", [RECORD]).findings
    assert finding.data["scheme"] == "sd1"
    assert run_signal(png(scene(500, 700)), "all").findings == []  # checked, unmarked: nothing stored


def test_signal_notes_pictures_that_cannot_hold_a_mark() -> None:
    result = run_signal(png(scene(200, 200)), "auto", [RECORD])
    assert [(e.code, e.message) for e in result.errors] == [
        ("watermark_skipped", "watermark not checked: 200x200 is under invisible-watermark's minimum of 256x256 pixels")
    ]
    grey = io.BytesIO()
    Image.fromarray(scene()[..., 0]).save(grey, "PNG")
    [note] = run_signal(grey.getvalue(), "all").errors
    assert note.message == "watermark not checked: a grey picture has no colour channel to carry a mark"
    assert run_signal(png(scene(200, 200)), "auto").errors == []  # not due: no note
    grey_gen = io.BytesIO()
    Image.fromarray(scene()[..., 0]).save(grey_gen, "PNG")  # 512x512: due for its size alone, skipped silently
    assert run_signal(grey_gen.getvalue(), "auto").errors == []


def test_matched_bits_on_tied_votes_are_never_stored() -> None:
    """35 of 48 SDXL bits matched by one vote each (a chance reading) stays "partial"; the same bits voted
    unanimously are "likely" (Stability's count, both orders allowed for)."""
    votes_per_bit = 85  # a 512x512 picture's 4096 blocks over 48 bits
    message = wm.SDXL.bits.astype(bool)
    agree = np.arange(48) < 35  # the bits the reading gets right

    def votes(margin: int) -> np.ndarray:
        out = np.empty((votes_per_bit, 48), dtype=bool)
        for bit in range(48):
            wanted = message[bit] if agree[bit] else not message[bit]
            ones = (votes_per_bit + margin) // 2 if wanted else (votes_per_bit - margin) // 2
            out[:, bit] = np.arange(votes_per_bit) < ones
        return out.ravel()  # block k votes for bit k % 48

    tied = wm.score_scheme(wm.SDXL, {"bgr": votes(1), "rgb": votes(1)})
    clear = wm.score_scheme(wm.SDXL, {"bgr": votes(votes_per_bit), "rgb": votes(votes_per_bit)})
    assert (tied.matched_bits, tied.verdict) == (35, "partial")
    assert (clear.matched_bits, clear.verdict) == (35, "likely")


@pytest.mark.parametrize(
    ("fmt", "options", "kept"),
    [
        ("PNG", {}, True),
        ("WEBP", {"lossless": True}, True),
        ("JPEG", {"quality": 95, "subsampling": 0}, True),  # 4:4:4 keeps the full-resolution U channel
        ("JPEG", {"quality": 100, "subsampling": 2}, False),  # 4:2:0 averages the mark away
        ("WEBP", {"quality": 100}, False),  # lossy WebP is always 4:2:0
    ],
)
def test_auto_reads_generator_sizes_only_where_chroma_was_kept(fmt: str, options: dict, kept: bool) -> None:
    marked = wm.embed(scene(seed=4), wm.SDXL.bits, "bgr")
    buf = io.BytesIO()
    Image.fromarray(marked).save(buf, fmt, **options)
    data = buf.getvalue()
    found = [(f.data["scheme"], f.data["verdict"]) for f in run_signal(data, "auto").findings]
    assert found == ([("sdxl", "very likely")] if kept else [])
    # Read anyway ("all"), the subsampled copies hold no mark at all: skipping them lost nothing.
    assert bool(run_signal(data, "all").findings) == kept
