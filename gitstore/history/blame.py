"""Blame in ticket terms (``gitstore blame``): who added each message, who set each field.

For the external (E) or internal (I) conversation: every message (and, in I, every
progress update) with the commit, time and actor that added it. For the workflow state
(T): every top-level field with the commit that last changed its value, and every agent
decision with the commit that added it.

Method: the ticket's first-parent history (``history``) is read oldest first; an item
is attributed to the commit where it appeared, and keeps that attribution while it stays
present; if a version lacks it (a rollback removed it) and a later one has it again, the
later commit is the one that (re-)added it. A field is attributed to the last commit that
changed its value. Items that arrive through a merge commit are attributed to the oldest
commit of the merged side that already holds them, and a field set by the merged side to
the newest side commit that set it to that value. Files are written deterministically
one field per line (``layout.dumps``), so this agrees with plain ``git blame`` on the
file: the line ``"message_id": "<id>"`` of a message, and the line of a one-line field,
are blamed on the same commits.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from gitstore.crypt import is_sealed, unseal_or
from gitstore.errors import AccessDenied, InvalidOption, TicketNotFound
from gitstore.history.log import HistoryEntry, for_store
from gitstore.objects.trees import blob_at
from gitstore.tickets import layout
from gitstore.tickets.files import ITEM_LISTS

if TYPE_CHECKING:
    from gitstore.store import Store
    from gitstore.viewer import Viewer


@dataclass(frozen=True)
class BlameLine:
    """One blamed item of a ticket file.

    Attributes:
        item: ``message``, ``progress_update``, ``agent_decision`` or ``field``.
        key: the item's id (``message_id``/``update_id``/``decision_id``) or field name.
        commit: the commit that added the item (or last set the field).
        time: that commit's author date (the update's time, aware UTC).
        actor: that commit's actor; agent: its ``Agent:`` trailer or None.
        summary: that commit's first line.
        kinds: the files that commit changed (``HistoryEntry.kinds``).
        detail: for messages ``sender``, ``sender_id``, ``timestamp``, ``content``; for
            progress updates ``updater``, ``status``, ``timestamp``; for decisions
            ``agent``, ``timestamp``; for fields ``value``.
    """

    item: str
    key: str
    commit: str
    time: datetime
    actor: str
    agent: str | None
    summary: str
    detail: dict = field(default_factory=dict)
    kinds: tuple[str, ...] = ()


def blame(store: Store, t_no: str, kind: str) -> list[BlameLine]:
    """Blame one of a ticket's files at HEAD, in ticket terms.

    Args:
        store: an open ``Store``.
        t_no: the ticket.
        kind: ``E`` (external), ``I`` (internal) or ``T`` (workflow state).

    Returns:
        ``BlameLine`` values in file order: list items first (in their order), then,
        for T, the fields.

    Raises:
        InvalidOption: ``kind`` is not E, I or T.
        TicketNotFound: the ticket does not exist at HEAD.
        InvalidTicketNumber: malformed T_NO.
    """
    if kind not in ITEM_LISTS:
        raise InvalidOption(f"blame needs a file kind E, I or T, not {kind!r}")
    layout.validate_t_no(t_no)
    viewer = store.viewer
    if not viewer.can_read(kind):
        raise AccessDenied(f"{viewer.label()} may not read internal (I) files: blame E or T")
    rows = for_store(store).entries(t_no)
    if not rows or not rows[-1][1].exists:
        raise TicketNotFound(f"ticket {t_no} not found")
    path = layout.ticket_path(kind, t_no)
    repo = store.repo
    cache: dict[str, dict | None] = {}

    def load(commit: str) -> dict | None:
        if commit not in cache:
            oid = blob_at(repo[commit].tree, path)
            cache[commit] = json.loads(repo[oid].read_raw()) if oid is not None else None
        return cache[commit]

    side = [(seq, entry) for seq, entry, _ in rows if not entry.mainline]
    owner: dict[tuple[str, str], HistoryEntry] = {}
    field_owner: dict[str, HistoryEntry] = {}
    previous: dict | None = None
    for seq, entry, parents in rows:
        if not entry.mainline:
            continue
        data = load(entry.commit) or {}
        current: dict[tuple[str, str], HistoryEntry] = {}
        for list_name, (_item, id_field) in ITEM_LISTS[kind].items():
            for element in data.get(list_name, []):
                key = (list_name, str(element.get(id_field)))
                if key in owner:
                    current[key] = owner[key]
                    continue
                origin = entry
                if parents > 1:
                    origin = _side_origin(side, seq, load, list_name, id_field, key[1]) or entry
                current[key] = origin
        owner = current
        if kind == "T":
            for name, value in data.items():
                if name in ITEM_LISTS["T"]:
                    continue
                if previous is None or name not in previous or previous[name] != value:
                    setter = _side_setter(repo, side, seq, load, path, name, value) if parents > 1 else None
                    field_owner[name] = setter or entry
            for name in list(field_owner):
                if name not in data:
                    del field_owner[name]
        previous = data
    lines = _lines(kind, previous or {}, owner, field_owner)
    return [_as_seen(line, viewer) for line in lines]


def _as_seen(line: BlameLine, viewer: Viewer) -> BlameLine:
    """A blame line as ``viewer`` may see it: sealed content decrypted (or marked
    ``SEALED_CONTENT``), and the summary of an internal-only commit hidden."""
    detail = line.detail
    content = detail.get("content")
    if isinstance(content, str) and is_sealed(content):
        detail = {**detail, "content": unseal_or(content, viewer.identities, SEALED_CONTENT)}
    summary = line.summary
    if not viewer.internal:
        summary = viewer.summary(summary, line.kinds)
    if detail is line.detail and summary == line.summary:
        return line
    return replace(line, detail=detail, summary=summary)


SEALED_CONTENT = "(encrypted: no key for it on this site)"
"""The content blame shows of a sealed item this site cannot decrypt (docs/encryption.md)."""


def _side_origin(side: list, before_seq: int, load, list_name: str, id_field: str, key: str) -> HistoryEntry | None:
    for seq, entry in side:
        if seq >= before_seq:
            break
        data = load(entry.commit) or {}
        if any(str(e.get(id_field)) == key for e in data.get(list_name, [])):
            return entry
    return None


def _side_setter(repo: Any, side: list, before_seq: int, load, path: str, name: str, value: Any) -> HistoryEntry | None:
    """The newest merged-side commit (before ``before_seq``) that set field ``name`` to ``value``."""
    for seq, entry in reversed(side):
        if seq >= before_seq:
            continue
        data = load(entry.commit) or {}
        if name not in data or data[name] != value:
            continue
        parents = repo[entry.commit].parent_ids
        before = (load(str(parents[0])) or {}) if parents else {}
        if name not in before or before[name] != value:
            return entry
    return None


def _detail(item: str, element: dict) -> dict:
    keys: tuple[str, ...]
    if item == "message":
        keys = ("sender", "sender_id", "timestamp", "content")
    elif item == "progress_update":
        keys = ("updater", "status", "timestamp")
    else:
        keys = ("agent", "timestamp")
    return {k: element.get(k) for k in keys}


def _lines(kind: str, data: dict, owner: dict, field_owner: dict) -> list[BlameLine]:
    lines = []
    for list_name, (item, id_field) in ITEM_LISTS[kind].items():
        for element in data.get(list_name, []):
            key = str(element.get(id_field))
            entry = owner[(list_name, key)]
            lines.append(_line(item, key, entry, _detail(item, element)))
    if kind == "T":
        for name, value in data.items():
            if name in ITEM_LISTS["T"]:
                continue
            lines.append(_line("field", name, field_owner[name], {"value": value}))
    return lines


def _line(item: str, key: str, entry: HistoryEntry, detail: dict) -> BlameLine:
    return BlameLine(item, key, entry.commit, entry.time, entry.actor, entry.agent, entry.summary, detail, entry.kinds)
