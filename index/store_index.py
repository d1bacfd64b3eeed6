"""The search index of a store: open, catch up from its recorded commit, rebuild, status.

The index is derived data (docs/architecture-notes.md "Search"): it records the commit it
reflects (``state.json``) and, whenever it is opened or asked to search, catches up
from that commit to HEAD by a tree diff (``gitstore.history.changes.changed_tickets``), so a
pull, a plain ``git commit`` or a crash can never leave search silently stale. An
index built with another schema version, or one that cannot be read (a corrupted
folder), is rebuilt from HEAD with a notice saying so. Writers hold ``IndexLock``.

The index is one per store and shared by every viewer: it is built from what the
site's owner can read (``Store.owner()``: every file, sealed internal items decrypted
with this site's age identities; items it cannot decrypt are not indexed), whoever's
action triggered the indexing; each search masks what its viewer may not see
(``search``, ``roles``).

Only signs of real damage rebuild an index (``SearchIndex.damage``): files that cannot
be opened or decoded. Any other exception a search raises is a bug; it is never
answered by a rebuild, which would hide it (``search.execute``).
"""

from __future__ import annotations

import logging
import os
import pickle
import shutil
import struct
import sys
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from gitstore.errors import RevisionNotFound, TicketNotFound, ValidationError
from gitstore.history.changes import changed_tickets, commit_or_none
from gitstore.store import Store
from gitstore_index.compat import whoosh
from gitstore_index.documents import IndexChange, plan_change, ticket_documents
from gitstore_index.lock import IndexLock
from gitstore_index.paths import index_dir, lock_path
from gitstore_index.roles import hidden_kinds_of, role_name
from gitstore_index.schema import KIND_NAMES, SCHEMA_VERSION, make_schema
from gitstore_index.state import IndexState, StateUnreadable, read_state, write_state

if TYPE_CHECKING:
    from gitstore.viewer import Viewer

log = logging.getLogger("gitstore.index")
log.addHandler(logging.NullHandler())

WRITER_MEMORY_MB = 128
"""Memory for one Whoosh writer's buffer, in megabytes."""
WRITER_OPTIONS: dict[str, Any] = {"limitmb": WRITER_MEMORY_MB, "compound": False}
"""Options of every Whoosh writer. ``compound=False``: a segment's parts stay separate
files. Whoosh reads a part of a compound segment file through ``BufferFile``, which
copies the part into a ``BytesIO``: opening a searcher read the whole postings and
terms into memory (200,000 messages: 0.24 s and ~270 MB per new process); separate
files are read where needed."""
DECODE_ERRORS = (EOFError, zlib.error, struct.error, pickle.UnpicklingError)
"""What Whoosh raises when the bytes of an index file are truncated or garbled
(posting blocks are zlib-compressed pickles behind ``struct`` headers): a sign of
damage wherever a search meets it."""


@dataclass
class IndexStatus:
    """What ``gitstore index status`` shows.

    Attributes:
        exists: an index folder is there.
        folder: its path.
        commit: the commit id the index reflects (None if none or unreadable).
        head: the store's HEAD commit id.
        up_to_date: ``commit == head`` and no interrupted write is pending.
        pending: a commit whose application was interrupted (a crash), or None.
        schema_version: the version recorded (None if unreadable).
        documents: live documents in the index that the viewer may see (a
            customer-facing viewer's count leaves internal messages out).
        size_bytes: bytes of all files in the index folder; None for a viewer who
            may not see every kind (the size would tell how much hidden text there is).
        segments: Whoosh segments (many segments slow queries down); None, as
            ``size_bytes``, for a viewer who may not see every kind.
        problem: why the index cannot be read, if it cannot (search rebuilds it).
        role: the viewer's effective role (``roles.role_name``: ``unrestricted`` for
            the store's owner) the counts are for.
    """

    exists: bool
    folder: str
    commit: str | None
    head: str
    up_to_date: bool
    pending: str | None = None
    schema_version: int | None = None
    documents: int = 0
    size_bytes: int | None = 0
    segments: int | None = 0
    problem: str | None = None
    role: str = "unrestricted"


def _short(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return f"{type(exc).__name__}: {text}"[:200]


def _open_whoosh(folder: Path):
    """Open the Whoosh index in ``folder`` and read its table of contents.

    Raises:
        StateUnreadable: the folder is not a readable index (message says why).
    """
    try:
        ix = whoosh.index.open_dir(str(folder))
        ix.doc_count()
    except Exception as exc:  # Whoosh raises many types on damaged files; all mean "unreadable"
        raise StateUnreadable(f"Whoosh index unreadable ({_short(exc)})") from None
    return ix


class SearchIndex:
    """An open search index of one store.

    Use ``SearchIndex.open(store)``; keep it open in long-running processes (opening
    a searcher costs 56–74 ms at 100,000 messages; ``search`` refreshes the one kept
    open in ~2 ms). Close it with ``close()`` or use it as a context manager.

    Attributes:
        store: the ``gitstore.Store``.
        folder: ``.git/gitstore/index``.
        lock: the ``IndexLock`` held by every writer.
        notices: one-line messages about what the index did on its own (rebuilt a
            corrupted index, skipped an invalid ticket file …), newest last.
        memo: data ``search`` derives from the current searcher (document sets of
            each kind, roles' masks), each entry stored with the searcher it was
            computed from and recomputed when the searcher changes.
    """

    def __init__(self, store: Store, *, lock_timeout: float = 30.0, report: Callable[[str], None] | None = None):
        self.store = store
        self.folder = index_dir(store)
        self.lock = IndexLock(lock_path(store), lock_timeout)
        self.notices: list[str] = []
        self.memo: dict[str, Any] = {}
        self._report = report
        self._ix: whoosh.index.Index | None = None
        self._state: IndexState | None = None
        self._searcher = None
        self._searcher_key: tuple | None = None
        self._folder_id: int | None = None
        self.build_procs = 1
        """Whoosh writer processes of a build this index starts by itself (missing,
        damaged or outdated index); ``rebuild_index`` sets it."""

    # ------------------------------------------------------------------ opening
    @classmethod
    def open(
        cls,
        store,
        *,
        catch_up: bool = True,
        lock_timeout: float = 30.0,
        progress: bool = False,
        report: Callable[[str], None] | None = None,
    ) -> "SearchIndex":
        """Open the store's index, creating or rebuilding it from HEAD when needed.

        A missing index is built; an unreadable one (corrupted files, bad
        ``state.json``) or one of another schema version is rebuilt, with a notice.
        Then the index catches up to HEAD unless ``catch_up`` is False.

        Args:
            store: an open ``gitstore.Store``.
            catch_up: bring the index up to HEAD now.
            lock_timeout: seconds to wait for the index writer lock.
            progress: show a progress bar (stderr) while building.
            report: called with each notice as it happens (the CLI prints them).

        Raises:
            LockTimeout: another process held the index writer lock too long.
        """
        index = cls(store, lock_timeout=lock_timeout, report=report)
        index._load(progress)
        if catch_up:
            index.catch_up()
        return index

    def _notice(self, message: str) -> None:
        self.notices.append(message)
        log.warning(message)
        if self._report is not None:
            self._report(message)

    def _load(self, progress: bool = False) -> None:
        with self.lock:
            if not self.folder.is_dir():
                self._notice(f"building the search index of {self.store.path} from HEAD")
                self._rebuild_locked(progress)
                return
            try:
                state = read_state(self.folder)
                ix = _open_whoosh(self.folder)
            except StateUnreadable as exc:
                self._notice(f"search index at {self.folder} is corrupted ({exc}); rebuilding it from HEAD")
                self._rebuild_locked(progress)
                return
            if state.schema_version != SCHEMA_VERSION:
                self._notice(
                    f"search index schema version {state.schema_version} differs from {SCHEMA_VERSION}; "
                    "rebuilding it from HEAD"
                )
                self._rebuild_locked(progress)
                return
            if sorted(ix.schema.names()) != sorted(make_schema().names()):
                self._notice("search index fields differ from this version's schema; rebuilding it from HEAD")
                self._rebuild_locked(progress)
                return
            self._ix, self._state = ix, state
            self._folder_id = self._current_folder_id()

    def _current_folder_id(self) -> int | None:
        try:
            return os.stat(self.folder).st_ino
        except FileNotFoundError:
            return None

    def close(self) -> None:
        """Close the searcher kept open (the index stays usable; it reopens on demand)."""
        if self._searcher is not None:
            self._searcher.close()
            self._searcher = None
        self.memo.clear()

    def __enter__(self) -> "SearchIndex":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def schema(self):
        """The Whoosh schema of the open index."""
        return self._ix.schema

    @property
    def commit(self) -> str | None:
        """The commit id the index reflects (as last read or written by this object)."""
        return self._state.commit if self._state else None

    # ------------------------------------------------------------------ building
    def rebuild(self, *, progress: bool = False, procs: int | None = None) -> int:
        """Build the index from HEAD into a new folder and swap it in.

        Args:
            progress: show a tqdm progress bar on stderr (tickets indexed).
            procs: Whoosh writer processes (``procs > 1`` forks; multisegment); None:
                ``build_procs``.

        Returns:
            The number of documents indexed.

        Raises:
            LockTimeout: another writer held the index lock.
        """
        with self.lock:
            return self._rebuild_locked(progress, procs)

    def _rebuild_locked(self, progress: bool, procs: int | None = None) -> int:
        from tqdm import tqdm

        procs = self.build_procs if procs is None else procs
        head = self.store.head()
        head_id = str(head.id)
        parent = self.folder.parent
        for leftover in [*parent.glob("index.new-*"), *parent.glob("index.old-*")]:
            shutil.rmtree(leftover, ignore_errors=True)  # a rebuild killed midway (we hold the lock)
        tmp = parent / f"index.new-{os.getpid()}"
        tmp.mkdir(parents=True)
        self.close()
        try:
            ix = whoosh.index.create_in(str(tmp), make_schema())
            options: dict[str, Any] = dict(WRITER_OPTIONS)
            if procs > 1:
                options.update(procs=procs, multisegment=True)
            writer = ix.writer(**options)
            count = 0
            try:
                tickets = self.store.list_tickets(at=head_id)
                bar = tqdm(tickets, desc="indexing", unit="ticket", file=sys.stderr, disable=None if progress else True)
                for t_no in bar:
                    files, readable = self._read(t_no, head)
                    if files is None:
                        continue
                    for doc in ticket_documents(files):
                        writer.add_document(**doc)
                        count += 1
                writer.commit(optimize=procs <= 1)
            except BaseException:
                writer.cancel()
                raise
            write_state(tmp, IndexState(head_id, SCHEMA_VERSION))
            old = parent / f"index.old-{os.getpid()}"
            if self.folder.exists():
                shutil.rmtree(old, ignore_errors=True)
                os.rename(self.folder, old)
            os.rename(tmp, self.folder)
            shutil.rmtree(old, ignore_errors=True)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        self._ix = whoosh.index.open_dir(str(self.folder))
        self._state = IndexState(head_id, SCHEMA_VERSION)
        self._folder_id = self._current_folder_id()
        return count

    def _read(self, t_no: str, commit, quiet: bool = False) -> tuple[Any | None, bool]:
        """Read a ticket at a commit as the site's owner may see it (``Store.owner()``,
        never the store's viewer: the index is shared): ``(files, True)``, ``(None,
        True)`` if absent, ``(None, False)`` if its files are invalid there (a notice
        unless ``quiet``)."""
        try:
            return self.store.present(t_no, at=commit, viewer=self.store.owner()).files, True
        except TicketNotFound:
            return None, True
        except ValidationError as exc:
            if quiet:
                return None, False
            self._notice(f"ticket {t_no} at {str(commit.id)[:12]}: {' '.join(str(exc).split())} (not indexed)")
            return None, False

    # ------------------------------------------------------------------ keeping up
    def _reload_state(self) -> None:
        """Re-read ``state.json`` (another process may have moved the index on)."""
        if self._current_folder_id() != self._folder_id:
            self.close()  # another process rebuilt (swapped) the folder: reopen it
            self._ix = None
            self._load()
            return
        try:
            self._state = read_state(self.folder)
            if self._state.schema_version != SCHEMA_VERSION:
                raise StateUnreadable(f"schema version {self._state.schema_version}")
        except StateUnreadable:
            self._ix = None
            self._load()

    def catch_up(self) -> list[IndexChange]:
        """Bring the index from its recorded commit to HEAD by a tree diff.

        Only tickets whose files differ are read (at both commits) and only what
        changed in them is written (``documents.plan_change``). A ticket whose files
        are invalid at HEAD keeps its documents and gets a notice. If the recorded
        commit no longer exists (history rewritten and collected) the index is rebuilt.

        Returns:
            The changes applied, one per ticket that changed.

        Raises:
            LockTimeout: another writer held the index lock.
        """
        with self.lock:
            self._reload_state()
            head = self.store.head()
            head_id = str(head.id)
            state = self._state
            assert state is not None  # _reload_state loads or rebuilds it
            if state.commit == head_id and state.pending is None:
                return []
            try:
                also: set[str] = set()
                if state.pending is not None:  # a write was interrupted: redo what it touched
                    try:
                        also = changed_tickets(self.store, state.commit, state.pending)
                    except RevisionNotFound:
                        also = set()
                changes = self.plan_changes(state.commit, head_id, certain=state.pending is None, also=also)
            except RevisionNotFound as exc:
                self._notice(f"search index commit is gone ({exc}); rebuilding it from HEAD")
                self._rebuild_locked(False)
                return []
            self._apply(changes, head_id)
            return changes

    def plan_changes(
        self, old: str | None, new: str, *, certain: bool = True, also: set[str] | frozenset = frozenset(), quiet: bool = False
    ) -> list[IndexChange]:
        """Plan the index changes that bring tickets from commit ``old`` to ``new``.

        Reads only the tickets whose files differ (tree diff), plus ``also``, at both
        commits. A
        ticket invalid at ``new`` is left out (with a notice unless ``quiet``); one
        unreadable at ``old`` is planned as a full replacement.

        Raises:
            RevisionNotFound: either commit is not in the repository.
        """
        tickets = changed_tickets(self.store, old, new) | set(also)
        old_commit = commit_or_none(self.store, old)
        new_commit = commit_or_none(self.store, new)
        changes = []
        for t_no in sorted(tickets):
            before, before_ok = self._read(t_no, old_commit, True) if old_commit is not None else (None, True)
            after, after_ok = self._read(t_no, new_commit, quiet)
            if not after_ok:
                continue
            change = plan_change(t_no, new, before, after, certain=certain and before_ok)
            if not change.empty:
                changes.append(change)
        return changes

    def apply_event(self, event, *, catch_up: bool = True) -> list[IndexChange] | None:
        """Index one committed update (a ``gitstore.CommitEvent``) right after it.

        When the index reflects the event's parent, only the ticket's new messages
        are appended and changed documents replaced; otherwise (the index is behind,
        or an earlier write was interrupted) it catches up to HEAD, unless
        ``catch_up`` is False: then nothing is done and None returned (the caller
        catches up later; a write must not wait for a long catch-up).

        Returns:
            The changes applied; None when the index is behind and ``catch_up`` is False.

        Raises:
            LockTimeout: another writer held the index lock.
        """
        with self.lock:
            self._reload_state()
            state = self._state
            assert state is not None  # _reload_state loads or rebuilds it
            if state.pending is not None or state.commit != event.parent:
                return self.catch_up() if catch_up else None
            try:
                parent = commit_or_none(self.store, event.parent)
                commit = commit_or_none(self.store, event.commit)
            except RevisionNotFound:
                return self.catch_up()
            old, old_ok = self._read(event.t_no, parent, True) if parent is not None else (None, True)
            new, new_ok = self._read(event.t_no, commit)
            changes = []
            if new_ok:
                change = plan_change(event.t_no, event.commit, old, new, certain=old_ok)
                if not change.empty:
                    changes.append(change)
            self._apply(changes, event.commit)
            return changes

    def _apply(self, changes: list[IndexChange], target: str) -> None:
        """Write planned changes in one Whoosh commit and record ``target``."""
        from whoosh.query import And, Term

        if changes:
            assert self._state is not None and self._ix is not None  # the index is open
            write_state(self.folder, IndexState(self._state.commit, SCHEMA_VERSION, pending=target))
            writer = self._ix.writer(**WRITER_OPTIONS)
            try:
                for change in changes:
                    if change.deleted or change.replace_all:
                        writer.delete_by_term("t_no", change.t_no)
                    for kind in change.replace_kinds:
                        writer.delete_by_query(And([Term("t_no", change.t_no), Term("kind", KIND_NAMES[kind])]))
                    for doc in change.documents:
                        writer.add_document(**doc)
                    if change.workflow is not None:  # replaced: deleted from the committed segments, added anew
                        writer.delete_by_query(And([Term("t_no", change.t_no), Term("kind", KIND_NAMES["T"])]))
                        writer.add_document(**change.workflow)
                writer.commit()
            except BaseException:
                writer.cancel()
                raise
        self._state = IndexState(target, SCHEMA_VERSION)
        write_state(self.folder, self._state)

    # ------------------------------------------------------------------ reading
    def searcher(self):
        """Return a Whoosh searcher on the current index (kept open, refreshed).

        The searcher is refreshed (Whoosh lists the index folder, ~0.3 ms) only when
        the index may have changed since it was opened: another folder (a rebuild), or
        another recorded commit or pending write in ``state.json`` — every index write,
        by any process, records one. ``ensure_fresh`` reads that state first.
        """
        key = (self._folder_id, self._state.commit if self._state else None, self._state.pending if self._state else None)
        if self._searcher is None:
            self._searcher = self._ix.searcher()
        elif key != self._searcher_key:
            self._searcher = self._searcher.refresh()
        self._searcher_key = key
        return self._searcher

    def ensure_fresh(self) -> None:
        """Catch up to HEAD if the index is behind (a cheap ref and file read if not)."""
        if self._current_folder_id() != self._folder_id:
            self.catch_up()
            return
        try:
            state = read_state(self.folder)
        except StateUnreadable:
            self.catch_up()
            return
        if state.schema_version == SCHEMA_VERSION:
            self._state = state
        if state.pending is not None or state.commit != str(self.store.head().id):
            self.catch_up()

    def damage(self, exc: BaseException | None = None) -> str | None:
        """Say why the index's files cannot be read, or None when they can.

        Damage is either ``exc`` (what a search raised) being a decoding error of
        Whoosh's file formats (``DECODE_ERRORS``), or the folder failing a fresh read
        now: its table of contents and every segment's files opened by a new reader
        (missing, truncated or unreadable segment files). Any other exception is not
        damage; a rebuild would hide it, not fix it.

        Args:
            exc: the exception a search raised, if any.

        Returns:
            A one-line reason, or None.
        """
        if isinstance(exc, DECODE_ERRORS):
            return _short(exc)
        try:
            _open_whoosh(self.folder)
        except StateUnreadable as unreadable:
            return str(unreadable)
        return None

    def recover(self, problem: str) -> None:
        """Rebuild from HEAD, with a notice, after ``damage`` found the index damaged.

        Args:
            problem: the reason ``damage`` gave (shown in the notice).

        Raises:
            LockTimeout: another writer held the index lock.
        """
        self.close()
        with self.lock:
            self._notice(f"search index at {self.folder} is corrupted ({problem}); rebuilding it from HEAD")
            self._rebuild_locked(False)

    def search(self, query: str, **options: Any):
        """Search this index: ``index.search.run_search(self, query, **options)``."""
        from gitstore_index.search import run_search

        return run_search(self, query, **options)

    def status(self) -> IndexStatus:
        """Return this index's status for the store's viewer (see ``index_status``)."""
        return index_status(self.store)


PARALLEL_FROM_TICKETS = 2000
"""From this many tickets a rebuild by ``rebuild_index`` uses one Whoosh writer process
per CPU (``build_processes``): below it, starting the processes costs more than it saves."""
MAX_BUILD_PROCESSES = 4


def build_processes(tickets: int) -> int:
    """Whoosh writer processes for building an index of ``tickets`` tickets: 1 below
    ``PARALLEL_FROM_TICKETS``, else the CPUs this process may run on (at most
    ``MAX_BUILD_PROCESSES``). At 20,000 messages two processes index 1.7× as fast as one
    (bench/scale.py measures the rebuild)."""
    if tickets < PARALLEL_FROM_TICKETS:
        return 1
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cpus = os.cpu_count() or 1
    return max(1, min(cpus, MAX_BUILD_PROCESSES))


def rebuild_index(store: Store, *, progress: bool = False, procs: int | None = None,
                  report: Callable[[str], None] | None = None) -> IndexStatus:
    """Rebuild a store's index from HEAD (``gitstore index rebuild``) and return its status.

    Args:
        store: an open store.
        progress: a progress bar on stderr.
        procs: Whoosh writer processes (forked; the index then has one segment per
            process); None: ``build_processes`` of the store's ticket count. Call with
            ``procs=1`` from a process that runs threads (forking one is unsafe).
        report: called with each notice.

    Raises:
        LockTimeout: another writer held the index lock.
    """
    if procs is None:
        procs = build_processes(len(store.list_tickets()))
    index = SearchIndex(store, report=report)
    index.build_procs = procs
    if index.folder.is_dir():
        index.rebuild(progress=progress, procs=procs)
    else:
        index._load(progress)
    index.close()
    return index_status(store)


def index_status(store: Store, viewer: Viewer | None = None) -> IndexStatus:
    """Describe a store's index without changing it (``gitstore index status``), as
    ``viewer`` may see it.

    Args:
        store: an open store.
        viewer: who asks (``gitstore.viewer.Viewer``); ``store.viewer`` when None. A
            viewer who may not see every kind gets the count of the documents it may
            see, and no size or segment count (``IndexStatus``).

    Returns:
        An IndexStatus; ``exists`` False when no index was built, ``problem`` set
        when it cannot be read.

    Raises:
        AccessDenied: the store's ``role`` would widen what its viewer may read.
    """
    who = viewer if viewer is not None else store.viewer
    hidden = hidden_kinds_of(who)
    folder = index_dir(store)
    head = str(store.head().id)
    role = role_name(who)
    if not folder.is_dir():
        return IndexStatus(False, str(folder), None, head, False, role=role)
    size = None if hidden else sum(p.stat().st_size for p in folder.iterdir() if p.is_file())
    try:
        state = read_state(folder)
        ix = _open_whoosh(folder)
        with ix.searcher() as searcher:  # public API: one leaf reader per segment
            reader = searcher.reader()
            segments = len(list(reader.leaf_readers())) if reader.doc_count_all() else 0
            documents = reader.doc_count()
            for kind in sorted(hidden):
                documents -= len(list(searcher.docs_for_query(whoosh.query.Term("kind", kind))))
    except StateUnreadable as exc:
        return IndexStatus(True, str(folder), None, head, False, size_bytes=size, problem=str(exc), role=role)
    except Exception as exc:  # Whoosh raises many types on damaged files; all mean "unreadable"
        problem = f"Whoosh index unreadable ({_short(exc)})"
        return IndexStatus(True, str(folder), None, head, False, size_bytes=size, problem=problem, role=role)
    return IndexStatus(
        exists=True,
        folder=str(folder),
        commit=state.commit,
        head=head,
        up_to_date=state.commit == head and state.pending is None and state.schema_version == SCHEMA_VERSION,
        pending=state.pending,
        schema_version=state.schema_version,
        documents=documents,
        size_bytes=size,
        segments=None if hidden else segments,
        role=role,
    )
