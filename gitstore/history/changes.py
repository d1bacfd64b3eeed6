"""Which tickets changed between two commits: a tree diff, for views derived from commits.

The search index (``index/``) records the commit it reflects and catches up to HEAD by
asking which tickets changed in between (docs/architecture-notes.md "Search"). Git answers that
without reading files: ``git diff --name-only`` of the two trees skips every subtree
whose id is the same on both sides, so the cost grows with what changed, not with the
size of the store. The two commits need not be related (a reset or a forced fetch is
handled the same way as a fast-forward).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pygit2

from gitstore.errors import InvalidTicketNumber, RevisionNotFound
from gitstore.objects.trees import tree_changes
from gitstore.tickets import layout

if TYPE_CHECKING:
    from gitstore.store import Store


def commit_or_none(store: Store, commit_id: str | None) -> pygit2.Commit | None:
    """Return the commit ``commit_id`` names in the store, or None when it is None.

    Raises:
        RevisionNotFound: the id names no commit of this repository (for example a
            commit dropped by a history rewrite and garbage-collected).
    """
    if commit_id is None:
        return None
    try:
        obj = store.repo.get(commit_id)
    except (ValueError, TypeError):
        obj = None
    if obj is None or obj.type_str != "commit":
        raise RevisionNotFound(f"commit {commit_id} is not in the repository")
    return obj.peel(pygit2.Commit)


def tickets_in(paths) -> dict[str, set[str]]:
    """Group repository paths by ticket: ``{T_NO: {"E", "I", "T"} ∩ kinds present}``.

    Paths that do not name a ticket file (or carry an invalid T_NO) are ignored.
    """
    found: dict[str, set[str]] = {}
    for path in paths:
        parsed = layout.parse_path(path)
        if parsed is None:
            continue
        kind, t_no = parsed
        try:
            layout.validate_t_no(t_no)
        except InvalidTicketNumber:
            continue
        found.setdefault(t_no, set()).add(kind)
    return found


def changed_tickets(store: Store, old_commit: str | None, new_commit: str) -> set[str]:
    """Return the T_NOs whose E, I or T file differs between two commits.

    Args:
        store: an open ``gitstore.Store``.
        old_commit: the commit id a view reflects; None means "nothing yet" (every
            ticket of ``new_commit`` is returned).
        new_commit: the commit id to catch up to (usually HEAD).

    Returns:
        Ticket numbers with at least one file added, modified or deleted under
        ``Tickets/``. Files under ``Tickets/`` that do not name a ticket file are
        ignored.

    Raises:
        RevisionNotFound: either id names no commit of the repository.
    """
    new = commit_or_none(store, new_commit)
    assert new is not None  # new_commit is an id, never None
    old = commit_or_none(store, old_commit)
    if old is not None and old.tree_id == new.tree_id:
        return set()
    paths = tree_changes(store.repo, old.tree if old is not None else None, new.tree, layout.ROOT)
    return set(tickets_in(paths))


__all__ = ["changed_tickets", "commit_or_none", "tickets_in"]
