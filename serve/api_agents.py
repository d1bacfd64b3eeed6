"""Agent endpoints: contexts, decisions, stages and orchestrator turns.

Each calls the ``gitstore.agents`` function of its CLI command (docs/http.md#agents).
As with the CLI, a decision or a turn completion is authored by the token's actor
(the CLI's ``--actor``), on behalf of the agent the body names.
"""

from __future__ import annotations

import dataclasses

from gitstore.agents import (
    build_context,
    complete,
    confirm_decision,
    decision_context,
    record_decision,
    routing_context,
    start_turn,
)
from gitstore.agents.workflow import set_stage, stage_info
from gitstore.errors import InvalidOption
from gitstore_serve.api_http import Call, Endpoint, Precondition, Reply, commit_reply
from gitstore_serve.api_models import (
    AgentQuery,
    AtQuery,
    ContextQuery,
    DecisionBody,
    EmptyBody,
    StageBody,
    TurnCompleteBody,
    TurnStartBody,
)


def context(call: Call) -> Reply:
    """``context T_NO --agent ID --json`` (or ``--decision``: the context a decision saw)."""
    q = call.query
    if q.decision is not None:
        if q.max_tokens or q.reserve_tokens is not None or q.at or q.trigger or q.strategy != "recent":
            raise InvalidOption("decision rebuilds with the recorded settings: drop max_tokens/reserve_tokens/strategy/at/trigger")
        return Reply(decision_context(call.store, call.t_no, q.decision, agent=q.agent))
    if not q.agent:
        raise InvalidOption("name the agent: ?agent=ID")
    return Reply(build_context(call.store, call.t_no, q.agent, max_tokens=q.max_tokens, strategy=q.strategy, at=q.at,
                               trigger=q.trigger, reserve_tokens=q.reserve_tokens))


def record(call: Call) -> Reply:
    """``decision record``: one commit with the decision (and a reply, if any)."""
    b = call.body
    if b.reply_external is not None and b.reply_internal is not None:
        raise InvalidOption("give reply_external or reply_internal, not both")
    response = b.reply_external if b.reply_external is not None else b.reply_internal
    result = record_decision(
        call.store, call.t_no, b.agent, b.decision, b.confidence, seen=b.seen, response=response,
        response_kind="I" if b.reply_internal is not None else "E", max_tokens=b.max_tokens, strategy=b.strategy,
        reserve_tokens=b.reserve_tokens, trigger=b.trigger, session_id=b.session_id, actor=call.actor,
    )
    return Reply(result, status=201, etag=result.commit)


def confirm(call: Call) -> Reply:
    """``decision confirm``."""
    result = confirm_decision(call.store, call.t_no, call.params["decision_id"], actor=call.actor, agent=call.agent)
    return commit_reply(result)


def stage_set(call: Call) -> Reply:
    """``stage set``: a validated transition, recorded in ``phase_transitions``."""
    b = call.body
    result = set_stage(call.store, call.t_no, b.stage, reason=b.reason, summary=b.summary, actor=call.actor,
                       agent=call.agent, expected_version=call.expected_version)
    return commit_reply(result)


def stage_show(call: Call) -> Reply:
    """``stage show --json``."""
    return Reply(dataclasses.asdict(stage_info(call.store, call.t_no, at=call.query.at)))


def turn_start(call: Call) -> Reply:
    """``turn start``: ``{"turn_id", "commit"}``."""
    b = call.body
    names = [a.strip() for a in b.agents if a.strip()]
    turn_id, result = start_turn(call.store, call.t_no, names, b.reason, actor=call.actor, agent=call.agent or "orchestrator")
    return Reply({"turn_id": turn_id, "commit": result.commit}, status=201, etag=result.commit)


def turn_complete(call: Call) -> Reply:
    """``turn complete``."""
    b = call.body
    return commit_reply(complete(call.store, call.t_no, call.params["turn_id"], b.agent, b.summary, actor=call.actor))


def turn_show(call: Call) -> Reply:
    """``turn show --json``: the orchestrator's routing context."""
    return Reply(routing_context(call.store, call.t_no, at=call.query.at).to_json())


TICKET = "/api/tickets/{t_no}"

ENDPOINTS = [
    Endpoint("GET", TICKET + "/context", context, "The messages an agent should see (LLM API format)",
             cli="context --json", query=ContextQuery, tags=("agents",)),
    Endpoint("POST", TICKET + "/decisions", record, "Record an agent's decision (and its reply) as one commit",
             cli="decision record --json", body=DecisionBody, precondition=Precondition.LOCKED,
             status=201, etag=True, tags=("agents",)),
    Endpoint("POST", TICKET + "/decisions/{decision_id}/confirm", confirm, "Mark a decision as confirmed by a human",
             cli="decision confirm", query=AgentQuery, body=EmptyBody, precondition=Precondition.LOCKED,
             acting_agent=True, etag=True, tags=("agents",)),
    Endpoint("GET", TICKET + "/stage", stage_show, "The ticket's stage, where it may go next, its transitions",
             cli="stage show --json", query=AtQuery, tags=("agents",)),
    Endpoint("POST", TICKET + "/stage", stage_set, "Move the ticket to a stage the workflow allows",
             cli="stage set", query=AgentQuery, body=StageBody, precondition=Precondition.CORE, acting_agent=True,
             etag=True, tags=("agents",)),
    Endpoint("GET", TICKET + "/turns", turn_show, "The orchestrator's routing context",
             cli="turn show --json", query=AtQuery, tags=("agents",)),
    Endpoint("POST", TICKET + "/turns", turn_start, "Open a turn routing the ticket to agents",
             cli="turn start --json", query=AgentQuery, body=TurnStartBody, precondition=Precondition.LOCKED,
             acting_agent=True, status=201, etag=True, tags=("agents",)),
    Endpoint("POST", TICKET + "/turns/{turn_id}/complete", turn_complete, "Record an agent's completion of a turn",
             cli="turn complete", body=TurnCompleteBody, precondition=Precondition.LOCKED, etag=True,
             tags=("agents",)),
]
"""The agent endpoints (route table entries)."""

__all__ = ["ENDPOINTS"]
