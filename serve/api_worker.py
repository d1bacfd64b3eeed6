"""The server's one open store, and the one thread every call to it runs on.

A ``Store`` is not thread-safe, and neither are the views ``Store.as_viewer`` makes for
each request's actor: they share the repository handle, the write path (``TicketWriter``
and its staged objects), the writer lock — reentrant by a depth count, not per thread —
and caches (policies, drafts). Derived data they open is thread-bound too: the ticket
list's SQLite connection, the history log's connection, Whoosh's searcher. So the server
does not guard the store with a lock taken from many threads: it gives the store a
thread of its own (a one-worker ``ThreadPoolExecutor``). The store is opened there,
every read and write of every request is submitted there and awaited by the event loop,
and so every object the store makes lives on that one thread, calls never interleave,
and a request's read-check-write (``If-Match`` under the writer lock) cannot be split
by another request of the same server. Other processes (the CLI, a pull, plain git) are
kept apart by the store's own writer lock and compare-and-swap, as always.

Requests are short (a read is a few milliseconds; a write a commit), so one thread does
not limit a help desk's traffic; a long search or a large rollback delays the requests
queued behind it, never corrupts them.

Code that must call the store from a thread of its own (the web view renders pages in
Starlette's thread pool) holds ``StoreWorker.lock`` for the whole call, as the worker
does around each of its calls: the store is then never used by two threads at once.
"""

from __future__ import annotations

import asyncio
import threading
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable, TypeVar

from gitstore.errors import NotAStoreError
from gitstore.store import Store

T = TypeVar("T")

MAX_VIEWS = 256
"""Views kept (one per actor and agent seen), least recently used dropped first."""


class StoreWorker:
    """One open store, its search index and history log, and the thread that uses them.

    Args:
        store_path: the store (searched upwards, like ``git -C``).
        fsync: flush each write to disk before answering (``--no-fsync`` turns it off).

    Attributes:
        store: the store opened for its owner (``None`` until ``start``).
        state_dir: the store's ``.git/gitstore`` (known after ``start``).
    """

    def __init__(self, store_path: str | Path, *, fsync: bool = True):
        self.store_path = Path(store_path)
        self.fsync = fsync
        self.store: Store | None = None
        self.state_dir: Path | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._thread: threading.Thread | None = None
        self._views: OrderedDict[tuple[str, str | None], Store] = OrderedDict()
        self._index: Any = None
        self._commit_callbacks: list[Callable[[], None]] = []
        self._flush_queued = False
        self.lock = threading.Lock()
        """Held around every call to the store, on the worker thread or any other."""

    # ------------------------------------------------------------------ life
    def start(self) -> None:
        """Open the store on the worker thread (blocking until it is open).

        Raises:
            NotAStoreError: not a store, or an empty hub (nothing pushed to it yet).
        """
        if self._executor is not None:
            return
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="gitstore-store")
        try:
            self._executor.submit(self._locked, self._open).result()
        except BaseException:
            self._executor.shutdown(wait=True)
            self._executor = None
            raise

    def _open(self) -> None:
        from gitstore_index.subscriber import subscribe_index
        from gitstore_sync.hub import is_empty

        self._thread = threading.current_thread()
        store = Store.open(self.store_path, fsync=self.fsync)
        if is_empty(store.repo):
            raise NotAStoreError(f"{store.path} is an empty hub: nothing was pushed to it yet ('gitstore push' from a store fills it)")
        self.store = store
        self.state_dir = store.state_dir
        # the index catches up after the write has answered (on this thread, as the next
        # task), and before any search (``search_index``): a write's latency is the commit's
        self._index = subscribe_index(store, after_write=True)
        store.subscribe(self._committed)

    def _committed(self, _event: Any) -> None:
        if not self._flush_queued and self._executor is not None:
            self._flush_queued = True
            self._executor.submit(self._locked, self._flush_index)
        for callback in list(self._commit_callbacks):
            callback()

    def _flush_index(self) -> None:
        self._flush_queued = False
        if self._index is not None:
            self._index.flush()

    def on_commit(self, callback: Callable[[], None]) -> None:
        """Call ``callback()`` (on the worker thread) after every commit this server makes."""
        self._commit_callbacks.append(callback)

    def stop(self) -> None:
        """Flush the search index, close the store and end the thread."""
        if self._executor is None:
            return
        try:
            self._executor.submit(self._locked, self._close).result()
        finally:
            self._executor.shutdown(wait=True)
            self._executor = None

    def _close(self) -> None:
        if self._index is not None:
            self._index.close()
        if self.store is not None:
            self.store.close()
        self._views.clear()

    # ------------------------------------------------------------------ calls
    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn(*args)`` on the store's thread and return (or raise) what it does.

        Raises:
            RuntimeError: the worker is not started.
        """
        if self._executor is None:
            raise RuntimeError("the store worker is not running")
        return await asyncio.wrap_future(self._executor.submit(self._locked, fn, *args))

    def _locked(self, fn: Callable[..., T], *args: Any) -> T:
        with self.lock:
            return fn(*args)

    def view(self, actor: str | None, agent: str | None = None) -> Store:
        """The store as ``actor`` (acting as ``agent``) sees it (``Store.as_viewer``),
        made once per identity. Worker thread only."""
        self.check_thread()
        assert self.store is not None
        key = (actor, agent) if actor is not None else ("", agent)
        found = self._views.get(key)
        if found is None:
            found = self.store.as_viewer(actor, agent=agent)
            self._views[key] = found
            while len(self._views) > MAX_VIEWS:
                self._views.popitem(last=False)
        else:
            self._views.move_to_end(key)
        return found

    def search_index(self) -> Any:
        """The open ``SearchIndex`` (the one the store's index subscriber keeps fresh
        after each commit; built from HEAD on first use when missing). Worker thread only."""
        self.check_thread()
        self._index.flush()  # read your writes: commits not indexed yet are indexed first
        return self._index.index

    def check_thread(self) -> None:
        """Refuse a call from any thread but the worker's (a programming error)."""
        if threading.current_thread() is not self._thread:
            raise RuntimeError("the store is used outside its worker thread")


__all__ = ["StoreWorker", "MAX_VIEWS"]
