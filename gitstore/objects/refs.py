"""The branch every store writes, and moving it by compare-and-swap.

One branch holds a store's history: ``BRANCH``. Every write moves it in a libgit2 ref
transaction that locks the ref, checks it still points at the commit the write started
from, and sets it (docs/architecture.md, "The path of one update", step 5).
"""

from __future__ import annotations

import pygit2

from gitstore.errors import RefMovedError

BRANCH = "refs/heads/main"
"""The ref of a store's history (``main``)."""


def move_branch(repo: pygit2.Repository, expected: pygit2.Oid, new: pygit2.Oid, reason: str) -> None:
    """Compare-and-swap ``BRANCH`` from ``expected`` to ``new``.

    Args:
        repo: the repository (one that can see ``new``'s objects).
        expected: the commit the branch must still point at.
        new: the commit it moves to.
        reason: the reflog message (``gitstore: <reason>``, at most 200 characters).

    Raises:
        RefMovedError: the branch points elsewhere, or the ref could not be locked.
    """
    try:
        with repo.transaction() as txn:
            txn.lock_ref(BRANCH)
            current = repo.references[BRANCH].target
            if current != expected:
                raise RefMovedError(f"{BRANCH} moved to {current} while writing (expected {expected}); nothing written")
            txn.set_target(BRANCH, new, message=f"gitstore: {reason}"[:200])
    except pygit2.GitError as exc:
        raise RefMovedError(f"could not update {BRANCH}: {exc}") from None
