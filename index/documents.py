"""Index documents made from ticket files, and what must change in the index.

``ticket_documents`` turns a ticket's three files into Whoosh documents (see
``schema.make_schema``). ``plan_change`` compares a ticket at two commits and says the
least the index must do (docs/architecture-notes.md "Search": appending one message's
document costs ~3 ms, replacing a ticket's documents ~85 ms):

- messages appended at the end of E or I (the write path only appends:
  docs/data-model.md#update-rules) → their documents are appended;
- any other change to a conversation's messages (a hand edit, a rollback, a merge that
  interleaved messages) → that conversation's documents are replaced;
- a change of any workflow field → the workflow document is replaced;
- a deleted ticket → all its documents are deleted.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from gitstore_index.schema import HIT_FIELD, HIT_PARTS, KIND_NAMES, POSITIONS_FIELD

if TYPE_CHECKING:
    from gitstore.viewer import Viewer


def naive_utc(value: datetime) -> datetime:
    """Return an aware time as naive UTC (Whoosh's DATETIME convention)."""
    if value.tzinfo is not None:
        value = value.astimezone(timezone.utc).replace(tzinfo=None)
    return value


def hit_record(t_no: str, kind: str, when: datetime, message_id: str | None = None, sender: str | None = None,
               sender_id: str | None = None, platform: str | None = None) -> tuple:
    """The stored ``HIT_FIELD`` tuple of a document (``schema.HIT_PARTS`` order).

    Args:
        t_no: the ticket. kind: ``external``, ``internal`` or ``workflow``.
        when: naive UTC time (``naive_utc``), stored as ISO 8601 with ``Z``.
        message_id, sender, sender_id, platform: the message's (None for a workflow document).
    """
    return (t_no, kind, message_id, when.isoformat() + "Z", sender, sender_id, platform)


def hit_fields(stored: dict[str, Any]) -> dict[str, Any]:
    """A document's hit values by name (``schema.HIT_PARTS``) from its stored fields.

    Raises:
        KeyError: the stored fields hold no ``HIT_FIELD`` (not a schema-4 document).
    """
    return dict(zip(HIT_PARTS, stored[HIT_FIELD]))


def message_document(t_no: str, kind: str, message: Any, conversation: Any) -> dict[str, Any]:
    """Return the document of one message.

    Args:
        t_no: the ticket.
        kind: ``E`` or ``I``.
        message: an ``ExternalMessage`` or ``InternalMessage`` (docs/data-model.md#e-file, #i-file).
        conversation: the message's E or I model (E gives the platform).
    """
    if kind == "E":
        platform, message_type = conversation.platform, ""
    else:
        platform, message_type = message.platform, message.message_type
    when = naive_utc(message.timestamp)
    doc = {
        "t_no": t_no,
        "kind": KIND_NAMES[kind],
        "sender": message.sender,
        "sender_id": message.sender_id,
        "platform": platform,
        "time": when,
        "content": message.content,
        POSITIONS_FIELD: message.content,
        HIT_FIELD: hit_record(t_no, KIND_NAMES[kind], when, message.message_id, message.sender, message.sender_id,
                              platform),
    }
    if message_type:
        doc["message_type"] = message_type
    return doc


def _decision_text(decision: Any) -> str:
    """Flatten an agent decision's free ``decision`` object to words."""
    parts = [decision.agent]

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            for key in sorted(value):
                walk(value[key])
        elif isinstance(value, list):
            for item in value:
                walk(item)
        elif value is not None:
            parts.append(str(value) if isinstance(value, str) else json.dumps(value))

    walk(decision.decision)
    return " ".join(parts)


def workflow_document(files: Any) -> dict[str, Any]:
    """Return the workflow-state document of a ticket (``TicketFiles``).

    Holds the T file's fields and E's ``conversation_status``; its ``content`` is the
    client and company names, the assignee and the agent decisions' text.
    """
    state = files.workflow
    words = [state.client_name, state.company_name, state.assigned_member or ""]
    words += [_decision_text(d) for d in state.agent_decisions]
    text = "\n".join(w for w in words if w)
    when = naive_utc(state.card_create_timestamp)
    doc = {
        "t_no": files.t_no,
        "kind": KIND_NAMES["T"],
        "time": when,
        "content": text,
        POSITIONS_FIELD: text,
        HIT_FIELD: hit_record(files.t_no, KIND_NAMES["T"], when),
        "client_name": state.client_name,
        "company": state.company_name,
        "priority": state.priority,
        "channel": state.channel,
        "stage": state.workflow_stage,
        "status": files.external.conversation_status,
        "resolved": state.resolved,
        "archived": bool(getattr(state, "archived", False)),
    }
    if state.assigned_member:
        doc["assignee"] = state.assigned_member
    return doc


def conversation_documents(files: Any, kind: str) -> list[dict[str, Any]]:
    """Return the documents of every message of the E (``kind="E"``) or I file."""
    conversation = files.get(kind)
    return [message_document(files.t_no, kind, m, conversation) for m in conversation.messages]


def ticket_documents(files: Any) -> list[dict[str, Any]]:
    """Return every document of a ticket: its messages (E, then I) and its workflow state."""
    return conversation_documents(files, "E") + conversation_documents(files, "I") + [workflow_document(files)]


@dataclass
class IndexChange:
    """What the index must do for one ticket, and what changed (for ``watch --json``).

    Attributes:
        t_no: the ticket.
        commit: the commit the change brings the ticket to.
        deleted: the ticket no longer exists: delete all its documents.
        replace_all: delete all its documents and add ``documents`` (used when the
            index's content for the ticket is uncertain).
        replace_kinds: conversations (``E``/``I``) whose documents are replaced.
        documents: documents to add (appended messages, replaced conversations, or
            everything with ``replace_all``).
        workflow: the new workflow document when it changed (replaces the old one).
        added: message ids appended, by kind name (``external``/``internal``).
        kinds: kind names whose documents changed.
    """

    t_no: str
    commit: str
    deleted: bool = False
    replace_all: bool = False
    replace_kinds: list[str] = field(default_factory=list)
    documents: list[dict[str, Any]] = field(default_factory=list)
    workflow: dict[str, Any] | None = None
    added: dict[str, list[str]] = field(default_factory=dict)
    kinds: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        """True when the index needs no change for this ticket."""
        return not (self.deleted or self.replace_all or self.replace_kinds or self.documents or self.workflow)

    def seen_by(self, viewer: Viewer) -> "IndexChange | None":
        """This change as ``viewer`` may see it (``watch`` reports it so).

        For a viewer who may not read I (``customer_facing``) every trace of the internal
        conversation is left out: its kind name, its added message ids and its
        documents; a change of nothing else (only internal messages) is None, so it is
        not reported at all. A viewer who may read every file gets the change itself.
        """
        hidden = {KIND_NAMES[k] for k in "EI" if not viewer.can_read(k)}
        if not hidden:
            return self
        kinds = [k for k in self.kinds if k not in hidden]
        if not kinds and not self.deleted:
            return None
        return replace(
            self,
            replace_kinds=[k for k in self.replace_kinds if KIND_NAMES[k] not in hidden],
            documents=[d for d in self.documents if d.get("kind") not in hidden],
            added={k: list(v) for k, v in self.added.items() if k not in hidden},
            kinds=kinds,
        )

    def report(self) -> dict[str, Any]:
        """Return the change as a JSON-ready dict (one line of ``watch --json``)."""
        return {
            "ticket": self.t_no,
            "commit": self.commit,
            "kinds": self.kinds,
            "added": self.added,
            "deleted": self.deleted,
        }


def plan_change(t_no: str, commit: str, old: Any | None, new: Any | None, *, certain: bool = True) -> IndexChange:
    """Compare a ticket at two commits and plan the smallest index change.

    Args:
        t_no: the ticket.
        commit: the newer commit id.
        old: the ticket's ``TicketFiles`` at the commit the index reflects (None: it did
            not exist there, or could not be read).
        new: the ticket at ``commit`` (None: deleted).
        certain: False when the index may not hold exactly ``old`` (after a crash
            between an index commit and its state record, or when ``old`` was
            unreadable): every document of the ticket is then replaced.

    Returns:
        A IndexChange; ``empty`` when nothing indexed differs.
    """
    change = IndexChange(t_no, commit)
    if new is None:
        change.deleted = True
        change.kinds = [KIND_NAMES[k] for k in "EIT"] if old is not None else []
        return change
    if old is None or not certain:
        change.replace_all = True
        change.documents = ticket_documents(new)
        old_ids = {k: {m.message_id for m in old.get(k).messages} for k in "EI"} if old is not None else {"E": set(), "I": set()}
        for kind in "EI":
            ids = [m.message_id for m in new.get(kind).messages if m.message_id not in old_ids[kind]]
            if ids:
                change.added[KIND_NAMES[kind]] = ids
        change.kinds = [KIND_NAMES[k] for k in "EIT"]
        return change
    for kind in "EI":
        before, after = old.get(kind), new.get(kind)
        if kind == "E" and before.platform != after.platform:
            appended = False
        else:
            count = len(before.messages)
            appended = len(after.messages) >= count and after.messages[:count] == before.messages
        if appended:
            fresh = after.messages[len(before.messages):]
            if fresh:
                change.documents += [message_document(t_no, kind, m, after) for m in fresh]
                change.added[KIND_NAMES[kind]] = [m.message_id for m in fresh]
                change.kinds.append(KIND_NAMES[kind])
        else:
            change.replace_kinds.append(kind)
            change.documents += conversation_documents(new, kind)
            before_ids = {m.message_id for m in before.messages}
            ids = [m.message_id for m in after.messages if m.message_id not in before_ids]
            if ids:
                change.added[KIND_NAMES[kind]] = ids
            change.kinds.append(KIND_NAMES[kind])
    workflow = workflow_document(new)
    if workflow != workflow_document(old):
        change.workflow = workflow
        change.kinds.append(KIND_NAMES["T"])
    return change
