"""Keep the index fresh in the process that writes: subscribe it to the store.

The store never imports ``index/`` (docs/architecture.md "The path of one update", step 7):
whoever opens both subscribes the index. ``subscribe_index(store)`` registers an
``IndexSubscriber`` that indexes each committed update right after its commit (new
messages appended, changed documents replaced) when the index reflects the commit
before it; an index that is missing or behind is built or caught up at ``flush()``/
``close()`` or by the next search, never inside the write. It opens the index only on
the first commit, so commands that do not write never pay for it. Inside ``Store.batch()`` (bulk
imports) it defers: one catch-up at ``flush()``/``close()`` replaces thousands of small
index commits. With ``after_write=True`` (the CLI) every event waits for ``flush()``:
the write is acknowledged (its result printed) at the commit path's latency, and the
index catches up after that, in the same process (docs/architecture.md).

An index failure never fails the write it follows: the commit is already durable, the
index keeps its recorded commit, and the next open catches up by tree diff. The failure
is reported as a notice.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:
    from gitstore.store import Store

log = logging.getLogger("gitstore.index")


class IndexSubscriber:
    """A store subscriber that keeps the search index up to date.

    Args:
        store: the ``gitstore.Store`` it is subscribed to.
        report: called with one-line notices (index rebuilt, update deferred …).
        lock_timeout: seconds to wait for the index writer lock.

    Attributes:
        changes: every ``IndexChange`` applied through this subscriber.
        deferred: events seen inside a batch and not yet indexed.
    """

    def __init__(
        self, store: Store, *, report: Callable[[str], None] | None = None, lock_timeout: float = 10.0,
        after_write: bool = False,
    ):
        self.store = store
        self.report = report
        self.lock_timeout = lock_timeout
        self.after_write = after_write
        self.changes: list = []
        self.deferred = 0
        self.queued: list = []
        self._index = None
        self._unsubscribe: Callable[[], None] | None = None

    @property
    def index(self):
        """The ``SearchIndex``, opened on first use."""
        if self._index is None:
            from gitstore_index.store_index import SearchIndex

            self._index = SearchIndex.open(self.store, catch_up=False, lock_timeout=self.lock_timeout, report=self.report)
        return self._index

    def __call__(self, event) -> None:
        """Index one ``CommitEvent`` (or defer it inside a batch, or queue it until
        ``flush`` with ``after_write``)."""
        if self.store.in_batch:
            self.deferred += 1
            return
        if self.after_write:
            self.queued.append(event)
            return
        self._guard(lambda: self._index_now(event))

    def _index_now(self, event) -> None:
        """Index one event at once when that is cheap: the index exists and reflects
        the event's parent. A missing index (a build) or one behind (a catch-up) waits
        for ``flush``/``close`` or the next search: the write returns at the commit
        path's latency whatever state the index is in."""
        if self._index is None:
            from gitstore_index.paths import index_exists

            if not index_exists(self.store):
                self.deferred += 1
                return
        changes = self.index.apply_event(event, catch_up=False)
        if changes is None:
            self.deferred += 1
            return
        self.changes.extend(changes)

    def flush(self) -> None:
        """Index what was deferred or queued: one queued event incrementally, several
        (or a batch's) by one catch-up to HEAD."""
        if self.deferred:
            self.deferred = 0
            self.queued = []
            self._guard(lambda: self.changes.extend(self.index.catch_up()))
        if len(self.queued) > 1:  # several commits: one catch-up, one index commit
            self.queued = []
            self._guard(lambda: self.changes.extend(self.index.catch_up()))
        while self.queued:
            event = self.queued.pop(0)
            self._guard(lambda: self.changes.extend(self.index.apply_event(event)))

    def close(self) -> None:
        """Flush, release the index and unsubscribe."""
        self.flush()
        if self._index is not None:
            self._index.close()
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None

    def _guard(self, action: Callable[[], None]) -> None:
        try:
            action()
        except Exception as exc:  # the commit is durable already: an index failure must not fail it
            message = f"search index not updated ({' '.join(str(exc).split())}); it catches up on next use"
            log.warning(message)
            if self.report is not None:
                self.report(message)


def subscribe_index(
    store: Store, *, report: Callable[[str], None] | None = None, lock_timeout: float = 10.0, after_write: bool = False
) -> IndexSubscriber:
    """Subscribe the store's search index to its commits; returns the subscriber.

    Call ``close()`` on the subscriber when done (it flushes deferred batch updates).
    ``after_write``: index only at ``flush()``/``close()``, so writes return at the
    commit path's latency (the index's catch-up on open stays the guarantee).

    Example:
        >>> sub = subscribe_index(store)                        # doctest: +SKIP
        >>> store.add_message("1001", "E", sender="customer", sender_id="ana",
        ...                   content="printer on fire", actor="ana")   # doctest: +SKIP
        >>> sub.close()                                          # doctest: +SKIP
    """
    subscriber = IndexSubscriber(store, report=report, lock_timeout=lock_timeout, after_write=after_write)
    subscriber._unsubscribe = store.subscribe(subscriber)
    return subscriber
