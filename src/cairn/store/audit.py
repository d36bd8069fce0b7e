"""The chain-of-custody audit log: canonical JSON, entry hashes, the head anchor file, verification.

``entry_hash = sha256(canonical_json({case_id, seq, at, actor, action, details_json, prev_hash}))``;
the first entry's ``prev_hash`` is 64 zeros. Verification finds edited rows (hash mismatch), deleted or
reordered rows (seq gap / prev_hash mismatch) and a truncated tail (via the anchor file
``CASE_DIR/audit-head.json``, rewritten atomically after each append).
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

GENESIS_HASH = "0" * 64
ANCHOR_FILE = "audit-head.json"


def canonical_json(value: Any) -> str:
    """Deterministic JSON: sorted keys, no whitespace, UTF-8 kept, non-JSON values as ``str()``."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False, default=str
    )


def utc_now() -> str:
    """The current time as an ISO 8601 UTC string with microseconds (``...T12:00:00.000001+00:00``)."""
    return datetime.now(UTC).isoformat(timespec="microseconds")


def entry_hash(
    case_id: int, seq: int, at: str, actor: str, action: str, details_json: str, prev_hash: str
) -> str:
    """The SHA-256 (hex) that seals one audit entry and everything before it."""
    payload = canonical_json(
        {
            "case_id": case_id,
            "seq": seq,
            "at": at,
            "actor": actor,
            "action": action,
            "details_json": details_json,
            "prev_hash": prev_hash,
        }
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Anchor:
    """The last known head of a case's log, kept outside the database."""

    case_id: int
    seq: int
    entry_hash: str


def anchor_path(case_dir: Path) -> Path:
    """Where the anchor of the case in ``case_dir`` lives."""
    return case_dir / ANCHOR_FILE


def write_anchor(case_dir: Path, anchor: Anchor) -> None:
    """Atomically replace the anchor file (temp file, fsync, ``os.replace``), unless it is already newer."""
    current = read_anchor(case_dir)
    if isinstance(current, Anchor) and current.case_id == anchor.case_id and current.seq > anchor.seq:
        return
    target = anchor_path(case_dir)
    data = canonical_json({"case_id": anchor.case_id, "seq": anchor.seq, "entry_hash": anchor.entry_hash})
    fd, tmp = tempfile.mkstemp(prefix=".audit-head.", suffix=".tmp", dir=case_dir)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(data + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_anchor(case_dir: Path) -> Anchor | str | None:
    """The anchor, None when there is no anchor file, or a problem description when it is unreadable."""
    path = anchor_path(case_dir)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        return Anchor(int(raw["case_id"]), int(raw["seq"]), str(raw["entry_hash"]))
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return f"audit anchor {path} is unreadable ({exc}); it may have been tampered with"


def verify_entries(
    case_id: int, entries: Iterable[Mapping[str, Any]], anchor: Anchor | str | None
) -> list[str]:
    """Check a case's entries (ordered by seq) and its anchor; return problems found (empty = intact)."""
    problems: list[str] = []
    expected_seq = 1
    prev = GENESIS_HASH
    last: Mapping[str, Any] | None = None
    by_seq: dict[int, str] = {}
    for row in entries:
        seq = int(row["seq"])
        if seq != expected_seq:
            if seq > expected_seq:
                problems.append(
                    f"entries {expected_seq}..{seq - 1} are missing (deleted?): the log jumps to seq {seq}"
                )
            else:
                problems.append(f"entry seq {seq} appears out of order after seq {expected_seq - 1}")
        if row["prev_hash"] != prev:
            problems.append(
                f"entry seq {seq}: prev_hash does not match the entry before it "
                "(an entry was removed, inserted or reordered)"
            )
        recomputed = entry_hash(
            case_id, seq, row["at"], row["actor"], row["action"], row["details_json"], row["prev_hash"]
        )
        if recomputed != row["entry_hash"]:
            problems.append(
                f"entry seq {seq} ({row['action']}): content does not match its entry_hash (edited)"
            )
        by_seq[seq] = row["entry_hash"]
        prev = row["entry_hash"]
        expected_seq = max(expected_seq, seq) + 1
        last = row

    if isinstance(anchor, str):
        problems.append(anchor)
    elif anchor is None:
        if last is not None:
            problems.append(
                f"audit anchor file {ANCHOR_FILE} is missing although the log has "
                f"{len(by_seq)} entries; truncation of the log cannot be ruled out"
            )
    elif anchor.case_id != case_id:
        problems.append(f"audit anchor belongs to case {anchor.case_id}, not case {case_id}")
    elif last is None or anchor.seq > int(last["seq"]):
        head = 0 if last is None else int(last["seq"])
        problems.append(
            f"audit log truncated: the anchor records seq {anchor.seq} but the log ends at seq {head}"
        )
    elif by_seq.get(anchor.seq) != anchor.entry_hash:
        problems.append(
            f"entry seq {anchor.seq} does not match the anchored entry_hash (the log was rewritten)"
        )
    return problems
