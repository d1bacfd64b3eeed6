"""Agents on the store (docs/data-model.md#agents): per-agent views, contexts under
token budgets, reproducible decisions, the workflow state machine, orchestrator turns
and roles.

Automated agents (classifier, selector, updater, an orchestrator routing between them)
work on a ticket's shared conversation and leave their traces in its T file
(``agent_decisions``, ``agent_states``, ``workflow_stage``, ``phase_transitions``,
``orchestrator_turns``). Everything an agent does
here is one synchronized update (one commit) of the ticket, and the exact context an
agent saw when it decided can be rebuilt later (``decision_context``).

Example:
    >>> from gitstore import Store
    >>> from gitstore.agents import build_context, record_decision
    >>> store = Store.open("demo")                                    # doctest: +SKIP
    >>> ctx = build_context(store, "1001", "classifier", max_tokens=4000)  # doctest: +SKIP
    >>> record_decision(store, "1001", "classifier", {"priority": "HIGH"}, 0.9,
    ...                 seen=ctx.commit, max_tokens=4000)             # doctest: +SKIP
"""

from gitstore.agents.context import AgentContext, build_context
from gitstore.agents.decisions import DecisionResult, confirm_decision, decision_context, record_decision
from gitstore.agents.roles import ROLES, load_access, set_role
from gitstore.agents.tokens import get_tokenizer
from gitstore.agents.turns import RoutingContext, RoutingLoop, complete, routing_context, start_turn
from gitstore.agents.views import mark_processed
from gitstore.agents.workflow import PRESETS, configure_workflow, load_workflow, set_stage

__all__ = [
    "AgentContext",
    "DecisionResult",
    "PRESETS",
    "ROLES",
    "build_context",
    "complete",
    "configure_workflow",
    "confirm_decision",
    "decision_context",
    "get_tokenizer",
    "load_access",
    "load_workflow",
    "mark_processed",
    "record_decision",
    "routing_context",
    "RoutingContext",
    "RoutingLoop",
    "set_role",
    "set_stage",
    "start_turn",
]
