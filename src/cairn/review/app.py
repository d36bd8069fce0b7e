"""The review web app (``cairn serve``): login, the blurred grid, reveal one item, keyboard categorisation,
the exposure figure, account management for admins.

Contract: no page or media without a session (pages redirect to ``/login``, API and media answer 401); every
POST carries the session's CSRF token (form field ``csrf`` or header ``X-CSRF-Token``); thumbnails leave the
server blurred and greyscale unless revealed one at a time by a POST that is audited; logins, logouts, reveals
and categorisations go to the case's hash-chained audit log. The app reads the case database only; it never
opens the evidence.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, cast
from urllib.parse import urlencode

from fastapi import FastAPI, Form, HTTPException, Query, Request
from fastapi import Path as PathParam
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.trustedhost import TrustedHostMiddleware

from cairn.matching.schemes import get_scheme
from cairn.model import CONTAINER_SEP
from cairn.review.auth import Session, Sessions, Throttle, new_token, tokens_equal
from cairn.review.exif import exif_summary
from cairn.review.media import BlurCache, ThumbnailUnreadable
from cairn.store import review as _review
from cairn.store import users as _users
from cairn.store.case_store import CaseStore

#: Roles that may make the triage report from the app (the case page's Report button).
REPORTING_ROLES = frozenset({"admin", "investigator"})
SESSION_COOKIE = "cairn_session"
LOGIN_COOKIE = "cairn_login"
PAGE_SIZE = 60
_HERE = Path(__file__).resolve().parent
_MAX_CURSOR = 4096
FileId = Annotated[int, PathParam(ge=1, le=2**62)]

_HEADERS = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": (
        "default-src 'none'; img-src 'self' blob:; script-src 'self'; style-src 'self'; connect-src 'self'; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
}


class _LoginRedirect(Exception):
    """Raised by page routes without a session: answered with a redirect to the login page."""


@dataclass
class ReviewState:
    """What the app holds: the case store, the scheme reviewers categorise in, sessions, throttle, blur cache."""

    store: CaseStore
    scheme: str = "vic-us"
    sessions: Sessions = field(default_factory=Sessions)
    throttle: Throttle = field(default_factory=Throttle)
    blur: BlurCache = field(default_factory=BlurCache)
    memo: dict[str, tuple[Any, Any]] = field(default_factory=dict)  # name -> (files version, value)

    def per_files_version(self, name: str, compute: Callable[[], Any]) -> Any:
        """``compute()``, kept until the case's files change (a scan): the case totals and the type list read
        every file or walk an index, and every grid page and case page wants them."""
        version = _review.files_version(self.store)
        held = self.memo.get(name)
        if held is not None and held[0] == version:
            return held[1]
        value = compute()
        self.memo[name] = (version, value)
        return value

    def case_counts(self) -> dict[str, int]:
        """The case totals of the case page (:meth:`CaseStore.counts`), kept per files version."""
        return cast(dict[str, int], self.per_files_version("counts", self.store.counts))

    def picture_types(self) -> list[str]:
        """The grid's picture types (:func:`cairn.store.review.type_labels`), kept per files version."""
        return cast(list[str], self.per_files_version("types", lambda: _review.type_labels(self.store)))

    def warm(self) -> None:
        """Read the case totals and the type list now (``cairn serve`` before it listens), so the first case
        page and grid page do not wait for them."""
        self.case_counts()
        self.picture_types()


def category_keys(scheme: str) -> list[dict[str, str]]:
    """The keys that set each category of ``scheme``: the value's own character (0-5, or a CAID letter)."""
    found = get_scheme(scheme)
    return [{"key": str(v).lower(), "value": str(v), "label": label} for v, label in found.labels.items()]


def encode_cursor(cursor: _review.Cursor | None) -> str | None:
    """The grid cursor as an opaque URL-safe token."""
    if cursor is None:
        return None
    return base64.urlsafe_b64encode(json.dumps([cursor[0], cursor[1]]).encode()).decode().rstrip("=")


def decode_cursor(token: str | None) -> _review.Cursor | None:
    """The cursor of ``token``; ``ReviewInputError`` for anything :func:`encode_cursor` did not make."""
    if not token:
        return None
    if len(token) > _MAX_CURSOR:
        raise _review.ReviewInputError("page cursor too long")
    try:
        raw = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (ValueError, binascii.Error) as exc:
        raise _review.ReviewInputError("page cursor unreadable") from exc
    if (
        not isinstance(raw, list) or len(raw) != 2 or type(raw[0]) is not int or not isinstance(raw[1], str)
        or not 0 <= raw[0] <= 2**62
    ):
        raise _review.ReviewInputError("page cursor unreadable")
    return raw[0], raw[1]


def when(seconds: object) -> str:
    """A stored file time (seconds since the epoch) as ISO 8601 UTC; anything else as its text; "" for None."""
    if seconds is None:
        return ""
    if isinstance(seconds, int | float) and not isinstance(seconds, bool) and math.isfinite(seconds):
        try:
            return datetime.fromtimestamp(seconds, tz=UTC).isoformat()
        except (OverflowError, OSError, ValueError):
            pass
    return str(seconds)


def pretty(value: object) -> str:
    """``value`` as indented JSON text (plain text: the template escapes it)."""
    return json.dumps(value, indent=1, ensure_ascii=False, sort_keys=True, default=str)


def create_app(state: ReviewState, *, allowed_hosts: list[str] | None = None) -> FastAPI:
    """The review app over ``state``; ``allowed_hosts`` (Host headers accepted) guards against DNS rebinding."""
    get_scheme(state.scheme)
    app = FastAPI(title="cairn review", docs_url=None, redoc_url=None, openapi_url=None)
    if allowed_hosts:
        app.add_middleware(TrustedHostMiddleware, allowed_hosts=allowed_hosts)
    env = Environment(
        loader=FileSystemLoader(str(_HERE / "templates")), autoescape=select_autoescape(default=True)
    )
    env.filters["when"] = when
    env.filters["pretty"] = pretty
    app.mount("/static", StaticFiles(directory=str(_HERE / "static")), name="static")
    store = state.store

    @app.middleware("http")
    async def _security_headers(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        response = await call_next(request)
        for key, value in _HEADERS.items():
            response.headers.setdefault(key, value)
        return response

    @app.exception_handler(_LoginRedirect)
    async def _to_login(_request: Request, _exc: _LoginRedirect) -> Response:
        return RedirectResponse("/login", status_code=303)

    @app.exception_handler(StarletteHTTPException)
    async def _refused(request: Request, exc: StarletteHTTPException) -> Response:
        """Pages get a page saying why; the API and media get JSON."""
        if request.method == "GET" and not request.url.path.startswith(("/api/", "/media/", "/static/")):
            return render("error.html", exc.status_code, session=session_of(request), message=str(exc.detail))
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)

    def render(name: str, status: int = 200, **context: Any) -> HTMLResponse:
        html = env.get_template(name).render(case_name=store.case_name, **context)
        return HTMLResponse(html, status_code=status)

    def session_of(request: Request) -> Session | None:
        return state.sessions.get(request.cookies.get(SESSION_COOKIE))

    def page_session(request: Request) -> Session:
        found = session_of(request)
        if found is None:
            raise _LoginRedirect()
        return found

    def api_session(request: Request) -> Session:
        found = session_of(request)
        if found is None:
            raise HTTPException(401, "log in first")
        return found

    def check_csrf(request: Request, session: Session, form_token: str | None = None) -> None:
        given = request.headers.get("x-csrf-token") or form_token
        if not tokens_equal(given, session.csrf):
            raise HTTPException(403, "missing or wrong CSRF token")

    def reviewer(session: Session) -> None:
        if session.user.role not in _users.CATEGORISING_ROLES:
            raise HTTPException(403, f"role {session.user.role} does not review media")

    def client(request: Request) -> str:
        return request.client.host if request.client is not None else "unknown"

    # -- login and logout ------------------------------------------------------------------------

    def login_form(status: int = 200, message: str | None = None) -> Response:
        """The login page with a fresh login CSRF token (in its form and a SameSite=Strict cookie)."""
        token = new_token()
        response = render("login.html", status, login_token=token, message=message)
        response.set_cookie(LOGIN_COOKIE, token, httponly=True, samesite="strict", max_age=3600)
        return response

    @app.get("/login", response_class=HTMLResponse)
    def login_page(request: Request) -> Response:
        if session_of(request) is not None:
            return RedirectResponse("/grid", status_code=303)
        return login_form()

    @app.post("/login")
    def login(
        request: Request,
        name: Annotated[str, Form(max_length=256)],
        password: Annotated[str, Form(max_length=2048)],
        csrf: Annotated[str, Form(max_length=256)] = "",
    ) -> Response:
        if not tokens_equal(csrf, request.cookies.get(LOGIN_COOKIE)):
            return login_form(403, "The login form was stale or not this server's: please log in again.")
        keys = (f"name:{name[:64]}", f"client:{client(request)}")
        wait = state.throttle.blocked(*keys)
        if wait > 0:
            return render("login.html", 429, login_token=csrf,
                          message=f"Too many failed logins: try again in {int(wait) + 1} seconds.")
        user = _users.authenticate(store, name, password)
        if user is None:
            state.throttle.failed(*keys)
            store.audit_append(
                "user.login_failed", {"name": name[:64], "client": client(request), "via": "cairn serve"},
                "cairn serve",
            )
            return render("login.html", 401, login_token=csrf, message="Wrong name or password.")
        state.throttle.succeeded(keys[0])  # the address keeps its failures: one good account resets no other
        state.sessions.end(request.cookies.get(SESSION_COOKIE))  # never keep a session id from before the login
        token, _session = state.sessions.start(user)
        store.audit_append(
            "user.login",
            {"user_id": user.id, "name": user.name, "role": user.role, "client": client(request), "via": "cairn serve"},
            user.name,
        )
        response = RedirectResponse("/grid", status_code=303)
        response.set_cookie(SESSION_COOKIE, token, httponly=True, samesite="strict", path="/")
        response.delete_cookie(LOGIN_COOKIE)
        return response

    @app.post("/logout")
    def logout(request: Request, csrf: Annotated[str, Form(max_length=256)] = "") -> Response:
        session = session_of(request)
        if session is None:  # already ended (expired, or logged out in another tab): nothing to do
            return RedirectResponse("/login", status_code=303)
        check_csrf(request, session, csrf)
        state.sessions.end(request.cookies.get(SESSION_COOKIE))
        store.audit_append(
            "user.logout", {"user_id": session.user.id, "name": session.user.name, "via": "cairn serve"},
            session.user.name,
        )
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response

    # -- pages -----------------------------------------------------------------------------------

    @app.get("/")
    def home(request: Request) -> Response:
        page_session(request)
        return RedirectResponse("/grid", status_code=303)

    @app.get("/grid", response_class=HTMLResponse)
    def grid(
        request: Request,
        match: str | None = None,
        ai: str | None = None,
        type: str | None = None,
        category: str | None = None,
        group: Annotated[int | None, Query(ge=0, le=2**31)] = None,
        tool: str | None = None,
        model: str | None = None,
        path: str | None = None,
        errors: str | None = None,
        conflict: str | None = None,
        after: str | None = None,
    ) -> Response:
        session = page_session(request)
        filters = _review.GridFilters(match or None, ai or None, type or None, category or None, group,
                                      tool or None, model or None, path or None, errors or None, conflict or None)
        try:
            rows, cursor = _review.grid_page(store, filters, decode_cursor(after), PAGE_SIZE, state.scheme)
        except _review.ReviewInputError as exc:
            return render("error.html", 400, session=session, message=str(exc))
        chosen: dict[str, Any] = {
            k: v for k, v in (("match", match), ("ai", ai), ("type", type), ("category", category), ("tool", tool),
                              ("model", model), ("path", path), ("errors", errors), ("conflict", conflict)) if v
        }
        if group is not None:
            chosen["group"] = group
        next_url = None if cursor is None else "/grid?" + urlencode({**chosen, "after": encode_cursor(cursor)})
        return render(
            "grid.html", session=session, rows=rows, next_url=next_url, filters=chosen,
            types=state.picture_types(),
            keys=category_keys(state.scheme), scheme=state.scheme,
            can_review=session.user.role in _users.CATEGORISING_ROLES,
        )

    @app.get("/files/{file_id}", response_class=HTMLResponse)
    def file_page(request: Request, file_id: FileId) -> Response:
        """The file detail page (metadata only, audited ``file.viewed``); the thumbnail is blurred until revealed."""
        session = page_session(request)
        try:
            detail = _review.view_file(store, file_id, session.user, state.scheme)
        except _review.FileNotInCase as exc:
            raise HTTPException(404, "no such file in this case") from exc
        image = detail["image"]
        return render(
            "file.html", session=session, d=detail, f=detail["file"], sep=CONTAINER_SEP,
            exif=None if image is None else exif_summary(image["exif"]), keys=category_keys(state.scheme),
            scheme=state.scheme, can_review=session.user.role in _users.CATEGORISING_ROLES,
        )

    @app.get("/case", response_class=HTMLResponse)
    def case_page(request: Request) -> Response:
        session = page_session(request)
        recent = _review.recent_audit(store, 30)
        return render(
            "case.html", session=session, exposure=_review.exposure(store),
            counts=state.case_counts(), recent=recent,
            can_report=session.user.role in REPORTING_ROLES,
        )

    def reports_folder() -> Path:
        """The case folder's ``reports/``; never a folder inside an evidence root (409)."""
        folder = Path(store.case_dir) / "reports"
        for ev in store.evidence_list():
            root = Path(str(ev["root"]))
            if root.is_dir() and folder.resolve().is_relative_to(root.resolve()):
                raise HTTPException(409, "the case folder's reports/ lies inside the evidence: no report written")
        return folder

    def report_download(data: bytes, sha: str) -> Response:
        return Response(data, media_type="text/html; charset=utf-8", headers={
            "Content-Disposition": f'attachment; filename="cairn-report-{sha[:16]}.html"',
        })

    @app.post("/case/report")
    def make_report(request: Request, csrf: Annotated[str, Form(max_length=256)] = "") -> Response:
        """Write the triage report into the case folder's ``reports/`` (audited ``report.generated`` by
        :func:`cairn.report.build.write_report`) and return it as a download."""
        from cairn.report.build import write_report

        session = api_session(request)
        check_csrf(request, session, csrf)
        if session.user.role not in REPORTING_ROLES:
            raise HTTPException(403, f"role {session.user.role} does not make reports")
        folder = reports_folder()
        stamp = datetime.now(tz=UTC).strftime("%Y%m%dT%H%M%S%fZ")
        result = write_report(store, folder / f"report-{stamp}.html", actor=session.user.name)
        data = result.html.read_bytes()
        response = report_download(data, result.html_sha256)
        response.headers["X-Report-SHA256"] = result.html_sha256
        return response

    @app.get("/reports/{sha256}.html")
    def get_report(request: Request, sha256: Annotated[str, PathParam(pattern="^[0-9a-f]{64}$")]) -> Response:
        """An already-made report of this case, by its SHA-256: the file its audit entry names, when it still holds
        exactly those bytes (session required)."""
        page_session(request)
        folder = reports_folder().resolve()
        for recorded in _review.report_paths(store, sha256):
            path = Path(recorded)
            if not path.resolve().is_relative_to(folder) or not path.is_file():
                continue  # only reports the app wrote into reports/ are served
            data = path.read_bytes()
            if hashlib.sha256(data).hexdigest() == sha256:
                return report_download(data, sha256)
        raise HTTPException(404, "no report with this SHA-256 in the case's reports/")

    @app.get("/admin/users", response_class=HTMLResponse)
    def users_page(request: Request) -> Response:
        session = page_session(request)
        if session.user.role != "admin":
            raise HTTPException(403, "only an admin manages users")
        return render("users.html", session=session, users=_users.list_users(store), roles=_users.ROLES, message=None)

    @app.post("/admin/users", response_class=HTMLResponse)
    def users_add(
        request: Request,
        name: Annotated[str, Form(max_length=256)],
        role: Annotated[str, Form(max_length=32)],
        password: Annotated[str, Form(max_length=2048)],
        csrf: Annotated[str, Form(max_length=256)] = "",
    ) -> Response:
        session = api_session(request)
        check_csrf(request, session, csrf)
        if session.user.role != "admin":
            raise HTTPException(403, "only an admin manages users")
        try:
            _users.add_user(store, name, role, password, session.user.name)
            message = f"Added {name} ({role})."
            status = 200
        except _users.UserRefused as exc:
            message, status = str(exc), 400
        return render("users.html", status, session=session, users=_users.list_users(store), roles=_users.ROLES,
                      message=message)

    def admin_page(session: Session, message: str | None, status: int = 200) -> HTMLResponse:
        return render("users.html", status, session=session, users=_users.list_users(store), roles=_users.ROLES,
                      message=message)

    def admin_session(request: Request, csrf: str) -> Session:
        session = api_session(request)
        check_csrf(request, session, csrf)
        if session.user.role != "admin":
            raise HTTPException(403, "only an admin manages users")
        return session

    @app.post("/admin/users/{name}/disabled", response_class=HTMLResponse)
    def users_disable(
        request: Request,
        name: Annotated[str, PathParam(max_length=64)],
        disabled: Annotated[str, Form(pattern="^(yes|no)$")],
        csrf: Annotated[str, Form(max_length=256)] = "",
    ) -> Response:
        """Disable (``disabled=yes``) or enable an account; a disabled user's sessions end at once."""
        session = admin_session(request, csrf)
        try:
            user_id = _users.set_disabled(store, name, disabled == "yes", session.user.name)
        except _users.UserRefused as exc:
            return admin_page(session, str(exc), 400)
        if disabled == "yes":
            state.sessions.end_user(user_id)
        return admin_page(session, f"{name} {'disabled' if disabled == 'yes' else 'enabled'}.")

    @app.post("/admin/users/{name}/password", response_class=HTMLResponse)
    def users_password(
        request: Request,
        name: Annotated[str, PathParam(max_length=64)],
        password: Annotated[str, Form(max_length=2048)],
        csrf: Annotated[str, Form(max_length=256)] = "",
    ) -> Response:
        """An admin sets another user's password (their own only on the Settings page, with the old one); that
        user's sessions end."""
        session = admin_session(request, csrf)
        if name == session.user.name:
            return admin_page(session, "Change your own password on the Settings page (it asks for the old one).", 400)
        try:
            _users.set_password(store, name, password, session.user.name)
        except _users.UserRefused as exc:
            return admin_page(session, str(exc), 400)
        target = next((u for u in _users.list_users(store) if u["name"] == name), None)
        if target is not None:
            state.sessions.end_user(int(target["id"]))
        return admin_page(session, f"Password of {name} changed.")

    # -- one's own settings ------------------------------------------------------------------------

    def settings_page(session: Session, message: str | None = None, status: int = 200) -> HTMLResponse:
        return render("settings.html", status, session=session, levels=_users.BLUR_LEVELS, message=message)

    @app.get("/settings", response_class=HTMLResponse)
    def settings(request: Request) -> Response:
        return settings_page(page_session(request))

    @app.post("/settings", response_class=HTMLResponse)
    def settings_save(
        request: Request,
        blur_radius: Annotated[int, Form(ge=0, le=64)],
        greyscale: Annotated[str, Form(pattern="^(yes|no)$")] = "no",
        csrf: Annotated[str, Form(max_length=256)] = "",
    ) -> Response:
        """Store the user's blur radius and colour choice (audited ``user.settings_changed``)."""
        session = api_session(request)
        check_csrf(request, session, csrf)
        try:
            updated = _users.set_settings(store, session.user, blur_radius, greyscale == "yes")
        except _users.UserRefused as exc:
            return settings_page(session, str(exc), 400)
        state.sessions.update_user(updated)
        return settings_page(session, "Settings saved.")

    @app.post("/settings/password", response_class=HTMLResponse)
    def settings_password(
        request: Request,
        old: Annotated[str, Form(max_length=2048)],
        password: Annotated[str, Form(max_length=2048)],
        csrf: Annotated[str, Form(max_length=256)] = "",
    ) -> Response:
        """A user changes their own password, giving the current one."""
        session = api_session(request)
        check_csrf(request, session, csrf)
        try:
            _users.set_password(store, session.user.name, password, session.user.name, old_password=old)
        except _users.UserRefused as exc:
            return settings_page(session, str(exc), 400)
        return settings_page(session, "Password changed.")

    # -- media and API ---------------------------------------------------------------------------

    @app.get("/media/{file_id}/thumb")
    def thumb(request: Request, file_id: FileId) -> Response:
        session = api_session(request)
        try:
            found = _review.file_in_case(store, file_id)
        except _review.FileNotInCase as exc:
            raise HTTPException(404, "no such file in this case") from exc
        sha = found["sha256"]
        try:
            blurred = None if sha is None else state.blur.get(
                str(sha), lambda: store.thumbnail(str(sha)), session.user.blur_radius, session.user.greyscale
            )
        except ThumbnailUnreadable as exc:
            raise HTTPException(422, str(exc)) from exc
        if blurred is None:
            raise HTTPException(404, "no thumbnail")
        return Response(blurred, media_type="image/png")

    @app.post("/api/files/{file_id}/reveal")
    def reveal(request: Request, file_id: FileId) -> Response:
        session = api_session(request)
        check_csrf(request, session)
        reviewer(session)
        try:
            data = _review.reveal(store, file_id, session.user)
        except _review.FileNotInCase as exc:
            raise HTTPException(404, "no such file in this case") from exc
        except LookupError as exc:
            raise HTTPException(404, "no thumbnail") from exc
        return Response(data, media_type="image/webp")

    @app.post("/api/files/{file_id}/category")
    async def set_category(request: Request, file_id: FileId) -> Response:
        session = api_session(request)
        check_csrf(request, session)
        reviewer(session)
        body = await request.body()
        if len(body) > 4096:
            raise HTTPException(413, "body too large")
        try:
            payload = json.loads(body)
        except ValueError as exc:
            raise HTTPException(400, "a JSON body {\"value\": ...} is expected") from exc
        if (
            not isinstance(payload, dict) or not isinstance(payload.get("value"), str | int | None)
            or payload.get("scope", "file") not in ("file", "group")
        ):
            raise HTTPException(400, "a JSON body {\"value\": ..., \"scope\": \"file\" or \"group\"} is expected")
        action = _review.categorise_group if payload.get("scope") == "group" else _review.categorise
        try:
            result = await run_in_threadpool(action, store, file_id, state.scheme, payload.get("value"), session.user)
        except _review.FileNotInCase as exc:
            raise HTTPException(404, "no such file in this case") from exc
        except _review.ReviewInputError as exc:
            raise HTTPException(400, str(exc)) from exc
        return JSONResponse(result)

    @app.post("/api/categorise")
    async def categorise_selection(request: Request) -> Response:
        """Bulk categorisation of a selection: ``{"file_ids": [...], "value": ...}`` in one request."""
        session = api_session(request)
        check_csrf(request, session)
        reviewer(session)
        body = await request.body()
        if len(body) > 64 * 1024:
            raise HTTPException(413, "body too large")
        try:
            payload = json.loads(body)
        except ValueError as exc:
            raise HTTPException(400, "a JSON body {\"file_ids\": [...], \"value\": ...} is expected") from exc
        ids = payload.get("file_ids") if isinstance(payload, dict) else None
        if (
            not isinstance(ids, list) or not all(type(i) is int and 1 <= i <= 2**62 for i in ids)
            or "value" not in payload or not isinstance(payload["value"], str | int | None)
            or isinstance(payload["value"], bool)
        ):
            raise HTTPException(400, "a JSON body {\"file_ids\": [ids], \"value\": ...} is expected")
        try:
            result = await run_in_threadpool(
                _review.categorise_files, store, ids, state.scheme, payload.get("value"), session.user
            )
        except _review.FileNotInCase as exc:
            raise HTTPException(404, "a file of the selection is not a file of this case") from exc
        except _review.ReviewInputError as exc:
            raise HTTPException(400, str(exc)) from exc
        return JSONResponse(result)

    @app.get("/api/files/{file_id}/history")
    def history(request: Request, file_id: FileId) -> Response:
        api_session(request)
        try:
            return JSONResponse(_review.category_history(store, file_id))
        except _review.FileNotInCase as exc:
            raise HTTPException(404, "no such file in this case") from exc

    @app.get("/api/exposure")
    def exposure(request: Request) -> Response:
        api_session(request)
        return JSONResponse(_review.exposure(store))

    return app
