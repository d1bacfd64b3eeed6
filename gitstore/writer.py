"""The write path: every commit a store makes goes through ``TicketWriter``.

One synchronized update of a ticket is one commit (docs/architecture.md, "The path of
one update"). ``TicketWriter.write`` owns everything an update needs, once:

1. the ticket as read from the tip of the branch (never the working tree), held as a
   ``TicketDraft`` (``tickets.update``) and cached per ticket under its blob ids, so the
   n-th message appended costs that message, not the n before it;
2. the store's rules: roles and workflow stages (``tickets.policy``), the update rules
   (``tickets.update``), archived tickets being read-only (``tickets.archive``), the
   cross-file rules (``tickets.rules``), one shared timestamp on E, I and T;
3. the commit: blobs and the trees on the changed paths (``objects.trees``), the commit
   message with its trailers (``ticket_message``), author and committer (``signature``);
4. publishing (``checkpoint``): the staged objects written as one pack (``objects.packs``),
   the branch moved by compare-and-swap (``objects.refs``), the working tree told about
   the changed paths (``objects.worktree``), subscribers notified once per commit.

Commits chain on the writer's *tip*. A single update (``Store.update``) publishes at
once; a bulk write (``Store.bulk``, used by importers) publishes every
``checkpoint_every`` commits: the only difference between the two is batching. Config
commits and merges (``Store.commit_tree_changes``) use the same ``commit``/``checkpoint``.
The caller holds the store's writer lock for the whole chain.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable, Iterable

import pygit2
from pydantic import ValidationError as PydanticValidationError

from gitstore.crypt.fields import exposed_fields, exposed_message, sealer_for
from gitstore.crypt.recipients import recipients_at
from gitstore.errors import ConflictError, GitStoreError, TicketExists, TicketNotFound, ValidationError
from gitstore.objects.actors import check_trailer_value, signature
from gitstore.objects.deflate import MIN_BYTES, PrefixDeflater
from gitstore.objects.packs import ObjectWriter
from gitstore.objects.refs import BRANCH, move_branch
from gitstore.objects.trees import blob_at, hash_blob, last_change, write_tree
from gitstore.objects.worktree import WorktreeSync
from gitstore.tickets import layout
from gitstore.tickets.archive import check_writable
from gitstore.tickets.files import TicketFiles, new_ticket
from gitstore.tickets.policy import Policy
from gitstore.tickets.rules import cross_file_problems
from gitstore.tickets.update import APPEND_FIELDS, AppliedUpdate, TicketDraft
from gitstore.timeutil import utc_now

CACHE_TICKETS = 256
"""Tickets whose drafts the writer keeps between writes (least recently written dropped)."""

_BLOB = 3

Signing = Callable[[str], "Callable[[bytes], str] | None"]
"""Actor name → a function that signs a commit's bytes for that actor (returning the
armored signature for the ``gpgsig`` header), or None when the actor signs nothing.
Called with the committer's name: the actor, or an import's runner (``committer_for``)."""


@dataclass
class CommitResult:
    """The outcome of one synchronized update.

    Attributes:
        commit: id of the new commit (the ticket's new version); None when the update
            changed nothing and the caller allowed that (``allow_empty``).
        t_no: the ticket.
        files: names of the files whose content the update changed.
        added: ids of appended messages/progress updates/decisions, per kind.
        kept_local_edits: working-tree paths left as they were because a person had
            uncommitted edits there (filled when the working tree catches up).
        timestamp: the update's shared timestamp (aware UTC).
        created: the update created the ticket.
        messages: messages appended (E and I).
    """

    commit: str | None
    t_no: str
    files: list[str]
    added: dict[str, list[str]] = field(default_factory=dict)
    kept_local_edits: list[str] = field(default_factory=list)
    timestamp: datetime | None = None
    created: bool = False
    messages: int = 0


@dataclass(frozen=True)
class CommitEvent:
    """What subscribers receive after each committed update (subscribe/notify).

    Attributes:
        commit: the new commit id.
        parent: the previous commit id (None for the first commit).
        t_no: the ticket.
        kinds: file kinds changed (``E``/``I``/``T``).
        added: ids appended, per kind.
    """

    commit: str
    parent: str | None
    t_no: str
    kinds: tuple[str, ...]
    added: dict[str, list[str]]


@dataclass
class _Pending:
    commit: pygit2.Oid
    parent: pygit2.Oid
    worktree: dict[str, tuple[pygit2.Oid | None, pygit2.Oid | None]]
    contents: dict[str, bytes]
    force: bool
    event: tuple[str, tuple[str, ...], dict[str, list[str]]] | None


def commit_message(summary: str, trailers: dict[str, str] | Iterable[tuple[str, str]]) -> str:
    """A commit message: summary line, blank line, one ``Key: value`` trailer per line.

    ``trailers`` may repeat a key when given as pairs; every value is folded onto one
    line so no value can forge another trailer.
    """
    pairs = trailers.items() if isinstance(trailers, dict) else trailers
    lines = [summary.splitlines()[0] if summary else "Update", ""]
    lines += [f"{k}: {' '.join(str(v).split())}" for k, v in pairs]
    return "\n".join(lines) + "\n"


def ticket_message(
    summary: str | None, t_no: str, names: list[str], actor: str, agent: str | None, trailers: dict[str, str] | None
) -> str:
    """The commit message of a ticket update: trailers ``Ticket``, ``Files``, ``Actor``,
    ``Agent`` (when an agent writes), then ``trailers`` (docs/data-model.md#commits)."""
    pairs = [("Ticket", t_no), ("Files", ", ".join(names)), ("Actor", actor)]
    if agent:
        pairs.append(("Agent", agent))
    pairs += list((trailers or {}).items())
    return commit_message(summary or f"Update ticket {t_no}", pairs)


def committer_for(actor: str, when: datetime, by: str | None = None) -> tuple[pygit2.Signature, pygit2.Signature]:
    """Author and committer of an update at ``when``: the committer date is now when
    ``when`` is in the past (imports keep the source time as author date). ``by``: who
    commits on the author's behalf (an import's runner: the committer, who signs);
    the actor when None."""
    author = signature(actor, when)
    now = utc_now()
    committer = by or actor
    if when < now.replace(microsecond=0):
        return author, signature(committer, now)
    return author, (author if committer == actor else signature(committer, when))


def new_ticket_files(t_no: str, create: dict[str, Any], when: datetime) -> TicketFiles:
    """The files of a new ticket from ``Store.create_ticket`` keywords.

    Raises:
        ValidationError: an unknown keyword or a value outside the schema.
    """
    try:
        return new_ticket(t_no, when=when, **create)
    except TypeError as exc:
        raise ValidationError(f"ticket {t_no}: {exc}") from None
    except PydanticValidationError as exc:
        raise ValidationError(f"ticket {t_no}: {layout.describe_error(exc.errors()[0])}") from None


class TicketWriter:
    """Writes commits on a chain and publishes them (see the module doc).

    Args:
        objects: the store's object writer (stages objects, writes packs).
        worktree: the store's working-tree catch-up.
        fsync: flush packs and refs before a checkpoint returns.
        policy: returns the store's ``Policy`` at the tip's configuration.
        subscribers: the store's subscriber list (called in order, once per commit).
        signing: who signs the commits (``Signing``); unsigned commits when None.
    """

    def __init__(
        self,
        objects: ObjectWriter,
        worktree: WorktreeSync,
        *,
        fsync: bool,
        policy: Callable[[pygit2.Tree], Policy],
        subscribers: list[Callable[[CommitEvent], None]],
        signing: Signing | None = None,
    ):
        self.objects = objects
        self.worktree = worktree
        self.fsync = fsync
        self.policy = policy
        self.subscribers = subscribers
        self.signing = signing
        self._cache: OrderedDict[str, tuple[tuple[Any, ...], TicketDraft]] = OrderedDict()
        self._deflaters: OrderedDict[str, PrefixDeflater] = OrderedDict()
        self._base: pygit2.Oid | None = None
        self._tip: pygit2.Oid | None = None
        self._tip_tree: pygit2.Tree | None = None
        self._pending: list[_Pending] = []

    # ----------------------------------------------------------------- the chain
    @property
    def pending(self) -> int:
        """Commits written on the chain and not yet published."""
        return len(self._pending)

    def tip(self) -> pygit2.Commit:
        """The commit the next write builds on: the chain's tip, or the branch's head."""
        self._start()
        assert self._tip is not None
        return self.objects.repo[self._tip].peel(pygit2.Commit)

    def tip_tree(self) -> pygit2.Tree:
        """The root tree of ``tip()`` (served from memory for unpublished commits)."""
        self._start()
        assert self._tip_tree is not None
        return self._tip_tree

    def _start(self) -> None:
        if self._tip is None:
            head = self.objects.repo.references[BRANCH].peel(pygit2.Commit)
            self._base = self._tip = head.id
            tree = self.objects.repo[head.tree.id]
            assert isinstance(tree, pygit2.Tree)
            self._tip_tree = tree

    def draft(self, t_no: str) -> TicketDraft | None:
        """The ticket at the tip as a draft, or None if it does not exist there.

        Raises:
            ValidationError: the ticket is incomplete or a file is invalid.
        """
        return self._load(t_no)[0]

    def _load(self, t_no: str) -> tuple[TicketDraft | None, dict[str, pygit2.Oid | None]]:
        tree = self.tip_tree()
        blobs = {kind: blob_at(tree, path) for kind, path in layout.ticket_paths(t_no).items()}
        key = tuple(blobs[k] for k in "EIT")
        cached = self._cache.get(t_no)
        if cached is not None and cached[0] == key:
            self._cache.move_to_end(t_no)
            return cached[1], blobs
        missing = [layout.file_name(k, t_no) for k in "EIT" if blobs[k] is None]
        if len(missing) == 3:
            return None, blobs
        if missing:
            raise ValidationError(f"ticket {t_no} is incomplete: missing {', '.join(missing)} (run 'gitstore verify')")
        repo = self.objects.repo
        models = {}
        for k in "EIT":
            oid = blobs[k]
            assert oid is not None  # none is missing (checked above)
            models[k] = layout.loads(k, repo[oid].read_raw(), layout.file_name(k, t_no))
        draft = TicketDraft.from_files(TicketFiles(t_no, models["E"], models["I"], models["T"]))
        self._remember(t_no, key, draft)
        return draft, blobs

    def _remember(self, t_no: str, key: tuple[Any, ...], draft: TicketDraft) -> None:
        self._cache[t_no] = (key, draft)
        self._cache.move_to_end(t_no)
        while len(self._cache) > CACHE_TICKETS:
            self._cache.popitem(last=False)

    # ----------------------------------------------------------------- writing
    def write(
        self,
        t_no: str,
        *,
        actor: str,
        when: datetime,
        update: Any = None,
        files: TicketFiles | None = None,
        create: dict[str, Any] | None = None,
        exclusive: bool = False,
        agent: str | None = None,
        authorized_as: str | None = None,
        summary: str | None = None,
        trailers: dict[str, str] | None = None,
        expected_version: str | None = None,
        allow_empty: bool = False,
        force_worktree: bool = False,
    ) -> CommitResult:
        """Apply one synchronized update to a ticket as one new commit on the chain.

        Exactly one of ``update`` (``update_data``, docs/data-model.md#update-rules)
        and ``files`` (whole new contents: hand edits, rollbacks) is given, or neither
        when only creating.

        Args:
            t_no: the ticket.
            actor: who writes: commit author (and committer).
            when: the update's time (aware UTC): author date and shared sync timestamp.
            create: ``Store.create_ticket`` keywords used when the ticket does not exist
                (client_name, company_name, platform, …); without it a missing ticket
                is an error.
            exclusive: the ticket must not exist yet (``TicketExists`` otherwise).
            agent: the automated agent writing, if any (``Agent:`` trailer, its role).
            authorized_as: whose role the rules check (``actor`` when None): the person
                running an import whose commits are authored by the source's people.
            summary, trailers: the commit message's summary line and extra trailers.
            expected_version: the ticket's version the caller read (optimistic
                locking, docs/data-model.md#optimistic-locking).
            allow_empty: return a result with ``commit=None`` for an update that
                changes nothing, instead of raising.
            force_worktree: overwrite working copies of the ticket even if edited.

        Returns:
            The ``CommitResult`` (``kept_local_edits`` filled when published).

        Raises:
            InvalidTicketNumber, ValidationError: bad input; nothing is written.
            TicketNotFound / TicketExists: the ticket is missing / already exists.
            ConflictError: the ticket changed since ``expected_version``.
            AccessDenied, InvalidTransition, UnknownAgent, ArchivedTicket: a rule of
                the store refuses the write.
        """
        layout.validate_t_no(t_no)
        author, committer = committer_for(actor, when, by=authorized_as)
        if agent is not None:
            check_trailer_value("agent", agent)
        current, old_blobs = self._load(t_no)
        if current is not None and exclusive:
            raise TicketExists(f"ticket {t_no} already exists")
        if current is None and create is None:
            raise TicketNotFound(f"ticket {t_no} not found")
        if expected_version is not None:
            self._check_version(t_no, expected_version, old_blobs)
        policy = self.policy(self.tip_tree())
        recipients = recipients_at(self.objects.repo, self.tip_tree())  # encryption on: docs/encryption.md
        who = authorized_as or actor
        if files is not None:
            if files.t_no != t_no:
                raise ValidationError(f"files of ticket {files.t_no} written as ticket {t_no}")
            if current is not None:
                applied = current.replace(files)
                touched = set(applied.kinds)
            else:  # a new ticket from whole files: it writes the message files that hold items
                applied = AppliedUpdate(TicketDraft.from_files(files), list("EIT"))
                touched = {k for k in "EI" if any(applied.draft.items[(k, key)] for key in APPEND_FIELDS[k])}
            policy.check_replace(touched, actor=who, agent=agent)
            self._check_rules(t_no, files.stamped(when))
            if recipients and (current is None or "I" in applied.kinds):
                self._check_sealed(t_no, files, current)
        else:
            base = current if current is not None else TicketDraft.from_files(new_ticket_files(t_no, create or {}, when))
            if update is not None:
                policy.check_update(update, actor=who, agent=agent)
                applied = base.apply(update, when, seal=sealer_for(recipients))
            else:
                applied = AppliedUpdate(base)
            self._check_rules(t_no, applied.draft.shell_files(when))
        if current is not None:
            check_writable(
                t_no, current.shell_files(), applied.draft.shell_files(), items_changed=current.items_differ(applied.draft)
            )
        kinds = list("EIT") if current is None else applied.kinds
        if not kinds:
            if allow_empty:
                return CommitResult(None, t_no, [], timestamp=when)
            raise ValidationError(f"ticket {t_no}: the update changes nothing")
        names = [layout.file_name(k, t_no) for k in kinds]
        rendered = applied.draft.render(when)
        changes: dict[str, pygit2.Oid | None] = {}
        contents: dict[str, bytes] = {}
        new_blobs: dict[str, pygit2.Oid] = {}
        for kind, path in layout.ticket_paths(t_no).items():
            data, stable = rendered[kind]
            oid = hash_blob(data)
            new_blobs[kind] = oid
            if oid != old_blobs[kind]:
                self.objects.put(oid.raw, _BLOB, data, stream=self._deflate(path, data, stable))
                changes[path] = oid
                contents[path] = data
        message = ticket_message(summary, t_no, names, actor, agent, trailers)
        commit_id = self.commit(
            changes,
            message=message,
            author=author,
            committer=committer,
            contents=contents,
            before={layout.ticket_path(k, t_no): old_blobs[k] for k in "EIT"},
            force_worktree=force_worktree,
            event=(t_no, tuple(kinds), applied.added),
        )
        self._remember(t_no, tuple(new_blobs[k] for k in "EIT"), applied.draft)
        return CommitResult(
            str(commit_id), t_no, names, applied.added, [], when, created=current is None, messages=applied.messages
        )

    def _deflate(self, path: str, data: bytes, stable: int) -> bytes | None:
        """The zlib stream of a large file through its path's ``PrefixDeflater``
        (None for small files: the pack writer deflates those)."""
        if len(data) < MIN_BYTES:
            self._deflaters.pop(path, None)
            return None
        deflater = self._deflaters.pop(path, None) or PrefixDeflater()
        self._deflaters[path] = deflater  # most recently used last
        while len(self._deflaters) > CACHE_TICKETS:
            self._deflaters.popitem(last=False)
        return deflater.deflate(data, stable)

    @staticmethod
    def _check_rules(t_no: str, files: TicketFiles) -> None:
        problems = cross_file_problems(files)
        if problems:
            name, problem = problems[0]
            raise ValidationError(f"{name}: {problem}", [f"{n}: {p}" for n, p in problems])

    @staticmethod
    def _check_sealed(t_no: str, files: TicketFiles, current: TicketDraft | None) -> None:
        """Refuse clear internal content where ciphertext is expected (whole-file writes
        while encryption is on: ``crypt.fields.exposed_fields``)."""
        parents = [] if current is None else [
            {key: [json.loads(text) for text in current.items[("I", key)]] for key in APPEND_FIELDS["I"]}
        ]
        exposed = exposed_fields(files.internal.model_dump(mode="json"), parents)
        if exposed:
            lines = [exposed_message(layout.file_name("I", t_no), found) for found in exposed]
            raise ValidationError(lines[0], lines)

    def _check_version(self, t_no: str, expected: str, tip_blobs: dict[str, pygit2.Oid | None]) -> None:
        repo = self.objects.repo
        try:
            seen = repo.revparse_single(expected).peel(pygit2.Commit)
        except (KeyError, ValueError, pygit2.GitError):
            raise ConflictError(t_no, expected, self.version(t_no)) from None
        paths = layout.ticket_paths(t_no)
        if any(blob_at(seen.tree, paths[k]) != tip_blobs[k] for k in paths):
            raise ConflictError(t_no, expected, self.version(t_no))

    def version(self, t_no: str) -> str:
        """The id of the last commit on the tip's first-parent line that changed the ticket.

        Raises:
            TicketNotFound: no such ticket at the tip.
        """
        commit = self.tip()
        if blob_at(commit.tree, layout.ticket_path("T", t_no)) is None:
            raise TicketNotFound(f"ticket {t_no} not found at {str(commit.id)[:12]}")
        found = last_change(commit, tuple(layout.ticket_paths(t_no).values()))
        if found is None:
            raise TicketNotFound(f"ticket {t_no} not found at {str(commit.id)[:12]}")
        return str(found)

    def commit(
        self,
        changes: dict[str, pygit2.Oid | None],
        *,
        message: str,
        author: pygit2.Signature,
        committer: pygit2.Signature | None = None,
        extra_parents: list[pygit2.Oid] | None = None,
        contents: dict[str, bytes] | None = None,
        before: dict[str, pygit2.Oid | None] | None = None,
        force_worktree: bool = False,
        event: tuple[str, tuple[str, ...], dict[str, list[str]]] | None = None,
    ) -> pygit2.Oid:
        """Commit blob changes on top of the tip (the chain grows; nothing is published).

        Args:
            changes: repository path → new blob id (already staged or in the
                repository), or None to delete the path.
            message: the full commit message.
            author, committer: signatures (committer defaults to author).
            extra_parents: further parents (a merge commit's other side).
            contents: path → the new blob's bytes, if at hand (the checkout then need
                not read them back).
            before: path → blob id at the tip, when the caller knows it.
            force_worktree: overwrite working copies of these paths even if edited.
            event: ``(t_no, kinds, added)`` for the subscribers' ``CommitEvent``.

        Returns:
            The new commit's id.
        """
        tree = self.tip_tree()
        parent = self._tip
        assert parent is not None
        before = before or {}
        old = {path: before[path] if path in before else blob_at(tree, path) for path in changes}
        repo = self.objects.repo
        new_tree = write_tree(repo, tree, changes, put=self.objects.put)
        sign = self.signing((committer or author).name) if self.signing is not None else None
        commit_id = self.objects.add_commit(
            new_tree, [parent, *(extra_parents or [])], author, committer or author, message, sign=sign
        )
        self._tip = commit_id
        tip_tree = repo[new_tree]
        assert isinstance(tip_tree, pygit2.Tree)
        self._tip_tree = tip_tree
        worktree = {path: (old[path], changes[path]) for path in changes if old[path] != changes[path]}
        self._pending.append(_Pending(commit_id, parent, worktree, contents or {}, force_worktree, event))
        return commit_id

    def checkpoint(self, reason: str | None = None) -> None:
        """Publish the pending commits: flush their objects, then move the branch once.

        The objects are written as one pack (fsynced when the store fsyncs) before the
        branch moves by compare-and-swap from the commit it pointed at to the chain's
        tip; then the working tree is told about the changed paths and subscribers get
        one ``CommitEvent`` per ticket commit, in order.

        Raises:
            RefMovedError: the branch moved (someone wrote without the writer lock);
                the chain is dropped, nothing is published.
        """
        if not self._pending:
            self.reset()
            return
        pending, self._pending = self._pending, []
        base, tip = self._base, self._tip
        assert base is not None and tip is not None
        try:
            self.objects.flush(self.fsync)
            first = pending[0]
            why = reason or (first.event and f"update ticket {first.event[0]}") or "commit"
            if len(pending) > 1:
                why = f"{why} and {len(pending) - 1} more commits"
            move_branch(self.objects.repo, base, tip, why)
        except GitStoreError:
            self.reset()
            raise
        finally:
            self.objects.discard()
        self._base = tip
        self.objects.maybe_merge(self.fsync)
        for item in pending:
            self.worktree.record(item.commit, item.worktree, force=item.force, contents=item.contents)
        for item in pending:
            if item.event is None:
                continue
            t_no, kinds, added = item.event
            event = CommitEvent(str(item.commit), str(item.parent), t_no, kinds, added)
            for callback in list(self.subscribers):
                callback(event)
        self.reset()

    def reset(self) -> None:
        """Forget the chain (unpublished commits are dropped) and start from the branch
        at the next write; the draft cache stays valid (it is keyed by blob ids)."""
        self._pending = []
        self._base = self._tip = None
        self._tip_tree = None
        self.objects.discard()

    def forget(self) -> None:
        """Drop the draft cache too (another process may have rewritten history)."""
        self.reset()
        self._cache.clear()
