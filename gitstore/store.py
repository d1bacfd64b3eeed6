"""The store: a git repository of tickets, its reads, and the doors to the write path.

``Store`` opens or creates a store, reads tickets at any revision, and offers every
write a program needs (create, update, messages, state, stages, hand edits, rollbacks,
configuration, merges). Each of them goes through the one write path,
``gitstore.writer.TicketWriter`` (docs/architecture.md, "The path of one update"):

1. take the writer lock (``objects.lock``; a lock left by a killed writer is cleared)
   and refuse while a git merge, rebase, cherry-pick or revert is unfinished
   (``objects.repostate``);
2. read the ticket from the tip of the branch (never from the working tree);
3. apply the change and the store's rules (``tickets``): roles and stages, update rules,
   archived tickets, cross-file rules, one shared timestamp on E, I and T;
4. write blobs and the trees on the changed paths, create the commit without moving a
   ref; author and committer are the actor, the message carries trailers;
5. move ``refs/heads/main`` by compare-and-swap (fsync on by default: after this the
   update survives a crash);
6. catch the working tree and ``.git/index`` up for the changed paths, at once or,
   inside ``batch()``/``bulk()``, once at the end;
7. notify subscribers and release the lock.

``bulk()`` differs from single updates only in batching: commits chain in memory and
the branch moves once per ``checkpoint_every`` commits (importers use it).
"""

from __future__ import annotations

import copy
import os
import time
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator, TypeVar

import pygit2

from gitstore.config import CONFIG_PATH, config_blob, dumps_config, parse_config, read_tree_config, section_of
from gitstore.errors import (
    ConflictError,
    NotAStoreError,
    RefMovedError,
    StoreExistsError,
    TicketNotFound,
    ValidationError,
)
from gitstore.objects.actors import EMAIL_DOMAIN
from gitstore.objects.lock import WriterLock
from gitstore.objects.refs import BRANCH, move_branch
from gitstore.objects.revisions import resolve_commit
from gitstore.objects.signingkeys import configured_signing
from gitstore.objects.trees import NotWithin, Reached, blob_at, last_change
from gitstore.objects.worktree import WorktreeSync
from gitstore.tickets import layout
from gitstore.tickets.archive import filter_archived
from gitstore.tickets.complete import CompleteContext, complete_context
from gitstore.tickets.files import TicketFiles
from gitstore.tickets.policy import PRESETS, Policy, Workflow, parse_policy, parse_workflow
from gitstore.timeutil import format_utc, to_utc, utc_now
from gitstore.viewer import OWNER, Presented, Viewer, resolve_viewer

if TYPE_CHECKING:
    from gitstore.objects.packs import ObjectWriter
    from gitstore.writer import CommitEvent, CommitResult, Signing, TicketWriter

# Loaded where they are used, not here: the write path (``writer``, ``objects.packs``,
# the recipients' keys), the history log (``history.log``, sqlite) and the
# repository-state check, so that opening a store to read loads none of them
# (``tests/test_cold_imports.py``). ``CommitResult`` and ``CommitEvent`` are still
# importable from here (``__getattr__`` at the end).

GITATTRIBUTES = f"# gitstore: ticket files are UTF-8 JSON with LF line ends\n{layout.MERGE_DRIVER_LINE}\n".encode()
"""The ``.gitattributes`` of a new store: ticket files go through the merge driver."""

VERSION_WALK = 2000
"""Commits ``Store.ticket_version`` walks (about 30 µs each) before it has the
per-ticket log catch up: a log that is behind by up to this many commits (writes
since the last read that used it) answers without catching up."""

STAGE_RETRIES = 5
"""Attempts of a stage change whose check and write race another writer."""

T = TypeVar("T")


@dataclass(frozen=True)
class StageInfo:
    """A ticket's stage, where it may go next, and its transition records.

    Attributes:
        ticket: the T_NO.
        stage: its ``workflow_stage``.
        allowed: the stages it may move to.
        stages: every configured stage.
        phase_transitions: its transition records (JSON objects), oldest first.
    """

    ticket: str
    stage: str
    allowed: list[str]
    stages: list[str]
    phase_transitions: list[dict[str, Any]]


PACK_WINDOW_BYTES = 8 * 1024 * 1024
"""Size of one mapped window of a pack file (libgit2's ``mwindow_size``), bytes."""
PACK_MAPPED_LIMIT_BYTES = 64 * 1024 * 1024
"""Most pack bytes libgit2 keeps mapped at once (``mwindow_mapped_limit``): older
windows are unmapped first."""


def _configure_fsync(enabled: bool) -> None:
    pygit2.settings.enable_fsync_gitdir(bool(enabled))
    # a bound on pack files libgit2 keeps open (default: none): long-running writers
    # see many small packs come and go (packs), and must not run out of descriptors
    if pygit2.settings.mwindow_file_limit == 0:
        pygit2.settings.mwindow_file_limit = 256
    # how much of the pack files libgit2 keeps mapped (default: windows of 1 GiB, up to
    # 8 GiB): every page a read touched stays in the process's memory while mapped, so
    # a read over a store of many packs grew by the packs' size (20,000 tickets, 76
    # packs: 134 → 92 MB peak for a walk of every ticket, same time)
    if pygit2.settings.mwindow_size > PACK_WINDOW_BYTES:
        pygit2.settings.mwindow_size = PACK_WINDOW_BYTES
        pygit2.settings.mwindow_mapped_limit = PACK_MAPPED_LIMIT_BYTES


class Store:
    """A gitstore store (a git repository holding ``Tickets/``).

    Open one with ``Store.open(path)`` or create one with ``Store.init(path)``. Use it
    as a context manager (or call ``close()``) so the working tree catches up.

    Args:
        repo: an open pygit2 repository that is a store.
        fsync: flush objects and refs to disk before a write returns (libgit2's
            ENABLE_FSYNC_GITDIR, a process-wide setting). On by default.
        lock_timeout: seconds to wait for the writer lock.
        signing: who signs the commits the store writes (``writer.Signing``: the
            committing actor → signing function or None). None: the keys configured for
            the store (``objects.signingkeys.configured_signing``: ``gitstore.signingKey``,
            ``GITSTORE_SIGNING_KEY``…; docs/signing.md), unsigned when there are none;
            ``objects.signingkeys.unsigned`` signs nothing.
        viewer: who reads (``gitstore.viewer``): an actor id whose registered role
            (the store's default role when it has none) decides what every read method
            shows; None opens the store for its owner, who reads every file.
        agent: the agent the viewer acts as (its role narrows the viewer's).
        role: a role to narrow the viewer to; one that would widen it is refused.

    Raises:
        SigningKeyError: a configured signing key cannot be read (nothing is written).
        AccessDenied: ``role`` would widen what ``viewer`` may read (on the first read).
    """

    def __init__(
        self,
        repo: pygit2.Repository,
        *,
        fsync: bool = True,
        lock_timeout: float = 30.0,
        signing: Signing | None = None,
        viewer: str | None = None,
        agent: str | None = None,
        role: str | None = None,
    ):
        self.repo = repo
        self.viewer_spec: tuple[str | None, str | None, str | None] | None = (
            (viewer, agent, role) if (viewer, agent, role) != (None, None, None) else None
        )
        self._viewers: dict[Any, Viewer] = {}
        self._identities: tuple[Any, ...] | None = None
        self.git_dir = Path(repo.path)
        self.state_dir = self.git_dir / "gitstore"
        self.state_dir.mkdir(exist_ok=True)
        self.fsync = fsync
        _configure_fsync(fsync)
        self.lock = WriterLock(self.git_dir, timeout=lock_timeout)
        self.worktree = WorktreeSync(repo, self.state_dir)
        self.subscribers: list[Callable[[CommitEvent], None]] = []
        self.signing: Signing | None = signing if signing is not None else configured_signing(repo)
        self._objects: ObjectWriter | None = None
        self._writer: TicketWriter | None = None
        self._policies: dict[Any, Policy] = {}
        self._batch_depth = 0
        self._batch_checked = False
        self._bulk_every: int | None = None
        self._flush_interval: float | None = None
        self._last_flush = 0.0
        self.last_kept: list[str] = []

    # ------------------------------------------------------------------ opening
    @classmethod
    def init(cls, path: str | os.PathLike, *, bare: bool = False, **kwargs: Any) -> "Store":
        """Create a new store at ``path`` with one initial commit.

        Raises:
            StoreExistsError: ``path`` already holds a git repository.
        """
        target = Path(path)
        if pygit2.discover_repository(str(target)) and _is_repo_root(target, bare):
            raise StoreExistsError(f"a git repository already exists at {target}")
        target.mkdir(parents=True, exist_ok=True)
        repo = pygit2.init_repository(str(target), bare=bare, initial_head="main")
        repo.config["gitstore.version"] = "1"
        store = cls(repo, **kwargs)
        sig = pygit2.Signature("gitstore", f"gitstore@{EMAIL_DOMAIN}")
        blob = repo.create_blob(GITATTRIBUTES)
        tree = repo.TreeBuilder()
        tree.insert(".gitattributes", blob, pygit2.GIT_FILEMODE_BLOB)
        commit = repo.create_commit(BRANCH, sig, sig, "Initialise gitstore store\n", tree.write(), [])
        if not bare:
            repo.checkout_head(strategy=pygit2.GIT_CHECKOUT_FORCE)
            store.worktree.mark(commit)
        return store

    @classmethod
    def open(cls, path: str | os.PathLike = ".", **kwargs: Any) -> "Store":
        """Open the store containing ``path`` (searched upwards, like ``git -C``).

        Catches the working tree up if HEAD moved since it was last brought up to date
        (a crash between the ref update and the checkout, or a plain git command).

        Raises:
            NotAStoreError: no git repository there, or one that is not a store.
        """
        found = pygit2.discover_repository(str(path))
        if not found:
            raise NotAStoreError(f"not a gitstore store: {path} (no git repository; run 'gitstore init')")
        repo = pygit2.Repository(found)
        if "gitstore.version" not in repo.config:
            if not _looks_like_store(repo):
                raise NotAStoreError(f"not a gitstore store: {path} (a git repository without gitstore data)")
            repo.config["gitstore.version"] = "1"
        store = cls(repo, **kwargs)
        store.lock.recover_stale()  # git lock files a killed gitstore writer left
        store._repair_worktree_on_open()
        return store

    def _repair_worktree_on_open(self) -> None:
        if self.repo.is_bare or self.repo.head_is_unborn:
            return
        head = self.head()
        if self.worktree.recorded() == str(head.id):
            return
        from gitstore.objects.repostate import operation_in_progress

        if operation_in_progress(self.repo) is not None:
            return  # git owns the index until the operation ends; writes refuse meanwhile
        with self.lock:
            self.worktree.clean_tmp()
            try:
                self.last_kept = self.worktree.catch_up(self.head(), prefix="")
            except OSError:
                # HEAD's tree cannot be checked out here (a file where the working tree
                # has a folder): left as it is, 'gitstore verify' reports the difference
                self.worktree.clean_tmp()

    def close(self) -> None:
        """Bring the working tree up to date. The store stays usable."""
        if self.worktree.pending or self.worktree.target is not None:
            with self.lock:
                self.last_kept = self.worktree.flush()

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def path(self) -> Path:
        """The working tree (or, for a bare store, the repository folder)."""
        return Path(self.repo.workdir or self.repo.path)

    @property
    def objects(self) -> ObjectWriter:
        """The write path's object writer (``packwrite``), opened on first write.

        Read-only commands never pay for its second repository handle.
        """
        if self._objects is None:
            from gitstore.objects.packs import ObjectWriter

            self._objects = ObjectWriter(self.git_dir, self.state_dir)
        return self._objects

    @property
    def in_batch(self) -> bool:
        """True inside ``batch()``: subscribers may defer their own work to its end."""
        return self._batch_depth > 0

    # ------------------------------------------------------------------ reading
    def head(self) -> pygit2.Commit:
        """Return the commit ``refs/heads/main`` points at."""
        return self.repo.references[BRANCH].peel(pygit2.Commit)

    def resolve(self, rev: str | None = None, t_no: str | None = None) -> pygit2.Commit:
        """Resolve a revision (None/``HEAD``, commit id or unique prefix, ref, date).

        With ``t_no``, a date resolves to that ticket's version at the date
        (``history.log.HistoryIndex.commit_at``).

        Raises:
            RevisionNotFound: nothing matches, or a prefix is ambiguous.
            TicketNotFound: with ``t_no`` and a date: the ticket did not exist then.
        """
        if rev is None or rev == "HEAD":
            return self.head()
        from gitstore.history.log import for_store

        index = for_store(self)
        if t_no is not None:
            dates = lambda when, label: index.commit_at(t_no, when, label)  # noqa: E731
        else:
            dates = index.store_commit_at
        return resolve_commit(self.repo, rev, self.head(), dates, index.commits_with_prefix)

    # ------------------------------------------------------------------ viewers
    @property
    def identities(self) -> tuple[Any, ...]:
        """The age identities of this site (``gitstore.crypt.identities_for``), read once.

        Raises:
            KeyFileError: a configured identity file cannot be read.
        """
        if self._identities is None:
            from gitstore.crypt import identities_for

            self._identities = tuple(identities_for(self.repo))
        return self._identities

    @property
    def viewer(self) -> Viewer:
        """The viewer this store was opened for, resolved against the role registry at
        HEAD (``gitstore.viewer.resolve_viewer``), with this site's identities.

        Raises:
            AccessDenied: the store's ``role`` would widen what its viewer may read.
        """
        head = None if self.repo.head_is_unborn else self.repo.head.target
        cached = self._viewers.get(head)
        if cached is None:
            if self.viewer_spec is None:
                cached = OWNER
            else:
                name, agent, role = self.viewer_spec
                access = self._policy_of(self.repo[head].peel(pygit2.Tree)).access if head else parse_policy({}).access
                cached = resolve_viewer(access, name, agent=agent, role=role)
            if cached.internal:
                cached = cached.with_identities(self.identities)
            self._viewers = {head: cached}
        return cached

    def view_as(self, viewer: str | None, *, agent: str | None = None, role: str | None = None) -> None:
        """Make every later read of this store for ``viewer`` (see the class's ``viewer``,
        ``agent`` and ``role`` arguments); ``viewer`` None here is an unnamed reader, who
        gets the store's default role (``roles.default``), not the owner's view."""
        self.viewer_spec = (viewer, agent, role)
        self._viewers = {}

    def as_viewer(self, viewer: str | None, *, agent: str | None = None, role: str | None = None) -> "Store":
        """The same open store for another viewer (a server answers each request for its
        token's actor): it shares the repository, writer, lock and caches, and reads
        for ``viewer`` like a store opened with those arguments.

        Not a new writer: use one thread at a time for the store and its views.
        """
        _ = self.writer  # made once here, so the views share it (and its lock)
        view = copy.copy(self)
        view.view_as(viewer, agent=agent, role=role)
        return view

    def owner(self) -> Viewer:
        """The store owner's viewer with this site's identities (what derived data
        such as the search index is built from: it filters per viewer itself)."""
        return OWNER.with_identities(self.identities)

    def read(self, t_no: str, at: str | pygit2.Commit | None = None) -> TicketFiles:
        """Read a ticket's three files at HEAD or at a revision, as the store's viewer
        may see them (``Store.viewer``; ``present`` also says what was left out).

        Raises:
            InvalidTicketNumber, TicketNotFound, RevisionNotFound, ValidationError: as
                ``read_stored``.
        """
        return self.present(t_no, at).files

    def present(self, t_no: str, at: str | pygit2.Commit | None = None, viewer: Viewer | None = None) -> Presented:
        """A ticket as the store's viewer (or ``viewer``) may see it: I emptied for a
        viewer who may not read it; sealed items decrypted or left out and counted.

        Raises:
            InvalidTicketNumber, TicketNotFound, RevisionNotFound, ValidationError: as
                ``read_stored``.
        """
        return (viewer or self.viewer).present(self.read_stored(t_no, at))

    def read_stored(self, t_no: str, at: str | pygit2.Commit | None = None) -> TicketFiles:
        """Read a ticket's three files as committed, at HEAD or at a revision: every
        item, sealed fields as ciphertext, no viewer applied. For the write path
        (rollbacks, retries), merges and checks — not for showing a ticket to someone.

        Args:
            t_no: the ticket number.
            at: a revision (see ``resolve``) or a commit; HEAD when None.

        Raises:
            InvalidTicketNumber: malformed T_NO.
            TicketNotFound: no such ticket at that revision.
            RevisionNotFound: ``at`` names no commit.
            ValidationError: the ticket is incomplete or its files are invalid.
        """
        layout.validate_t_no(t_no)
        commit = at if isinstance(at, pygit2.Commit) else self.resolve(at, t_no=t_no)
        return self.read_tree(t_no, commit.tree, str(commit.id)[:12])

    def read_tree(self, t_no: str, tree: pygit2.Tree, where: str, repo: pygit2.Repository | None = None) -> TicketFiles:
        """Read a ticket's three files from a root tree (``where`` names it in errors).

        Raises:
            TicketNotFound: none of the files is there.
            ValidationError: the ticket is incomplete or a file is invalid.
        """
        repo = repo or self.repo
        models = {}
        missing = []
        for kind, path in layout.ticket_paths(t_no).items():
            try:
                entry = tree[path]
            except KeyError:
                missing.append(layout.file_name(kind, t_no))
                continue
            name = layout.file_name(kind, t_no)
            if entry.filemode not in (pygit2.GIT_FILEMODE_BLOB, pygit2.GIT_FILEMODE_BLOB_EXECUTABLE):
                raise ValidationError(f"{name} at {where} is not a file (a submodule or link; run 'gitstore verify')")
            models[kind] = layout.loads(kind, repo[entry.id].read_raw(), name)  # hostile JSON: one line
        if len(missing) == 3:
            raise TicketNotFound(f"ticket {t_no} not found at {where}")
        if missing:
            raise ValidationError(f"ticket {t_no} is incomplete at {where}: missing {', '.join(missing)} (run 'gitstore verify')")
        return TicketFiles(t_no, models["E"], models["I"], models["T"])

    def context(self, t_no: str, at: str | None = None) -> CompleteContext:
        """Return the complete context of a ticket at HEAD or ``at`` as the store's
        viewer may see it (docs/data-model.md#complete-context;
        ``tickets.complete.CompleteContext``).

        Raises:
            TicketNotFound, RevisionNotFound, ValidationError, InvalidTicketNumber.
        """
        commit = self.resolve(at, t_no=t_no)
        viewer = self.viewer
        shown = self.present(t_no, at=commit, viewer=viewer)
        return complete_context(
            shown.files, str(commit.id), self.ticket_version(t_no, at=commit), internal_visible=viewer.internal,
            unreadable=shown.unreadable,
        )

    def exists(self, t_no: str, at: str | None = None) -> bool:
        """Return True if the ticket's T file exists at HEAD (or ``at``)."""
        layout.validate_t_no(t_no)
        tree = self.resolve(at).tree
        return layout.ticket_path("T", t_no) in tree

    def list_tickets(self, at: str | None = None, archived: bool | None = None) -> list[str]:
        """Return the T_NOs of all tickets (those with a T file), sorted.

        Walks only the ``Tickets/tickets`` subtree of the revision. ``archived``:
        None lists all, False leaves archived tickets out, True lists only them
        (``gitstore.tickets.archive``).
        """
        tree = self.resolve(at).tree
        try:
            folder = tree[f"{layout.ROOT}/{layout.FOLDERS['T']}"]
        except KeyError:
            return []
        found: list[str] = []
        stack = [self.repo[folder.id]]
        while stack:
            current = stack.pop()
            assert isinstance(current, pygit2.Tree)  # only folders are stacked
            for entry in current:
                if entry.type_str == "tree":
                    stack.append(self.repo[entry.id])
                else:
                    parsed = layout.parse_path(f"{layout.ROOT}/x/{entry.name}")
                    if parsed and parsed[0] == "T":
                        found.append(parsed[1])
        if archived is not None:
            found = filter_archived(self.repo, tree, found, archived)
        return sorted(found)

    def ticket_version(self, t_no: str, at: str | pygit2.Commit | None = None) -> str:
        """Return the ticket's version: the id of the last commit that changed it.

        Answered without catching up the per-ticket log (``history.log``) whenever
        possible, so a read never pays for indexing commits it does not need:

        1. the log holds ``at`` on its first-parent line (it is up to date, or ``at``
           is older): one indexed query;
        2. else a walk along first parents from ``at``, at most ``VERSION_WALK``
           commits, until one of the ticket's blobs changes (the answer), or until the
           commit the log reflects (the ticket is unchanged since: one indexed query
           there). Without a log file a read that ends here opens no derived data;
        3. further back, the log catches up (or is built) and answers; off the log's
           first-parent line the walk goes on to the end.

        Raises:
            TicketNotFound: no such ticket at ``at``.
        """
        from gitstore.history.log import indexed_version, logged_head, logged_version

        commit = at if isinstance(at, pygit2.Commit) else self.resolve(at)
        if blob_at(commit.tree, layout.ticket_path("T", t_no)) is None:
            raise TicketNotFound(f"ticket {t_no} not found at {str(commit.id)[:12]}")
        found = logged_version(self, t_no, commit)
        if found is not None:
            return found
        paths = tuple(layout.ticket_paths(t_no).values())
        try:
            near = last_change(commit, paths, within=VERSION_WALK, stop_at=logged_head(self))
        except Reached as reached:  # unchanged since the commit the log reflects
            found = logged_version(self, t_no, reached.commit)
            if found is not None:
                return found
        except NotWithin:
            pass
        else:
            if near is None:
                raise TicketNotFound(f"ticket {t_no} not found at {str(commit.id)[:12]}")
            return str(near)
        found = indexed_version(self, t_no, commit)
        if found is not None:
            return found
        last = last_change(commit, paths)
        if last is None:
            raise TicketNotFound(f"ticket {t_no} not found at {str(commit.id)[:12]}")
        return str(last)

    # ------------------------------------------------------------------ rules
    def policy(self, at: str | pygit2.Commit | None = None) -> Policy:
        """Return the roles and workflow (``tickets.policy.Policy``) at HEAD or ``at``.

        Parsed policies are cached by the configuration blob's id.

        Raises:
            ValidationError: an invalid ``roles``, ``agents`` or ``workflow`` section.
            RevisionNotFound: ``at`` names no commit.
        """
        commit = at if isinstance(at, pygit2.Commit) else self.resolve(at)
        return self._policy_of(commit.tree)

    def _policy_of(self, tree: pygit2.Tree) -> Policy:
        key = config_blob(tree)
        cached = self._policies.get(key)
        if cached is None:
            config = parse_config(self.objects_repo()[key].read_raw()) if key is not None else {}
            cached = parse_policy(config)
            if len(self._policies) > 64:
                self._policies.clear()
            self._policies[key] = cached
        return cached

    def objects_repo(self) -> pygit2.Repository:
        """The repository that also sees the write path's unpublished objects."""
        return self._objects.repo if self._objects is not None else self.repo

    # ------------------------------------------------------------------ writing
    @property
    def writer(self) -> TicketWriter:
        """The write path (``gitstore.writer.TicketWriter``), opened on first write."""
        if self._writer is None:
            from gitstore.writer import TicketWriter

            self._writer = TicketWriter(
                self.objects, self.worktree, fsync=self.fsync, policy=self._policy_of, subscribers=self.subscribers,
                signing=self.signing,
            )
        return self._writer

    def subscribe(self, callback: Callable[[CommitEvent], None]) -> Callable[[], None]:
        """Call ``callback(event)`` after every committed update; returns an unsubscribe."""
        self.subscribers.append(callback)
        return lambda: self.subscribers.remove(callback)

    @contextmanager
    def batch(self, flush_interval: float | None = None) -> Iterator["Store"]:
        """Hold the writer lock across many updates and catch the working tree up once.

        Each update is still its own commit and is published at once; only the checkout
        is deferred: to the end of the batch, or also every ``flush_interval`` seconds
        (a long-running agent process). The working tree and ``.git/index`` catch up
        per command or per batch, never once per update inside a batch.
        """
        with self.lock:
            self._batch_depth += 1
            if self._batch_depth == 1:
                self._batch_checked = False
                self._flush_interval = flush_interval
                self._last_flush = time.monotonic()
            try:
                yield self
            finally:
                self._batch_depth -= 1
                if self._batch_depth == 0:
                    self.last_kept = self.worktree.flush()

    @contextmanager
    def bulk(self, checkpoint_every: int = 1000) -> Iterator["Store"]:
        """Write many updates as a chain of commits, publishing every ``checkpoint_every``.

        Inside, ``update``/``create_ticket``/``write`` return as soon as their commit
        is on the chain; the branch moves (one pack, one compare-and-swap) every
        ``checkpoint_every`` commits and when the block ends. A crash before a
        checkpoint leaves the branch where it was: nothing partial is visible. An
        exception leaving the block drops the commits not yet published.

        Raises:
            RefMovedError: the branch moved under the chain (a writer without the lock).
        """
        with self.batch():
            if self._bulk_every is not None:  # nested: the outer block publishes
                yield self
                return
            self._bulk_every = checkpoint_every
            writer = self.writer
            try:
                yield self
                writer.checkpoint("import")
            finally:
                self._bulk_every = None
                writer.reset()

    def _publish(self, result: CommitResult | None = None) -> None:
        """Publish the chain unless a bulk block is open and not yet due, and catch up."""
        writer = self.writer
        if self._bulk_every is not None and writer.pending < self._bulk_every:
            return
        writer.checkpoint("import" if self._bulk_every is not None else None)
        due = self._flush_interval is not None and time.monotonic() - self._last_flush >= self._flush_interval
        if self._batch_depth == 0 or due:
            self.last_kept = self.worktree.flush()
            self._last_flush = time.monotonic()
            if result is not None:
                result.kept_local_edits = list(self.last_kept)

    @contextmanager
    def _writing(self) -> Iterator[TicketWriter]:
        """The writer, under the lock, after the in-progress check; the chain is dropped
        if the write fails outside a bulk block."""
        with self.lock:
            writer = self.writer
            # once per write outside a batch, once per batch inside one: the check reads
            # the whole .git/index (O(tickets)), and the batch holds the lock throughout
            if self._batch_depth == 0 or not self._batch_checked:
                from gitstore.objects.repostate import refuse_if_in_progress

                refuse_if_in_progress(self.repo)
                self._batch_checked = self._batch_depth > 0
            try:
                yield writer
            except BaseException:
                if self._bulk_every is None:
                    writer.reset()
                raise

    def write(self, t_no: str, *, actor: str, timestamp: datetime | None = None, **options: Any) -> CommitResult:
        """Write one synchronized update through the write path (``TicketWriter.write``).

        The general form behind ``create_ticket``, ``update`` and ``replace_files``; see
        ``TicketWriter.write`` for ``options`` (``update``, ``files``, ``create``,
        ``exclusive``, ``agent``, ``authorized_as``, ``summary``, ``trailers``,
        ``expected_version``, ``allow_empty``, ``force_worktree``).

        Raises:
            What ``TicketWriter.write`` raises; LockTimeout; OperationInProgress;
            RefMovedError.
        """
        when = to_utc(timestamp) if timestamp else utc_now()
        with self._writing() as writer:
            result = writer.write(t_no, actor=actor, when=when, **options)
            if result.commit is not None:
                self._publish(result)
        return result

    def create_ticket(
        self,
        t_no: str,
        *,
        client_name: str,
        company_name: str,
        actor: str,
        agent: str | None = None,
        priority: str = "LOW",
        channel: str | None = None,
        platform: str = "email",
        contact_info: dict | None = None,
        trello_template: str | None = None,
        update_data: dict | None = None,
        timestamp: datetime | None = None,
        summary: str | None = None,
        trailers: dict[str, str] | None = None,
    ) -> CommitResult:
        """Create a ticket's three files in one commit, optionally with a first update.

        Args:
            t_no: the new ticket number.
            client_name, company_name: the customer (docs/data-model.md#t-file).
            actor: who writes (human or agent id): commit author and committer.
            agent: the automated agent's name, if an agent writes (``Agent:`` trailer).
            priority, platform: enumerations of docs/data-model.md.
            channel: the internal channel (``MATTERMOST``/``FLOCK``), None when not
                known (T's ``channel`` null, I's ``platforms`` empty).
            update_data: applied on top of the empty ticket in the same commit, under
                the same rules as ``update``.
            timestamp: the update's time (aware); the author date. Now when None.

        Raises:
            TicketExists: the T_NO is taken.
            ValidationError / InvalidTicketNumber: bad input; nothing is written.
            AccessDenied, InvalidTransition, UnknownAgent: a rule refuses ``update_data``.
        """
        create = {
            "client_name": client_name,
            "company_name": company_name,
            "priority": priority,
            "channel": channel,
            "platform": platform,
            "contact_info": contact_info,
            "trello_template": trello_template,
        }
        return self.write(
            t_no,
            actor=actor,
            agent=agent,
            timestamp=timestamp,
            update=update_data or None,
            create=create,
            exclusive=True,
            summary=summary or f"Create ticket {t_no}",
            trailers=trailers,
        )

    def update(
        self,
        t_no: str,
        update_data: dict,
        *,
        actor: str,
        agent: str | None = None,
        expected_version: str | None = None,
        timestamp: datetime | None = None,
        summary: str | None = None,
        trailers: dict[str, str] | None = None,
    ) -> CommitResult:
        """Apply one synchronized update (docs/data-model.md#update-rules) as one commit.

        Args:
            t_no: the ticket.
            update_data: ``{"E": {...}, "I": {...}, "T": {...}}`` (``tickets.update``).
            actor: who writes; ``agent``: the automated agent's name, if any.
            expected_version: the ticket version the caller read (a commit id); if the
                ticket changed since, ConflictError is raised and nothing is written.
            timestamp: the update's time (aware); now when None.

        Raises:
            TicketNotFound, ConflictError, ValidationError, InvalidTicketNumber,
            AccessDenied, InvalidTransition, UnknownAgent, ArchivedTicket, LockTimeout.
        """
        return self.write(
            t_no,
            actor=actor,
            agent=agent,
            timestamp=timestamp,
            update=update_data,
            summary=summary,
            trailers=trailers,
            expected_version=expected_version,
        )

    def add_message(
        self,
        t_no: str,
        kind: str,
        *,
        sender: str,
        sender_id: str,
        content: str,
        actor: str,
        agent: str | None = None,
        message_type: str | None = None,
        platform: str | None = None,
        metadata: dict | None = None,
        timestamp: datetime | None = None,
        expected_version: str | None = None,
    ) -> CommitResult:
        """Append one message to E (``kind="E"``) or I (``kind="I"``) as one commit.

        ``message_type`` and ``platform`` apply to internal messages only.

        Raises:
            ValidationError: bad sender role, type, or content over the size limit.
        """
        if kind not in ("E", "I"):
            raise ValidationError(f"message kind must be E (external) or I (internal), not {kind!r}")
        message: dict[str, Any] = {"sender": sender, "sender_id": sender_id, "content": content}
        if kind == "E" and (message_type or platform):
            raise ValidationError("--type and --platform apply to internal messages only")
        if message_type:
            message["message_type"] = message_type
        if platform:
            message["platform"] = platform
        if metadata:
            message["metadata"] = metadata
        if timestamp:
            message["timestamp"] = to_utc(timestamp).isoformat()
        what = "external" if kind == "E" else "internal"
        return self.update(
            t_no,
            {kind: {"messages": [message]}},
            actor=actor,
            agent=agent,
            timestamp=timestamp,
            expected_version=expected_version,
            summary=f"Add {what} message to ticket {t_no}",
        )

    def set_state(
        self,
        t_no: str,
        fields: dict[str, Any],
        *,
        actor: str,
        agent: str | None = None,
        expected_version: str | None = None,
    ) -> CommitResult:
        """Set workflow-state fields of T (priority, channel, assigned_member, …).

        ``conversation_status`` is a field of E and is routed there. A change of
        ``workflow_stage`` goes through the workflow's transition rules and is recorded
        in ``phase_transitions`` (``set_stage``).
        """
        if "workflow_stage" in fields:
            rest = {k: v for k, v in fields.items() if k != "workflow_stage"}
            return self.set_stage(
                t_no, fields["workflow_stage"], reason="set with state set", actor=actor,
                agent=agent, fields=rest, expected_version=expected_version, allow_same=True,
            )
        t_fields = {k: v for k, v in fields.items() if k != "conversation_status"}
        data: dict[str, Any] = {}
        if t_fields:
            data["T"] = t_fields
        if "conversation_status" in fields:
            data["E"] = {"conversation_status": fields["conversation_status"]}
        shown = ", ".join(f"{k}={v}" for k, v in fields.items())
        return self.update(
            t_no,
            data,
            actor=actor,
            agent=agent,
            expected_version=expected_version,
            summary=f"Set {shown} on ticket {t_no}"[:120],
        )

    def set_stage(
        self,
        t_no: str,
        stage: str,
        *,
        reason: str,
        actor: str,
        agent: str | None = None,
        summary: str | None = None,
        fields: dict[str, Any] | None = None,
        expected_version: str | None = None,
        allow_same: bool = False,
    ) -> CommitResult:
        """Move a ticket to ``stage`` if the workflow allows it, as one commit.

        Appends a transition record (from, to, timestamp, actor, agent, reason, summary)
        to ``phase_transitions`` and sets ``workflow_stage``
        (docs/data-model.md#workflow-stages). ``fields`` are further T/E fields set in
        the same commit (``state set``). The check and the write are tied by the
        version read: if the ticket changes in between, the check is repeated (or
        ConflictError raised when ``expected_version`` was given).

        Raises:
            InvalidTransition: unknown stage or an edge outside the graph (lists allowed).
            ValidationError: empty reason. TicketNotFound, ConflictError, UnknownAgent.
        """
        if not isinstance(reason, str) or not reason.strip():
            raise ValidationError("a stage change needs a reason")
        workflow = self.policy().workflow
        workflow.check_stage(stage)

        def write(files: TicketFiles, head: pygit2.Commit) -> CommitResult:
            current = files.workflow.workflow_stage
            when = utc_now()
            data: dict[str, Any] = {"T": {}}
            if not (allow_same and current == stage):
                workflow.check_transition(current, stage)
                record = {
                    "from": current,
                    "to": stage,
                    "timestamp": format_utc(when),
                    "actor": actor,
                    "agent": agent,
                    "reason": reason,
                    "summary": summary,
                }
                transitions = [t.model_dump(mode="json") for t in files.workflow.phase_transitions]
                data["T"] = {"workflow_stage": stage, "phase_transitions": transitions + [record]}
            for key, value in (fields or {}).items():
                target = "E" if key == "conversation_status" else "T"
                data.setdefault(target, {})[key] = value
            data = {k: v for k, v in data.items() if v}
            if not data:
                raise ValidationError(f"ticket {t_no} is already in stage {stage}: nothing to change")
            moved = "workflow_stage" in data.get("T", {})
            return self.update(
                t_no,
                data,
                actor=actor,
                agent=agent,
                timestamp=when,
                expected_version=expected_version or str(head.id),
                summary=f"Move ticket {t_no} from {current} to {stage}" if moved else f"Set fields on ticket {t_no}",
                trailers={"Stage": f"{current} -> {stage}"} if moved else None,
            )

        return retry_on_conflict(self, t_no, write, attempts=1 if expected_version is not None else STAGE_RETRIES)

    def stage_info(self, t_no: str, at: str | None = None) -> StageInfo:
        """Return a ticket's stage, where it may go next, and its transition records.

        Raises:
            TicketNotFound, RevisionNotFound, ValidationError (invalid configuration).
        """
        commit = self.resolve(at)
        files = self.read(t_no, at=commit)
        workflow = self.policy(commit).workflow
        stage = files.workflow.workflow_stage
        return StageInfo(
            t_no,
            stage,
            list(workflow.allowed(stage)),
            list(workflow.stages),
            [t.model_dump(mode="json") for t in files.workflow.phase_transitions],
        )

    def replace_files(
        self,
        t_no: str,
        files: TicketFiles,
        *,
        actor: str,
        agent: str | None = None,
        summary: str,
        trailers: dict[str, str] | None = None,
        force_worktree: bool = False,
        allow_missing: bool = False,
        expected_version: str | None = None,
    ) -> CommitResult:
        """Write given contents for a ticket's three files as one synchronized update.

        Used for hand edits and rollbacks: the files are validated, stamped with one
        timestamp and committed through the write path (lock, rules, compare-and-swap).
        The actor's role must allow writing every message file whose content changes.

        Raises:
            TicketNotFound: the ticket does not exist and ``allow_missing`` is False.
            ValidationError, AccessDenied, ArchivedTicket, ConflictError.
        """
        return self.write(
            t_no,
            actor=actor,
            agent=agent,
            files=files,
            create={} if allow_missing else None,
            summary=summary,
            trailers=trailers,
            force_worktree=force_worktree,
            expected_version=expected_version,
        )

    def update_with_retry(
        self,
        t_no: str,
        make_update: Callable[[TicketFiles], dict],
        *,
        actor: str,
        agent: str | None = None,
        attempts: int = 10,
        backoff: float = 0.01,
        max_backoff: float = 1.0,
    ) -> CommitResult:
        """Read, compute an update, write with the version read; retry on conflict.

        ``make_update(files)`` gets the ticket as read and returns ``update_data``. On
        ConflictError the ticket is read again and ``make_update`` called again, after
        an exponential backoff with jitter (``backoff`` · 2^n seconds, capped at
        ``max_backoff``), at most ``attempts`` times (optimistic locking,
        docs/data-model.md#optimistic-locking).

        Raises:
            ConflictError: still conflicting after the last attempt.
        """
        return retry_on_conflict(
            self,
            t_no,
            lambda files, head: self.update(
                t_no, make_update(files), actor=actor, agent=agent, expected_version=self.ticket_version(t_no, at=head)
            ),
            attempts=attempts,
            backoff=backoff,
            max_backoff=max_backoff,
        )

    # ------------------------------------------------------------------ other commits
    def config(self, name: str, defaults: dict[str, Any] | None = None, at: str | None = None) -> dict[str, Any]:
        """Return a section of the committed configuration (``.gitstore/config.json``) at
        HEAD or ``at``, on top of ``defaults``.

        Raises:
            ValidationError: the file or the section is not a JSON object.
        """
        commit = self.resolve(at)
        return section_of(read_tree_config(self.repo, commit.tree), name, defaults)

    def write_config_section(self, name: str, value: dict[str, Any], *, actor: str, summary: str | None = None) -> str:
        """Replace one section of the committed configuration in one commit.

        Sections the store enforces (``roles``, ``agents``, ``workflow``) are
        validated first: an invalid one is refused and nothing is written.

        Returns:
            The commit id.

        Raises:
            ValidationError: ``value`` is not a JSON object, or not a valid section.
            AccessDenied: ``roles``, ``agents`` or ``crypt`` changed by an actor who is
                not an admin (``Policy.check_config``).
        """
        if not isinstance(value, dict):
            raise ValidationError(f"configuration section {name!r} must be an object")
        from gitstore.crypt.recipients import SECTION as CRYPT_SECTION
        from gitstore.crypt.recipients import parse_section
        from gitstore.writer import commit_message, signature

        with self._writing() as writer:
            tip = writer.tip()
            self._policy_of(tip.tree).check_config(name, actor=actor)
            data = read_tree_config(self.objects_repo(), tip.tree)
            data[name] = value
            parse_policy(data)  # refuse a section that would break writes on every site
            parse_section(data.get(CRYPT_SECTION))  # and recipients every write must seal for
            blob = self.objects.add_blob(dumps_config(data))
            message = commit_message(summary or f"Configure {name}", {"Config": name, "Actor": actor})
            commit_id = writer.commit({CONFIG_PATH: blob}, message=message, author=signature(actor, utc_now()))
            self._publish()
        return str(commit_id)

    def configure_workflow(self, value: dict[str, Any] | str, *, actor: str) -> str:
        """Commit a workflow configuration (a preset name or a section object).

        Returns:
            The commit id.

        Raises:
            ValidationError: unknown preset or invalid section; nothing is written.
        """
        if isinstance(value, str):
            if value not in PRESETS:
                raise ValidationError(f"unknown workflow preset {value!r}: use {', '.join(PRESETS)}")
            value = PRESETS[value]
        parse_workflow(value)
        return self.write_config_section("workflow", value, actor=actor, summary="Configure workflow stages")

    def workflow(self, at: str | None = None) -> Workflow:
        """Return the store's workflow at HEAD (or ``at``); the default graph if unset."""
        return self.policy(at).workflow

    def commit_tree_changes(
        self,
        parent: pygit2.Commit,
        changes: dict[str, pygit2.Oid | None],
        *,
        message: str,
        author: pygit2.Signature,
        committer: pygit2.Signature | None = None,
        extra_parents: list[pygit2.Oid] | None = None,
        force_worktree: bool = False,
        contents: dict[str, bytes] | None = None,
    ) -> tuple[pygit2.Oid, list[str]]:
        """Commit blob changes on top of ``parent`` and move the branch (merges, repairs).

        The general commit of the write path for content the caller validated itself
        (a merge's tree, a configuration file). Takes the writer lock (reentrant).

        Args:
            parent: the commit the branch must still point at (compare-and-swap).
            changes: repository path → new blob id, or None to delete the path.
            message: the full commit message (summary line, blank line, trailers).
            author, committer: signatures (committer defaults to author).
            extra_parents: further parents (a merge commit's other side).
            force_worktree: overwrite working copies of these paths even if edited.
            contents: path → the new blob's bytes, if at hand.

        Returns:
            ``(commit id, kept)``: kept lists working-tree paths left as a person's
            uncommitted edits (empty inside ``batch()``, where the checkout waits).

        Raises:
            RefMovedError: the branch moved since ``parent`` was read.
            OperationInProgress: a git merge/rebase/cherry-pick/revert is unfinished
                or the index holds conflicts (``objects.repostate``); nothing written.
        """
        with self._writing() as writer:
            if writer.tip().id != parent.id:
                raise RefMovedError(f"{BRANCH} moved to {writer.tip().id} while writing (expected {parent.id}); nothing written")
            commit_id = writer.commit(
                changes,
                message=message,
                author=author,
                committer=committer,
                extra_parents=extra_parents,
                contents=contents,
                force_worktree=force_worktree,
            )
            self._publish()
            kept = [] if self._batch_depth else list(self.last_kept)
        return commit_id, kept

    def fast_forward(
        self, expected: pygit2.Oid, new: pygit2.Oid, changes: dict[str, tuple[pygit2.Oid | None, pygit2.Oid | None]], reason: str
    ) -> list[str]:
        """Move the branch from ``expected`` to ``new``, a descendant already in the
        repository (a pull's fast-forward), by compare-and-swap, and catch the working
        tree up (at once, or at the end of the open ``batch()``).

        Args:
            expected: the commit the branch must still point at.
            new: the commit to move to.
            changes: path → ``(blob id at expected, blob id at new)`` of every changed path.
            reason: the reflog message.

        Returns:
            Working-tree paths kept as a person's uncommitted edits.

        Raises:
            RefMovedError: the branch is not at ``expected``.
            OperationInProgress: a git operation is unfinished; nothing moved.
        """
        with self._writing() as writer:
            writer.reset()
            move_branch(self.objects.repo, expected, new, reason)
            self.worktree.record(new, changes)
            if self._batch_depth == 0:
                self.last_kept = self.worktree.flush()
        return list(self.last_kept)


def _is_repo_root(path: Path, bare: bool) -> bool:
    return (path / ".git").exists() or (bare and (path / "HEAD").exists() and (path / "objects").is_dir())


def _looks_like_store(repo: pygit2.Repository) -> bool:
    if repo.head_is_unborn:
        return False
    try:
        tree = repo.references[BRANCH].peel(pygit2.Commit).tree
    except (KeyError, pygit2.GitError):
        return False
    if ".gitattributes" in tree and b"gitstore" in repo[tree[".gitattributes"].id].read_raw():
        return True
    return layout.ROOT in tree


PESSIMISTIC_AFTER = 3
"""Conflicts after which ``retry_on_conflict`` holds the writer lock across read and write."""


def retry_on_conflict(
    store: Store,
    t_no: str,
    write: Callable[[TicketFiles, pygit2.Commit], T],
    *,
    attempts: int = 10,
    backoff: float = 0.01,
    max_backoff: float = 1.0,
) -> T:
    """Optimistic locking's retry loop (docs/data-model.md#optimistic-locking).

    ``write(files, head)`` gets the ticket as read at ``head`` and writes with an
    ``expected_version`` taken from that read. On ConflictError the ticket is read
    again and ``write`` called again, after an exponential backoff with jitter
    (``backoff`` · 2^n seconds, capped at ``max_backoff``), at most ``attempts`` times.
    The last attempt (and every one after ``PESSIMISTIC_AFTER`` conflicts) reads and
    writes holding the writer lock, so no other gitstore writer can come between: a
    caller under heavy contention waits for the lock instead of giving up.

    Returns:
        What ``write`` returns.

    Raises:
        ConflictError: still conflicting after the last attempt (a writer that does not
            take gitstore's lock, e.g. a plain git command, moved the branch).
        LockTimeout: a locked attempt waited longer than the store's lock timeout.
        Whatever ``write`` raises otherwise (at once).
    """
    for attempt in range(attempts):
        locked = attempt == attempts - 1 or attempt >= PESSIMISTIC_AFTER
        try:
            with store.lock if locked else nullcontext():
                head = store.head()
                files = store.read_stored(t_no, at=head)
                return write(files, head)
        except ConflictError:
            if attempt == attempts - 1:
                raise
            import random

            delay = min(max_backoff, backoff * (2**attempt))
            time.sleep(delay * (0.5 + random.random()))
    raise AssertionError("unreachable")


def __getattr__(name: str) -> Any:
    """``CommitResult`` and ``CommitEvent``, defined by the write path, loaded on first use (PEP 562)."""
    if name in ("CommitResult", "CommitEvent"):
        import gitstore.writer

        return getattr(gitstore.writer, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["Store", "StageInfo", "CommitResult", "CommitEvent", "GITATTRIBUTES", "retry_on_conflict"]
