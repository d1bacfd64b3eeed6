"""Which fields are sealed, sealing them, and the rule against clear text.

Sealed (docs/encryption.md#what-is-sealed): the ``content`` of every internal (I)
message and the ``notes`` of every progress update, when not empty. Everything else
stays clear, as sops leaves a file's keys clear: ids, times, senders, updaters, message
types, platforms, statuses, metadata, attachments, participants, and the whole E and T
files. That is what keeps a key-less site (a hub, a replica) able to validate, merge
(union by id) and index ticket structure.

A field is sealed once, when the update that adds its item is written (``Sealer``,
called by ``TicketDraft.apply`` after the clear text passed the schemas); its
ciphertext is never re-encrypted by later writes, so git deltas, blame and the merge
driver see an unchanged line. ``crypt rotate`` is the one exception (a commit of its own).

The rule (``exposed_fields``): while encryption is on, a written I file may hold a
clear non-empty field only where a parent version of the file held the same item with
the same clear text (content written before encryption was turned on). A new item in
clear text, or an item turned back from ciphertext to clear text, is refused by the
write path (whole-file writes: ``gitstore commit``, ``replace_files``), the pre-commit
hook and a hub's pre-receive.
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping, Sequence

from gitstore.crypt.format import is_sealed
from gitstore.crypt.sealing import seal

SEALED_FIELDS: dict[tuple[str, str], str] = {
    ("I", "messages"): "content",
    ("I", "progress_updates"): "notes",
}
"""(file kind, list field) → the field of each item that is sealed."""

ID_FIELDS = {"messages": "message_id", "progress_updates": "update_id"}

RULE = "docs/encryption.md#what-is-sealed"


def is_clear(value: Any) -> bool:
    """True for a non-empty string that is not sealed (what encryption would seal)."""
    return isinstance(value, str) and value != "" and not is_sealed(value)


class Sealer:
    """Seals the fields of items an update adds (``TicketDraft.apply``'s ``seal``).

    Called with ``((kind, list field), item JSON)`` after the item passed its schema;
    returns the item with its sealed field replaced by ciphertext. Items of other lists,
    empty fields and fields already sealed (a client that sealed itself) are returned
    as they are.

    Args:
        recipients: the recipients at the chain's tip (``recipients.recipients_at``).
    """

    def __init__(self, recipients: Sequence[Any]):
        self.recipients = tuple(recipients)

    def __call__(self, key: tuple[str, str], item: dict[str, Any]) -> dict[str, Any]:
        name = SEALED_FIELDS.get(key)
        if name is None or not is_clear(item.get(name)):
            return item
        return {**item, name: seal(item[name], self.recipients)}


def sealer_for(recipients: Sequence[Any]) -> Sealer | None:
    """A ``Sealer`` for ``recipients``, or None when there are none (encryption off)."""
    return Sealer(recipients) if recipients else None


def _items(internal: Mapping[str, Any], key: str) -> Iterable[Mapping[str, Any]]:
    values = internal.get(key)
    if not isinstance(values, list):
        return ()
    return (item for item in values if isinstance(item, Mapping))


def exposed_fields(internal: Mapping[str, Any], parents: Sequence[Mapping[str, Any]]) -> list[tuple[str, str, str]]:
    """Clear fields of an I file where ciphertext is expected (the rule of the module doc).

    Args:
        internal: the I file written, as JSON (``model_dump(mode="json")`` or parsed bytes).
        parents: the I file in each parent version, as JSON (none for a new ticket).

    Returns:
        ``(list field, item id, field)`` of each clear non-empty field that no parent
        holds with the same item id and text; empty when the file keeps the rule.
    """
    found = []
    for (_kind, key), name in SEALED_FIELDS.items():
        id_field = ID_FIELDS[key]
        known = {(item.get(id_field), item.get(name)) for parent in parents for item in _items(parent, key)
                 if is_clear(item.get(name))}
        for item in _items(internal, key):
            value = item.get(name)
            if is_clear(value) and (item.get(id_field), value) not in known:
                found.append((key, str(item.get(id_field)), name))
    return found


def exposed_message(name: str, exposed: tuple[str, str, str]) -> str:
    """One line for one exposed field: ``<file>: <list> <id>: <field> is clear text…``."""
    key, item_id, field = exposed
    return (f"{name}: {key} {item_id!r}: {field} is clear text, but encryption is on and internal "
            f"content must be sealed ({RULE})")


def seal_exposed(internal: Any, parents: Sequence[Mapping[str, Any]], recipients: Sequence[Any]) -> Any:
    """The I model ``internal`` with every exposed field (``exposed_fields``) sealed for
    ``recipients`` (a rollback re-adding items written in clear before encryption)."""
    exposed = exposed_fields(internal.model_dump(mode="json"), parents)
    if not exposed:
        return internal
    wanted = {(key, item_id) for key, item_id, _field in exposed}
    update = {}
    for (_kind, key), name in SEALED_FIELDS.items():
        id_field = ID_FIELDS[key]
        items = []
        for item in getattr(internal, key):
            if (key, str(getattr(item, id_field))) in wanted:
                item = item.model_copy(update={name: seal(getattr(item, name), recipients)})
            items.append(item)
        update[key] = items
    return internal.model_copy(update=update)


def reseal(internal: Any, recipients: Sequence[Any]) -> Any:
    """The I model ``internal`` (every sealed field already opened: ``opened.open_all``)
    with every non-empty sealed field sealed afresh for ``recipients`` (``crypt rotate``)."""
    update = {}
    for (_kind, key), name in SEALED_FIELDS.items():
        update[key] = [item.model_copy(update={name: seal(getattr(item, name), recipients)})
                       if is_clear(getattr(item, name)) else item for item in getattr(internal, key)]
    return internal.model_copy(update=update)
