"""``clone``: copy a remote store into a new working (or bare) store, ready to sync."""

from __future__ import annotations

import shutil
from pathlib import Path

import pygit2

from gitstore.errors import RemoteError, StoreExistsError
from gitstore.objects.refs import BRANCH
from gitstore.store import Store
from gitstore_sync.hub import init_hub
from gitstore_sync.pull import looks_like_store
from gitstore_sync.remotes import normalise_url, set_upstream, transport_of
from gitstore_sync.setup import SetupReport, configure_store
from gitstore_sync.transport import SyncCallbacks


def clone(url: str, path: str | Path, *, bare: bool = False, fsync: bool = True) -> tuple[Store, SetupReport]:
    """Clone the store at ``url`` into ``path`` (remote ``origin``) and set it up.

    The clone gets the merge driver and the hooks (``pre-commit``, ``post-merge``,
    ``post-checkout``; ``pre-receive`` when ``bare``), and its working tree is recorded as
    up to date, so it is a complete store. The search index builds itself on first use.
    ``main`` tracks ``origin/main``.

    An empty hub (``gitstore init --bare``, nothing pushed yet) clones into a new store
    with ``origin`` set: its first ``gitstore push`` fills the hub (a note in the
    report says so).

    Args:
        url: a path, ``file://``, ``git://``, ``ssh://`` or ``https://`` URL.
        path: a folder that does not exist or is empty.
        bare: make a bare clone (a new hub).

    Returns:
        ``(store, setup report)``.

    Raises:
        StoreExistsError: ``path`` exists and is not an empty folder.
        RemoteError: the remote cannot be reached or is not a gitstore store; nothing
            is left at ``path``.
    """
    target = Path(path)
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise StoreExistsError(f"{target} already exists and is not an empty folder")
    created = not target.exists()
    source = normalise_url(url)
    if transport_of(source) == "local" and not Path(source).exists():
        raise RemoteError(f"cannot clone {url}: no such path")
    try:
        repo = pygit2.clone_repository(source, str(target), bare=bare, callbacks=SyncCallbacks(source))
        if not any(name.startswith(("refs/heads/", "refs/remotes/", "refs/tags/")) for name in repo.references):
            return _clone_empty(url, source, target, created, bare=bare, fsync=fsync)
        if BRANCH not in repo.references:
            raise RemoteError(f"{url} is not a gitstore store: it has no refs/heads/main")
        head = repo.references[BRANCH].peel(pygit2.Commit)
        if not looks_like_store(repo, head):
            raise RemoteError(f"{url} is not a gitstore store: its main has no Tickets/ and no gitstore .gitattributes")
        if repo.head_is_unborn or repo.head.name != BRANCH:
            repo.set_head(BRANCH)
            if not bare:
                repo.checkout_head(strategy=pygit2.enums.CheckoutStrategy.FORCE)
        repo.config["gitstore.version"] = "1"
        if not bare:
            set_upstream(repo, "origin")
        report = configure_store(repo, hooks=True)
    except (pygit2.GitError, OSError, ValueError, RemoteError) as exc:
        _remove(target, created)
        if isinstance(exc, RemoteError):
            raise
        raise RemoteError(f"cannot clone {url}: {' '.join(str(exc).split())}") from None
    store = Store.open(target, fsync=fsync)
    return store, report


def _clone_empty(url: str, source: str, target: Path, created: bool, *, bare: bool, fsync: bool) -> tuple[Store, SetupReport]:
    """The clone of an empty hub: a new store whose ``origin`` is the hub."""
    _remove(target, created)
    if bare:
        repo, report = init_hub(target)
        repo.remotes.create("origin", source)
        store = Store.open(target, fsync=fsync)
    else:
        store = Store.init(target, fsync=fsync)
        store.repo.remotes.create("origin", source)
        set_upstream(store.repo, "origin")
        report = configure_store(store.repo, hooks=True)
    report.notes.append(f"{url} is an empty hub: this is a new store; 'gitstore push' publishes it there")
    return store, report


def _remove(target: Path, created: bool) -> None:
    if created:
        shutil.rmtree(target, ignore_errors=True)
    elif target.is_dir():
        for child in target.iterdir():
            shutil.rmtree(child, ignore_errors=True) if child.is_dir() else child.unlink()
