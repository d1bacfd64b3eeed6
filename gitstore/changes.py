"""Which tickets changed between two commits: a tree diff, for views derived from commits.

The search index (``index/``) records the commit it reflects and catches up to HEAD by
asking which tickets changed in between (ARCHITECTURE.md "Search"). Git answers that
without reading files: ``git diff --name-only`` of the two trees skips every subtree
whose id is the same on both sides, so the cost grows with what changed, not with the
size of the store. The two commits need not be related (a reset or a forced fetch is
handled the same way as a fast-forward).
"""

from __future__ import annotations

import pygit2

from . import layout
from .errors import RevisionNotFound


def commit_or_none(store, commit_id: str | None) -> pygit2.Commit | None:
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


def changed_tickets(store, old_commit: str | None, new_commit: str) -> set[str]:
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
    old = commit_or_none(store, old_commit)
    if old is not None and old.tree_id == new.tree_id:
        return set()
    new_root = _tickets_tree(store.repo, new.tree)
    old_root = _tickets_tree(store.repo, old.tree) if old is not None else None
    if new_root is None and old_root is None:
        return set()
    if old_root is not None and new_root is not None and old_root.id == new_root.id:
        return set()
    repo = store.repo
    if old_root is None:
        diff = new_root.diff_to_tree(swap=True)
    elif new_root is None:
        diff = old_root.diff_to_tree()
    else:
        diff = repo.diff(old_root, new_root)
    found: set[str] = set()
    for delta in diff.deltas:
        for path in (delta.old_file.path, delta.new_file.path):
            parsed = layout.parse_path(f"{layout.ROOT}/{path}") if path else None
            if parsed is not None:
                found.add(parsed[1])
    return found


def _tickets_tree(repo: pygit2.Repository, tree: pygit2.Tree) -> pygit2.Tree | None:
    try:
        entry = tree[layout.ROOT]
    except KeyError:
        return None
    obj = repo[entry.id]
    return obj if isinstance(obj, pygit2.Tree) else None


__all__ = ["changed_tickets", "commit_or_none"]
