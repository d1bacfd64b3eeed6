"""Webhooks: every committed change POSTed to registered endpoints, signed, in order.

Each event of the change feed (``feed.events_since``: one per commit on the branch, so
pulls and plain ``git commit`` count too) is delivered to every endpoint that takes its
type, as the endpoint's actor may see it (``Event.as_seen`` for
``Store.as_viewer(actor).viewer``: a customer-facing actor's endpoint never gets an
event of an internal-only commit, an ``I`` in ``files`` or an internal summary).

A delivery follows the Standard Webhooks specification 1.0 (standardwebhooks.com):

- ``POST`` to the endpoint's URL, body ``{"type": …, "timestamp": …, "data": …}``
  (``data`` is ``Event.to_json()``, ``timestamp`` the update's time), compact JSON;
- ``webhook-id``: ``<endpoint id>_<event id>`` — the same on every retry, so a receiver
  dedupes on it; ``webhook-timestamp``: the attempt's Unix seconds;
  ``webhook-signature``: ``v1,<base64 HMAC-SHA256>`` per signing secret
  (``signing``), space-separated (two during a rotation);
- a 2xx answer acknowledges it; anything else (3xx included: redirects are not
  followed), a timeout or a refused connection is retried with exponential backoff
  (``Backoff``: 1 s, 2 s, 4 s … capped at 5 min, with jitter; a ``Retry-After`` is
  honoured up to the cap), for as long as it takes: nothing is dropped. ``410 Gone``
  disables the endpoint (the specification's rule) until ``webhook enable``.

Per endpoint the events go out one at a time in commit order: event N+1 is sent once N
is acknowledged. The cursor (``deliveries``) survives restarts and ``kill -9``: at
least once, the same ``webhook-id`` again for an event whose answer was not recorded.
A new endpoint starts at the current head (``from_start`` delivers the whole history).
This module is the API of the commands (and re-exports ``dispatcher.Dispatcher``, the
loop that delivers); the registry (``endpoints``) and the log (``deliveries``) live in
``.git/gitstore/webhooks/``, never committed. docs/http.md#webhooks.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from gitstore.errors import AccessDenied
from gitstore.store import Store
from gitstore.timeutil import format_utc, from_epoch, parse_utc
from gitstore_serve.deliveries import Attempt, DeliveryLog
from gitstore_serve.dispatcher import (
    Backoff,
    DeliveryReport,
    Dispatcher,
    EndpointOutcome,
    commits_behind,
    events_after,
    payload,
    webhook_id,
)
from gitstore_serve.endpoints import (
    DEFAULT_KEEP_OLD,
    Endpoint,
    EndpointRegistry,
    InvalidWebhook,
    WebhookNotFound,
    WebhookRegistryError,
    check_url,
    parse_events,
)
from gitstore_serve.feed import head_id


@dataclass(frozen=True)
class AddedWebhook:
    """A new endpoint and its secret (shown once: ``webhook list`` never shows it)."""

    endpoint: Endpoint
    secret: str

    def to_json(self) -> dict[str, Any]:
        """The endpoint as ``webhook list`` shows it, plus ``secret``."""
        return {**self.endpoint.public(), "secret": self.secret}


@dataclass(frozen=True)
class Rotation:
    """The outcome of ``rotate_secret``.

    Attributes:
        endpoint: the endpoint after the change.
        secret: the new secret (None when the rotation was only ended: ``expire_old``).
        old_expires: when the older secrets stop signing (UTC ISO 8601); None: they
            stopped now (or there were none).
    """

    endpoint: Endpoint
    secret: str | None
    old_expires: str | None

    def to_json(self) -> dict[str, Any]:
        """The rotation as JSON (``webhook rotate-secret --json``)."""
        return {"endpoint": self.endpoint.public(), "secret": self.secret, "old_expires": self.old_expires}


@dataclass(frozen=True)
class WebhookStatus:
    """One endpoint as ``webhook list`` shows it: its registration and where it stands.

    Attributes:
        endpoint: the registration (``Endpoint.public()``: no secret).
        role: the role its actor has now (what decides what it receives; None:
            unrestricted).
        cursor: the last event acknowledged or passed over (None: none yet).
        behind: commits after the cursor; None when the cursor is not on the branch.
        failures: failed attempts in a row of the event at the head of its line.
        next_attempt: when the next retry is due (UTC ISO 8601), after a failure.
        last_error: the last failure, one line.
    """

    endpoint: dict[str, Any]
    role: str | None
    cursor: str | None
    behind: int | None
    failures: int
    next_attempt: str | None
    last_error: str | None

    def to_json(self) -> dict[str, Any]:
        """The status as one JSON object (the endpoint's fields first)."""
        return {
            **self.endpoint, "role": self.role, "cursor": self.cursor, "behind": self.behind, "failures": self.failures,
            "next_attempt": self.next_attempt, "last_error": self.last_error,
        }


# ---------------------------------------------------------------------- the registry API
def registry(store: Store) -> EndpointRegistry:
    """The endpoint registry of ``store`` (``.git/gitstore/webhooks/endpoints.json``)."""
    return EndpointRegistry(store.state_dir)


def delivery_log(store: Store) -> DeliveryLog:
    """The delivery log of ``store`` (``.git/gitstore/webhooks/deliveries.sqlite``)."""
    return DeliveryLog(registry(store).ensure_dir())


def add_webhook(
    store: Store, url: str, *, events: str | Iterable[str] | None = None, actor: str | None = None, from_start: bool = False,
) -> AddedWebhook:
    """Register an endpoint.

    Args:
        store: the open store, viewed as the identity that registers (``Store.viewer``).
        url: where deliveries are POSTed (http or https).
        events: the event types it takes (``feed.EVENT_TYPES``; comma-separated text or
            names); None or ``*``: every type.
        actor: whose role decides what it receives; None: an unnamed reader (the
            store's default role).
        from_start: deliver every commit from the store's first one; else only those
            after the current head.

    Returns:
        The endpoint and its new secret (``whsec_…``: give it to the receiver).

    Raises:
        InvalidWebhook: a bad URL or an unknown event type.
        AccessDenied: ``actor`` may read internal content and the registering
            identity may not (an endpoint never receives more than who registers it
            may read: docs/data-model.md#roles).
    """
    url = check_url(url)
    types = parse_events(events)
    check_may_manage(store, actor, "register an endpoint for")
    start = None if from_start else head_id(store)
    endpoint = registry(store).add(url, types, actor, start)
    return AddedWebhook(endpoint, endpoint.secrets[0].value)


def check_may_manage(store: Store, actor: str | None, doing: str) -> None:
    """Refuse when an endpoint of ``actor`` would receive internal content that
    ``store``'s viewer may not read.

    Raises:
        AccessDenied: see above.
    """
    manager = store.viewer
    target = store.as_viewer(actor).viewer
    if target.internal and not manager.internal:
        who = actor if actor is not None else "an unnamed reader"
        raise AccessDenied(
            f"{manager.label()} may not {doing} {who} ({target.role or 'unrestricted'}): it receives internal updates"
        )


def remove_webhook(store: Store, endpoint_id: str) -> Endpoint:
    """Remove an endpoint, its cursor and its delivery history.

    Raises:
        WebhookNotFound: no such endpoint.
        AccessDenied: see ``check_may_manage``.
    """
    reg = registry(store)
    check_may_manage(store, reg.get(endpoint_id).actor, "remove the endpoint of")
    removed = reg.remove(endpoint_id)
    deliveries = DeliveryLog(reg.ensure_dir())
    try:
        deliveries.forget(endpoint_id)
    finally:
        deliveries.close()
    return removed


def rotate_secret(store: Store, endpoint_id: str, *, keep_old: float = DEFAULT_KEEP_OLD, expire_old: bool = False) -> Rotation:
    """Give an endpoint a new secret, or end a rotation.

    Args:
        store: the open store.
        endpoint_id: the endpoint.
        keep_old: seconds the current secrets keep signing beside the new one (both
            signatures in ``webhook-signature``), so the receiver can switch.
        expire_old: end the rotation instead: no new secret, the older ones stop
            signing now.

    Raises:
        WebhookNotFound: no such endpoint.
        InvalidWebhook: ``keep_old`` is negative.
        AccessDenied: see ``check_may_manage``.
    """
    reg = registry(store)
    check_may_manage(store, reg.get(endpoint_id).actor, "change the secret of the endpoint of")
    if expire_old:
        return Rotation(reg.expire_old(endpoint_id), None, None)
    endpoint = reg.rotate(endpoint_id, keep_old)
    old = [s.expires for s in endpoint.secrets[1:] if s.expires is not None]
    return Rotation(endpoint, endpoint.secrets[0].value, max(old, key=lambda t: parse_utc(t).timestamp()) if old else None)


def enable_webhook(store: Store, endpoint_id: str) -> Endpoint:
    """Resume deliveries to an endpoint disabled by a ``410 Gone`` (from its cursor).

    Raises:
        WebhookNotFound: no such endpoint.
        AccessDenied: see ``check_may_manage``.
    """
    reg = registry(store)
    check_may_manage(store, reg.get(endpoint_id).actor, "enable the endpoint of")
    return reg.set_disabled(endpoint_id, None)


def list_webhooks(store: Store) -> list[WebhookStatus]:
    """Every endpoint with where its delivery stands (no secret, no event content).

    Raises:
        WebhookRegistryError: the registry file is damaged.
    """
    endpoints = registry(store).load()
    if not endpoints:
        return []
    deliveries = delivery_log(store)
    try:
        found = []
        for endpoint in endpoints:
            state = deliveries.state(endpoint.id)
            cursor = state.event if state.known else endpoint.start
            found.append(WebhookStatus(
                endpoint=endpoint.public(), role=store.as_viewer(endpoint.actor).viewer.role, cursor=cursor,
                behind=commits_behind(store, cursor), failures=state.failures,
                next_attempt=format_utc(from_epoch(state.next_at)) if state.next_at is not None else None,
                last_error=state.last_error,
            ))
        return found
    finally:
        deliveries.close()


def delivery_attempts(store: Store, *, endpoint: str | None = None, limit: int | None = 50) -> list[Attempt]:
    """The newest delivery attempts first: ids, types, times, statuses and errors only.

    Raises:
        WebhookNotFound: ``endpoint`` is not registered.
    """
    if endpoint is not None:
        registry(store).get(endpoint)
    deliveries = delivery_log(store)
    try:
        return deliveries.attempts(endpoint, limit)
    finally:
        deliveries.close()


def deliver_pending(
    path: str | Path, *, wait: float = 0.0, endpoint: str | None = None, fsync: bool = True, timeout: float = 15.0,
    backoff: Backoff | None = None,
) -> DeliveryReport:
    """Deliver what is pending now and return (``gitstore webhook deliver``).

    Args:
        path: the store.
        wait: seconds to keep retrying failed deliveries (with backoff) before giving
            up for now; 0: one pass, each endpoint tried once whatever its backoff.
        endpoint: only this endpoint.
        fsync: passed to ``Store.open``.
        timeout: seconds per request.
        backoff: the retry schedule (default ``Backoff()``).

    Raises:
        WebhookNotFound: ``endpoint`` is not registered.
    """
    with Dispatcher(path, fsync=fsync, timeout=timeout, backoff=backoff or Backoff(), only=endpoint) as dispatcher:
        if endpoint is not None:
            registry(dispatcher.store()).get(endpoint)
        return dispatcher.drain(wait)


__all__ = [
    "Dispatcher", "Backoff", "DeliveryReport", "EndpointOutcome", "AddedWebhook", "Rotation", "WebhookStatus",
    "add_webhook", "remove_webhook", "rotate_secret", "enable_webhook", "list_webhooks", "delivery_attempts",
    "deliver_pending", "events_after", "payload", "webhook_id", "WebhookNotFound", "InvalidWebhook",
    "WebhookRegistryError",
]
