"""Who may see what in search results: the core's role model applied to documents.

Roles and what they read are the store's (``gitstore.tickets.policy``:
``ROLES``, ``READS``; docs/data-model.md#roles): a role sees the messages of the files it
may read and every ticket's workflow state. A search runs as a role; the kinds of
documents the role may not read are masked inside the search itself, so they appear in
no hit, snippet, count or facet:

- ``customer_facing``: external messages and workflow state, never internal messages;
- ``internal`` and ``admin``: everything.

A search without a role runs as the store's default search role (committed
configuration, section ``search``, key ``default_role``), ``admin`` without one.
"""

from __future__ import annotations

from gitstore.errors import InvalidQuery
from gitstore.store import Store
from gitstore.tickets.policy import READS
from gitstore.tickets.policy import ROLES as ROLE_NAMES

KIND_OF_FILE = {"E": "external", "I": "internal"}
"""Message file kind → the search's document kind of its messages."""

ROLES: dict[str, frozenset[str]] = {
    role: frozenset({"workflow", *(KIND_OF_FILE[f] for f in READS[role])}) for role in ROLE_NAMES
}
"""Role → document kinds it may see (derived from ``policy.READS``)."""

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


def default_role(store: Store) -> str:
    """Return the store's default search role (config ``search.default_role``).

    Raises:
        InvalidQuery: the configured role is not a known one.
    """
    role = store.config(CONFIG_SECTION, {"default_role": DEFAULT_ROLE}).get("default_role", DEFAULT_ROLE)
    return check_role(str(role))


def hidden_kinds(role: str) -> frozenset[str]:
    """Return the document kinds a role must never see."""
    return ALL_KINDS - ROLES[check_role(role)]
