"""One endpoint of the HTTP API: its route-table entry and the request → API call → JSON path.

Every endpoint is an ``Endpoint``: method, path, the function it runs (the same API
function the matching CLI command calls), its query and body models, and how it takes
``If-Match``. ``route_of`` turns one into a Starlette route whose handler, for each
request:

1. authenticates the token (``auth.actor_for_request``; 401 otherwise);
2. refuses a write authenticated by the web view's cookie unless it is JSON
   (``Content-Type: application/json``: a cross-site HTML form cannot send that);
3. validates the query parameters and the JSON body (pydantic; 400 and 422);
4. runs ``Endpoint.run(call)`` on the store's worker thread (``api_worker``) with a view
   of the store for the token's actor (``Store.as_viewer``), so every read shows what
   that actor's role may see and every write is checked against it;
5. answers JSON, with ``ETag`` = the ticket's version when there is one; any exception
   becomes a problem document (``problems.problem_for``).

``If-Match`` (the ETag of a read) is passed to the core as ``expected_version`` where the
API function takes one (``Precondition.CORE``: update, message, state, stage); for the
other writes (``Precondition.LOCKED``) it is checked with the same rule — the ticket's
three files equal at that version and at HEAD — while the writer lock is held, so no
gitstore writer can change the ticket between the check and the write. Either way a
stale version is 412 with the current version, and nothing is written.
"""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable

from pydantic import BaseModel, TypeAdapter
from pydantic import ValidationError as PydanticError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from gitstore.errors import ConflictError, RevisionNotFound, ValidationError
from gitstore.jsonable import to_jsonable
from gitstore.objects.trees import blob_at
from gitstore.store import Store
from gitstore.tickets import layout
from gitstore.tickets.jsontext import parse_json
from gitstore_serve.auth import actor_for_request
from gitstore_serve.problems import HTTPProblem, one_line, problem_for

MAX_BODY = 8 * 1024 * 1024
"""Largest request body accepted, in bytes (a message is at most 256 KiB)."""
UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class Precondition(enum.Enum):
    """How an endpoint takes ``If-Match`` (see the module doc)."""

    NONE = "none"
    CORE = "core"
    LOCKED = "locked"


@dataclass
class Reply:
    """What an endpoint's ``run`` returns.

    Attributes:
        body: a JSON value (dataclasses, pydantic models and datetimes are converted).
        status: the HTTP status.
        etag: the ticket version to send as ``ETag``, if any.
        headers: further headers (``Location``…).
    """

    body: Any
    status: int = 200
    etag: str | None = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Call:
    """One request, as an endpoint's ``run`` sees it (on the store's worker thread).

    Attributes:
        store: the store as the token's actor sees it (``Store.as_viewer``).
        worker: the ``StoreWorker`` (its search index).
        actor: the token's actor: the author of every write.
        agent: the automated agent acting (``?agent=`` on writes), or None.
        params: path parameters (``t_no``…).
        query: the validated query model.
        body: the validated body model (None for endpoints without one).
        if_match: the ``If-Match`` version (``*`` for any), or None.
    """

    store: Store
    worker: Any
    actor: str
    agent: str | None
    params: dict[str, str]
    query: Any
    body: Any
    if_match: str | None

    @property
    def t_no(self) -> str:
        """The ``{t_no}`` path parameter."""
        return self.params["t_no"]

    @property
    def expected_version(self) -> str | None:
        """``If-Match`` as the core's ``expected_version`` (None for none or ``*``)."""
        return None if self.if_match in (None, "*") else self.if_match


@dataclass(frozen=True)
class Endpoint:
    """One entry of the route table (also what ``api_openapi`` documents).

    Attributes:
        method, path: the route (``{t_no}``-style parameters).
        run: ``run(call) -> Reply``, called on the store's worker thread.
        summary: one line for the OpenAPI document.
        cli: the CLI command it answers like (``ticket show --json``).
        query, body: pydantic models (``body`` may be a ``TypeAdapter``), or None.
        precondition: how ``If-Match`` is taken.
        acting_agent: ``?agent=`` names the agent acting (writes), as the global ``--agent``.
        status: the success status.
        raw: a Starlette endpoint that replaces the standard handler (``/events``).
        auth: the endpoint needs a token.
        etag: successful answers carry an ``ETag``.
    """

    method: str
    path: str
    run: Callable[[Call], Reply] | None
    summary: str
    cli: str | None = None
    query: type[BaseModel] | None = None
    body: Any = None
    precondition: Precondition = Precondition.NONE
    acting_agent: bool = False
    status: int = 200
    raw: Callable[[Request], Awaitable[Response]] | None = None
    auth: bool = True
    etag: bool = False
    tags: tuple[str, ...] = ()
    produces: str = "application/json"


# ---------------------------------------------------------------------------- JSON
def json_response(reply: Reply) -> Response:
    """The HTTP response of a ``Reply``."""
    headers = dict(reply.headers)
    if reply.etag is not None:
        headers["ETag"] = f'"{reply.etag}"'
    return JSONResponse(to_jsonable(reply.body), status_code=reply.status, headers=headers)


# ---------------------------------------------------------------------------- input
def errors_of(exc: PydanticError, where: str) -> tuple[str, list[dict[str, Any]]]:
    """One line (the first problem) and the list of every problem of a pydantic error."""
    errors = []
    for error in exc.errors(include_url=False, include_context=False, include_input=False):
        loc = ".".join(str(p) for p in (where, *error["loc"]) if p != "")
        errors.append({"loc": loc, "msg": error["msg"]})
    first = errors[0] if errors else {"loc": where, "msg": "invalid"}
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{first['loc']}: {first['msg']}{more}", errors


def parse_query(model: type[BaseModel] | None, request: Request) -> Any:
    """The validated query parameters.

    Raises:
        HTTPProblem: 400 for an unknown, repeated or invalid parameter.
    """
    params = request.query_params
    repeated = sorted({k for k in params.keys() if len(params.getlist(k)) > 1})
    if repeated:
        raise HTTPProblem(400, f"query parameter {repeated[0]!r} is given more than once", title="Invalid query parameter")
    values = dict(params.items())
    if model is None:
        if values:
            raise HTTPProblem(400, f"unknown query parameter {sorted(values)[0]!r}", title="Invalid query parameter")
        return None
    try:
        return model.model_validate(values)
    except PydanticError as exc:
        line, errors = errors_of(exc, "query")
        raise HTTPProblem(400, line, title="Invalid query parameter", extra={"errors": errors}) from None


async def parse_body(schema: Any, request: Request) -> Any:
    """The validated JSON body (an empty body counts as ``{}``).

    Raises:
        HTTPProblem: 413 over ``MAX_BODY``, 415 not JSON, 400 malformed (or too deeply
            nested) JSON, 422 a body the model refuses.
    """
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_BODY:
        raise HTTPProblem(413, f"the request body is over {MAX_BODY} bytes", title="Content too large")
    raw = b""
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > MAX_BODY:
            raise HTTPProblem(413, f"the request body is over {MAX_BODY} bytes", title="Content too large")
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if raw.strip() and kind != "application/json" and not kind.endswith("+json"):
        raise HTTPProblem(415, "send the body as JSON (Content-Type: application/json)", title="Unsupported media type")
    try:
        value = parse_json(raw, "request body") if raw.strip() else {}
    except ValidationError as exc:
        raise HTTPProblem(400, one_line(exc), title="Malformed JSON body") from None
    try:
        if isinstance(schema, TypeAdapter):
            return schema.validate_python(value)
        return schema.model_validate(value)
    except PydanticError as exc:
        line, errors = errors_of(exc, "body")
        raise HTTPProblem(422, line, title="Invalid request body", extra={"errors": errors}) from None


def parse_if_match(request: Request) -> str | None:
    """The version ``If-Match`` names, ``*``, or None without the header.

    Raises:
        HTTPProblem: 400 for a list of tags or a weak tag (If-Match compares strongly).
    """
    header = request.headers.get("if-match")
    if header is None:
        return None
    value = header.strip()
    if value == "*":
        return "*"
    if "," in value or not value:
        raise HTTPProblem(400, "If-Match takes one ETag: the version a read of the ticket returned", title="Invalid If-Match")
    if value.startswith("W/"):
        raise HTTPProblem(400, "If-Match takes the strong ETag a read returned, not a weak one", title="Invalid If-Match")
    return value.strip('"')


# ---------------------------------------------------------------------------- preconditions
def check_unchanged(store: Store, t_no: str, version: str) -> None:
    """The rule of ``expected_version`` (docs/data-model.md#optimistic-locking): the
    ticket's three files are the same at ``version`` as at HEAD.

    Raises:
        ConflictError: they differ, or ``version`` names no commit (nothing is written).
        TicketNotFound: the ticket does not exist at HEAD.
    """
    current = store.ticket_version(t_no)
    head = store.head()
    try:
        seen = store.resolve(version)
    except RevisionNotFound:
        raise ConflictError(t_no, version, current) from None
    paths = layout.ticket_paths(t_no)
    if any(blob_at(seen.tree, paths[k]) != blob_at(head.tree, paths[k]) for k in paths):
        raise ConflictError(t_no, version, current)


def execute(endpoint: Endpoint, worker: Any, actor: str, agent: str | None, params: dict[str, str], query: Any, body: Any,
            if_match: str | None) -> Reply:
    """Run one endpoint on the store's worker thread (see the module doc)."""
    assert endpoint.run is not None
    store = worker.view(actor, agent)
    call = Call(store, worker, actor, agent, params, query, body, if_match)
    if endpoint.precondition is Precondition.LOCKED and call.expected_version is not None:
        with store.lock:
            check_unchanged(store, call.t_no, call.expected_version)
            return endpoint.run(call)
    return endpoint.run(call)


def route_of(endpoint: Endpoint) -> Route:
    """The Starlette route of an endpoint."""
    if endpoint.raw is not None:
        return Route(endpoint.path, endpoint.raw, methods=[endpoint.method])

    async def handle(request: Request) -> Response:
        if_match: str | None = None
        try:
            actor = actor_for_request(request)
            if request.method in UNSAFE and request.state.auth == "cookie":
                kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
                if kind != "application/json":
                    raise HTTPProblem(403, "a write authenticated by the gitstore_token cookie must be sent as "
                                           "Content-Type: application/json", title="Forbidden")
            query = parse_query(endpoint.query, request)
            body = await parse_body(endpoint.body, request) if endpoint.body is not None else None
            if endpoint.precondition is not Precondition.NONE:
                if_match = parse_if_match(request)
            agent = getattr(query, "agent", None) if endpoint.acting_agent else None
            worker = request.app.state.worker
            reply = await worker.run(execute, endpoint, worker, actor, agent, dict(request.path_params), query, body, if_match)
            return json_response(reply)
        except Exception as exc:
            return problem_for(exc, if_match=if_match not in (None, "*"))

    handle.__name__ = f"{endpoint.method.lower()}_{endpoint.path}"
    return Route(endpoint.path, handle, methods=[endpoint.method])


def commit_reply(result: Any, *, status: int = 200) -> Reply:
    """The reply of a write: the ``CommitResult`` (as ``--json`` prints it), with the
    ticket's new version as ``ETag``."""
    return Reply(result, status=status, etag=getattr(result, "commit", None))


def dumps(value: Any) -> str:
    """A JSON value as compact text (``gitstore.jsonable.to_jsonable`` first)."""
    return json.dumps(to_jsonable(value), ensure_ascii=False, separators=(",", ":"))


__all__ = [
    "Call", "Endpoint", "Precondition", "Reply", "MAX_BODY", "check_unchanged", "commit_reply", "dumps", "execute",
    "json_response", "parse_body", "parse_if_match", "parse_query", "route_of",
]
