"""Semantic diff of a ticket between two revisions (``gitstore diff``), in ticket terms.

Not a text diff: it reports messages added or removed (with sender and time), progress
updates and agent decisions added or removed, items whose content changed (matched by
their ids: ``message_id``, ``update_id``, ``decision_id``), and fields whose value
changed (old → new) in each of the three files. The shared sync timestamp every update
stamps (``last_updated`` of E and I, ``last_synchronized`` of T:
docs/data-model.md#synchronized-write) is reported once, as ``old_time``/``new_time``,
not as a field change.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pygit2

from gitstore.errors import TicketNotFound
from gitstore.tickets.files import ITEM_LISTS, STAMP_FIELDS
from gitstore.timeutil import format_utc

if TYPE_CHECKING:
    from gitstore.store import Store


@dataclass(frozen=True)
class ItemChange:
    """A message, progress update or agent decision added, removed or changed.

    Attributes:
        file: ``E``, ``I`` or ``T``.
        item: ``message``, ``progress_update`` or ``agent_decision``.
        change: ``added``, ``removed`` or ``changed``.
        key: the item's id.
        detail: the item as stored (new value; old value for ``removed``), e.g. a
            message's ``sender``, ``sender_id``, ``timestamp``, ``content``.
        old: for ``changed``, the item's previous value; else None.
    """

    file: str
    item: str
    change: str
    key: str
    detail: dict
    old: dict | None = None


@dataclass(frozen=True)
class FieldChange:
    """A field of one file whose value changed.

    Attributes:
        file: ``E``, ``I`` or ``T``.
        field: the field name (top level of the file).
        old: the previous value (JSON value; None when absent).
        new: the new value (JSON value; None when absent).
    """

    file: str
    field: str
    old: Any
    new: Any


@dataclass
class TicketDiff:
    """What changed in a ticket between two revisions.

    Attributes:
        t_no: the ticket.
        old_commit: the commit the diff starts from, or None when the ticket did not
            exist there (``created`` is then True).
        new_commit: the commit the diff ends at.
        created: True when the ticket did not exist at ``old_commit``.
        old_time, new_time: the ticket's sync timestamps (UTC ISO 8601) at both ends.
        items: added/removed/changed messages, progress updates and decisions.
        fields: changed fields, file by file.
    """

    t_no: str
    old_commit: str | None
    new_commit: str
    created: bool
    old_time: str | None
    new_time: str | None
    items: list[ItemChange] = field(default_factory=list)
    fields: list[FieldChange] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        """True when nothing but (possibly) the sync timestamp changed."""
        return not self.items and not self.fields and not self.created


def diff_files(t_no: str, old: Any, new: Any, old_commit: str | None, new_commit: str) -> TicketDiff:
    """Compare two ``TicketFiles`` (``old`` may be None: the ticket was created).

    Returns:
        A ``TicketDiff``.
    """
    result = TicketDiff(
        t_no,
        old_commit,
        new_commit,
        created=old is None,
        old_time=format_utc(old.workflow.last_synchronized) if old is not None else None,
        new_time=format_utc(new.workflow.last_synchronized),
    )
    for kind in ("E", "I", "T"):
        before = old.get(kind).model_dump(mode="json") if old is not None else {}
        after = new.get(kind).model_dump(mode="json")
        for list_name, (item, id_field) in ITEM_LISTS[kind].items():
            result.items += _list_changes(kind, item, id_field, before.get(list_name, []), after.get(list_name, []))
        for name in list(after) + [k for k in before if k not in after]:
            if name in ITEM_LISTS[kind] or name == STAMP_FIELDS[kind]:
                continue
            if before.get(name) != after.get(name):
                result.fields.append(FieldChange(kind, name, before.get(name), after.get(name)))
    return result


def _list_changes(kind: str, item: str, id_field: str, before: list, after: list) -> list[ItemChange]:
    old_by_id = {str(e.get(id_field)): e for e in before}
    new_ids = set()
    changes = []
    for element in after:
        key = str(element.get(id_field))
        new_ids.add(key)
        previous = old_by_id.get(key)
        if previous is None:
            changes.append(ItemChange(kind, item, "added", key, element))
        elif previous != element:
            changes.append(ItemChange(kind, item, "changed", key, element, previous))
    for element in before:
        key = str(element.get(id_field))
        if key not in new_ids:
            changes.append(ItemChange(kind, item, "removed", key, element))
    return changes


def ticket_diff(store: Store, t_no: str, rev_a: str | None = None, rev_b: str | None = None) -> TicketDiff:
    """Return what changed in ticket ``t_no`` between two revisions.

    Args:
        store: an open ``Store``.
        t_no: the ticket.
        rev_a: where to start (commit id or prefix, ref, date: the ticket's version at
            that date). None: the revision before the ticket's last change, so the
            diff shows what that change did (a creation when it created the ticket).
        rev_b: where to end; None: HEAD.

    Raises:
        TicketNotFound: the ticket does not exist at ``rev_b`` (or at ``rev_a`` when
            it is given), or did not exist at a date given.
        RevisionNotFound: a revision names no commit, or a prefix is ambiguous.
        InvalidTicketNumber: malformed T_NO.
    """
    if rev_a is None and rev_b is None:
        last = store.repo[store.ticket_version(t_no)]
        assert isinstance(last, pygit2.Commit)  # a ticket version is a commit id
        new_files = store.read(t_no, at=last)
        if not last.parents:
            return diff_files(t_no, None, new_files, None, str(last.id))
        parent = last.parents[0]
        try:
            old_files = store.read(t_no, at=parent)
        except TicketNotFound:
            return diff_files(t_no, None, new_files, str(parent.id), str(last.id))
        return diff_files(t_no, old_files, new_files, str(parent.id), str(last.id))
    old_commit = store.resolve(rev_a, t_no=t_no)
    new_commit = store.resolve(rev_b, t_no=t_no)
    return diff_files(
        t_no,
        store.read(t_no, at=old_commit),
        store.read(t_no, at=new_commit),
        str(old_commit.id),
        str(new_commit.id),
    )
