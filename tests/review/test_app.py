"""The review app over HTTP (Starlette's TestClient): auth, CSRF, roles, media, categorisation, audit."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from cairn.matching.formats.base import ReadOptions
from cairn.report.export import write_json
from cairn.review.app import SESSION_COOKIE, ReviewState, create_app, decode_cursor, encode_cursor
from cairn.review.auth import Sessions, Throttle
from cairn.store import CaseStore
from cairn.store import review as review_mod
from cairn.store.users import add_user

from .conftest import PASSWORD, ReviewCase, csrf_of, login


def actions(store: CaseStore) -> list[str]:
    return [e["action"] for e in store.audit_entries()]


def picture_ids(store: CaseStore) -> list[dict[str, Any]]:
    rows, _ = review_mod.grid_page(store, review_mod.GridFilters(), None, review_mod.MAX_PAGE, "vic-us")
    return rows


def first_picture(store: CaseStore) -> dict[str, Any]:
    return next(r for r in picture_ids(store) if r["has_thumbnail"])


def test_without_a_session_pages_redirect_and_media_and_api_answer_401(
    client: TestClient, review_case: ReviewCase
) -> None:
    file_id = first_picture(review_case.store)["file_id"]
    for page in ("/", "/grid", "/case", "/admin/users", "/grid?match=known"):
        r = client.get(page)
        assert r.status_code == 303 and r.headers["location"] == "/login", page
    for url in (f"/media/{file_id}/thumb", f"/api/files/{file_id}/history", "/api/exposure"):
        assert client.get(url).status_code == 401, url
    for url in (f"/api/files/{file_id}/reveal", f"/api/files/{file_id}/category", "/admin/users"):
        assert client.post(url, headers={"X-CSRF-Token": "x"}).status_code in (401, 422), url
    assert client.post("/logout").headers["location"] == "/login"  # nothing to end
    assert client.post(f"/api/files/{file_id}/reveal").status_code == 401
    client.cookies.set(SESSION_COOKIE, "forged-session-token", domain="testserver.local")
    assert client.get(f"/media/{file_id}/thumb").status_code == 401
    assert client.get("/grid").status_code == 303
    assert "user.login" not in actions(review_case.store)


def test_login_ok_and_bad_are_audited_with_security_headers(client: TestClient, review_case: ReviewCase) -> None:
    assert login(client, "rita", "wrong password!") == 401
    assert login(client, "nobody", PASSWORD) == 401
    assert SESSION_COOKIE not in client.cookies
    page = client.get("/login")
    assert page.headers["cache-control"] == "no-store"
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert "httponly" in page.headers["set-cookie"].lower() and "samesite=strict" in page.headers["set-cookie"].lower()
    client.get("/login")
    token = client.cookies.get("cairn_login")
    r = client.post("/login", data={"name": "rita", "password": PASSWORD, "csrf": token or ""})
    assert r.status_code == 303 and r.headers["location"] == "/grid"
    cookie = r.headers["set-cookie"].lower()
    assert cookie.startswith(SESSION_COOKIE) and "httponly" in cookie and "samesite=strict" in cookie
    assert client.get("/grid").status_code == 200
    assert client.get("/login").headers["location"] == "/grid"  # logged in already
    entries = review_case.store.audit_entries()
    assert [e["action"] for e in entries[-3:]] == ["user.login_failed", "user.login_failed", "user.login"]
    assert entries[-1]["actor"] == "rita" and entries[-1]["details"]["role"] == "reviewer"
    assert PASSWORD not in "".join(e["details_json"] for e in entries)
    assert review_case.store.audit_verify() == []


def test_login_without_its_csrf_token_is_refused(client: TestClient, review_case: ReviewCase) -> None:
    client.get("/login")
    r = client.post("/login", data={"name": "rita", "password": PASSWORD, "csrf": "guessed"})
    assert r.status_code == 403 and SESSION_COOKIE not in client.cookies and "please log in again" in r.text
    assert client.post("/login", data={"name": "rita", "password": PASSWORD}).status_code == 403


def test_login_throttling(review_case: ReviewCase) -> None:
    now = [1000.0]
    state = ReviewState(review_case.store, throttle=Throttle(limit=3, window=60.0, clock=lambda: now[0]))
    with TestClient(create_app(state), follow_redirects=False) as client:
        for _ in range(3):
            assert login(client, "rita", "not the password") == 401
        assert login(client, "rita", PASSWORD) == 429  # even the right password, while throttled
        assert login(client, "ivan", PASSWORD) == 429  # the same client address
        assert SESSION_COOKIE not in client.cookies
        now[0] += 61
        assert login(client, "rita", PASSWORD) == 303
    assert actions(review_case.store).count("user.login_failed") == 3
    assert review_case.store.audit_verify() == []


def test_session_expiry_and_fixation(review_case: ReviewCase) -> None:
    now = [0.0]
    state = ReviewState(review_case.store, sessions=Sessions(idle=60.0, lifetime=600.0, clock=lambda: now[0]))
    with TestClient(create_app(state), follow_redirects=False) as client:
        client.cookies.set(SESSION_COOKIE, "attacker-chosen", domain="testserver.local")
        assert login(client, "rita") == 303
        token = client.cookies.get(SESSION_COOKIE)
        assert token and token != "attacker-chosen" and len(token) >= 40
        now[0] += 59
        assert client.get("/grid").status_code == 200
        now[0] += 61  # idle too long
        assert client.get("/grid").status_code == 303
        assert login(client, "rita") == 303
        assert client.cookies.get(SESSION_COOKIE) != token  # a new session id at every login


def test_logout(client: TestClient, review_case: ReviewCase) -> None:
    file_id = first_picture(review_case.store)["file_id"]
    assert login(client, "rita") == 303
    csrf = csrf_of(client)
    assert client.post("/logout").status_code == 403  # no token
    assert client.post("/logout", data={"csrf": "wrong"}).status_code == 403
    assert client.get(f"/media/{file_id}/thumb").status_code == 200
    token = client.cookies.get(SESSION_COOKIE)
    r = client.post("/logout", data={"csrf": csrf})
    assert r.status_code == 303 and r.headers["location"] == "/login"
    # a kept cookie is worth nothing after logout
    client.cookies.set(SESSION_COOKIE, token or "", domain="testserver.local")
    assert client.get(f"/media/{file_id}/thumb").status_code == 401
    assert client.get("/grid").status_code == 303
    assert actions(review_case.store)[-1] == "user.logout"


def _grey_levels(data: bytes) -> np.ndarray[Any, Any]:
    with Image.open(io.BytesIO(data)) as im:
        rgb = np.asarray(im.convert("RGB")).astype(int)
    return rgb


def _sharpness(grey: np.ndarray[Any, Any]) -> float:
    return float(np.abs(np.diff(grey, axis=0)).mean() + np.abs(np.diff(grey, axis=1)).mean())


def test_thumbnails_are_blurred_greyscale_and_reveal_is_audited(client: TestClient, review_case: ReviewCase) -> None:
    store = review_case.store
    rows = [r for r in picture_ids(store) if r["has_thumbnail"]]
    assert login(client, "rita") == 303
    blurred = 0
    for row in rows[:8]:
        r = client.get(f"/media/{row['file_id']}/thumb")
        assert r.status_code == 200 and r.headers["content-type"] == "image/png"
        with Image.open(io.BytesIO(r.content)) as shown:
            assert shown.mode == "L"
        stored = store.thumbnail(row["sha256"])
        assert stored is not None and r.content != stored
        rgb = _grey_levels(r.content)
        assert (rgb[..., 0] == rgb[..., 1]).all() and (rgb[..., 1] == rgb[..., 2]).all()  # greyscale
        original = _grey_levels(stored).mean(axis=2)
        if _sharpness(original) > 2:  # a flat picture has nothing to blur
            assert _sharpness(rgb[..., 0]) < 0.5 * _sharpness(original)
            blurred += 1
    assert blurred >= 3
    before = len(store.audit_entries())
    target = rows[0]
    csrf = csrf_of(client)
    assert client.post(f"/api/files/{target['file_id']}/reveal").status_code == 403
    assert client.post(f"/api/files/{target['file_id']}/reveal", headers={"X-CSRF-Token": "nope"}).status_code == 403
    assert len(store.audit_entries()) == before
    r = client.post(f"/api/files/{target['file_id']}/reveal", headers={"X-CSRF-Token": csrf})
    assert r.status_code == 200 and r.content == store.thumbnail(target["sha256"])
    last = store.audit_entries()[-1]
    assert last["action"] == "media.revealed" and last["actor"] == "rita"
    assert last["details"]["file_id"] == target["file_id"] and last["details"]["path"] == target["path"]
    assert review_mod.exposure(store)[2] == {
        "name": "rita", "role": "reviewer", "revealed": 1, "revealed_files": 1, "categorised": 0,
        "categorised_files": 0,
    }
    assert store.audit_verify() == []


def test_categorise_records_history_and_audits(client: TestClient, review_case: ReviewCase) -> None:
    store = review_case.store
    file_id = first_picture(store)["file_id"]
    assert login(client, "rita") == 303
    csrf = csrf_of(client)
    url = f"/api/files/{file_id}/category"
    assert client.post(url, json={"value": "1"}).status_code == 403
    assert client.post(url, json={"value": "1"}, headers={"X-CSRF-Token": csrf + "x"}).status_code == 403
    assert "file.categorised" not in actions(store)
    h = {"X-CSRF-Token": csrf}
    r = client.post(url, json={"value": "0"}, headers=h)
    assert r.status_code == 200
    assert r.json() == {"file_id": file_id, "category": {"scheme": "vic-us", "value": 0, "label": "Non-Pertinent"},
                        "previous": None, "changed": True}
    assert client.post(url, json={"value": 3}, headers=h).json()["previous"]["value"] == 0
    assert client.post(url, json={"value": "3"}, headers=h).json()["changed"] is False  # no change, no record
    assert client.post(url, json={"value": "9"}, headers=h).status_code == 400
    assert client.post(url, json={"value": ["1"]}, headers=h).status_code == 400
    assert client.post(url, content=b"not json", headers=h).status_code == 400
    assert client.post(url, json={"value": None}, headers=h).json()["category"] is None
    history = client.get(f"/api/files/{file_id}/history").json()
    assert [(x["user"], x["previous"] and x["previous"]["value"], x["category"] and x["category"]["value"])
            for x in history] == [("rita", None, 0), ("rita", 0, 3), ("rita", 3, None)]
    entries = [e for e in store.audit_entries() if e["action"] == "file.categorised"]
    assert len(entries) == 3 and entries[1]["details"]["category"]["label"] == "CGI/Animation"
    page = client.get("/grid?category=none")
    assert page.status_code == 200
    listed, _ = review_mod.grid_page(store, review_mod.GridFilters(category="3"), None, 50, "vic-us")
    assert listed == []
    client.post(url, json={"value": 1}, headers=h)
    listed, _ = review_mod.grid_page(store, review_mod.GridFilters(category="1"), None, 50, "vic-us")
    assert [x["file_id"] for x in listed] == [file_id]
    assert review_mod.exposure(store)[2]["categorised"] == 4
    case_page = client.get("/case")
    assert case_page.status_code == 200 and "file.categorised" in case_page.text and "rita" in case_page.text
    assert "<th>everyone</th><th></th><th>0</th><th></th><th>4</th>" in case_page.text
    out = io.StringIO()  # `cairn files --format json` carries the current category
    write_json(store.iter_file_rows(with_matches=True, with_provenance=True), out)
    rows = {r["path"]: r for r in json.loads(out.getvalue())}
    categorised = [r for r in rows.values() if r["category"] is not None]
    assert len(categorised) == 1 and categorised[0]["category"]["value"] == 1
    assert categorised[0]["category"]["by"] == "rita" and categorised[0]["category"]["scheme"] == "vic-us"
    assert store.audit_verify() == []


def test_roles(client: TestClient, review_case: ReviewCase) -> None:
    store = review_case.store
    file_id = first_picture(store)["file_id"]
    assert login(client, "rita") == 303
    csrf = csrf_of(client)
    refused = client.get("/admin/users")
    assert refused.status_code == 403 and "only an admin manages users" in refused.text
    assert refused.headers["content-type"].startswith("text/html")
    r = client.post("/admin/users", data={"name": "eve", "role": "admin", "password": PASSWORD, "csrf": csrf})
    assert r.status_code == 403
    assert "eve" not in {u["name"] for u in review_mod.exposure(store)}
    client.post("/logout", data={"csrf": csrf})
    assert login(client, "ada") == 303
    csrf = csrf_of(client)
    assert client.get("/admin/users").status_code == 200
    no_token = {"name": "eve", "role": "reviewer", "password": PASSWORD}
    assert client.post("/admin/users", data=no_token).status_code == 403
    r = client.post("/admin/users", data={"name": "eve", "role": "reviewer", "password": PASSWORD, "csrf": csrf})
    assert r.status_code == 200 and "eve" in r.text
    assert store.audit_entries()[-1]["action"] == "user.added" and store.audit_entries()[-1]["actor"] == "ada"
    # an admin account manages accounts; it does not look at media
    assert client.post(f"/api/files/{file_id}/reveal", headers={"X-CSRF-Token": csrf}).status_code == 403
    assert client.post(f"/api/files/{file_id}/category", json={"value": 1},
                       headers={"X-CSRF-Token": csrf}).status_code == 403
    assert store.audit_verify() == []


def test_a_file_of_another_case_is_refused(
    client: TestClient, review_case: ReviewCase, tmp_path: Path, demo_evidence: Any
) -> None:
    from cairn.pipeline.scan import scan
    from cairn.settings import ScanSettings

    evidence, _ = demo_evidence
    other_evidence = tmp_path / "other-evidence"
    other_evidence.mkdir()
    Image.new("RGB", (64, 48), (200, 40, 40)).save(other_evidence / "red-bicycle.png")
    url = f"sqlite:///{review_case.case_dir / 'case.db'}"
    with CaseStore.open(tmp_path / "other-case", url) as other:
        scan(other_evidence, other, ScanSettings(workers=1), actor="tester", show_progress=False)
        other_id = next(iter(review_mod.grid_page(other, review_mod.GridFilters(), None, 5, "vic-us")[0]))["file_id"]
        other_before = other.audit_entries()
    assert other_id not in {r["file_id"] for r in picture_ids(review_case.store)}
    before = review_case.store.audit_entries()
    assert login(client, "rita") == 303
    csrf = csrf_of(client)
    h = {"X-CSRF-Token": csrf}
    assert client.get(f"/media/{other_id}/thumb").status_code == 404
    assert client.post(f"/api/files/{other_id}/reveal", headers=h).status_code == 404
    assert client.post(f"/api/files/{other_id}/category", json={"value": 1}, headers=h).status_code == 404
    assert client.get(f"/api/files/{other_id}/history").status_code == 404
    assert client.get("/media/999999999/thumb").status_code == 404
    after = review_case.store.audit_entries()
    assert [e["action"] for e in after[len(before):]] == ["user.login"]
    with CaseStore.open(tmp_path / "other-case", url) as other:
        assert other.audit_entries() == other_before
    assert review_mod.exposure(review_case.store)[2]["revealed"] == 0


@pytest.mark.parametrize(
    ("query", "status"),
    [
        ("match=' OR 1=1 --", 400),
        ("ai=generated' OR '1'='1", 400),
        ("type=x' OR '1'='1", 200),
        ("type=PNG); DROP TABLE files; --", 200),
        ("category=1 OR 1=1", 200),
        ("category=../../etc/passwd", 200),
        ("after=' OR 1=1 --", 400),
        ("after=WzEsICJ4Il0", 200),  # a well-formed cursor: [1, "x"]
        ("after=" + "A" * 5000, 400),
        ("type=" + "x" * 300, 400),
    ],
)
def test_injection_in_filters_is_harmless(client: TestClient, review_case: ReviewCase, query: str, status: int) -> None:
    store = review_case.store
    assert login(client, "rita") == 303
    before = (len(store.audit_entries()), len(picture_ids(store)))
    r = client.get("/grid?" + query)
    assert r.status_code == status
    if status == 200 and "after" not in query:
        assert 'class="tile"' not in r.text  # nothing matches a hostile value; it is never SQL
    assert (len(store.audit_entries()), len(picture_ids(store))) == before
    assert client.get("/media/1%20OR%201=1/thumb").status_code == 422
    assert client.get("/media/..%2F..%2Fcase.db/thumb").status_code in (404, 422)
    assert store.audit_verify() == []


def test_keyset_pages_cover_every_picture_once(review_case: ReviewCase) -> None:
    store = review_case.store
    expected = [(r["path"]) for r in store.iter_file_rows() if r["width"] is not None]
    seen: list[str] = []
    after = None
    while True:
        rows, after = review_mod.grid_page(store, review_mod.GridFilters(), after, 7, "vic-us")
        seen.extend(r["path"] for r in rows)
        token = encode_cursor(after)
        assert decode_cursor(token) == after
        if after is None:
            break
    assert seen == expected and len(seen) > 14


def test_filters_select_what_they_say(review_case: ReviewCase, tmp_path: Path) -> None:
    store = review_case.store
    everything = {r["file_id"]: r for r in picture_ids(store)}
    rows = {r["path"]: r for r in store.iter_file_rows(with_provenance=True) if r["width"] is not None}
    generated = {p for p, r in rows.items() if r["provenance"]["generation_records"]}
    ai, _ = review_mod.grid_page(store, review_mod.GridFilters(ai="generated"), None, 500, "vic-us")
    none, _ = review_mod.grid_page(store, review_mod.GridFilters(ai="none"), None, 500, "vic-us")
    assert {r["path"] for r in ai} == generated and generated
    assert len(ai) + len(none) == len(everything)
    png, _ = review_mod.grid_page(store, review_mod.GridFilters(type="png"), None, 500, "vic-us")
    assert png and all(r["type"] == "png" for r in png)
    assert {r["path"] for r in png} == {p for p, r in rows.items() if r["type"] == "png"}
    # no match run yet: nothing is known, everything unknown
    assert review_mod.grid_page(store, review_mod.GridFilters(match="known"), None, 500, "vic-us")[0] == []
    assert len(review_mod.grid_page(store, review_mod.GridFilters(match="unknown"), None, 500, "vic-us")[0]) == len(
        everything
    )
    listed = next(iter(everything.values()))
    hashes = tmp_path / "known.txt"
    hashes.write_text(listed["sha256"] + "\n")
    store.import_hash_set(hashes, actor="lead", format_name="list", options=ReadOptions(ignorable=False))
    store.run_match(actor="lead")
    known, _ = review_mod.grid_page(store, review_mod.GridFilters(match="known"), None, 500, "vic-us")
    same = {i for i, r in everything.items() if r["sha256"] == listed["sha256"]}
    assert {r["file_id"] for r in known} == same
    unknown, _ = review_mod.grid_page(store, review_mod.GridFilters(match="unknown"), None, 500, "vic-us")
    assert len(unknown) == len(everything) - len(same)
    assert review_mod.grid_page(store, review_mod.GridFilters(match="ignorable"), None, 500, "vic-us")[0] == []
    with pytest.raises(review_mod.ReviewInputError):
        review_mod.grid_page(store, review_mod.GridFilters(match="all"), None, 10, "vic-us")
    with pytest.raises(review_mod.ReviewInputError):
        review_mod.grid_page(store, review_mod.GridFilters(), None, 0, "vic-us")


def test_grid_page_shows_blurred_tiles_and_the_scheme_keys(client: TestClient, review_case: ReviewCase) -> None:
    assert login(client, "ivan") == 303
    page = client.get("/grid")
    assert page.status_code == 200
    assert page.text.count('class="tile"') == min(60, len(picture_ids(review_case.store)))
    assert "Non-Pertinent" in page.text and 'src="/static/review.js"' in page.text
    assert "<script>" not in page.text  # no inline script: the CSP allows none
    assert client.get("/static/review.js").status_code == 200


def test_added_users_can_log_in_through_the_app(client: TestClient, review_case: ReviewCase) -> None:
    add_user(review_case.store, "zoe", "reviewer", PASSWORD, "lead")
    assert login(client, "zoe") == 303


def test_a_group_is_categorised_with_one_request(client: TestClient, review_case: ReviewCase) -> None:
    store = review_case.store
    rows = picture_ids(store)
    grouped = next(r for r in rows if r["group_size"] >= 2)
    members = {r["file_id"] for r in rows if r["group"] == grouped["group"]}
    assert login(client, "ivan") == 303
    h = {"X-CSRF-Token": csrf_of(client)}
    url = f"/api/files/{grouped['file_id']}/category"
    assert client.post(url, json={"value": 4, "scope": "everything"}, headers=h).status_code == 400
    r = client.post(url, json={"value": 4, "scope": "group"}, headers=h)
    assert r.status_code == 200
    body = r.json()
    assert body["group"] == grouped["group"] and body["files"] == body["changed"] == len(members)
    assert {x["file_id"] for x in body["results"]} == members
    page = client.get(f"/grid?group={grouped['group']}")
    assert page.status_code == 200 and page.text.count('class="tile"') == len(members)
    assert page.text.count('<span class="category">4 Comparison images</span>') == len(members)
    assert client.get("/grid?group=-1").status_code == 422
    assert client.get("/grid?group=x' OR 1=1").status_code == 422
    logged = [e for e in store.audit_entries() if e["action"] == "file.categorised"]
    assert len(logged) == len(members) and all(e["details"]["bulk"]["group"] == grouped["group"] for e in logged)
    assert review_mod.exposure(store)[1]["categorised"] == len(members)  # ivan, with no reveal at all
    assert review_mod.exposure(store)[1]["revealed"] == 0
    assert store.audit_verify() == []


# -- the file detail page ------------------------------------------------------------------------


def _file_id(store: CaseStore, suffix: str) -> int:
    """The id of the case's one file whose logical path ends with ``suffix``."""
    from sqlalchemy import select

    from cairn.store.schema import files

    with store._engine.connect() as conn:
        rows = conn.execute(select(files.c.id, files.c.path).where(files.c.case_id == store.case_id)).all()
    ids = [int(i) for i, path in rows if str(path).endswith(suffix)]
    assert len(ids) == 1, (suffix, ids)
    return ids[0]


def test_the_detail_page_of_a_picture_shows_its_facts_and_is_audited(
    client: TestClient, review_case: ReviewCase
) -> None:
    store = review_case.store
    grouped = next(r for r in picture_ids(store) if r["group_size"] >= 2 and r["has_thumbnail"])
    file_id = grouped["file_id"]
    assert client.get(f"/files/{file_id}").headers["location"] == "/login"  # no session: nothing shown
    assert "file.viewed" not in actions(store)
    assert login(client, "rita") == 303
    h = {"X-CSRF-Token": csrf_of(client)}
    client.post(f"/api/files/{file_id}/category", json={"value": 4}, headers=h)
    page = client.get(f"/files/{file_id}")
    assert page.status_code == 200
    row = next(r for r in store.iter_file_rows(with_matches=True) if r["path"] == grouped["path"])
    for kind in ("md5", "sha1", "sha256", "pdq"):
        assert f"<td>{kind}</td><td><code class=\"hash\">{row[kind]}</code></td>" in page.text
    assert f"<td>{row['pdq_quality']}</td>" in page.text
    assert row["mime"] in page.text and row["evidence"] in page.text and f"{row['size']:,} bytes" in page.text
    # the thumbnail is the blurred one; the original only comes through the audited reveal
    assert f'<img src="/media/{file_id}/thumb" alt="blurred thumbnail"' in page.text and 'id="reveal"' in page.text
    # the category history and the group's members, each linked to its own page
    assert "uncategorised → 4 Comparison images" in page.text
    members = [r for r in picture_ids(store) if r["group"] == grouped["group"]]
    for m in members:
        if m["file_id"] != file_id:
            assert f'<a href="/files/{m["file_id"]}">{m["path"]}</a>' in page.text
    # audited as a metadata view: no media, no exposure
    last = store.audit_entries()[-1]
    assert last["action"] == "file.viewed" and last["actor"] == "rita"
    assert last["details"] == {"file_id": file_id, "path": grouped["path"], "sha256": grouped["sha256"],
                               "media": False, "user_id": last["details"]["user_id"], "via": "cairn serve"}
    assert review_mod.exposure(store)[2]["revealed"] == 0
    # the file's audit history: this view and the categorisation, newest first
    audit = page.text[page.text.index('id="file-audit"'):]
    assert audit.index("file.viewed") < audit.index("file.categorised")
    assert store.audit_verify() == []


def test_the_detail_page_of_another_cases_file_is_404_and_not_audited(
    client: TestClient, review_case: ReviewCase, tmp_path: Path
) -> None:
    from cairn.pipeline.scan import scan
    from cairn.settings import ScanSettings

    other_evidence = tmp_path / "other-evidence"
    other_evidence.mkdir()
    Image.new("RGB", (64, 48), (30, 40, 200)).save(other_evidence / "blue-beach.png")
    url = f"sqlite:///{review_case.case_dir / 'case.db'}"
    with CaseStore.open(tmp_path / "other-case", url) as other:
        scan(other_evidence, other, ScanSettings(workers=1), actor="tester", show_progress=False)
        other_id = review_mod.grid_page(other, review_mod.GridFilters(), None, 5, "vic-us")[0][0]["file_id"]
    assert login(client, "rita") == 303
    before = review_case.store.audit_entries()
    for url in (f"/files/{other_id}", "/files/999999999"):
        r = client.get(url)
        assert r.status_code == 404 and "no such file in this case" in r.text and "blue-beach" not in r.text
    assert client.get("/files/0").status_code == 422
    assert client.get("/files/1%20OR%201=1").status_code == 422
    assert review_case.store.audit_entries() == before


def test_the_detail_page_of_a_model_file_shows_its_kind_and_dangerous_pickle_imports(
    client: TestClient, review_case: ReviewCase
) -> None:
    store = review_case.store
    file_id = _file_id(store, "/v1-5-pruned-emaonly.ckpt")
    assert login(client, "ivan") == 303
    page = client.get(f"/files/{file_id}")
    assert page.status_code == 200
    text = page.text
    assert '<dd id="model-kind">checkpoint' in text and "<dd>pickle</dd>" in text and "<dd>sd1</dd>" in text
    dangerous = text[text.index('<table id="dangerous">'):text.index("</table>", text.index('<table id="dangerous">'))]
    assert "<code>builtins.print</code>" in dangerous and "a red bicycle on a beach" in dangerous
    assert "collections.OrderedDict" not in dangerous  # allowed imports are no danger
    for kind in ("autov1", "autov2", "blake3", "crc32"):
        assert f"<td>{kind}</td>" in text
    assert "no thumbnail" in text and 'id="reveal"' not in text
    assert "In no near-duplicate group of the latest" in text  # grouped, but not this file
    assert store.audit_entries()[-1]["details"]["file_id"] == file_id


def test_the_detail_page_of_a_lora_shows_its_training_tags(client: TestClient, review_case: ReviewCase) -> None:
    file_id = _file_id(review_case.store, "/Lora/beachStyle_v2.safetensors")
    assert login(client, "rita") == 303
    text = client.get(f"/files/{file_id}").text
    training = text[text.index('<dl class="facts" id="training">'):]
    assert "<li>bicycle <span class=\"meta\">14</span></li>" in training
    assert training.index("bicycle") < training.index("sand")  # most frequent first
    assert "<td>autov3</td>" in text and "<td>tensor_sha256</td>" in text and "matches the tensors" in text
    named = text[text.index('<table id="named-by">'):]
    named = named[:named.index("</table>")]
    a1111 = _file_id(review_case.store, "Pictures/AI/a1111_bicycle.png")
    assert f'<a href="/files/{a1111}">Users/alex/Pictures/AI/a1111_bicycle.png</a>' in named
    assert named.count("<td>by autov3</td>") == named.count('<tr class="link-hash">') >= 6


def test_the_detail_page_shows_exif_and_the_container_chain(client: TestClient, review_case: ReviewCase) -> None:
    store = review_case.store
    assert login(client, "rita") == 303
    rows = {r["path"]: r for r in store.iter_file_rows()}
    text = client.get(f"/files/{_file_id(store, 'DCIM/100CAMERA/IMG_0002.JPG')}").text
    exif = text[text.index('<dl class="facts" id="exif">'):]
    assert "<dt>Make</dt><dd>Cairn Optics</dd>" in exif and "<dt>Orientation</dt><dd>6</dd>" in exif
    inner = "Backups/2021/archive.tar.gz!/nested/inner.zip"
    member = next(p for p in rows if p.startswith(inner + "!/"))
    text = client.get(f"/files/{_file_id(store, member)}").text
    outer_id, inner_id = _file_id(store, "Backups/2021/archive.tar.gz"), _file_id(store, inner)
    chain = text[text.index('<dd class="path">'):text.index("</dd>", text.index('<dd class="path">'))]
    assert chain.startswith(
        f'<dd class="path"><a href="/files/{outer_id}">Backups/2021/archive.tar.gz</a><span class="sep">!/</span>'
        f'<a href="/files/{inner_id}">nested/inner.zip</a><span class="sep">!/</span><span>'
    )
    assert chain.count('<span class="sep">') == member.count("!/")


def test_an_a1111_picture_links_its_lora_by_autov3(client: TestClient, review_case: ReviewCase) -> None:
    store = review_case.store
    rows = {r["path"]: r for r in store.iter_file_rows(with_provenance=True)}
    path = next(
        p for p, r in rows.items()
        if any(g.get("tool") == "A1111" for g in r["provenance"]["generation_records"])
        and any(link["hash_kind"] == "autov3" for link in r["provenance"]["model_links"])
    )
    lora = _file_id(store, "/Lora/beachStyle_v2.safetensors")
    file_id = _file_id(store, path)
    assert login(client, "rita") == 303
    text = client.get(f"/files/{file_id}").text
    links = text[text.index('<table id="model-links">'):]
    row = next(r for r in links.split("<tr") if f'href="/files/{lora}"' in r)
    assert "<td>lora</td>" in row and "<td>by autov3</td>" in row and "beachStyle_v2" in row
    assert "A1111" in text and "a red bicycle on a beach" in text


def test_a_prompt_with_markup_is_shown_as_text(client: TestClient, review_case: ReviewCase, tmp_path: Path) -> None:
    from PIL import PngImagePlugin

    from cairn.pipeline.scan import scan
    from cairn.settings import ScanSettings

    evidence = tmp_path / "markup-evidence"
    evidence.mkdir()
    prompt = 'a red bicycle on a beach <script>alert("beach")</script> <b onmouseover="x()">sand</b>'
    info = PngImagePlugin.PngInfo()
    info.add_text(
        "parameters",
        f"{prompt}\nNegative prompt: <img src=x onerror=alert(1)>\n"
        "Steps: 20, Sampler: Euler a, CFG scale: 7, Seed: 42, Size: 64x48, Model hash: 0123abcdef, Model: beachModel",
    )
    Image.new("RGB", (64, 48), (200, 180, 90)).save(evidence / "markup.png", pnginfo=info)
    scan(evidence, review_case.store, ScanSettings(workers=1), actor="tester", show_progress=False)
    file_id = _file_id(review_case.store, "markup.png")
    assert login(client, "rita") == 303
    page = client.get(f"/files/{file_id}")
    assert page.status_code == 200
    text = page.text
    assert "<script>alert" not in text and "<b onmouseover" not in text and "<img src=x" not in text
    assert "&lt;script&gt;alert(&#34;beach&#34;)&lt;/script&gt;" in text
    assert '<dd class="prompt">a red bicycle on a beach &lt;script&gt;' in text
    assert '<dd class="prompt negative">&lt;img src=x onerror=alert(1)&gt;</dd>' in text
    assert text.count("<script") == 1 and '<script src="/static/review.js"></script>' in text  # only our own


def test_every_file_of_the_demo_case_has_a_detail_page(client: TestClient, review_case: ReviewCase) -> None:
    from sqlalchemy import select

    from cairn.store.schema import files

    store = review_case.store
    with store._engine.connect() as conn:
        ids = [int(i) for i in conn.execute(select(files.c.id).where(files.c.case_id == store.case_id)).scalars()]
    assert login(client, "ivan") == 303
    before = len(store.audit_entries())
    refused = [(i, r.status_code) for i in ids if (r := client.get(f"/files/{i}")).status_code != 200]
    assert refused == [] and len(ids) > 100
    viewed = store.audit_entries()[before:]
    assert [e["details"]["file_id"] for e in viewed] == ids and {e["action"] for e in viewed} == {"file.viewed"}
    assert store.audit_verify() == []


def test_the_detail_page_shows_the_latest_match_runs_hits(
    client: TestClient, review_case: ReviewCase, tmp_path: Path
) -> None:
    store = review_case.store
    target = first_picture(store)
    row = next(r for r in store.iter_file_rows() if r["path"] == target["path"])
    flipped = f"{int(row['pdq'][0], 16) ^ 0x3:x}{row['pdq'][1:]}"  # two bits off: a near match at distance 2
    listed = tmp_path / "beach-reference.csv"
    listed.write_text(f"sha256,category,series\n{row['sha256']},4,beach series\n")
    near = tmp_path / "near.csv"
    near.write_text(f"pdq,category\n{flipped},0\n")
    store.import_hash_set(listed, actor="lead", format_name="csv", options=ReadOptions(scheme="vic-us"))
    store.import_hash_set(near, actor="lead", format_name="csv", options=ReadOptions(scheme="vic-us"))
    assert login(client, "rita") == 303
    assert "No match run yet" in client.get(f"/files/{target['file_id']}").text
    run = store.run_match(actor="lead")
    text = client.get(f"/files/{target['file_id']}").text
    table = text[text.index('<table id="matches">'):]
    table = table[:table.index("</table>")]
    assert ("<tr><td>beach-reference</td><td>sha256</td><td>0</td><td>vic-us 4 Comparison images</td>"
            "<td>beach series</td><td></td></tr>") in table
    assert "<tr><td>near</td><td>pdq</td><td>2</td><td>vic-us 0 Non-Pertinent</td>" in table
    unmatched = next(r["path"] for r in store.iter_file_rows(with_matches=True) if not r["matches"])
    text = client.get(f"/files/{_file_id(store, unmatched)}").text
    assert f"No hit in the latest match run ({run['match_run_id']})" in text


def test_file_times_are_shown_in_utc_and_odd_ones_as_they_are() -> None:
    from cairn.review.app import pretty, when

    assert when(1637368370.0) == "2021-11-20T00:32:50+00:00"
    assert when(None) == "" and when(1e20) == "1e+20" and when(float("nan")) == "nan" and when(True) == "True"
    assert pretty({"b": "<b>", "a": 1}) == '{\n "a": 1,\n "b": "<b>"\n}'  # plain text: the template escapes it


def test_an_admin_sees_the_detail_page_blurred_without_reveal_or_keys(
    client: TestClient, review_case: ReviewCase
) -> None:
    file_id = first_picture(review_case.store)["file_id"]
    assert login(client, "ada") == 303
    text = client.get(f"/files/{file_id}").text
    assert 'alt="blurred thumbnail"' in text and 'data-can-review="no"' in text
    assert 'id="reveal"' not in text and "<kbd data-value=" not in text
    assert review_case.store.audit_entries()[-1]["action"] == "file.viewed"


# -- bulk categorisation of a selection ------------------------------------------------------------


def test_a_selection_is_categorised_with_one_request(client: TestClient, review_case: ReviewCase) -> None:
    store = review_case.store
    rows = picture_ids(store)
    chosen = [r["file_id"] for r in rows[:3]]
    assert login(client, "rita") == 303
    h = {"X-CSRF-Token": csrf_of(client)}
    before = len(store.audit_entries())
    assert client.post("/api/categorise", json={"file_ids": chosen, "value": 3}).status_code == 403  # no CSRF
    for bad in ({"file_ids": [], "value": 3}, {"file_ids": chosen + chosen[:1], "value": 3},
                {"file_ids": ["1"], "value": 3}, {"file_ids": chosen, "value": 9}, {"file_ids": chosen},
                {"file_ids": [True], "value": 3}, {"file_ids": list(range(1, 600)), "value": 3}):
        assert client.post("/api/categorise", json=bad, headers=h).status_code == 400, bad
    assert client.post("/api/categorise", json={"file_ids": [*chosen, 2**40], "value": 3}, headers=h).status_code == 404
    assert len(store.audit_entries()) == before  # nothing written by a refused request
    r = client.post("/api/categorise", json={"file_ids": chosen, "value": 3}, headers=h)
    assert r.status_code == 200
    body = r.json()
    assert body["files"] == body["changed"] == 3 and [x["file_id"] for x in body["results"]] == chosen
    logged = store.audit_entries()[before:]
    assert [e["action"] for e in logged] == ["file.categorised"] * 3
    assert [e["details"]["file_id"] for e in logged] == chosen
    assert all(e["details"]["bulk"] == {"selection": 3} and e["actor"] == "rita" for e in logged)
    for fid in chosen:
        history = client.get(f"/api/files/{fid}/history").json()
        assert [(x["user"], x["category"]["value"]) for x in history] == [("rita", 3)]
    again = client.post("/api/categorise", json={"file_ids": chosen, "value": 3}, headers=h).json()
    assert again["changed"] == 0
    rita = next(e for e in review_mod.exposure(store) if e["name"] == "rita")
    assert rita["revealed"] == 0 and rita["categorised"] == 3 and rita["categorised_files"] == 3
    client.cookies.clear()
    assert login(client, "ada") == 303  # an admin categorises nothing
    h = {"X-CSRF-Token": csrf_of(client)}
    assert client.post("/api/categorise", json={"file_ids": chosen, "value": 0}, headers=h).status_code == 403
    assert store.audit_verify() == []


# -- per-user viewing settings, passwords, disabled accounts --------------------------------------


def test_viewing_settings_change_the_thumbnails_and_are_audited(client: TestClient, review_case: ReviewCase) -> None:
    store = review_case.store
    row = max((r for r in picture_ids(store) if r["has_thumbnail"]),
              key=lambda r: _sharpness(_grey_levels(store.thumbnail(r["sha256"]) or b"").mean(axis=2)))
    stored = store.thumbnail(row["sha256"])
    assert stored is not None and _grey_levels(stored).std(axis=2).max() > 0  # a picture with colour
    assert login(client, "rita") == 303
    url = f"/media/{row['file_id']}/thumb"
    default = client.get(url).content
    csrf = csrf_of(client)
    assert client.get("/settings").status_code == 200
    before = len(store.audit_entries())
    for bad in ({"blur_radius": "0", "greyscale": "yes"}, {"blur_radius": "13"}, {"blur_radius": "x"},
                {"blur_radius": "4", "greyscale": "maybe"}):
        assert client.post("/settings", data={**bad, "csrf": csrf}).status_code in (400, 422), bad
    assert client.post("/settings", data={"blur_radius": "4"}).status_code == 403  # no CSRF
    assert len(store.audit_entries()) == before and client.get(url).content == default
    assert client.post("/settings", data={"blur_radius": "4", "csrf": csrf}).status_code == 200  # colour: unchecked
    entry = store.audit_entries()[-1]
    assert entry["action"] == "user.settings_changed" and entry["actor"] == "rita"
    assert entry["details"]["previous"] == {"blur_radius": 12, "greyscale": True}
    assert entry["details"]["settings"] == {"blur_radius": 4, "greyscale": False}
    light = client.get(url)
    with Image.open(io.BytesIO(light.content)) as shown:
        assert shown.mode == "RGB"
    rgb = _grey_levels(light.content)
    assert rgb.std(axis=2).max() > 0  # colour kept
    assert _sharpness(rgb.mean(axis=2)) > _sharpness(_grey_levels(default)[..., 0])  # less blurred
    assert _sharpness(rgb.mean(axis=2)) < _sharpness(_grey_levels(stored).mean(axis=2))  # but still blurred
    assert client.post("/settings", data={"blur_radius": "16", "greyscale": "yes", "csrf": csrf}).status_code == 200
    strong = client.get(url).content
    with Image.open(io.BytesIO(strong)) as shown:
        assert shown.mode == "L"
    assert _sharpness(_grey_levels(strong)[..., 0]) < _sharpness(_grey_levels(default)[..., 0])
    client.cookies.clear()
    assert login(client, "ivan") == 303  # another user keeps the defaults
    assert client.get(url).content == default
    client.cookies.clear()
    assert login(client, "rita") == 303  # stored: a new session has them
    assert client.get(url).content == strong
    assert store.audit_verify() == []


def test_an_admin_disables_a_user_and_their_sessions_end(review_case: ReviewCase) -> None:
    store = review_case.store
    app = create_app(review_case.state)
    with TestClient(app, follow_redirects=False) as rita, TestClient(app, follow_redirects=False) as ada:
        assert login(rita, "rita") == 303 and rita.get("/grid").status_code == 200
        assert login(ada, "ada") == 303
        csrf = csrf_of(ada)
        rita_csrf = csrf_of(rita)
        assert rita.post("/admin/users/ivan/disabled", data={"disabled": "yes", "csrf": rita_csrf}).status_code == 403
        assert ada.post("/admin/users/rita/disabled", data={"disabled": "yes"}).status_code == 403  # no CSRF
        assert ada.post("/admin/users/ada/disabled", data={"disabled": "yes", "csrf": csrf}).status_code == 400
        assert ada.post("/admin/users/nobody/disabled", data={"disabled": "yes", "csrf": csrf}).status_code == 400
        assert rita.get("/grid").status_code == 200
        r = ada.post("/admin/users/rita/disabled", data={"disabled": "yes", "csrf": csrf})
        assert r.status_code == 200 and "rita disabled" in r.text
        assert rita.get("/grid").status_code == 303  # the session ended
        rita.cookies.clear()
        assert login(rita, "rita") == 401  # and no new one
        entry = [e for e in store.audit_entries() if e["action"] == "user.disabled"]
        assert len(entry) == 1 and entry[0]["actor"] == "ada" and entry[0]["details"]["name"] == "rita"
        assert ada.post("/admin/users/rita/disabled", data={"disabled": "no", "csrf": csrf}).status_code == 200
        assert store.audit_entries()[-1]["action"] == "user.enabled"
        rita.cookies.clear()
        assert login(rita, "rita") == 303
    assert store.audit_verify() == []


def test_passwords_are_changed_by_an_admin_or_by_their_owner(review_case: ReviewCase) -> None:
    store = review_case.store
    app = create_app(review_case.state)
    new = "another benign password"
    with TestClient(app, follow_redirects=False) as ivan, TestClient(app, follow_redirects=False) as ada:
        assert login(ivan, "ivan") == 303 and login(ada, "ada") == 303
        ivan_csrf, csrf = csrf_of(ivan), csrf_of(ada)
        assert ivan.post("/admin/users/rita/password", data={"password": new, "csrf": ivan_csrf}).status_code == 403
        assert ada.post("/admin/users/rita/password", data={"password": "short", "csrf": csrf}).status_code == 400
        assert ada.post("/admin/users/ada/password", data={"password": new, "csrf": csrf}).status_code == 400
        r = ada.post("/admin/users/ivan/password", data={"password": new, "csrf": csrf})
        assert r.status_code == 200 and "Password of ivan changed" in r.text
        assert ivan.get("/grid").status_code == 303  # the reset ended ivan's session
        last = store.audit_entries()[-1]
        assert last["action"] == "user.password_changed" and last["actor"] == "ada"
        assert last["details"] == {"user_id": last["details"]["user_id"], "name": "ivan", "own": False}
        ivan.cookies.clear()
        assert login(ivan, "ivan") == 401
        ivan.cookies.clear()
        assert login(ivan, "ivan", new) == 303
        ivan_csrf = csrf_of(ivan)
        wrong = ivan.post("/settings/password", data={"old": "not my pass!", "password": PASSWORD, "csrf": ivan_csrf})
        assert wrong.status_code == 400
        assert ivan.post("/settings/password", data={"old": new, "password": PASSWORD}).status_code == 403
        ok = ivan.post("/settings/password", data={"old": new, "password": PASSWORD, "csrf": ivan_csrf})
        assert ok.status_code == 200 and ivan.get("/grid").status_code == 200
        assert store.audit_entries()[-1]["details"]["own"] is True
    joined = "".join(e["details_json"] for e in store.audit_entries())
    assert new not in joined and PASSWORD not in joined
    assert store.audit_verify() == []


# -- more filters: AI tool, model, path prefix, errors --------------------------------------------


def _refs(record: dict[str, Any]) -> set[str]:
    """The names and hashes of the models a generation record names, lowercased."""
    out: set[str] = set()
    for m in [record.get("model"), *(record.get("loras") or []), *(record.get("other_models") or [])]:
        if isinstance(m, dict):
            out |= {str(m[k]).lower() for k in ("name", "hash") if m.get(k)}
    return out


def _paths(store: CaseStore, **filters: Any) -> set[str]:
    rows, after = review_mod.grid_page(store, review_mod.GridFilters(**filters), None, 500, "vic-us")
    assert after is None
    return {r["path"] for r in rows}


def test_tool_model_path_and_error_filters(client: TestClient, review_case: ReviewCase) -> None:
    store = review_case.store
    rows = {r["path"]: r for r in store.iter_file_rows(with_provenance=True) if r["width"] is not None}
    records = {p: r["provenance"]["generation_records"] for p, r in rows.items()}
    tools = {g.get("tool") for gs in records.values() for g in gs} - {None}
    assert "A1111" in tools and len(tools) >= 2
    for tool in tools:
        expected = {p for p, gs in records.items() if any(g.get("tool") == tool for g in gs)}
        assert _paths(store, tool=tool) == expected and expected, tool
    assert _paths(store, tool="a1111") == _paths(store, tool="A1111")  # a tool's case does not matter
    assert _paths(store, tool="A111") == set()  # but the whole of it does
    lora = next(m for gs in records.values() for g in gs for m in g.get("loras") or [] if m.get("hash"))
    for needle in (lora["name"], lora["name"].upper(), lora["hash"]):
        expected = {p for p, gs in records.items() if any(needle.lower() in _refs(g) for g in gs)}
        assert _paths(store, model=needle) == expected and expected, needle
    assert _paths(store, model=lora["name"][:-1]) == set()  # a whole name or hash, not a part of one
    first = sorted(rows)[0]
    folder = first.rsplit("/", 1)[0] + "/"
    assert _paths(store, path=folder) == {p for p in rows if p.startswith(folder)}
    assert _paths(store, path="%") == set() and _paths(store, path="_") == set()  # wildcards are literal
    assert _paths(store, path=folder.upper()) == set() or folder.upper() == folder  # a prefix is exact
    failed = {p for p, r in rows.items() if r["error"]}
    assert _paths(store, errors="yes") | _paths(store, errors="no") == set(rows)
    assert failed <= _paths(store, errors="yes")
    assert not _paths(store, errors="yes") & _paths(store, errors="no")
    for bad in ({"errors": "maybe"}, {"tool": "x" * 300}, {"path": "a\x00b"}, {"path": "x" * 2000}):
        with pytest.raises(review_mod.ReviewInputError):
            review_mod.grid_page(store, review_mod.GridFilters(**bad), None, 10, "vic-us")
    assert login(client, "rita") == 303
    for query, status in (("errors=maybe", 400), ("path=%00", 400), ("tool=' OR 1=1 --", 200),
                          ("model=%25", 200), ("path=%25", 200)):
        r = client.get("/grid?" + query)
        assert r.status_code == status, query
        if status == 200:
            assert 'class="tile"' not in r.text, query
    page = client.get("/grid", params={"tool": "A1111", "path": folder})
    assert page.status_code == 200
    expected = _paths(store, tool="A1111", path=folder)
    assert page.text.count('class="tile"') == len(expected)
    assert store.audit_verify() == []


# -- the case page's Report button -----------------------------------------------------------------


def test_the_report_button_writes_into_reports_and_downloads(client: TestClient, review_case: ReviewCase) -> None:
    import hashlib

    store = review_case.store
    assert login(client, "rita") == 303
    csrf = csrf_of(client)
    assert 'action="/case/report"' not in client.get("/case").text  # a reviewer has no button
    assert client.post("/case/report", data={"csrf": csrf}).status_code == 403
    client.cookies.clear()
    assert login(client, "ivan") == 303
    csrf = csrf_of(client)
    assert 'action="/case/report"' in client.get("/case").text
    assert client.post("/case/report").status_code == 403  # no CSRF
    assert client.post("/case/report", data={"csrf": "wrong"}).status_code == 403
    assert "report.generated" not in actions(store)
    r = client.post("/case/report", data={"csrf": csrf})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert r.headers["content-disposition"].startswith("attachment;")
    sha = hashlib.sha256(r.content).hexdigest()
    assert r.headers["x-report-sha256"] == sha and b"<svg" in r.content
    written = list((review_case.case_dir / "reports").glob("report-*.html"))
    assert len(written) == 1 and written[0].read_bytes() == r.content
    entry = store.audit_entries()[-1]
    assert entry["action"] == "report.generated" and entry["actor"] == "ivan"
    assert entry["details"]["html"]["sha256"] == sha
    again = client.get(f"/reports/{sha}.html")
    assert again.status_code == 200 and again.content == r.content
    assert client.get(f"/reports/{'0' * 64}.html").status_code == 404
    assert client.get(f"/reports/{sha.upper()}.html").status_code == 422
    assert client.get("/reports/..%2Fcase.db.html").status_code in (404, 422)
    written[0].write_bytes(r.content + b"changed")
    assert client.get(f"/reports/{sha}.html").status_code == 404  # only the bytes the audit log names
    client.cookies.clear()
    assert client.get(f"/reports/{sha}.html").status_code == 303  # session required
    assert store.audit_verify() == []


# -- hash-set pre-categorisations and conflicts ----------------------------------------------------


def test_hash_set_categories_are_shown_and_conflicts_flagged(
    client: TestClient, review_case: ReviewCase, tmp_path: Path
) -> None:
    store = review_case.store
    everything = picture_ids(store)
    counts: dict[str, int] = {}
    for r in everything:
        counts[r["sha256"]] = counts.get(r["sha256"], 0) + 1
    x, y, z = [r for r in everything if r["sha256"] and counts[r["sha256"]] == 1][:3]
    first = tmp_path / "beach-reference.csv"
    first.write_text(f"sha256,category\n{x['sha256']},4\n{y['sha256']},3\n{z['sha256']},2\n")
    second = tmp_path / "second-opinion.csv"
    second.write_text(f"sha256,category\n{x['sha256']},0\n{y['sha256']},3\n")
    for listed in (first, second):
        store.import_hash_set(listed, actor="lead", format_name="csv", options=ReadOptions(scheme="vic-us"))
    assert _ids(store, conflict="yes") == set()  # no match run yet: nothing to compare
    store.run_match(actor="lead")
    assert login(client, "rita") == 303
    h = {"X-CSRF-Token": csrf_of(client)}
    assert client.post(f"/api/files/{y['file_id']}/category", json={"value": 3}, headers=h).status_code == 200
    assert client.post(f"/api/files/{z['file_id']}/category", json={"value": 1}, headers=h).status_code == 200
    rows = {r["file_id"]: r for r in picture_ids(store)}
    assert [(c["set"], c["scheme"], c["value"], c["label"]) for c in rows[x["file_id"]]["precategories"]] == [
        ("beach-reference", "vic-us", 4, "Comparison images"), ("second-opinion", "vic-us", 0, "Non-Pertinent")]
    assert rows[x["file_id"]]["conflict"]  # two sets disagree
    assert not rows[y["file_id"]]["conflict"] and len(rows[y["file_id"]]["precategories"]) == 2  # all agree
    assert rows[z["file_id"]]["conflict"]  # the reviewer's 1 against the set's 2
    assert _ids(store, conflict="yes") == {x["file_id"], z["file_id"]} == {i for i, r in rows.items() if r["conflict"]}
    assert _ids(store, conflict="no") == set(rows) - {x["file_id"], z["file_id"]}
    assert client.post(f"/api/files/{z['file_id']}/category", json={"value": 2}, headers=h).status_code == 200
    assert _ids(store, conflict="yes") == {x["file_id"]}  # the reviewer now agrees with the set
    page = client.get("/grid?conflict=yes")
    assert page.status_code == 200 and page.text.count('class="tile"') == 1
    assert '<span class="conflict warn">conflict</span>' in page.text
    assert "second-opinion: vic-us 0 Non-Pertinent" in page.text
    calm = client.get("/grid?conflict=no").text
    assert calm.count('<span class="conflict warn" hidden>') == calm.count('class="tile"') == min(len(rows) - 1, 60)
    assert client.get("/grid?conflict=maybe").status_code == 400
    detail = client.get(f"/files/{x['file_id']}").text
    assert '<span class="conflict warn" id="conflict">' in detail
    assert "hash set beach-reference: vic-us 4 Comparison images" in detail
    assert '<span class="conflict warn" id="conflict" hidden>' in client.get(f"/files/{y['file_id']}").text
    assert store.audit_verify() == []


def _ids(store: CaseStore, **filters: Any) -> set[int]:
    rows, after = review_mod.grid_page(store, review_mod.GridFilters(**filters), None, 500, "vic-us")
    assert after is None
    return {r["file_id"] for r in rows}


def test_case_totals_and_type_list_are_kept_until_a_scan_changes_the_files(
    review_case: ReviewCase, tmp_path: Path
) -> None:
    from cairn.pipeline.scan import scan
    from cairn.settings import ScanSettings

    state = review_case.state
    calls: list[int] = []

    def compute() -> int:
        calls.append(1)
        return review_case.store.counts()["files"]

    first = state.per_files_version("test", compute)
    assert state.per_files_version("test", compute) == first and len(calls) == 1  # read once, then kept
    evidence = tmp_path / "more"
    evidence.mkdir()
    (evidence / "note.txt").write_text("a red bicycle on a beach\n", encoding="utf-8")
    scan(evidence, review_case.store, ScanSettings(workers=1), actor="lead", show_progress=False)
    assert state.per_files_version("test", compute) == first + 1 and len(calls) == 2  # a scan: read again
    state.warm()  # what cairn serve does before it listens: the totals and the types are then at hand
    assert state.memo["counts"][1] == review_case.store.counts() and state.case_counts() is state.memo["counts"][1]
    assert state.memo["types"][1] == review_mod.type_labels(review_case.store) and "png" in state.picture_types()
