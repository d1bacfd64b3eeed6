"""Applying a synchronized update to a ticket: the one place the update rules live.

``update_data`` is a JSON object with any of the keys ``E``, ``I`` and ``T``, each an
object of changes to that file::

    {"E": {"messages": [{"sender": "customer", "sender_id": "ana", "content": "Hi"}],
           "conversation_status": "active"},
     "I": {"messages": [...], "progress_updates": [...]},
     "T": {"priority": "HIGH", "agent_decisions": [...]}}

Rules (docs/data-model.md#update-rules):

- ``messages``, ``progress_updates`` and ``agent_decisions`` are *appended*; an item may
  omit its id (``message_id``/``update_id``/``decision_id``: one is generated) and its
  ``timestamp`` (the update's timestamp is used). Reusing an existing id is an error;
  message ids are unique across E and I.
- Any other key replaces the field's value (objects such as ``participants`` are
  replaced whole).
- Fields gitstore manages are refused: ``MANAGED_FIELDS``.

A ticket being written is held as a ``TicketDraft``: each file as a *shell* (the model
with its item lists emptied) and the items of those lists as already-validated,
already-serialised JSON text. An update validates only what it brings (each new item
against its item model, the shell when a scalar field changes), so appending the n-th
message costs the new message, not the n before it. ``TicketDraft.render`` assembles
the file bytes from the shell's ``Frame`` and the item texts: byte for byte what
``layout.dumps`` writes for the whole model (the canonical form).

The write path (``gitstore.writer``) is the only caller that commits; ``apply_update``
is the same rules on whole ``TicketFiles`` for callers that need models.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable

from pydantic import BaseModel
from pydantic import ValidationError as PydanticValidationError

from gitstore.errors import GitStoreError, ValidationError
from gitstore.tickets import layout
from gitstore.tickets.files import STAMP_FIELDS, TicketFiles
from gitstore.tickets.models import AgentDecision, ExternalMessage, InternalMessage, ProgressUpdate
from gitstore.timeutil import format_utc

APPEND_FIELDS: dict[str, dict[str, str]] = {
    "E": {"messages": "message_id"},
    "I": {"messages": "message_id", "progress_updates": "update_id"},
    "T": {"agent_decisions": "decision_id"},
}
"""Per file kind: list field that updates append to → its items' id field."""

MANAGED_FIELDS = frozenset({
    "ticket_id",
    "conversation_type",
    "synchronized_with",
    "file_references",
    "last_updated",
    "last_synchronized",
    "schema_version",
})
"""Fields gitstore sets itself; an update naming one is refused."""

ITEM_MODELS: dict[tuple[str, str], type[BaseModel]] = {
    ("E", "messages"): ExternalMessage,
    ("I", "messages"): InternalMessage,
    ("I", "progress_updates"): ProgressUpdate,
    ("T", "agent_decisions"): AgentDecision,
}
"""(file kind, list field) → the pydantic model of one item of that list."""

_ID_PREFIX = {"message_id": "msg_", "update_id": "pu_", "decision_id": "dec_"}
_ITEM_SEP = b",\n    "
ItemKey = tuple[str, str]

ItemSealer = Callable[[ItemKey, dict[str, Any]], dict[str, Any]]
"""Called with ``((kind, list field), item JSON)`` for each new item once it passed its
schema; returns the JSON to write (``gitstore.crypt.fields.Sealer`` seals internal
content there: docs/encryption.md)."""


def new_id(id_field: str) -> str:
    """Generate a globally unique id for a new message (``msg_…``), progress update
    (``pu_…``) or decision (``dec_…``): a prefix and 20 hex digits of a random UUID."""
    return _ID_PREFIX[id_field] + uuid.uuid4().hex[:20]


def render_item(item: dict[str, Any]) -> bytes:
    """Serialise one list item as it appears inside a ticket file (nested at depth 2)."""
    return layout.encode_json(item).replace(b"\n", b"\n    ")


class Frame:
    """A ticket file's bytes with holes for its sync timestamp and its list items.

    Built from a shell (the file model; its list fields are ignored); ``render`` fills
    in the timestamp and the items. A shell whose scalar fields do not change keeps its
    frame, so an update that only appends costs a copy of bytes, not a serialisation.
    The result is byte for byte ``layout.dumps`` of the full model.

    Args:
        shell: the file model.
        stamp_key: the field that carries the sync timestamp (``last_updated`` or
            ``last_synchronized``).
        list_keys: the append-only list fields of the file.
    """

    def __init__(self, shell: BaseModel, stamp_key: str, list_keys: tuple[str, ...]):
        self.shell = shell
        self.stamp_key = stamp_key
        self.list_keys = list_keys
        data = shell.model_dump(mode="json")
        holes = {stamp_key: "\x00stamp\x00", **{key: f"\x00{key}\x00" for key in list_keys}}
        for key, marker in holes.items():
            data[key] = marker
        text = json.dumps(data, indent=2, ensure_ascii=False)
        tokens = {json.dumps(marker): key for key, marker in holes.items()}
        pieces: list[bytes | str] = []
        framed = True
        rest = text
        for token in sorted(tokens, key=text.find):
            if rest.count(token) != 1:  # a value that happens to spell a marker
                framed = False
                break
            before, _, rest = rest.partition(token)
            pieces += [before.encode("utf-8"), tokens[token] if tokens[token] != stamp_key else ""]
        if framed:
            pieces.append(rest.encode("utf-8") + b"\n")
        self.pieces: list[bytes | str] | None = pieces if framed else None

    def render(self, when: datetime, lists: dict[str, list[bytes]]) -> bytes:
        """Return the file's bytes with sync time ``when`` and the given list items.

        Raises:
            ValidationError: a free-form object holds NaN or infinity (not JSON).
        """
        return self.render_with_prefix(when, lists)[0]

    def render_with_prefix(
        self, when: datetime, lists: dict[str, list[bytes]], joined: dict[str, bytes] | None = None
    ) -> tuple[bytes, int]:
        """Return the file's bytes and the length of their stable prefix: the bytes up to
        the end of the file's first list's items, which appending to that list leaves
        unchanged (0 when the file has no such prefix).

        ``joined`` may hold, per list, its items already joined by the item separator
        (the draft keeps them, so a 5,000-item list is not joined again per update).

        Raises:
            ValidationError: a free-form object holds NaN or infinity (not JSON).
        """
        if self.pieces is None:
            data = self.shell.model_copy(update={self.stamp_key: when}).model_dump(mode="json")
            for key, items in lists.items():
                data[key] = [json.loads(item) for item in items]
            try:
                return layout.encode_json(data) + b"\n", 0
            except ValueError as exc:
                raise ValidationError(f"cannot write {type(self.shell).__name__}: {exc}") from None
        stamp = json.dumps(format_utc(when)).encode("utf-8")
        out: list[bytes] = []
        stable = 0
        for index, piece in enumerate(self.pieces):
            if isinstance(piece, bytes):
                out.append(piece)
            elif piece == "":
                out.append(stamp)
            elif lists[piece]:
                text = joined[piece] if joined is not None and piece in joined else _ITEM_SEP.join(lists[piece])
                out += [b"[\n    ", text, b"\n  ]"]
                if index == 1:
                    stable = len(out[0]) + 6 + len(text)
            else:
                out.append(b"[]")
        return b"".join(out), stable


def _unstamped(kind: str, model: BaseModel) -> BaseModel:
    return model.model_copy(update={STAMP_FIELDS[kind]: None})


def _validate_item(kind: str, key: str, raw: dict, label: str, index: int) -> BaseModel:
    try:
        return ITEM_MODELS[(kind, key)].model_validate(raw)
    except PydanticValidationError as exc:
        problems = [f"{label}: {key}.{index}.{layout.describe_error(err)}" for err in exc.errors()]
        raise ValidationError(problems[0], problems) from None


@dataclass(frozen=True)
class TicketDraft:
    """A ticket in the write path's form: shells, item texts, ids and frames.

    A draft is never changed in place: ``apply`` and ``replace`` return a new one that
    shares the unchanged parts (lists are copied only when items are added).

    Attributes:
        t_no: the ticket.
        shells: file kind → the file model with its item lists empty.
        items: (kind, list field) → the serialised items, in file order.
        ids: (kind, list field) → the ids of those items.
        frames: file kind → the ``Frame`` of its shell (built on first render).
    """

    t_no: str
    shells: dict[str, BaseModel]
    items: dict[ItemKey, list[bytes]]
    ids: dict[ItemKey, frozenset[str]]
    frames: dict[str, Frame] = field(default_factory=dict, compare=False)
    joined: dict[ItemKey, bytes] = field(default_factory=dict, compare=False)

    @classmethod
    def from_files(cls, files: TicketFiles) -> "TicketDraft":
        """Build the draft of whole ticket files (serialises every item once)."""
        shells: dict[str, BaseModel] = {}
        items: dict[ItemKey, list[bytes]] = {}
        ids: dict[ItemKey, frozenset[str]] = {}
        for kind, keys in APPEND_FIELDS.items():
            model = files.get(kind)
            shells[kind] = model.model_copy(update={key: [] for key in keys})
            for key, id_field in keys.items():
                values = getattr(model, key)
                items[(kind, key)] = [render_item(v.model_dump(mode="json")) for v in values]
                ids[(kind, key)] = frozenset(getattr(v, id_field) for v in values)
        return cls(files.t_no, shells, items, ids)

    def all_ids(self) -> set[str]:
        """Every message, progress-update and decision id the ticket holds."""
        out: set[str] = set()
        for values in self.ids.values():
            out |= values
        return out

    def shell_files(self, when: datetime | None = None) -> TicketFiles:
        """The three shells as ``TicketFiles`` (item lists empty), stamped with ``when``."""
        shells = self.shells
        if when is not None:
            shells = {k: m.model_copy(update={STAMP_FIELDS[k]: when}) for k, m in shells.items()}
        return TicketFiles(self.t_no, shells["E"], shells["I"], shells["T"])  # type: ignore[arg-type]

    def to_files(self) -> TicketFiles:
        """The whole ticket files as models (validates every item: O(items))."""
        models = {}
        for kind, keys in APPEND_FIELDS.items():
            lists = {key: [json.loads(text) for text in self.items[(kind, key)]] for key in keys}
            data = self.shells[kind].model_dump(mode="json")
            data.update(lists)
            models[kind] = layout.validate_data(kind, data, layout.file_name(kind, self.t_no))
        return TicketFiles(self.t_no, models["E"], models["I"], models["T"])

    def render(self, when: datetime) -> dict[str, tuple[bytes, int]]:
        """Return each file's bytes, stamped with the shared timestamp ``when``, and the
        length of its stable prefix (``Frame.render_with_prefix``).

        Frames are built for shells that have none yet and kept on the draft.

        Raises:
            ValidationError: a free-form object holds NaN or infinity.
        """
        out = {}
        for kind, keys in APPEND_FIELDS.items():
            frame = self.frames.get(kind)
            if frame is None:
                frame = Frame(self.shells[kind], STAMP_FIELDS[kind], tuple(keys))
                self.frames[kind] = frame
            lists = {key: self.items[(kind, key)] for key in keys}
            for key, items in lists.items():
                if items and (kind, key) not in self.joined:
                    self.joined[(kind, key)] = _ITEM_SEP.join(items)
            joined = {key: self.joined[(kind, key)] for key in keys if (kind, key) in self.joined}
            out[kind] = frame.render_with_prefix(when, lists, joined)
        return out

    def apply(self, update_data: Any, when: datetime, seal: ItemSealer | None = None) -> "AppliedUpdate":
        """Apply ``update_data`` (see the module doc) and validate what it brings.

        Args:
            update_data: the update.
            when: the update's timestamp (aware UTC), used for items without one.
            seal: applied to each new item's JSON after validation (``ItemSealer``).

        Returns:
            The new draft, the kinds it changed and the ids it appended.

        Raises:
            ValidationError: not a non-empty object of E/I/T changes, a managed or
                unknown field, a duplicate id, or a schema violation; nothing applied.
        """
        if not isinstance(update_data, dict) or not update_data:
            raise ValidationError("update must be a non-empty JSON object with keys E, I and/or T")
        unknown = sorted(set(update_data) - set(APPEND_FIELDS))
        if unknown:
            raise ValidationError(f"update has unknown file kind(s) {unknown}: use E, I, T")
        shells = dict(self.shells)
        items = dict(self.items)
        ids = dict(self.ids)
        frames = dict(self.frames)
        joined = dict(self.joined)
        held_messages = (self.ids[("E", "messages")], self.ids[("I", "messages")])
        new_messages: set[str] = set()  # message ids are unique across E and I
        added: dict[str, list[str]] = {}
        messages = 0
        kinds: list[str] = []
        for kind in ("E", "I", "T"):
            changes = update_data.get(kind)
            if changes is None:
                continue
            label = layout.file_name(kind, self.t_no)
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
                shell = layout.validate_data(kind, data, label)
                if shell != shells[kind]:
                    shells[kind] = shell
                    frames.pop(kind, None)
                    kinds.append(kind)
            for key, id_field in APPEND_FIELDS[kind].items():
                if key not in changes:
                    continue
                values = changes[key]
                if not isinstance(values, list):
                    raise ValidationError(f"{label}: {key} must be a list of items to append")
                held = held_messages if key == "messages" else (ids[(kind, key)],)
                batch = new_messages if key == "messages" else set()
                new_texts: list[bytes] = []
                new_ids: list[str] = []
                for raw in values:
                    if not isinstance(raw, dict):
                        raise ValidationError(f"{label}: each item of {key} must be a JSON object")
                    raw = dict(raw)
                    raw.setdefault(id_field, new_id(id_field))
                    raw.setdefault("timestamp", format_utc(when))
                    item_id = str(raw[id_field])
                    if item_id in batch or any(item_id in found for found in held):
                        raise ValidationError(f"{label}: {id_field} {item_id!r} already exists")
                    model = _validate_item(kind, key, raw, label, len(items[(kind, key)]) + len(new_texts))
                    try:
                        dumped = model.model_dump(mode="json")
                        text = render_item(seal((kind, key), dumped) if seal is not None else dumped)
                    except GitStoreError:
                        raise  # the sealer's own errors (RecipientError) as they are
                    except ValueError as exc:  # NaN/Infinity in a free-form object
                        raise ValidationError(f"{label}: {key}.{len(items[(kind, key)]) + len(new_texts)}: {exc}") from None
                    batch.add(item_id)
                    new_ids.append(item_id)
                    new_texts.append(text)
                if new_texts:
                    before = joined.get((kind, key))
                    if before is not None and items[(kind, key)]:
                        joined[(kind, key)] = before + _ITEM_SEP + _ITEM_SEP.join(new_texts)
                    else:
                        joined.pop((kind, key), None)
                    items[(kind, key)] = items[(kind, key)] + new_texts
                    ids[(kind, key)] = ids[(kind, key)] | frozenset(new_ids)
                    added.setdefault(kind, []).extend(new_ids)
                    messages += len(new_ids) if key == "messages" else 0
                    if kind not in kinds:
                        kinds.append(kind)
        draft = TicketDraft(self.t_no, shells, items, ids, frames, joined)
        return AppliedUpdate(draft, sorted(kinds, key="EIT".index), added, messages)

    def replace(self, files: TicketFiles) -> "AppliedUpdate":
        """Replace the whole ticket by ``files`` (hand edits, rollbacks).

        Returns:
            The new draft and the kinds whose content differs from this draft's
            (sync stamps not counted); ``added`` is empty.
        """
        draft = TicketDraft.from_files(files)
        kinds = []
        for kind, keys in APPEND_FIELDS.items():
            same = _unstamped(kind, draft.shells[kind]) == _unstamped(kind, self.shells[kind]) and all(
                draft.items[(kind, key)] == self.items[(kind, key)] for key in keys
            )
            if not same:
                kinds.append(kind)
        return AppliedUpdate(draft, kinds, {}, 0)

    def items_differ(self, other: "TicketDraft") -> bool:
        """True when the two drafts hold different list items."""
        return any(self.items[key] != other.items[key] for key in self.items)


@dataclass
class AppliedUpdate:
    """What an update changed.

    Attributes:
        draft: the ticket after the update (not yet stamped).
        kinds: the file kinds whose content the update changed (``E``/``I``/``T``).
        added: ids of appended items, per kind.
        messages: messages appended (E and I; progress updates and decisions not
            counted).
    """

    draft: TicketDraft
    kinds: list[str] = field(default_factory=list)
    added: dict[str, list[str]] = field(default_factory=dict)
    messages: int = 0

    @property
    def files(self) -> TicketFiles:
        """The whole ticket after the update, as models (O(items): for callers that
        need models, not for the write path)."""
        return self.draft.to_files()


def apply_update(files: TicketFiles, update_data: Any, when: datetime) -> AppliedUpdate:
    """Apply ``update_data`` to whole ticket files (the rules of ``TicketDraft.apply``).

    Args:
        files: the ticket's current files.
        update_data: the update (see module docstring).
        when: the update's timestamp (aware UTC), used for items without one.

    Returns:
        The change; ``.files`` is the changed ticket (not yet stamped).

    Raises:
        ValidationError: unknown file kind, managed field, duplicate id, or a schema
            violation in the resulting file; nothing is applied.
    """
    return TicketDraft.from_files(files).apply(update_data, when)
