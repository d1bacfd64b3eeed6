"""Who may see what in search results (issue 4, ARCHITECTURE.md "Search").

A caller searches with a role; the role decides which document kinds exist for it at
all. Excluded kinds are masked inside the search itself, so they appear in no hit,
snippet, count or facet:

- ``customer_facing``: customer-facing agents: external messages and workflow state,
  never internal messages;
- ``internal``: internal agents (support ↔ technical team): everything;
- ``admin``: everything.

The default role comes from the committed store configuration, section ``search``,
key ``default_role`` (``gitstore.config``); without one it is ``admin``.
"""

from __future__ import annotations

from gitstore.errors import InvalidQuery

ROLES: dict[str, frozenset[str]] = {
    "customer_facing": frozenset({"external", "workflow"}),
    "internal": frozenset({"external", "internal", "workflow"}),
    "admin": frozenset({"external", "internal", "workflow"}),
}
"""Role → document kinds it may see."""

ALL_KINDS = frozenset({"external", "internal", "workflow"})
DEFAULT_ROLE = "admin"
CONFIG_SECTION = "search"


def check_role(role: str) -> str:
    """Return ``role`` if it is known.

    Raises:
        InvalidQuery: unknown role (the message lists the known ones).
    """
    if role not in ROLES:
        raise InvalidQuery(f"unknown role {role!r}: use one of {', '.join(ROLES)}")
    return role


def default_role(store) -> str:
    """Return the store's default search role (config ``search.default_role``).

    Raises:
        InvalidQuery: the configured role is not a known one.
    """
    role = store.config(CONFIG_SECTION, {"default_role": DEFAULT_ROLE}).get("default_role", DEFAULT_ROLE)
    return check_role(str(role))


def hidden_kinds(role: str) -> frozenset[str]:
    """Return the document kinds a role must never see."""
    return ALL_KINDS - ROLES[check_role(role)]
