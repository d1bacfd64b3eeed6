"""A ticket's three files as one value, and how a new ticket's files are made."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING

from gitstore.tickets.layout import file_name

if TYPE_CHECKING:  # the models (pydantic) load with the first ticket read or made
    from gitstore.tickets.models import ExternalConversation, InternalConversation, WorkflowState

STAMP_FIELDS = {"E": "last_updated", "I": "last_updated", "T": "last_synchronized"}
"""Per file kind, the field holding the synchronized update's shared timestamp."""

ITEM_LISTS = {
    "E": {"messages": ("message", "message_id")},
    "I": {"messages": ("message", "message_id"), "progress_updates": ("progress_update", "update_id")},
    "T": {"agent_decisions": ("agent_decision", "decision_id")},
}
"""Per file kind: list field → (item name, id field) of items kept one by one."""


@dataclass(frozen=True)
class TicketFiles:
    """The E, I and T files of one ticket (docs/data-model.md#ticket-files).

    Attributes:
        t_no: the ticket number.
        external: ``E_<T_NO>.json``.
        internal: ``I_<T_NO>.json``.
        workflow: ``T_<T_NO>.json``.
    """

    t_no: str
    external: ExternalConversation
    internal: InternalConversation
    workflow: WorkflowState

    def get(self, kind: str):
        """Return the model of one file kind (``E``, ``I`` or ``T``)."""
        return {"E": self.external, "I": self.internal, "T": self.workflow}[kind]

    def with_file(self, kind: str, model) -> "TicketFiles":
        """Return a copy with one file replaced."""
        field = {"E": "external", "I": "internal", "T": "workflow"}[kind]
        return replace(self, **{field: model})

    def stamped(self, when: datetime) -> "TicketFiles":
        """Return a copy whose three files carry ``when`` as the shared sync time.

        Every synchronized update carries one timestamp: ``last_updated`` of E and I
        and ``last_synchronized`` of T are set to it (docs/data-model.md#synchronized-write).
        """
        return TicketFiles(
            self.t_no,
            *(self.get(kind).model_copy(update={STAMP_FIELDS[kind]: when}) for kind in "EIT"),
        )


def new_ticket(
    t_no: str,
    *,
    client_name: str,
    company_name: str,
    when: datetime,
    priority: str = "LOW",
    channel: str | None = None,
    platform: str = "email",
    contact_info: dict | None = None,
    trello_template: str | None = None,
) -> TicketFiles:
    """Build the three files of a new, empty ticket (docs/data-model.md#ticket-files).

    Args:
        t_no: the ticket number (already validated).
        client_name, company_name: the customer.
        when: creation time (aware UTC): ``card_create_timestamp`` and the sync time.
        priority: ``HIGH`` or ``LOW``.
        channel: ``MATTERMOST`` or ``FLOCK`` (the internal channel), or None when it is
            not known (an imported ticket whose source has no internal channel): T's
            ``channel`` is then null and I's ``platforms`` empty, never a value that
            claims a channel the ticket never used.
        platform: ``trello``, ``email`` or ``web_chat`` (the external platform).

    Raises:
        pydantic.ValidationError: an enumeration value outside docs/data-model.md#enumerations.
    """
    from gitstore.tickets.models import (
        Customer,
        ExternalConversation,
        ExternalParticipants,
        FileReferences,
        InternalConversation,
        WorkflowState,
    )

    # The enumerations arrive as plain str and pydantic's validation checks them (raising
    # the ValidationError documented above); its typed __init__ asks for the Literal types
    # instead, hence the four ignores below.
    return TicketFiles(
        t_no,
        ExternalConversation(
            ticket_id=t_no,
            participants=ExternalParticipants(
                customer=Customer(
                    client_name=client_name,
                    company_name=company_name,
                    contact_info=contact_info or {},
                )
            ),
            platform=platform,  # type: ignore[arg-type]
            last_updated=when,
            synchronized_with=[f"I_{t_no}", f"T_{t_no}"],
        ),
        InternalConversation(
            ticket_id=t_no,
            platforms=[channel.lower()] if channel else [],  # type: ignore[list-item]
            last_updated=when,
            synchronized_with=[f"E_{t_no}", f"T_{t_no}"],
        ),
        WorkflowState(
            ticket_id=t_no,
            client_name=client_name,
            company_name=company_name,
            trello_template=trello_template,
            card_create_timestamp=when,
            priority=priority,  # type: ignore[arg-type]
            channel=channel,  # type: ignore[arg-type]
            file_references=FileReferences(
                external_conversation=file_name("E", t_no),
                internal_conversation=file_name("I", t_no),
            ),
            last_synchronized=when,
        ),
    )
