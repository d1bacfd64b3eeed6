"""Archiving tickets: read-only, hidden from ``ticket list``, history continuous.

Choice (docs/data-model.md#archived-tickets): an in-place flag, ``archived`` in the T file
(``WorkflowState.archived``), set and cleared by ordinary synchronized updates. The
files never move, so a ticket's history, blame and ``--at`` lookups stay continuous
with no reliance on git's rename detection (which is heuristic and, for files that
change in the same commit as they move, can miss).

Rules:

- ``archive`` sets the flag, ``unarchive`` clears it; each is one commit through the
  normal write path (lock, validation, compare-and-swap) with an ``Archive:`` trailer.
- While the flag is set every write is refused (``ArchivedTicket``) in the write path
  itself (``Store._write`` calls ``check_writable``), except the one that only clears
  the flag. A rollback of an archived ticket is refused too (unarchive first).
- ``Store.list_tickets(archived=False)`` leaves archived tickets out; ``ticket list``
  shows them only with ``--archived``.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from gitstore.errors import ArchivedTicket
from gitstore.objects.trees import blob_at
from gitstore.tickets.files import STAMP_FIELDS
from gitstore.tickets.layout import ticket_path

if TYPE_CHECKING:
    from gitstore.store import Store


def _same_apart_from_stamps_and_flag(current: Any, new: Any) -> bool:
    """True when ``new`` equals ``current`` except sync stamps and the archived flag."""
    for kind, field in STAMP_FIELDS.items():
        old = current.get(kind)
        keep = {field: getattr(old, field)}
        if kind == "T":
            keep["archived"] = old.archived
        if new.get(kind).model_copy(update=keep) != old:
            return False
    return True


def check_writable(t_no: str, current: Any, new: Any, items_changed: bool = False) -> None:
    """Refuse a write to an archived ticket (called by the write path before committing).

    Args:
        t_no: the ticket.
        current: its ``TicketFiles`` at HEAD, or None for a new ticket.
        new: the ``TicketFiles`` about to be written.
        items_changed: the write appends or changes list items (messages, progress
            updates, decisions) that ``current``/``new`` do not hold (the write path
            compares files without their item lists).

    Raises:
        ArchivedTicket: ``current`` is archived and ``new`` is anything but the same
            ticket with the flag cleared (an unarchive).
    """
    if current is None or not current.workflow.archived:
        return
    if not items_changed and not new.workflow.archived and _same_apart_from_stamps_and_flag(current, new):
        return
    raise ArchivedTicket(f"ticket {t_no} is archived (read-only); run 'gitstore unarchive {t_no}' first; nothing written")


def archive(store: Store, t_no: str, *, actor: str, agent: str | None = None, reason: str | None = None):
    """Archive a ticket: one synchronized update that sets ``archived`` in its T file.

    Args:
        store: an open ``Store``.
        t_no: the ticket.
        actor: who archives (commit author); agent: automated agent's name, if any.
        reason: optional text, recorded as a ``Reason:`` trailer.

    Returns:
        The ``CommitResult`` of the new commit.

    Raises:
        TicketNotFound, InvalidTicketNumber, ArchivedTicket (already archived),
        ConflictError (the ticket changed while archiving).
    """
    return _set_flag(store, t_no, True, actor=actor, agent=agent, reason=reason)


def unarchive(store: Store, t_no: str, *, actor: str, agent: str | None = None, reason: str | None = None):
    """Unarchive a ticket: one synchronized update that clears ``archived``.

    Raises:
        TicketNotFound, InvalidTicketNumber, ArchivedTicket (the ticket is not
        archived), ConflictError.
    """
    return _set_flag(store, t_no, False, actor=actor, agent=agent, reason=reason)


def _set_flag(store: Store, t_no: str, value: bool, *, actor: str, agent: str | None, reason: str | None):
    head = store.head()
    files = store.read_stored(t_no, at=head)
    if files.workflow.archived == value:
        state = "already archived" if value else "not archived"
        raise ArchivedTicket(f"ticket {t_no} is {state}; nothing written")
    verb = "Archive" if value else "Unarchive"
    trailers = {"Archive": "archived" if value else "unarchived"}
    if reason:
        trailers["Reason"] = reason
    return store.update(
        t_no,
        {"T": {"archived": value}},
        actor=actor,
        agent=agent,
        summary=f"{verb} ticket {t_no}",
        trailers=trailers,
        expected_version=store.ticket_version(t_no, at=head),
    )


def blob_is_archived(data: bytes) -> bool:
    """Return the ``archived`` flag of a T file's bytes (False when absent or unreadable)."""
    try:
        return bool(json.loads(data).get("archived", False))
    except (ValueError, AttributeError):
        return False


def filter_archived(repo: Any, tree: Any, t_nos: list[str], archived: bool) -> list[str]:
    """Keep the tickets whose T file's ``archived`` flag equals ``archived``.

    Args:
        repo: the pygit2 repository; tree: the root tree of the revision listed.
        t_nos: ticket numbers present in ``tree``.
        archived: True to keep only archived tickets, False to keep the others.
    """
    kept = []
    for t_no in t_nos:
        oid = blob_at(tree, ticket_path("T", t_no))
        if oid is None:
            continue
        if blob_is_archived(repo[oid].data) == archived:
            kept.append(t_no)
    return kept
