"""Scan-run lifecycle: running, completed, interrupted (by a newer start), failed; evidence registration."""

from __future__ import annotations

import pytest

from cairn.settings import ScanSettings
from cairn.store import CaseStore

from .helpers import make_result


def test_run_lifecycle(store: CaseStore) -> None:
    ev = store.register_evidence("/evidence/disk1", "directory", "examiner", {"label": "Disk 1"})
    assert store.register_evidence("/evidence/disk1", "directory", "someone-else", {}) == ev
    assert store.evidence_list() == [
        {
            "id": ev,
            "root": "/evidence/disk1",
            "kind": "directory",
            "registered_at": store.evidence_list()[0]["registered_at"],
            "files": 0,
        }
    ]
    settings = ScanSettings().as_record()
    first = store.start_run(ev, "0.1.0", settings, "examiner")
    store.write_results(first, ev, [make_result("a.txt")])
    second = store.start_run(ev, "0.1.0", settings, "examiner")  # the first one died
    assert {r["id"]: r["status"] for r in store.runs()} == {first: "interrupted", second: "running"}
    with pytest.raises(ValueError):
        store.write_results(first, ev, [make_result("b.txt")])  # an interrupted run may not write
    with pytest.raises(ValueError):
        store.finish_run(first, "completed", {}, "examiner")
    assert store.write_results(second, ev, [make_result("a.txt"), make_result("b.txt")]) == 1
    store.finish_run(second, "completed", {"files": 2}, "examiner", {"elapsed_s": 1.5})
    with pytest.raises(ValueError):
        store.finish_run(second, "failed", {}, "examiner")
    with pytest.raises(ValueError):
        store.finish_run(second, "bogus", {}, "examiner")

    runs = store.runs()
    assert [r["status"] for r in runs] == ["interrupted", "completed"]
    done = runs[1]
    assert done["settings"] == settings and done["counts"] == {"files": 2}
    assert done["tool_version"] == "0.1.0" and done["evidence_id"] == ev
    assert done["ended_at"] is not None and done["ended_at"] >= done["started_at"]
    assert done["host"] and done["os_user"]

    third = store.start_run(ev, "0.1.1", settings, "examiner")
    store.finish_run(third, "failed", {"files": 0}, "examiner", {"error": "disk vanished"})
    assert store.runs()[-1]["status"] == "failed"

    actions = [(e["action"], e["actor"]) for e in store.audit_entries()]
    assert actions == [
        ("case.created", actions[0][1]),
        ("evidence.registered", "examiner"),
        ("scan.started", "examiner"),
        ("scan.started", "examiner"),
        ("scan.finished", "examiner"),
        ("scan.started", "examiner"),
        ("scan.finished", "examiner"),
    ]
    entries = store.audit_entries()
    assert entries[1]["details"] == {
        "evidence_id": ev,
        "root": "/evidence/disk1",
        "kind": "directory",
        "label": "Disk 1",
    }
    assert entries[3]["details"]["interrupted_runs"] == [first]
    assert entries[4]["details"] == {
        "run_id": second,
        "evidence_id": ev,
        "status": "completed",
        "counts": {"files": 2},
        "details": {"elapsed_s": 1.5},
    }
    assert store.audit_verify() == []


def test_runs_of_unknown_evidence_are_refused(store: CaseStore) -> None:
    with pytest.raises(ValueError):
        store.start_run(12345, "0.1.0", {}, "examiner")
    with pytest.raises(ValueError):
        store.finish_run(12345, "completed", {}, "examiner")
