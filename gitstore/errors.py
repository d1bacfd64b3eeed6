"""The exception tree of gitstore.

Every error gitstore raises derives from :class:`GitStoreError`; each subclass also
inherits the matching built-in exception (as pygit2 does), so callers can catch either.
The CLI maps the whole tree once to a one-line ``Error: …`` and exit code 1.
"""

from __future__ import annotations


class GitStoreError(Exception):
    """Base class of every error raised by gitstore."""


class NotAStoreError(GitStoreError, FileNotFoundError):
    """The path is not a gitstore store (no git repository, or not initialised)."""


class StoreExistsError(GitStoreError, FileExistsError):
    """``init`` was asked to create a store where one already exists."""


class InvalidTicketNumber(GitStoreError, ValueError):
    """A T_NO that cannot be used as a ticket number (see ``layout.validate_t_no``)."""


class TicketNotFound(GitStoreError, KeyError):
    """The ticket does not exist at the revision asked for."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else "ticket not found"


class TicketExists(GitStoreError, FileExistsError):
    """A ticket with this T_NO already exists."""


class RevisionNotFound(GitStoreError, KeyError):
    """A revision (commit id, ref or date) that does not name a commit."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "revision not found"


class ValidationError(GitStoreError, ValueError):
    """Ticket data that breaks a schema (seed 000 §3.1) or a cross-file rule (§3.2.2).

    Attributes:
        problems: one human-readable line per problem found.
    """

    def __init__(self, message: str, problems: list[str] | None = None):
        super().__init__(message)
        self.problems = problems or [message]


class ConflictError(GitStoreError, RuntimeError):
    """Optimistic-concurrency failure: the ticket changed since the version the caller read.

    Attributes:
        t_no: the ticket.
        expected: the version (commit id) the caller passed.
        current: the ticket's current version (commit id of its last change).
    """

    def __init__(self, t_no: str, expected: str, current: str):
        super().__init__(
            f"ticket {t_no} changed since version {expected[:12]}: current version is {current}"
        )
        self.t_no = t_no
        self.expected = expected
        self.current = current


class RefMovedError(GitStoreError, RuntimeError):
    """``refs/heads/main`` moved between reading it and the compare-and-swap update."""


class LockTimeout(GitStoreError, TimeoutError):
    """The store's writer lock could not be taken in time."""


class ImportFormatError(GitStoreError, ValueError):
    """A source file for an importer is malformed; the message names file and position."""
