"""`cairn terms import / list / hits` on a copy of the scanned demo case, with a benign list."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from typer.testing import CliRunner

from cairn.cli.main import app
from cairn.demo import ai_models
from cairn.store import CaseStore
from tests.conftest import ScannedDemo

runner = CliRunner()


def run(*args: str, code: int = 0) -> str:
    result = runner.invoke(app, ["terms", *args])
    assert result.exit_code == code, result.output
    return result.output


def test_import_list_and_hits(scanned_demo: ScannedDemo, tmp_path: Path) -> None:
    case = tmp_path / "case"
    shutil.copytree(scanned_demo.case_dir, case)
    terms = tmp_path / "benign.txt"
    terms.write_text("# benign test terms\nbicycl*\nblue sky\nbeach\nred bicycl*\n", encoding="utf-8")
    out = run("import", str(terms), "--case", str(case), "--name", "benign", "--actor", "tester")
    assert "imported term list 'benign': 4 terms" in out
    run("import", str(terms), "--case", str(case), "--name", "again", code=2)  # the same file twice: refused
    assert "benign" in run("list", "--case", str(case))
    hits = [json.loads(line) for line in run("hits", "--case", str(case), "--format", "json").splitlines()]
    lora = f"{ai_models.MODELS_FOLDER}/stable-diffusion-webui/models/Lora/beachStyle_v2.safetensors"
    lora_hits = {(h["field"], h["term"]) for h in hits if h["path"] == lora}
    assert ("tags", "bicycl*") in lora_hits and ("tags", "blue sky") in lora_hits and ("tags", "beach") in lora_hits
    assert ("training_comment", "red bicycl*") in lora_hits  # "red bicycles" in the comment
    prompts = {h["path"] for h in hits if h["source"] == "generation_record" and h["term"] == "red bicycl*"}
    assert any(p.endswith("a1111_bicycle.png") for p in prompts)
    assert all(h["field"] in ("prompt", "negative_prompt") for h in hits if h["source"] == "generation_record")
    run("hits", "--case", str(case), "--list", "nonexistent", code=2)
    summary = json.loads(runner.invoke(app, ["provenance", "--case", str(case), "--format", "json"]).output)
    assert summary["term_hits"]["hits"] == len(hits) and summary["term_hits"]["lists"] == 1
    assert summary["term_hits"]["model_files"] >= 1 and summary["term_hits"]["images"] >= 1
    with CaseStore.open(case, read_only=True) as store:
        entries = [e for e in store.audit_entries() if e["action"] == "terms.imported"]
    assert entries and "bicycl" not in json.dumps(entries)  # the audit records the list, never its terms
