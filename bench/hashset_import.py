"""Benchmark of `cairn hashset import` on a synthetic national-scale hash set, VICS 2.0 JSON and plain CSV.

The set (``--rows`` records, default 10,000,000) is written streaming into a temp folder: random MD5/SHA-1
pairs, a PDQ on every 10th record (random, in clusters of near-copies, and every 1000th record a near-copy of
one of the demo images' PDQs with 1 to 8 bits flipped), VIC-US categories, two flags and a MediaID. Each file is
imported by the real CLI (``cairn hashset import``, a child process per import, so its peak RSS is that
process's own, from ``wait4``) into a fresh SQLite case; the same is done at 1/10 of the size to show that the
peak RSS does not grow with the file.

References measured in the same run on the same files:

* parse only: ``ijson.items(f, "value.item")`` (yajl2_c) / ``csv.reader`` over the file, nothing else;
* minimal importer: that parse, rows made with no validation (flags and extras as JSON), and ``sqlite3``
  ``executemany`` into the same tables (the DDL copied from cairn's case) with the same strategy as cairn
  (the (kind, value) index dropped during the load and built after it, 64 MiB page cache): the floor of
  what any importer of these files into this schema does, so cairn's ratio to it is the price of reading
  properly (validation, normalisation, categories with schemes, unknown fields kept, warnings).

Run (writes a section of docs/benchmarks.md; generated files are deleted afterwards)::

    .venv/bin/python bench/hashset_import.py --rows 10000000 --out docs/benchmarks.md
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import random
import resource
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import ijson

sys.path.insert(0, str(Path(__file__).resolve().parent))
from pdq_index import replace_section  # noqa: E402 - the bench folder's own helpers

CONTEXT = "http://github.com/VICSDATAMODEL/ProjectVic/DataModels/2.0.xml/US/$metadata#Media"
HEADING = "## Hash-set import"
FLAGS = {0: ("false", "true"), 1: ("true", "false"), 2: ("false", "false")}


def demo_pdqs(folder: Path) -> list[str]:
    """The PDQs of the cairn demo's pictures (benign images cairn makes itself)."""
    import numpy as np
    from PIL import Image

    from cairn.demo import generate
    from cairn.signals.pdq import pdq_from_rgb

    generate(folder, "small", seed=7)
    found: list[str] = []
    for path in sorted(folder.rglob("*")):
        if not path.is_file() or path.suffix.lower() not in (".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp"):
            continue
        try:
            with Image.open(path) as image:
                pixels = np.asarray(image.convert("RGB"))
        except Exception:  # noqa: BLE001 - a demo oddity (truncated, disguised): not a picture to plant
            continue
        value, quality = pdq_from_rgb(pixels)
        if quality >= 50 and value not in found:
            found.append(value)
    return found


def near(rng: random.Random, value: int, bits: int) -> int:
    """``value`` with ``bits`` distinct bits of its 256 flipped."""
    for bit in rng.sample(range(256), bits):
        value ^= 1 << bit
    return value


def records(rows: int, seed: int, planted: list[str]) -> Iterator[tuple[int, str, str, str, int, int]]:
    """(media id, md5, sha1, pdq or "", category, flag set) for each synthetic record."""
    rng = random.Random(seed)
    bases = [int(p, 16) for p in planted]
    center = rng.getrandbits(256)
    for n in range(rows):
        digest = rng.randbytes(36).hex()
        pdq = ""
        if n % 10 == 0:
            if n % 1000 == 0 and bases:
                value = near(rng, bases[(n // 1000) % len(bases)], 1 + n % 8)
            else:
                if n % 50 == 0:  # a new cluster every 5 PDQs: near-copies of one random picture
                    center = rng.getrandbits(256)
                value = near(rng, center, rng.randint(0, 12))
            pdq = f"{value:064x}"
        yield n + 1, digest[:32], digest[32:72], pdq, n % 5, n % 3


def write_sets(folder: Path, rows: int, seed: int, planted: list[str]) -> tuple[Path, Path]:
    """The set as VICS 2.0 JSON (one Media per line, as exporters write) and as CSV, written streaming."""
    vics, plain = folder / f"set-{rows}.json", folder / f"set-{rows}.csv"
    with vics.open("w", encoding="utf-8") as j, plain.open("w", encoding="utf-8") as c:
        j.write('{"@odata.context": "' + CONTEXT + '",\n"value": [\n')
        c.write("md5,sha1,pdq,category,victim_identified,is_distributed,media_id\n")
        for media_id, md5, sha1, pdq, cat, flags in records(rows, seed, planted):
            victim, distributed = FLAGS[flags]
            alt = f', "AlternativeHashes": [{{"HashName": "PDQ", "HashValue": "{pdq}"}}]' if pdq else ""
            j.write(
                f'{"," if media_id > 1 else ""}{{"MediaID": {media_id}, "MD5": "{md5.upper()}", "SHA1": "{sha1}", '
                f'"Category": {cat}, "VictimIdentified": {victim}, "IsDistributed": {distributed}{alt}}}\n'
            )
            c.write(f"{md5},{sha1},{pdq},{cat},{victim},{distributed},{media_id}\n")
        j.write("]\n}\n")
    return vics, plain


#: The child: the CLI's own entry point, then its peak RSS (VmHWM: this process's own, reset at exec; getrusage's
#: ru_maxrss would also count the benchmark's memory from before the exec). It also notes the peak reached before
#: the PDQ index file of the new set is built (``cairn.store.pdq_cache.build_after_import``, which the import
#: runs after the rows are in and which holds the set's PDQs in memory): the import's own peak.
CHILD = """import sys
from cairn.cli.main import app
from cairn.store import pdq_cache


def peak():
    with open("/proc/self/status") as own:
        return next(line.split()[1] for line in own if line.startswith("VmHWM"))


build = pdq_cache.build_after_import


def noted(*args, **kwargs):
    sys.stderr.write(f"VmHWM-before-pdq-cache {peak()}\\n")
    return build(*args, **kwargs)


pdq_cache.build_after_import = noted
try:
    app(args=sys.argv[1:], prog_name="cairn")
    status = 0
except SystemExit as exc:
    status = exc.code or 0
sys.stderr.write(f"VmHWM {peak()}\\n")
sys.exit(status)
"""


def cairn_import(path: Path, fmt: str, case: Path) -> dict[str, Any]:
    """Run the CLI's import in a child process: wall seconds, CPU seconds and the child's own peak RSS."""
    args = ["hashset", "import", str(path), "--case", str(case), "--format", fmt, "--scheme", "vic-us", "--no-progress"]
    started = time.perf_counter()
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    out, err = child.communicate()
    wall = time.perf_counter() - started
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = usage.ru_utime + usage.ru_stime - _children_cpu[0]
    _children_cpu[0] += cpu
    if child.returncode != 0:
        raise RuntimeError(f"cairn hashset import failed ({child.returncode}): {err}")
    said = {line.split()[0]: int(line.split()[1]) for line in err.splitlines() if line.startswith("VmHWM")}
    db = sqlite3.connect(case / "case.db")
    entries = db.execute("SELECT count(*) FROM hash_set_entries").fetchone()[0]
    count = db.execute("SELECT record_count FROM hash_sets").fetchone()[0]
    planted = db.execute("SELECT count(*) FROM hash_set_entries WHERE kind = 'pdq'").fetchone()[0]
    named = "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'hash_set_entries'"
    indexes = [r[0] for r in db.execute(named)]
    db.close()
    return {
        "wall": wall,
        "cpu": cpu,
        "rss_mb": said["VmHWM"] / 1024,
        "rss_rows_mb": said.get("VmHWM-before-pdq-cache", 0) / 1024,
        "records": count,
        "entries": entries,
        "pdq": planted,
        "indexes": indexes,
        "said": out.strip(),
    }


_children_cpu = [0.0]  # CPU seconds of the children already counted


def parse_only(path: Path, fmt: str) -> tuple[int, float]:
    """Records and seconds of the bare parse: ijson's compiled items, or the csv module."""
    started = time.perf_counter()
    count = 0
    with path.open("rb") as stream:
        if fmt == "vics":
            for _ in ijson.items(stream, "value.item", use_float=True):
                count += 1
        else:
            with open(stream.fileno(), encoding="utf-8", newline="", closefd=False) as text:
                count = sum(1 for _ in csv.reader(text)) - 1
    return count, time.perf_counter() - started


def minimal_rows(path: Path, fmt: str) -> Iterator[tuple[Any, ...]]:
    """Entry rows straight from the parse: no validation, no normalisation, no schemes, no warnings."""
    encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
    with path.open("rb") as stream:
        if fmt == "vics":
            for n, media in enumerate(ijson.items(stream, "value.item", use_float=True), start=1):
                victim, distributed = media["VictimIdentified"], media["IsDistributed"]
                flags = encode({"victim_identified": victim, "is_distributed": distributed})
                cat = str(media["Category"])
                extra = encode({"MediaID": media["MediaID"]})
                yield 1, n, "md5", media["MD5"].lower(), "vic-us", cat, None, flags, None, extra
                yield 1, n, "sha1", media["SHA1"], "vic-us", cat, None, flags, None, None
                for alt in media.get("AlternativeHashes", ()):
                    yield 1, n, "pdq", alt["HashValue"], "vic-us", cat, None, flags, None, None
        else:
            with open(stream.fileno(), encoding="utf-8", newline="", closefd=False) as text:
                reader = csv.reader(text)
                next(reader)
                for n, (md5, sha1, pdq, cat, victim, distributed, _id) in enumerate(reader, start=1):
                    flags = encode({"victim_identified": victim == "true", "is_distributed": distributed == "true"})
                    yield 1, n, "md5", md5, "vic-us", cat, None, flags, None, None
                    yield 1, n, "sha1", sha1, "vic-us", cat, None, flags, None, None
                    if pdq:
                        yield 1, n, "pdq", pdq, "vic-us", cat, None, flags, None, None


def minimal_import(path: Path, fmt: str, schema_from: Path, folder: Path, live_index: bool = False) -> float:
    """Seconds for the minimal importer (see the module notes) into a fresh database with cairn's tables."""
    source = sqlite3.connect(schema_from)
    ddl = [
        r[0]
        for r in source.execute(
            "SELECT sql FROM sqlite_master WHERE tbl_name IN ('hash_sets', 'hash_set_entries') AND sql IS NOT NULL "
            "ORDER BY type DESC"
        )
    ]
    source.close()
    db_path = folder / "minimal.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db_path}{suffix}").unlink(missing_ok=True)
    db = sqlite3.connect(db_path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA foreign_keys=ON")
    db.execute("PRAGMA cache_size=-65536")
    for statement in ddl:
        db.execute(statement)
    db.execute(
        "INSERT INTO hash_sets (id, name, source_sha256, source_name, format, scheme, ignorable, status, imported_at, "
        "imported_by, record_count, warning_count, details_json) VALUES (1, 's', 'x', 's', 'f', 'vic-us', 0, "
        "'importing', 't', 'b', 0, 0, '{}')"
    )
    index = next(s for s in ddl if "kind_value" in s)
    started = time.perf_counter()
    if not live_index:
        db.execute("DROP INDEX ix_hash_set_entries_kind_value")
    sql = (
        "INSERT INTO hash_set_entries (set_id, record_no, kind, value, category_scheme, category_value, series, "
        "flags_json, comments, extra_json) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    )
    rows = minimal_rows(path, fmt)
    while True:
        db.execute("BEGIN IMMEDIATE")
        before = db.total_changes
        db.executemany(sql, _take(rows, 200_000))
        db.execute("COMMIT")
        if db.total_changes - before < 200_000:
            break
    if not live_index:
        db.execute(index)
    seconds = time.perf_counter() - started
    db.close()
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db_path}{suffix}").unlink(missing_ok=True)
    return seconds


def _take(rows: Iterator[tuple[Any, ...]], count: int) -> Iterator[tuple[Any, ...]]:
    for _ in range(count):
        try:
            yield next(rows)
        except StopIteration:
            return


def run_size(
    rows: int, seed: int, planted: list[str], tmp: Path, say: Callable[[str], None], references: bool = True
) -> dict[str, Any]:
    """Generate the set at ``rows``, import it both ways, measure the references (unless not ``references``);
    the files are deleted."""
    folder = tmp / f"n{rows}"
    folder.mkdir()
    started = time.perf_counter()
    vics, plain = write_sets(folder, rows, seed, planted)
    say(f"{rows:,} records written in {time.perf_counter() - started:.0f} s: {vics.stat().st_size / 1e9:.2f} GB "
        f"JSON, {plain.stat().st_size / 1e9:.2f} GB CSV")
    out: dict[str, Any] = {"rows": rows, "sizes": {"vics": vics.stat().st_size, "csv": plain.stat().st_size}}
    for fmt, path in (("vics", vics), ("csv", plain)):
        case = folder / f"case-{fmt}"
        measured = cairn_import(path, fmt, case)
        say(f"{fmt}: cairn {measured['wall']:.1f} s wall, {measured['cpu']:.1f} s CPU, peak RSS "
            f"{measured['rss_rows_mb']:.0f} MB before the PDQ cache build, {measured['rss_mb']:.0f} MB with it, "
            f"{measured['records']:,} records, {measured['entries']:,} rows")
        parse_s = minimal_s = float("nan")
        if references:
            _count, parse_s = parse_only(path, fmt)
            minimal_s = minimal_import(path, fmt, case / "case.db", folder)
            say(f"{fmt}: parse only {parse_s:.1f} s, minimal importer {minimal_s:.1f} s")
        out[fmt] = {**measured, "parse": parse_s, "minimal": minimal_s}
        shutil.rmtree(case)
        path.unlink()
    shutil.rmtree(folder)
    return out


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def table(result: dict[str, Any]) -> list[str]:
    lines = [
        "| format | file | cairn wall | records/s | entry rows/s | CPU s | peak RSS: rows in / with PDQ cache | "
        "parse only | minimal importer | cairn / minimal |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for fmt in ("vics", "csv"):
        m = result[fmt]
        lines.append(
            f"| {fmt} | {result['sizes'][fmt] / 1e9:.2f} GB | {m['wall']:.1f} s | **{m['records'] / m['wall']:,.0f}** "
            f"| {m['entries'] / m['wall']:,.0f} | {m['cpu']:.1f} | {m['rss_rows_mb']:.0f} / {m['rss_mb']:.0f} MB | "
            f"{m['parse']:.1f} s | "
            f"{m['minimal']:.1f} s | {m['wall'] / m['minimal']:.2f}x |"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=10_000_000, help="records in the big set (default 10,000,000)")
    parser.add_argument("--seed", type=int, default=20260101)
    parser.add_argument("--tmp", type=Path, default=None, help="folder for the generated files (default: temp)")
    parser.add_argument("--out", type=Path, default=None, help="markdown file to write the section into")
    parser.add_argument(
        "--cairn-only", type=int, default=None, metavar="N",
        help="only import N records with cairn and print time and peak RSS (no references, no document)",
    )
    args = parser.parse_args()

    def say(text: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {text} (load {load()})", flush=True)

    tmp = Path(tempfile.mkdtemp(prefix="cairn-hsbench-", dir=args.tmp))
    if args.cairn_only is not None:
        try:
            planted = demo_pdqs(tmp / "demo")
            run_size(args.cairn_only, args.seed, planted, tmp, say, references=False)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return
    load_before = load()
    try:
        planted = demo_pdqs(tmp / "demo")
        shutil.rmtree(tmp / "demo")
        say(f"{len(planted)} demo PDQs to plant")
        one = tmp / "one"
        one.mkdir()
        fixed = cairn_import(write_sets(one, 1, args.seed, planted)[1], "csv", one / "case")["wall"]
        shutil.rmtree(one)
        say(f"fixed cost of one CLI import (start-up, new case, a 1-record file): {fixed:.1f} s")
        small = run_size(max(1, args.rows // 10), args.seed, planted, tmp, say)
        big = run_size(args.rows, args.seed, planted, tmp, say)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    load_after = load()
    body = [
        "`bench/hashset_import.py`: `cairn hashset import` (the CLI, one child process per import, into a fresh "
        "SQLite case) of a synthetic set written as VICS 2.0 JSON and as CSV: random MD5/SHA-1, a PDQ on every 10th "
        "record (clusters of near-copies; every 1000th a demo picture's PDQ with 1-8 bits flipped), VIC-US "
        "categories, two flags, a MediaID (kept as an unknown field). References in the same run: the bare parse, "
        "and a minimal importer (that parse, no validation, `sqlite3` executemany into the same tables with the "
        "same deferred index). Command:",
        "",
        "```",
        f".venv/bin/python bench/hashset_import.py --rows {args.rows}" + (f" --out {args.out}" if args.out else ""),
        "```",
        "",
        f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores (shared with other work: "
        f"load average {load_before} before, {load_after} after); {platform.platform()}; Python "
        f"{platform.python_version()}, SQLite {sqlite3.sqlite_version}, ijson backend {ijson.backend}.",
        "",
    ]
    for result in (big, small):
        body += [f"{result['rows']:,} records:", "", *table(result), ""]
    body.append(
        f"- Fixed cost of one CLI import (interpreter start-up, imports, new case and migrations, a 1-record file): "
        f"{fixed:.1f} s, included in the wall times above; without it, at {big['rows']:,} records: "
        + ", ".join(f"{fmt} {big['rows'] / (big[fmt]['wall'] - fixed):,.0f} records/s" for fmt in ("vics", "csv"))
        + "."
    )
    for fmt in ("vics", "csv"):
        body.append(
            f"- {fmt} peak RSS until the rows are in: {small[fmt]['rss_rows_mb']:.0f} MB at {small['rows']:,} records, "
            f"{big[fmt]['rss_rows_mb']:.0f} MB at {big['rows']:,} ({big['sizes'][fmt] / small['sizes'][fmt]:.0f}x the "
            f"file); with the PDQ cache build {small[fmt]['rss_mb']:.0f} / {big[fmt]['rss_mb']:.0f} MB; PDQ rows "
            f"stored: {big[fmt]['pdq']:,}; indexes after the import: {', '.join(big[fmt]['indexes'])}."
        )
    body += [
        "",
        "How the import gets there (`src/cairn/store/hash_sets.py`, `src/cairn/matching/formats/`):",
        "",
        "- Readers: VICS and CSV read plain records through a plan made once per record shape (VICS key list) or "
        "per header (CSV): no per-field name matching, hashes checked with one `str.strip` of the hex digits, "
        "categories remembered per value. Any record that is not plain (a bad or blank hash, a flag that is not "
        "yes/no, a category outside the scheme, a field twice, an unknown AlternativeHashes name, ...) is read by "
        "the general code, so every warning, skip and verbatim value still comes from one place "
        "(tests/store/test_hash_set_import_paths.py checks both readings give the same records).",
        "- Rows (SQLite, file database): this thread reads the file and hands chunks of 65,536 rows, copied into C "
        "memory, to the C loader `cairn.store._bulkinsert`, whose own thread and connection insert them without "
        "the GIL meanwhile (the same SQLite library as Python's `sqlite3`, found through it; `synchronous=NORMAL` "
        "on that connection, the set made `complete` in one FULL transaction after). Without the extension: "
        "`sqlite3` `executemany` over a generator. About 210,000 rows per transaction, page cache 64 MiB, flags "
        "JSON made once per distinct flag set, garbage collection off while rows go in. PostgreSQL gets "
        "`COPY ... FROM STDIN` per transaction.",
        "- SQLite: once an import has inserted more than 200,000 rows and more than the table held before it, "
        "the (kind, value) index is dropped and built again in one sorted pass at the end (`PRAGMA threads` "
        "helpers; also after a failure, once the set's rows are removed; an import killed outright leaves it to "
        "the next import). Random inserts into an index far larger than the page cache are what made large "
        "imports slow. The index is derived data.",
        "- The PDQ index file of the new set is built last (part of the wall time above): its PDQs are read "
        "through the (kind, value) index, not by walking every entry.",
    ]
    text = "\n".join(body)
    print(text)
    if args.out is not None:
        replace_section(args.out, HEADING, body)


if __name__ == "__main__":
    main()
