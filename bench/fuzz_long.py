"""Long, coverage-guided fuzzing of cairn's container and picture paths with atheris (libFuzzer).

Usage: ``python bench/fuzz_long.py [--seconds-per-target 300] [--targets containers,pictures] [--out DIR]``
(needs ``pip install -e '.[fuzz]'``). Each target runs in its own process, seeded with the benign seeds of
``tests/fuzz/seeds.py`` (plus their hostile variants made by the CI run's mutations), with per-input
timeout and memory limits; the promises checked are those of ``tests/fuzz/targets.py``. Crashing, hanging
and memory-hungry inputs are kept under ``--out`` (default ``bench/fuzz-out``, not committed) and the
figures are written to ``docs/fuzzing.md``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGETS = ("containers", "pictures")
PER_INPUT_TIMEOUT_S = 30
RSS_LIMIT_MB = 3072
#: docs/fuzzing.md keeps everything from this heading on when a run rewrites the figures above it.
FINDINGS_MARKER = "## What the runs found"


def _child(target: str, corpus: Path, artifacts: Path, seconds: int) -> None:
    """Run inside the fuzzing process: instrument cairn (and the stdlib parsers it drives), then fuzz."""
    import atheris

    sys.path.insert(0, str(ROOT))
    with atheris.instrument_imports(include=["cairn", "zipfile", "tarfile", "gzip", "PIL"]):
        from tests.fuzz.targets import container_target, picture_target
    fn = container_target if target == "containers" else picture_target

    def one(data: bytes) -> None:
        fn(data)

    atheris.Setup(
        [
            sys.argv[0],
            str(corpus),
            f"-max_total_time={seconds}",
            f"-timeout={PER_INPUT_TIMEOUT_S}",
            f"-rss_limit_mb={RSS_LIMIT_MB}",
            f"-artifact_prefix={artifacts}/",
            "-max_len=262144",
            "-print_final_stats=1",
        ],
        one,
    )
    atheris.Fuzz()


def _seed_corpus(target: str, corpus: Path) -> None:
    sys.path.insert(0, str(ROOT))
    from tests.fuzz.seeds import CONTAINER_SEEDS, PICTURE_SEEDS

    seeds = CONTAINER_SEEDS if target == "containers" else PICTURE_SEEDS
    corpus.mkdir(parents=True, exist_ok=True)
    for name, make in seeds.items():
        (corpus / f"seed-{name}").write_bytes(make())


def _stat(log: str, key: str) -> int:
    found = re.findall(rf"stat::{key}:\s+(\d+)", log)
    return int(found[-1]) if found else 0


def _run_target(target: str, out: Path, seconds: int) -> dict[str, object]:
    corpus, artifacts = out / target / "corpus", out / target / "artifacts"
    artifacts.mkdir(parents=True, exist_ok=True)
    _seed_corpus(target, corpus)
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, __file__, "--child", target, str(corpus), str(artifacts), str(seconds)],
        capture_output=True,
        text=True,
        errors="replace",
        timeout=seconds + 600,
    )
    log = proc.stdout + proc.stderr
    (out / target / "fuzz.log").write_text(log, encoding="utf-8")
    cov = re.findall(r"cov: (\d+)", log)
    found = sorted(p.name for p in artifacts.iterdir())
    return {
        "target": target,
        "seconds": round(time.monotonic() - started),
        "execs": _stat(log, "number_of_executed_units"),
        "coverage": int(cov[-1]) if cov else 0,
        "corpus": len(list(corpus.iterdir())),
        "crashes": sum(1 for f in found if f.startswith("crash-")),
        "timeouts": sum(1 for f in found if f.startswith("timeout-")),
        "ooms": sum(1 for f in found if f.startswith("oom-")),
        "exit": proc.returncode,
        "artifacts": found,
        "first_error": _first_error(log),
    }


def _first_error(log: str) -> str:
    for line in log.splitlines():
        if "Error" in line and ("Uncaught" in line or "AssertionError" in line or "==" in line):
            return line.strip()[:200]
    return ""


def _write_doc(rows: list[dict[str, object]], seconds: int) -> Path:
    doc = ROOT / "docs" / "fuzzing.md"
    lines = [
        "# Fuzzing",
        "",
        "Written by `python bench/fuzz_long.py` (atheris "
        f"{_atheris_version()}, coverage-guided, libFuzzer); the bounded CI run is `tests/fuzz/test_fuzz.py` "
        "(hypothesis, the same targets and promises). Inputs start from benign seeds the project writes itself.",
        "",
        f"Run: {dt.datetime.now(dt.UTC).strftime('%Y-%m-%d %H:%M UTC')}, {seconds} s per target, "
        f"per-input timeout {PER_INPUT_TIMEOUT_S} s, RSS limit {RSS_LIMIT_MB} MB, Python "
        f"{platform.python_version()}, {platform.machine()}.",
        "",
        "| target | seconds | inputs run | coverage (edges) | corpus | crashes | hangs | out of memory |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['target']} | {r['seconds']} | {r['execs']:,} | {r['coverage']:,} | {r['corpus']:,} | "
            f"{r['crashes']} | {r['timeouts']} | {r['ooms']} |"
        )
    lines.append("")
    for r in rows:
        if r["artifacts"]:
            lines.append(f"- {r['target']}: {', '.join(map(str, r['artifacts']))} — {r['first_error']}")
    kept = ""
    if doc.exists():  # the hand-written findings below the marker survive a new run
        old = doc.read_text(encoding="utf-8")
        kept = old[old.index(FINDINGS_MARKER) :] if FINDINGS_MARKER in old else ""
    doc.write_text("\n".join(lines) + "\n" + ("\n" + kept if kept else ""), encoding="utf-8")
    return doc


def _atheris_version() -> str:
    from importlib.metadata import version

    return version("atheris")


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        _child(sys.argv[2], Path(sys.argv[3]), Path(sys.argv[4]), int(sys.argv[5]))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds-per-target", type=int, default=300)
    parser.add_argument("--targets", default=",".join(TARGETS))
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "fuzz-out")
    parser.add_argument("--no-doc", action="store_true", help="Do not rewrite docs/fuzzing.md.")
    args = parser.parse_args()
    os.environ.setdefault("PYTHONHASHSEED", "0")
    rows = [_run_target(t, args.out, args.seconds_per_target) for t in args.targets.split(",")]
    for r in rows:
        print(
            f"{r['target']}: {r['execs']:,} inputs, coverage {r['coverage']}, crashes {r['crashes']}, "
            f"hangs {r['timeouts']}, ooms {r['ooms']} {r['first_error']}"
        )
    if not args.no_doc:
        print(f"wrote {_write_doc(rows, args.seconds_per_target)}")


if __name__ == "__main__":
    main()
