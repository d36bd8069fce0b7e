"""Benchmark of cairn.matching.pdq_index against threatexchange's PDQ index and a faiss flat binary index.

Synthetic set: ``--size`` hashes, 70% uniform random and 30% in clusters (a random centre and near copies of it
at 0..24 bits), plus near copies of some queries at 0..40 bits. ``--queries`` queries: half random, a quarter
near copies of stored hashes (0..40 bits), a quarter cluster members. Measured in one run: build time and RSS,
index bytes, save and load (memory-mapped) time, queries/s on ``--workers`` threads, recall against numpy brute
force on a sample and against faiss's flat (exhaustive) index on ``--sample`` queries (must be 100%), and the
per-query cost of threatexchange's ``PDQMultiHashIndex`` (faiss ``IndexBinaryMultiHash(256, 16, 16)``,
``nflip = threshold // 16``) and of faiss ``IndexBinaryFlat`` on the same sample, with the ratios.

    .venv/bin/python bench/pdq_index.py --size 2000000 --queries 100000 --out docs/benchmarks-matching.md
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from cairn.matching.pdq_index import PdqIndex, PdqMatches, have_c_kernel

U8 = npt.NDArray[np.uint8]


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def flip(rng: np.random.Generator, base: U8, max_bits: int) -> U8:
    """Copies of ``base`` with up to ``max_bits`` random bits flipped (uniform count 0..max_bits)."""
    out = base.copy()
    counts = rng.integers(0, max_bits + 1, len(base))
    pos = rng.integers(0, 256, (len(base), max_bits))
    use = np.arange(max_bits)[None, :] < counts[:, None]
    rows, cols = np.nonzero(use)
    p = pos[rows, cols]
    np.bitwise_xor.at(out, (rows, p >> 3), (1 << (7 - (p & 7))).astype(np.uint8))
    return out


def make_data(size: int, nq: int, seed: int) -> tuple[U8, U8]:
    rng = np.random.default_rng(seed)
    n_rand = size * 7 // 10
    n_clu = size - n_rand
    centres = rng.integers(0, 256, (max(1, n_clu // 20), 32), dtype=np.uint8)
    members = flip(rng, centres[rng.integers(0, len(centres), n_clu)], 24)
    stored = np.concatenate([rng.integers(0, 256, (n_rand, 32), dtype=np.uint8), members])
    q_rand = rng.integers(0, 256, (nq - 2 * (nq // 4), 32), dtype=np.uint8)
    q_near = flip(rng, stored[rng.integers(0, size, nq // 4)], 40)
    q_clu = flip(rng, centres[rng.integers(0, len(centres), nq // 4)], 24)
    queries = np.concatenate([q_rand, q_near, q_clu])
    return stored, queries[rng.permutation(len(queries))]


def timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def pairs(m: PdqMatches) -> set[tuple[int, int, int]]:
    return set(zip(m.query_index.tolist(), m.ids.tolist(), m.distance.tolist(), strict=True))


def brute(stored: U8, queries: U8, t: int) -> set[tuple[int, int, int]]:
    words = stored.view(np.uint64)
    out: set[tuple[int, int, int]] = set()
    for i, q in enumerate(queries.view(np.uint64)):
        d = np.bitwise_count(words ^ q).sum(axis=1)
        out.update((i, int(j), int(d[j])) for j in np.flatnonzero(d <= t))
    return out


def faiss_pairs(lims: Any, dist: Any, ids: Any) -> set[tuple[int, int, int]]:
    out: set[tuple[int, int, int]] = set()
    for i in range(len(lims) - 1):
        out.update((i, int(ids[k]), int(dist[k])) for k in range(lims[i], lims[i + 1]))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", type=int, default=10_000_000)
    ap.add_argument("--queries", type=int, default=1_000_000)
    ap.add_argument("--sample", type=int, default=10_000, help="queries timed on threatexchange and faiss flat")
    ap.add_argument("--brute", type=int, default=300, help="queries checked against numpy brute force")
    ap.add_argument("--threshold", type=int, default=31)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--out", type=Path, default=None, help="write the markdown report here")
    ap.add_argument("--tmp", type=Path, default=None, help="folder for the index file (default: the temp dir)")
    args = ap.parse_args()
    t = args.threshold
    rows: list[tuple[str, str]] = []

    def report(k: str, v: str) -> None:
        rows.append((k, v))
        print(f"{k}: {v}", flush=True)

    import faiss
    from threatexchange.signal_type.pdq.pdq_faiss_matcher import PDQMultiHashIndex

    faiss.omp_set_num_threads(args.workers)
    report("load", f"`uptime` load average at start: {os.getloadavg()[0]:.2f} ({os.cpu_count()} cores)")
    (stored, queries), gen_s = timed(lambda: make_data(args.size, args.queries, args.seed))
    report("data", f"{args.size:,} stored (30% clustered), {len(queries):,} queries, generated in {gen_s:.1f} s")
    report(
        "machine", f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, C kernel {have_c_kernel()}"
    )
    ids = np.arange(args.size, dtype=np.int64)
    rss0 = rss_mb()
    index, build_s = timed(lambda: PdqIndex.build(stored, ids))
    nbytes = sum(a.nbytes for a in index._arrays().values())
    report(
        "build",
        f"{build_s:.1f} s ({args.size / build_s:,.0f} hashes/s), index {nbytes / 2**20:,.0f} MiB = "
        f"{nbytes / 1e9:.2f} GB ({nbytes / args.size:.0f} B/hash), RSS +{rss_mb() - rss0:,.0f} MiB, "
        f"peak RSS {peak_rss_mb():,.0f} MiB (synthetic data and sort temporaries included)",
    )
    with tempfile.TemporaryDirectory(dir=args.tmp) as tmp:
        path = Path(tmp) / "bench.pdqidx"
        _, save_s = timed(partial(index.save, path))
        del index
        mapped, load_s = timed(lambda: PdqIndex.load(path))
        rss1 = rss_mb()
        loaded, cache_s = timed(lambda: PdqIndex.load(path, in_memory=True, verify=True))
        report(
            "save / load",
            f"save {save_s:.2f} s (checksums included), {path.stat().st_size / 2**20:,.0f} MiB file; load "
            f"memory-mapped {load_s * 1000:.1f} ms; load as `cairn match` does (copied into memory, huge pages, every "
            f"SHA-256 checked) {cache_s:.2f} s, RSS +{rss_mb() - rss1:,.0f} MiB",
        )
        run_all(args, loaded, stored, queries, t, report, faiss, PDQMultiHashIndex)
        sample = queries[: args.sample]
        _, map_q = timed(lambda: mapped.query(sample, t, workers=args.workers))
        _, ram_q = timed(lambda: loaded.query(sample, t, workers=args.workers))
        report(
            "memory-mapped vs in memory",
            f"{map_q / len(sample) * 1e6:.1f} us/query memory-mapped (4 KiB pages) vs "
            f"{ram_q / len(sample) * 1e6:.1f} us/query in memory, on the sample",
        )
    if args.out:
        write_doc(args, rows)


def run_all(
    args: Any,
    index: PdqIndex,
    stored: U8,
    queries: U8,
    t: int,
    report: Callable[[str, str], None],
    faiss: Any,
    te_cls: Any,
) -> None:
    n_hits = 0

    def run() -> None:
        nonlocal n_hits
        for part in index.query_chunks(queries, t, workers=args.workers, chunk=4096):
            n_hits += len(part.ids)

    (_, q_s), q_cpu = cpu_timed(run)
    per_q_us = q_s / len(queries) * 1e6
    report(
        "query (all)",
        f"{len(queries):,} queries in {q_s:.1f} s on {args.workers} threads: {len(queries) / q_s:,.0f} queries/s, "
        f"{per_q_us:.1f} us/query ({q_cpu / len(queries) * 1e6:.0f} us CPU/query), {n_hits:,} hits; "
        f"load average now {os.getloadavg()[0]:.2f}",
    )
    sample = queries[: args.sample]

    def mine_sample() -> tuple[PdqMatches, float]:
        out: tuple[PdqMatches, float] = timed(lambda: index.query(sample, t, workers=args.workers))
        return out

    mine, mine_s = mine_sample()
    got = pairs(mine)
    nb = min(args.brute, len(sample))
    truth = brute(stored, sample[:nb], t)
    sub = {p for p in got if p[0] < nb}
    report(
        "recall vs numpy brute force",
        f"{len(sub & truth)}/{len(truth)} hits on {nb} queries, {'exact' if sub == truth else 'MISMATCH'}",
    )
    flat = faiss.IndexBinaryFlat(256)
    flat.add(stored)
    (lims, dist, fid), flat_s = timed(partial(flat.range_search, sample, t + 1))
    _, mine_flat_s = mine_sample()  # cairn timed again right after, under the same load
    flat_us = flat_s / len(sample) * 1e6
    fp = faiss_pairs(lims, dist, fid)
    report(
        "recall vs faiss flat",
        f"{len(got & fp)}/{len(fp)} hits on {len(sample):,} queries, {'exact' if got == fp else 'MISMATCH'}",
    )
    del flat
    te = te_cls()
    _, te_build_s = timed(lambda: te.add([bytes(h).hex() for h in stored], range(len(stored))))
    hexq = [bytes(q).hex() for q in sample]
    _, mine_te_s = mine_sample()
    te_res, te_s = timed(lambda: te.search_with_distance_in_result(hexq, t))
    _, mine_te_s2 = mine_sample()
    te_us = te_s / len(sample) * 1e6
    te_hits = sum(len(v) for v in te_res.values())
    te.mih_index.nflip = t // te.mih_index.nhash
    _, raw_s = timed(lambda: te.faiss_index.range_search(sample, t + 1))
    raw_us = raw_s / len(sample) * 1e6
    mine_us = mine_s / len(sample) * 1e6
    near_flat_us = mine_flat_s / len(sample) * 1e6
    near_te_us = (mine_te_s + mine_te_s2) / 2 / len(sample) * 1e6
    report(
        "cairn PdqIndex on the sample",
        f"{mine_us:.1f} us/query ({len(got):,} hits); {near_flat_us:.1f} us/query right after faiss flat, "
        f"{near_te_us:.1f} us/query around threatexchange's queries (the ratios below use these)",
    )
    report(
        "threatexchange PDQMultiHashIndex",
        f"build {te_build_s:.1f} s; {te_us:.1f} us/query via its search API "
        f"({te_hits:,} hits), {raw_us:.1f} us/query via faiss range_search directly; "
        f"cairn is **{te_us / near_te_us:.1f}x** / **{raw_us / near_te_us:.1f}x** faster per query",
    )
    report(
        "faiss IndexBinaryFlat",
        f"{flat_us:.1f} us/query; cairn is **{flat_us / near_flat_us:.1f}x** faster per query",
    )
    report(
        f"{len(queries):,} queries at this size",
        f"cairn {q_s:.0f} s (measured); threatexchange {te_us * len(queries) / 1e6:,.0f} s, faiss flat "
        f"{flat_us * len(queries) / 1e6:,.0f} s (extrapolated per query)",
    )


def cpu_timed(fn: Callable[[], Any]) -> tuple[tuple[Any, float], float]:
    c0 = time.process_time()
    out = timed(fn)
    return out, time.process_time() - c0


def replace_section(path: Path, heading: str, body: list[str]) -> None:
    """Put ``heading`` + ``body`` into the markdown file ``path``, replacing that section (up to the next ``## ``
    heading) if it is there, else before ``## Notes`` (hand-written notes survive reruns), else at the end."""
    text = path.read_text() if path.exists() else "# Benchmark: PDQ matching\n"
    lines = text.rstrip("\n").split("\n")
    new = [heading, "", *body, ""]
    if heading in lines:
        start = lines.index(heading)
        end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
        lines[start:end] = new
    elif "## Notes" in lines:
        at = lines.index("## Notes")
        lines[at:at] = new
    else:
        lines += ["", *new]
    path.write_text("\n".join(lines).rstrip("\n") + "\n")


def write_doc(args: Any, rows: list[tuple[str, str]]) -> None:
    replace_section(
        Path(args.out),
        "## PDQ index",
        [
            f"`bench/pdq_index.py` (cairn.matching.pdq_index). Threshold {args.threshold}, {args.workers} threads; the "
            f"comparison indexes use faiss with {args.workers} OpenMP threads. Command:",
            "",
            "```",
            f".venv/bin/python bench/pdq_index.py --size {args.size} --queries {args.queries} --sample {args.sample} "
            f"--brute {args.brute} --out {args.out}",
            "```",
            "",
            "| measure | result |",
            "|---|---|",
            *(f"| {k} | {v} |" for k, v in rows),
        ],
    )


if __name__ == "__main__":
    main()
