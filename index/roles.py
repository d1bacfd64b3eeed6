"""Who may see what in search results: the store's viewer applied to documents.

A search runs for one **viewer** (``gitstore.viewer.Viewer``: the actor the store was
opened for, its registered role, else the store's ``roles.default``;
docs/data-model.md#roles). The viewer sees the messages of the files it may read
(``Viewer.reads``) and every ticket's workflow state. The kinds of documents it may
not read are masked inside the search itself, so they appear in no hit, snippet,
count or facet, and they weigh nothing in the scores (``viewstats``):

- ``customer_facing``: external messages and workflow state, never internal messages;
- ``internal``, ``admin`` and an unrestricted viewer: everything.

``role`` (``gitstore search --role``) narrows the viewer, never widens it
(``Viewer.narrowed``: ``AccessDenied``). The committed configuration key
``search.default_role`` of older stores is still read: when set and no ``role`` is
given it narrows the viewer to that role if that reads less, and is ignored if it
would read more — it no longer widens anything.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from gitstore.errors import InvalidQuery
from gitstore.tickets.policy import READS
from gitstore.tickets.policy import ROLES as ROLE_NAMES

if TYPE_CHECKING:
    from gitstore.store import Store
    from gitstore.viewer import Viewer

KIND_OF_FILE = {"E": "external", "I": "internal"}
"""Message file kind → the search's document kind of its messages."""

ROLES: dict[str, frozenset[str]] = {
    role: frozenset({"workflow", *(KIND_OF_FILE[f] for f in READS[role])}) for role in ROLE_NAMES
}
"""Role → document kinds it may see (derived from ``policy.READS``)."""

ALL_KINDS = frozenset({"external", "internal", "workflow"})
UNRESTRICTED = "unrestricted"
"""``SearchResults.role`` and ``IndexStatus.role`` of a viewer without a role (the
store's owner, or an actor of a store without roles): it sees every kind."""
CONFIG_SECTION = "search"
CONFIG_KEY = "default_role"


def check_role(role: str) -> str:
    """Return ``role`` if it is known.

    Raises:
        InvalidQuery: unknown role (the message lists the known ones).
    """
    if role not in ROLES:
        raise InvalidQuery(f"unknown role {role!r}: use one of {', '.join(ROLES)}")
    return role


def configured_role(store: Store) -> str | None:
    """The committed ``search.default_role`` of an older store, or None when unset.

    Raises:
        InvalidQuery: the configured role is not a known one.
    """
    role = store.config(CONFIG_SECTION, {}).get(CONFIG_KEY)
    return None if role is None else check_role(str(role))


def search_viewer(store: Store, role: str | None = None, viewer: Viewer | None = None) -> Viewer:
    """The viewer a search runs for.

    Args:
        store: the store (its ``viewer`` and configuration).
        role: ``--role``: narrow the viewer to this role.
        viewer: who searches; ``store.viewer`` when None.

    Returns:
        ``viewer`` narrowed to ``role``; without ``role``, narrowed to a configured
        ``search.default_role`` that reads less than the viewer (never widened).

    Raises:
        InvalidQuery: ``role`` or the configured role is not a known one.
        AccessDenied: ``role`` reads more than the viewer may (docs/data-model.md#roles).
    """
    base = viewer if viewer is not None else store.viewer
    if role is not None:
        return base.narrowed(check_role(role))
    configured = configured_role(store)
    if configured is not None and set(READS[configured]) <= set(base.reads):
        return base.narrowed(configured)
    return base


def role_name(viewer: Viewer) -> str:
    """The viewer's effective role for output: its role, or ``UNRESTRICTED``."""
    return viewer.role or UNRESTRICTED


def hidden_kinds_of(viewer: Viewer) -> frozenset[str]:
    """The document kinds a viewer must never see (``internal`` when it may not read I)."""
    return frozenset(KIND_OF_FILE[f] for f in KIND_OF_FILE if not viewer.can_read(f))


def hidden_kinds(role: str) -> frozenset[str]:
    """Return the document kinds a role must never see."""
    return ALL_KINDS - ROLES[check_role(role)]
