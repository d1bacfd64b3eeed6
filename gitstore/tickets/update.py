"""Apply a synchronized update's ``update_data`` to a ticket (seed 000 §3.2.1).

``update_data`` is a JSON object with any of the keys ``E``, ``I`` and ``T``, each an
object of changes to that file::

    {"E": {"messages": [{"sender": "customer", "sender_id": "ana", "content": "Hi"}],
           "conversation_status": "active"},
     "I": {"messages": [...], "progress_updates": [...]},
     "T": {"priority": "HIGH", "agent_decisions": [...]}}

Rules:

- ``messages``, ``progress_updates`` and ``agent_decisions`` are *appended*; an item may
  omit its id (``message_id``/``update_id``/``decision_id``: one is generated) and its
  ``timestamp`` (the update's timestamp is used). Reusing an existing id is an error.
- Any other key replaces the field's value (objects such as ``participants`` are
  replaced whole).
- Fields gitstore manages are refused: ``ticket_id``, ``conversation_type``,
  ``synchronized_with``, ``file_references``, ``last_updated``, ``last_synchronized``,
  ``schema_version``.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from gitstore.errors import ValidationError
from gitstore.tickets.layout import file_name, validate_data
from gitstore.tickets.files import TicketFiles
from gitstore.timeutil import format_utc

APPEND_FIELDS = {
    "E": {"messages": "message_id"},
    "I": {"messages": "message_id", "progress_updates": "update_id"},
    "T": {"agent_decisions": "decision_id"},
}
MANAGED_FIELDS = {
    "ticket_id",
    "conversation_type",
    "synchronized_with",
    "file_references",
    "last_updated",
    "last_synchronized",
    "schema_version",
}
_ID_PREFIX = {"message_id": "msg_", "update_id": "pu_", "decision_id": "dec_"}


def new_id(id_field: str) -> str:
    """Generate a globally unique id for a new message, progress update or decision."""
    return _ID_PREFIX[id_field] + uuid.uuid4().hex[:20]


@dataclass
class AppliedUpdate:
    """What an update changed.

    Attributes:
        files: the ticket after the update (not yet stamped).
        kinds: the file kinds whose content the update changed (``E``/``I``/``T``).
        added: ids of appended items, per kind.
    """

    files: TicketFiles
    kinds: list[str] = field(default_factory=list)
    added: dict[str, list[str]] = field(default_factory=dict)


def apply_update(files: TicketFiles, update_data: Any, when: datetime) -> AppliedUpdate:
    """Apply ``update_data`` to ``files`` and validate the changed files.

    Args:
        files: the ticket's current files.
        update_data: the update (see module docstring).
        when: the update's timestamp (aware UTC), used for items without one.

    Returns:
        The changed ticket and a summary of the change.

    Raises:
        ValidationError: unknown file kind, managed field, duplicate id, or a schema
            violation in the resulting file; nothing is applied.
    """
    if not isinstance(update_data, dict) or not update_data:
        raise ValidationError("update must be a non-empty JSON object with keys E, I and/or T")
    unknown = sorted(set(update_data) - set(APPEND_FIELDS))
    if unknown:
        raise ValidationError(f"update has unknown file kind(s) {unknown}: use E, I, T")
    result = AppliedUpdate(files)
    existing_ids = {m.message_id for m in files.external.messages}
    existing_ids |= {m.message_id for m in files.internal.messages}
    for kind in ("E", "I", "T"):
        if kind not in update_data:
            continue
        changes = update_data[kind]
        label = file_name(kind, files.t_no)
        if not isinstance(changes, dict):
            raise ValidationError(f"{label}: update for {kind} must be a JSON object")
        managed = sorted(set(changes) & MANAGED_FIELDS)
        if managed:
            raise ValidationError(f"{label}: field(s) {managed} are managed by gitstore and cannot be set")
        data = result.files.get(kind).model_dump(mode="json")
        added: list[str] = []
        for key, value in changes.items():
            id_field = APPEND_FIELDS[kind].get(key)
            if id_field is None:
                if key not in data:
                    raise ValidationError(f"{label}: unknown field {key!r}")
                data[key] = value
                continue
            if not isinstance(value, list):
                raise ValidationError(f"{label}: {key} must be a list of items to append")
            known = {item[id_field] for item in data[key]}
            if key == "messages":
                known |= existing_ids
            for item in value:
                if not isinstance(item, dict):
                    raise ValidationError(f"{label}: each item of {key} must be a JSON object")
                item = dict(item)
                item.setdefault(id_field, new_id(id_field))
                item.setdefault("timestamp", format_utc(when))
                if item[id_field] in known:
                    raise ValidationError(f"{label}: {id_field} {item[id_field]!r} already exists")
                known.add(item[id_field])
                data[key].append(item)
                added.append(str(item[id_field]))
        model = validate_data(kind, data, label)
        if model != result.files.get(kind):
            result.kinds.append(kind)
        result.files = result.files.with_file(kind, model)
        if added:
            result.added[kind] = added
    return result
