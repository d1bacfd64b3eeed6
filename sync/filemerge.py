"""The semantic three-way merge of one ticket file (docs/architecture-notes.md "Sync").

Given the bytes of a ticket file at the merge base and on both sides, produce the merged
file and the values that lost a conflict. Pure: no repository, no clock, no randomness.

Rules, in order:

1. Trivial cases, the same as git's: both sides equal → that side; one side equal to
   the base → the other side (bytes unchanged).
2. A file deleted on one side and changed on the other keeps the change.
3. ``messages`` (E, I), ``progress_updates`` (I) and ``agent_decisions`` (T) are unioned
   by their id (``message_id``/``update_id``/``decision_id``) and ordered by
   (timestamp, id). An item deleted on one side survives if the other side has it:
   a merge never loses a message.
4. Other fields merge three-way, recursively through JSON objects: a change on one side
   wins; different changes on both sides resolve to the side whose file is newer (its
   ``last_updated``/``last_synchronized``), ties broken by the larger canonical JSON of
   the two values. Each losing value is returned as a ``LostValue``.
5. The sync stamp (E/I ``last_updated``, T ``last_synchronized``) becomes the later of
   the two sides' stamps. Each side writes one shared timestamp on all three files of a
   ticket (docs/data-model.md#synchronized-write), so merging E, I and T separately keeps the rule of
   ``gitstore.tickets.rules`` that the three stamps are equal.
6. The result is validated against the schema (docs/data-model.md#ticket-files) and written in canonical
   form (``gitstore.tickets.layout.dumps``).

Every rule is symmetric in the two sides, so ``merge(base, a, b)`` and
``merge(base, b, a)`` give the same bytes; ``merge(x, x, x)`` is ``x``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from gitstore.config import dumps_config
from gitstore.errors import GitStoreError, MergeConflictError
from gitstore.tickets import layout
from gitstore.timeutil import parse_utc

STAMP_FIELD = {"E": "last_updated", "I": "last_updated", "T": "last_synchronized"}
"""The field of each file kind that carries the ticket's shared sync time."""

KEYED_LISTS = {
    "E": {"messages": "message_id"},
    "I": {"messages": "message_id", "progress_updates": "update_id"},
    "T": {"agent_decisions": "decision_id", "orchestrator_turns": "turn_id"},
}
"""Lists unioned by id, per file kind (docs/data-model.md#merge-rules; ids added by gitstore.tickets.models).
Other lists whose items all carry a ``timestamp`` (``phase_transitions``, a turn's
``completions``) are append-only logs: unioned by their whole content."""


class _Absent:
    def __repr__(self) -> str:
        return "ABSENT"


ABSENT = _Absent()
"""Marks a key or item missing on one side."""


@dataclass(frozen=True)
class LostValue:
    """A value that lost a conflict (both sides changed it differently).

    Attributes:
        file: the file name, e.g. ``T_1001.json``.
        field: where, e.g. ``priority``, ``participants.cs_agents`` or
            ``messages[msg_ab12]``.
        kept: the winning JSON value.
        lost: the losing JSON value (None when the key was absent there).
        reason: why the winner won: ``newer`` (later sync stamp), ``tie`` (same stamp,
            larger canonical JSON) or ``invalid`` (the losing file did not validate).
    """

    file: str
    field: str
    kept: Any
    lost: Any
    reason: str


@dataclass
class FileMerge:
    """The merged file.

    Attributes:
        data: the merged bytes, or None when the file is deleted.
        lost: values that lost a conflict, in a stable order.
        model: the validated model of ``data`` when the merge parsed the file.
    """

    data: bytes | None
    lost: list[LostValue] = field(default_factory=list)
    model: Any = None


def canonical(value: Any) -> str:
    """Return the canonical JSON text of a value (sorted keys): the stable tie key."""
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def _trivial(base: bytes | None, ours: bytes | None, theirs: bytes | None) -> "FileMerge | None":
    """Git's trivial three-way cases: equal sides, or one side unchanged from the base.

    A file deleted on one side and changed on the other keeps the change.
    """
    if ours == theirs:
        return FileMerge(ours)
    if base == ours:
        return FileMerge(theirs)
    if base == theirs:
        return FileMerge(ours)
    if ours is None or theirs is None:
        return FileMerge(theirs if ours is None else ours)
    return None


def merge_ticket_file(
    kind: str,
    name: str,
    base: bytes | None,
    ours: bytes | None,
    theirs: bytes | None,
) -> FileMerge:
    """Merge one ticket file three-way.

    Args:
        kind: ``E``, ``I`` or ``T``.
        name: the file name, for messages (e.g. ``E_1001.json``).
        base: the file at the merge base; None (or empty) when it did not exist there
            (a ticket created on both sides) or cannot be parsed.
        ours, theirs: the file on each side; None when deleted there.

    Returns:
        A ``FileMerge``. Its bytes do not depend on which side is ``ours``.

    Raises:
        MergeConflictError: both sides changed the file and neither validates, or the
            merged file breaks the schema.
    """
    base = base or None
    trivial = _trivial(base, ours, theirs)
    if trivial is not None:
        return trivial
    ours_model, ours_error = _parse(kind, ours, name)
    theirs_model, theirs_error = _parse(kind, theirs, name)
    if ours_model is None and theirs_model is None:
        raise MergeConflictError(
            f"{name}: both sides are invalid, cannot merge (ours: {ours_error}; theirs: {theirs_error})",
            [f"{name}: ours: {ours_error}", f"{name}: theirs: {theirs_error}"],
        )
    if ours_model is None or theirs_model is None:
        model, error = (theirs_model, ours_error) if ours_model is None else (ours_model, theirs_error)
        lost = LostValue(name, "(file)", "(the valid side)", f"invalid file: {error}", "invalid")
        return FileMerge(layout.dumps(model), [lost], model)
    base_model, _ = _parse(kind, base, name) if base is not None else (None, None)
    return merge_models(kind, name, base_model, ours_model, theirs_model)


def merge_models(kind: str, name: str, base: Any, ours: Any, theirs: Any) -> FileMerge:
    """Merge three parsed models of one file (``base`` may be None); see the module rules.

    Raises:
        MergeConflictError: the merged data breaks the schema.
    """
    stamp = STAMP_FIELD[kind]
    o_data = ours.model_dump(mode="json")
    t_data = theirs.model_dump(mode="json")
    b_data = base.model_dump(mode="json") if base is not None else {}
    o_time, t_time = getattr(ours, stamp), getattr(theirs, stamp)
    winner = "ours" if o_time > t_time else "theirs" if t_time > o_time else None
    context = _Context(name, winner)
    merged: dict[str, Any] = {}
    keyed = KEYED_LISTS[kind]
    for key in _keys(b_data, o_data, t_data):
        if key == stamp:
            continue
        b, o, t = (d.get(key, ABSENT) for d in (b_data, o_data, t_data))
        if key in keyed:
            value = _merge_keyed(b, o, t, keyed[key], key, context)
        else:
            value = _merge_value(b, o, t, key, context)
        if value is not ABSENT:
            merged[key] = value
    merged[stamp] = o_data[stamp] if o_time >= t_time else t_data[stamp]
    try:
        model = layout.validate_data(kind, merged, name)
    except GitStoreError as exc:
        raise MergeConflictError(f"merged {name} is invalid: {exc}", getattr(exc, "problems", None)) from None
    return FileMerge(layout.dumps(model), sorted(context.lost, key=lambda v: v.field), model)


class _Context:
    def __init__(self, name: str, winner: str | None):
        self.name = name
        self.winner = winner
        self.lost: list[LostValue] = []

    def resolve(self, ours: Any, theirs: Any, where: str) -> Any:
        """Pick the winner of a true conflict and record the loser."""
        if ours is ABSENT:
            return theirs
        if theirs is ABSENT:
            return ours
        if self.winner is not None:
            kept, lost = (ours, theirs) if self.winner == "ours" else (theirs, ours)
            reason = "newer"
        else:
            kept, lost = (ours, theirs) if canonical(ours) > canonical(theirs) else (theirs, ours)
            reason = "tie"
        self.lost.append(LostValue(self.name, where, kept, lost, reason))
        return kept


def _keys(*dicts: dict) -> list[str]:
    seen: dict[str, None] = {}
    for data in dicts:
        for key in data:
            seen.setdefault(key, None)
    return sorted(seen)


def _merge_value(base: Any, ours: Any, theirs: Any, where: str, context: _Context) -> Any:
    if ours == theirs:
        return ours
    if ours == base:
        return theirs
    if theirs == base:
        return ours
    if _is_log(ours) and _is_log(theirs):
        return _merge_keyed(base, ours, theirs, None, where, context)
    if isinstance(ours, dict) and isinstance(theirs, dict):
        b = base if isinstance(base, dict) else {}
        merged = {}
        for key in _keys(b, ours, theirs):
            value = _merge_value(b.get(key, ABSENT), ours.get(key, ABSENT), theirs.get(key, ABSENT), f"{where}.{key}", context)
            if value is not ABSENT:
                merged[key] = value
        return merged
    return context.resolve(ours, theirs, where)


def _is_log(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, dict) and "timestamp" in v for v in value)


def _merge_keyed(base: Any, ours: Any, theirs: Any, id_field: str | None, where: str, context: _Context) -> Any:
    """Union two lists of objects by id (``id_field``; None: by whole content), merging
    an item present on both sides three-way, ordered by (timestamp, id)."""
    if not isinstance(ours, list) or not isinstance(theirs, list):
        return _merge_value(base, ours, theirs, where, context)

    def key(item: Any) -> str:
        return str(item.get(id_field)) if id_field else canonical(item)

    b_items = {key(item): item for item in base} if isinstance(base, list) else {}
    o_items = {key(item): item for item in ours}
    t_items = {key(item): item for item in theirs}
    merged = []
    for item_id in sorted(set(o_items) | set(t_items)):
        o, t = o_items.get(item_id, ABSENT), t_items.get(item_id, ABSENT)
        if o is ABSENT or t is ABSENT:
            merged.append(t if o is ABSENT else o)
            continue
        merged.append(_merge_value(b_items.get(item_id, ABSENT), o, t, f"{where}[{item_id}]", context))
    merged.sort(key=lambda item: (_time_key(item), key(item)))
    return merged


def _time_key(item: Any) -> tuple:
    try:
        return (0, parse_utc(item["timestamp"]))
    except (KeyError, TypeError, ValueError):
        return (1, None)


def _parse(kind: str, data: bytes | None, name: str) -> tuple[Any, str | None]:
    if data is None:  # deleted on that side (merge_ticket_file's trivial cases handle it first)
        return None, "deleted"
    try:
        return layout.loads(kind, data, name), None
    except GitStoreError as exc:
        return None, str(exc)


def merge_json_objects(name: str, base: bytes | None, ours: bytes | None, theirs: bytes | None) -> FileMerge:
    """Merge a JSON object file that carries no sync stamp (``.gitstore/config.json``).

    Same three-way rules as ticket fields; a true conflict resolves by the larger
    canonical JSON (no side is newer). Written with sorted keys, indent 2.

    Raises:
        MergeConflictError: a side is not a JSON object.
    """
    base = base or None
    trivial = _trivial(base, ours, theirs)
    if trivial is not None:
        return trivial
    parsed: list[dict[str, Any]] = []
    for side, data in (("base", base), ("ours", ours), ("theirs", theirs)):
        if data is None:
            parsed.append({})
            continue
        try:
            value = json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            if side == "base":
                value = {}
            else:
                raise MergeConflictError(f"{name}: {side} is not valid JSON ({exc})") from None
        if not isinstance(value, dict):
            raise MergeConflictError(f"{name}: {side} is not a JSON object")
        parsed.append(value)
    context = _Context(name, None)
    merged = _merge_value(parsed[0], parsed[1], parsed[2], "", context)
    lost = [LostValue(v.file, v.field.lstrip("."), v.kept, v.lost, v.reason) for v in context.lost]
    return FileMerge(dumps_config(merged), lost, None)
