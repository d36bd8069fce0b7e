"""``cairn match --dihedral`` on SQLite and PostgreSQL: a benign demo scene, its seven rotations and flips (Pillow
transposes), and a hash set holding only the original's PDQ. Also the hit rules of the matching code (one hit per
entry, smallest distance, the file's own hash first) and migration 0006 on a case that already has match hits."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from alembic import command
from PIL import Image
from sqlalchemy import delete, inspect, select
from typer.testing import CliRunner

from cairn.cli.main import app
from cairn.demo.pictures import draw_picture
from cairn.matching.match import Query, build_entry_index, match_chunk
from cairn.signals.pdq import (
    DIHEDRAL_INVERSE,
    DIHEDRAL_KIND,
    DIHEDRAL_TRANSFORMS,
    dihedral_value,
    pdq_dihedral_from_rgb,
    pdq_distance,
)
from cairn.store import CaseStore
from cairn.store.migrate import alembic_config
from cairn.store.schema import file_hashes, file_matches, files
from tests.store.helpers import raw_engine

runner = CliRunner()

#: The Pillow transpose that makes each copy, by the transform a hit on it must name.
PILLOW = {
    "rot90": Image.Transpose.ROTATE_90,
    "rot180": Image.Transpose.ROTATE_180,
    "rot270": Image.Transpose.ROTATE_270,
    "flipx": Image.Transpose.FLIP_TOP_BOTTOM,
    "flipy": Image.Transpose.FLIP_LEFT_RIGHT,
    "flipplus": Image.Transpose.TRANSPOSE,
    "flipminus": Image.Transpose.TRANSVERSE,
}
#: Each copy's file name and the transform a hit on it must name (None: the original).
EXPECTED: dict[str, str | None] = {"photo.png": None, **{f"photo-{name}.png": name for name in PILLOW}}


@dataclass
class Case:
    args: list[str]
    folder: Path
    db_url: str | None
    files: dict[str, dict[str, Any]]  # file name -> its `cairn files` JSON row


def run(*args: str, code: int = 0) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == code, result.output
    return result.output


def scene(seed: int = 0, size: tuple[int, int] = (320, 240)) -> Image.Image:
    """A benign photo-like demo picture (shapes on a gradient, lightly blurred)."""
    return draw_picture(np.random.default_rng(seed), *size, "scene")


def listing(case: Case) -> dict[str, list[dict[str, Any]]]:
    rows = json.loads(run("files", *case.args, "--format", "json"))
    return {Path(r["path"]).name: r["matches"] for r in rows}


def stored_variants(case: Case) -> dict[str, dict[str, str]]:
    """Each file's stored dihedral variants, by file name and transform."""
    engine = raw_engine(case.folder, case.db_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                select(files.c.path, file_hashes.c.value)
                .select_from(files.join(file_hashes, file_hashes.c.file_id == files.c.id))
                .where(file_hashes.c.kind == DIHEDRAL_KIND)
            ).all()
    finally:
        engine.dispose()
    return {Path(p).name: dict(zip(DIHEDRAL_TRANSFORMS, str(v).split(","), strict=True)) for p, v in rows}


def latest_run(case: Case) -> dict[str, Any]:
    with CaseStore.open(case.folder, case.db_url) as store:
        return store.match_runs()[-1]


@pytest.fixture
def case(tmp_path: Path, db_url: str | None) -> Case:
    """The scene as ``photo.png``, its seven transposes as ``photo-<transform>.png``, an unrelated scene; scanned,
    and a set ``known`` holding only the original's PDQ imported."""
    evidence = tmp_path / "evidence"
    evidence.mkdir()
    photo = scene()
    photo.save(evidence / "photo.png")
    for name, transpose in PILLOW.items():
        photo.transpose(transpose).save(evidence / f"photo-{name}.png")
    scene(seed=2).save(evidence / "other.png")
    folder = tmp_path / "case"
    args = ["--case", str(folder), *(["--db", db_url] if db_url else [])]
    run("scan", str(evidence), *args, "--workers", "1", "--no-match")
    rows = json.loads(run("files", *args, "--format", "json"))
    found = Case(args, folder, db_url, {Path(r["path"]).name: r for r in rows})
    original = found.files["photo.png"]
    assert original["pdq_quality"] >= 50
    known = tmp_path / "known.csv"
    known.write_text(f"pdq,category,series\n{original['pdq']},1,scene-series\n", encoding="utf-8")
    run("hashset", "import", str(known), *args, "--scheme", "vic-us", "--no-progress")
    return found


def test_dihedral_finds_all_eight_and_names_each_transform(case: Case) -> None:
    original = case.files["photo.png"]["pdq"]
    out = run("match", *case.args, "--dihedral", "--no-progress")
    assert "(7 rotated/mirrored)" in out

    found = listing(case)
    assert {name for name, hits in found.items() if hits} == set(EXPECTED)
    variants = stored_variants(case)
    for name, transform in EXPECTED.items():
        [hit] = found[name]
        assert (hit["kind"], hit["set"], hit["transform"], hit["series"]) == ("pdq", "known", transform, "scene-series")
        assert hit["category"]["value"] == 1 and hit["distance"] <= 31
        # the distance is the listed PDQ's to the file's variant that undoes the transform
        own = case.files[name]["pdq"] if transform is None else variants[name][DIHEDRAL_INVERSE[transform]]
        assert hit["distance"] == pdq_distance(own, original), name
    assert found["photo.png"][0]["distance"] == 0
    assert found["other.png"] == []

    with CaseStore.open(case.folder, case.db_url) as store:
        [match_run] = store.match_runs()
        [finished] = [e for e in store.audit_entries() if e["action"] == "match.finished"]
    assert match_run["settings"]["dihedral"] is True and finished["details"]["settings"] == match_run["settings"]
    counts = match_run["counts"]
    assert (counts["files_matched"], counts["pdq_hits"], counts["dihedral_hits"]) == (8, 8, 7)
    assert counts["pdq_without_variants"] == 0 and finished["details"]["counts"] == counts
    assert "audit chain intact" in run("audit", "verify", *case.args)


def test_without_dihedral_only_the_pdqs_within_the_threshold(case: Case) -> None:
    original = case.files["photo.png"]["pdq"]
    run("match", *case.args, "--no-progress")
    found = listing(case)
    within = {n for n, r in case.files.items() if r["pdq"] and pdq_distance(r["pdq"], original) <= 31}
    assert {n for n, hits in found.items() if hits} == within
    assert "photo.png" in within and len(within) < len(EXPECTED)  # a turned or mirrored scene is another PDQ
    assert all(h["transform"] is None for hits in found.values() for h in hits)
    match_run = latest_run(case)
    assert match_run["settings"]["dihedral"] is False and match_run["counts"]["dihedral_hits"] == 0


def test_files_scanned_without_variants_are_counted_and_named(case: Case) -> None:
    """A case scanned by a cairn that stored no variants (here: their rows removed) is matched on its own PDQs,
    and the run says how many came without variants instead of silently finding fewer copies."""
    engine = raw_engine(case.folder, case.db_url)
    try:
        with engine.begin() as conn:
            rot90 = conn.execute(select(files.c.id).where(files.c.path.like("%photo-rot90.png"))).scalar_one()
            conn.execute(delete(file_hashes).where(file_hashes.c.file_id == rot90, file_hashes.c.kind == DIHEDRAL_KIND))
    finally:
        engine.dispose()
    result = runner.invoke(app, ["match", *case.args, "--dihedral", "--no-progress"])
    assert result.exit_code == 0, result.output
    assert "1 pictures have no stored rotated/mirrored PDQ variants" in result.output
    found = listing(case)
    assert found["photo-rot90.png"] == [] and found["photo-rot270.png"][0]["transform"] == "rot270"
    assert latest_run(case)["counts"]["pdq_without_variants"] == 1


def test_migration_0006_keeps_hits_and_adds_a_null_transform(case: Case) -> None:
    run("match", *case.args, "--no-progress")
    before = listing(case)
    engine = raw_engine(case.folder, case.db_url)
    config = alembic_config()
    try:
        with engine.begin() as conn:
            config.attributes["connection"] = conn
            command.downgrade(config, "0005")
        with engine.connect() as conn:
            assert "transform" not in {c["name"] for c in inspect(conn).get_columns("file_matches")}
            kept = conn.execute(select(file_matches.c.id, file_matches.c.distance)).all()
        with engine.begin() as conn:
            config.attributes["connection"] = conn
            command.upgrade(config, "head")
        with engine.connect() as conn:
            after = conn.execute(select(file_matches.c.id, file_matches.c.distance, file_matches.c.transform)).all()
    finally:
        engine.dispose()
    assert kept and sorted(kept) == sorted((i, d) for i, d, _t in after)
    assert all(t is None for _i, _d, t in after)
    assert listing(case) == before


# -- the hit rules, on the matching code directly -------------------------------------------------------------


def test_one_hit_per_entry_smallest_distance_own_hash_first() -> None:
    """An entry reached by several of a file's eight hashes gives one hit: the smallest distance; on a tie the
    file's own hash, then the first transform in DIHEDRAL_TRANSFORMS order. (Variant strings composed from real
    hashes, since real pictures rarely put two of their eight hashes near one entry.)"""
    photo = scene()
    hexes, _ = pdq_dihedral_from_rgb(np.asarray(photo))
    near, _ = pdq_dihedral_from_rgb(np.asarray(photo.resize((300, 225), Image.Resampling.LANCZOS)))
    own, variants = hexes[0], list(hexes[1:])
    assert 0 < pdq_distance(near[0], own) <= 31

    def hits(value: str, variant_list: list[str], listed: str, threshold: int = 31) -> list[tuple[int, str | None]]:
        index = build_entry_index([(7, listed)])
        found = match_chunk([Query(1, "pdq", value, dihedral_value(variant_list))], lambda _k, _v: [], index, threshold)
        assert all(h.entry_id == 7 and h.kind == "pdq" and h.value == value for h in found)
        return [(h.distance, h.transform) for h in found]

    # the file's own hash and a variant at the same distance: the own hash (transform None)
    tied = [own if t == "flipy" else v for t, v in zip(DIHEDRAL_TRANSFORMS, variants, strict=True)]
    assert hits(own, tied, own) == [(0, None)]
    # a variant nearer than the own hash wins, named by the transform it undoes (flipy undoes itself)
    assert hits(near[0], tied, own) == [(0, "flipy")]
    # two variants at distance 0: the transform first in DIHEDRAL_TRANSFORMS order (rot90's variant is rot270's)
    two = [own if t in ("rot270", "flipx") else v for t, v in zip(DIHEDRAL_TRANSFORMS, variants, strict=True)]
    assert hits(near[0], two, own) == [(0, "rot90")]
    assert DIHEDRAL_TRANSFORMS.index("rot90") < DIHEDRAL_TRANSFORMS.index("flipx")


def test_without_variants_or_with_malformed_ones_only_the_own_hash_matches() -> None:
    photo = scene()
    hexes, _ = pdq_dihedral_from_rgb(np.asarray(photo))
    turned, _ = pdq_dihedral_from_rgb(np.asarray(photo.transpose(Image.Transpose.ROTATE_90)))
    index = build_entry_index([(1, hexes[0])])
    value = dihedral_value(turned[1:])
    assert [h.transform for h in match_chunk([Query(5, "pdq", turned[0], value)], lambda _k, _v: [], index, 31)] == [
        "rot90"
    ]
    for variants in ("", value[:-1], value.replace(",", ";")):
        assert match_chunk([Query(5, "pdq", turned[0], variants)], lambda _k, _v: [], index, 31) == []
