"""The webhook endpoint registry: ``.git/gitstore/webhooks/endpoints.json``.

One JSON document lists every endpoint — its id, URL, the event types it takes, the
actor whose role decides what it receives, where its delivery starts, and its signing
secrets. It lives in ``.git``, so it is never committed, pushed or cloned: each site
registers its own endpoints. The file and its folder are the owner's only (modes 0600
and 0700: the secrets sign what receivers trust), every change is made under a
``filelock`` lock and written whole (temporary file, fsync, rename), so a reader sees
the old or the new registry, never half of one.
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

from gitstore.errors import GitStoreError
from gitstore.timeutil import format_utc, parse_utc, utc_now
from gitstore_serve.feed import EVENT_TYPES
from gitstore_serve.signing import new_secret

REGISTRY = "endpoints.json"
FOLDER = "webhooks"
DEFAULT_KEEP_OLD = 24 * 3600.0
"""Seconds an old secret keeps signing after a rotation, unless told otherwise."""


class WebhookNotFound(GitStoreError, KeyError):
    """No registered webhook endpoint has this id."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "webhook endpoint not found"


class InvalidWebhook(GitStoreError, ValueError):
    """A webhook endpoint that cannot be registered: a bad URL or an unknown event type."""


class WebhookRegistryError(GitStoreError, ValueError):
    """The registry file cannot be read as a registry (hand-edited or damaged)."""


@dataclass(frozen=True)
class Secret:
    """One signing secret of an endpoint.

    Attributes:
        value: ``whsec_…`` (``signing.new_secret``).
        created: when it was made (UTC ISO 8601).
        expires: when it stops signing (UTC ISO 8601); None: until it is rotated out.
    """

    value: str
    created: str
    expires: str | None = None

    def signs_at(self, when: datetime) -> bool:
        """True while the secret still signs at ``when`` (aware UTC)."""
        return self.expires is None or parse_utc(self.expires) > when


@dataclass(frozen=True)
class Endpoint:
    """A registered webhook endpoint.

    Attributes:
        id: ``ep_`` + 12 hex digits: part of every ``webhook-id`` it receives.
        url: where deliveries are POSTed (http or https).
        events: the event types it takes (``feed.EVENT_TYPES``).
        actor: whose role decides what it receives (None: an unnamed reader, who gets
            the store's default role); resolved at each delivery against the roles at
            the branch's head (``Store.as_viewer``).
        created: when it was registered (UTC ISO 8601).
        start: the commit id its delivery starts after (the head when it was added);
            None: from the store's first commit (``--from-start``).
        secrets: its signing secrets, the newest first.
        disabled: why deliveries to it stopped (the receiver answered 410 Gone); None
            while it is active.
    """

    id: str
    url: str
    events: tuple[str, ...]
    actor: str | None
    created: str
    start: str | None
    secrets: tuple[Secret, ...] = field(default_factory=tuple)
    disabled: str | None = None

    def signing_secrets(self, when: datetime | None = None) -> list[str]:
        """The secrets that sign a delivery made at ``when`` (default: now), newest first."""
        when = when or utc_now()
        return [s.value for s in self.secrets if s.signs_at(when)]

    def takes(self, event_type: str) -> bool:
        """True when the endpoint takes events of ``event_type``."""
        return event_type in self.events

    def public(self) -> dict[str, Any]:
        """The endpoint as JSON without its secret values (what ``webhook list`` shows;
        ``signing``: how many of its secrets sign now, 2 during a rotation)."""
        return {
            "id": self.id, "url": self.url, "events": list(self.events), "actor": self.actor, "created": self.created,
            "start": self.start, "disabled": self.disabled,
            "secrets": [{"created": s.created, "expires": s.expires} for s in self.secrets],
            "signing": len(self.signing_secrets()),
        }

    def to_json(self) -> dict[str, Any]:
        """The endpoint as stored, secrets included."""
        stored = {k: v for k, v in self.public().items() if k != "signing"}
        return {**stored, "secrets": [{"value": s.value, "created": s.created, "expires": s.expires} for s in self.secrets]}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "Endpoint":
        """Read one stored endpoint.

        Raises:
            KeyError, TypeError, ValueError: a field is missing or of the wrong type.
        """
        return cls(
            id=str(data["id"]), url=str(data["url"]), events=tuple(str(e) for e in data["events"]),
            actor=None if data.get("actor") is None else str(data["actor"]), created=str(data["created"]),
            start=None if data.get("start") is None else str(data["start"]),
            secrets=tuple(Secret(str(s["value"]), str(s["created"]), s.get("expires")) for s in data["secrets"]),
            disabled=data.get("disabled"),
        )


def parse_events(events: str | Iterable[str] | None) -> tuple[str, ...]:
    """The event types of ``--events``: comma-separated names of ``feed.EVENT_TYPES``;
    None or ``*``: every type. Returned in ``EVENT_TYPES`` order, each once.

    Raises:
        InvalidWebhook: an unknown type, or none at all.
    """
    if events is None:
        return EVENT_TYPES
    names = [n.strip() for n in (events.split(",") if isinstance(events, str) else events)]
    names = [n for n in names if n]
    if "*" in names:
        return EVENT_TYPES
    unknown = [n for n in names if n not in EVENT_TYPES]
    if unknown:
        raise InvalidWebhook(f"unknown event type {unknown[0]!r}: use {', '.join(EVENT_TYPES)} (or *)")
    if not names:
        raise InvalidWebhook(f"no event type given: use {', '.join(EVENT_TYPES)} (or *)")
    return tuple(t for t in EVENT_TYPES if t in names)


def check_url(url: str) -> str:
    """``url`` if deliveries can be POSTed to it (http or https, with a host).

    Raises:
        InvalidWebhook: anything else.
    """
    import httpx

    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError, ValueError) as exc:
        raise InvalidWebhook(f"not a URL: {url!r} ({exc})") from None
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise InvalidWebhook(f"a webhook URL is http:// or https:// with a host, not {url!r}")
    return str(parsed)


class EndpointRegistry:
    """The registry of one store (``Store.state_dir`` / ``webhooks``).

    Args:
        state_dir: the store's ``.git/gitstore`` folder.
        lock_timeout: seconds to wait for the registry lock.
    """

    def __init__(self, state_dir: Path, *, lock_timeout: float = 10.0):
        self.dir = Path(state_dir) / FOLDER
        self.path = self.dir / REGISTRY
        self.lock_timeout = lock_timeout

    def ensure_dir(self) -> Path:
        """Create the folder (mode 0700) when it is missing; return it."""
        self.dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(self.dir, 0o700)
        return self.dir

    def stamp(self) -> tuple[int, int, int] | None:
        """What changes whenever the registry is rewritten (a cheap check for pollers)."""
        try:
            st = self.path.stat()
        except FileNotFoundError:
            return None
        return (st.st_mtime_ns, st.st_size, st.st_ino)

    def load(self) -> list[Endpoint]:
        """Every endpoint, in the order they were added.

        Raises:
            WebhookRegistryError: the file is not a registry.
        """
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return []
        try:
            data = json.loads(text)
            return [Endpoint.from_json(item) for item in data["endpoints"]]
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise WebhookRegistryError(f"{self.path} is not a webhook registry ({type(exc).__name__}: {exc})") from None

    def get(self, endpoint_id: str) -> Endpoint:
        """The endpoint ``endpoint_id``.

        Raises:
            WebhookNotFound: no such endpoint.
        """
        return _find(self.load(), endpoint_id)

    def add(self, url: str, events: Sequence[str], actor: str | None, start: str | None) -> Endpoint:
        """Register an endpoint with a new secret; returns it (its secret included)."""
        now = format_utc(utc_now())

        def change(endpoints: list[Endpoint]) -> Endpoint:
            taken = {e.id for e in endpoints}
            endpoint_id = f"ep_{secrets.token_hex(6)}"
            while endpoint_id in taken:
                endpoint_id = f"ep_{secrets.token_hex(6)}"
            endpoint = Endpoint(endpoint_id, url, tuple(events), actor, now, start, (Secret(new_secret(), now),))
            endpoints.append(endpoint)
            return endpoint

        return self._change(change)

    def remove(self, endpoint_id: str) -> Endpoint:
        """Remove an endpoint; returns what it was.

        Raises:
            WebhookNotFound: no such endpoint.
        """
        def change(endpoints: list[Endpoint]) -> Endpoint:
            found = _find(endpoints, endpoint_id)
            endpoints.remove(found)
            return found

        return self._change(change)

    def rotate(self, endpoint_id: str, keep_old: float = DEFAULT_KEEP_OLD) -> Endpoint:
        """Give an endpoint a new secret; its current ones keep signing ``keep_old``
        seconds more (an earlier expiry stays), then stop.

        Raises:
            WebhookNotFound: no such endpoint.
            InvalidWebhook: ``keep_old`` is negative.
        """
        if keep_old < 0:
            raise InvalidWebhook(f"an old secret cannot stop signing in the past ({keep_old} s)")
        now = utc_now()
        until = now + timedelta(seconds=keep_old)

        def change(endpoints: list[Endpoint]) -> Endpoint:
            found = _find(endpoints, endpoint_id)
            old = tuple(
                s if s.expires is not None and parse_utc(s.expires) <= until else replace(s, expires=format_utc(until))
                for s in found.secrets if s.signs_at(now)
            )
            rotated = replace(found, secrets=(Secret(new_secret(), format_utc(now)),) + old)
            endpoints[endpoints.index(found)] = rotated
            return rotated

        return self._change(change)

    def expire_old(self, endpoint_id: str) -> Endpoint:
        """End a rotation: only the newest secret signs from now on.

        Raises:
            WebhookNotFound: no such endpoint.
        """
        def change(endpoints: list[Endpoint]) -> Endpoint:
            found = _find(endpoints, endpoint_id)
            kept = replace(found, secrets=found.secrets[:1])
            endpoints[endpoints.index(found)] = kept
            return kept

        return self._change(change)

    def set_disabled(self, endpoint_id: str, reason: str | None) -> Endpoint:
        """Stop (a reason) or resume (None) deliveries to an endpoint; its cursor stays.

        Raises:
            WebhookNotFound: no such endpoint.
        """
        def change(endpoints: list[Endpoint]) -> Endpoint:
            found = _find(endpoints, endpoint_id)
            changed = replace(found, disabled=reason)
            endpoints[endpoints.index(found)] = changed
            return changed

        return self._change(change)

    def _change(self, change: Callable[[list[Endpoint]], Endpoint]) -> Endpoint:
        from filelock import FileLock

        self.ensure_dir()
        with FileLock(str(self.dir / (REGISTRY + ".lock")), timeout=self.lock_timeout, mode=0o600):
            endpoints = self.load()
            result = change(endpoints)
            self._save(endpoints)
        return result

    def _save(self, endpoints: list[Endpoint]) -> None:
        text = json.dumps({"version": 1, "endpoints": [e.to_json() for e in endpoints]}, indent=2, ensure_ascii=False) + "\n"
        tmp = self.path.with_name(f".{REGISTRY}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                out.write(text)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        dir_fd = os.open(self.dir, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def _find(endpoints: list[Endpoint], endpoint_id: str) -> Endpoint:
    for endpoint in endpoints:
        if endpoint.id == endpoint_id:
            return endpoint
    raise WebhookNotFound(f"no webhook endpoint {endpoint_id!r} ('gitstore webhook list' shows them)")
