"""``gitstore watch``: keep the index fresh while people and programs use plain git.

A watchdog observer watches the working tree's ``Tickets/`` folder and the branch refs
(``.git/refs/heads/``, recursively): a bare store, a plain ``git commit``, a ``git
pull`` or a checkout all move a ref or touch ticket files. Every ref update, even of a
ref kept in ``packed-refs``, writes the loose ref file (git and libgit2 alike), so the
``.git`` folder itself is not watched: it sees a write event for every block of every
``.git/index`` rewrite (megabytes per commit on a large store), which drowned the
observer in the 100,000-message benchmark. Objects, the index file and lock files are
ignored.

Events of every type count (created, modified, moved: both ends, deleted), because
atomic renames and checkouts delete and recreate files. Bursts are debounced per ticket
(and per ref): a key is handled once it has been quiet for ``debounce`` seconds, or
``max_wait`` seconds after its first event, whichever comes first. Handling always
reads *committed* content: the index catches up from its recorded commit to HEAD by a
tree diff (a person's uncommitted edit changes nothing). A ticket whose committed files
are invalid is skipped with one log line; the watcher goes on. Each change seen since
the previous one is reported (``on_change``: ticket, kinds, message ids added) even if
another process already indexed it, as the store's viewer may see it
(``IndexChange.seen_by``): a customer-facing viewer is never told of an internal
message — not its id, its text, its count, nor a change made only of internal messages.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from watchdog.events import FileSystemEventHandler

from gitstore.tickets import layout
from gitstore_index.documents import IndexChange

if TYPE_CHECKING:
    from watchdog.observers.api import BaseObserver

    from gitstore.store import Store
    from gitstore_index.store_index import SearchIndex

REF_KEY = "@ref"
TREE_KEY = "@tree"
IGNORED_EVENT_TYPES = frozenset({"opened", "closed_no_write"})


class Watcher:
    """Watch a store and keep its search index fresh.

    Args:
        store: an open ``gitstore.Store`` (bare or not).
        debounce: seconds a ticket's (or the ref's) events must be quiet before it is
            handled.
        max_wait: seconds after a key's first event when it is handled anyway.
        on_change: called with each ``IndexChange`` committed since the last one seen,
            as the store's viewer (``Store.viewer``) may see it; changes it may not see
            at all are not reported.
        on_log: called with one-line log messages (index rebuilt, invalid file …).
        lock_timeout: seconds to wait for the index writer lock per attempt.

    Use as a context manager (``start``/``stop``) around ``run``; ``stop`` joins the
    observer thread.
    """

    def __init__(
        self,
        store: Store,
        *,
        debounce: float = 0.1,
        max_wait: float = 1.0,
        on_change: Callable[[IndexChange], None] | None = None,
        on_log: Callable[[str], None] | None = None,
        lock_timeout: float = 30.0,
    ):
        self.store = store
        self.debounce = debounce
        self.max_wait = max_wait
        self.on_change = on_change
        self.on_log = on_log or (lambda line: None)
        self.lock_timeout = lock_timeout
        self.git_dir = Path(store.repo.path).resolve()
        self.worktree = Path(store.repo.workdir).resolve() if store.repo.workdir else None
        self._git_prefix = str(self.git_dir) + "/"
        self._work_prefix = str(self.worktree) + "/" if self.worktree is not None else None
        self.index: SearchIndex | None = None
        self.seen: str | None = None
        self.handled = 0
        self._pending: dict[str, tuple[float, float]] = {}
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._observer: BaseObserver | None = None
        self._tickets_watched = False

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        """Open (and catch up) the index, then start the observer thread.

        Raises:
            AccessDenied: the store's ``role`` would widen what its viewer may read.
            LockTimeout: another process held the index writer lock too long.
        """
        from watchdog.observers import Observer

        from gitstore_index.store_index import SearchIndex

        _ = self.store.viewer  # a viewer that cannot be resolved is refused before watching
        self.index = SearchIndex.open(self.store, lock_timeout=self.lock_timeout, report=self.on_log)
        seen = self.seen = str(self.store.head().id)
        observer = self._observer = Observer()
        handler = _Handler(self)
        refs = self.git_dir / "refs" / "heads"
        refs.mkdir(parents=True, exist_ok=True)
        observer.schedule(handler, str(refs), recursive=True, event_filter=_event_types())
        self._handler = handler
        observer.start()
        self._watch_tickets()
        self.on_log(f"watching {self.worktree or self.git_dir} (index at {seen[:12]})")

    def _watch_tickets(self) -> None:
        if self._tickets_watched or self.worktree is None:
            return
        tickets = self.worktree / layout.ROOT
        if tickets.is_dir():
            assert self._observer is not None  # started
            self._tickets_watched = True
            try:
                self._observer.schedule(self._handler, str(tickets), recursive=True, event_filter=_event_types())
            except OSError as exc:  # e.g. the system's inotify watch limit
                self.on_log(f"cannot watch {tickets} ({exc}); watching the branch refs only")

    def stop(self) -> None:
        """Stop the observer and wait for its thread; close the index."""
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        if self._observer is not None:
            self._observer.stop()
            self._observer.join(timeout=10)
            self._observer = None
        if self.index is not None:
            self.index.close()

    def __enter__(self) -> "Watcher":
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ events
    def key_for(self, path: str) -> str | None:
        """Map a file-system path to a debounce key: a T_NO, ``@ref``, ``@tree`` or None.

        Plain string prefixes (no path objects): bursts bring thousands of events.
        """
        if path.startswith(self._git_prefix):
            relative = path[len(self._git_prefix):]
            if relative in ("packed-refs", "HEAD") or (relative.startswith("refs/heads/") and not relative.endswith(".lock")):
                return REF_KEY
            return None
        if self._work_prefix is None or not path.startswith(self._work_prefix):
            return None
        relative = path[len(self._work_prefix):]
        if not (relative == layout.ROOT or relative.startswith(layout.ROOT + "/")):
            return None
        parsed = layout.parse_path(relative)
        return parsed[1] if parsed is not None else TREE_KEY

    def notify(self, event) -> None:
        """Record a watchdog event (called from the observer thread)."""
        if getattr(event, "event_type", "") in IGNORED_EVENT_TYPES:
            return
        paths = [event.src_path, getattr(event, "dest_path", "") or ""]
        found = {self.key_for(p if isinstance(p, str) else p.decode()) for p in paths if p}
        keys = {key for key in found if key is not None}
        if not keys:
            return
        now = time.monotonic()
        with self._cond:
            for key in keys:
                first = self._pending.get(key, (now, now))[0]
                self._pending[key] = (first, now)
            self._cond.notify_all()

    def _due(self, now: float) -> tuple[list[str], float | None]:
        due, wait = [], None
        for key, (first, last) in self._pending.items():
            ready_at = min(last + self.debounce, first + self.max_wait)
            if ready_at <= now:
                due.append(key)
            else:
                wait = ready_at - now if wait is None else min(wait, ready_at - now)
        return due, wait

    # ------------------------------------------------------------------ the loop
    def run(self, duration: float | None = None) -> None:
        """Handle events until ``stop()`` is called or ``duration`` seconds passed.

        Ctrl-C (KeyboardInterrupt) ends the loop cleanly.
        """
        end = None if duration is None else time.monotonic() + duration
        try:
            while not self._stop.is_set():
                now = time.monotonic()
                if end is not None and now >= end:
                    return
                with self._cond:
                    due, wait = self._due(now)
                    for key in due:
                        del self._pending[key]
                    if not due:
                        limit = 0.5 if wait is None else wait
                        if end is not None:
                            limit = min(limit, max(0.0, end - now))
                        self._cond.wait(timeout=limit)
                        continue
                self.handle(due)
        except KeyboardInterrupt:
            return

    def handle(self, keys: list[str]) -> list[IndexChange]:
        """Bring the index to HEAD and report what changed since the last report.

        Never raises for a bad file or a busy index: it logs one line, and a busy
        index is retried after ``debounce``.

        Returns:
            The changes reported, as the store's viewer may see them.
        """
        from gitstore.errors import GitStoreError, LockTimeout

        self.handled += 1
        index = self.index
        assert index is not None  # started
        try:
            index.catch_up()
            head = str(self.store.head().id)
            changes: list[IndexChange] = []
            if head != self.seen:
                previous, self.seen = self.seen, head
                if self.on_change:
                    viewer = self.store.viewer  # the roles at the new HEAD
                    seen = (change.seen_by(viewer) for change in index.plan_changes(previous, head, quiet=True))
                    changes = [change for change in seen if change is not None]
            self._watch_tickets()
        except LockTimeout as exc:
            self.on_log(f"index busy ({exc}); retrying")
            now = time.monotonic()
            with self._cond:
                self._pending.setdefault(REF_KEY, (now, now))
            return []
        except (GitStoreError, OSError, ValueError) as exc:
            self.on_log(f"could not index {', '.join(keys)}: {' '.join(str(exc).split())}")
            return []
        if self.on_change is not None:  # changes are planned only for an on_change
            for change in changes:
                self.on_change(change)
        return changes


def run_watcher(store: Store, *, duration: float | None = None, **options) -> int:
    """Watch ``store`` until Ctrl-C/SIGTERM (KeyboardInterrupt) or ``duration`` seconds.

    Args:
        store: an open ``gitstore.Store``.
        duration: seconds to run; None runs until interrupted.
        options: ``Watcher`` keyword arguments (debounce, on_change, on_log …).

    Returns:
        How many times the index was brought up to date.
    """
    watcher = Watcher(store, **options)
    try:
        watcher.start()
        watcher.run(duration)
    except KeyboardInterrupt:
        pass
    finally:
        watcher.stop()
    return watcher.handled


def _event_types() -> list:
    """The watchdog event types the watcher subscribes to (its inotify mask).

    Opening and listing are left out on purpose: any process that walks ``Tickets/``
    (a ``git status``, a checkout, watchdog's own rescan) opens every folder, and on a
    large store those open/close events overflow the kernel's event queue, after which
    watchdog walks the whole tree again: a loop that kept the observer at full CPU in
    the 100,000-message benchmark.
    """
    from watchdog.events import (
        DirCreatedEvent,
        DirDeletedEvent,
        DirMovedEvent,
        FileClosedEvent,
        FileCreatedEvent,
        FileDeletedEvent,
        FileModifiedEvent,
        FileMovedEvent,
    )

    return [FileCreatedEvent, FileModifiedEvent, FileMovedEvent, FileDeletedEvent, FileClosedEvent,
            DirCreatedEvent, DirDeletedEvent, DirMovedEvent]


class _Handler(FileSystemEventHandler):
    """watchdog handler forwarding every event to ``Watcher.notify``."""

    def __init__(self, watcher: Watcher):
        super().__init__()
        self.watcher = watcher

    def on_any_event(self, event) -> None:
        self.watcher.notify(event)
