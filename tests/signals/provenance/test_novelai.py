"""NovelAI: the demo's PNG text chunks with an exact record, the JSON form its stealth copy holds (as one carrier
and flattened per key), NovelAI's v4 negative prompt, and hostile texts through the shared parser helper."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from tests.signals.provenance.parser_helper import ParserTestHelper, Sample, png_chunk_at

from cairn.demo import ai_samples as demo
from cairn.signals.provenance.parsers import parse_all
from cairn.signals.provenance.parsers.novelai import source_model
from cairn.signals.provenance.record import Carrier, GenerationRecord, ModelRef

MODEL = ModelRef("checkpoint", demo.NOVELAI_SOURCE_MODEL, demo.NOVELAI_SOURCE_HASH.lower(), "novelai")


def novelai_record(where: str, raw: str) -> GenerationRecord:
    chunks = dict(demo.novelai_chunks())
    comment = json.loads(chunks["Comment"])
    return GenerationRecord(
        tool="NovelAI",
        where=where,
        parser="novelai",
        raw=raw,
        prompt=demo.PROMPT,
        negative_prompt=demo.NEGATIVE,
        seed=demo.SEED,
        steps=28,
        sampler="k_euler_ancestral",
        scheduler="native",
        cfg=5.0,
        width=demo.WIDTH,
        height=demo.HEIGHT,
        model=MODEL,
        extra={
            **{
                k: comment[k]
                for k in (
                    "uncond_scale",
                    "cfg_rescale",
                    "n_samples",
                    "hide_debug_overlay",
                    "legacy_v3_extend",
                    "request_type",
                )
            },
            "Title": "AI generated image",
            "Software": "NovelAI",
            "Generation time": "1.8",
        },
    )


class TestNovelAI(ParserTestHelper):
    PARSER = "novelai"

    def samples(self) -> list[Sample]:
        with tempfile.TemporaryDirectory() as folder:
            [path] = demo.write_novelai_png(Path(folder))
            data = path.read_bytes()
        chunks = demo.novelai_chunks()
        where = "; ".join(f"PNG tEXt '{k}' at byte {png_chunk_at(data, b'tEXt', k)}" for k, _ in chunks)
        raw = "\n".join(f"{k}: {v}" for k, v in chunks)
        return [Sample("png", demo.write_novelai_png, [novelai_record(where, raw)])]


def test_stealth_json_as_one_carrier_and_flattened() -> None:
    doc = dict(demo.novelai_chunks())
    text = json.dumps(doc)
    [whole], warnings = parse_all([Carrier("stealth", text, "pixels: rgb LSB", container="pixels")])
    assert warnings == []
    assert whole == novelai_record("pixels: rgb LSB", text)
    flat = [Carrier(k, v, f"pixels: rgb LSB; JSON key {k!r}", container="pixels") for k, v in doc.items()]
    [record], warnings = parse_all(flat)
    assert warnings == []
    raw = "\n".join(f"{k}: {v}" for k, v in demo.novelai_chunks())
    assert record == novelai_record("pixels: rgb LSB", raw)


def test_v4_negative_prompt_and_comment_as_object() -> None:
    comment = {
        "prompt": "a green tractor",
        "v4_negative_prompt": {"caption": {"base_caption": "rain"}},
        "uc": None,
        "scale": 6,
        "steps": 23,
        "seed": 9,
    }
    doc = {"Software": "NovelAI", "Source": "NovelAI Diffusion V4.5 4BDE2A90", "Comment": comment}
    [record], warnings = parse_all([Carrier("x", json.dumps(doc), "pixels", container="pixels")])
    assert warnings == []
    assert (record.prompt, record.negative_prompt, record.cfg) == ("a green tractor", "rain", 6.0)
    assert record.model == ModelRef("checkpoint", "NovelAI Diffusion V4.5", "4bde2a90", "novelai")


def test_source_without_code_is_name_only() -> None:
    assert source_model("Stable Diffusion") == ModelRef("checkpoint", "Stable Diffusion", link="name-only")
    assert source_model(None) is None


def test_other_png_comments_are_not_novelai() -> None:
    carriers = [
        Carrier("Comment", '{"note": "holiday"}', "PNG tEXt 'Comment'", container="png"),
        Carrier("Software", "GIMP 2.10", "PNG tEXt 'Software'", container="png"),
    ]
    assert parse_all(carriers) == ([], [])
