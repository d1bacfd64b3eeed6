"""Read-check-write for agent-layer updates, tied together by the version read.

Agent bookkeeping lives in fields that ``Store.update`` replaces whole
(``agent_states``, ``orchestrator_turns``, ``phase_transitions``), so every such update
is computed from the ticket as read at some HEAD and written with that HEAD as
``expected_version``: if the ticket changed in between, nothing is written and the
update is computed again from the new state (docs/data-model.md#optimistic-locking), at most
``ATTEMPTS`` times.
"""

from __future__ import annotations

from typing import Any, Callable

import pygit2

from gitstore.store import Store, retry_on_conflict
from gitstore.tickets.files import TicketFiles

ATTEMPTS = 8


def write_checked(
    store: Store,
    t_no: str,
    make_update: Callable[[TicketFiles, pygit2.Commit], tuple[dict[str, Any], dict[str, str] | None, str]],
    *,
    actor: str,
    agent: str | None = None,
):
    """Compute an update from the ticket at HEAD and commit it if the ticket is unchanged.

    Args:
        make_update: ``(files, head) → (update_data, trailers, summary)``; it may raise
            to refuse (nothing is written).

    Returns:
        The ``CommitResult`` of the one commit written.

    Raises:
        ConflictError: still conflicting after ``ATTEMPTS`` tries.
        Whatever ``make_update`` or ``Store.update`` raise.
    """
    def write(files, head):
        update_data, trailers, summary = make_update(files, head)
        return store.update(
            t_no,
            update_data,
            actor=actor,
            agent=agent,
            expected_version=str(head.id),
            summary=summary,
            trailers=trailers,
        )

    return retry_on_conflict(store, t_no, write, attempts=ATTEMPTS)
