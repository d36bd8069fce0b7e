"""Review app under load: 20 concurrent logged-in reviewers on a synthetic 1,000,000-file case, over loopback.

Builds the case quickly (rows inserted directly with SQLAlchemy core into a fresh SQLite case made by
``CaseStore.open``: files, sha256 and PDQ hashes, images, a WebP thumbnail per distinct sha256 drawn from a pool of
a few hundred benign pictures, generation-record findings, a finished match run with hits against a known and an
ignorable set, a near-duplicate group run, seed categorisations), starts the real app under uvicorn in its own
process on a loopback port, logs the reviewers in through the login form, and lets each (its own session, its own
thread) page, filter, load thumbnails, reveal, categorise and look at the case page for a fixed time.

Reports p50/p95/p99 latency per route and overall, requests/s and errors, then checks that no categorisation was
lost or doubled: every successful categorising POST that changed something has exactly one history row and one
``file.categorised`` audit entry (and no more rows than that), each file's history chains (every row's previous
value is the row before it), and ``audit_verify()`` is clean.

Writes the "Review app load" section of docs/benchmarks.md (or --out).
Usage: ``python bench/review_load.py [--files N] [--reviewers R] [--duration S] [--think S] [--quick]``.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import platform
import random
import re
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from PIL import Image, ImageDraw
from sqlalchemy import func, insert, select

import cairn
from cairn.review.app import LOGIN_COOKIE, encode_cursor
from cairn.store import CaseStore
from cairn.store import users as users_mod
from cairn.store.db import write_connection
from cairn.store.schema import (
    audit_log,
    file_categories,
    file_groups,
    file_hashes,
    file_matches,
    files,
    findings,
    group_runs,
    hash_set_entries,
    hash_sets,
    images,
    match_runs,
    thumbnails,
    users,
)

ROOT = Path(__file__).resolve().parent.parent
HEADING = "## Review app load"
TARGET_P99_MS = 300.0
PASSWORD = "benign bench password"
SCHEME = "vic-us"
VALUES = ("0", "1", "2", "3", "4")
#: (type label, extension, MIME, is a picture, weight)
TYPES = (
    ("jpeg", "jpg", "image/jpeg", True, 55), ("png", "png", "image/png", True, 20),
    ("webp", "webp", "image/webp", True, 8), ("gif", "gif", "image/gif", True, 3),
    ("heic", "heic", "image/heic", True, 4), ("pdf", "pdf", "application/pdf", False, 5),
    ("docx", "docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document", False, 3),
    ("zip", "zip", "application/zip", False, 2),
)
PICTURE_TYPES = tuple(t[0] for t in TYPES if t[3])
BATCH = 20_000


# -- the synthetic case ----------------------------------------------------------------------------------------------


def benign_thumbnails(count: int, seed: int = 7) -> list[bytes]:
    """``count`` distinct benign WebP thumbnails (coloured shapes on gradients, at most 256 px a side)."""
    rng = random.Random(seed)
    out = []
    for n in range(count):
        w, h = rng.choice(((256, 192), (192, 256), (256, 256), (256, 144)))
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        base = np.stack([80 + 60 * np.sin(xx / rng.uniform(20, 90)), 90 + 50 * np.cos(yy / rng.uniform(20, 90)),
                         np.full_like(xx, rng.uniform(60, 200))], axis=2)
        im = Image.fromarray(np.clip(base, 0, 255).astype(np.uint8))
        draw = ImageDraw.Draw(im)
        for _ in range(4):
            x, y, r = rng.randrange(w), rng.randrange(h), rng.randrange(10, 60)
            colour = (rng.randrange(256), rng.randrange(256), rng.randrange(256))
            (draw.ellipse if rng.random() < 0.5 else draw.rectangle)((x - r, y - r, x + r, y + r), fill=colour)
        buf = io.BytesIO()
        im.save(buf, format="WEBP", quality=70 + n % 10)
        out.append(buf.getvalue())
    return out


def sha_of(content: int) -> str:
    return hashlib.sha256(f"bench content {content}".encode()).hexdigest()


def pdq_of(content: int) -> str:
    return hashlib.sha256(f"bench pdq {content}".encode()).hexdigest()


@dataclass
class Built:
    """The case made by :func:`build_case` and what the load needs to know about it."""

    case_dir: Path
    seconds: float
    counts: dict[str, int]
    picture_ids: list[int]
    cursors: list[tuple[int, str]]  # (evidence id, path) of pictures spread over the case: deep page starts
    grouped_ids: list[int]
    seed_category_max: int  # file_categories.id of the last seed row


def build_case(case_dir: Path, n_files: int, seed: int = 1) -> Built:
    """A fresh SQLite case of ``n_files`` files with the rows a scanned, matched, grouped case holds."""
    started = time.perf_counter()
    rng = np.random.default_rng(seed)
    pool = benign_thumbnails(300)
    with CaseStore.open(case_dir) as store:
        case_id = store.case_id
        roots = [("/evidence/laptop", 0.6), ("/evidence/phone", 0.4)]
        evidence_ids = [store.register_evidence(r, "directory", "bench", {"synthetic": True}) for r, _ in roots]
        run_ids = [store.start_run(e, cairn.__version__, {"synthetic": True}, "bench") for e in evidence_ids]
        for i in range(20):
            users_mod.add_user(store, f"reviewer{i:02d}", "reviewer", PASSWORD, "bench")
        users_mod.add_user(store, "seed-reviewer", "reviewer", PASSWORD, "bench")
        engine = store._engine
        with engine.connect() as conn:
            base_id = int(conn.execute(select(func.coalesce(func.max(files.c.id), 0))).scalar_one()) + 1
            seed_user = int(conn.execute(select(users.c.id).where(users.c.name == "seed-reviewer")).scalar_one())
        weights = np.array([t[4] for t in TYPES], dtype=np.float64)
        kinds = rng.choice(len(TYPES), size=n_files, p=weights / weights.sum())
        split = int(n_files * roots[0][1])
        ids = np.arange(base_id, base_id + n_files)
        is_picture = np.array([TYPES[k][3] for k in kinds])
        # content: most files unique, a fifth copies of an earlier picture (copies are common on seized drives)
        content = ids.copy()
        dup = is_picture & (rng.random(n_files) < 0.2)
        picture_pos = np.flatnonzero(is_picture)
        content[dup] = ids[picture_pos[rng.integers(0, max(1, len(picture_pos)), size=int(dup.sum()))]]
        folders = rng.integers(0, max(1, n_files // 400), size=n_files)
        paths = [f"DCIM/{int(folders[j]):05d}/IMG_{int(ids[j]):07d}.{TYPES[kinds[j]][1]}" for j in range(n_files)]
        mtimes = 1.5e9 + rng.integers(0, 300_000_000, size=n_files)
        sizes = rng.integers(20_000, 6_000_000, size=n_files)
        errors = rng.random(n_files) < 0.002
        with write_connection(engine) as conn:
            for lo in range(0, n_files, BATCH):
                hi = min(n_files, lo + BATCH)
                rows_f, rows_h, rows_i = [], [], []
                for j in range(lo, hi):
                    t = TYPES[kinds[j]]
                    ev = 0 if j < split else 1
                    fid = int(ids[j])
                    rows_f.append({
                        "id": fid, "case_id": case_id, "evidence_id": evidence_ids[ev], "run_id": run_ids[ev],
                        "path": paths[j], "parent_path": None, "name": paths[j].rsplit("/", 1)[1], "depth": 0,
                        "is_container": t[0] == "zip", "kind": "file", "size": int(sizes[j]),
                        "mtime": float(mtimes[j]), "atime": float(mtimes[j]), "ctime": float(mtimes[j]),
                        "mode": 0o100644, "link_target": None, "mime": t[2], "type_label": t[0],
                        "extension_mismatch": False, "error_code": "decode_error" if errors[j] else None,
                        "error": "synthetic decode error" if errors[j] else None, "notes": None,
                        "bytes_read": int(sizes[j]),
                    })
                    rows_h.append({"file_id": fid, "kind": "sha256", "value": sha_of(int(content[j])), "quality": None})
                    if t[3]:
                        rows_h.append({"file_id": fid, "kind": "pdq", "value": pdq_of(int(content[j])), "quality": 100})
                        rows_i.append({"file_id": fid, "width": 4032, "height": 3024, "mode": "RGB",
                                       "format": t[0].upper(), "frames": 1, "orientation": None, "exif": None})
                conn.execute(insert(files), rows_f)
                conn.execute(insert(file_hashes), rows_h)
                if rows_i:
                    conn.execute(insert(images), rows_i)
            distinct = sorted({int(c) for c in content[is_picture]})
            for lo in range(0, len(distinct), BATCH):
                conn.execute(insert(thumbnails), [
                    {"sha256": sha_of(c), "webp": pool[c % len(pool)], "width": 256, "height": 192}
                    for c in distinct[lo : lo + BATCH]
                ])
            pictures = ids[is_picture]
            record = json.dumps({"tool": "ComfyUI", "prompt": "a red bicycle on a beach", "seed": 42,
                                 "models": [{"role": "checkpoint", "name": "benign-landscape-v1.safetensors"}]},
                                sort_keys=True)
            generated = pictures[rng.random(len(pictures)) < 0.02]
            for lo in range(0, len(generated), BATCH):
                conn.execute(insert(findings), [
                    {"file_id": int(f), "signal": "ai_generation", "kind": "generation_record", "data_json": record,
                     "location": "png:tEXt/prompt"} for f in generated[lo : lo + BATCH]
                ])
            now = "2026-01-01T00:00:00.000000Z"
            set_ids = []
            for name, ignorable in (("bench-known", False), ("bench-ignorable", True)):
                set_ids.append(int(conn.execute(insert(hash_sets).returning(hash_sets.c.id), {
                    "name": name, "source_sha256": hashlib.sha256(name.encode()).hexdigest(),
                    "source_name": f"{name}.csv", "format": "csv", "scheme": SCHEME, "ignorable": ignorable,
                    "status": "complete", "imported_at": now, "imported_by": "bench", "record_count": 0,
                    "warning_count": 0, "details_json": "{}"}).scalar_one()))
            match_run = int(conn.execute(insert(match_runs).returning(match_runs.c.id), {
                "case_id": case_id, "started_at": now, "ended_at": now, "settings_json": "{}",
                "counts_json": "{}"}).scalar_one())
            draw = rng.random(len(pictures))
            hits = [(int(f), 0) for f in pictures[draw < 0.015]] + [(int(f), 1) for f in pictures[draw > 0.99]]
            rows_e, rows_m = [], []
            for n, (fid, which) in enumerate(hits):
                value = None if which else VALUES[1 + n % 4]
                rows_e.append({"id": n + 1, "set_id": set_ids[which], "record_no": n, "kind": "sha256",
                               "value": sha_of(fid), "category_scheme": SCHEME if value else None,
                               "category_value": value, "series": None, "flags_json": None, "comments": None,
                               "extra_json": None})
                rows_m.append({"match_run_id": match_run, "file_id": fid, "set_id": set_ids[which], "entry_id": n + 1,
                               "kind": "sha256", "distance": 0, "category_scheme": SCHEME if value else None,
                               "category_value": value, "series": None, "flags_json": None, "transform": None})
            for lo in range(0, len(rows_e), BATCH):
                conn.execute(insert(hash_set_entries), rows_e[lo : lo + BATCH])
                conn.execute(insert(file_matches), rows_m[lo : lo + BATCH])
            group_run = int(conn.execute(insert(group_runs).returning(group_runs.c.id), {
                "case_id": case_id, "at": now, "settings_json": "{}", "counts_json": "{}"}).scalar_one())
            members = rng.permutation(pictures)[: int(len(pictures) * 0.15)]
            rows_g, start, group_no = [], 0, 0
            while start < len(members):
                size = int(rng.integers(2, 9))
                for k, f in enumerate(members[start : start + size]):
                    rows_g.append({"group_run_id": group_run, "file_id": int(f), "group_no": group_no,
                                   "is_representative": k == 0, "distance_to_representative": 0 if k == 0 else 4})
                start, group_no = start + size, group_no + 1
            for lo in range(0, len(rows_g), BATCH):
                conn.execute(insert(file_groups), rows_g[lo : lo + BATCH])
            # seed categorisations: 3% of the pictures reviewed before the load (no audit entries: synthetic)
            seeded = rng.permutation(pictures)[: int(len(pictures) * 0.03)]
            for lo in range(0, len(seeded), BATCH):
                conn.execute(insert(file_categories), [
                    {"case_id": case_id, "file_id": int(f), "scheme": SCHEME, "value": VALUES[int(f) % 5],
                     "previous_scheme": None, "previous_value": None, "user_id": seed_user, "at": now}
                    for f in seeded[lo : lo + BATCH]
                ])
            seed_max = int(conn.execute(select(func.coalesce(func.max(file_categories.c.id), 0))).scalar_one())
        with engine.connect() as conn:
            conn.exec_driver_sql("ANALYZE")
        counts = {"files": n_files, "pictures": len(pictures), "distinct_thumbnails": len(distinct),
                  "generation_records": len(generated), "match_hits": len(hits), "grouped": len(rows_g),
                  "groups": group_no, "seed_categorised": len(seeded)}
        picks = rng.choice(len(picture_pos), size=min(len(picture_pos), 2000), replace=False)
        cursors = []
        for p in picks:
            j = int(picture_pos[p])
            cursors.append((evidence_ids[0 if j < split else 1], paths[j]))
    return Built(case_dir, time.perf_counter() - started, counts, [int(p) for p in pictures],
                 cursors, [int(r["file_id"]) for r in rows_g], seed_max)


# -- the server ------------------------------------------------------------------------------------------------------


def serve(case_dir: Path, port: int) -> None:
    """Run the app on ``127.0.0.1:port`` as ``cairn serve`` does (one uvicorn process, the case opened for writing)."""
    import uvicorn

    from cairn.review.app import ReviewState, create_app

    with CaseStore.open(case_dir) as store:
        state = ReviewState(store, scheme=SCHEME)
        state.warm()  # as cairn serve does before it listens
        app = create_app(state, allowed_hosts=["127.0.0.1", "localhost"])
        uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(case_dir: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src") + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.Popen([sys.executable, __file__, "--serve", str(case_dir), "--port", str(port)], env=env)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited with {proc.returncode}")
        try:
            if httpx.get(base + "/login", timeout=2).status_code == 200:
                return proc, base
        except httpx.HTTPError:
            time.sleep(0.3)
    proc.terminate()
    raise RuntimeError("the server did not answer within 120 s")


# -- the reviewers ---------------------------------------------------------------------------------------------------


@dataclass
class Tally:
    """What every reviewer measured: latencies per route, errors, and each categorising POST's outcome."""

    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: Counter[str] = field(default_factory=Counter)
    error_samples: list[str] = field(default_factory=list)
    categorised: list[tuple[str, int, str | None, bool]] = field(default_factory=list)  # user, file, value, changed
    lock: threading.Lock = field(default_factory=threading.Lock)


def login(client: httpx.Client, name: str) -> str:
    """Log ``client`` in through the login form; return the session's CSRF token (from the grid page)."""
    client.get("/login")
    r = client.post("/login", data={"name": name, "password": PASSWORD, "csrf": client.cookies.get(LOGIN_COOKIE) or ""})
    if r.status_code != 303:
        raise RuntimeError(f"login of {name} answered {r.status_code}")
    page = client.get("/grid")
    found = re.search(r'<meta name="csrf-token" content="([^"]+)">', page.text)
    if found is None:
        raise RuntimeError("no CSRF token on the grid page")
    return found.group(1)


_IDS = re.compile(r'<figure class="tile"[^>]* data-id="(\d+)"')
_NEXT = re.compile(r'<a id="next" href="([^"]+)"')


#: The actions a reviewer picks from, with their weights (``--weight ACTION=W`` changes one).
MIX = {"grid first": 12, "grid deep": 12, "grid next": 8, "grid filter": 18, "thumb": 30, "reveal": 4,
       "categorise": 10, "history": 3, "case": 3}


def reviewer(
    base: str, name: str, built: Built, until: float, think: float, seed: int, tally: Tally, mix: dict[str, int]
) -> None:
    """One reviewer's closed loop until ``until``: a weighted mix of the grid, filters, media and categorisation."""
    rng = random.Random(seed)
    with httpx.Client(base_url=base, follow_redirects=False, timeout=60) as client:
        t0 = time.perf_counter()
        try:
            csrf = login(client, name)
        except (RuntimeError, httpx.HTTPError) as exc:  # a reviewer who cannot log in counts as an error, not a crash
            with tally.lock:
                tally.errors["login"] += 1
                tally.error_samples.append(f"login of {name}: {exc}")
            return
        with tally.lock:
            tally.latencies["login (form, POST, grid)"].append(time.perf_counter() - t0)
        page_ids: list[int] = []
        next_url: str | None = None

        def call(route: str, method: str, url: str, **kw: Any) -> httpx.Response | None:
            t0 = time.perf_counter()
            try:
                r = client.request(method, url, **kw)
            except httpx.HTTPError as exc:
                with tally.lock:
                    tally.errors[route] += 1
                    if len(tally.error_samples) < 10:
                        tally.error_samples.append(f"{route} {url}: {type(exc).__name__}")
                return None
            spent = time.perf_counter() - t0
            with tally.lock:
                tally.latencies[route].append(spent)
                if r.status_code >= 400 and not (route == "reveal" and r.status_code == 404):
                    tally.errors[route] += 1
                    if len(tally.error_samples) < 10:
                        tally.error_samples.append(f"{route} {url}: {r.status_code} {r.text[:120]}")
            return r

        def grid(route: str, url: str) -> None:
            nonlocal page_ids, next_url
            r = call(route, "GET", url)
            if r is not None and r.status_code == 200:
                found = [int(i) for i in _IDS.findall(r.text)]
                page_ids = found or page_ids
                m = _NEXT.search(r.text)
                next_url = None if m is None else m.group(1).replace("&amp;", "&")

        names, weights = list(mix), list(mix.values())
        while time.monotonic() < until:
            action = rng.choices(names, weights)[0]
            if action == "grid first":
                grid("grid first page", "/grid")
            elif action == "grid deep":
                ev, path = rng.choice(built.cursors)
                grid("grid deep page", "/grid?" + str(httpx.QueryParams({"after": encode_cursor((ev, path)) or ""})))
            elif action == "grid next" and next_url:
                grid("grid next page", next_url)
            elif action == "grid filter":
                params: dict[str, str] = {}
                for _ in range(1 if rng.random() < 0.8 else 2):
                    kind = rng.choice(("match", "ai", "type", "category"))
                    choices: dict[str, tuple[str, ...]] = {
                        "match": ("known", "unknown", "ignorable"), "ai": ("generated", "generated", "none"),
                        "type": PICTURE_TYPES, "category": (*VALUES, "none"),
                    }
                    params[kind] = rng.choice(choices[kind])
                grid("grid filter", "/grid?" + str(httpx.QueryParams(params)))
            elif action == "thumb":
                ids = page_ids or [rng.choice(built.picture_ids)]
                call("thumbnail", "GET", f"/media/{rng.choice(ids)}/thumb")
            elif action == "reveal":
                ids = page_ids or [rng.choice(built.picture_ids)]
                call("reveal", "POST", f"/api/files/{rng.choice(ids)}/reveal", headers={"X-CSRF-Token": csrf})
            elif action == "categorise":
                ids = page_ids or [rng.choice(built.picture_ids)]
                fid = rng.choice(ids)
                value = None if rng.random() < 0.1 else rng.choice(VALUES)
                r = call("categorise", "POST", f"/api/files/{fid}/category", headers={"X-CSRF-Token": csrf},
                         json={"value": value})
                if r is not None and r.status_code == 200:
                    with tally.lock:
                        tally.categorised.append((name, fid, value, bool(r.json()["changed"])))
            elif action == "history":
                ids = page_ids or [rng.choice(built.picture_ids)]
                call("history", "GET", f"/api/files/{rng.choice(ids)}/history")
            elif action == "case":
                call("case page", "GET", "/case")
            if think > 0:
                time.sleep(rng.uniform(0, 2 * think))


def run_load(
    base: str, built: Built, reviewers: int, duration: float, think: float, mix: dict[str, int]
) -> tuple[Tally, float]:
    tally = Tally()
    until = time.monotonic() + duration
    threads = [
        threading.Thread(target=reviewer, args=(base, f"reviewer{i:02d}", built, until, think, 1000 + i, tally, mix))
        for i in range(reviewers)
    ]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return tally, time.monotonic() - t0


# -- checking ----------------------------------------------------------------------------------------------------------


def check_categorisations(case_dir: Path, built: Built, tally: Tally, audit_from: int) -> list[str]:
    """Problems (empty: none) between the POSTs the reviewers saw succeed and the history rows and audit entries."""
    problems: list[str] = []
    with CaseStore.open(case_dir) as store:
        with store._engine.connect() as conn:
            names = {int(i): str(n) for i, n in conn.execute(select(users.c.id, users.c.name))}
            rows = conn.execute(
                select(file_categories.c.id, file_categories.c.file_id, file_categories.c.value,
                       file_categories.c.previous_value, file_categories.c.user_id)
                .where(file_categories.c.id > built.seed_category_max)
                .order_by(file_categories.c.id)
            ).all()
            entries = conn.execute(
                select(audit_log.c.actor, audit_log.c.details_json)
                .where(audit_log.c.case_id == store.case_id, audit_log.c.seq > audit_from,
                       audit_log.c.action == "file.categorised")
            ).all()
            touched = sorted({int(r[1]) for r in rows})
            chains: dict[int, list[tuple[str | None, str | None]]] = defaultdict(list)
            for lo in range(0, len(touched), 500):
                for fid, value, prev in conn.execute(
                    select(file_categories.c.file_id, file_categories.c.value, file_categories.c.previous_value)
                    .where(file_categories.c.file_id.in_(touched[lo : lo + 500]))
                    .order_by(file_categories.c.id)
                ):
                    chains[int(fid)].append((value, prev))
        problems.extend(store.audit_verify())
    posted = Counter((u, f, v) for u, f, v, changed in tally.categorised if changed)
    history = Counter((names[int(u)], int(f), v) for _i, f, v, _p, u in rows)
    audited: Counter[tuple[str, int, str | None]] = Counter()
    for actor, details_json in entries:
        d = json.loads(details_json)
        audited[(str(actor), int(d["file_id"]), None if d["category"] is None else str(d["category"]["value"]))] += 1
    if posted != history:
        problems.append(f"history rows differ from the changing POSTs: {sum((posted - history).values())} lost, "
                        f"{sum((history - posted).values())} extra")
    if posted != audited:
        problems.append(f"audit entries differ from the changing POSTs: {sum((posted - audited).values())} lost, "
                        f"{sum((audited - posted).values())} extra")
    broken = 0
    for chain in chains.values():
        for (before, _), (_, prev) in zip(chain, chain[1:], strict=False):
            broken += before != prev
    if broken:
        problems.append(f"{broken} history rows whose previous value is not the row before")
    return problems


# -- the store's queries alone ----------------------------------------------------------------------------------------


def query_times(case_dir: Path, cursor: tuple[int, str]) -> list[str]:
    """A table of the review store's queries timed in this process (best of two; no HTTP, no other request):
    what each route's database work costs on this case before any load."""
    from cairn.store import review as review_mod

    def best(fn: Any) -> float:
        times = []
        for _ in range(2):
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
        return min(times) * 1000

    with CaseStore.open(case_dir, read_only=True) as store:
        cases: list[tuple[str, Any]] = [
            ("type_labels (every grid page)", lambda: review_mod.type_labels(store)),
            ("counts (case page)", store.counts),
            ("exposure (case page)", lambda: review_mod.exposure(store)),
        ]
        grid = review_mod.GridFilters
        grids = [
            ("no filter", grid()), ("match=known", grid(match="known")), ("match=unknown", grid(match="unknown")),
            ("match=ignorable", grid(match="ignorable")), ("ai=generated", grid(ai="generated")),
            ("type=gif", grid(type="gif")), ("category=3", grid(category="3")),
            ("category=none", grid(category="none")),
            ("match=known&type=gif", grid(match="known", type="gif")),
            ("ai=generated&category=2", grid(ai="generated", category="2")),
        ]
        for label, filters in grids:
            for where, at in (("first", None), ("deep", cursor)):
                cases.append((f"grid_page {label}, {where}",
                              lambda f=filters, a=at: review_mod.grid_page(store, f, a, 60, SCHEME)))
        lines = ["| query (in process, no load) | ms |", "|---|---|"]
        lines += [f"| {label} | {best(fn):.0f} |" for label, fn in cases]
    return lines


# -- report ------------------------------------------------------------------------------------------------------------


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(np.array(values) * 1000, q)) if values else float("nan")


def load_avg() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "?"


def write_section(doc: Path, text: str, heading: str = HEADING) -> None:
    """Replace (or append) the ``heading`` section of ``doc`` with ``text``, leaving the other sections as they are."""
    old = doc.read_text(encoding="utf-8") if doc.exists() else "# Benchmarks\n"
    pattern = re.compile(rf"^{re.escape(heading)}\n.*?(?=^## |\Z)", re.MULTILINE | re.DOTALL)
    new = pattern.sub(lambda _m: text, old) if pattern.search(old) else old.rstrip("\n") + "\n\n" + text
    doc.write_text(new, encoding="utf-8")


def table(tally: Tally, elapsed: float) -> tuple[list[str], float]:
    lines = ["| route | requests | errors | p50 ms | p95 ms | p99 ms | max ms |", "|---|---|---|---|---|---|---|"]
    every: list[float] = []
    for route in sorted(tally.latencies):
        got = tally.latencies[route]
        if not route.startswith("login"):  # once per reviewer, before the load: not in the overall figures
            every.extend(got)
        lines.append(f"| {route} | {len(got)} | {tally.errors[route]} | {pct(got, 50):.0f} | {pct(got, 95):.0f} | "
                     f"{pct(got, 99):.0f} | {max(got) * 1000:.0f} |")
    p99 = pct(every, 99)
    lines.append(f"| **all** | {len(every)} ({len(every) / elapsed:.1f}/s) | {sum(tally.errors.values())} | "
                 f"{pct(every, 50):.0f} | {pct(every, 95):.0f} | **{p99:.0f}** | {max(every) * 1000:.0f} |")
    return lines, p99


def summary(tally: Tally, elapsed: float) -> dict[str, dict[str, float]]:
    """Requests, errors, p50/p99 (ms) per route and overall ("all"; logins left out), with requests/s."""
    out: dict[str, dict[str, float]] = {}
    every: list[float] = []
    for route, got in tally.latencies.items():
        if not route.startswith("login"):
            every.extend(got)
        out[route] = {"requests": len(got), "errors": tally.errors[route], "p50": pct(got, 50), "p99": pct(got, 99)}
    out["all"] = {"requests": len(every), "errors": sum(tally.errors.values()), "p50": pct(every, 50),
                  "p99": pct(every, 99), "per_second": len(every) / elapsed}
    return out


def compare(before: dict[str, dict[str, float]], after: dict[str, dict[str, float]], label: str) -> list[str]:
    """A table of p50/p99 per route, ``label`` run against this one."""
    lines = [f"Against the {label} run (same case, same mix):", "",
             f"| route | p50 ms {label} | p50 ms now | p99 ms {label} | p99 ms now | errors {label} | errors now |",
             "|---|---|---|---|---|---|---|"]
    for route in sorted(set(before) | set(after), key=lambda r: (r == "all", r)):
        b, a = before.get(route, {}), after.get(route, {})
        lines.append(f"| {route} | {b.get('p50', float('nan')):.0f} | {a.get('p50', float('nan')):.0f} | "
                     f"{b.get('p99', float('nan')):.0f} | {a.get('p99', float('nan')):.0f} | "
                     f"{int(b.get('errors', 0))} | {int(a.get('errors', 0))} |")
    return lines


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--files", type=int, default=1_000_000)
    parser.add_argument("--reviewers", type=int, default=20)
    parser.add_argument("--duration", type=float, default=120.0, help="seconds of load")
    parser.add_argument("--think", type=float, default=0.5,
                        help="mean pause between a reviewer's requests, seconds (uniform 0..2x; 0: back to back)")
    parser.add_argument("--quick", action="store_true", help="smoke run: 20,000 files, 5 reviewers, 15 s")
    parser.add_argument("--case", type=Path, help="reuse (or build once into) this case folder")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks.md")
    parser.add_argument("--no-write", action="store_true", help="print the section only")
    parser.add_argument("--json", type=Path, help="also write the figures per route as JSON here")
    parser.add_argument("--baseline", type=Path, help="a --json of an earlier run: add a before/after table")
    parser.add_argument("--baseline-label", default="before", help="what the baseline run was")
    parser.add_argument("--weight", action="append", default=[], metavar="ACTION=N",
                        help=f"change one action's weight in the mix ({', '.join(MIX)})")
    parser.add_argument("--no-queries", action="store_true", help="skip timing the store's queries in process")
    parser.add_argument("--serve", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve is not None:
        serve(args.serve, int(args.port))
        return
    n_files, reviewers, duration = (20_000, 5, 15.0) if args.quick else (args.files, args.reviewers, args.duration)
    with tempfile.TemporaryDirectory(prefix="cairn-review-load-") as tmp:
        for line in run(Path(tmp) / "case" if args.case is None else args.case, n_files, reviewers, duration,
                        args.think, args):
            print(line, flush=True)


def run(case_dir: Path, n_files: int, reviewers: int, duration: float, think: float,
        args: argparse.Namespace) -> Iterator[str]:
    built_file = case_dir / "bench-built.json"
    if built_file.exists():
        raw = json.loads(built_file.read_text())
        built = Built(case_dir, raw["seconds"], raw["counts"], raw["picture_ids"],
                      [(int(a), str(b)) for a, b in raw["cursors"]], raw["grouped_ids"], raw["seed_category_max"])
        yield f"reusing the case in {case_dir} ({built.counts['files']} files)"
    else:
        yield f"building a {n_files}-file case in {case_dir} ..."
        built = build_case(case_dir, n_files)
        built_file.write_text(json.dumps({**built.__dict__, "case_dir": str(case_dir)}))
        yield f"built in {built.seconds:.1f} s: {built.counts}"
    db_size = (case_dir / "case.db").stat().st_size
    with sqlite3.connect(case_dir / "case.db") as con:
        audit_from = int(con.execute("SELECT coalesce(max(seq), 0) FROM audit_log").fetchone()[0])
        seed_max = int(con.execute("SELECT coalesce(max(id), 0) FROM file_categories").fetchone()[0])
    built.seed_category_max = seed_max  # a reused case keeps the categorisations of earlier runs
    queries = [] if args.no_queries else query_times(case_dir, built.cursors[0])
    mix = dict(MIX)
    for given in args.weight:
        action, _, weight = given.partition("=")
        if action not in mix or not weight.isdigit():
            raise SystemExit(f"--weight wants ACTION=N with ACTION one of {', '.join(mix)}")
        mix[action] = int(weight)
    proc, base = start_server(case_dir)
    load_before = load_avg()
    try:
        yield f"server up at {base}; {reviewers} reviewers for {duration:.0f} s (think {think} s) ..."
        tally, elapsed = run_load(base, built, reviewers, duration, think, mix)
    finally:
        proc.terminate()
        proc.wait(timeout=60)
    load_after = load_avg()
    problems = check_categorisations(case_dir, built, tally, audit_from)
    rows, p99 = table(tally, elapsed)
    changed = sum(1 for *_x, c in tally.categorised if c)
    met = p99 < TARGET_P99_MS
    lines = [
        HEADING,
        "",
        f"Generated by `bench/review_load.py` ({time.strftime('%Y-%m-%d', time.gmtime())}); never asserted by tests.",
        "",
        f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores (shared with other work: "
        f"latencies are noisy); {platform.platform()}; Python {platform.python_version()}; SQLite "
        f"{sqlite3.sqlite_version}; cairn {cairn.__version__}. Load average: before `{load_before}`, after "
        f"`{load_after}`.",
        f"Case: {built.counts['files']:,} files (synthetic rows, SQLite, {db_size / 2**30:.2f} GiB), "
        f"{built.counts['pictures']:,} pictures with sha256 and PDQ, {built.counts['distinct_thumbnails']:,} "
        f"distinct thumbnails (benign shapes, 300 distinct WebPs), {built.counts['generation_records']:,} generation "
        f"records, {built.counts['match_hits']:,} match hits (known and ignorable sets), "
        f"{built.counts['grouped']:,} pictures in {built.counts['groups']:,} near-duplicate groups, "
        f"{built.counts['seed_categorised']:,} seed categorisations; built in {built.seconds:.0f} s.",
        f"Load: {reviewers} reviewers logged in through the login form, each its own session and thread, for "
        f"{elapsed:.0f} s against one uvicorn process (as `cairn serve`) on loopback; a pause of uniform "
        f"0..{2 * think:g} s between a reviewer's requests (mean {think:g} s). Mix (weights): grid first page "
        f"{mix['grid first']}, deep page from a random cursor {mix['grid deep']}, next page {mix['grid next']}, "
        f"filtered grid {mix['grid filter']} (match known/unknown/ignorable, AI record generated/none, picture "
        "type, category value or none; a fifth of them two filters at once), thumbnail of the current page "
        f"{mix['thumb']}, reveal {mix['reveal']}, categorise {mix['categorise']} (a tenth clear the category), "
        f"history {mix['history']}, case page {mix['case']}. "
        "Latencies measured by the clients (request to full body).",
        "",
        *rows,
        "",
        f"Target (issue 18): p99 < {TARGET_P99_MS:.0f} ms overall: **{'met' if met else 'not met'}** "
        f"({p99:.0f} ms).",
        f"Categorisation: {len(tally.categorised)} successful POSTs, {changed} of them changes; "
        + ("every change has exactly one history row and one `file.categorised` audit entry, no extra rows, each "
           "file's history chains, `audit_verify()` clean." if not problems else
           "**problems**: " + "; ".join(problems)),
    ]
    if queries:
        lines += ["", "The store's queries alone, in this process before the load (a deep page starts at a cursor "
                  "picked at random in the case):", "", *queries]
    figures = summary(tally, elapsed)
    if args.json is not None:
        args.json.write_text(json.dumps(figures, indent=1))
    if args.baseline is not None:
        lines += ["", *compare(json.loads(args.baseline.read_text()), figures, args.baseline_label)]
    if tally.error_samples:
        lines += ["", "Error samples: " + "; ".join(f"`{e}`" for e in tally.error_samples)]
    lines.append("")
    text = "\n".join(lines)
    if not args.no_write:
        write_section(args.out, text)
    yield text


if __name__ == "__main__":
    main()
