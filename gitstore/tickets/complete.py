"""A ticket's complete context (docs/data-model.md#complete-context)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gitstore.tickets.files import TicketFiles


def unified_timeline(files: TicketFiles) -> list[dict[str, Any]]:
    """Merge external and internal messages into one timeline.

    Returns:
        One dict per message, ordered by ``(timestamp, message_id)``: the message's
        fields plus ``kind`` (``external``/``internal``).
    """
    # each file's messages dumped by the file's own serializer (built with the file's
    # validator): a message model dumped alone would build a serializer of its own
    items = [
        {"kind": "external", **dumped, "_t": m.timestamp}
        for m, dumped in zip(files.external.messages, files.external.model_dump(mode="json", include={"messages"})["messages"])
    ]
    items += [
        {"kind": "internal", **dumped, "_t": m.timestamp}
        for m, dumped in zip(files.internal.messages, files.internal.model_dump(mode="json", include={"messages"})["messages"])
    ]
    items.sort(key=lambda item: (item["_t"], item["message_id"]))
    for item in items:
        del item["_t"]
    return items


def decision_trail(files: TicketFiles) -> list[dict[str, Any]]:
    """Return the ticket's agent decisions ordered by ``(timestamp, decision_id)``."""
    dumped = files.workflow.model_dump(mode="json", include={"agent_decisions"})["agent_decisions"]  # see unified_timeline
    pairs = sorted(zip(files.workflow.agent_decisions, dumped), key=lambda pair: (pair[0].timestamp, pair[0].decision_id))
    return [json_decision for _, json_decision in pairs]


@dataclass(frozen=True)
class CompleteContext:
    """A ticket's complete context at one revision (docs/data-model.md#complete-context).

    Attributes:
        ticket_id: the T_NO.
        commit: the id of the commit read.
        version: the id of the ticket's last change at that commit (pass it back as
            ``expected_version``).
        files: the three files (``external``, ``internal``, ``workflow`` models).
        unified_timeline: every E and I message, ordered by ``(timestamp, message_id)``,
            as JSON objects with ``kind`` (``external``/``internal``).
        decision_trail: the agent decisions ordered by ``(timestamp, decision_id)``, as
            JSON objects.
        internal_visible: False for a viewer who may not read I: ``to_json`` then has
            no ``internal_conversation`` (docs/data-model.md#roles).
        unreadable: internal items left out because this site holds no key for them
            (docs/encryption.md).
    """

    ticket_id: str
    commit: str
    version: str | None
    files: TicketFiles
    unified_timeline: list[dict[str, Any]]
    decision_trail: list[dict[str, Any]]
    internal_visible: bool = True
    unreadable: int = 0

    def to_json(self) -> dict[str, Any]:
        """The context as one JSON object: ``ticket_id``, ``commit``, ``version``,
        ``external_conversation``, ``internal_conversation``, ``workflow_state``,
        ``unified_timeline``, ``decision_trail``; ``internal_conversation`` only for a
        viewer who may read I, with ``unreadable_internal_items`` when some are sealed
        for keys this site does not hold."""
        out: dict[str, Any] = {
            "ticket_id": self.ticket_id,
            "commit": self.commit,
            "version": self.version,
            "external_conversation": self.files.external.model_dump(mode="json"),
        }
        if self.internal_visible:
            out["internal_conversation"] = self.files.internal.model_dump(mode="json")
        out["workflow_state"] = self.files.workflow.model_dump(mode="json")
        out["unified_timeline"] = self.unified_timeline
        out["decision_trail"] = self.decision_trail
        if self.unreadable:
            out["unreadable_internal_items"] = self.unreadable
        return out


def complete_context(
    files: TicketFiles, commit: str, version: str | None = None, *, internal_visible: bool = True, unreadable: int = 0
) -> CompleteContext:
    """Return the complete context of a ticket read at ``commit``.

    Args:
        files: the ticket's files at ``commit`` (as the viewer may see them).
        commit: the id of the commit read.
        version: the id of the ticket's last change at ``commit``.
        internal_visible, unreadable: see ``CompleteContext``.
    """
    return CompleteContext(
        files.t_no, commit, version, files, unified_timeline(files), decision_trail(files), internal_visible, unreadable
    )
