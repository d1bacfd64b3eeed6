"""Pydantic v2 models of a ticket's three files (docs/data-model.md#ticket-files).

Field names, nesting and enumerations are those of docs/data-model.md#e-file,
#i-file, #t-file and #items; that page lists every field. Beyond the original design
(docs/data-model.md#design-departures), each addition needed by a later rule:

- ``schema_version`` on every file, so later migrations can recognise old files.
- ``update_id`` on progress updates and ``decision_id`` on agent decisions: the merge
  between sites unions these lists by id (docs/data-model.md#merge-rules).
- ``Attachment`` gives the free ``attachments`` array a shape: name, content type,
  size in bytes, SHA-256 of the content and the source's URL (recorded, never inlined).
- T's ``channel`` may be null: a ticket imported from a source with no internal
  channel (Twitter, Trello, e-mail) does not claim one (docs/importers.md).
- Agents (docs/data-model.md#agents): T gains ``agent_states``, ``phase_transitions``
  and ``orchestrator_turns``; a decision gains ``context_commit`` and ``context``.
  ``agent`` and ``workflow_stage`` are validated names (``AgentId``, ``StageName``)
  rather than fixed enumerations, because agents and stages are store configuration,
  checked on every write by ``gitstore.agents`` (the original values are the
  defaults).

Times are timezone-aware UTC (naive times are refused) and serialise as ISO 8601 with
``Z``. ``metadata`` and ``platform_specific`` stay open objects; everything else is
validated. Open objects serialise with sorted keys so bytes never depend on the order
in which a producer built them.

Annotations are evaluated as the classes are made (no ``from __future__ import
annotations``): pydantic then reads them as objects instead of evaluating a string per
field, a fifth of the time it takes to make the classes when a command starts.
"""

import math
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    field_validator,
    model_serializer,
)

from gitstore.crypt.format import PREFIX as SEALED_PREFIX
from gitstore.crypt.format import sealed_problem
from gitstore.timeutil import format_utc, to_utc

SCHEMA_VERSION = 1
"""Version of the file schemas written by this code."""

MAX_CONTENT_BYTES = 256 * 1024
"""Largest message content accepted, in bytes of UTF-8 (256 KiB). Larger text is
refused with a ValidationError: a ticket file stays small enough to diff and blame."""


def _sorted(value: Any) -> Any:
    """A free JSON object with its keys sorted at every depth (the canonical form).

    Raises:
        ValueError: NaN or infinity inside (not JSON; would be written as null).
    """
    if isinstance(value, dict):
        return {k: _sorted(value[k]) for k in sorted(value)}
    if isinstance(value, list):
        return [_sorted(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"{value} is not a JSON number")
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


def _check_sealable(text: str) -> str:
    # sealed text (docs/encryption.md#ciphertext-format) may be up to its ciphertext's
    # size: the clear text was held to MAX_CONTENT_BYTES before it was sealed
    if not text.startswith(SEALED_PREFIX):
        return _check_content(text)
    problem = sealed_problem(text)
    if problem is not None:
        raise ValueError(f"{problem} (docs/encryption.md#ciphertext-format)")
    return text


Sealable = Annotated[str, AfterValidator(_check_sealable)]
"""Text that may be sealed (an internal message's ``content``, a progress update's
``notes``): clear text as ``Content``, or a well-formed sealed field."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True, defer_build=True)


class _OpenModel(BaseModel):
    """A model whose unknown keys are kept (``metadata``); extras serialise sorted."""

    model_config = ConfigDict(extra="allow", validate_assignment=True, defer_build=True)

    @model_serializer(mode="wrap")
    def _dump(self, handler):  # noqa: ANN001 - pydantic's handler type
        data = handler(self)
        declared = [k for k in type(self).model_fields if k in data]
        extra = sorted(k for k in data if k not in type(self).model_fields)
        return {**{k: data[k] for k in declared}, **{k: _sorted(data[k]) for k in extra}}


class Attachment(_Model):
    """An attachment recorded by reference (never inlined).

    ``url`` is where the source keeps the file (a Trello attachment's link, a Slack
    file's permalink); it is left out of the file when None, so attachments without
    one keep their bytes.
    """

    name: str
    content_type: str | None = None
    size: int | None = Field(default=None, ge=0, description="bytes")
    sha256: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")
    url: str | None = Field(default=None, max_length=4096)

    @model_serializer(mode="wrap")
    def _dump(self, handler):  # noqa: ANN001 - pydantic's handler type
        data = handler(self)
        if data.get("url") is None:
            data.pop("url", None)
        return data


class ExternalMessageMetadata(_OpenModel):
    """``messages[].metadata`` of an E file (docs/data-model.md#external-message)."""

    trello_card_id: str | None = None
    platform_specific: OpenObject = Field(default_factory=dict)


class InternalMessageMetadata(_OpenModel):
    """``messages[].metadata`` of an I file (docs/data-model.md#internal-message)."""

    channel_id: str | None = None
    thread_id: str | None = None
    platform_specific: OpenObject = Field(default_factory=dict)


class ExternalMessage(_Model):
    """A message between the customer and the support team (docs/data-model.md#external-message)."""

    message_id: NonEmpty
    timestamp: UtcTime
    sender: Literal["customer", "cs_agent"]
    sender_id: NonEmpty
    content: Content
    attachments: list[Attachment] = Field(default_factory=list)
    metadata: ExternalMessageMetadata = Field(default_factory=ExternalMessageMetadata)


class InternalMessage(_Model):
    """A message between the support team and the technical team (docs/data-model.md#internal-message).

    ``platform`` admits ``slack`` too, as the I file's ``platforms`` does.
    """

    message_id: NonEmpty
    timestamp: UtcTime
    sender: Literal["cs_agent", "technical_member"]
    sender_id: NonEmpty
    content: Sealable
    message_type: Literal["assignment", "update", "escalation", "resolution"] = "update"
    platform: Literal["flock", "mattermost", "slack"] = "mattermost"
    attachments: list[Attachment] = Field(default_factory=list)
    metadata: InternalMessageMetadata = Field(default_factory=InternalMessageMetadata)


class ProgressUpdate(_Model):
    """``progress_updates[]`` of an I file (docs/data-model.md#progress-update)."""

    update_id: NonEmpty
    timestamp: UtcTime
    updater: NonEmpty
    status: Literal["assigned", "in_progress", "blocked", "resolved"]
    notes: Sealable = ""
    estimated_completion: UtcTime | None = None


AgentId = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:@-]*$")]
"""An agent id: any id of this form; checked against the store's ``agents``
configuration by ``gitstore.agents`` on write (docs/data-model.md#agents)."""

StageName = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[a-z][a-z0-9_-]*$")]
"""A workflow stage name: stages are store configuration, checked against the
``workflow`` section by ``gitstore.agents`` on write (docs/data-model.md#workflow-stages)."""

CommitId = Annotated[str, Field(pattern=r"^[0-9a-f]{40}$")]
"""A full git commit id (40 lowercase hex digits)."""


class ContextSpec(_Model):
    """How an agent's context was built, enough to rebuild it byte for byte (docs/data-model.md#context-spec).

    Attributes:
        strategy: ``recent``, ``important`` or ``summarized`` (docs/data-model.md#agent-contexts).
        max_tokens: the budget in tokens; None for no budget.
        reserve_tokens: tokens kept free for the response.
        tokenizer: the tokenizer that counted (``cl100k_base`` or ``estimate-utf8-bytes/4``).
        trigger: message id of the triggering message, if any.
        sha256: SHA-256 of the context's canonical bytes.
    """

    strategy: Literal["recent", "important", "summarized"] = "recent"
    max_tokens: int | None = Field(default=None, ge=1)
    reserve_tokens: int = Field(default=0, ge=0)
    tokenizer: NonEmpty
    trigger: str | None = None
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")


class AgentDecision(_Model):
    """``agent_decisions[]`` of a T file (docs/data-model.md#agent-decision).

    ``context_commit`` (the commit the agent's context was built from) and ``context``
    (how it was built) are left out of the file when None.
    """

    decision_id: NonEmpty
    agent: AgentId
    timestamp: UtcTime
    decision: OpenObject = Field(default_factory=dict)
    confidence: float = Field(ge=0.0, le=1.0)
    human_confirmed: bool = False
    context_commit: CommitId | None = None
    context: ContextSpec | None = None

    @model_serializer(mode="wrap")
    def _dump(self, handler):  # noqa: ANN001 - pydantic's handler type
        data = handler(self)
        for key in ("context_commit", "context"):
            if data.get(key) is None:
                data.pop(key, None)
        return data


class AgentState(_Model):
    """``agent_states[<agent id>]`` of a T file: one agent's view (docs/data-model.md#agent-views).

    Attributes:
        last_processed_commit: commit id of the ticket version the agent last processed
            (a commit, not a list index: after a merge messages are ordered by time).
        session_id: the agent's session (e.g. an LLM session), if it keeps one.
        metadata: open object for the agent's own bookkeeping.
    """

    last_processed_commit: CommitId | None = None
    session_id: str | None = Field(default=None, max_length=256)
    metadata: OpenObject = Field(default_factory=dict)


class PhaseTransition(_Model):
    """``phase_transitions[]`` of a T file (docs/data-model.md#phase-transition)."""

    from_: StageName = Field(validation_alias=AliasChoices("from", "from_"))
    to: StageName
    timestamp: UtcTime
    actor: NonEmpty
    agent: AgentId | None = None
    reason: Annotated[Content, Field(min_length=1)]
    summary: Content | None = None

    @model_serializer(mode="wrap")
    def _dump(self, handler):  # noqa: ANN001 - pydantic's handler type
        data = handler(self)
        return {("from" if k == "from_" else k): v for k, v in data.items()}


class TurnCompletion(_Model):
    """``completions[]`` of an orchestrator turn (docs/data-model.md#turn-completion)."""

    agent: AgentId
    timestamp: UtcTime
    actor: NonEmpty
    summary: Content = ""


class OrchestratorTurn(_Model):
    """``orchestrator_turns[]`` of a T file (docs/data-model.md#orchestrator-turn)."""

    turn_id: NonEmpty
    timestamp: UtcTime
    actor: NonEmpty
    stage: StageName | None = None
    agents: list[AgentId] = Field(min_length=1)
    reason: Content = ""
    completions: list[TurnCompletion] = Field(default_factory=list)
    is_completed: bool = False
    completed_at: UtcTime | None = None


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
    """``E_<T_NO>.json``: the external conversation (docs/data-model.md#e-file)."""

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
    """``I_<T_NO>.json``: the internal conversation (docs/data-model.md#i-file)."""

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
    """``T_<T_NO>.json``: the ticket's workflow state (docs/data-model.md#t-file)."""

    ticket_id: NonEmpty
    client_name: str
    company_name: str
    trello_template: str | None = None
    card_create_timestamp: UtcTime
    resolved: bool = False
    priority: Literal["HIGH", "LOW"] = "LOW"
    channel: Literal["MATTERMOST", "FLOCK"] | None = None  # None: the source names no internal channel
    assigned_member: str | None = None
    workflow_stage: StageName = "trigger"
    archived: bool = False  # read-only while set: docs/data-model.md#archived-tickets
    agent_decisions: list[AgentDecision] = Field(default_factory=list)
    agent_states: dict[AgentId, AgentState] = Field(default_factory=dict)
    phase_transitions: list[PhaseTransition] = Field(default_factory=list)
    orchestrator_turns: list[OrchestratorTurn] = Field(default_factory=list)
    file_references: FileReferences
    last_synchronized: UtcTime
    schema_version: int = SCHEMA_VERSION

    @model_serializer(mode="wrap")
    def _dump_agents(self, handler):  # noqa: ANN001 - pydantic's handler type
        # agent_states is written with sorted agent ids (docs/data-model.md#canonical-json)
        data = handler(self)
        if "agent_states" in data:
            data["agent_states"] = {k: data["agent_states"][k] for k in sorted(data["agent_states"])}
        return data


TicketFile = ExternalConversation | InternalConversation | WorkflowState

MODEL_BY_KIND: dict[str, type[_TicketFile]] = {
    "E": ExternalConversation,
    "I": InternalConversation,
    "T": WorkflowState,
}
"""File kind letter (``E``/``I``/``T``) → model class."""
