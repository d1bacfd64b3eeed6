"""Ticket endpoints: list, create, show, messages, state, update, rollback, archive.

Each calls the API function of its CLI command (named in ``ENDPOINTS``) on the store as
the token's actor sees it (docs/http.md#tickets).
"""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

from gitstore.errors import InvalidOption
from gitstore.history.rollback import rollback as do_rollback
from gitstore.listing import list_ticket_rows
from gitstore.tickets.archive import archive as do_archive
from gitstore.tickets.archive import unarchive as do_unarchive
from gitstore_serve.api_http import Call, Endpoint, Precondition, Reply, commit_reply
from gitstore_serve.api_models import (
    AgentQuery,
    AtQuery,
    ListQuery,
    MessageBody,
    ReasonBody,
    RollbackBody,
    StateBody,
    TicketCreateBody,
    UpdateBody,
)

FILTERS = ("status", "priority", "assignee", "stage", "company", "since", "archived")


# ---------------------------------------------------------------------------- list
def _fingerprint(query: ListQuery) -> str:
    values = json.dumps([getattr(query, name) for name in FILTERS], sort_keys=True)
    return hashlib.sha256(values.encode()).hexdigest()[:12]


def encode_cursor(commit: str, offset: int, query: ListQuery) -> str:
    """An opaque cursor: the commit the first page listed, the offset and the filters."""
    text = json.dumps({"c": commit, "o": offset, "f": _fingerprint(query)}, separators=(",", ":"))
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, query: ListQuery) -> tuple[str, int]:
    """``(commit, offset)`` of a cursor made by ``encode_cursor`` for the same filters.

    Raises:
        InvalidOption: not such a cursor, or one made for other filters.
    """
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        commit, offset, fingerprint = str(data["c"]), int(data["o"]), str(data["f"])
    except (ValueError, KeyError, TypeError):
        raise InvalidOption("invalid cursor: pass the next_cursor of the previous page as it was") from None
    if fingerprint != _fingerprint(query) or offset < 0 or len(commit) != 40:
        raise InvalidOption("the cursor belongs to another listing: repeat the filters of the first page with it")
    return commit, offset


def list_tickets(call: Call) -> Reply:
    """``ticket list --json``, a page at a time.

    Every page lists the tickets as they were at the commit the first page read (kept
    in the cursor), so a page never repeats or skips a ticket because of a write
    between two requests; a new listing shows the new state.
    """
    store, q = call.store, call.query
    stage = q.stage
    if stage is not None:
        stages = store.workflow().stages
        if stage.lower() not in stages:
            raise InvalidOption(f"stage {stage!r} is not a configured stage (configured: {', '.join(stages)})")
        stage = stage.lower()
    offset, at = 0, q.at
    if q.cursor is not None:
        at, offset = decode_cursor(q.cursor, q)
    options: dict[str, Any] = dict(
        status=q.status, priority=q.priority, assignee=q.assignee, stage=stage, company=q.company, since=q.since,
        archived=None if q.archived else False, limit=offset + q.limit,
    )
    pinned = None if at is None else str(store.resolve(at).id)
    found = list_ticket_rows(store, at=None if pinned == str(store.head().id) else pinned, **options)
    if pinned is not None and found.commit != pinned:  # HEAD moved meanwhile (another process wrote)
        found = list_ticket_rows(store, at=pinned, **options)
    rows = found.rows[offset:]
    end = offset + len(rows)
    next_cursor = encode_cursor(found.commit, end, q) if end < found.total else None
    return Reply({"tickets": rows, "total": found.total, "commit": found.commit, "next_cursor": next_cursor})


# ---------------------------------------------------------------------------- one ticket
def create_ticket(call: Call) -> Reply:
    """``ticket create``."""
    b = call.body
    result = call.store.create_ticket(
        b.t_no, client_name=b.client_name, company_name=b.company_name, priority=b.priority, channel=b.channel,
        platform=b.platform, actor=call.actor, agent=call.agent,
    )
    reply = commit_reply(result, status=201)
    reply.headers["Location"] = f"/api/tickets/{result.t_no}"
    return reply


def show_ticket(call: Call) -> Reply:
    """``ticket show --json``: the complete context; ``ETag`` is the ticket's version."""
    context = call.store.context(call.t_no, at=call.query.at).to_json()
    return Reply(context, etag=context["version"])


def add_message(call: Call) -> Reply:
    """``message add --external|--internal``."""
    b = call.body
    kind = "E" if b.kind == "external" else "I"
    result = call.store.add_message(
        call.t_no, kind, sender=b.sender, sender_id=b.sender_id, content=b.content, actor=call.actor, agent=call.agent,
        message_type=getattr(b, "message_type", None), platform=getattr(b, "platform", None),
        expected_version=call.expected_version,
    )
    return commit_reply(result, status=201)


def set_state(call: Call) -> Reply:
    """``state set``: the fields given (null clears one)."""
    fields = call.body.model_dump(exclude_unset=True)
    if not fields:
        raise InvalidOption("name at least one field to set, e.g. {\"priority\": \"HIGH\"}")
    result = call.store.set_state(call.t_no, fields, actor=call.actor, agent=call.agent,
                                  expected_version=call.expected_version)
    return commit_reply(result)


def update_ticket(call: Call) -> Reply:
    """``update --file``: one synchronized update of E, I and T."""
    data = call.body.model_dump(exclude_unset=True)
    result = call.store.update(call.t_no, data, actor=call.actor, agent=call.agent, expected_version=call.expected_version)
    return commit_reply(result)


def rollback_ticket(call: Call) -> Reply:
    """``rollback --to REV``: one new commit restoring the ticket's files."""
    b = call.body
    return commit_reply(do_rollback(call.store, call.t_no, b.to, actor=call.actor, agent=call.agent, reason=b.reason))


def archive_ticket(call: Call) -> Reply:
    """``archive``."""
    return commit_reply(do_archive(call.store, call.t_no, actor=call.actor, agent=call.agent, reason=call.body.reason))


def unarchive_ticket(call: Call) -> Reply:
    """``unarchive``."""
    return commit_reply(do_unarchive(call.store, call.t_no, actor=call.actor, agent=call.agent, reason=call.body.reason))


TICKET = "/api/tickets/{t_no}"

ENDPOINTS = [
    Endpoint("GET", "/api/tickets", list_tickets, "List tickets, most recently updated first, a page at a time",
             cli="ticket list --json", query=ListQuery, tags=("tickets",)),
    Endpoint("POST", "/api/tickets", create_ticket, "Create a ticket (its E, I and T files) in one commit",
             cli="ticket create", query=AgentQuery, body=TicketCreateBody, acting_agent=True, status=201, etag=True,
             tags=("tickets",)),
    Endpoint("GET", TICKET, show_ticket, "A ticket's complete context: files, unified timeline, decision trail",
             cli="ticket show --json", query=AtQuery, etag=True, tags=("tickets",)),
    Endpoint("PATCH", TICKET, update_ticket, "One synchronized update of E, I and T (update_data)",
             cli="update --file", query=AgentQuery, body=UpdateBody, precondition=Precondition.CORE, acting_agent=True,
             etag=True, tags=("tickets",)),
    Endpoint("POST", TICKET + "/messages", add_message, "Append an external or internal message",
             cli="message add", query=AgentQuery, body=MessageBody, precondition=Precondition.CORE, acting_agent=True,
             status=201, etag=True, tags=("tickets",)),
    Endpoint("POST", TICKET + "/state", set_state, "Set workflow fields (priority, assigned_member, workflow_stage...)",
             cli="state set", query=AgentQuery, body=StateBody, precondition=Precondition.CORE, acting_agent=True,
             etag=True, tags=("tickets",)),
    Endpoint("POST", TICKET + "/rollback", rollback_ticket, "Restore the ticket's files as they were at a revision",
             cli="rollback", query=AgentQuery, body=RollbackBody, precondition=Precondition.LOCKED, acting_agent=True,
             etag=True, tags=("tickets",)),
    Endpoint("POST", TICKET + "/archive", archive_ticket, "Archive the ticket (read-only, left out of lists)",
             cli="archive", query=AgentQuery, body=ReasonBody, precondition=Precondition.LOCKED, acting_agent=True,
             etag=True, tags=("tickets",)),
    Endpoint("POST", TICKET + "/unarchive", unarchive_ticket, "Unarchive the ticket",
             cli="unarchive", query=AgentQuery, body=ReasonBody, precondition=Precondition.LOCKED, acting_agent=True,
             etag=True, tags=("tickets",)),
]
"""The ticket endpoints (route table entries)."""

__all__ = ["ENDPOINTS", "encode_cursor", "decode_cursor"]
