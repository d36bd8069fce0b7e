"""Image -> model file links on the scanned demo: every AI-metadata picture whose record names a demo model file
links to that file by the hash kind its tool writes; name-only references are weak links, labelled so; a model
file scanned into another case of the same database is found from this case without rescanning."""

from __future__ import annotations

import shutil
import zipfile
from collections import defaultdict
from pathlib import Path

from cairn.demo import ai_models, ai_samples
from cairn.pipeline.scan import scan
from cairn.settings import ScanSettings
from cairn.store import CaseStore
from cairn.store import model_links as ml
from tests.conftest import ScannedDemo

LORA = "stable-diffusion-webui/models/Lora/beachStyle_v2.safetensors"
LORA_EDITED = "stable-diffusion-webui/models/Lora/beachStyle_v2_renamed.safetensors"
FOOOCUS_LORA = "Fooocus/models/loras/sd_xl_offset_example-lora_1.0.safetensors"
SWARM_LORA = "SwarmUI/Models/Lora/Beach/bicycle_style_v1.safetensors"
EMBEDDING = "stable-diffusion-webui/embeddings/sandTexture.safetensors"
VAE = "stable-diffusion-webui/models/VAE/vae-ft-mse-840000-ema-pruned.safetensors"


def path_of(rel: str) -> str:
    return f"{ai_models.MODELS_FOLDER}/{rel}"


def links_by_path(store: CaseStore) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = defaultdict(list)
    for row in store.iter_file_rows(with_provenance=True):
        out[row["path"]].extend(row["provenance"]["model_links"])
    return out


def test_each_tool_links_by_its_own_hash_kind(demo_store: CaseStore) -> None:
    links = links_by_path(demo_store)
    seen: dict[tuple[str, str], set[str]] = defaultdict(set)  # (hash kind, model path) -> images
    for image, entries in links.items():
        for link in entries:
            if link["link"] == "hash":
                seen[(link["hash_kind"], link["model"]["path"])].add(image)
    # A1111 "Lora hashes": AutoV3 -> both the LoRA and its metadata-edited copy (same tensors)
    assert seen[("autov3", path_of(LORA))] and seen[("autov3", path_of(LORA))] == seen[("autov3", path_of(LORA_EDITED))]
    assert seen[("sha256_12", path_of(EMBEDDING))]  # A1111 "TI hashes"
    assert seen[("autov2", path_of(VAE))]  # A1111 "VAE hash"
    assert seen[("autov2", path_of(FOOOCUS_LORA))]  # Fooocus: 10 hex of the file's SHA-256, LoRAs too
    assert seen[("tensor_sha256", path_of(SWARM_LORA))]  # SwarmUI: 0x + tensor SHA-256
    # every image whose record carries the A1111 LoRA hash is linked, by that kind only
    for image in seen[("autov3", path_of(LORA))]:
        kinds = {
            (k["hash_kind"], k["link"]) for k in links[image] if k["model"] and k["model"]["path"] == path_of(LORA)
        }
        assert kinds == {("autov3", "hash")}
    assert all(
        k["model"]["kind"] in ("lora", "embedding", "vae", "checkpoint")
        for e in links.values()
        for k in e
        if k["model"]
    )


def test_name_only_references_are_weak_links(demo_store: CaseStore) -> None:
    links = links_by_path(demo_store)
    weak = [k for entries in links.values() for k in entries if k["link"] == "name"]
    assert weak, "the demo's ComfyUI/InvokeAI records name LoRAs without a hash"
    for link in weak:
        assert ml.name_key(link["name"]) == ml.name_key(link["model"]["path"])
    unresolved = [k for entries in links.values() for k in entries if k["link"] == "none"]
    assert any(k["name"] and ai_samples.FOOOCUS_CHECKPOINT in k["name"] for k in unresolved)  # named, not present


def test_case_report_lists_models_and_what_names_them(demo_store: CaseStore) -> None:
    report = demo_store.provenance_summary()["models_on_evidence"]
    by_path = {r["path"]: r for r in report["model_files"]}
    assert by_path[path_of(LORA)]["kind"] == "lora" and by_path[path_of(LORA)]["images_by_hash"] > 0
    assert path_of("llm/tiny-test-llm.gguf") in report["model_files_unnamed"]
    assert not any(r["hash"] == ai_samples.LORA_AUTOV3 for r in report["references_not_found"])


def test_a_model_in_another_case_of_the_database_is_found(scanned_demo: ScannedDemo, tmp_path) -> None:
    """A second case (its own evidence: only the LoRA) in the first case's database: the first case's images
    now also link to the other case's copy, without rescanning them."""
    case_dir = tmp_path / "case"
    shutil.copytree(scanned_demo.case_dir, case_dir)  # the session's case stays as it was
    other_evidence = tmp_path / "other"
    other_evidence.mkdir()
    with zipfile.ZipFile(other_evidence / "models.zip", "w") as archive:  # found inside an archive
        archive.writestr("lora/copy_of_lora.safetensors", ai_models.model_files()[LORA])
    db = f"sqlite:///{case_dir / 'case.db'}"
    with CaseStore.open(tmp_path / "other-case", db_url=db, case_name="other") as store:
        scan(other_evidence, store, ScanSettings(workers=1), actor="tester", show_progress=False)
    with CaseStore.open(case_dir) as store:
        report = store.provenance_summary()["models_on_evidence"]
    (row,) = report["model_files_in_other_cases"]
    assert row["path"].endswith("copy_of_lora.safetensors") and row["images_by_hash"] > 0
    assert row["container"] == "models.zip" and row["case"] == "other"


def test_invokeai_links_by_blake3_to_files_and_to_a_folder_model(demo_store: CaseStore) -> None:
    from cairn.demo import ai_samples_graphs

    links = links_by_path(demo_store)
    folder = path_of(ai_models.DIFFUSERS_FOLDER)
    by_blake3 = {
        (k["hash"], k["model"]["path"])
        for e in links.values()
        for k in e
        if k["link"] == "hash" and k["hash_kind"] == "blake3"
    }
    assert (ai_samples_graphs.CHECKPOINT_BLAKE3, folder) in by_blake3  # the folder, by InvokeAI's folder hash
    assert (ai_samples_graphs.LORA_BLAKE3, path_of(SWARM_LORA)) in by_blake3
    report = demo_store.provenance_summary()["models_on_evidence"]
    row = next(r for r in report["model_files"] if r["path"] == folder)
    assert row["container"] is None and row["evidence"]
    assert row["format"] == "diffusers-index" and row["hashes"]["blake3"] == ai_samples_graphs.CHECKPOINT_BLAKE3


def test_a_lora_whose_claim_differs_resolves_by_its_claim_too() -> None:
    """A1111 writes a LoRA's own sshs_model_hash (12 hex) in "Lora hashes"; after its weights changed, the
    claim and the computed AutoV3 differ and a reference by either finds the file, by no other kind."""
    lora = ml.ModelFile(
        1, 1, "c", "x/lora.safetensors", "safetensors", "lora", "sd1", {"autov3": "a" * 12, ml.CLAIMED_AUTOV3: "b" * 12}
    )
    resolver = ml.Resolver([lora])
    for value in ("a" * 12, "b" * 12):
        assert resolver.resolve({"hash_kind": "autov3", "hash": value}) == [(lora, "hash")]
    assert resolver.resolve({"hash_kind": "autov2", "hash": "b" * 10}) == []
    assert resolver.resolve({"hash_kind": "autov3", "hash": "c" * 12, "name": "LORA"}) == [(lora, "name")]


def test_reference_list_of_known_models(scanned_demo: ScannedDemo, tmp_path: Path) -> None:
    """A CSV of known model hashes with labels, imported as a hash set: references resolve against it (a named
    checkpoint not on the evidence becomes a "list" link), and `cairn match` finds the listed LoRA on the
    evidence by its AutoV3."""
    case_dir = tmp_path / "case"
    shutil.copytree(scanned_demo.case_dir, case_dir)
    listing = tmp_path / "known_models.csv"
    listing.write_text(
        "autov2,autov3,label\n"
        f"{ai_samples.FOOOCUS_CHECKPOINT_AUTOV2},,public SDXL checkpoint (benign test label)\n"
        f",{ai_samples.LORA_AUTOV3},beach style LoRA (benign test label)\n",
        encoding="utf-8",
    )
    with CaseStore.open(case_dir) as store:
        store.import_hash_set(listing, actor="tester", name="known-models")
        links = links_by_path(store)
        report = store.provenance_summary()["models_on_evidence"]
        store.run_match(actor="tester", set_names=["known-models"])
        matched = {r["path"]: r["matches"] for r in store.iter_file_rows(with_matches=True) if r["matches"]}
    lora, edited = path_of(LORA), path_of(LORA_EDITED)
    assert set(matched) == {lora, edited}  # the listed LoRA and its metadata-edited copy (same AutoV3)
    assert {m["kind"] for m in matched[lora]} == {"autov3"}
    listed = [k for e in links.values() for k in e if k["link"] == "list"]
    labels = {(k["hash_kind"], k["reference"]["label"]) for k in listed}
    assert ("autov2", "public SDXL checkpoint (benign test label)") in labels
    assert ("autov3", "beach style LoRA (benign test label)") in labels
    assert not any(r["hash"] == ai_samples.FOOOCUS_CHECKPOINT_AUTOV2 for r in report["references_not_found"])
    assert any(r["hash"] == ai_samples.FOOOCUS_CHECKPOINT_AUTOV2 for r in report["references_in_lists"])
