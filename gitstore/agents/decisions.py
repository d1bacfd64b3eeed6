"""Recording what an agent decided, and rebuilding what it saw (docs/data-model.md#agent-decisions).

``record_decision`` writes ONE commit that

- appends to ``agent_decisions`` (docs/data-model.md#agent-decision: agent, timestamp,
  decision, confidence, human_confirmed, ``decision_id``, ``context_commit`` = the version
  the agent saw, and ``context`` = budget, strategy, tokenizer, trigger and the
  SHA-256 of the context bytes);
- optionally appends the agent's reply to E or I (sender ``cs_agent``, sender_id = the
  agent id; the agent's role must allow writing that file);
- moves the agent's view state (``views.next_states``);
- carries ``Agent:`` and ``Decision:`` trailers.

The decision is about what the agent saw: if the ticket changed after ``seen``, the
write still succeeds and the result lists the visible messages the agent missed.

``decision_context`` rebuilds, byte for byte, the context the agent was given: the
same ``build_context`` at ``context_commit`` with the recorded budget, strategy, trigger
and tokenizer; the result's SHA-256 is compared with the recorded one.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

import pygit2

from gitstore.agents.context import AgentContext, build_context
from gitstore.agents.roles import READS, load_access
from gitstore.agents.timeline import load_timeline
from gitstore.agents.views import next_states, resolve_seen
from gitstore.agents.writes import write_checked
from gitstore.errors import DecisionNotFound, ValidationError
from gitstore.store import Store
from gitstore.tickets.files import TicketFiles
from gitstore.tickets.update import new_id

MAX_TRAILER = 200


@dataclass
class DecisionResult:
    """The outcome of ``record_decision``.

    Attributes:
        decision_id: the new decision's id.
        commit: the commit written (the ticket's new version).
        context_commit: the version the agent's context was built from.
        context_sha256: SHA-256 of that context's canonical bytes.
        missed: messages visible to the agent that arrived after ``context_commit``
            and before the decision was written: ``{message_id, kind, sender,
            sender_id, timestamp}`` each, in timeline order.
        reply_id: id of the reply message written, if any.
    """

    decision_id: str
    commit: str
    context_commit: str
    context_sha256: str
    missed: list[dict[str, str]] = field(default_factory=list)
    reply_id: str | None = None


def _check_confidence(confidence: Any) -> float:
    if isinstance(confidence, bool) or not isinstance(confidence, (int, float)):
        raise ValidationError(f"confidence must be a number in [0, 1], not {confidence!r}")
    if math.isnan(confidence) or not 0.0 <= confidence <= 1.0:
        raise ValidationError(f"confidence must be in [0, 1], not {confidence}")
    return float(confidence)


def record_decision(
    store: Store,
    t_no: str,
    agent: str,
    decision: dict[str, Any],
    confidence: float,
    *,
    seen: str,
    response: str | None = None,
    response_kind: str = "E",
    max_tokens: int | None = None,
    strategy: str = "recent",
    reserve_tokens: int | None = None,
    trigger: str | None = None,
    session_id: str | None = None,
    actor: str | None = None,
) -> DecisionResult:
    """Record an agent's decision as one synchronized update (see module doc).

    Args:
        store: an open ``Store``.
        t_no: the ticket.
        agent: a configured agent id.
        decision: the decision, a JSON object (e.g. ``{"priority": "HIGH"}``).
        confidence: in [0, 1].
        seen: the commit the agent's context was built from (``AgentContext.commit``).
        response: the agent's reply text, appended to E (``response_kind="E"``) or I.
        max_tokens, strategy, reserve_tokens, trigger: how the context was built
            (as passed to ``build_context``), recorded so it can be rebuilt.
        session_id: the agent's session, kept in its view state.
        actor: commit author; the agent id when None.

    Returns:
        A ``DecisionResult``.

    Raises:
        ValidationError: confidence outside [0, 1], a decision that is not an object,
            bad reply kind or content. UnknownAgent, TicketNotFound,
            RevisionNotFound (``seen``), AccessDenied (reply to a file the agent's
            role may not write), BudgetTooSmall. Nothing is written on any error.
    """
    confidence = _check_confidence(confidence)
    if not isinstance(decision, dict):
        raise ValidationError("decision must be a JSON object, e.g. {\"priority\": \"HIGH\"}")
    if response is not None and response_kind not in ("E", "I"):
        raise ValidationError(f"reply kind must be E or I, not {response_kind!r}")
    actor = actor or agent
    access = load_access(store)
    role = access.agent_role(agent)
    if response is not None:
        access.check_write({response_kind}, actor=actor, agent=agent)
    seen_id = resolve_seen(store, seen)
    context = build_context(
        store, t_no, agent, max_tokens=max_tokens, strategy=strategy, at=seen_id,
        trigger=trigger, reserve_tokens=reserve_tokens,
    )
    decision_id = new_id("decision_id")
    reply_id = new_id("message_id") if response is not None else None
    seen_ids = load_timeline(store.repo, store.repo[seen_id].tree, t_no).ids
    missed: list[dict[str, str]] = []

    def make(files: TicketFiles, head: pygit2.Commit):
        missed.clear()
        for entry in load_timeline(store.repo, head.tree, t_no).entries:
            if entry.kind in READS[role] and entry.message_id not in seen_ids and entry.sender_id != agent:
                missed.append({
                    "message_id": entry.message_id, "kind": entry.kind, "sender": entry.sender,
                    "sender_id": entry.sender_id, "timestamp": entry.timestamp,
                })
        record = {
            "decision_id": decision_id,
            "agent": agent,
            "decision": decision,
            "confidence": confidence,
            "context_commit": seen_id,
            "context": context.spec(),
        }
        update: dict[str, Any] = {
            "T": {
                "agent_decisions": [record],
                "agent_states": next_states(store, files, agent, seen_id, session_id=session_id),
            }
        }
        if response is not None:
            update[response_kind] = {
                "messages": [{"message_id": reply_id, "sender": "cs_agent", "sender_id": agent, "content": response}]
            }
        shown = json.dumps(decision, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        trailer = f"{decision_id} confidence={confidence} {shown}"
        if len(trailer) > MAX_TRAILER:
            trailer = trailer[: MAX_TRAILER - 1] + "…"
        summary = f"Record {agent} decision on ticket {t_no}"
        return update, {"Decision": trailer, "Context-Commit": seen_id}, summary

    result = write_checked(store, t_no, make, actor=actor, agent=agent)
    return DecisionResult(decision_id, result.commit, seen_id, context.sha256, list(missed), reply_id)


def find_decision(files: TicketFiles, decision_id: str):
    """Return the decision ``decision_id`` of a ticket.

    Raises:
        DecisionNotFound: no such decision.
    """
    for item in files.workflow.agent_decisions:
        if item.decision_id == decision_id:
            return item
    raise DecisionNotFound(f"ticket {files.t_no} has no decision {decision_id!r}")


def confirm_decision(store: Store, t_no: str, decision_id: str, *, actor: str, agent: str | None = None):
    """Set ``human_confirmed`` on a decision, as one synchronized update.

    ``agent_decisions`` is append-only for ``Store.update``, so the T file is rewritten
    through ``Store.replace_files`` with the version read as ``expected_version``.

    Returns:
        The ``CommitResult``.

    Raises:
        DecisionNotFound: no such decision.
        ValidationError: the decision is already confirmed.
        TicketNotFound, ConflictError (the ticket changed while confirming).
    """
    head = store.head()
    files = store.read_stored(t_no, at=head)
    item = find_decision(files, decision_id)
    if item.human_confirmed:
        raise ValidationError(f"decision {decision_id} of ticket {t_no} is already confirmed")
    decisions = [
        d.model_copy(update={"human_confirmed": True}) if d.decision_id == decision_id else d
        for d in files.workflow.agent_decisions
    ]
    new_files = files.with_file("T", files.workflow.model_copy(update={"agent_decisions": decisions}))
    return store.replace_files(
        t_no,
        new_files,
        actor=actor,
        agent=agent,
        summary=f"Confirm {item.agent} decision {decision_id} on ticket {t_no}",
        trailers={"Decision": f"{decision_id} confirmed"},
        expected_version=str(head.id),
    )


def decision_context(store: Store, t_no: str, decision_id: str, *, agent: str | None = None) -> AgentContext:
    """Rebuild the exact context an agent was given when it made a decision.

    Args:
        agent: if given, must be the decision's agent.

    Returns:
        The ``AgentContext``; its ``sha256`` equals the recorded one.

    Raises:
        DecisionNotFound: no such decision, or one recorded without a context.
        ValidationError: ``agent`` is not the decision's agent, or the rebuilt bytes
            differ from the recorded SHA-256 (the history was rewritten).
        TokenizerUnavailable: the recorded tokenizer is not installed here.
    """
    files = store.read(t_no)
    item = find_decision(files, decision_id)
    if agent is not None and agent != item.agent:
        raise ValidationError(f"decision {decision_id} was made by agent {item.agent}, not {agent}")
    if item.context_commit is None or item.context is None:
        raise DecisionNotFound(f"decision {decision_id} was recorded without its context (no context_commit)")
    spec = item.context
    context = build_context(
        store, t_no, item.agent, max_tokens=spec.max_tokens, strategy=spec.strategy,
        at=item.context_commit, trigger=spec.trigger, reserve_tokens=spec.reserve_tokens,
        tokenizer=spec.tokenizer,
    )
    if context.sha256 != spec.sha256:
        raise ValidationError(
            f"rebuilt context of decision {decision_id} has SHA-256 {context.sha256[:12]}, recorded "
            f"{spec.sha256[:12]}: the history it was built from has changed"
        )
    return context
