"""Ticket queries answered from the index (``gitstore ticket list`` filters).

Filters on workflow state are term lookups on the workflow documents (one per ticket);
``since`` is a time range over the documents the store's viewer may see (an internal
message's time never brings a ticket into a customer-facing viewer's list). The
answer is read from the ``t_no`` column, never from ticket files, so it stays fast on
large stores.
"""

from __future__ import annotations

from datetime import datetime

from gitstore_index.query import parse_when, term, time_range


def find_ticket_numbers(
    index,
    *,
    status: str | None = None,
    priority: str | None = None,
    assignee: str | None = None,
    stage: str | None = None,
    company: str | None = None,
    since: datetime | str | None = None,
    archived: bool | None = False,
) -> list[str]:
    """Return the sorted T_NOs of tickets matching every filter given.

    Args:
        index: an open ``SearchIndex`` (caught up to HEAD first).
        status: E's ``conversation_status`` (active, resolved, escalated).
        priority: HIGH or LOW.
        assignee: ``assigned_member`` (case-insensitive).
        stage: ``workflow_stage`` (trigger, classifier, selection, action, end).
        company: ``company_name``, exact but case-insensitive.
        since: tickets created at or after this time or with a message the store's
            viewer may see at or after it (aware datetime or text such as
            ``2020-03-01`` / ``3 days ago``).
        archived: False leaves archived tickets out (as ``ticket list`` does), True
            keeps only them, None keeps all (docs/data-model.md#archived-tickets).

    Raises:
        InvalidQuery: ``since`` is not a date.
        LockTimeout: the index had to catch up and another writer held it.
    """
    from whoosh.query import And

    since_at = parse_when(since, "--since")
    index.ensure_fresh()
    searcher = index.searcher()
    column = searcher.reader().column_reader("t_no")
    parts = [term("kind", "workflow")]
    for field, value in (("status", status), ("priority", priority), ("assignee", assignee), ("stage", stage), ("company", company)):
        if value:
            parts.append(term(field, value))
    if archived is not None:
        from whoosh.query import Term

        parts.append(Term("archived", archived))
    found = {column[d] for d in searcher.docs_for_query(And(parts))}
    if since_at is not None:
        from gitstore_index.roles import hidden_kinds_of
        from gitstore_index.search import hidden_docs

        hidden = hidden_kinds_of(index.store.viewer)
        recent = set(searcher.docs_for_query(time_range(since_at, None)))
        visible = hidden_docs(index, searcher, hidden).leave_out(recent) if hidden else recent
        active = {column[d] for d in visible}
        found &= active
    return sorted(found)


def find_tickets(store, **filters) -> list[str]:
    """Open the store's index and return the T_NOs matching ``filters``.

    See ``find_ticket_numbers`` for the filters; ``report`` (a callable) receives
    notices such as "building the search index".
    """
    from gitstore_index.store_index import SearchIndex

    report = filters.pop("report", None)
    with SearchIndex.open(store, catch_up=False, report=report) as index:  # ensure_fresh catches up
        return find_ticket_numbers(index, **filters)
