"""``sync``: pull then push, retried a bounded number of times when the remote moved."""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field

from gitstore.errors import PushRejected, RefMovedError
from gitstore.store import Store
from gitstore_sync.pull import PullResult, pull
from gitstore_sync.push import PushResult, push

DEFAULT_ATTEMPTS = 5


@dataclass
class SyncResult:
    """The outcome of ``sync``.

    Attributes:
        pulls: every pull made (one per attempt).
        push: the successful push.
        attempts: how many pull+push rounds it took.
    """

    pulls: list[PullResult] = field(default_factory=list)
    push: PushResult | None = None
    attempts: int = 0


def sync(
    store: Store,
    remote: str = "origin",
    *,
    actor: str,
    agent: str | None = None,
    attempts: int = DEFAULT_ATTEMPTS,
    backoff: float = 0.05,
) -> SyncResult:
    """Pull from ``remote`` and push back; when the remote moved between the two (a
    non-fast-forward answer) or our branch moved during the pull, pull and push again.

    Args:
        attempts: at most this many rounds (≥ 1).
        backoff: base pause between rounds in seconds (doubled each round, jittered).

    Raises:
        RemoteError, UncommittedChangesError, MergeConflictError: as ``pull``/``push``.
        PushRejected: refused for a reason other than the remote moving, or still
            moving after ``attempts`` rounds.
    """
    result = SyncResult()
    for attempt in range(1, max(1, attempts) + 1):
        result.attempts = attempt
        try:
            result.pulls.append(pull(store, remote, actor=actor, agent=agent))
            result.push = push(store, remote)
            return result
        except (PushRejected, RefMovedError) as exc:
            if isinstance(exc, PushRejected) and not exc.retryable:
                raise
            if attempt >= attempts:
                raise
            time.sleep(backoff * (2 ** (attempt - 1)) * (0.5 + random.random()))
    raise AssertionError("unreachable")
