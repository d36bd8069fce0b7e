"""`cairn report` on a copy of the scanned demo case, enriched with a second evidence holding hostile names and
markup in a generation record, hash sets (one known-harmless), a match run, a groups run, a term list, a reviewer
who revealed and categorised: every section, counts equal to the store's, no media unless asked, nothing external,
everything escaped, byte-identical twice, audited, and a PDF through chromium."""

from __future__ import annotations

import base64
import hashlib
import io
import re
import shutil
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

import pytest
from PIL import Image, PngImagePlugin
from sqlalchemy import select
from typer.testing import CliRunner

from cairn.cli.main import app
from cairn.matching.formats.base import ReadOptions
from cairn.pipeline.scan import scan
from cairn.report import pdf as pdf_mod
from cairn.settings import ScanSettings
from cairn.store import CaseStore
from cairn.store import review as review_store
from cairn.store import users as users_mod
from cairn.store.db import read_connection
from cairn.store.schema import files
from tests.conftest import ScannedDemo

HOSTILE_DIR = "<b>bold folder"  # no "/": it is a file name
HOSTILE_NAME = "<script>alert(1).png"
HOSTILE_MODEL = "<img src=x onerror=alert(2)>model"
HOSTILE_SET = "<i>set</i>"
PROMPT = "<script>alert(3)</script> a red bicycle on a beach"
SECTIONS = ("case", "counts", "types", "known", "groups", "provenance", "models", "terms", "review", "timeline",
            "pictures")


@dataclass(frozen=True)
class ReportCase:
    case_dir: Path
    work: Path
    hostile_root: Path


def _hostile_evidence(root: Path) -> Path:
    """A folder with one benign drawn picture whose name, folder and A1111 record carry markup."""
    folder = root / HOSTILE_DIR
    folder.mkdir(parents=True)
    info = PngImagePlugin.PngInfo()
    info.add_text(
        "parameters",
        f"{PROMPT}\nNegative prompt: blurry\nSteps: 20, Sampler: Euler a, CFG scale: 7, Seed: 1, Size: 64x64, "
        f"Model hash: 0123456789, Model: {HOSTILE_MODEL}",
    )
    picture = Image.new("RGB", (64, 64), (200, 30, 30))
    for x in range(0, 64, 8):
        for y in range(0, 64, 8):
            if (x + y) % 16 == 0:
                picture.paste((20, 20, 200), (x, y, x + 8, y + 8))
    picture.save(folder / HOSTILE_NAME, pnginfo=info)
    return root


def _file_id(store: CaseStore, name_part: str) -> int:
    with read_connection(store._engine) as conn:
        ids = [int(i) for i in conn.execute(
            select(files.c.id).where(files.c.case_id == store.case_id, files.c.path.contains(name_part))
            .order_by(files.c.path)
        ).scalars()]
    return ids[0]


@pytest.fixture(scope="module")
def report_case(scanned_demo: ScannedDemo, tmp_path_factory: pytest.TempPathFactory) -> ReportCase:
    work = tmp_path_factory.mktemp("report")
    case_dir = work / "case"
    shutil.copytree(scanned_demo.case_dir, case_dir)
    hostile = _hostile_evidence(work / "hostile-evidence")
    with CaseStore.open(case_dir) as store:
        scan(hostile, store, ScanSettings(workers=1), actor="tester", show_progress=False)
        rows = {Path(r["path"]).name: r for r in store.iter_file_rows() if "!" not in r["path"]}
        known = work / "known.csv"
        known.write_text(
            "sha256,category\n"
            f"{rows['tiny.png']['sha256']},2\n{rows['sticker.png']['sha256']},4\n{rows[HOSTILE_NAME]['sha256']},\n",
            encoding="utf-8",
        )
        store.import_hash_set(known, actor="tester", name=HOSTILE_SET, format_name="csv",
                              options=ReadOptions(scheme="vic-us"))
        harmless = work / "harmless.txt"
        harmless.write_text(f"{rows['palette.png']['sha256']}\n", encoding="utf-8")
        store.import_hash_set(harmless, actor="tester", name="harmless", format_name="list",
                              options=ReadOptions(ignorable=True))
        store.run_match(actor="tester")
        store.run_groups(actor="tester")
        terms = work / "terms.txt"
        terms.write_text("bicycle\nbeach\n", encoding="utf-8")
        store.import_terms(terms, actor="tester", name="my-terms")
        users_mod.add_user(store, "rita", "reviewer", "benign test password", "tester")
        rita = users_mod.get_user(store, 1)
        assert rita is not None
        review_store.categorise(store, _file_id(store, "Downloads/tiny.png"), "vic-us", "0", rita)
        review_store.reveal(store, _file_id(store, "Downloads/tiny.png"), rita)
    return ReportCase(case_dir, work, hostile)


@pytest.fixture
def store(report_case: ReportCase) -> Iterator[CaseStore]:
    with CaseStore.open(report_case.case_dir) as opened:
        yield opened


def make(report_case: ReportCase, name: str, *extra: str) -> tuple[str, str]:
    """Run `cairn report` into ``name``; return its HTML and the command's output."""
    out = report_case.work / name
    result = CliRunner().invoke(
        app, ["report", "--case", str(report_case.case_dir), "--out", str(out), "--actor", "tester", *extra]
    )
    assert result.exit_code == 0, result.output
    return out.read_text(encoding="utf-8"), result.output


def cell(html: str, element_id: str) -> str:
    found = re.search(rf'id="{element_id}">([^<]*)<', html)
    assert found is not None, element_id
    return found.group(1)


def test_every_section_and_the_stores_numbers(report_case: ReportCase, store: CaseStore) -> None:
    html, _ = make(report_case, "sections.html")
    for section in SECTIONS:
        assert f'<h2 id="{section}">' in html
    counts = store.counts()
    for key in ("files", "bytes", "images", "containers", "errors"):
        assert cell(html, f"count-{key}") == f"{counts[key]:,}"
    status: Counter[str] = Counter()
    for row in store.iter_file_rows(with_matches=True):
        hits = row["matches"]
        status["known" if any(not h["ignorable"] for h in hits) else "ignorable" if hits else "unknown"] += 1
    assert status["known"] >= 3 and status["ignorable"] >= 1
    for key in ("known", "ignorable", "unknown"):
        assert cell(html, f"status-{key}") == str(status[key])
    summary = store.provenance_summary()
    assert cell(html, "prov-images") == str(summary["images_with_records"])
    for tool in summary["by_tool"]:
        assert f"<td>{tool['tool']}</td>" in html
    # evidence, digests sealed by the scans, runs with their tool version and settings, the audit status
    for entry in store.audit_entries():
        if entry["action"] == "scan.finished":
            assert entry["details"]["details"]["evidence_digest"] in html
            assert entry["details"]["details"]["rows_digest"] in html
    for ev in store.evidence_list():
        assert str(ev["root"]).replace("<", "&lt;").replace(">", "&gt;") in html
    assert html.count("tool version</td>") == len(store.runs())
    assert "setting limits.max_archive_depth" in html and '<span class="ok">intact</span>' in html
    # hash sets by name and source SHA-256, categories with their scheme
    for hash_set in store.hash_sets():
        assert hash_set["source_sha256"] in html
    assert "<td>vic-us</td><td>2</td>" in html and "<td>vic-us</td><td>4</td>" in html
    assert "uncategorised" in html
    # model files, the dangerous pickle, term hits with the terms, review exposure and categories
    assert "Users/alex/AI/stable-diffusion-webui/models/Lora/beachStyle_v2.safetensors" in html
    assert "builtins.print" in html
    assert 'id="contains-terms"' in html and "<td>my-terms</td><td>bicycle</td>" in html
    assert re.search(r"<td>rita</td><td>reviewer</td><td class=\"n\">1</td>", html)
    assert "Non-Pertinent" in html
    # the timeline: a histogram with the demo's dates
    timeline = html[html.index('<h2 id="timeline">'):html.index('<h2 id="pictures">')]
    assert "<svg" in timeline and "<rect" in timeline and "2021-06" in timeline


def test_no_media_unless_asked(report_case: ReportCase) -> None:
    plain, _ = make(report_case, "plain.html")
    assert "<img" not in plain and "data:" not in plain.replace("img-src data:", "")
    assert 'id="no-media"' in plain and 'id="contains-media"' not in plain

    with_media, _ = make(report_case, "media.html", "--with-thumbnails")
    assert 'id="contains-media"' in with_media
    uris = re.findall(r'<img\s+src="data:image/png;base64,([A-Za-z0-9+/=]+)"', with_media)
    assert len(uris) >= 20  # the AI samples and the known pictures
    with Image.open(io.BytesIO(base64.b64decode(uris[0]))) as thumb:
        assert thumb.mode == "L" and max(thumb.size) <= 256  # blurred greyscale, never the colour original


class _Tags(HTMLParser):
    """Every start tag of a document with its attributes, as a browser's tokenizer sees them."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []
        self.feed(html)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))


def test_nothing_external_and_no_script(report_case: ReportCase) -> None:
    html, _ = make(report_case, "external.html", "--with-thumbnails")
    tags = _Tags(html).tags
    names = {tag for tag, _ in tags}
    assert names <= {"html", "head", "meta", "title", "style", "body", "h1", "h2", "h3", "p", "a", "span", "code",
                     "strong", "table", "tr", "th", "td", "ul", "li", "div", "img", "svg", "text", "rect", "line"}
    links = [(tag, k, v) for tag, attrs in tags for k, v in attrs if k in ("src", "href", "xlink:href", "action")]
    assert links and all(v is not None and (v.startswith("#") or v.startswith("data:image/png;base64,"))
                         for _, _, v in links)
    assert {t for t, k, _ in links if k == "src"} == {"img"}
    assert "url(" not in html and "@import" not in html
    assert "Content-Security-Policy" in html and "default-src 'none'" in html


def test_hostile_names_and_records_are_escaped(report_case: ReportCase) -> None:
    html, _ = make(report_case, "escaped.html", "--with-thumbnails")
    for raw in (HOSTILE_NAME, HOSTILE_DIR, HOSTILE_MODEL, HOSTILE_SET):
        assert raw not in html
    assert "&lt;script&gt;alert(1).png" in html  # the picture of note's path
    assert "&lt;b&gt;bold folder" in html  # the picture's folder
    assert "&lt;img src=x onerror=alert(2)&gt;model" in html  # the model named by the record
    assert "&lt;i&gt;set&lt;/i&gt;" in html  # the hash set
    assert {tag for tag, _ in _Tags(html).tags}.isdisjoint({"script", "b", "i"})
    assert not [a for _, attrs in _Tags(html).tags for a, _ in attrs if a.startswith("on")]


def test_same_case_same_bytes_and_audited(report_case: ReportCase, store: CaseStore) -> None:
    first, _ = make(report_case, "one.html")
    second, output = make(report_case, "two.html")
    assert first == second
    assert (report_case.work / "one.html").read_bytes() == (report_case.work / "two.html").read_bytes()
    digest = hashlib.sha256((report_case.work / "two.html").read_bytes()).hexdigest()
    assert digest in output
    entries = store.audit_entries()
    last = entries[-1]
    assert last["action"] == "report.generated" and last["actor"] == "tester"
    assert last["details"]["html"]["sha256"] == digest
    assert last["details"]["html"]["path"] == str((report_case.work / "two.html").resolve())
    assert last["details"]["options"] == {"with_thumbnails": False, "pdf": False}
    assert store.audit_verify() == []
    described = [e for e in entries if e["action"] != "report.generated"][-1]
    assert f"<strong>Generated at:</strong> {described['at']}" in first
    verify = CliRunner().invoke(app, ["audit", "verify", "--case", str(report_case.case_dir)])
    assert verify.exit_code == 0 and "intact" in verify.output


def test_refusals(report_case: ReportCase, tmp_path: Path) -> None:
    runner = CliRunner()
    missing = runner.invoke(app, ["report", "--case", str(tmp_path / "nothing"), "--out", str(tmp_path / "r.html")])
    assert missing.exit_code == 2 and "No case" in missing.output
    assert not (tmp_path / "nothing").exists() and not (tmp_path / "r.html").exists()
    inside = report_case.hostile_root / "r.html"
    refused = runner.invoke(app, ["report", "--case", str(report_case.case_dir), "--out", str(inside)])
    assert refused.exit_code == 2 and "inside the evidence" in refused.output and not inside.exists()
    folder = runner.invoke(app, ["report", "--case", str(report_case.case_dir), "--out", str(tmp_path)])
    assert folder.exit_code == 2 and "is a folder" in folder.output
    (tmp_path / "a-file").write_text("not a folder", encoding="utf-8")
    target = tmp_path / "a-file" / "r.html"  # its parent is a file: no write can succeed, even as root
    denied = runner.invoke(app, ["report", "--case", str(report_case.case_dir), "--out", str(target)])
    assert denied.exit_code == 2 and "Cannot write the report" in denied.output


def test_pdf_without_chromium_says_how_to_install(
    report_case: ReportCase, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pdf_mod, "CHROMIUM", str(tmp_path / "no-chromium"))
    with CaseStore.open(report_case.case_dir, read_only=True) as reader:
        before = len(reader.audit_entries())
    result = CliRunner().invoke(
        app, ["report", "--case", str(report_case.case_dir), "--out", str(tmp_path / "r.html"),
              "--pdf", str(tmp_path / "r.pdf")],
    )
    assert result.exit_code == 2 and "apt-get install chromium" in result.output
    assert not (tmp_path / "r.pdf").exists()
    with CaseStore.open(report_case.case_dir, read_only=True) as reader:
        assert len(reader.audit_entries()) == before


def test_chromium_is_recognised_by_its_version_line() -> None:
    assert pdf_mod.chromium_version("/nonexistent/chromium") is None
    assert pdf_mod.chromium_version("/bin/echo") is None  # answers, but is no Chromium


def test_pdf_printed_by_chromium(report_case: ReportCase, store: CaseStore) -> None:
    if pdf_mod.chromium_version() is None:
        pytest.skip(f"no Chromium at {pdf_mod.CHROMIUM}: {pdf_mod.INSTALL_HINT}")
    pdf = report_case.work / "report.pdf"
    _, output = make(report_case, "for-pdf.html", "--pdf", str(pdf))
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF-") and len(data) > 10_000
    last = store.audit_entries()[-1]
    assert last["details"]["pdf"]["sha256"] == hashlib.sha256(data).hexdigest()
    assert last["details"]["options"] == {"with_thumbnails": False, "pdf": True}
    assert not list(report_case.work.glob(".*.part"))


def test_both_backends(db_url: str | None, tmp_path: Path) -> None:
    """The report's own queries (codes per file, the reviewers' latest categories) on SQLite and PostgreSQL."""
    evidence = _hostile_evidence(tmp_path / "evidence")
    (evidence / "notes.txt").write_text("a red bicycle on a beach\n", encoding="utf-8")
    case_dir = tmp_path / "case"
    with CaseStore.open(case_dir, db_url) as store:
        scan(evidence, store, ScanSettings(workers=1), actor="tester", show_progress=False)
        sha = next(r["sha256"] for r in store.iter_file_rows() if r["path"].endswith(".png"))
        known = tmp_path / "known.csv"
        known.write_text(f"sha256,category\n{sha},3\n", encoding="utf-8")
        store.import_hash_set(known, actor="tester", format_name="csv", options=ReadOptions(scheme="vic-us"))
        store.run_match(actor="tester")
        users_mod.add_user(store, "rita", "reviewer", "benign test password", "tester")
        rita = users_mod.get_user(store, int(users_mod.list_users(store)[0]["id"]))
        assert rita is not None
        picture = _file_id(store, ".png")
        review_store.categorise(store, picture, "vic-us", "1", rita)
        review_store.categorise(store, picture, "vic-us", "0", rita)  # the latest counts, once
        counts = store.counts()
    db = [] if db_url is None else ["--db", db_url]
    runner = CliRunner()
    pages = []
    for name in ("a.html", "b.html"):
        result = runner.invoke(app, ["report", "--case", str(case_dir), *db, "--out", str(tmp_path / name)])
        assert result.exit_code == 0, result.output
        pages.append((tmp_path / name).read_bytes())
    assert pages[0] == pages[1]
    html = pages[0].decode("utf-8")
    assert cell(html, "count-files") == f"{counts['files']:,}" and cell(html, "status-known") == "1"
    assert "<td>vic-us</td><td>3</td>" in html  # the set's category
    review = re.sub(r"\s*<", "<", html[html.index('<h2 id="review">'):html.index('<h2 id="timeline">')])
    assert ('<td>rita</td><td>reviewer</td><td class="n">0</td><td class="n">0</td><td class="n">2</td>'
            '<td class="n">1</td>') in review  # no reveal; two changes of one picture
    assert '<td>vic-us</td><td>0</td><td>Non-Pertinent</td><td class="n">1</td>' in review
    assert "Non-Pertinent" in review and "<td>vic-us</td><td>1</td>" not in review
    with CaseStore.open(case_dir, db_url, read_only=True) as reader:
        assert reader.audit_verify() == []
        assert [e["action"] for e in reader.audit_entries()][-2:] == ["report.generated", "report.generated"]
