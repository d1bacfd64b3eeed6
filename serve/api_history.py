"""Read endpoints of history and search: search, history, diff, blame, log.

Each answers like its CLI command with ``--json``, for the token's actor's role
(docs/data-model.md#viewers-the-role-decides-every-read). Search runs on the index the
server keeps open (``gitstore_index.search.run_search``: the ``prepare`` and ``execute``
that ``gitstore search`` runs, without reopening the index per request).
"""

from __future__ import annotations

import itertools

from gitstore.history.audit import audit_log
from gitstore.history.blame import blame
from gitstore.history.diff import ticket_diff
from gitstore.history.log import ticket_history
from gitstore_serve.api_http import Call, Endpoint, Reply
from gitstore_serve.api_models import BlameQuery, DiffQuery, HistoryQuery, LogQuery, SearchQuery


def search(call: Call) -> Reply:
    """``search QUERY --json``."""
    from gitstore_index.search import run_search

    q = call.query
    results = run_search(
        call.worker.search_index(), q.q, kind=q.kind, ticket=q.ticket, sender_id=q.sender_id, platform=q.platform,
        status=q.status, priority=q.priority, since=q.since, until=q.until, limit=q.limit, viewer=call.store.viewer,
    )
    return Reply(results)


def history(call: Call) -> Reply:
    """``history T_NO --json``: the commits that changed the ticket, newest first."""
    return Reply(ticket_history(call.store, call.t_no, call.query.limit))


def diff(call: Call) -> Reply:
    """``diff T_NO [FROM [TO]] --json``."""
    q = call.query
    return Reply(ticket_diff(call.store, call.t_no, q.from_, q.to))


def blame_file(call: Call) -> Reply:
    """``blame T_NO --external|--internal|--workflow --json``."""
    return Reply(blame(call.store, call.t_no, call.query.file))


def log(call: Call) -> Reply:
    """``log --json``: the store's commits, newest first, at most ``limit``."""
    q = call.query
    entries = audit_log(call.store, ticket=q.ticket, actor=q.actor, agent=q.agent, since=q.since, until=q.until)
    return Reply(list(itertools.islice(entries, q.limit)))


ENDPOINTS = [
    Endpoint("GET", "/api/search", search, "Search every conversation the actor's role may read",
             cli="search --json", query=SearchQuery, tags=("history",)),
    Endpoint("GET", "/api/tickets/{t_no}/history", history, "The commits that changed the ticket, newest first",
             cli="history --json", query=HistoryQuery, tags=("history",)),
    Endpoint("GET", "/api/tickets/{t_no}/diff", diff, "What changed in the ticket between two revisions, in ticket terms",
             cli="diff --json", query=DiffQuery, tags=("history",)),
    Endpoint("GET", "/api/tickets/{t_no}/blame", blame_file, "For each message or field, the commit that added or set it",
             cli="blame --json", query=BlameQuery, tags=("history",)),
    Endpoint("GET", "/api/log", log, "Audit log of the store from the commit trailers, newest first",
             cli="log --json", query=LogQuery, tags=("history",)),
]
"""The history and search endpoints (route table entries)."""

__all__ = ["ENDPOINTS"]
