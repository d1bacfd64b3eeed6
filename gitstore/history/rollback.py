"""Rollback of one ticket (``gitstore rollback``): restore its files as a new commit.

History is never rewritten: a rollback is ONE new synchronized update whose E, I and T
files have the content they had at the target revision (re-stamped with the rollback's
own sync time: docs/data-model.md#synchronized-write). It goes through the normal write
path (``Store.replace_files``: writer lock, validation, cross-file rules,
compare-and-swap against the version read), so a rollback can itself be rolled back. The commit carries a
``Rollback-To: <full commit id>`` trailer and, when given, ``Reason: <text>``. While
encryption is on, internal content the rollback restores in clear text (items written
before encryption was turned on, or rolled away since) is sealed for the current
recipients (docs/encryption.md#rollbacks); sealed fields are restored as they were.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from gitstore.crypt.fields import seal_exposed
from gitstore.crypt.recipients import recipients_at
from gitstore.errors import ArchivedTicket, InvalidOption, TicketNotFound

if TYPE_CHECKING:
    from gitstore.store import Store

MAX_REASON = 500
"""Longest ``--reason`` accepted, in characters (one trailer line)."""


def rollback(store: Store, t_no: str, to: str, *, actor: str, agent: str | None = None, reason: str | None = None):
    """Restore ticket ``t_no``'s three files to their content at revision ``to``.

    Args:
        store: an open ``Store``.
        t_no: the ticket.
        to: commit id or unique prefix, ref, or date (the ticket's version then).
        actor: who rolls back (commit author); agent: automated agent's name, if any.
        reason: why (one line, at most 500 characters): the ``Reason:`` trailer.

    Returns:
        The ``CommitResult`` of the new commit.

    Raises:
        ArchivedTicket: the ticket is archived (unarchive it first).
        TicketNotFound: the ticket does not exist now, or did not exist at ``to``.
        RevisionNotFound: ``to`` names no commit, or a prefix is ambiguous.
        ValidationError: the ticket is already as it was at ``to`` ("changes nothing").
        ConflictError: the ticket changed while rolling back; nothing written.
        InvalidOption: a reason with line breaks or over 500 characters.
    """
    if reason is not None and ("\n" in reason or "\r" in reason or len(reason) > MAX_REASON or not reason.strip()):
        raise InvalidOption(f"invalid reason: one non-empty line of at most {MAX_REASON} characters")
    head = store.head()
    current = store.read_stored(t_no, at=head)
    if current.workflow.archived:
        raise ArchivedTicket(f"ticket {t_no} is archived (read-only); run 'gitstore unarchive {t_no}' before rolling back; nothing written")
    version = store.ticket_version(t_no, at=head)
    target = store.resolve(to, t_no=t_no)
    try:
        files = store.read_stored(t_no, at=target)
    except TicketNotFound:
        raise TicketNotFound(f"ticket {t_no} did not exist at {to} ({str(target.id)[:12]}); nothing written") from None
    recipients = recipients_at(store.repo, head.tree)
    if recipients:  # items restored in clear text are sealed now (docs/encryption.md#rollbacks)
        files = files.with_file("I", seal_exposed(files.internal, [current.internal.model_dump(mode="json")], recipients))
    trailers = {"Rollback-To": str(target.id)}
    if reason:
        trailers["Reason"] = reason
    return store.replace_files(
        t_no,
        files,
        actor=actor,
        agent=agent,
        summary=f"Roll back ticket {t_no} to {str(target.id)[:12]}",
        trailers=trailers,
        expected_version=version,
    )
