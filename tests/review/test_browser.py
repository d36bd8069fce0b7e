"""The review app in a real browser: Playwright driving Debian's chromium (never Playwright's own download)
against the real server (uvicorn on a free loopback port) over a copy of the scanned demo case.

Skips with the install hint when chromium or the playwright package is missing. Screenshots of each screen are
kept under ``tmp/test-artifacts/review/`` (or ``$CAIRN_TEST_ARTIFACTS/review/``).
"""

from __future__ import annotations

import hashlib
import io
import os
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from PIL import Image

from cairn.matching.formats.base import ReadOptions
from cairn.review.app import create_app

from .conftest import PASSWORD, ReviewCase

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run",
]
HINT = "install Debian's browser and the Python package: `apt-get install chromium` and `pip install playwright` " \
       "(never `playwright install`: the tests drive /usr/bin/chromium)"


def _chromium_ok(path: str = CHROMIUM) -> bool:
    """True when ``path --version`` says it is Chromium."""
    try:
        out = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return False
    return "Chromium" in out.stdout


def _artefacts() -> Path:
    root = os.environ.get("CAIRN_TEST_ARTIFACTS")
    base = Path(root) if root else Path(__file__).resolve().parents[2] / "tmp" / "test-artifacts"
    out = base / "review"
    out.mkdir(parents=True, exist_ok=True)
    return out


@pytest.fixture
def browser() -> Iterator[Any]:
    sync_api = pytest.importorskip("playwright.sync_api", reason=f"no playwright package: {HINT}")
    if not _chromium_ok():
        pytest.skip(f"no Debian chromium at {CHROMIUM}: {HINT}")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def server(review_case: ReviewCase) -> Iterator[str]:
    """The real app on uvicorn in a thread, on a free loopback port; yields its base URL."""
    import uvicorn

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = uvicorn.Config(
        create_app(review_case.state, allowed_hosts=["127.0.0.1", "localhost"]),
        host="127.0.0.1", port=port, log_level="warning",
    )
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not srv.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the review server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        srv.should_exit = True
        thread.join(timeout=30)


def _pixels_grey(page: Any, selector: str) -> dict[str, Any]:
    """Draw the image at ``selector`` on a canvas: its size and whether every pixel is grey."""
    return dict(page.eval_on_selector(selector, """img => {
        const c = document.createElement('canvas');
        c.width = img.naturalWidth; c.height = img.naturalHeight;
        const ctx = c.getContext('2d');
        ctx.drawImage(img, 0, 0);
        const d = ctx.getImageData(0, 0, c.width, c.height).data;
        let grey = true, coloured = 0;
        for (let i = 0; i < d.length; i += 4) {
            if (d[i] !== d[i + 1] || d[i + 1] !== d[i + 2]) { grey = false; coloured++; }
        }
        return {width: c.width, height: c.height, grey: grey, coloured: coloured};
    }"""))


def test_review_in_a_real_browser(browser: Any, server: str, review_case: ReviewCase) -> None:
    store = review_case.store
    shots = _artefacts()
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(20_000)

    page.goto(server + "/grid")
    assert page.url == server + "/login"  # no session: sent to the login page
    page.screenshot(path=str(shots / "login.png"))
    page.fill("input[name=name]", "rita")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(server + "/grid")
    page.wait_for_selector(".tile.selected img")
    page.wait_for_function("Array.from(document.querySelectorAll('.tile img')).every(i => i.complete)")

    # every thumbnail the grid shows is grey; the bytes behind them are one-channel blurred pictures
    tiles = page.query_selector_all(".tile img")
    assert len(tiles) >= 10
    for i in range(min(len(tiles), 12)):
        found = _pixels_grey(page, f".tile:nth-child({i + 1}) img")
        assert found["width"] > 0 and found["grey"], found
    first = page.get_attribute(".tile.selected", "data-id")
    thumb = page.get_attribute(".tile.selected", "data-thumb")
    fetched = context.request.get(server + thumb)
    assert fetched.status == 200
    with Image.open(io.BytesIO(fetched.body())) as im:
        assert im.mode == "L"
    page.screenshot(path=str(shots / "grid-blurred.png"))

    # reveal the selected picture: an audited POST; the tile shows the unblurred thumbnail
    page.keyboard.press("Space")
    page.wait_for_selector(".tile.selected.revealed")
    assert page.get_attribute(".tile.selected img", "src").startswith("blob:")
    page.wait_for_function("document.querySelector('.tile.selected img').complete")
    revealed = store.audit_entries()[-1]
    assert revealed["action"] == "media.revealed" and revealed["details"]["file_id"] == int(first)
    sha = revealed["details"]["sha256"]
    stored = store.thumbnail(sha)
    assert stored is not None
    with Image.open(io.BytesIO(stored)) as im:
        colourful = im.mode != "L" and any(len(set(px[:3])) > 1 for px in im.convert("RGB").getdata())
    if colourful:
        assert _pixels_grey(page, ".tile.selected img")["coloured"] > 0
    page.screenshot(path=str(shots / "grid-revealed.png"))

    # moving on blurs it again
    page.keyboard.press("ArrowRight")
    page.wait_for_selector(f".tile[data-id='{first}']:not(.revealed)")
    assert page.get_attribute(f".tile[data-id='{first}'] img", "src") == thumb
    assert page.get_attribute(".tile.selected", "data-id") != first

    # categorise the selected picture with a key (vic-us 0: Non-Pertinent)
    second = page.get_attribute(".tile.selected", "data-id")
    page.keyboard.press("0")
    page.wait_for_selector(".tile.selected .category:has-text('Non-Pertinent')")
    categorised = store.audit_entries()[-1]
    assert categorised["action"] == "file.categorised" and categorised["details"]["file_id"] == int(second)
    assert categorised["details"]["category"] == {"scheme": "vic-us", "value": 0, "label": "Non-Pertinent"}
    page.keyboard.press("h")
    page.wait_for_selector("#history li:has-text('uncategorised → 0 Non-Pertinent')")
    assert "rita" in page.inner_text("#history")
    page.screenshot(path=str(shots / "grid-categorised.png"))

    # Enter opens the selected picture's detail page: audited as a metadata view, its thumbnail blurred and grey
    page.keyboard.press("Enter")
    page.wait_for_url(f"{server}/files/{second}")
    page.wait_for_selector("#file-audit")
    page.wait_for_function("document.querySelector('.detail-thumb img').complete")
    assert _pixels_grey(page, ".detail-thumb img")["grey"]
    viewed = store.audit_entries()[-1]
    assert viewed["action"] == "file.viewed" and viewed["details"]["file_id"] == int(second)
    assert "uncategorised → 0 Non-Pertinent" in page.inner_text("#category-history")
    assert "file.viewed" in page.inner_text("#file-audit") and "md5" in page.inner_text("#hashes")
    page.screenshot(path=str(shots / "detail.png"), full_page=True)
    page.keyboard.press("Space")  # the same audited reveal as in the grid
    page.wait_for_selector(".detail-thumb.revealed")
    assert page.get_attribute(".detail-thumb img", "src").startswith("blob:")
    shown = store.audit_entries()[-1]
    assert shown["action"] == "media.revealed" and shown["details"]["file_id"] == int(second)
    page.keyboard.press("Space")
    page.wait_for_selector(".detail-thumb:not(.revealed)")
    page.keyboard.press("3")  # the scheme's keys work here too
    page.wait_for_selector("#current-category:has-text('3 CGI/Animation')")
    assert "0 Non-Pertinent → 3 CGI/Animation" in page.inner_text("#category-history")
    changed = store.audit_entries()[-1]
    assert changed["action"] == "file.categorised" and changed["details"]["category"]["value"] == 3
    page.go_back()
    page.wait_for_selector(".tile.selected img")

    # a whole near-duplicate group at once: open it from a tile's group link, Shift+4 (Comparison images)
    link = page.query_selector(".tile a.group")
    assert link is not None
    group_url = link.get_attribute("href")
    page.goto(server + group_url)
    page.wait_for_selector(".tile.selected")
    members = len(page.query_selector_all(".tile"))
    assert members >= 2
    page.keyboard.press("Shift+Digit4")
    deadline = time.monotonic() + 20
    while set(page.locator(".tile .category").all_inner_texts()) != {"4 Comparison images"}:
        assert time.monotonic() < deadline, page.locator(".tile .category").all_inner_texts()
        page.wait_for_timeout(100)
    bulk = [e for e in store.audit_entries() if e["details"].get("bulk")]
    assert len(bulk) == members and {e["details"]["bulk"]["group"] for e in bulk} == {int(group_url.split("=")[1])}
    page.screenshot(path=str(shots / "group-categorised.png"))

    # several pictures marked (Shift+arrows, Ctrl+click), one key sets them all with one request; `a` marks the page
    page.goto(server + "/grid")
    page.wait_for_selector(".tile.selected img")
    page.keyboard.press("Shift+ArrowRight")
    page.keyboard.press("Shift+ArrowRight")
    page.click(".tile:nth-child(5) img", modifiers=["Control"])
    marked = page.eval_on_selector_all(".tile.marked", "ts => ts.map(t => t.dataset.id)")
    assert len(marked) == 4
    seen = len(store.audit_entries())
    with page.expect_response(lambda r: r.url.endswith("/api/categorise")) as answer:
        page.keyboard.press("2")
    assert answer.value.status == 200
    page.wait_for_function("Array.from(document.querySelectorAll('.tile.marked .category'))"
                           ".every(c => c.textContent.startsWith('2 '))")
    selection = store.audit_entries()[seen:]
    assert sorted(e["details"]["file_id"] for e in selection) == sorted(int(i) for i in marked)
    assert all(e["details"]["bulk"] == {"selection": 4} for e in selection)
    page.screenshot(path=str(shots / "grid-marked.png"))
    page.keyboard.press("Escape")
    assert page.query_selector(".tile.marked") is None
    page.keyboard.press("a")
    assert len(page.query_selector_all(".tile.marked")) == len(page.query_selector_all(".tile"))
    page.keyboard.press("Escape")
    selected_extra = len(selection)

    # the case page: exposure and the audit entries
    page.click("a[href='/case']")
    page.wait_for_selector("#exposure")
    row = page.inner_text("#exposure tbody tr:has-text('rita')")
    categorised = 2 + members + selected_extra  # grid, detail page, each member of the group, the marked ones
    assert row.split("\t")[1:4] == ["reviewer", "2", "2"]  # two reveals (grid, detail page), of two pictures
    assert int(row.split("\t")[4]) >= members
    audit = page.inner_text("#audit")
    assert "media.revealed" in audit and "file.categorised" in audit and "user.login" in audit
    page.screenshot(path=str(shots / "case.png"), full_page=True)

    # an AI picture's detail page, opened by a click on its name: its record, prompt as text, the models it names
    ai_file = next(
        r["path"] for r in store.iter_file_rows(with_provenance=True)
        if any(g.get("tool") == "A1111" for g in r["provenance"]["generation_records"])
        and any(link["hash_kind"] == "autov3" for link in r["provenance"]["model_links"])
    )
    page.goto(server + "/grid?ai=generated")
    page.wait_for_selector(".tile.selected img")
    page.click(f".tile a.name[title='{ai_file}']")
    page.wait_for_selector("#model-links")
    assert "by autov3" in page.inner_text("#model-links") and "beachStyle_v2" in page.inner_text("#model-links")
    assert "a red bicycle on a beach" in page.inner_text(".record .prompt")
    page.screenshot(path=str(shots / "detail-ai.png"), full_page=True)

    # the user's own settings: a lighter blur in colour, applied by the server to the grid's thumbnails
    page.click("a[href='/settings']")
    page.select_option("select[name=blur_radius]", "4")
    page.uncheck("input[name=greyscale]")
    page.click("#view-settings button[type=submit]")
    page.wait_for_selector(".message:has-text('Settings saved')")
    saved = store.audit_entries()[-1]
    assert saved["action"] == "user.settings_changed" and saved["details"]["settings"] == {
        "blur_radius": 4, "greyscale": False}
    with Image.open(io.BytesIO(context.request.get(server + thumb).body())) as im:
        assert im.mode == "RGB"
    page.screenshot(path=str(shots / "settings.png"), full_page=True)
    page.select_option("select[name=blur_radius]", "12")
    page.check("input[name=greyscale]")
    page.click("#view-settings button[type=submit]")
    page.wait_for_selector(".message:has-text('Settings saved')")
    with Image.open(io.BytesIO(context.request.get(server + thumb).body())) as im:
        assert im.mode == "L"

    # log out: the media URL is refused afterwards
    page.click("#logout")
    page.wait_for_url(server + "/login")
    assert context.request.get(server + thumb).status == 401
    page.goto(server + "/grid")
    assert page.url == server + "/login"
    acts = [e["action"] for e in store.audit_entries()]
    assert acts[-1] == "user.logout" and "media.revealed" in acts and acts.count("file.categorised") == categorised

    # an admin manages users and sees the grid blurred only: Space reveals nothing
    page.fill("input[name=name]", "ada")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(server + "/grid")
    page.wait_for_selector(".tile.selected img")
    page.keyboard.press("Space")
    page.keyboard.press("0")
    page.wait_for_timeout(300)
    assert page.query_selector(".tile.revealed") is None
    assert [e["action"] for e in store.audit_entries()][-1] == "user.login"
    page.click("a[href='/admin/users']")
    page.wait_for_selector("form[action='/admin/users']")
    assert "rita" in page.inner_text("table") and "reviewer" in page.inner_text("table")
    page.screenshot(path=str(shots / "users.png"), full_page=True)
    page.click("tr[data-name='ivan'] button:has-text('Disable')")
    page.wait_for_selector("tr[data-name='ivan'] td.state:has-text('disabled')")
    assert [e["action"] for e in store.audit_entries()][-1] == "user.disabled"
    page.click("a[href='/case']")
    with page.expect_download() as made:
        page.click("#report button[type=submit]")
    report = Path(made.value.path()).read_bytes()
    generated = store.audit_entries()[-1]
    assert generated["action"] == "report.generated" and generated["actor"] == "ada"
    assert generated["details"]["html"]["sha256"] == hashlib.sha256(report).hexdigest() and b"<svg" in report
    assert Path(generated["details"]["html"]["path"]).parent == (review_case.case_dir / "reports").resolve()

    # hash sets that disagree about a picture: both categories on its tile, flagged, found by the conflict filter
    pictures = [r for r in store.iter_file_rows() if r["width"] is not None and r["sha256"]]
    disputed = pictures[0]
    single = next(r for r in pictures if r["sha256"] != disputed["sha256"])
    for name, value in (("beach-reference", 4), ("second-opinion", 0)):
        listed = review_case.case_dir.parent / f"{name}.csv"
        extra = f"{single['sha256']},4\n" if value == 4 else ""
        listed.write_text(f"sha256,category\n{disputed['sha256']},{value}\n{extra}")
        store.import_hash_set(listed, actor="lead", format_name="csv", options=ReadOptions(scheme="vic-us"))
    store.run_match(actor="lead")
    page.goto(server + "/grid")
    page.select_option("select[name=conflict]", "yes")
    page.fill("input[name=path]", disputed["path"].rsplit("/", 1)[0] + "/")
    page.click("form.filters button[type=submit]")
    page.wait_for_selector(".tile .conflict:not([hidden])")
    assert len(page.query_selector_all(".tile .conflict[hidden]")) == 0
    assert "second-opinion: vic-us 0 Non-Pertinent" in page.inner_text(f".tile:has(a[title='{disputed['path']}'])")
    assert "conflict=yes" in page.url
    page.screenshot(path=str(shots / "grid-conflicts.png"))

    # a reviewer's key that disagrees with the one set listing a picture flags it at once; agreeing clears it
    page.click("#logout")
    page.fill("input[name=name]", "rita")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(server + "/grid")
    page.goto(server + "/grid?" + urlencode({"path": single["path"]}))
    tile = f".tile:has(a[title='{single['path']}'])"
    page.click(f"{tile} .meta")
    page.keyboard.press("0")
    page.wait_for_selector(f"{tile} .conflict:not([hidden])")
    page.keyboard.press("4")
    page.wait_for_selector(f"{tile} .conflict[hidden]", state="attached")
    assert "4 Comparison images" in page.inner_text(f"{tile} .category")
    page.keyboard.press("Enter")  # the detail page shows the set's category and follows a key there too
    page.wait_for_selector("#precategories .precategory")
    assert "hash set beach-reference: vic-us 4" in page.inner_text("#precategories")
    assert page.get_attribute("#conflict", "hidden") is not None
    page.keyboard.press("1")
    page.wait_for_selector("#conflict:not([hidden])")
    page.screenshot(path=str(shots / "detail-conflict.png"))
    context.close()

    assert store.audit_verify() == []
    assert all(
        (shots / n).stat().st_size > 1000 for n in ("login.png", "grid-blurred.png", "grid-revealed.png", "case.png",
                                                     "users.png", "detail.png", "detail-ai.png")
    )


def test_chromium_is_recognised_by_its_version_line() -> None:
    assert _chromium_ok("/nonexistent/chromium") is False
    assert _chromium_ok("/bin/echo") is False  # answers, but is no Chromium
