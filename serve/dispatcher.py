"""The webhook dispatcher: delivers the change feed to every endpoint, in order, at least once.

Per endpoint: read the events after its cursor (``deliveries``), pass over those it
does not take (another type, or nothing its actor may see: ``Event.as_seen``), POST
the others one at a time (``signing`` headers) and move the cursor on each 2xx; on a
failure stop there and retry after ``Backoff``. The format and the rules are in
``gitstore_serve.webhooks`` and docs/http.md#webhooks.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from dataclasses import asdict, dataclass, field
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import pygit2

from gitstore.errors import RevisionNotFound
from gitstore.store import Store
from gitstore.timeutil import format_utc, from_epoch, parse_utc
from gitstore_serve.deliveries import CursorState, DeliveryLog, endpoint_lock
from gitstore_serve.endpoints import Endpoint, EndpointRegistry
from gitstore_serve.feed import Event, events_since, head_id
from gitstore_serve.signing import headers

log = logging.getLogger("gitstore.webhooks")

BATCH = 100
"""Events read from the feed at a time (a long backlog is not read whole)."""
REOPEN_EVERY = 600.0
"""Seconds after which the dispatcher thread opens its store afresh (packs merged away
since are let go)."""


@dataclass(frozen=True)
class Backoff:
    """The retry schedule: ``base * factor**(n-1)`` seconds after the n-th failure in a
    row, at most ``cap``, plus up to ``jitter`` of it at random (the specification
    recommends jitter so retries of many senders do not line up).

    Attributes:
        base: seconds after the first failure.
        factor: growth per failure.
        cap: the longest wait, seconds.
        jitter: fraction of the delay added at random (0: none).
    """

    base: float = 1.0
    factor: float = 2.0
    cap: float = 300.0
    jitter: float = 0.1

    def delay(self, failures: int) -> float:
        """Seconds to wait after ``failures`` failures in a row (``failures`` >= 1)."""
        raw = min(self.cap, self.base * self.factor ** max(0, failures - 1))
        return min(self.cap, raw * (1.0 + random.uniform(0.0, self.jitter)))


@dataclass
class EndpointOutcome:
    """What one pass did for one endpoint.

    Attributes:
        endpoint, url: the endpoint.
        delivered: events acknowledged in this pass (or passes, for ``drain``).
        skipped: events passed over: another type, or nothing its actor may see.
        behind: commits after its cursor still to deliver or pass over (0: caught up).
        error: the last failure (one line), the reason it is disabled, or why its
            cursor is lost; None when all went well.
        next_attempt: when its next retry is due (UTC ISO 8601), after a failure.
        busy: another dispatcher (another process) was delivering to it.
        disabled: deliveries stopped (``410 Gone``) until ``webhook enable``.
    """

    endpoint: str
    url: str
    delivered: int = 0
    skipped: int = 0
    behind: int = 0
    error: str | None = None
    next_attempt: str | None = None
    busy: bool = False
    disabled: bool = False

    @property
    def waiting(self) -> bool:
        """True while events remain for it (a retry due later, or another process on it)."""
        return not self.disabled and (self.behind > 0 or self.busy)


@dataclass
class DeliveryReport:
    """The outcome of ``Dispatcher.run_once`` or ``drain``: one ``EndpointOutcome`` per endpoint."""

    endpoints: list[EndpointOutcome] = field(default_factory=list)

    @property
    def delivered(self) -> int:
        """Events acknowledged, over every endpoint."""
        return sum(e.delivered for e in self.endpoints)

    @property
    def waiting(self) -> list[EndpointOutcome]:
        """The endpoints with events still to deliver."""
        return [e for e in self.endpoints if e.waiting]

    def next_due(self) -> float | None:
        """Unix seconds of the earliest retry due, None when none is scheduled."""
        times = [_epoch(e.next_attempt) for e in self.endpoints if e.next_attempt is not None and e.waiting]
        return min(times) if times else None

    def to_json(self) -> dict[str, Any]:
        """The report as JSON (``webhook deliver --json``)."""
        return {"delivered": self.delivered, "waiting": len(self.waiting), "endpoints": [asdict(e) for e in self.endpoints]}


def commits_behind(store: Store, cursor: str | None) -> int | None:
    """Commits on the branch's first-parent chain after ``cursor`` (None: every one);
    None when ``cursor`` is not on that chain."""
    head = head_id(store)
    if head is None:
        return 0
    count = 0
    commit: pygit2.Commit | None = store.repo[head].peel(pygit2.Commit)
    while commit is not None:
        if cursor is not None and str(commit.id) == cursor:
            return count
        count += 1
        commit = commit.parents[0] if commit.parents else None
    return count if cursor is None else None


def events_after(store: Store, cursor: str | None, limit: int = BATCH) -> list[Event] | None:
    """The next (at most ``limit``) events after ``cursor``, oldest first.

    A cursor off the first-parent chain but in the branch's history (a fast-forward
    pull onto a merge the other site made, with this site's commits as its second
    parent) resumes after the newest chain commit it descends from: the merge itself is
    delivered, the commits before it on that chain were delivered already.

    Returns:
        The events; None when ``cursor`` is not in the branch's history at all (a
        rewritten history).
    """
    try:
        return list(events_since(store, cursor, limit=limit))
    except RevisionNotFound:
        if cursor is None:
            return None
    head = head_id(store)
    repo = store.repo
    try:
        target = repo[cursor]
        if head is None or not repo.descendant_of(head, target.id):
            return None
    except (KeyError, ValueError, pygit2.GitError):
        return None
    commit: pygit2.Commit | None = repo[head].peel(pygit2.Commit)
    while commit is not None:
        if repo.descendant_of(target.id, commit.id):
            return list(events_since(store, str(commit.id), limit=limit))
        commit = commit.parents[0] if commit.parents else None
    return None


def payload(event: Event) -> bytes:
    """The request body of a delivery of ``event`` (already as its endpoint sees it)."""
    document = {"type": event.type, "timestamp": event.timestamp, "data": event.to_json()}
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def webhook_id(endpoint: Endpoint, event: Event) -> str:
    """The ``webhook-id`` of ``event`` at ``endpoint``: the same on every attempt."""
    return f"{endpoint.id}_{event.id}"


class Dispatcher:
    """Delivers the feed to every endpoint: in a thread (``start``/``stop``, what
    ``gitstore serve`` runs) or pass by pass (``run_once``/``drain``: tests and
    ``gitstore webhook deliver``).

    It opens its own ``Store`` (one thread per store object) and notices new commits by
    reading the branch's ref every ``poll_interval`` seconds: a pass when neither the
    head nor the registry changed and no retry is due costs a ``stat`` and a ref read.
    Several dispatchers (the server and a ``webhook deliver``) may run on one store:
    each endpoint is delivered to by one at a time (a lock per endpoint), the others
    pass it over.

    Args:
        store_path: the store (any path inside it).
        poll_interval: seconds between looks at the branch while idle.
        backoff: the retry schedule.
        timeout: seconds per request (the specification suggests 15 to 30).
        fsync: passed to ``Store.open`` (a process-wide setting of libgit2).
        only: deliver to this endpoint id only (None: every endpoint).
    """

    def __init__(
        self, store_path: str | Path, *, poll_interval: float = 1.0, backoff: Backoff | None = None, timeout: float = 15.0,
        fsync: bool = True, only: str | None = None,
    ):
        self.store_path = Path(store_path)
        self.poll_interval = poll_interval
        self.backoff = backoff or Backoff()
        self.timeout = timeout
        self.fsync = fsync
        self.only = only
        self._store: Store | None = None
        self._log: DeliveryLog | None = None
        self._client: Any = None
        self._idle: tuple[Any, ...] | None = None
        self._pass = threading.Lock()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    # -------------------------------------------------------------- lifecycle
    def store(self) -> Store:
        """The dispatcher's own store, opened on first use.

        Raises:
            NotAStoreError: ``store_path`` is not a store.
        """
        if self._store is None:
            self._store = Store.open(self.store_path, fsync=self.fsync)
        return self._store

    def start(self) -> None:
        """Deliver in a background thread until ``stop``."""
        if self._thread is not None and self._thread.is_alive():
            return
        self._stopping.clear()
        self._thread = threading.Thread(target=self._loop, name="gitstore-webhooks", daemon=True)
        self._thread.start()

    def stop(self, timeout: float | None = None) -> None:
        """Stop the thread (after the request in flight, at most ``timeout`` seconds:
        default the request timeout plus a little) and close what it opened."""
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(self.timeout + 5.0 if timeout is None else timeout)
            self._thread = None
        self.close()

    def notify(self) -> None:
        """Look at the branch now instead of at the next poll (after an in-process commit)."""
        self._wake.set()

    def close(self) -> None:
        """Close the HTTP client, the delivery log and the store (unless a pass is still
        running after ``stop`` gave up waiting for it: the daemon thread keeps them)."""
        if not self._pass.acquire(timeout=self.timeout + 5.0):
            return
        try:
            if self._client is not None:
                self._client.close()
                self._client = None
            if self._log is not None:
                self._log.close()
                self._log = None
            if self._store is not None:
                self._store.close()
                self._store = None
        finally:
            self._pass.release()

    def __enter__(self) -> "Dispatcher":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _loop(self) -> None:
        opened = time.monotonic()
        while not self._stopping.is_set():
            wait = self.poll_interval
            if time.monotonic() - opened > REOPEN_EVERY:  # libgit2 keeps every pack it has seen open
                self.close()
                opened = time.monotonic()
            try:
                report = self.run_once()
                due = report.next_due()
                if due is not None:
                    wait = max(0.0, min(wait, due - time.time()))
            except Exception:  # a bad registry, a store being repaired: said, retried
                log.exception("webhook delivery pass failed")
            self._wake.wait(wait)
            self._wake.clear()

    # -------------------------------------------------------------- passes
    def run_once(self, *, retry_now: bool = False) -> DeliveryReport:
        """One pass: each endpoint gets its pending events in order until one fails.

        Args:
            retry_now: try endpoints whose retry is not due yet too.

        Raises:
            WebhookRegistryError: the registry file is damaged.
        """
        with self._pass:
            store = self.store()
            reg = EndpointRegistry(store.state_dir)
            stamp = (head_id(store), reg.stamp())
            if not retry_now and self._idle == stamp:
                return DeliveryReport()
            endpoints = [e for e in reg.load() if self.only is None or e.id == self.only]
            deliveries = self._deliveries(reg)
            if self.only is None:
                known = {e.id for e in endpoints}
                for gone in set(deliveries.endpoints()) - known:
                    deliveries.forget(gone)
            report = DeliveryReport([self._endpoint(store, deliveries, e, retry_now) for e in endpoints])
            self._idle = stamp if not report.waiting and not any(o.error for o in report.endpoints if not o.disabled) else None
            return report

    def drain(self, timeout: float = 0.0, *, retry_now: bool = True) -> DeliveryReport:
        """Passes until nothing is pending, or ``timeout`` seconds went by (retries are
        made when due, by the backoff); the first pass tries every endpoint now when
        ``retry_now``. Returns the report summed over the passes."""
        deadline = time.monotonic() + timeout
        total: dict[str, EndpointOutcome] = {}
        report = self.run_once(retry_now=retry_now)
        while True:
            for outcome in report.endpoints:
                before = total.get(outcome.endpoint)
                if before is not None:
                    outcome.delivered += before.delivered
                    outcome.skipped += before.skipped
                total[outcome.endpoint] = outcome
            summed = DeliveryReport(list(total.values()))
            left = deadline - time.monotonic()
            if not summed.waiting or left <= 0 or self._stopping.is_set():
                return summed
            due = summed.next_due()
            pause = min(left, max(0.0, due - time.time())) if due is not None else min(left, self.poll_interval)
            if self._wake.wait(pause):
                self._wake.clear()
            report = self.run_once(retry_now=False)

    def _deliveries(self, reg: EndpointRegistry) -> DeliveryLog:
        if self._log is None:
            self._log = DeliveryLog(reg.ensure_dir())
        return self._log

    def _http(self) -> Any:
        if self._client is None:
            import httpx

            from gitstore import __version__

            self._client = httpx.Client(
                timeout=self.timeout, follow_redirects=False, headers={"user-agent": f"gitstore-webhooks/{__version__}"}
            )
        return self._client

    def _endpoint(self, store: Store, deliveries: DeliveryLog, endpoint: Endpoint, retry_now: bool) -> EndpointOutcome:
        outcome = EndpointOutcome(endpoint.id, endpoint.url)
        if endpoint.disabled is not None:
            outcome.disabled, outcome.error = True, endpoint.disabled
            return outcome
        from filelock import Timeout

        lock = endpoint_lock(deliveries.path.parent, endpoint.id)
        try:
            lock.acquire(timeout=0)
        except Timeout:
            outcome.busy = True
            return outcome
        try:
            self._deliver(store, deliveries, endpoint, retry_now, outcome)
        finally:
            lock.release()
        return outcome

    def _deliver(
        self, store: Store, deliveries: DeliveryLog, endpoint: Endpoint, retry_now: bool, outcome: EndpointOutcome
    ) -> None:
        state = deliveries.ensure(endpoint.id, endpoint.start)
        if state.next_at is not None and state.next_at > time.time() and not retry_now:
            outcome.behind = commits_behind(store, state.event) or 0
            outcome.error, outcome.next_attempt = state.last_error, format_utc(from_epoch(state.next_at))
            return
        viewer = store.as_viewer(endpoint.actor).viewer
        cursor, moved = state.event, False
        while not self._stopping.is_set():
            batch = events_after(store, cursor)
            if batch is None:
                outcome.error = f"its cursor {cursor} is not in the branch's history (rewritten?): remove and add the endpoint again"
                outcome.behind = 1
                return
            if not batch:
                break
            for event in batch:
                seen = event.as_seen(viewer) if endpoint.takes(event.type) else None
                if seen is None:
                    outcome.skipped += 1
                    cursor, moved = event.id, True
                    continue
                if moved:
                    deliveries.advance(endpoint.id, cursor)
                    moved = False
                    state = deliveries.state(endpoint.id)
                failed = self._send(deliveries, endpoint, seen, state)
                if failed is not None:
                    outcome.error, outcome.next_attempt, disabled = failed
                    outcome.behind = commits_behind(store, cursor) or 0
                    if disabled is not None:
                        outcome.disabled, outcome.error, outcome.next_attempt = True, disabled, None
                    return
                outcome.delivered += 1
                cursor = event.id
                state = CursorState(endpoint.id, cursor)
                if self._stopping.is_set():
                    break
        if moved:
            deliveries.advance(endpoint.id, cursor)
        outcome.behind = commits_behind(store, cursor) or 0

    def _send(
        self, deliveries: DeliveryLog, endpoint: Endpoint, event: Event, state: CursorState
    ) -> tuple[str, str, str | None] | None:
        """POST one event; None when acknowledged, else (error, next attempt, why the
        endpoint is now disabled or None)."""
        import httpx

        body = payload(event)
        delivery = webhook_id(endpoint, event)
        row = deliveries.begin(endpoint.id, event.id, delivery, event.type)
        stamp = int(time.time())
        status: int | None = None
        retry_after: float | None = None
        try:
            response = self._http().post(endpoint.url, content=body, headers=headers(delivery, stamp, body, endpoint.signing_secrets()))
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            error = f"{type(exc).__name__}: {' '.join(str(exc).split()) or 'no answer'}"
        else:
            status = response.status_code
            if 200 <= status < 300:
                deliveries.delivered(endpoint.id, event.id, row, status)
                return None
            error = f"HTTP {status} {response.reason_phrase}".rstrip()
            retry_after = _retry_after(response.headers.get("retry-after"))
        failures = (state.failures if state.pending == event.id else 0) + 1
        delay = self.backoff.delay(failures)
        if retry_after is not None:
            delay = max(delay, min(retry_after, self.backoff.cap))
        next_at = time.time() + delay
        deliveries.failed(endpoint.id, event.id, row, status, error, next_at, failures)
        disabled = None
        if status == 410:
            disabled = "the receiver answered 410 Gone: deliveries stopped ('gitstore webhook enable' resumes them)"
            EndpointRegistry(self.store().state_dir).set_disabled(endpoint.id, disabled)
        return error, format_utc(from_epoch(next_at)), disabled


def _retry_after(value: str | None) -> float | None:
    """Seconds of a ``Retry-After`` header (delta seconds or an HTTP date), None if absent or bad."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


def _epoch(text: str) -> float:
    return parse_utc(text).timestamp()
