"""The bulk write path of importers: many synchronized updates, one commit each, fast.

``Store.update`` re-reads, re-validates and re-serialises a ticket's whole files on every
update, so appending the n-th message costs time in proportion to n. An import appends
thousands of messages to the same few tickets, so ``BulkWriter`` keeps each ticket it
touches in memory for the length of one ``Store.batch()``:

- the three files as *shells* (the models with their append-only lists emptied), and
  the items of those lists (``messages``, ``progress_updates``, ``agent_decisions``) as
  already-validated, already-serialised JSON text;
- an update validates only what it brings: each appended item against its item model
  (``ExternalMessage``, ``InternalMessage``, ``ProgressUpdate``, ``AgentDecision``), the
  shell against the file model when a scalar field changes, the cross-file rules of
  seed 000 §3.2.2 (``rules.cross_file_problems``) and id uniqueness;
- the file bytes are assembled from the shell and the item texts and are byte for byte
  what ``layout.dumps`` writes for the whole model (canonical form, so ``verify`` and
  ``git blame`` see no difference).

Objects are staged in memory by the store's object writer (``packwrite``: blobs,
trees and commits hashed and encoded in-process, no libgit2 existence checks).

The issue allows a bulk mode that "writes many commits under one lock and one ref
update (each update still its own commit)": each update becomes its own commit (tree
along the changed paths with ``treewrite.write_tree``, author date = the source time,
the store's commit-message trailers), chained on the previous one without moving the
branch. Every ``CHECKPOINT_EVERY`` commits and when the writer closes, ``checkpoint``
writes the objects (one pack through the store's object writer), moves
``refs/heads/main`` once by the store's compare-and-swap, records the changed paths for
the working tree (caught up at the end of ``Store.batch``) and notifies the store's
subscribers once per commit, in order, as ``Store.update`` does. A crash before a
checkpoint leaves the branch where it was: nothing partial is visible.

The update rules are those of ``gitstore.tickets.update``: list fields append, other fields
replace, managed fields are refused, ids are unique; and the store's own checks run as
for ``Store.update``: roles and workflow stages (issue 7, checked for the person running
the import) and archived tickets being read-only (issue 3). Deduplication reads ids
through the import ledger (``LEDGER``).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from gitstore.tickets import layout
from gitstore.errors import GitStoreError, TicketNotFound, ValidationError
from gitstore.tickets.models import AgentDecision, ExternalMessage, InternalMessage, ProgressUpdate
from gitstore.tickets.archive import check_writable
from gitstore.tickets.rules import cross_file_problems
from gitstore.tickets.files import STAMP_FIELDS, TicketFiles, new_ticket
from gitstore.tickets.layout import encode_json
from gitstore.timeutil import format_utc, utc_now
from gitstore.tickets.update import APPEND_FIELDS, MANAGED_FIELDS, new_id

ITEM_MODELS = {
    ("E", "messages"): ExternalMessage,
    ("I", "messages"): InternalMessage,
    ("I", "progress_updates"): ProgressUpdate,
    ("T", "agent_decisions"): AgentDecision,
}
"""(file kind, list field) → the pydantic model of one item of that list."""

LEDGER = "import-ids.json"
"""File under ``.git/gitstore/`` (derived data, never committed) that remembers, per
ticket an import touched or checked: the blob ids of its E, I and T files, the ids they
hold, and the commit at which that was true. While the branch still points at that
commit, a re-import answers "already imported?" without reading the ticket; once it
moved, an entry is used only while the ticket's three blob ids are unchanged. Deleting
the file only costs speed."""

CHECKPOINT_EVERY = 1000
"""Commits written before the branch moves and the staged objects are flushed."""


def render_item(item: dict) -> bytes:
    """Serialise one list item as it appears inside a ticket file (nested at depth 2)."""
    return encode_json(item).replace(b"\n", b"\n    ")


_ITEM_SEP = b",\n    "


class Frame:
    """A ticket file's bytes with holes for its sync timestamp and its list items.

    Built from a shell (the file model with its list fields empty); ``render`` fills in
    the timestamp and the items. A shell whose scalar fields do not change keeps its
    frame, so an update that only appends costs a copy of bytes, not a serialisation.
    The result is byte for byte ``layout.dumps`` of the full model.

    Args:
        shell: the file model (its list fields are ignored).
        stamp_key: the field that carries the sync timestamp (``last_updated`` or
            ``last_synchronized``).
        list_keys: the append-only list fields of the file.
    """

    def __init__(self, shell, stamp_key: str, list_keys: tuple[str, ...]):
        self.shell = shell
        self.list_keys = list_keys
        data = shell.model_dump(mode="json")
        holes = {stamp_key: "\x00stamp\x00", **{key: f"\x00{key}\x00" for key in list_keys}}
        for key, marker in holes.items():
            data[key] = marker
        text = json.dumps(data, indent=2, ensure_ascii=False)
        tokens = {json.dumps(marker): key for key, marker in holes.items()}
        self.pieces: list[bytes | str] | None = []
        rest = text
        for token in sorted(tokens, key=text.find):
            if rest.count(token) != 1:  # a value that happens to spell a marker
                self.pieces = None
                return
            before, _, rest = rest.partition(token)
            self.pieces += [before.encode("utf-8"), tokens[token] if tokens[token] != stamp_key else ""]
        self.pieces.append(rest.encode("utf-8") + b"\n")

    def render(self, when: datetime, lists: dict[str, list[bytes]]) -> bytes:
        """Return the file's bytes with sync time ``when`` and the given list items."""
        if self.pieces is None:
            return _full_render(self.shell, when, lists)
        stamp = json.dumps(format_utc(when)).encode("utf-8")
        out: list[bytes] = []
        for piece in self.pieces:
            if isinstance(piece, bytes):
                out.append(piece)
            elif piece == "":
                out.append(stamp)
            elif lists[piece]:
                out += [b"[\n    ", _ITEM_SEP.join(lists[piece]), b"\n  ]"]
            else:
                out.append(b"[]")
        return b"".join(out)


def _full_render(shell, when: datetime, lists: dict[str, list[bytes]]) -> bytes:
    data = shell.model_copy(update={STAMP_FIELDS[_kind_of(shell)]: when}).model_dump(mode="json")
    for key, items in lists.items():
        data[key] = [json.loads(item) for item in items]
    return encode_json(data) + b"\n"


@dataclass
class _Ticket:
    """One ticket held in memory during a batch."""

    shells: dict[str, Any]
    items: dict[tuple[str, str], list[bytes]]
    ids: dict[tuple[str, str], set[str]]
    blobs: dict[str, Any] = field(default_factory=dict)
    frames: dict[str, Frame] = field(default_factory=dict)

    @classmethod
    def from_files(cls, files: TicketFiles, blobs: dict[str, Any]) -> "_Ticket":
        shells, items, ids = {}, {}, {}
        for kind, keys in APPEND_FIELDS.items():
            model = files.get(kind)
            shells[kind] = model.model_copy(update={key: [] for key in keys})
            for key, id_field in keys.items():
                values = getattr(model, key)
                items[(kind, key)] = [render_item(v.model_dump(mode="json")) for v in values]
                ids[(kind, key)] = {getattr(v, id_field) for v in values}
        return cls(shells, items, ids, dict(blobs))

    def all_ids(self) -> set[str]:
        out: set[str] = set()
        for values in self.ids.values():
            out |= values
        return out


@dataclass
class BulkResult:
    """The outcome of one bulk-written update.

    Attributes:
        commit: the new commit id, or None when the update changed nothing.
        added: ids appended, per file kind.
        created: True if the update created the ticket.
        messages: messages appended (E and I; progress updates and decisions not
            counted).
    """

    commit: str | None
    added: dict[str, list[str]]
    created: bool = False
    messages: int = 0


class BulkWriter:
    """Writes many synchronized updates as a chain of commits (see module doc).

    Use inside ``Store.batch()`` (which holds the writer lock) and as a context manager:
    leaving it publishes the commits still pending (``checkpoint``).

    Args:
        store: the ``gitstore.Store``.
        checkpoint_every: commits after which the branch is moved and objects flushed.
    """

    def __init__(self, store, checkpoint_every: int = CHECKPOINT_EVERY):
        self.store = store
        # the store's object writer stages new objects in memory and writes them as
        # one pack per checkpoint (packwrite)
        self._objects = store.objects
        self.object_repo = self._objects.repo
        self.checkpoint_every = checkpoint_every
        self._tickets: dict[str, _Ticket] = {}
        self._raw_ids: dict[str, set[str] | None] = {}
        self._ledger = self._read_ledger()
        self._validated: set[str] = set()  # ledger entries known right at the start
        self._start_head: str | None = None
        self._pending: list[tuple] = []
        self._base = None
        self._tip = None
        self._tip_tree = None

    def __enter__(self) -> "BulkWriter":
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self.checkpoint()
            if self._tip is not None:
                self._write_ledger()
        finally:
            self._objects.discard()

    def _start(self) -> None:
        if self._tip is None:
            head = self.store.head()
            self._base = self._tip = head.id
            self._start_head = str(head.id)
            self._tip_tree = self.object_repo[head.tree.id]

    # ----------------------------------------------------------------- reading
    def known_ids(self, t_no: str) -> set[str] | None:
        """Return every message/update/decision id the ticket holds, or None if absent.

        Answered from the import ledger when it is current (see ``LEDGER``), else from
        the raw JSON of the ticket's files (no model validation), once per batch.

        Raises:
            InvalidTicketNumber: malformed T_NO.
        """
        ticket = self._tickets.get(t_no)
        if ticket is not None:
            return ticket.all_ids()
        if t_no in self._raw_ids:
            return self._raw_ids[t_no]
        layout.validate_t_no(t_no)
        self._start()
        entry = self._ledger.get(t_no)
        if entry is not None and entry[4] == self._start_head:
            ids = set(entry[3])
            self._raw_ids[t_no] = ids
            self._validated.add(t_no)
            return ids
        blobs: dict[str, Any] = {}
        for kind, path in layout.ticket_paths(t_no).items():
            try:
                blobs[kind] = self._tip_tree[path].id
            except KeyError:
                continue
        if entry is not None and [str(blobs.get(k)) for k in "EIT"] == entry[:3]:
            ids = set(entry[3])
            self._validated.add(t_no)
        elif not blobs:
            ids = None
        else:
            ids = set()
            for kind, blob in blobs.items():
                try:
                    raw = json.loads(self.object_repo[blob].data)
                except ValueError:
                    raw = {}  # the full read when writing reports the broken file
                for key, id_field in APPEND_FIELDS[kind].items():
                    ids |= {str(item.get(id_field)) for item in raw.get(key, []) if isinstance(item, dict)}
            if len(blobs) == 3:
                self._ledger[t_no] = [str(blobs[k]) for k in "EIT"] + [sorted(ids), self._start_head]
                self._validated.add(t_no)
        self._raw_ids[t_no] = ids
        return ids

    # ----------------------------------------------------------------- the ledger
    def _read_ledger(self) -> dict[str, list]:
        try:
            data = json.loads((Path(self.store.state_dir) / LEDGER).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        if not isinstance(data, dict) or data.get("version") != 2 or not isinstance(data.get("tickets"), dict):
            return {}
        return {t: e for t, e in data["tickets"].items() if isinstance(e, list) and len(e) == 5}

    def _write_ledger(self) -> None:
        """Record the tickets of this batch as known at the final head; keep the rest."""
        head = str(self.store.head().id)
        for t_no in self._validated:
            self._ledger[t_no][4] = head
        for t_no, ticket in self._tickets.items():
            if len(ticket.blobs) == 3:
                self._ledger[t_no] = [str(ticket.blobs[k]) for k in "EIT"] + [sorted(ticket.all_ids()), head]
        path = Path(self.store.state_dir) / LEDGER
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"version": 2, "tickets": self._ledger}), encoding="utf-8")
        os.replace(tmp, path)

    def _load(self, t_no: str) -> _Ticket | None:
        ticket = self._tickets.get(t_no)
        if ticket is not None:
            return ticket
        self._start()
        models, blobs, missing = {}, {}, []
        for kind, path in layout.ticket_paths(t_no).items():
            name = layout.file_name(kind, t_no)
            try:
                entry = self._tip_tree[path]
            except KeyError:
                missing.append(name)
                continue
            blobs[kind] = entry.id
            models[kind] = layout.loads(kind, self.object_repo[entry.id].data, name)
        if len(missing) == 3:
            return None
        if missing:
            raise ValidationError(f"ticket {t_no} is incomplete: missing {', '.join(missing)} (run 'gitstore verify')")
        ticket = _Ticket.from_files(TicketFiles(t_no, models["E"], models["I"], models["T"]), blobs)
        self._tickets[t_no] = ticket
        self._raw_ids.pop(t_no, None)
        return ticket

    # ----------------------------------------------------------------- writing
    def write(
        self,
        t_no: str,
        update: dict,
        *,
        when: datetime,
        actor: str,
        summary: str,
        create: dict | None = None,
        create_update: dict | None = None,
        cs_agents: tuple[str, ...] = (),
        cs_team: tuple[str, ...] = (),
        technical_team: tuple[str, ...] = (),
        authorized_as: str | None = None,
    ) -> BulkResult:
        """Apply ``update`` to the ticket as one new commit, creating the ticket if needed.

        The commit joins the chain; the branch moves at the next ``checkpoint``.

        Args:
            t_no: the ticket.
            update: ``update_data`` (seed 000 §3.2.1; rules of ``gitstore.tickets.update``).
            when: the update's time (aware): author date and shared sync timestamp.
            actor: commit author.
            summary: the commit's summary line.
            create: ``Store.create_ticket`` keywords (client_name, company_name,
                platform, contact_info, trello_template, priority, channel) used if the
                ticket does not exist.
            create_update: further ``update_data`` applied only when creating.
            cs_agents: support agents to add to E ``participants.cs_agents`` (a union
                with those the ticket already lists, kept in first-seen order).
            cs_team, technical_team: people to add to I ``participants.cs_team`` /
                ``participants.technical_team`` the same way (seed 000 §3.1.2).
            authorized_as: whose write permission the store's rules check (the person
                or agent running the import; ``actor`` when None).

        Returns:
            The commit and the ids added; ``commit`` is None if nothing changed.

        Raises:
            TicketNotFound: the ticket does not exist and ``create`` is None.
            ValidationError / InvalidTicketNumber: bad data; nothing is written.
            GitStoreError: the writer lock is not held; or a rule of the store refuses
                the write, as for ``Store.update`` (issue 7 roles and workflow stages,
                issue 3 archived tickets are read-only).
        """
        if not self.store.lock.held:
            raise GitStoreError("BulkWriter.write needs the writer lock (use Store.batch())")
        layout.validate_t_no(t_no)
        ticket = self._load(t_no)
        created = ticket is None
        if created:
            if create is None:
                raise TicketNotFound(f"ticket {t_no} not found")
            ticket = _Ticket.from_files(_new_files(t_no, create, when), {})
            if create_update:
                update = _merge_updates(create_update, update)
        for kind, key, names in (("E", "cs_agents", cs_agents), ("I", "cs_team", cs_team), ("I", "technical_team", technical_team)):
            participants = ticket.shells[kind].participants
            if kind in update and "participants" in update[kind]:  # the update's own list is the base
                participants = type(participants).model_validate(update[kind]["participants"])
            missing = [a for a in dict.fromkeys(names) if a not in getattr(participants, key)]
            if missing:
                merged = participants.model_dump(mode="json")
                merged[key] = merged[key] + missing
                update = _merge_updates(update, {kind: {"participants": merged}})  # holds the update's own list
        _store_rules(self.store, update, authorized_as or actor)
        shells, items, ids, added, reshaped = self._apply(ticket, t_no, update, when)
        if not created and not added and all(shells[k] == ticket.shells[k] for k in shells):
            return BulkResult(None, {})
        stamped = {k: shells[k].model_copy(update={STAMP_FIELDS[k]: when}) for k in shells}
        if not created:
            _check_writable(t_no, ticket.shells, stamped)
        problems = cross_file_problems(TicketFiles(t_no, stamped["E"], stamped["I"], stamped["T"]))
        if problems:
            name, problem = problems[0]
            raise ValidationError(f"{name}: {problem}", [f"{n}: {p}" for n, p in problems])
        frames = {
            kind: ticket.frames[kind] if kind in ticket.frames and kind not in reshaped and not created
            else Frame(stamped[kind], STAMP_FIELDS[kind], tuple(APPEND_FIELDS[kind]))
            for kind in stamped
        }
        commit_id, blobs = self._commit(t_no, ticket, created, stamped, frames, items, added, when, actor, summary)
        ticket.frames = frames
        ticket.shells, ticket.items, ticket.ids, ticket.blobs = stamped, items, ids, blobs
        self._tickets[t_no] = ticket
        self._raw_ids.pop(t_no, None)
        if len(self._pending) >= self.checkpoint_every:
            self.checkpoint()
        messages = sum(len(v) for v in (update.get("E", {}).get("messages", []), update.get("I", {}).get("messages", [])))
        return BulkResult(str(commit_id), added, created, messages)

    def _apply(self, ticket: _Ticket, t_no: str, update: Any, when: datetime):
        if not isinstance(update, dict):
            raise ValidationError("update must be a JSON object with keys E, I and/or T")
        unknown = sorted(set(update) - set(APPEND_FIELDS))
        if unknown:
            raise ValidationError(f"update has unknown file kind(s) {unknown}: use E, I, T")
        shells = dict(ticket.shells)
        items = dict(ticket.items)
        ids = dict(ticket.ids)
        message_ids = ticket.ids[("E", "messages")] | ticket.ids[("I", "messages")]
        added: dict[str, list[str]] = {}
        reshaped: set[str] = set()
        for kind in ("E", "I", "T"):
            changes = update.get(kind)
            if changes is None:
                continue
            label = layout.file_name(kind, t_no)
            if not isinstance(changes, dict):
                raise ValidationError(f"{label}: update for {kind} must be a JSON object")
            managed = sorted(set(changes) & MANAGED_FIELDS)
            if managed:
                raise ValidationError(f"{label}: field(s) {managed} are managed by gitstore and cannot be set")
            scalars = {k: v for k, v in changes.items() if k not in APPEND_FIELDS[kind]}
            if scalars:
                data = shells[kind].model_dump(mode="json")
                for key, value in scalars.items():
                    if key not in data:
                        raise ValidationError(f"{label}: unknown field {key!r}")
                    data[key] = value
                shells[kind] = layout.validate_data(kind, data, label)
                reshaped.add(kind)
            for key, id_field in APPEND_FIELDS[kind].items():
                if key not in changes:
                    continue
                values = changes[key]
                if not isinstance(values, list):
                    raise ValidationError(f"{label}: {key} must be a list of items to append")
                known = message_ids if key == "messages" else set(ids[(kind, key)])
                new_texts, new_ids = [], []
                for raw in values:
                    if not isinstance(raw, dict):
                        raise ValidationError(f"{label}: each item of {key} must be a JSON object")
                    raw = dict(raw)
                    raw.setdefault(id_field, new_id(id_field))
                    raw.setdefault("timestamp", format_utc(when))
                    item_id = str(raw[id_field])
                    if item_id in known:
                        raise ValidationError(f"{label}: {id_field} {item_id!r} already exists")
                    model = _validate_item(kind, key, raw, label, len(items[(kind, key)]) + len(new_texts))
                    known.add(item_id)
                    new_ids.append(item_id)
                    new_texts.append(render_item(model.model_dump(mode="json")))
                if new_texts:
                    items[(kind, key)] = items[(kind, key)] + new_texts
                    ids[(kind, key)] = ids[(kind, key)] | set(new_ids)
                    added.setdefault(kind, []).extend(new_ids)
        return shells, items, ids, added, reshaped

    def _commit(self, t_no, ticket, created, stamped, frames, items, added, when, actor, summary):
        from gitstore.store import _commit_message, _signature
        from gitstore.objects.trees import write_tree

        self._start()
        paths = layout.ticket_paths(t_no)
        changes, blobs, kinds, worktree, contents = {}, {}, [], {}, {}
        for kind, path in paths.items():
            lists = {key: items[(kind, key)] for key in APPEND_FIELDS[kind]}
            data = frames[kind].render(when, lists)
            blob = self._objects.add_blob(data)
            blobs[kind] = blob
            if blob != ticket.blobs.get(kind):
                changes[path] = blob
                worktree[path] = (ticket.blobs.get(kind), blob)
                contents[path] = data
            if created or kind in added or _unstamped(kind, stamped[kind]) != _unstamped(kind, ticket.shells[kind]):
                kinds.append(kind)
        names = [layout.file_name(k, t_no) for k in (kinds or ["T"])]
        author = _signature(actor, when)
        now = utc_now()
        committer = _signature(actor, now) if when < now.replace(microsecond=0) else author
        message = _commit_message(summary, t_no, names, actor, None, None)
        tree_id = write_tree(self.object_repo, self._tip_tree, changes, put=self._objects.put)
        commit_id = self._objects.add_commit(tree_id, [self._tip], author, committer, message)
        self._tip = commit_id
        self._tip_tree = self.object_repo[tree_id]
        self._pending.append((commit_id, worktree, contents, t_no, tuple(kinds), added))
        return commit_id, blobs

    def checkpoint(self) -> None:
        """Publish the pending commits: flush their objects, then move the branch once.

        The objects are written (as one pack when the store stages objects, fsynced
        when the store fsyncs) before ``refs/heads/main`` moves by compare-and-swap
        from the commit it pointed at to the chain's tip; then the working tree is told
        about the changed paths and subscribers get one ``CommitEvent`` per commit.

        Raises:
            RefMovedError: the branch moved (someone wrote without the writer lock).
        """
        if not self._pending:
            return
        if not self.store.lock.held:
            raise GitStoreError("BulkWriter.checkpoint needs the writer lock (use Store.batch())")
        pending, self._pending = self._pending, []
        self._objects.flush(self.store.fsync)
        self.store._move_branch(self._base, self._tip, f"import of {len(pending)} updates")
        parent = self._base
        self._base = self._tip
        self._objects.maybe_merge(self.store.fsync)
        from gitstore.store import CommitEvent

        subscribers = list(self.store._subscribers)
        for commit_id, worktree, contents, t_no, kinds, added in pending:
            self.store.worktree.record(commit_id, worktree, contents=contents)
            event = CommitEvent(str(commit_id), str(parent), t_no, kinds, added)
            parent = commit_id
            for callback in subscribers:
                callback(event)


def _store_rules(store, update: Any, actor: str) -> None:
    """The rules ``Store.update`` applies before writing (issue 7)."""
    from gitstore.agents.roles import enforce_update_rules

    enforce_update_rules(store, update, actor=actor, agent=None)


def _check_writable(t_no: str, before: dict, after: dict) -> None:
    """Refuse writes to archived tickets (issue 3), as ``Store._write`` does."""
    check_writable(
        t_no,
        TicketFiles(t_no, before["E"], before["I"], before["T"]),
        TicketFiles(t_no, after["E"], after["I"], after["T"]),
    )


def _kind_of(model) -> str:
    return {"external": "E", "internal": "I"}.get(getattr(model, "conversation_type", ""), "T")


def _unstamped(kind: str, model):
    return model.model_copy(update={STAMP_FIELDS[kind]: None})


def _validate_item(kind: str, key: str, raw: dict, label: str, index: int):
    from pydantic import ValidationError as PydanticValidationError

    try:
        return ITEM_MODELS[(kind, key)].model_validate(raw)
    except PydanticValidationError as exc:
        problems = [f"{label}: {key}.{index}.{layout.describe_error(err)}" for err in exc.errors()]
        raise ValidationError(problems[0], problems) from None


def _new_files(t_no: str, create: dict, when: datetime) -> TicketFiles:
    try:
        return new_ticket(t_no, when=when, **create)
    except TypeError as exc:
        raise ValidationError(f"ticket {t_no}: {exc}") from None
    except Exception as exc:  # pydantic's ValidationError
        if hasattr(exc, "errors"):
            raise ValidationError(f"ticket {t_no}: {layout.describe_error(exc.errors()[0])}") from None
        raise


def _merge_updates(first: dict, second: dict) -> dict:
    """Combine two ``update_data`` objects: lists concatenate, ``second``'s scalars win."""
    out = {kind: dict(changes) for kind, changes in first.items()}
    for kind, changes in second.items():
        target = out.setdefault(kind, {})
        for key, value in changes.items():
            if key in APPEND_FIELDS.get(kind, {}) and key in target:
                target[key] = list(target[key]) + list(value)
            else:
                target[key] = value
    return out
