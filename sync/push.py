"""``push``: send this store's ``main`` to a remote and check the server's answer."""

from __future__ import annotations

from dataclasses import dataclass, field

from gitstore.store import Store
from gitstore_sync.remotes import resolve_remote, set_upstream, upstream_of
from gitstore_sync.transport import RefAnswer, push_main, url_of


@dataclass
class PushResult:
    """The outcome of ``push``.

    Attributes:
        remote: the remote's name (or its URL when pushed by URL).
        url: the remote's URL.
        refs: the server's answer per ref (``ok`` or ``up-to-date``).
        server: what the server printed (hook output), joined into one line.
        tracking: the remote ``main`` was set to track by this push (the first push to
            a remote when ``main`` tracked none, like ``git push -u``), else None.
    """

    remote: str
    url: str
    refs: list[RefAnswer] = field(default_factory=list)
    server: str = ""
    tracking: str | None = None


def push(store: Store, remote: str = "origin") -> PushResult:
    """Push ``refs/heads/main`` to ``remote``; every ref's server answer is checked.

    Args:
        store: the store.
        remote: a configured remote name or a URL/path.

    When ``main`` tracks no remote yet and ``remote`` is a configured name, ``main``
    is set to track it (``remotes.set_upstream``), as ``git push -u`` does: a new hub's
    first push sets up ``pull``/``push`` without arguments, for gitstore and plain git.

    Raises:
        RemoteError: no such remote, unreachable, or not a gitstore store.
        PushRejected: non-fast-forward (``retryable``: pull first) or refused by the
            server (its pre-receive hook's reason in the message). The local store is
            never changed by a push.
    """
    name, handle = resolve_remote(store.repo, remote)
    local = store.head().id
    answers = push_main(store.repo, handle, local)
    result = PushResult(name or url_of(handle), url_of(handle), answers.refs, answers.server)
    if name is not None:
        store.repo.references.create(f"refs/remotes/{name}/main", local, force=True)
        if not store.repo.is_bare and upstream_of(store.repo) is None:
            set_upstream(store.repo, name)
            result.tracking = name
    return result
