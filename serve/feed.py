"""The change feed: every commit on the store's branch as one event, resumable by commit id.

Both the Server-Sent Events stream (``GET /events``) and webhook deliveries read this
feed, so they carry the same events in the same order. The feed is derived from git
itself — the first-parent chain of ``refs/heads/main`` — so commits the server did not
make (a pull, a plain ``git commit``, another process) appear in it too, and a client
that reconnects with the last event id it saw (a commit id) misses nothing.

An event is one commit:

- ``id``: the commit id (40 hex digits), also the SSE ``id`` and the resume point;
- ``type``: ``ticket.created`` (a T file appeared), ``ticket.updated``,
  ``config.updated`` (``.gitstore/config.json`` changed) or ``store.updated``;
- ``timestamp``: the update's time (author date, UTC ISO 8601);
- ``actor``, ``agent``, ``summary``: from the commit (``Actor:``/``Agent:`` trailers);
- ``tickets``: ``[{"ticket": T_NO, "files": ["E", "T"]}]`` — what it changed.

Each viewer gets the feed as it may see it (``Event.as_seen``): a customer-facing viewer
gets no event for a commit that changed only I files, never sees ``I`` in ``files``, and
sees the summary of such commits as ``internal update`` (docs/data-model.md#roles).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Iterator

import pygit2

from gitstore.config import CONFIG_PATH
from gitstore.errors import RevisionNotFound
from gitstore.history.log import commit_ticket_kinds
from gitstore.objects.refs import BRANCH
from gitstore.objects.trees import blob_at
from gitstore.store import Store
from gitstore.tickets import layout
from gitstore.timeutil import format_utc, from_epoch
from gitstore.viewer import Viewer

EVENT_TYPES = ("ticket.created", "ticket.updated", "config.updated", "store.updated")
"""Every event type the feed emits (what ``webhook add --events`` filters on)."""


@dataclass(frozen=True)
class Event:
    """One committed change (see the module doc for the fields)."""

    id: str
    type: str
    timestamp: str
    actor: str
    agent: str | None
    summary: str
    tickets: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """The event as a JSON object (the SSE ``data`` and the webhook ``data``)."""
        return {
            "id": self.id, "type": self.type, "timestamp": self.timestamp, "actor": self.actor,
            "agent": self.agent, "summary": self.summary, "tickets": self.tickets,
        }

    def as_seen(self, viewer: Viewer) -> "Event | None":
        """The event as ``viewer`` may see it; None when it may see nothing of it."""
        if viewer.internal:
            return self
        tickets = [
            {"ticket": t["ticket"], "files": [k for k in t["files"] if k != "I"]}
            for t in self.tickets
            if any(k != "I" for k in t["files"])
        ]
        if self.tickets and not tickets:
            return None  # only internal files changed: nothing a customer-facing viewer may know
        kinds = [k for t in self.tickets for k in t["files"]]
        return replace(self, tickets=tickets, summary=viewer.summary(self.summary, kinds))


def head_id(store: Store) -> str | None:
    """The commit id the branch points at (None for an empty hub)."""
    try:
        return str(store.repo.references[BRANCH].target)
    except KeyError:
        return None


def event_of(repo: pygit2.Repository, commit: pygit2.Commit) -> Event:
    """The event of one commit."""
    try:
        trailers = dict(commit.message_trailers)
    except (pygit2.GitError, ValueError):
        trailers = {}
    changed = commit_ticket_kinds(repo, commit)
    parent = commit.parents[0].tree if commit.parents else None
    tickets = [{"ticket": t_no, "files": sorted(kinds, key="EIT".index)} for t_no, kinds in sorted(changed.items())]
    if tickets:
        created = parent is None or any(
            "T" in kinds and blob_at(parent, layout.ticket_path("T", t_no)) is None for t_no, kinds in changed.items()
        )
        kind = "ticket.created" if created else "ticket.updated"
    elif blob_at(commit.tree, CONFIG_PATH) != (blob_at(parent, CONFIG_PATH) if parent is not None else None):
        kind = "config.updated"
    else:
        kind = "store.updated"
    return Event(
        id=str(commit.id),
        type=kind,
        timestamp=format_utc(from_epoch(commit.author.time)),
        actor=trailers.get("Actor", commit.author.name),
        agent=trailers.get("Agent"),
        summary=commit.message.splitlines()[0] if commit.message else "",
        tickets=tickets,
    )


def events_since(store: Store, since: str | None, *, limit: int | None = None) -> Iterator[Event]:
    """The events after commit ``since`` on the branch's first-parent chain, oldest first.

    Args:
        store: the open store.
        since: the last event id a client saw; None for every event from the first
            commit (with ``limit``: the newest ``limit`` of them).
        limit: at most this many events (the oldest ones after ``since``).

    Raises:
        RevisionNotFound: ``since`` is not a commit on the branch's first-parent chain
            (a history rewritten under the client, or a wrong id).
    """
    head = head_id(store)
    if head is None:
        return iter(())
    repo = store.repo
    chain: list[pygit2.Commit] = []
    commit: pygit2.Commit | None = repo[head].peel(pygit2.Commit)
    found = since is None
    while commit is not None:
        if since is not None and str(commit.id) == since:
            found = True
            break
        chain.append(commit)
        commit = commit.parents[0] if commit.parents else None
    if not found:
        raise RevisionNotFound(f"event id {since!r} is not a commit of this store's branch (history rewritten?)")
    chain.reverse()
    if limit is not None:
        chain = chain[:limit] if since is not None else chain[-limit:]
    return (event_of(repo, c) for c in chain)
