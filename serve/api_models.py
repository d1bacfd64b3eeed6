"""Request bodies and query parameters of the HTTP API, as pydantic models.

Each field that is also a field of a ticket file takes its type and constraints from
the project's own models (``gitstore.tickets.models``: ``ExternalMessage``,
``InternalMessage``, ``WorkflowState``, ``AgentDecision``, ``ContextSpec``…), so the
OpenAPI document (``serve.api_openapi``) shows the same enumerations and limits the
write path enforces, and a bad value is refused before the store is touched (422, or
400 for a query parameter). The write path still checks everything itself.

Query models forbid unknown parameters: a misspelt filter is an error, not ignored.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Union, cast

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, create_model
from pydantic.fields import FieldInfo

from gitstore.tickets.models import (
    AgentDecision,
    ContextSpec,
    ExternalConversation,
    ExternalMessage,
    InternalMessage,
    WorkflowState,
)

FORBID = ConfigDict(extra="forbid")


def field_of(model: type[BaseModel], name: str, *, optional: bool = False, description: str | None = None) -> Any:
    """``(annotation, FieldInfo)`` of ``model``'s field ``name`` for ``create_model``:
    the project's type, constraints and validators; ``optional``: may be left out (None)."""
    info = model.model_fields[name]
    annotation: Any = info.annotation
    updates: dict[str, Any] = {}
    if optional:
        annotation = annotation | None
        updates["default"] = None
    if description is not None:
        updates["description"] = description
    return annotation, FieldInfo.merge_field_infos(info, **updates) if updates else info


# ---------------------------------------------------------------------------- bodies
ExternalMessageBody = create_model(
    "ExternalMessageBody",
    __config__=FORBID,
    __doc__="A message for the external conversation (E): `message add --external`; fields of ExternalMessage.",
    kind=(cast(Any, Literal["external"]), Field(description="external: the customer-facing conversation (E file)")),
    sender=field_of(ExternalMessage, "sender"),
    sender_id=field_of(ExternalMessage, "sender_id"),
    content=field_of(ExternalMessage, "content"),
)

InternalMessageBody = create_model(
    "InternalMessageBody",
    __config__=FORBID,
    __doc__="A message for the internal conversation (I): `message add --internal`; fields of InternalMessage.",
    kind=(cast(Any, Literal["internal"]), Field(description="internal: the technical team's conversation (I file)")),
    sender=field_of(InternalMessage, "sender"),
    sender_id=field_of(InternalMessage, "sender_id"),
    content=field_of(InternalMessage, "content"),
    message_type=field_of(InternalMessage, "message_type", optional=True),
    platform=field_of(InternalMessage, "platform", optional=True),
)

MessageBody: TypeAdapter[Any] = TypeAdapter(
    cast(Any, Annotated[Union[ExternalMessageBody, InternalMessageBody], Field(discriminator="kind")])
)
"""``POST /api/tickets/{t_no}/messages``: an external or an internal message (``kind``)."""


class TicketCreateBody(BaseModel):
    """``POST /api/tickets``: a new ticket (``ticket create``)."""

    model_config = FORBID
    t_no: str = Field(description="the new ticket number (1-64 of A-Za-z0-9_.-)", min_length=1, max_length=64)
    client_name: str = field_of(WorkflowState, "client_name")[1]
    company_name: str = field_of(WorkflowState, "company_name")[1]
    priority: Literal["HIGH", "LOW"] = "LOW"
    channel: Literal["MATTERMOST", "FLOCK"] = Field("MATTERMOST", description="internal channel (I file)")
    platform: Literal["trello", "email", "web_chat"] = Field("email", description="customer platform (E file)")


_STATE_FIELDS = ("priority", "channel", "assigned_member", "workflow_stage", "resolved", "client_name", "company_name",
                 "trello_template")

StateBody = create_model(
    "StateBody",
    __config__=FORBID,
    __doc__=("`POST /api/tickets/{t_no}/state` (`state set`): workflow fields of T, and E's conversation_status; "
             "null clears a field; workflow_stage follows the workflow's transitions."),
    **{name: field_of(WorkflowState, name, optional=True) for name in _STATE_FIELDS},
    conversation_status=field_of(ExternalConversation, "conversation_status", optional=True),
)


class UpdateBody(BaseModel):
    """``PATCH /api/tickets/{t_no}``: one synchronized update (``update --file``;
    docs/data-model.md#update-rules): lists ``messages``, ``progress_updates`` and
    ``agent_decisions`` are appended, other fields set."""

    model_config = FORBID
    E: dict[str, Any] | None = Field(None, description="changes to the external conversation")
    I: dict[str, Any] | None = Field(None, description="changes to the internal conversation")  # noqa: E741 - the file kind
    T: dict[str, Any] | None = Field(None, description="changes to the workflow state")


class ReasonBody(BaseModel):
    """``archive`` / ``unarchive``: an optional reason (``Reason:`` trailer)."""

    model_config = FORBID
    reason: str | None = Field(None, max_length=500)


class RollbackBody(BaseModel):
    """``POST /api/tickets/{t_no}/rollback`` (``rollback``)."""

    model_config = FORBID
    to: str = Field(min_length=1, description="commit id or prefix, ref, or date to restore")
    reason: str | None = Field(None, max_length=500)


class StageBody(BaseModel):
    """``POST /api/tickets/{t_no}/stage`` (``stage set``)."""

    model_config = FORBID
    stage: str = Field(min_length=1, max_length=64, description="a configured workflow stage")
    reason: str = Field(min_length=1, description="why the ticket moves (kept in phase_transitions)")
    summary: str | None = Field(None, description="state summary for the hand-off")


DecisionBody = create_model(
    "DecisionBody",
    __config__=FORBID,
    __doc__="`POST /api/tickets/{t_no}/decisions` (`decision record`): fields of AgentDecision and ContextSpec.",
    agent=field_of(AgentDecision, "agent"),
    decision=(dict[str, Any], Field(description="the decision, a JSON object")),
    confidence=field_of(AgentDecision, "confidence"),
    seen=(str, Field(min_length=1, description="the commit the agent's context was built from (context: commit)")),
    max_tokens=field_of(ContextSpec, "max_tokens"),
    reserve_tokens=(int | None, Field(None, ge=0)),
    strategy=field_of(ContextSpec, "strategy"),
    trigger=field_of(ContextSpec, "trigger"),
    reply_external=(str | None, Field(None, description="the agent's reply to the customer (E), same commit")),
    reply_internal=(str | None, Field(None, description="the agent's internal note (I), same commit")),
    session_id=(str | None, Field(None, max_length=256)),
)


class TurnStartBody(BaseModel):
    """``POST /api/tickets/{t_no}/turns`` (``turn start``)."""

    model_config = FORBID
    agents: list[str] = Field(min_length=1, description="the agents to route to")
    reason: str = Field(min_length=1)


class TurnCompleteBody(BaseModel):
    """``POST /api/tickets/{t_no}/turns/{turn_id}/complete`` (``turn complete``)."""

    model_config = FORBID
    agent: str = Field(min_length=1, description="the agent that completed its part")
    summary: str = Field(description="what the agent did")


class EmptyBody(BaseModel):
    """No fields (an empty object or no body at all)."""

    model_config = FORBID


# ---------------------------------------------------------------------------- queries
class AgentQuery(BaseModel):
    """``?agent=``: the automated agent acting (``--agent``: an ``Agent:`` trailer)."""

    model_config = FORBID
    agent: str | None = Field(None, min_length=1, description="the automated agent acting (Agent: trailer), like --agent")


class ListQuery(BaseModel):
    """``GET /api/tickets`` (``ticket list``)."""

    model_config = FORBID
    status: Literal["active", "resolved", "escalated"] | None = None
    priority: str | None = Field(None, pattern="(?i)^(high|low)$", description="HIGH or LOW, any case")
    assignee: str | None = Field(None, description="assigned_member, any case")
    stage: str | None = Field(None, description="workflow_stage: a configured stage")
    company: str | None = Field(None, description="company_name, any case")
    since: str | None = Field(None, description="created or with a message at/after this date (2020-03-01, '7 days ago')")
    archived: bool = Field(False, description="include archived tickets")
    at: str | None = Field(None, description="list the tickets as they were at this revision")
    limit: int = Field(30, ge=1, le=1000, description="rows per page")
    cursor: str | None = Field(None, description="next_cursor of the previous page")


class AtQuery(BaseModel):
    """``?at=REV`` (``--at``)."""

    model_config = FORBID
    at: str | None = Field(None, description="commit id or prefix, ref, or date")


class SearchQuery(BaseModel):
    """``GET /api/search`` (``search``)."""

    model_config = FORBID
    q: str = Field(min_length=1, description="Whoosh query language (words, AND/OR/NOT, phrases, field:value)")
    kind: Literal["external", "internal", "workflow"] | None = None
    ticket: str | None = None
    sender_id: str | None = None
    platform: str | None = None
    status: Literal["active", "resolved", "escalated"] | None = None
    priority: str | None = Field(None, pattern="(?i)^(high|low)$")
    since: str | None = None
    until: str | None = None
    limit: int = Field(10, ge=1, le=1000)


class HistoryQuery(BaseModel):
    """``GET /api/tickets/{t_no}/history`` (``history``)."""

    model_config = FORBID
    limit: int | None = Field(None, ge=1)


class DiffQuery(BaseModel):
    """``GET /api/tickets/{t_no}/diff`` (``diff T_NO [REV_A [REV_B]]``)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    from_: str | None = Field(None, alias="from", description="where to start; default: before the ticket's last change")
    to: str | None = Field(None, description="where to end; default: HEAD")


class BlameQuery(BaseModel):
    """``GET /api/tickets/{t_no}/blame`` (``blame``)."""

    model_config = FORBID
    file: Literal["E", "I", "T"] = Field(description="E external, I internal, T workflow state")


class LogQuery(BaseModel):
    """``GET /api/log`` (``log``)."""

    model_config = FORBID
    ticket: str | None = None
    actor: str | None = None
    agent: str | None = None
    since: str | None = None
    until: str | None = None
    limit: int = Field(100, ge=1, le=10000)


class ContextQuery(BaseModel):
    """``GET /api/tickets/{t_no}/context`` (``context``)."""

    model_config = FORBID
    agent: str | None = Field(None, min_length=1, description="the agent whose view to build")
    max_tokens: int | None = Field(None, ge=1)
    reserve_tokens: int | None = Field(None, ge=0)
    strategy: Literal["recent", "important", "summarized"] = "recent"
    at: str | None = None
    trigger: str | None = None
    decision: str | None = Field(None, description="rebuild the context the agent was given for this decision")


class EventsQuery(BaseModel):
    """``GET /events``."""

    model_config = FORBID
    last_event_id: str | None = Field(None, description="resume after this event id (as the Last-Event-ID header)")


__all__ = [
    "MessageBody", "ExternalMessageBody", "InternalMessageBody", "TicketCreateBody", "StateBody", "UpdateBody",
    "ReasonBody", "RollbackBody", "StageBody", "DecisionBody", "TurnStartBody", "TurnCompleteBody", "EmptyBody",
    "AgentQuery", "ListQuery", "AtQuery", "SearchQuery", "HistoryQuery", "DiffQuery", "BlameQuery", "LogQuery",
    "ContextQuery", "EventsQuery", "field_of",
]
