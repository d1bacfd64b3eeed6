"""The store: a git repository of tickets, and the synchronized write path.

One synchronized update of a ticket's files is exactly one commit (seed 000 §3.2.1,
ARCHITECTURE.md "The write path"):

1. take the writer lock (``lock.WriterLock``; stale locks of a killed writer cleared);
2. read the ticket from the HEAD tree (never from the working tree);
3. apply the change to the models; validate the three files and the cross-file rules
   (``rules``), stamping one shared timestamp on E, I and T;
4. write blobs and the trees on the changed paths (``treewrite``), create the commit
   without moving a ref; author and committer are the actor, the message carries
   ``Ticket:``, ``Files:``, ``Actor:`` (and ``Agent:``) trailers;
5. move ``refs/heads/main`` by compare-and-swap in a ref transaction (fsync on by
   default: after this the update survives a crash);
6. catch the working tree and ``.git/index`` up for the changed paths (``worktree``),
   at once or, inside ``batch()``, once at the end;
7. notify subscribers and release the lock.
"""

from __future__ import annotations

import os
import random
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, Iterator

import pygit2

from gitstore.tickets import layout
from gitstore.errors import (
    ConflictError,
    GitStoreError,
    NotAStoreError,
    RefMovedError,
    StoreExistsError,
    TicketExists,
    TicketNotFound,
    ValidationError,
)
from gitstore.tickets.archive import check_writable
from gitstore.objects.lock import WriterLock
from gitstore.objects.packs import ObjectWriter
from gitstore.objects.revisions import resolve_commit
from gitstore.tickets.rules import cross_file_problems
from gitstore.tickets.files import STAMP_FIELDS, TicketFiles, new_ticket
from gitstore.timeutil import to_utc, utc_now
from gitstore.objects.trees import blob_at, write_tree
from gitstore.tickets.update import apply_update
from gitstore.objects.worktree import WorktreeSync

BRANCH = "refs/heads/main"
GITATTRIBUTES = b"# gitstore: ticket files are UTF-8 JSON with LF line ends\nTickets/**/*.json text eol=lf merge=gitstore\n"
EMAIL_DOMAIN = "gitstore.invalid"


@dataclass
class CommitResult:
    """The outcome of one synchronized update.

    Attributes:
        commit: id of the new commit (the ticket's new version).
        t_no: the ticket.
        files: names of the files whose content the update changed.
        added: ids of appended messages/progress updates/decisions, per kind.
        kept_local_edits: working-tree paths left as they were because a person had
            uncommitted edits there (filled when the working tree catches up).
        timestamp: the update's shared timestamp (aware UTC).
    """

    commit: str
    t_no: str
    files: list[str]
    added: dict[str, list[str]] = field(default_factory=dict)
    kept_local_edits: list[str] = field(default_factory=list)
    timestamp: datetime | None = None


@dataclass(frozen=True)
class CommitEvent:
    """What subscribers receive after each committed update (seed 002 subscribe/notify).

    Attributes:
        commit: the new commit id.
        parent: the previous HEAD commit id (None for the first commit).
        t_no: the ticket.
        kinds: file kinds changed (``E``/``I``/``T``).
        added: ids appended, per kind.
    """

    commit: str
    parent: str | None
    t_no: str
    kinds: tuple[str, ...]
    added: dict[str, list[str]]


def _configure_fsync(enabled: bool) -> None:
    pygit2.settings.enable_fsync_gitdir(bool(enabled))
    # a bound on pack files libgit2 keeps open (default: none): long-running writers
    # see many small packs come and go (packwrite), and must not run out of descriptors
    if pygit2.settings.mwindow_file_limit == 0:
        pygit2.settings.mwindow_file_limit = 256


class Store:
    """A gitstore store (a git repository holding ``Tickets/``).

    Open one with ``Store.open(path)`` or create one with ``Store.init(path)``. Use it
    as a context manager (or call ``close()``) so the working tree catches up.

    Args:
        repo: an open pygit2 repository that is a store.
        fsync: flush objects and refs to disk before a write returns (libgit2's
            ENABLE_FSYNC_GITDIR, a process-wide setting). On by default.
        lock_timeout: seconds to wait for the writer lock.
    """

    def __init__(self, repo: pygit2.Repository, *, fsync: bool = True, lock_timeout: float = 30.0):
        self.repo = repo
        self.git_dir = Path(repo.path)
        self.state_dir = self.git_dir / "gitstore"
        self.state_dir.mkdir(exist_ok=True)
        self.fsync = fsync
        _configure_fsync(fsync)
        self.lock = WriterLock(self.git_dir, timeout=lock_timeout)
        self.worktree = WorktreeSync(repo, self.state_dir)
        self._objects: ObjectWriter | None = None
        self._subscribers: list[Callable[[CommitEvent], None]] = []
        self._batch_depth = 0
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
            store.worktree._mark(commit)
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
        store._repair_worktree_on_open()
        return store

    def _repair_worktree_on_open(self) -> None:
        if self.repo.is_bare or self.repo.head_is_unborn:
            return
        head = self.head()
        if self.worktree.recorded() == str(head.id):
            return
        with self.lock:
            self.worktree.clean_tmp()
            self.last_kept = self.worktree.catch_up(self.head(), prefix="")

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

        With ``t_no``, a date resolves to that ticket's version at the date (issue 3,
        ``history.HistoryIndex.commit_at``).

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

    def read(self, t_no: str, at: str | pygit2.Commit | None = None) -> TicketFiles:
        """Read a ticket's three files at HEAD or at a revision.

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
        return self._read_tree(t_no, commit.tree, str(commit.id)[:12])

    def _read_tree(self, t_no: str, tree: pygit2.Tree, where: str, repo: pygit2.Repository | None = None) -> TicketFiles:
        repo = repo or self.repo
        models = {}
        missing = []
        for kind, path in layout.ticket_paths(t_no).items():
            try:
                entry = tree[path]
            except KeyError:
                missing.append(layout.file_name(kind, t_no))
                continue
            models[kind] = layout.loads(kind, repo[entry.id].data, layout.file_name(kind, t_no))
        if len(missing) == 3:
            raise TicketNotFound(f"ticket {t_no} not found at {where}")
        if missing:
            raise ValidationError(f"ticket {t_no} is incomplete at {where}: missing {', '.join(missing)} (run 'gitstore verify')")
        return TicketFiles(t_no, models["E"], models["I"], models["T"])

    def context(self, t_no: str, at: str | None = None) -> dict[str, Any]:
        """Return the complete context of a ticket (seed 000 §3.3.1) at HEAD or ``at``.

        See ``gitstore.tickets.complete.complete_context`` for the keys.

        Raises:
            TicketNotFound, RevisionNotFound, ValidationError, InvalidTicketNumber.
        """
        from gitstore.tickets.complete import complete_context

        commit = self.resolve(at, t_no=t_no)
        files = self.read(t_no, at=commit)
        return complete_context(files, str(commit.id), self.ticket_version(t_no, at=commit))

    def config(self, name: str, defaults: dict[str, Any] | None = None) -> dict[str, Any]:
        """Return a section of the committed store configuration (``gitstore.config``)."""
        from gitstore.config import section

        return section(self, name, defaults)

    def exists(self, t_no: str, at: str | None = None) -> bool:
        """Return True if the ticket's T file exists at HEAD (or ``at``)."""
        layout.validate_t_no(t_no)
        tree = self.resolve(at).tree
        return layout.ticket_path("T", t_no) in tree

    def list_tickets(self, at: str | None = None, archived: bool | None = None) -> list[str]:
        """Return the T_NOs of all tickets (those with a T file), sorted.

        Walks only the ``Tickets/tickets`` subtree of the revision. ``archived``:
        None lists all, False leaves archived tickets out, True lists only them
        (issue 3, ``gitstore.tickets.archive``).
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
            for entry in current:
                if entry.type_str == "tree":
                    stack.append(self.repo[entry.id])
                else:
                    parsed = layout.parse_path(f"{layout.ROOT}/x/{entry.name}")
                    if parsed and parsed[0] == "T":
                        found.append(parsed[1])
        if archived is not None:
            from gitstore.tickets.archive import filter_archived

            found = filter_archived(self.repo, tree, found, archived)
        return sorted(found)

    def ticket_version(self, t_no: str, at: str | pygit2.Commit | None = None) -> str:
        """Return the ticket's version: the id of the last commit that changed it.

        Answered by the per-ticket log (``history``: one indexed query) when ``at`` is
        on the branch's first-parent line; otherwise the walk follows first parents
        from ``at`` until the T blob changes (every synchronized update rewrites the T
        file's ``last_synchronized``).

        Raises:
            TicketNotFound: no such ticket at ``at``.
        """
        commit = at if isinstance(at, pygit2.Commit) else self.resolve(at)
        from gitstore.history.log import indexed_version

        found = indexed_version(self, t_no, commit)
        if found is not None:
            return found
        path = layout.ticket_path("T", t_no)
        blob = blob_at(commit.tree, path)
        if blob is None:
            raise TicketNotFound(f"ticket {t_no} not found at {str(commit.id)[:12]}")
        while commit.parents:
            parent = commit.parents[0]
            if blob_at(parent.tree, path) != blob:
                break
            commit = parent
        return str(commit.id)

    # ------------------------------------------------------------------ writing
    def subscribe(self, callback: Callable[[CommitEvent], None]) -> Callable[[], None]:
        """Call ``callback(event)`` after every committed update; returns an unsubscribe."""
        self._subscribers.append(callback)
        return lambda: self._subscribers.remove(callback)

    @contextmanager
    def batch(self, flush_interval: float | None = None) -> Iterator["Store"]:
        """Hold the writer lock across many updates and catch the working tree up once.

        Each update is still its own commit; only the checkout is deferred: to the end
        of the batch, or also every ``flush_interval`` seconds (a long-running agent
        process). ARCHITECTURE.md: the working tree and ``.git/index`` catch up per
        command or per batch, never once per update inside a batch.
        """
        with self.lock:
            self._batch_depth += 1
            if self._batch_depth == 1:
                self._flush_interval = flush_interval
                self._last_flush = time.monotonic()
            try:
                yield self
            finally:
                self._batch_depth -= 1
                if self._batch_depth == 0:
                    self.last_kept = self.worktree.flush()

    def create_ticket(
        self,
        t_no: str,
        *,
        client_name: str,
        company_name: str,
        actor: str,
        agent: str | None = None,
        priority: str = "LOW",
        channel: str = "MATTERMOST",
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
            client_name, company_name: the customer (seed 000 §3.1.3).
            actor: who writes (human or agent id): commit author and committer.
            agent: the automated agent's name, if an agent writes (``Agent:`` trailer).
            priority, channel, platform: seed 000 enumerations.
            update_data: applied on top of the empty ticket in the same commit.
            timestamp: the update's time (aware); the author date. Now when None.

        Raises:
            TicketExists: the T_NO is taken.
            ValidationError / InvalidTicketNumber: bad input; nothing is written.
        """
        layout.validate_t_no(t_no)
        when = to_utc(timestamp) if timestamp else utc_now()
        try:
            files = new_ticket(
                t_no,
                client_name=client_name,
                company_name=company_name,
                when=when,
                priority=priority,
                channel=channel,
                platform=platform,
                contact_info=contact_info,
                trello_template=trello_template,
            )
        except Exception as exc:  # pydantic's ValidationError
            if hasattr(exc, "errors"):
                first = exc.errors()[0]
                raise ValidationError(f"ticket {t_no}: {layout.describe_error(first)}") from None
            raise

        def mutate(current: TicketFiles | None):
            if current is not None:
                raise TicketExists(f"ticket {t_no} already exists")
            if update_data:  # the same issue-7 rules as Store.update (roles, stages, agents)
                from gitstore.agents.roles import enforce_update_rules

                enforce_update_rules(self, update_data, actor=actor, agent=agent)
            applied = apply_update(files, update_data, when) if update_data else None
            return (applied.files if applied else files), (applied.added if applied else {})

        return self._write(
            t_no,
            mutate,
            actor=actor,
            agent=agent,
            when=when,
            summary=summary or f"Create ticket {t_no}",
            trailers=trailers,
            allow_missing=True,
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
        """Apply one synchronized update (seed 000 §3.2.1 ``update_data``) as one commit.

        Args:
            t_no: the ticket.
            update_data: ``{"E": {...}, "I": {...}, "T": {...}}`` (see ``gitstore.tickets.update``).
            actor: who writes; ``agent``: the automated agent's name, if any.
            expected_version: the ticket version the caller read (a commit id); if the
                ticket changed since, ConflictError is raised and nothing is written.
            timestamp: the update's time (aware); now when None.

        Raises:
            TicketNotFound, ConflictError, ValidationError, InvalidTicketNumber,
            LockTimeout.
        """
        when = to_utc(timestamp) if timestamp else utc_now()

        def mutate(current: TicketFiles):
            from gitstore.agents.roles import enforce_update_rules  # issue 7: roles, stages, agents

            enforce_update_rules(self, update_data, actor=actor, agent=agent)
            applied = apply_update(current, update_data, when)
            return applied.files, applied.added

        return self._write(
            t_no,
            mutate,
            actor=actor,
            agent=agent,
            when=when,
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
        in ``phase_transitions`` (issue 7, ``gitstore.agents.workflow.set_stage``).
        """
        if "workflow_stage" in fields:
            from gitstore.agents.workflow import set_stage

            rest = {k: v for k, v in fields.items() if k != "workflow_stage"}
            return set_stage(
                self, t_no, fields["workflow_stage"], reason="set with state set", actor=actor,
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
        timestamp and committed through the normal path (lock, rules, compare-and-swap).
        """
        when = utc_now()
        return self._write(
            t_no,
            lambda current: (files, {}),
            actor=actor,
            agent=agent,
            when=when,
            summary=summary,
            trailers=trailers,
            force_worktree=force_worktree,
            allow_missing=allow_missing,
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
        ``max_backoff``), at most ``attempts`` times (seed 002 optimistic locking).

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

    # ------------------------------------------------------------------ the write path
    def _write(
        self,
        t_no: str,
        mutate: Callable[[TicketFiles | None], tuple[TicketFiles, dict]],
        *,
        actor: str,
        agent: str | None,
        when: datetime,
        summary: str | None,
        trailers: dict[str, str] | None = None,
        expected_version: str | None = None,
        allow_missing: bool = False,
        force_worktree: bool = False,
    ) -> CommitResult:
        layout.validate_t_no(t_no)
        author = _signature(actor, when)
        if agent is not None:
            _check_trailer_value("agent", agent)
        paths = layout.ticket_paths(t_no)
        with self.lock:
            # the write path reads through the object writer's repository: it serves
            # the objects of the previous commits from memory (see packwrite)
            parent = self.objects.repo.references[BRANCH].peel(pygit2.Commit)
            tree = parent.tree
            old_blobs = {kind: blob_at(tree, path) for kind, path in paths.items()}
            if old_blobs["T"] is None and old_blobs["E"] is None and old_blobs["I"] is None:
                current = None
                if not allow_missing:
                    raise TicketNotFound(f"ticket {t_no} not found")
            else:
                current = self._read_tree(t_no, tree, "HEAD", repo=self.objects.repo)
            if expected_version is not None:
                self._check_version(t_no, expected_version, parent, old_blobs)
            files, added = mutate(current)
            check_writable(t_no, current, files)  # issue 3: archived tickets are read-only
            files = files.stamped(when)
            problems = cross_file_problems(files)
            if problems:
                name, problem = problems[0]
                raise ValidationError(f"{name}: {problem}", [f"{n}: {p}" for n, p in problems])
            changes, contents = {}, {}
            changed_kinds = []
            for kind, path in paths.items():
                data = layout.dumps(files.get(kind))
                blob = self.objects.add_blob(data)
                if blob != old_blobs[kind]:
                    changes[path] = blob
                    contents[path] = data
                    if current is None or files.get(kind).model_copy(
                        update=_stamp_fields(kind, current)
                    ) != current.get(kind):
                        changed_kinds.append(kind)
            if current is not None and not changed_kinds:
                self.objects.discard()  # nothing to commit: drop the staged blobs
                raise ValidationError(f"ticket {t_no}: the update changes nothing")
            names = [layout.file_name(k, t_no) for k in (changed_kinds or ["T"])]
            message = _commit_message(
                summary or f"Update ticket {t_no}", t_no, names, actor, agent, trailers
            )
            committer = _signature(actor, utc_now()) if when < utc_now().replace(microsecond=0) else author
            commit_id, kept = self.commit_tree_changes(
                parent,
                changes,
                message=message,
                author=author,
                committer=committer,
                old_blobs={path: old_blobs[kind] for kind, path in paths.items()},
                force_worktree=force_worktree,
                contents=contents,
            )
            result = CommitResult(str(commit_id), t_no, names, added, kept, when)
            event = CommitEvent(str(commit_id), str(parent.id), t_no, tuple(changed_kinds), added)
            for callback in list(self._subscribers):
                callback(event)
        return result

    def commit_tree_changes(
        self,
        parent: pygit2.Commit,
        changes: dict[str, pygit2.Oid | None],
        *,
        message: str,
        author: pygit2.Signature,
        committer: pygit2.Signature | None = None,
        extra_parents: list[pygit2.Oid] | None = None,
        old_blobs: dict[str, pygit2.Oid | None] | None = None,
        force_worktree: bool = False,
        contents: dict[str, bytes] | None = None,
    ) -> tuple[pygit2.Oid, list[str]]:
        """Commit blob changes on top of ``parent`` and move the branch (steps 4–6).

        The low-level primitive under every write (tickets, config, merges). The caller
        must hold ``self.lock`` and have validated the content.

        Args:
            parent: the commit the branch must still point at (compare-and-swap).
            changes: repository path → new blob id, or None to delete the path.
            message: the full commit message (summary line, blank line, trailers).
            author, committer: signatures (committer defaults to author).
            extra_parents: further parents (a merge commit's other side).
            old_blobs: path → blob id at ``parent`` when already known.
            force_worktree: overwrite working copies of these paths even if edited.
            contents: path → the new blob's bytes, if at hand (the checkout then
                need not read them back).

        Returns:
            ``(commit id, kept)``: kept lists working-tree paths left as a person's
            uncommitted edits (empty inside ``batch()``, where the checkout waits).

        Raises:
            RefMovedError: the branch moved since ``parent`` was read.
        """
        if not self.lock.held:
            raise GitStoreError("commit_tree_changes needs the writer lock")
        tree = parent.tree
        if old_blobs is None:
            old_blobs = {}
        before = {path: old_blobs[path] if path in old_blobs else blob_at(tree, path) for path in changes}
        writer = self.objects
        try:
            new_tree = write_tree(writer.repo, writer.repo[tree.id], changes, put=writer.put)
            parents = [parent.id, *(extra_parents or [])]
            commit_id = writer.add_commit(new_tree, parents, author, committer or author, message)
            writer.flush(self.fsync)  # objects durable before the ref moves
        finally:
            writer.discard()
        self._move_branch(parent.id, commit_id, message.splitlines()[0] if message else "commit")
        writer.maybe_merge(self.fsync)
        self.worktree.record(
            commit_id,
            {path: (before[path], changes[path]) for path in changes if before[path] != changes[path]},
            force=force_worktree,
            contents=contents,
        )
        kept: list[str] = []
        due = self._flush_interval is not None and time.monotonic() - self._last_flush >= self._flush_interval
        if self._batch_depth == 0 or due:
            kept = self.worktree.flush()
            self.last_kept = kept
            self._last_flush = time.monotonic()
        return commit_id, kept

    def _check_version(self, t_no: str, expected: str, head: pygit2.Commit, head_blobs: dict) -> None:
        try:
            seen = self.repo.revparse_single(expected).peel(pygit2.Commit)
        except (KeyError, ValueError, pygit2.GitError):
            raise ConflictError(t_no, expected, self.ticket_version(t_no, at=head)) from None
        paths = layout.ticket_paths(t_no)
        if any(blob_at(seen.tree, paths[k]) != head_blobs[k] for k in paths):
            raise ConflictError(t_no, expected, self.ticket_version(t_no, at=head))

    def _move_branch(self, expected: pygit2.Oid, new: pygit2.Oid, reason: str) -> None:
        """Compare-and-swap ``refs/heads/main`` from ``expected`` to ``new``."""
        repo = self.objects.repo  # sees the new commit in memory: no pack rescan
        try:
            with repo.transaction() as txn:
                txn.lock_ref(BRANCH)
                current = repo.references[BRANCH].target
                if current != expected:
                    raise RefMovedError(
                        f"{BRANCH} moved to {current} while writing (expected {expected}); nothing written"
                    )
                txn.set_target(BRANCH, new, message=f"gitstore: {reason}"[:200])
        except pygit2.GitError as exc:
            raise RefMovedError(f"could not update {BRANCH}: {exc}") from None


def _stamp_fields(kind: str, current: TicketFiles) -> dict:
    key = STAMP_FIELDS[kind]
    return {key: getattr(current.get(kind), key)}


def _check_trailer_value(what: str, value: str) -> None:
    if not value or any(c in value for c in "<>\n\r\0") or len(value) > 200:
        raise ValidationError(f"invalid {what} {value!r}: 1-200 characters, no '<', '>' or line breaks")


def _signature(actor: str, when: datetime) -> pygit2.Signature:
    _check_trailer_value("actor", actor)
    email = f"{actor.replace(' ', '.')}@{EMAIL_DOMAIN}"
    return pygit2.Signature(actor, email, int(when.timestamp()), 0)


def _commit_message(
    summary: str,
    t_no: str,
    names: list[str],
    actor: str,
    agent: str | None,
    trailers: dict[str, str] | None,
) -> str:
    lines = [summary.splitlines()[0] if summary else f"Update ticket {t_no}", ""]
    lines.append(f"Ticket: {t_no}")
    lines.append(f"Files: {', '.join(names)}")
    lines.append(f"Actor: {actor}")
    if agent:
        lines.append(f"Agent: {agent}")
    for key, value in (trailers or {}).items():
        lines.append(f"{key}: {' '.join(str(value).split())}")
    return "\n".join(lines) + "\n"


def commit_message(summary: str, trailers: dict[str, str] | list[tuple[str, str]]) -> str:
    """A commit message for non-ticket commits (config, merges): summary line, blank
    line, trailers. ``trailers`` may repeat a key when given as pairs; every value is
    folded onto one line so no value can forge another trailer.
    """
    pairs = trailers.items() if isinstance(trailers, dict) else trailers
    lines = [summary.splitlines()[0], ""]
    lines += [f"{k}: {' '.join(str(v).split())}" for k, v in pairs]
    return "\n".join(lines) + "\n"


def _is_repo_root(path: Path, bare: bool) -> bool:
    return (path / ".git").exists() or (bare and (path / "HEAD").exists() and (path / "objects").is_dir())


def _looks_like_store(repo: pygit2.Repository) -> bool:
    if repo.head_is_unborn:
        return False
    try:
        tree = repo.references[BRANCH].peel(pygit2.Commit).tree
    except (KeyError, pygit2.GitError):
        return False
    if ".gitattributes" in tree and b"gitstore" in repo[tree[".gitattributes"].id].data:
        return True
    return layout.ROOT in tree


def retry_on_conflict(
    store: "Store",
    t_no: str,
    write: Callable[[TicketFiles, pygit2.Commit], Any],
    *,
    attempts: int = 10,
    backoff: float = 0.01,
    max_backoff: float = 1.0,
) -> Any:
    """Optimistic locking's retry loop (seed 002): read, decide, write; again on conflict.

    ``write(files, head)`` gets the ticket as read at ``head`` and writes with an
    ``expected_version`` taken from that read. On ConflictError the ticket is read
    again and ``write`` called again, after an exponential backoff with jitter
    (``backoff`` · 2^n seconds, capped at ``max_backoff``), at most ``attempts`` times.

    Returns:
        What ``write`` returns.

    Raises:
        ConflictError: still conflicting after the last attempt.
        Whatever ``write`` raises otherwise (at once).
    """
    for attempt in range(attempts):
        head = store.head()
        files = store.read(t_no, at=head)
        try:
            return write(files, head)
        except ConflictError:
            if attempt == attempts - 1:
                raise
            delay = min(max_backoff, backoff * (2**attempt))
            time.sleep(delay * (0.5 + random.random()))
    raise AssertionError("unreachable")


__all__ = ["Store", "CommitResult", "CommitEvent", "GitStoreError", "BRANCH", "retry_on_conflict"]
