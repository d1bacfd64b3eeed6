"""The web view of ``gitstore serve``: server-rendered pages for people (docs/http.md#web-view).

Pages (Jinja2 templates in ``serve/templates``, autoescaping on; one CSS file and one
small script in ``serve/static``, no build step):

- ``/login`` (paste an API token from ``gitstore token create ACTOR``; it is kept in
  the ``gitstore_token`` cookie, HttpOnly, SameSite=Strict) and ``/logout``;
- ``/``: the ticket list with the filters of ``ticket list`` (status, priority,
  stage, assignee);
- ``/search?q=…``: search hits with their snippets (the search the CLI runs);
- ``/tickets/{t_no}``: the ticket's header, its unified timeline, the forms that
  write to it, and its history; ``?at=<commit>`` shows the ticket at that version.

Every page is rendered through the store *as the request's viewer*
(``Store.as_viewer(actor)``, the actor its token names): what a role may not read
never reaches a template — a customer-facing viewer's timeline holds no internal
note, because the store's viewer left it out (docs/data-model.md#roles). Forms are
shown only to viewers whose role may make that write, and the write path checks the
role again.

Every form carries a CSRF token (``csrf_token``): an HMAC, under a secret of the
running app, of a random per-browser session id kept in the ``gitstore_session``
cookie (renewed at login and logout); a POST whose token does not match is refused
(403) before anything is read or written. A POST that succeeds redirects (303) to the
page it came from.

The page script (``static/live.js``) listens to ``/events`` (the change feed as
Server-Sent Events, ``serve.feed``) and reloads the ticket page when an event names
its ticket, the list when an event names any ticket.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from pathlib import Path
from typing import Any, Callable, TypeVar
from urllib.parse import quote, urlencode

import jinja2
from markupsafe import Markup, escape
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from gitstore.errors import AccessDenied, GitStoreError, ValidationError
from gitstore.store import Store

HERE = Path(__file__).resolve().parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"

TOKEN_COOKIE = "gitstore_token"
"""The cookie holding the API token a browser logged in with (``serve.auth`` reads it)."""
SESSION_COOKIE = "gitstore_session"
"""The cookie holding the browser's random session id, which the CSRF token signs."""
CSRF_FIELD = "csrf_token"
"""The hidden form field every POST must carry."""

STATUSES = ("active", "resolved", "escalated")
PRIORITIES = ("HIGH", "LOW")
MESSAGE_TYPES = ("update", "assignment", "escalation", "resolution")
LIST_LIMIT = 200
"""Most rows the list page shows (the page says how many match in all)."""
SEARCH_LIMIT = 50
"""Most hits the search page shows."""
HISTORY_LIMIT = 100
"""Most history entries the ticket page shows."""

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
        "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}
"""Headers of every page: no inline script or style, no framing, nothing cached."""

T = TypeVar("T")

ENV = jinja2.Environment(
    loader=jinja2.FileSystemLoader(str(TEMPLATES)),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
"""The templates' environment: autoescaping on (every value is HTML-escaped unless a
template says otherwise, which none does), and a misspelt variable is an error."""

_MARKED = re.compile(r"\*\*(.+?)\*\*", re.S)


def highlight(snippet: str) -> Markup:
    """A search snippet as HTML: its text escaped, the index's ``**match**`` marks as
    ``<mark>`` elements (``gitstore_index.search.Hit.snippet``)."""
    parts = []
    last = 0
    for found in _MARKED.finditer(snippet):
        parts.append(escape(snippet[last:found.start()]))
        parts.append(Markup("<mark>%s</mark>") % found.group(1))
        last = found.end()
    parts.append(escape(snippet[last:]))
    return Markup("").join(parts)


ENV.filters["highlight"] = highlight


class LoginRequired(GitStoreError, PermissionError):
    """The request carries no valid token (the browser is sent to ``/login``)."""


# ---------------------------------------------------------------- sessions and CSRF
def _secret(request: Request) -> bytes:
    """The running app's CSRF secret (random, made on first use; a restarted server
    makes a new one, so a form loaded before the restart is refused once)."""
    state = request.app.state
    secret = getattr(state, "web_csrf_secret", None)
    if secret is None:  # on the event loop: no other request runs between the check and the set
        secret = secrets.token_bytes(32)
        state.web_csrf_secret = secret
    return secret


def csrf_token(request: Request, session: str) -> str:
    """The CSRF token of browser session ``session``: HMAC-SHA256 under the app's secret, hex."""
    return hmac.new(_secret(request), b"gitstore-web-csrf:" + session.encode(), hashlib.sha256).hexdigest()


def _session(request: Request) -> tuple[str, bool]:
    """The browser's session id and whether it is new (then it must be set as a cookie)."""
    found = request.cookies.get(SESSION_COOKIE, "")
    if re.fullmatch(r"[0-9a-f]{64}", found):
        return found, False
    return secrets.token_hex(32), True


def _check_csrf(request: Request, form: Any) -> bool:
    session = request.cookies.get(SESSION_COOKIE, "")
    sent = form.get(CSRF_FIELD, "")
    if not session or not isinstance(sent, str):
        return False
    return hmac.compare_digest(sent, csrf_token(request, session))


def _set_cookie(request: Request, response: Response, name: str, value: str) -> None:
    response.set_cookie(
        name, value, httponly=True, samesite="strict", secure=request.url.scheme == "https", path="/"
    )


# ---------------------------------------------------------------- the store, the actor
def _actor(request: Request) -> str:
    """The actor the request's token names (``serve.auth.actor_for_request``).

    Raises:
        LoginRequired: no token, an unknown one or a revoked one.
        TokenFileError: the server's token file cannot be read.
    """
    from gitstore_serve.auth import Unauthenticated, actor_for_request

    try:
        return actor_for_request(request)
    except Unauthenticated as exc:
        raise LoginRequired(exc.detail) from None


def _page_actor(request: Request) -> str | Response:
    """The actor of a page request, or the answer instead of the page: a redirect to
    the login form (no valid token), an error page (the token file is unreadable)."""
    try:
        return _actor(request)
    except LoginRequired:
        return _to_login(request)
    except GitStoreError as exc:
        return _error_page(request, exc, None)


async def _as_viewer(request: Request, actor: str, work: Callable[[Store], T]) -> T:
    """Run ``work`` on the store as ``actor`` sees it (``StoreWorker.view``), on the
    server's store thread (``serve.api_worker``), and return what it returns."""
    worker = request.app.state.worker
    return await worker.run(lambda: work(worker.view(actor)))


# ---------------------------------------------------------------- rendering
def _render(
    request: Request, name: str, context: dict[str, Any], *, status: int = 200, actor: str | None = None
) -> HTMLResponse:
    session, new = _session(request)
    values = {
        "actor": actor,
        "csrf_field": CSRF_FIELD,
        "csrf": csrf_token(request, session),
        "error": None,
        "watch": None,
        "commit": None,
        "query": "",
        **context,
    }
    response = HTMLResponse(ENV.get_template(name).render(values), status_code=status, headers=SECURITY_HEADERS)
    if new:
        _set_cookie(request, response, SESSION_COOKIE, session)
    return response


def _status_of(exc: GitStoreError) -> int:
    """The status the API answers the same error with (``serve.problems.status_of``)."""
    from gitstore_serve.problems import status_of

    return status_of(exc)


def _error_page(request: Request, exc: GitStoreError, actor: str | None) -> HTMLResponse:
    return _render(request, "error.html", {"message": str(exc)}, status=_status_of(exc), actor=actor)


def _to_login(request: Request) -> Response:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/login?{urlencode({'next': target})}", status_code=303)


def _safe_next(value: str | None) -> str:
    """A local path to go to after login (anything else goes to the list)."""
    if value and value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    return "/"


def _may_write(store: Store, actor: str, kind: str) -> bool:
    try:
        store.policy().access.check_write({kind}, actor=actor, agent=None)
    except AccessDenied:
        return False
    return True


# ---------------------------------------------------------------- login and logout
async def login(request: Request) -> Response:
    """``GET /login``: the token form; ``POST /login``: check the token, set the cookie."""
    next_path = _safe_next(request.query_params.get("next"))
    if request.method == "GET":
        return _render(request, "login.html", {"next": next_path})
    form = await request.form()
    if not _check_csrf(request, form):
        return _render(request, "login.html", {"next": next_path, "error": _CSRF_MESSAGE}, status=403)
    token = str(form.get("token", "")).strip()
    next_path = _safe_next(str(form.get("next", "")))
    record = request.app.state.tokens.lookup(token) if token else None
    actor = record.actor if record is not None and record.active else None
    if actor is None:
        message = "That token is not valid here: create one with 'gitstore token create ACTOR'."
        return _render(request, "login.html", {"next": next_path, "error": message}, status=401)
    response = RedirectResponse(next_path, status_code=303)
    _set_cookie(request, response, TOKEN_COOKIE, token)
    _set_cookie(request, response, SESSION_COOKIE, secrets.token_hex(32))  # a new session at login
    return response


async def logout(request: Request) -> Response:
    """``GET /logout``: a confirmation form; ``POST /logout``: forget the token."""
    if request.method == "GET":
        return _render(request, "logout.html", {})
    form = await request.form()
    if not _check_csrf(request, form):
        return _render(request, "error.html", {"message": _CSRF_MESSAGE}, status=403)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(TOKEN_COOKIE, path="/", httponly=True, samesite="strict")
    _set_cookie(request, response, SESSION_COOKIE, secrets.token_hex(32))
    return response


_CSRF_MESSAGE = "This form has expired or did not come from this site: reload the page and try again."


# ---------------------------------------------------------------- the list and search
def _list_filters(request: Request, stages: list[str]) -> tuple[dict[str, str | None], str | None]:
    params = request.query_params
    filters: dict[str, str | None] = {}
    problem = None
    for name, allowed in (("status", STATUSES), ("priority", PRIORITIES), ("stage", tuple(stages))):
        value = params.get(name) or None
        if value is not None and value not in allowed:
            problem = f"unknown {name} {value!r}: use one of {', '.join(allowed)}"
            value = None
        filters[name] = value
    filters["assignee"] = (params.get("assignee") or "").strip() or None
    return filters, problem


async def ticket_list(request: Request) -> Response:
    """``GET /``: the tickets, newest update first, filtered like ``ticket list``."""
    actor = _page_actor(request)
    if not isinstance(actor, str):
        return actor
    from gitstore.listing import list_ticket_rows

    def work(view: Store) -> dict[str, Any]:
        stages = list(view.workflow().stages)
        filters, problem = _list_filters(request, stages)
        listed = list_ticket_rows(
            view, status=filters["status"], priority=filters["priority"], stage=filters["stage"],
            assignee=filters["assignee"], limit=LIST_LIMIT,
        )
        return {
            "rows": listed.rows, "total": listed.total, "commit": listed.commit, "filters": filters,
            "stages": stages, "statuses": STATUSES, "priorities": PRIORITIES, "error": problem,
            "internal": view.viewer.internal, "role": view.viewer.label(),
        }

    try:
        context = await _as_viewer(request, actor, work)
    except GitStoreError as exc:
        return _error_page(request, exc, actor)
    status = 400 if context["error"] else 200
    return _render(request, "list.html", {**context, "watch": "list"}, status=status, actor=actor)


async def search_page(request: Request) -> Response:
    """``GET /search?q=…``: hits grouped by ticket, with snippets (``gitstore search``)."""
    actor = _page_actor(request)
    if not isinstance(actor, str):
        return actor
    query = (request.query_params.get("q") or "").strip()
    if not query:
        return RedirectResponse("/", status_code=303)
    from gitstore_index.search import run_search

    worker = request.app.state.worker

    def work(view: Store) -> dict[str, Any]:
        # gitstore search's prepare and execute, on the index the server keeps open
        results = run_search(worker.search_index(), query, limit=SEARCH_LIMIT, viewer=view.viewer)
        return {"results": results, "role": view.viewer.label()}

    try:
        context = await _as_viewer(request, actor, work)
    except GitStoreError as exc:
        return _render(
            request, "search.html", {"results": None, "query": query, "error": str(exc), "role": None},
            status=_status_of(exc), actor=actor,
        )
    return _render(request, "search.html", {**context, "query": query}, actor=actor)


# ---------------------------------------------------------------- one ticket
def _ticket_context(view: Store, actor: str, t_no: str, at: str | None) -> dict[str, Any]:
    from gitstore.history.log import ticket_history

    context = view.context(t_no, at=at)
    current = at is None
    history = ticket_history(view, t_no, limit=HISTORY_LIMIT)
    info = view.stage_info(t_no) if current else None
    workflow = context.files.workflow
    return {
        "t_no": t_no,
        "ctx": context,
        "workflow": workflow,
        "external": context.files.external,
        "timeline": context.unified_timeline,
        "history": history,
        "at": at,
        "commit": context.commit,
        "current": current,
        "writable": current and not workflow.archived,
        "may_write_external": _may_write(view, actor, "E"),
        "may_write_internal": view.viewer.internal and _may_write(view, actor, "I"),
        "next_stages": info.allowed if info else [],
        "statuses": STATUSES,
        "priorities": PRIORITIES,
        "message_types": MESSAGE_TYPES,
        "role": view.viewer.label(),
    }


async def ticket_page(request: Request) -> Response:
    """``GET /tickets/{t_no}`` (``?at=<commit>``: that version, read-only)."""
    actor = _page_actor(request)
    if not isinstance(actor, str):
        return actor
    t_no = request.path_params["t_no"]
    at = request.query_params.get("at") or None
    try:
        context = await _as_viewer(request, actor, lambda view: _ticket_context(view, actor, t_no, at))
    except GitStoreError as exc:
        return _error_page(request, exc, actor)
    return _render(request, "ticket.html", {**context, "watch": "ticket", "form": {}}, actor=actor)


async def _post(request: Request, write: Callable[[Store, str, str, Any], object]) -> Response:
    """Check the login and the CSRF token, make one write, redirect to the ticket.

    A refused write shows the ticket page again with the reason and what was typed.
    """
    t_no = request.path_params["t_no"]
    try:
        actor = _actor(request)
    except LoginRequired as exc:
        return _render(request, "error.html", {"message": f"Log in first ({exc})."}, status=401)
    except GitStoreError as exc:
        return _error_page(request, exc, None)
    form = await request.form()
    if not _check_csrf(request, form):
        return _render(request, "error.html", {"message": _CSRF_MESSAGE}, status=403, actor=actor)

    def work(view: Store) -> dict[str, Any] | None:
        try:
            write(view, actor, t_no, form)
        except GitStoreError as exc:
            try:
                page = _ticket_context(view, actor, t_no, None)
            except GitStoreError:
                raise exc from None
            return {**page, "error": str(exc), "status": _status_of(exc)}
        return None

    try:
        failed = await _as_viewer(request, actor, work)
    except GitStoreError as exc:
        return _error_page(request, exc, actor)
    if failed is not None:
        status = failed.pop("status")
        values = {**failed, "watch": "ticket", "form": {k: str(v) for k, v in form.items() if k != CSRF_FIELD}}
        return _render(request, "ticket.html", values, status=status, actor=actor)
    return RedirectResponse(f"/tickets/{quote(t_no)}", status_code=303)


class FormError(ValidationError):
    """A web form sent without what it needs (shown on the page, nothing written)."""


def _text(form: Any, name: str, what: str) -> str:
    value = str(form.get(name, ""))
    if not value.strip():
        raise FormError(f"{what} is empty: nothing was written")
    return value.replace("\r\n", "\n")


def _reply(view: Store, actor: str, t_no: str, form: Any) -> None:
    view.add_message(
        t_no, "E", sender="cs_agent", sender_id=actor, content=_text(form, "content", "the reply"), actor=actor
    )


def _note(view: Store, actor: str, t_no: str, form: Any) -> None:
    if not view.viewer.internal:
        raise AccessDenied(f"{actor} may not read internal notes, so may not write them here")
    message_type = str(form.get("message_type") or "update")
    sender = str(form.get("sender") or "cs_agent")
    view.add_message(
        t_no, "I", sender=sender, sender_id=actor, content=_text(form, "content", "the internal note"),
        actor=actor, message_type=message_type,
    )


def _state(view: Store, actor: str, t_no: str, form: Any) -> None:
    shown = view.read(t_no)
    fields: dict[str, Any] = {}
    priority = str(form.get("priority") or shown.workflow.priority)
    if priority != shown.workflow.priority:
        fields["priority"] = priority
    status = str(form.get("status") or shown.external.conversation_status)
    if status != shown.external.conversation_status:
        fields["conversation_status"] = status
    assignee = str(form.get("assignee", "")).strip() or None
    if assignee != shown.workflow.assigned_member:
        fields["assigned_member"] = assignee
    if not fields:
        raise FormError("nothing changed: priority, status and assignee are as they were")
    view.set_state(t_no, fields, actor=actor, expected_version=str(form.get("version") or "") or None)


def _stage(view: Store, actor: str, t_no: str, form: Any) -> None:
    stage = str(form.get("stage") or "")
    if not stage:
        raise FormError("choose a stage to move to")
    view.set_stage(
        t_no, stage, reason=_text(form, "reason", "the reason"), actor=actor,
        expected_version=str(form.get("version") or "") or None,
    )


async def post_reply(request: Request) -> Response:
    """``POST /tickets/{t_no}/reply``: a public reply (an external message from the actor)."""
    return await _post(request, _reply)


async def post_note(request: Request) -> Response:
    """``POST /tickets/{t_no}/note``: an internal note (an internal message)."""
    return await _post(request, _note)


async def post_state(request: Request) -> Response:
    """``POST /tickets/{t_no}/state``: priority, conversation status and assignee."""
    return await _post(request, _state)


async def post_stage(request: Request) -> Response:
    """``POST /tickets/{t_no}/stage``: a workflow stage change with its reason."""
    return await _post(request, _stage)


routes = [
    Route("/", ticket_list, methods=["GET"], name="web_list"),
    Route("/login", login, methods=["GET", "POST"], name="web_login"),
    Route("/logout", logout, methods=["GET", "POST"], name="web_logout"),
    Route("/search", search_page, methods=["GET"], name="web_search"),
    Route("/tickets/{t_no}", ticket_page, methods=["GET"], name="web_ticket"),
    Route("/tickets/{t_no}/reply", post_reply, methods=["POST"], name="web_reply"),
    Route("/tickets/{t_no}/note", post_note, methods=["POST"], name="web_note"),
    Route("/tickets/{t_no}/state", post_state, methods=["POST"], name="web_state"),
    Route("/tickets/{t_no}/stage", post_stage, methods=["POST"], name="web_stage"),
    Mount("/static", app=StaticFiles(directory=str(STATIC)), name="web_static"),
]
"""The web view's routes (``serve.app.create_app`` mounts them)."""

__all__ = ["routes", "highlight", "csrf_token", "LoginRequired", "FormError", "TOKEN_COOKIE", "SESSION_COOKIE"]
