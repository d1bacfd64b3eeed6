"""A ticket's complete context (docs/data-model.md#complete-context)."""

from __future__ import annotations

from typing import Any

from gitstore.tickets.files import TicketFiles


def unified_timeline(files: TicketFiles) -> list[dict[str, Any]]:
    """Merge external and internal messages into one timeline.

    Returns:
        One dict per message, ordered by ``(timestamp, message_id)``: the message's
        fields plus ``kind`` (``external``/``internal``).
    """
    items = [
        {"kind": "external", **m.model_dump(mode="json"), "_t": m.timestamp}
        for m in files.external.messages
    ]
    items += [
        {"kind": "internal", **m.model_dump(mode="json"), "_t": m.timestamp}
        for m in files.internal.messages
    ]
    items.sort(key=lambda item: (item["_t"], item["message_id"]))
    for item in items:
        del item["_t"]
    return items


def decision_trail(files: TicketFiles) -> list[dict[str, Any]]:
    """Return the ticket's agent decisions ordered by ``(timestamp, decision_id)``."""
    decisions = sorted(files.workflow.agent_decisions, key=lambda d: (d.timestamp, d.decision_id))
    return [d.model_dump(mode="json") for d in decisions]


def complete_context(files: TicketFiles, commit: str, version: str | None = None) -> dict[str, Any]:
    """Return the complete context of a ticket as JSON-ready data.

    Keys (docs/data-model.md#complete-context): ``ticket_id``, ``external_conversation``,
    ``internal_conversation``, ``workflow_state``, ``unified_timeline``,
    ``decision_trail``; plus ``commit`` (the revision read) and ``version`` (the id of
    the ticket's last change, to pass back as ``expected_version``).
    """
    return {
        "ticket_id": files.t_no,
        "commit": commit,
        "version": version,
        "external_conversation": files.external.model_dump(mode="json"),
        "internal_conversation": files.internal.model_dump(mode="json"),
        "workflow_state": files.workflow.model_dump(mode="json"),
        "unified_timeline": unified_timeline(files),
        "decision_trail": decision_trail(files),
    }
