"""Ticket rules the store enforces on every write: roles and workflow stages.

Both are store configuration committed in ``.gitstore/config.json`` (``gitstore.config``);
this module only parses sections and applies rules, so it needs no store. The store
reads the configuration at a revision and hands the sections to ``parse_policy``
(``Store.policy``); agents, search and the write path all use the same ``Policy``.
Rules: docs/data-model.md#roles and docs/data-model.md#workflow-stages.

Roles (``ROLES``):

=================  ============  ==============
role               reads         writes messages
=================  ============  ==============
customer_facing    E             E
internal           E, I          I
admin              E, I          E, I
=================  ============  ==============

Everyone reads and writes T. An actor that the ``roles`` section does not list has the
role ``default`` (None: unrestricted, so stores without roles configured behave as
before). Agents are ids configured in the ``agents`` section, on top of
``DEFAULT_AGENTS``.

The workflow is a graph of stages (section ``workflow``); ``DEFAULT_WORKFLOW`` is the
support pipeline ``trigger → classifier → selection → action → end`` plus the backward
steps a support team needs; ``TENEX_WORKFLOW`` is the agent-phase graph. A ticket whose
stage is not configured (a store that switched workflows) may only move to the
``initial`` stage.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from gitstore.errors import AccessDenied, InvalidTransition, UnknownAgent, ValidationError

ROLES = ("customer_facing", "internal", "admin")
"""Every role an actor or agent can have."""

READS: dict[str, tuple[str, ...]] = {"customer_facing": ("E",), "internal": ("E", "I"), "admin": ("E", "I")}
"""Role → the message files (``E``/``I``) it may read. T is readable by every role."""

WRITES: dict[str, tuple[str, ...]] = {"customer_facing": ("E",), "internal": ("I",), "admin": ("E", "I")}
"""Role → the message files (``E``/``I``) it may append messages to. T is writable by all."""

DEFAULT_AGENTS: dict[str, dict[str, Any]] = {
    "classifier": {"role": "internal"},
    "selector": {"role": "internal"},
    "updates": {"role": "internal"},
    "orchestrator": {"role": "internal"},
}
"""Agents every store knows (the support pipeline's three and the orchestrator)."""

DEFAULT_WORKFLOW: dict[str, Any] = {
    "stages": ["trigger", "classifier", "selection", "action", "end"],
    "initial": "trigger",
    "transitions": {
        "trigger": ["classifier", "end"],
        "classifier": ["selection", "trigger", "end"],
        "selection": ["action", "classifier", "end"],
        "action": ["end", "selection", "classifier"],
        "end": ["trigger"],
    },
    "routing_loop_threshold": 3,
}
"""The support pipeline (preset ``seed000``): docs/data-model.md#workflow-stages."""

TENEX_WORKFLOW: dict[str, Any] = {
    "stages": ["chat", "brainstorm", "plan", "execute", "verification", "chores", "reflection"],
    "initial": "chat",
    "transitions": {
        "chat": ["execute", "plan", "brainstorm"],
        "brainstorm": ["plan", "chat"],
        "plan": ["execute", "chat"],
        "execute": ["verification", "chat"],
        "verification": ["chores", "execute", "chat"],
        "chores": ["reflection", "chat"],
        "reflection": ["chat"],
    },
    "routing_loop_threshold": 3,
}
"""The agent-phase graph (preset ``tenex``): docs/data-model.md#workflow-stages."""

PRESETS = {"seed000": DEFAULT_WORKFLOW, "tenex": TENEX_WORKFLOW}
"""Workflow presets by the name ``gitstore stage configure --preset`` takes."""

ACCESS_SECTIONS = ("roles", "agents", "crypt")
"""Configuration sections only an ``admin`` (or unrestricted) actor may change: who has
which role, and for whom internal content is encrypted."""

_STAGE_RE = re.compile(r"^[a-z][a-z0-9_-]{0,63}$")
_WHAT = {"E": "external (E) messages", "I": "internal (I) messages"}


def check_role(role: Any, where: str) -> str:
    """Return ``role`` if it is one of ``ROLES``.

    Raises:
        ValidationError: any other value; the message names ``where`` and the roles.
    """
    if role not in ROLES:
        raise ValidationError(f"{where}: role {role!r} is not one of {', '.join(ROLES)}")
    return role


@dataclass(frozen=True)
class AccessConfig:
    """The ``roles`` and ``agents`` sections at one revision.

    Attributes:
        actors: actor id → role.
        default: role of actors not listed (None: unrestricted).
        agents: agent id → role.
    """

    actors: dict[str, str]
    default: str | None
    agents: dict[str, str]

    def actor_role(self, actor: str) -> str | None:
        """Return the role of an actor (None: unrestricted)."""
        return self.actors.get(actor, self.default)

    def readable(self, viewer: str | None) -> tuple[str, ...]:
        """The message files (``E``/``I``) a viewer may read: its role's ``READS``; both
        for an unrestricted viewer. ``viewer`` None is an unnamed one (the default role)."""
        role = self.actor_role(viewer) if viewer is not None else self.default
        return READS[role] if role is not None else ("E", "I")

    def agent_role(self, agent: str) -> str:
        """Return the role of a configured agent.

        Raises:
            UnknownAgent: the agent is not configured; the message lists known agents.
        """
        try:
            return self.agents[agent]
        except KeyError:
            known = ", ".join(sorted(self.agents))
            raise UnknownAgent(f"unknown agent {agent!r}: configured agents are {known}") from None

    def check_write(self, kinds: set[str], *, actor: str, agent: str | None) -> None:
        """Refuse a write of ``kinds`` messages by an actor/agent whose role forbids it.

        An agent named only in the commit trailer (``--agent``) that is not configured
        has no role restriction, like an unlisted actor; the agent-layer API refuses
        unknown agents itself (``agent_role``).

        Raises:
            AccessDenied: e.g. a customer-facing actor writing internal messages
                (docs/data-model.md#roles).
        """
        who = [("actor", actor, self.actor_role(actor))]
        if agent is not None:
            who.append(("agent", agent, self.agents.get(agent)))
        for label, name, role in who:
            if role is None:
                continue
            for kind in sorted(kinds):
                if kind not in WRITES[role]:
                    raise AccessDenied(f"{label} {name!r} has role {role} and may not write {_WHAT[kind]}")


def parse_access(roles: dict[str, Any], agents: dict[str, Any]) -> AccessConfig:
    """Validate the ``roles`` section and the ``agents`` section (already on their defaults).

    Args:
        roles: ``{"actors": {actor id: role}, "default": role or None}``.
        agents: ``{agent id: {"role": role}}``.

    Raises:
        ValidationError: a role outside ``ROLES`` or a malformed section.
    """
    actors = roles.get("actors") or {}
    if not isinstance(actors, dict):
        raise ValidationError("configuration roles.actors must be an object of actor id → role")
    default = roles.get("default")
    if default is not None:
        check_role(default, "configuration roles.default")
    parsed_agents = {}
    for agent, spec in agents.items():
        role = spec.get("role") if isinstance(spec, dict) else None
        parsed_agents[agent] = check_role(role, f"configuration agents.{agent}")
    return AccessConfig(
        {a: check_role(r, f"configuration roles.actors.{a}") for a, r in actors.items()},
        default,
        parsed_agents,
    )


@dataclass(frozen=True)
class Workflow:
    """A validated ``workflow`` configuration.

    Attributes:
        stages: stage names, in display order.
        initial: the stage new tickets and tickets in an unconfigured stage go to.
        transitions: stage → stages it may move to.
        routing_loop_threshold: same agent set routed this many times in a row without
            a new customer message counts as a routing loop (``agents.turns``).
    """

    stages: tuple[str, ...]
    initial: str
    transitions: dict[str, tuple[str, ...]]
    routing_loop_threshold: int

    def allowed(self, current: str) -> tuple[str, ...]:
        """Return the stages ``current`` may move to."""
        if current not in self.stages:
            return (self.initial,)
        return self.transitions.get(current, ())

    def check_stage(self, stage: str) -> None:
        """Raise InvalidTransition if ``stage`` is not a configured stage."""
        if stage not in self.stages:
            raise InvalidTransition(f"unknown stage {stage!r}: configured stages are {', '.join(self.stages)}")

    def check_transition(self, current: str, new: str) -> None:
        """Raise InvalidTransition unless ``current → new`` is an edge of the graph.

        The message lists the allowed next stages.
        """
        self.check_stage(new)
        allowed = self.allowed(current)
        if new not in allowed:
            shown = ", ".join(allowed) or "none (final stage)"
            raise InvalidTransition(f"transition {current} → {new} is not allowed; from {current}: {shown}")


def parse_workflow(raw: dict[str, Any]) -> Workflow:
    """Validate a ``workflow`` section.

    Raises:
        ValidationError: unknown stage names in transitions, a bad stage name, an
            initial stage that is not a stage, or a threshold below 2.
    """
    stages = raw.get("stages")
    if not isinstance(stages, list) or not stages or len(set(stages)) != len(stages):
        raise ValidationError("workflow.stages must be a non-empty list of distinct stage names")
    for stage in stages:
        if not isinstance(stage, str) or not _STAGE_RE.match(stage):
            raise ValidationError(f"workflow.stages: {stage!r} is not a stage name (a-z, 0-9, '_', '-')")
    initial = raw.get("initial", stages[0])
    if initial not in stages:
        raise ValidationError(f"workflow.initial {initial!r} is not one of the stages")
    assert isinstance(initial, str)  # equal to one of the stages, each checked to be a str
    transitions_raw = raw.get("transitions") or {}
    if not isinstance(transitions_raw, dict):
        raise ValidationError("workflow.transitions must be an object of stage → [stages]")
    transitions: dict[str, tuple[str, ...]] = {}
    for source, targets in transitions_raw.items():
        if source not in stages or not isinstance(targets, list) or any(t not in stages for t in targets):
            raise ValidationError(f"workflow.transitions.{source}: every stage must be one of {', '.join(stages)}")
        transitions[source] = tuple(targets)
    threshold = raw.get("routing_loop_threshold", 3)
    if not isinstance(threshold, int) or isinstance(threshold, bool) or threshold < 2:
        raise ValidationError("workflow.routing_loop_threshold must be an integer ≥ 2")
    return Workflow(tuple(stages), initial, transitions, threshold)


def message_kinds(update_data: Any) -> set[str]:
    """Return the file kinds (``E``/``I``) whose messages or progress updates an update writes."""
    kinds = set()
    if isinstance(update_data, dict):
        for kind in ("E", "I"):
            changes = update_data.get(kind)
            if isinstance(changes, dict) and (changes.get("messages") or changes.get("progress_updates")):
                kinds.add(kind)
    return kinds


@dataclass(frozen=True)
class Policy:
    """Roles and workflow of a store at one revision: the rules every write obeys.

    Attributes:
        access: who has which role (``AccessConfig``).
        workflow: the stage graph (``Workflow``).
    """

    access: AccessConfig
    workflow: Workflow

    def check_update(self, update_data: Any, *, actor: str, agent: str | None) -> None:
        """Apply the store's rules to an ``update_data`` before it is written.

        1. roles: ``AccessConfig.check_write`` for the messages the update appends;
        2. ``T.workflow_stage``, if set, must be a configured stage;
        3. ``T.agent_decisions[].agent`` must be configured agents.

        Raises:
            AccessDenied, InvalidTransition.
            UnknownAgent: a decision names an agent that is not configured.
        """
        self.access.check_write(message_kinds(update_data), actor=actor, agent=agent)
        t_changes = update_data.get("T") if isinstance(update_data, dict) else None
        if not isinstance(t_changes, dict):
            return
        if isinstance(t_changes.get("workflow_stage"), str):
            self.workflow.check_stage(t_changes["workflow_stage"])
        for item in t_changes.get("agent_decisions") or []:
            if isinstance(item, dict) and isinstance(item.get("agent"), str):
                self.access.agent_role(item["agent"])

    def check_config(self, section: str, *, actor: str) -> None:
        """Refuse a change of an access section (``ACCESS_SECTIONS``) by an actor whose
        role is not ``admin``: who reads what is the admins' to decide, so no actor can
        give itself a wider role (docs/data-model.md#roles). Unrestricted actors (not
        listed, no default role) may, so a store without roles can be set up.

        Raises:
            AccessDenied: the actor's role is ``customer_facing`` or ``internal``.
        """
        role = self.access.actor_role(actor)
        if section in ACCESS_SECTIONS and role not in (None, "admin"):
            raise AccessDenied(
                f"actor {actor!r} has role {role} and may not change configuration section {section!r} (admins only)"
            )

    def check_replace(self, changed_kinds: set[str], *, actor: str, agent: str | None) -> None:
        """Refuse a whole-file write (hand edit, rollback) of message files the role may not write.

        Raises:
            AccessDenied: the actor's (or agent's) role may not write one of
                ``changed_kinds`` ∩ {E, I}.
        """
        self.access.check_write(changed_kinds & {"E", "I"}, actor=actor, agent=agent)


def parse_policy(config: dict[str, Any]) -> Policy:
    """Build the ``Policy`` of a whole committed configuration object.

    Args:
        config: the parsed ``.gitstore/config.json`` (``{}`` when there is none).

    Raises:
        ValidationError: an invalid ``roles``, ``agents`` or ``workflow`` section.
    """
    sections = {}
    for name in ("roles", "agents", "workflow"):
        value = config.get(name, {})
        if not isinstance(value, dict):
            raise ValidationError(f"configuration section {name!r} must be a JSON object")
        sections[name] = value
    roles = {"actors": {}, "default": None, **sections["roles"]}
    agents = {**DEFAULT_AGENTS, **sections["agents"]}
    workflow = parse_workflow(sections["workflow"] or DEFAULT_WORKFLOW)
    return Policy(parse_access(roles, agents), workflow)
