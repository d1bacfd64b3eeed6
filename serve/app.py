"""The HTTP server: one open store answering many viewers (docs/http.md).

``create_app(store_path)`` makes the Starlette application of ``gitstore serve``:

- **One store.** The process keeps one ``Store`` open (``Store.open``) with its search
  index (kept fresh by the index subscriber after each commit) and its history log.
  Each request gets the view of it for its token's actor (``Store.as_viewer``: the same
  repository, writer and lock; reads for that actor's role).
- **One thread for the store.** The store and its views are not thread-safe, so they
  are not shared between threads under a lock: they live on one worker thread
  (``api_worker.StoreWorker``, a one-worker executor) that opens the store and runs
  every call of every request, in arrival order, while the event loop awaits the
  result and keeps serving other connections (and the ``/events`` streams). The writer
  lock's reentrancy is per process, the SQLite and Whoosh handles are per thread: one
  thread keeps all of them right, and ``If-Match`` checks made under the writer lock
  cannot be interleaved by another request. Code that has to call the store from
  another thread (the web view, in Starlette's thread pool) holds ``StoreWorker.lock``,
  which the worker also holds around each call (``store_of``). Other processes are kept
  apart by the store's own writer lock and compare-and-swap.
- **Routes** come from one table (``api_tickets``, ``api_history``, ``api_agents``,
  ``api_events``), each entry calling the API function of its CLI command; the OpenAPI
  document (``/api/openapi.json``) is built from the same table.
- **Others' parts.** The web view's routes are mounted when ``gitstore_serve.web``
  defines ``routes``; the webhook dispatcher is started and stopped with the app (its
  lifespan) when ``gitstore_serve.webhooks`` defines ``Dispatcher(store_path)`` with
  ``start()`` and ``stop()``.

``app.state`` holds ``worker`` (the ``StoreWorker``), ``tokens`` (the ``TokenRegistry``),
``feed`` (the ``FeedWatcher``), ``store_path`` and ``keepalive``.
"""

from __future__ import annotations

import asyncio
import importlib
import importlib.util
import socket
import sys
from contextlib import asynccontextmanager
from http import HTTPStatus
from pathlib import Path
from typing import Any, AsyncIterator, Callable

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response

from gitstore_serve import api_agents, api_events, api_history, api_tickets
from gitstore_serve.api_events import FeedWatcher
from gitstore_serve.api_http import Endpoint, route_of
from gitstore_serve.api_openapi import openapi_document
from gitstore_serve.api_worker import StoreWorker
from gitstore_serve.problems import problem
from gitstore_serve.tokens import TokenRegistry

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8080
POLL_INTERVAL = 0.5
"""Seconds between two reads of the branch ref for ``/events`` (commits made elsewhere)."""
KEEPALIVE = 15.0
"""Seconds of silence after which an event stream sends a keep-alive comment."""


async def openapi_json(request: Request) -> Response:
    """``GET /api/openapi.json`` (no token needed: it describes, it shows no data)."""
    return JSONResponse(request.app.state.openapi)


ENDPOINTS: list[Endpoint] = [
    *api_tickets.ENDPOINTS,
    *api_history.ENDPOINTS,
    *api_agents.ENDPOINTS,
    *api_events.ENDPOINTS,
    Endpoint("GET", "/api/openapi.json", None, "This OpenAPI 3.1 document", raw=openapi_json, auth=False, tags=("meta",)),
]
"""The route table of the API."""


def optional_module(name: str) -> Any:
    """``gitstore_serve.<name>`` when that module exists (another part of the server),
    else None. An error inside an existing module is raised, never hidden."""
    full = f"gitstore_serve.{name}"
    if importlib.util.find_spec(full) is None:
        return None
    return importlib.import_module(full)


async def http_error(request: Request, exc: Exception) -> Response:
    """Starlette's own errors (unknown route, method not allowed): problem documents
    under ``/api/`` and ``/events``, plain text elsewhere (the web view's pages)."""
    assert isinstance(exc, HTTPException)
    if request.url.path.startswith(("/api/", "/events")):
        title = HTTPStatus(exc.status_code).phrase
        detail = exc.detail if exc.detail != title else f"{request.method} {request.url.path}: {title.lower()}"
        return problem(exc.status_code, title, detail, headers=dict(exc.headers or {}))
    return PlainTextResponse(exc.detail, status_code=exc.status_code, headers=exc.headers)


def store_of(app: Starlette) -> tuple[Any, Any]:
    """The app's open store (its owner's view) and the lock to hold while using it
    from a thread other than the store's worker (``StoreWorker.lock``). Use the store
    only inside ``with lock:``, e.g. ``store.as_viewer(actor).context(t_no)``."""
    worker: StoreWorker = app.state.worker
    return worker.store, worker.lock


def actor_for_token(store: Any, token: str) -> str | None:
    """The actor an API token acts as, None for an unknown or revoked token (the web
    view's login form; requests use ``auth.actor_for_request``)."""
    record = TokenRegistry(store.state_dir).lookup(token)
    return record.actor if record is not None and record.active else None


def check_store(store_path: str | Path, *, fsync: bool = True) -> tuple[Path, Path]:
    """Open and close the store once, so a bad path fails before a server starts.

    Returns:
        ``(the store's folder, its .git/gitstore folder)``.

    Raises:
        NotAStoreError: not a store, or an empty hub.
    """
    from gitstore.errors import NotAStoreError
    from gitstore.store import Store
    from gitstore_sync.hub import is_empty

    with Store.open(store_path, fsync=fsync) as store:  # fsync: a process-wide libgit2 setting, left as the server's
        if is_empty(store.repo):
            raise NotAStoreError(f"{store.path} is an empty hub: nothing was pushed to it yet ('gitstore push' from a store fills it)")
        return Path(store.path), Path(store.state_dir)


def create_app(
    store_path: str | Path,
    *,
    fsync: bool = True,
    poll_interval: float = POLL_INTERVAL,
    keepalive: float = KEEPALIVE,
) -> Starlette:
    """The Starlette application serving the store at ``store_path`` (see the module doc).

    Args:
        store_path: the store (searched upwards, like ``git -C``).
        fsync: flush each write to disk before answering.
        poll_interval: seconds between two reads of the branch ref (``/events``).
        keepalive: seconds of silence before an event stream's keep-alive comment.

    Returns:
        The app; its lifespan opens the store, starts the feed (and webhooks) and
        closes them again.

    Raises:
        NotAStoreError: ``store_path`` is not a store (checked now).
    """
    from gitstore import __version__

    root, state_dir = check_store(store_path, fsync=fsync)
    worker = StoreWorker(store_path, fsync=fsync)
    feed = FeedWatcher(worker, poll_interval=poll_interval)
    routes: list[Any] = [route_of(endpoint) for endpoint in ENDPOINTS]
    web = optional_module("web")
    if web is not None and hasattr(web, "routes"):
        routes += web.routes
    webhooks = optional_module("webhooks")
    dispatcher = webhooks.Dispatcher(store_path) if webhooks is not None and hasattr(webhooks, "Dispatcher") else None

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await asyncio.to_thread(worker.start)
        try:
            await feed.start()
            if dispatcher is not None:
                await asyncio.to_thread(dispatcher.start)
            try:
                yield
            finally:
                if dispatcher is not None:
                    await asyncio.to_thread(dispatcher.stop)
        finally:
            await feed.stop()
            await asyncio.to_thread(worker.stop)

    app = Starlette(routes=routes, lifespan=lifespan, exception_handlers={HTTPException: http_error})
    app.state.worker = worker
    app.state.feed = feed
    app.state.tokens = TokenRegistry(state_dir)
    app.state.keepalive = keepalive
    app.state.store_path = root
    app.state.openapi = openapi_document(ENDPOINTS, version=__version__)
    return app


def listening_socket(host: str, port: int) -> socket.socket:
    """A TCP socket listening on ``host``:``port`` (0: any free port) with TCP_NODELAY.

    Accepted connections inherit TCP_NODELAY. asyncio sets it only on sockets whose
    proto is ``IPPROTO_TCP`` (``socket.create_server``'s is 0); without it, a response
    whose headers and body go out in two writes waits ~40 ms for the client's delayed ACK.

    Raises:
        OSError: the address cannot be bound.
    """
    family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
    sock = socket.create_server((host, port), family=family)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def run_server(
    store_path: str | Path,
    *,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    fsync: bool = True,
    report: Callable[[str], None] | None = None,
) -> None:
    """Serve the store until SIGINT or SIGTERM (``gitstore serve``), with uvicorn.

    The socket is bound before anything else, so a port in use is an ``OSError`` at
    once; port 0 picks a free port (the ``report`` line names it).

    Args:
        store_path: the store.
        host: the address to listen on (127.0.0.1: this machine only).
        port: the TCP port; 0 for any free one.
        fsync: flush each write to disk before answering.
        report: called with one line once the socket listens (the CLI prints it).

    Raises:
        NotAStoreError: not a store. OSError: the address cannot be bound.
    """
    import uvicorn

    app = create_app(store_path, fsync=fsync)
    sock = listening_socket(host, port)
    bound = sock.getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    feed: FeedWatcher = app.state.feed

    class Server(uvicorn.Server):
        def handle_exit(self, sig: int, frame: Any) -> None:
            feed.close_streams()  # open event streams end now, so the shutdown does not wait for them
            super().handle_exit(sig, frame)

    # no access log: a line per request on stderr costs more than answering a read
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on", timeout_graceful_shutdown=2)
    if report is not None:
        report(f"gitstore: serving {app.state.store_path} on http://{shown}:{bound}/ (API: /api/, events: /events; Ctrl-C stops)")
    try:
        Server(config).run(sockets=[sock])
    finally:
        sock.close()
        sys.stderr.flush()


__all__ = ["create_app", "run_server", "store_of", "actor_for_token", "ENDPOINTS", "DEFAULT_HOST", "DEFAULT_PORT", "check_store"]
