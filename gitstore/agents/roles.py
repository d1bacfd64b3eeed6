"""Roles for the agent layer: the store's role rules (``gitstore.tickets.policy``) at a
revision, and giving an actor or agent a role.

The rules themselves (which role reads and writes which file, which agents exist) are
the core's, enforced on every write by the store; this module reads them for agent
views and changes the ``roles``/``agents`` configuration sections
(docs/data-model.md#roles).
"""

from __future__ import annotations

from pydantic import TypeAdapter
from pydantic import ValidationError as PydanticError

from gitstore.errors import ValidationError
from gitstore.store import Store
from gitstore.tickets.models import AgentId
from gitstore.tickets.policy import DEFAULT_AGENTS, READS, ROLES, WRITES, AccessConfig, check_role

__all__ = ["ROLES", "READS", "WRITES", "DEFAULT_AGENTS", "AccessConfig", "load_access", "set_role"]


def load_access(store: Store, at: str | None = None) -> AccessConfig:
    """Return the ``roles`` and ``agents`` configuration at HEAD (or ``at``).

    Raises:
        ValidationError: a role outside ``ROLES`` or a malformed section.
    """
    return store.policy(at).access


def set_role(store: Store, name: str, role: str, *, actor: str, agent: bool = False) -> str:
    """Give actor (or, with ``agent=True``, agent) ``name`` a role, as one commit.

    Writes the ``roles`` section (``actors``) or the ``agents`` section of the
    committed configuration (``Store.write_config_section``).

    Returns:
        The commit id.

    Raises:
        ValidationError: a role outside ``ROLES`` or a malformed id.
    """
    check_role(role, "role")
    try:
        TypeAdapter(AgentId).validate_python(name)
    except PydanticError:
        raise ValidationError(f"invalid id {name!r}: letters, digits, '_', '.', ':', '@', '-'") from None
    if agent:
        current = store.config("agents")
        current[name] = {**(current.get(name) or {}), "role": role}
        return store.write_config_section("agents", current, actor=actor, summary=f"Give agent {name} role {role}")
    current = store.config("roles")
    actors = dict(current.get("actors") or {})
    actors[name] = role
    current["actors"] = actors
    return store.write_config_section("roles", current, actor=actor, summary=f"Give actor {name} role {role}")
