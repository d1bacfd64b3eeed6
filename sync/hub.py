"""A new hub: an empty bare repository that accepts the first push of any valid store.

``gitstore init --bare`` makes a hub with no commit at all (like ``git init --bare``):
a store made elsewhere, with a history of its own, can then push to it as its first
push, and every later push must be a fast-forward. The hub refuses, through its
``pre-receive`` hook (``hookchecks.check_receive``), a first push that is not a gitstore
store and any push with invalid ticket files.
"""

from __future__ import annotations

from pathlib import Path

import pygit2

from gitstore.errors import StoreExistsError
from gitstore.objects.refs import BRANCH
from gitstore.store import EMAIL_DOMAIN, GITATTRIBUTES
from gitstore_sync.setup import SetupReport, configure_store


def init_hub(path: str | Path, *, require_signed: bool = False) -> tuple[pygit2.Repository, SetupReport]:
    """Create an empty hub at ``path``: a bare repository whose HEAD names ``main``.

    It gets ``gitstore.version``, the ``pre-receive`` hook, and refuses non-fast-forward
    pushes and deletions of branches (``setup.configure_store``).

    Args:
        path: a folder that does not exist or is empty.
        require_signed: signed mode (``signedmode``): the hook also refuses every pushed
            commit whose signature does not verify.

    Returns:
        ``(repository, setup report)``.

    Raises:
        StoreExistsError: ``path`` exists and is not an empty folder.
    """
    target = Path(path)
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise StoreExistsError(f"{target} already exists and is not an empty folder")
    target.mkdir(parents=True, exist_ok=True)
    repo = pygit2.init_repository(str(target), bare=True, initial_head=BRANCH.rsplit("/", 1)[-1])
    repo.config["gitstore.version"] = "1"
    if require_signed:
        from gitstore_sync.signedmode import set_signed_mode  # loads the signature checks: only here

        set_signed_mode(repo)
    return repo, configure_store(repo, hooks=True)


def is_empty(repo: pygit2.Repository) -> bool:
    """True for a store without ``refs/heads/main`` (a hub nothing was pushed to yet)."""
    return BRANCH not in repo.references


def fill_empty(repo: pygit2.Repository) -> pygit2.Oid:
    """Give an empty hub the first commit of a new store, so it can take writes itself
    (a bare store as an agents' back end): the same commit ``Store.init`` writes (only
    ``.gitattributes``). After it, a push of another store's history is refused as a
    non-fast-forward, as on any store.

    Returns:
        The new commit's id.

    Raises:
        StoreExistsError: the store is not empty.
    """
    if not is_empty(repo):
        raise StoreExistsError(f"{repo.path} is not empty: it already has {BRANCH}")
    sig = pygit2.Signature("gitstore", f"gitstore@{EMAIL_DOMAIN}")
    tree = repo.TreeBuilder()
    tree.insert(".gitattributes", repo.create_blob(GITATTRIBUTES), pygit2.GIT_FILEMODE_BLOB)
    return repo.create_commit(BRANCH, sig, sig, "Initialise gitstore store\n", tree.write(), [])
