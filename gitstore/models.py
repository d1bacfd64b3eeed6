"""Pydantic v2 models of the tri-file mesh (seed 000 §3.1).

Field names, nesting and enumerations follow seed 000 §3.1.1–§3.1.3 exactly. Additions,
each needed by a later rule and documented here:

- ``schema_version`` on every file, so later migrations can recognise old files.
- ``update_id`` on progress updates and ``decision_id`` on agent decisions: the merge
  between sites unions these lists by id (ARCHITECTURE.md "Sync between sites").
- ``Attachment`` gives the seed's free ``attachments`` array a shape: name, content
  type, size in bytes and SHA-256 of the content (issue 6: recorded, never inlined).

Times are timezone-aware UTC (naive times are refused) and serialise as ISO 8601 with
``Z``. ``metadata`` and ``platform_specific`` stay open objects; everything else is
validated. Open objects serialise with sorted keys so bytes never depend on the order
in which a producer built them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    field_validator,
    model_serializer,
)

from .timeutil import format_utc, to_utc

SCHEMA_VERSION = 1
"""Version of the file schemas written by this code."""

MAX_CONTENT_BYTES = 256 * 1024
"""Largest message content accepted, in bytes of UTF-8 (256 KiB). Larger text is
refused with a ValidationError: a ticket file stays small enough to diff and blame."""


def _sorted(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _sorted(value[k]) for k in sorted(value)}
    if isinstance(value, list):
        return [_sorted(v) for v in value]
    return value


UtcTime = Annotated[datetime, AfterValidator(to_utc), PlainSerializer(format_utc, return_type=str)]
"""An aware datetime, stored as UTC and written as ISO 8601 (``…Z``)."""

OpenObject = Annotated[dict[str, Any], PlainSerializer(_sorted, return_type=dict)]
"""A free JSON object (``platform_specific``, ``contact_info``, ``decision``)."""

NonEmpty = Annotated[str, Field(min_length=1, max_length=256)]


def _check_content(text: str) -> str:
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > MAX_CONTENT_BYTES:
        raise ValueError(f"message content is {size} bytes, over the limit of {MAX_CONTENT_BYTES}")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError("message content is not valid Unicode (lone surrogate)") from exc
    return text


Content = Annotated[str, AfterValidator(_check_content)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class _OpenModel(BaseModel):
    """A model whose unknown keys are kept (``metadata``); extras serialise sorted."""

    model_config = ConfigDict(extra="allow", validate_assignment=True)

    @model_serializer(mode="wrap")
    def _dump(self, handler):  # noqa: ANN001 - pydantic's handler type
        data = handler(self)
        declared = [k for k in type(self).model_fields if k in data]
        extra = sorted(k for k in data if k not in type(self).model_fields)
        return {**{k: data[k] for k in declared}, **{k: _sorted(data[k]) for k in extra}}


class Attachment(_Model):
    """An attachment recorded by reference (never inlined)."""

    name: str
    content_type: str | None = None
    size: int | None = Field(default=None, ge=0, description="bytes")
    sha256: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")


class ExternalMessageMetadata(_OpenModel):
    """``messages[].metadata`` of an E file (seed 000 §3.1.1)."""

    trello_card_id: str | None = None
    platform_specific: OpenObject = Field(default_factory=dict)


class InternalMessageMetadata(_OpenModel):
    """``messages[].metadata`` of an I file (seed 000 §3.1.2)."""

    channel_id: str | None = None
    thread_id: str | None = None
    platform_specific: OpenObject = Field(default_factory=dict)


class ExternalMessage(_Model):
    """A message between the customer and the support team (seed 000 §3.1.1)."""

    message_id: NonEmpty
    timestamp: UtcTime
    sender: Literal["customer", "cs_agent"]
    sender_id: NonEmpty
    content: Content
    attachments: list[Attachment] = Field(default_factory=list)
    metadata: ExternalMessageMetadata = Field(default_factory=ExternalMessageMetadata)


class InternalMessage(_Model):
    """A message between the support team and the technical team (seed 000 §3.1.2).

    ``platform`` admits ``slack`` too: the seed lists it among the I file's ``platforms``.
    """

    message_id: NonEmpty
    timestamp: UtcTime
    sender: Literal["cs_agent", "technical_member"]
    sender_id: NonEmpty
    content: Content
    message_type: Literal["assignment", "update", "escalation", "resolution"] = "update"
    platform: Literal["flock", "mattermost", "slack"] = "mattermost"
    attachments: list[Attachment] = Field(default_factory=list)
    metadata: InternalMessageMetadata = Field(default_factory=InternalMessageMetadata)


class ProgressUpdate(_Model):
    """``progress_updates[]`` of an I file (seed 000 §3.1.2), plus ``update_id``."""

    update_id: NonEmpty
    timestamp: UtcTime
    updater: NonEmpty
    status: Literal["assigned", "in_progress", "blocked", "resolved"]
    notes: Content = ""
    estimated_completion: UtcTime | None = None


class AgentDecision(_Model):
    """``agent_decisions[]`` of a T file (seed 000 §3.1.3), plus ``decision_id``."""

    decision_id: NonEmpty
    agent: Literal["classifier", "selector", "updates"]
    timestamp: UtcTime
    decision: OpenObject = Field(default_factory=dict)
    confidence: float = Field(ge=0.0, le=1.0)
    human_confirmed: bool = False


class Customer(_Model):
    """``participants.customer`` of an E file."""

    client_name: str
    company_name: str
    contact_info: OpenObject = Field(default_factory=dict)


class ExternalParticipants(_Model):
    customer: Customer
    cs_agents: list[str] = Field(default_factory=list)


class InternalParticipants(_Model):
    cs_team: list[str] = Field(default_factory=list)
    technical_team: list[str] = Field(default_factory=list)
    assigned_resolver: str | None = None


class FileReferences(_Model):
    """``file_references`` of a T file: names of the ticket's E and I files."""

    external_conversation: str
    internal_conversation: str


class _TicketFile(_Model):
    ticket_id: NonEmpty

    @field_validator("schema_version", check_fields=False)
    @classmethod
    def _known_version(cls, value: int) -> int:
        if value > SCHEMA_VERSION:
            raise ValueError(
                f"schema_version {value} is newer than this gitstore understands ({SCHEMA_VERSION})"
            )
        return value


class ExternalConversation(_TicketFile):
    """``E_<T_NO>.json``: the external conversation (seed 000 §3.1.1)."""

    ticket_id: NonEmpty
    conversation_type: Literal["external"] = "external"
    participants: ExternalParticipants
    platform: Literal["trello", "email", "web_chat"]
    messages: list[ExternalMessage] = Field(default_factory=list)
    conversation_status: Literal["active", "resolved", "escalated"] = "active"
    last_updated: UtcTime
    synchronized_with: list[str]
    schema_version: int = SCHEMA_VERSION


class InternalConversation(_TicketFile):
    """``I_<T_NO>.json``: the internal conversation (seed 000 §3.1.2)."""

    ticket_id: NonEmpty
    conversation_type: Literal["internal"] = "internal"
    participants: InternalParticipants = Field(default_factory=InternalParticipants)
    platforms: list[Literal["flock", "mattermost", "slack"]] = Field(default_factory=list)
    messages: list[InternalMessage] = Field(default_factory=list)
    progress_updates: list[ProgressUpdate] = Field(default_factory=list)
    last_updated: UtcTime
    synchronized_with: list[str]
    schema_version: int = SCHEMA_VERSION


class WorkflowState(_TicketFile):
    """``T_<T_NO>.json``: the ticket's workflow state (seed 000 §3.1.3)."""

    ticket_id: NonEmpty
    client_name: str
    company_name: str
    trello_template: str | None = None
    card_create_timestamp: UtcTime
    resolved: bool = False
    priority: Literal["HIGH", "LOW"] = "LOW"
    channel: Literal["MATTERMOST", "FLOCK"] = "MATTERMOST"
    assigned_member: str | None = None
    workflow_stage: Literal["trigger", "classifier", "selection", "action", "end"] = "trigger"
    agent_decisions: list[AgentDecision] = Field(default_factory=list)
    file_references: FileReferences
    last_synchronized: UtcTime
    schema_version: int = SCHEMA_VERSION


TicketFile = ExternalConversation | InternalConversation | WorkflowState

MODEL_BY_KIND: dict[str, type[_TicketFile]] = {
    "E": ExternalConversation,
    "I": InternalConversation,
    "T": WorkflowState,
}
"""File kind letter (``E``/``I``/``T``) → model class."""
