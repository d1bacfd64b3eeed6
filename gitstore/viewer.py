"""Who is reading: the viewer whose role (and keys) decide what every read shows.

A read of the store — ``ticket show``/``list``, search, agent contexts, diff, blame,
history, log, watch, the index's status, and the Python API's read methods — is made
for one **viewer**: an actor or an agent, resolved against the store's role registry
(``roles`` and ``agents`` configuration sections; docs/data-model.md#roles):

- the role of a named actor is its registered role, else the store's default role
  (``roles.default``; unset means unrestricted, so stores without roles behave as before);
- an agent adds its own role; a viewer acting for both gets what *both* may read;
- ``role`` (``--role``) may narrow what a viewer sees, never widen it (``AccessDenied``).

A viewer who may not read I (``customer_facing``) gets the ticket state and the external
conversation only: every internal message, progress update, participant and count is
left out, and the summary of a commit that changed only I reads "internal update".

A viewer also holds the age identities of this site (``gitstore.crypt``): sealed
internal items it can decrypt are shown in clear, the others are left out and counted
(``Presented.unreadable``; docs/encryption.md).

Roles are gitstore's rule for every read and write made through gitstore (CLI, Python
API, HTTP). Whoever holds the repository's files can read its blobs directly: against
them, only encryption protects internal content.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

from gitstore.errors import AccessDenied
from gitstore.tickets.files import TicketFiles
from gitstore.tickets.policy import READS, ROLES, AccessConfig, check_role

INTERNAL_SUMMARY = "internal update"
"""The summary a viewer who may not read I sees for a commit that changed only I files."""

_ORDER = {None: 3, "admin": 2, "internal": 1, "customer_facing": 0}


@dataclass(frozen=True)
class Presented:
    """A ticket as one viewer may see it.

    Attributes:
        files: the three files; I is emptied for a viewer who may not read it, and its
            sealed items are in clear (or left out when this site cannot decrypt them).
        unreadable: internal items left out because no identity of this site decrypts
            them (always 0 for a viewer who may not read I: it is told nothing of I).
    """

    files: TicketFiles
    unreadable: int = 0


@dataclass(frozen=True)
class Viewer:
    """The identity a read is made for, with what it may read.

    Attributes:
        name: the actor (or agent) id; None for the store's owner (a store opened
            without a viewer: the Python API's default, every file).
        role: the effective role (``policy.ROLES``); None: unrestricted.
        reads: the message files it may read, ``("E",)`` or ``("E", "I")``.
        agent: the agent it acts as, if any.
        identities: the age identities of this site (``gitstore.crypt.identities_for``),
            used to decrypt sealed internal items.
    """

    name: str | None
    role: str | None
    reads: tuple[str, ...]
    agent: str | None = None
    identities: tuple[Any, ...] = ()

    @property
    def internal(self) -> bool:
        """True when the viewer may read internal (I) content."""
        return "I" in self.reads

    def can_read(self, kind: str) -> bool:
        """True when the viewer may read file kind ``kind`` (``E``, ``I`` or ``T``)."""
        return kind == "T" or kind in self.reads

    def label(self) -> str:
        """A short description for output: ``bob (customer_facing)``, ``owner``."""
        who = self.name if self.name is not None else "owner"
        if self.agent is not None and self.agent != self.name:
            who = f"{who} as agent {self.agent}"
        return f"{who} ({self.role or 'unrestricted'})"

    def present(self, files: TicketFiles) -> Presented:
        """The ticket as this viewer may see it (see ``Presented``).

        Raises:
            nothing for content it may not read: that is left out, never an error.
        """
        if not self.internal:
            return Presented(redact_internal(files))
        from gitstore.crypt import open_ticket

        opened = open_ticket(files, self.identities)
        return Presented(opened.files, opened.unreadable)

    def summary(self, summary: str, kinds: Sequence[str]) -> str:
        """A commit's summary line as this viewer may see it: ``INTERNAL_SUMMARY`` for a
        commit whose ticket files changed only I, when the viewer may not read I."""
        if not self.internal and kinds and set(kinds) <= {"I"}:
            return INTERNAL_SUMMARY
        return summary

    def narrowed(self, role: str | None) -> "Viewer":
        """This viewer narrowed to ``role`` (``--role``); itself when ``role`` is None.

        Raises:
            ValidationError: ``role`` is not one of ``policy.ROLES``.
            AccessDenied: ``role`` reads more than this viewer may (a role may narrow a
                viewer, never widen it: docs/data-model.md#roles).
        """
        if role is None:
            return self
        check_role(role, "--role")
        if self.role is not None and not set(READS[role]) <= set(READS[self.role]):
            who = self.name if self.name is not None else "an unnamed reader"
            raise AccessDenied(
                f"--role {role} would widen what {who} (role {self.role}) may read: a role may only narrow a viewer"
            )
        effective = _narrower(self.role, role)
        reads = READS[effective] if effective is not None else ("E", "I")
        return Viewer(self.name, effective, reads, self.agent, self.identities if "I" in reads else ())

    def with_identities(self, identities: Sequence[Any]) -> "Viewer":
        """A copy holding ``identities``."""
        return Viewer(self.name, self.role, self.reads, self.agent, tuple(identities))


OWNER = Viewer(None, None, ("E", "I"))
"""The viewer of a store opened without one: every file (decrypted where it can)."""


def redact_internal(files: TicketFiles) -> TicketFiles:
    """``files`` with an I file that tells nothing: no messages, progress updates,
    participants or platforms (its times are the shared sync time E and T show anyway)."""
    internal = files.internal
    empty = internal.model_copy(
        update={
            "messages": [],
            "progress_updates": [],
            "participants": type(internal.participants)(),
            "platforms": [],
        }
    )
    return files.with_file("I", empty)


def resolve_viewer(
    access: AccessConfig, name: str | None, *, agent: str | None = None, role: str | None = None
) -> Viewer:
    """Resolve who reads from the store's role registry.

    Args:
        access: the ``roles``/``agents`` configuration at the revision read.
        name: the actor id (``--actor``, ``GITSTORE_ACTOR``, git's ``user.name``); None
            for an unnamed reader, who gets the store's default role.
        agent: the agent the reader acts as (``--agent``); a configured agent's role
            narrows what the viewer reads, an unconfigured one adds no rule.
        role: a role to narrow to (``--role``); None keeps the registry's.

    Returns:
        The ``Viewer`` (without identities: see ``Viewer.with_identities``).

    Raises:
        ValidationError: ``role`` is not one of ``policy.ROLES``.
        AccessDenied: ``role`` would let the viewer read more than its own role does
            (docs/data-model.md#roles: a role may narrow a viewer, never widen it).
    """
    effective = access.actor_role(name) if name is not None else access.default
    if agent is not None and agent in access.agents:
        effective = _narrower(effective, access.agents[agent])
    reads = READS[effective] if effective is not None else ("E", "I")
    return Viewer(name, effective, reads, agent).narrowed(role)


def _narrower(a: str | None, b: str | None) -> str | None:
    return a if _ORDER[a] <= _ORDER[b] else b


__all__ = ["Viewer", "Presented", "OWNER", "INTERNAL_SUMMARY", "resolve_viewer", "redact_internal", "ROLES"]
