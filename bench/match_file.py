"""Benchmark of ``cairn hashset match-file`` through the real code path, against threatexchange's PDQ index.

Synthetic data: a hash set of ``--size`` PDQs (70% random, 30% in clusters of near copies) written as a CSV and
imported into a SQLite case by ``CaseStore.import_hash_set`` (which also saves the set's PDQ index file), and a
queries CSV of ``--queries`` PDQs (half random, a quarter near copies of stored hashes at 0..40 bits, a quarter
near cluster centres). Measured in one run:

* import (database rows + index file), and the index file's build alone;
* ``cairn hashset match-file QUERIES --case CASE --out HITS.csv`` as a subprocess (interpreter start-up, CSV
  reading, the index loaded from its file, hits' entry details from the database, the output CSV): with the
  index file, and with it removed (the read-only command then builds the index in memory from the database);
* threatexchange's ``PDQMultiHashIndex`` (faiss ``IndexBinaryMultiHash(256, 16, 16)``, ``nflip = threshold //
  16``) built from the same hashes and queried in Python through its search API on a ``--te-sample`` of the
  queries, extrapolated per query to all of them; the hits of cairn on that sample must equal its hits.

    .venv/bin/python bench/match_file.py --size 1000000 --queries 2000000 --out docs/benchmarks-matching.md
"""

from __future__ import annotations

import argparse
import csv
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cairn.store import CaseStore, pdq_cache  # noqa: E402
from pdq_index import make_data, replace_section  # noqa: E402 - the bench folder's own helpers


def timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def write_hex_csv(path: Path, hashes: np.ndarray[Any, Any]) -> None:
    hexes = hashes.tobytes().hex()
    with path.open("w") as f:
        f.write("pdq\n")
        for i in range(0, len(hexes), 64 * 100_000):
            block = hexes[i : i + 64 * 100_000]
            f.write("".join(block[j : j + 64] + "\n" for j in range(0, len(block), 64)))


def match_file(case: Path, queries: Path, out: Path) -> float:
    cairn = Path(sys.executable).with_name("cairn")
    cmd = [str(cairn), "hashset", "match-file", str(queries), "--case", str(case), "--out", str(out), "--no-progress"]
    _, seconds = timed(lambda: subprocess.run(cmd, check=True, capture_output=True))
    return seconds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", type=int, default=1_000_000)
    ap.add_argument("--queries", type=int, default=2_000_000)
    ap.add_argument("--te-sample", type=int, default=20_000)
    ap.add_argument("--small", type=int, default=100_000, help="queries of the with/without index file comparison")
    ap.add_argument("--threshold", type=int, default=31)
    ap.add_argument("--seed", type=int, default=17)
    ap.add_argument("--tmp", type=Path, default=None, help="folder for the case and CSVs (default: a temp dir)")
    ap.add_argument("--out", type=Path, default=None, help="write the section into this markdown file")
    args = ap.parse_args()
    from threatexchange.signal_type.pdq.pdq_faiss_matcher import PDQMultiHashIndex

    rows: list[tuple[str, str]] = []

    def report(k: str, v: str) -> None:
        rows.append((k, v))
        print(f"{k}: {v}", flush=True)

    report("load", f"`uptime` load average at start: {os.getloadavg()[0]:.2f} ({os.cpu_count()} cores)")
    stored, queries = make_data(args.size, args.queries, args.seed)
    with tempfile.TemporaryDirectory(dir=args.tmp) as tmp_name:
        tmp = Path(tmp_name)
        set_csv, q_csv, hits_csv, case = tmp / "set.csv", tmp / "queries.csv", tmp / "hits.csv", tmp / "case"
        write_hex_csv(set_csv, stored)
        write_hex_csv(q_csv, queries)
        with CaseStore.open(case) as store:
            summary, import_s = timed(lambda: store.import_hash_set(set_csv, actor="bench", name="bench"))
        path = pdq_cache.index_path(case, summary["set_id"])
        size_mb = path.stat().st_size / 2**20
        path.unlink()
        with CaseStore.open(case) as store:
            engine = store._engine
            _, cache_s = timed(lambda: pdq_cache.build_after_import(engine, case, summary["set_id"]))
        report(
            "import",
            f"{args.size:,} PDQs imported in {import_s:.1f} s (of which building and saving the index file "
            f"{cache_s:.1f} s; file {size_mb:,.0f} MiB)",
        )
        with_file = match_file(case, q_csv, hits_csv)
        with hits_csv.open() as f:
            hits = list(csv.reader(f))[1:]
        report(
            "match-file, index file present",
            f"{args.queries:,} queries in {with_file:.1f} s ({args.queries / with_file:,.0f} queries/s, "
            f"{with_file / args.queries * 1e6:.1f} us/query end to end), {len(hits):,} hits",
        )
        small = tmp / "queries-small.csv"
        write_hex_csv(small, queries[: args.small])
        small_with = match_file(case, small, tmp / "hits-small.csv")
        shutil.rmtree(pdq_cache.cache_dir(case))
        small_without = match_file(case, small, tmp / "hits-small2.csv")
        same = (tmp / "hits-small2.csv").read_bytes() == (tmp / "hits-small.csv").read_bytes()
        report(
            "match-file without the index file",
            f"on the first {args.small:,} queries: {small_with:.1f} s with the file, {small_without:.1f} s without it "
            f"(the read-only command then builds the index in memory from the database); same output: {same}; "
            f"the file saves {small_without - small_with:.1f} s per run",
        )
        sample = [bytes(q).hex() for q in queries[: args.te_sample]]
        te = PDQMultiHashIndex()
        _, te_build = timed(lambda: te.add([bytes(h).hex() for h in stored], range(len(stored))))
        found, te_s = timed(lambda: te.search_with_distance_in_result(sample, args.threshold))
        first_line: dict[str, int] = {}
        for k, q in enumerate(sample):
            first_line.setdefault(q, k + 2)  # line 1 is the header; a repeated query is compared once
        lines = set(first_line.values())
        mine = sorted((h[0], int(h[4])) for h in hits if int(h[1]) in lines)
        theirs = sorted((q, int(d)) for q, res in found.items() for _id, _hash, d in res)
        te_us = te_s / len(sample) * 1e6
        te_all = te_us * args.queries / 1e6
        report(
            "threatexchange PDQMultiHashIndex, queried in Python",
            f"build {te_build:.1f} s; {te_us:.0f} us/query on {len(sample):,} queries ({len(theirs):,} hits, "
            f"{'the same (query, distance) pairs as cairn' if mine == theirs else 'DIFFERENT from cairn'}"
            f"): {te_all:,.0f} s extrapolated for {args.queries:,} queries, index only",
        )
        report(
            "ratio",
            f"the whole `cairn hashset match-file` run is **{te_all / with_file:.1f}x** faster than "
            f"threatexchange's index queries alone (**{(te_all + te_build) / with_file:.1f}x** with its build)",
        )
    if args.out:
        replace_section(
            args.out,
            "## `cairn hashset match-file`",
            [
                f"`bench/match_file.py --size {args.size} --queries {args.queries} --te-sample {args.te_sample}` "
                "(SQLite case; the command run as "
                "a subprocess, start-up and output CSV included; reference in the same run).",
                "",
                "| measure | result |",
                "|---|---|",
                *(f"| {k} | {v} |" for k, v in rows),
            ],
        )


if __name__ == "__main__":
    main()
