"""``GET /events``: the change feed (``serve.feed``) as Server-Sent Events.

Each commit on the store's branch is one SSE message, as the token's actor may see it
(``feed.Event.as_seen``: a customer-facing actor gets no message for a commit that
changed only internal files)::

    id: 5f0c…(the commit id)
    data: {"id": "5f0c…", "type": "ticket.updated", "timestamp": "…", "actor": "alice",
           "agent": null, "summary": "Add external message to ticket 1001",
           "tickets": [{"ticket": "1001", "files": ["E", "I", "T"]}]}

The ``id`` is the resume point: a client that reconnects with ``Last-Event-ID`` (or
``?last_event_id=``) gets every commit after it, oldest first, then the live stream.
The feed is read from git itself, so this holds across server restarts and for commits
the server did not make. Without an id a stream starts at the current HEAD.

The server learns of new commits two ways (``FeedWatcher``): its own writes wake the
streams at once (a store subscriber), and the branch ref is polled every
``poll_interval`` seconds for everything else (pulls, plain ``git commit``, the CLI,
other processes). A comment line (``: keep-alive``) is sent every ``keepalive``
seconds of silence so proxies keep the connection open. A resume id that is not on
the branch (a rewritten history) is 404 before the stream starts; mid-stream the
stream sends an ``event: error`` with the problem document and ends.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from typing import Any, AsyncIterator, Iterator

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from gitstore.errors import GitStoreError
from gitstore_serve.api_http import Endpoint, dumps, parse_query
from gitstore_serve.api_models import EventsQuery
from gitstore_serve.auth import actor_for_request, token_of
from gitstore_serve.feed import events_since, head_id
from gitstore_serve.problems import problem_for, status_of, title_of

log = logging.getLogger("gitstore.serve")

BATCH = 200
"""Events read from git per step (a client far behind catches up in steps)."""


class FeedWatcher:
    """Wakes the event streams when the branch moves.

    Args:
        worker: the ``StoreWorker``.
        poll_interval: seconds between two reads of the branch ref.
    """

    def __init__(self, worker: Any, *, poll_interval: float = 0.5):
        self.worker = worker
        self.poll_interval = poll_interval
        self.head: str | None = None
        self.closed = False
        self._changed = asyncio.Event()
        self._poke = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def changed(self) -> asyncio.Event:
        """An event set at the next move of the branch (or when the server closes).
        Take it *before* reading the feed, so no move falls between read and wait."""
        return self._changed

    async def start(self) -> None:
        """Read HEAD and start polling; subscribe to the server's own commits."""
        self._loop = asyncio.get_running_loop()
        self.head = await self.worker.run(self._read_head)
        self.worker.on_commit(self.poke)
        self._task = asyncio.create_task(self._run(), name="gitstore-feed-poll")

    def poke(self) -> None:
        """Check the branch now (thread-safe: the store subscriber calls it on the worker)."""
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._poke.set)

    def close_streams(self) -> None:
        """End every stream (the server is shutting down). Thread-safe."""
        def close() -> None:
            self.closed = True
            self._signal()

        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(close)

    async def stop(self) -> None:
        """Stop polling and end the streams."""
        self.closed = True
        self._signal()
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None

    def _read_head(self) -> str | None:
        return head_id(self.worker.store)

    def _signal(self) -> None:
        old, self._changed = self._changed, asyncio.Event()
        old.set()

    async def _run(self) -> None:
        while not self.closed:
            try:
                await asyncio.wait_for(self._poke.wait(), self.poll_interval)
            except asyncio.TimeoutError:
                pass
            self._poke.clear()
            try:
                head = await self.worker.run(self._read_head)
            except Exception as exc:  # a ref being rewritten, a store closing: the next poll retries
                log.warning("reading the branch for /events failed: %s", exc)
                continue
            if head != self.head:
                self.head = head
                self._signal()


def start_cursor(worker: Any, actor: str, last: str | None) -> str | None:
    """Where a stream starts: after ``last`` (checked to be on the branch), else at HEAD.

    Raises:
        RevisionNotFound: ``last`` is not a commit of the branch's first-parent chain.
    """
    store = worker.view(actor)
    if last is not None:
        events_since(store, last, limit=0)
        return last
    return head_id(store)


class Backlog:
    """Where one stream is: the last event id it passed and the events read from git
    and not yet sent (a walk of the branch is made once per catch-up, then consumed in
    ``BATCH`` steps). Used on the store's worker thread only."""

    def __init__(self, cursor: str | None):
        self.cursor = cursor
        self.events: Iterator[Any] | None = None


def collect(worker: Any, actor: str, backlog: Backlog) -> tuple[list[dict[str, Any]], bool]:
    """The next events of ``backlog`` as ``actor`` sees them, and whether more are
    waiting (on the worker thread).

    Raises:
        RevisionNotFound: the backlog's cursor left the branch (a rewritten history).
    """
    store = worker.view(actor)
    if backlog.events is None:
        backlog.events = events_since(store, backlog.cursor)
    events = list(itertools.islice(backlog.events, BATCH))
    if len(events) < BATCH:
        backlog.events = None  # caught up: the next call walks from the cursor again
    if events:
        backlog.cursor = events[-1].id
    viewer = store.viewer
    seen = [shown.to_json() for shown in (e.as_seen(viewer) for e in events) if shown is not None]
    return seen, backlog.events is not None


def sse_message(event: dict[str, Any]) -> str:
    """One SSE message: ``id`` (the commit id) and one line of JSON ``data``."""
    return f"id: {event['id']}\ndata: {dumps(event)}\n\n"


async def events(request: Request) -> Response:
    """``GET /events`` (see the module doc)."""
    try:
        actor = actor_for_request(request)
        query = parse_query(EventsQuery, request)
        last = request.headers.get("last-event-id") or query.last_event_id
        worker = request.app.state.worker
        cursor = await worker.run(start_cursor, worker, actor, last.strip() if last else None)
    except Exception as exc:
        return problem_for(exc)
    token = token_of(request)[0]
    assert token is not None
    return StreamingResponse(
        stream(request, actor, token, cursor),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


def token_valid(tokens: Any, token: str) -> bool:
    """True while ``token`` is still valid (re-read when ``tokens.json`` changed)."""
    record = tokens.lookup(token)
    return record is not None and record.active


async def stream(request: Request, actor: str, token: str, cursor: str | None) -> AsyncIterator[str]:
    """The SSE body of one client (see the module doc)."""
    app = request.app
    worker, feed, tokens = app.state.worker, app.state.feed, app.state.tokens
    keepalive: float = app.state.keepalive
    loop = asyncio.get_running_loop()
    backlog = Backlog(cursor)
    yield "retry: 1000\n\n"
    while not feed.closed:
        changed = feed.changed()
        try:
            batch, more = await worker.run(collect, worker, actor, backlog)
        except GitStoreError as exc:
            problem = {"type": "urn:gitstore:error:" + type(exc).__name__, "title": title_of(type(exc)),
                       "status": status_of(exc), "detail": " ".join(str(exc).split())}
            yield f"event: error\ndata: {dumps(problem)}\n\n"
            return
        for event in batch:
            yield sse_message(event)
        if not token_valid(tokens, token):
            return  # revoked while streaming: the client's reconnect gets 401
        if more:
            continue
        deadline = loop.time() + keepalive
        while not changed.is_set():
            try:
                await asyncio.wait_for(changed.wait(), min(1.0, keepalive))
            except asyncio.TimeoutError:
                if await request.is_disconnected() or not token_valid(tokens, token):
                    return
                if loop.time() >= deadline:
                    yield ": keep-alive\n\n"
                    deadline = loop.time() + keepalive


ENDPOINTS = [
    Endpoint("GET", "/events", None, "Server-Sent Events: one message per commit, resumable with Last-Event-ID",
             query=EventsQuery, raw=events, tags=("events",), produces="text/event-stream"),
]
"""The events endpoint (route table entry)."""

__all__ = ["ENDPOINTS", "FeedWatcher", "events", "sse_message"]
