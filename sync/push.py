"""``push``: send this store's ``main`` to a remote and check the server's answer."""

from __future__ import annotations

from dataclasses import dataclass, field

from gitstore.store import Store

from gitstore_sync.remotes import resolve_remote
from gitstore_sync.transport import RefAnswer, push_main


@dataclass
class PushResult:
    """The outcome of ``push``.

    Attributes:
        remote: the remote's name (or its URL when pushed by URL).
        url: the remote's URL.
        refs: the server's answer per ref (``ok`` or ``up-to-date``).
        server: what the server printed (hook output), joined into one line.
    """

    remote: str
    url: str
    refs: list[RefAnswer] = field(default_factory=list)
    server: str = ""


def push(store: Store, remote: str = "origin") -> PushResult:
    """Push ``refs/heads/main`` to ``remote``; every ref's server answer is checked.

    Args:
        store: the store.
        remote: a configured remote name or a URL/path.

    Raises:
        RemoteError: no such remote, unreachable, or not a gitstore store.
        PushRejected: non-fast-forward (``retryable``: pull first) or refused by the
            server (its pre-receive hook's reason in the message). The local store is
            never changed by a push.
    """
    name, handle = resolve_remote(store.repo, remote)
    local = store.head().id
    answers = push_main(store.repo, handle, local)
    if name is not None:
        store.repo.references.create(f"refs/remotes/{name}/main", local, force=True)
    return PushResult(name or handle.url, handle.url, answers.refs, answers.server)
