"""Orchestrator turns and the routing context (docs/data-model.md#orchestrator-routing).

A turn is one routing decision of the orchestrator: a set of agents it sends the
ticket to, with a reason. ``start_turn`` opens one (only one turn is open at a time),
``complete`` records one routed agent's completion, and the turn is completed when
every routed agent has completed. Each is one synchronized update of T
(``orchestrator_turns``).

``routing_context`` gives the orchestrator what it routes on: ``user_request``
(the customer's first message), ``routing_history`` (completed turns) and
``current_routing`` (the open turn or None), plus ``routing_loop``: the same agent set
routed ``routing_loop_threshold`` times in a row (``workflow`` configuration, default
3) with no customer message after the first of those turns started; gitstore reports
the loop and leaves the decision to the orchestrator.
"""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass
from typing import Any

import pygit2

from gitstore.agents.roles import load_access
from gitstore.agents.workflow import load_workflow
from gitstore.agents.writes import write_checked
from gitstore.errors import TurnNotFound, TurnStateError, ValidationError
from gitstore.store import Store
from gitstore.tickets.files import TicketFiles
from gitstore.timeutil import format_utc, utc_now


def _turns(files: TicketFiles) -> list[dict[str, Any]]:
    return [t.model_dump(mode="json") for t in files.workflow.orchestrator_turns]


def start_turn(
    store: Store,
    t_no: str,
    agents: list[str],
    reason: str,
    *,
    actor: str,
    agent: str | None = "orchestrator",
) -> tuple[str, Any]:
    """Open an orchestrator turn routing ``t_no`` to ``agents``.

    Args:
        agents: distinct configured agent ids, at least one.
        reason: why the orchestrator routes there (non-empty).
        actor: commit author; ``agent``: the orchestrator's agent id (``Agent:`` trailer).

    Returns:
        ``(turn_id, CommitResult)``.

    Raises:
        ValidationError: no agents, duplicates, or an empty reason.
        UnknownAgent: an agent that is not configured.
        TurnStateError: another turn is still open.
        TicketNotFound.
    """
    if not agents or not isinstance(agents, (list, tuple)):
        raise ValidationError("a turn routes to at least one agent")
    if len(set(agents)) != len(agents):
        raise ValidationError(f"a turn routes to distinct agents, got {list(agents)}")
    if not isinstance(reason, str) or not reason.strip():
        raise ValidationError("a turn needs a reason")
    access = load_access(store)
    for name in agents:
        access.agent_role(name)
    turn_id = "turn_" + uuid.uuid4().hex[:16]

    def make(files: TicketFiles, head: pygit2.Commit):
        turns = _turns(files)
        open_turns = [t["turn_id"] for t in turns if not t["is_completed"]]
        if open_turns:
            raise TurnStateError(f"turn {open_turns[-1]} of ticket {t_no} is still open: complete it first")
        turns.append({
            "turn_id": turn_id,
            "timestamp": format_utc(utc_now()),
            "actor": actor,
            "stage": files.workflow.workflow_stage,
            "agents": list(agents),
            "reason": reason,
            "completions": [],
            "is_completed": False,
        })
        return {"T": {"orchestrator_turns": turns}}, {"Turn": f"{turn_id} start {','.join(agents)}"}, \
            f"Route ticket {t_no} to {', '.join(agents)}"

    result = write_checked(store, t_no, make, actor=actor, agent=agent)
    return turn_id, result


def complete(store: Store, t_no: str, turn_id: str, agent: str, summary: str, *, actor: str | None = None):
    """Record that ``agent`` completed its part of turn ``turn_id``.

    The turn is marked completed (``is_completed``, ``completed_at``) when every routed
    agent has completed.

    Returns:
        The ``CommitResult``.

    Raises:
        TurnNotFound: no such turn.
        TurnStateError: the agent was not routed in the turn, or already completed it
            (which includes completing a completed turn).
        UnknownAgent, TicketNotFound.
    """
    load_access(store).agent_role(agent)
    if not isinstance(summary, str):
        raise ValidationError("a completion needs a summary text")

    def make(files: TicketFiles, head: pygit2.Commit):
        turns = _turns(files)
        turn = next((t for t in turns if t["turn_id"] == turn_id), None)
        if turn is None:
            raise TurnNotFound(f"ticket {t_no} has no turn {turn_id!r}")
        if agent not in turn["agents"]:
            raise TurnStateError(f"agent {agent} was not routed in turn {turn_id} (routed: {', '.join(turn['agents'])})")
        if any(c["agent"] == agent for c in turn["completions"]):
            raise TurnStateError(f"agent {agent} already completed turn {turn_id}")
        now = format_utc(utc_now())
        turn["completions"].append({"agent": agent, "timestamp": now, "actor": actor or agent, "summary": summary})
        done = {c["agent"] for c in turn["completions"]} >= set(turn["agents"])
        if done:
            turn["is_completed"] = True
            turn["completed_at"] = now
        state = "completed" if done else "in progress"
        return {"T": {"orchestrator_turns": turns}}, {"Turn": f"{turn_id} {agent} done, turn {state}"}, \
            f"Agent {agent} completed turn {turn_id} on ticket {t_no}"

    return write_checked(store, t_no, make, actor=actor or agent, agent=agent)


def _entry(turn) -> dict[str, Any]:
    return {
        "turn_id": turn.turn_id,
        "timestamp": format_utc(turn.timestamp),
        "stage": turn.stage,
        "agents": list(turn.agents),
        "reason": turn.reason,
        "completions": [
            {"agent": c.agent, "timestamp": format_utc(c.timestamp), "summary": c.summary} for c in turn.completions
        ],
        "is_completed": turn.is_completed,
        "completed_at": format_utc(turn.completed_at) if turn.completed_at else None,
    }


@dataclass(frozen=True)
class RoutingLoop:
    """Whether the orchestrator keeps routing to the same agents without new input.

    Attributes:
        detected: ``count`` reached ``threshold`` with no newer customer message.
        agents: the agent set of the latest turns (sorted), None without turns.
        count: how many latest turns in a row were routed to that set.
        threshold: the workflow's ``routing_loop_threshold``.
    """

    detected: bool
    agents: list[str] | None
    count: int
    threshold: int


@dataclass(frozen=True)
class RoutingContext:
    """The orchestrator's routing context of a ticket (docs/data-model.md#orchestrator-routing).

    Attributes:
        user_request: the first customer message's content, None without one.
        routing_history: the completed turns, oldest first, as JSON objects
            ``{turn_id, timestamp, stage, agents, reason, completions[{agent,
            timestamp, summary}], is_completed, completed_at}``.
        current_routing: the open turn (same shape), None when none is open.
        routing_loop: the loop check of the latest turns.
    """

    user_request: str | None
    routing_history: list[dict[str, Any]]
    current_routing: dict[str, Any] | None
    routing_loop: RoutingLoop

    def to_json(self) -> dict[str, Any]:
        """The context as one JSON object (the attributes, nested)."""
        return asdict(self)


def routing_context(store: Store, t_no: str, at: str | None = None) -> RoutingContext:
    """Return the orchestrator's routing context (``RoutingContext``).

    Raises:
        TicketNotFound, RevisionNotFound.
    """
    commit = store.resolve(at)
    files = store.read(t_no, at=commit)
    threshold = load_workflow(store, at=str(commit.id)).routing_loop_threshold
    customer = [m for m in files.external.messages if m.sender == "customer"]
    first = min(customer, key=lambda m: (m.timestamp, m.message_id)) if customer else None
    turns = sorted(files.workflow.orchestrator_turns, key=lambda t: (t.timestamp, t.turn_id))
    history = [_entry(t) for t in turns if t.is_completed]
    current = next((_entry(t) for t in reversed(turns) if not t.is_completed), None)
    return RoutingContext(
        first.content if first else None, history, current, detect_loop(turns, [m.timestamp for m in customer], threshold)
    )


def detect_loop(turns: list, customer_times: list, threshold: int) -> RoutingLoop:
    """Find a routing loop at the end of ``turns`` (ordered by start time).

    The streak is the run of latest turns routed to the same agent set; it is cut at a
    turn started after a customer message that arrived after the previous turn of the
    run started (a new customer message is new input, not a loop); a customer message
    after the latest turn started means the next routing has new input, so no loop.

    Returns:
        The ``RoutingLoop``.
    """
    if not turns:
        return RoutingLoop(False, None, 0, threshold)
    last = sorted(turns[-1].agents)
    count = 1
    for index in range(len(turns) - 2, -1, -1):
        earlier, later = turns[index], turns[index + 1]
        if sorted(earlier.agents) != last:
            break
        if any(earlier.timestamp < t <= later.timestamp for t in customer_times):
            break
        count += 1
    fresh_input = any(t > turns[-1].timestamp for t in customer_times)
    return RoutingLoop(count >= threshold and not fresh_input, last, count, threshold)
