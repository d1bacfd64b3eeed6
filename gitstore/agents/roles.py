"""Roles of actors and the registry of agents: who may read and write which file.

Seed 000 §2.3 gives the access patterns: ``E`` is read/written by customer-facing
agents, ``I`` by internal agents, ``T`` by all. Both are store configuration committed
in the repository (``gitstore.config``):

- section ``roles``: ``{"actors": {"<actor id>": "<role>"}, "default": null}``;
- section ``agents``: ``{"<agent id>": {"role": "<role>"}}``, on top of ``DEFAULT_AGENTS``
  (seed 000 §3.1.3's ``classifier``, ``selector``, ``updates``, plus seed 001's
  ``orchestrator``; all ``internal``).

Roles (``ROLES``):

=================  ============  ==============
role               reads         writes messages
=================  ============  ==============
customer_facing    E             E
internal           E, I          I
admin              E, I          E, I
=================  ============  ==============

Everyone writes T. An actor that the ``roles`` section does not list has the role
``default`` (None: unrestricted, so stores without roles configured behave as before).
Seed 000 enumerates the agents; here they are arbitrary ids (``models.AgentId``)
validated against the ``agents`` section, which is what makes "unknown agent" an error.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gitstore.config import CONFIG_PATH, section
from gitstore.errors import AccessDenied, UnknownAgent, ValidationError

ROLES = ("customer_facing", "internal", "admin")
READS = {"customer_facing": ("E",), "internal": ("E", "I"), "admin": ("E", "I")}
WRITES = {"customer_facing": ("E",), "internal": ("I",), "admin": ("E", "I")}
DEFAULT_AGENTS: dict[str, dict[str, Any]] = {
    "classifier": {"role": "internal"},
    "selector": {"role": "internal"},
    "updates": {"role": "internal"},
    "orchestrator": {"role": "internal"},
}
_WHAT = {"E": "external (E) messages", "I": "internal (I) messages"}


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


def _check_role(role: Any, where: str) -> str:
    if role not in ROLES:
        raise ValidationError(f"{where}: role {role!r} is not one of {', '.join(ROLES)}")
    return role


def config_key(store, at: str | None = None) -> tuple[str, str | None]:
    """Return ``(commit id, config blob id or None)`` of the configuration at a revision.

    The blob id identifies the configuration's content, so parsed sections can be
    cached under it and never go stale.
    """
    commit = store.resolve(at)
    try:
        blob = str(commit.tree[CONFIG_PATH].id)
    except KeyError:
        blob = None
    return str(commit.id), blob


_ACCESS_CACHE: dict[str | None, AccessConfig] = {}


def load_access(store, at: str | None = None) -> AccessConfig:
    """Read the ``roles`` and ``agents`` sections at HEAD (or ``at``).

    Parsed configurations are cached by the configuration blob's id.

    Raises:
        ValidationError: a role outside ``ROLES`` or a malformed section.
    """
    commit_id, blob = config_key(store, at)
    cached = _ACCESS_CACHE.get(blob)
    if cached is not None:
        return cached
    access = _parse_access(store, commit_id)
    if len(_ACCESS_CACHE) > 64:
        _ACCESS_CACHE.clear()
    _ACCESS_CACHE[blob] = access
    return access


def _parse_access(store, at: str) -> AccessConfig:
    roles = section(store, "roles", {"actors": {}, "default": None}, at=at)
    actors = roles.get("actors") or {}
    if not isinstance(actors, dict):
        raise ValidationError("configuration roles.actors must be an object of actor id → role")
    default = roles.get("default")
    if default is not None:
        _check_role(default, "configuration roles.default")
    agents_raw = section(store, "agents", DEFAULT_AGENTS, at=at)
    agents = {}
    for agent, spec in agents_raw.items():
        role = spec.get("role") if isinstance(spec, dict) else None
        agents[agent] = _check_role(role, f"configuration agents.{agent}")
    return AccessConfig(
        {a: _check_role(r, f"configuration roles.actors.{a}") for a, r in actors.items()},
        default,
        agents,
    )


def message_kinds(update_data: Any) -> set[str]:
    """Return the file kinds (``E``/``I``) whose messages or progress updates an update writes."""
    kinds = set()
    if isinstance(update_data, dict):
        for kind in ("E", "I"):
            changes = update_data.get(kind)
            if isinstance(changes, dict) and (changes.get("messages") or changes.get("progress_updates")):
                kinds.add(kind)
    return kinds


def check_write(access: AccessConfig, kinds: set[str], *, actor: str, agent: str | None) -> None:
    """Refuse a write of ``kinds`` messages by an actor/agent whose role forbids it.

    An agent named only in the commit trailer (``--agent``) that is not configured
    has no role restriction, like an unlisted actor; the agent-layer API refuses
    unknown agents itself (``AccessConfig.agent_role``).

    Raises:
        AccessDenied: e.g. a customer-facing actor writing internal messages
            (seed 000 §2.3).
    """
    who = [("actor", actor, access.actor_role(actor))]
    if agent is not None:
        who.append(("agent", agent, access.agents.get(agent)))
    for label, name, role in who:
        if role is None:
            continue
        for kind in sorted(kinds):
            if kind not in WRITES[role]:
                raise AccessDenied(
                    f"{label} {name!r} has role {role} and may not write {_WHAT[kind]} (seed 000 §2.3)"
                )


def enforce_update_rules(store, update_data: Any, *, actor: str, agent: str | None) -> None:
    """The issue-7 rules every ``Store.update`` goes through, at the HEAD configuration.

    1. roles: ``check_write`` for the messages the update appends;
    2. ``T.workflow_stage``, if set, must be a configured stage (``workflow`` section);
    3. ``T.agent_decisions[].agent`` must be configured agents.
    Stores with no ``roles``/``workflow``/``agents`` configuration accept what seed 000
    enumerates, as before.

    Raises:
        AccessDenied, InvalidTransition.
        UnknownAgent: a decision names an agent that is not configured.
    """
    from gitstore.agents.workflow import load_workflow

    access = load_access(store)
    check_write(access, message_kinds(update_data), actor=actor, agent=agent)
    t_changes = update_data.get("T") if isinstance(update_data, dict) else None
    if not isinstance(t_changes, dict):
        return
    if isinstance(t_changes.get("workflow_stage"), str):
        load_workflow(store).check_stage(t_changes["workflow_stage"])
    for item in t_changes.get("agent_decisions") or []:
        if isinstance(item, dict) and isinstance(item.get("agent"), str):
            access.agent_role(item["agent"])


def set_role(store, name: str, role: str, *, actor: str, agent: bool = False) -> str:
    """Give actor (or, with ``agent=True``, agent) ``name`` a role, as one commit.

    Writes the ``roles`` section (``actors``) or the ``agents`` section of the
    committed configuration (``gitstore.config.write_section``).

    Returns:
        The commit id.

    Raises:
        ValidationError: a role outside ``ROLES`` or a malformed id.
    """
    from gitstore.config import write_section
    from gitstore.tickets.models import AgentId
    from pydantic import TypeAdapter, ValidationError as PydanticError

    _check_role(role, "role")
    try:
        TypeAdapter(AgentId).validate_python(name)
    except PydanticError:
        raise ValidationError(f"invalid id {name!r}: letters, digits, '_', '.', ':', '@', '-'") from None
    if agent:
        current = section(store, "agents", {})
        current[name] = {**(current.get(name) or {}), "role": role}
        return write_section(store, "agents", current, actor=actor, summary=f"Give agent {name} role {role}")
    current = section(store, "roles", {})
    actors = dict(current.get("actors") or {})
    actors[name] = role
    current["actors"] = actors
    return write_section(store, "roles", current, actor=actor, summary=f"Give actor {name} role {role}")
