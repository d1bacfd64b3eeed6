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
    """Ticket data that breaks a schema or a cross-file rule (docs/data-model.md#cross-file-rules).

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


class AccessDenied(GitStoreError, PermissionError):
    """An actor or agent whose role may not write that file (docs/data-model.md#roles)."""


class UnknownAgent(GitStoreError, KeyError):
    """An agent id that the store's ``agents`` configuration does not know."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "unknown agent"


class InvalidTransition(GitStoreError, ValueError):
    """A workflow stage change outside the configured graph, or to an unknown stage."""


class TurnNotFound(GitStoreError, KeyError):
    """An orchestrator turn id that the ticket does not have."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "turn not found"


class TurnStateError(GitStoreError, ValueError):
    """A turn operation that its state forbids (completing twice, a second open turn)."""


class DecisionNotFound(GitStoreError, KeyError):
    """An agent decision id that the ticket does not have."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "decision not found"


class BudgetTooSmall(GitStoreError, ValueError):
    """A token budget that cannot hold the context's fixed part (header, trigger)."""


class RemoteError(GitStoreError, ConnectionError):
    """A remote that is not configured, cannot be reached, refuses authentication, or is
    not a gitstore store (sync: ``pull``, ``push``, ``clone``)."""


class PushRejected(GitStoreError, RuntimeError):
    """The server refused to update a ref (non-fast-forward, a hook refusal).

    Attributes:
        ref: the refused ref, e.g. ``refs/heads/main``.
        reason: the server's answer (and the hook's output, if any).
        retryable: True when the remote moved meanwhile (pull, then push again).
    """

    def __init__(self, ref: str, reason: str, retryable: bool = False):
        super().__init__(f"push of {ref} rejected: {reason}")
        self.ref = ref
        self.reason = reason
        self.retryable = retryable


class MergeConflictError(GitStoreError, RuntimeError):
    """A merge the semantic rules cannot settle (both sides invalid, inconsistent result).

    Nothing is written. Attributes:
        problems: one line per problem, each naming the file.
    """

    def __init__(self, message: str, problems: list[str] | None = None):
        super().__init__(message)
        self.problems = problems or [message]


class UncommittedChangesError(GitStoreError, RuntimeError):
    """The working tree holds uncommitted edits that an operation would overwrite.

    Attributes:
        paths: the edited paths (left as they are).
    """

    def __init__(self, message: str, paths: list[str] | None = None):
        super().__init__(message)
        self.paths = paths or []


class HookExistsError(GitStoreError, FileExistsError):
    """A git hook that gitstore did not write is in the way (use ``--force``)."""


class SigningKeyError(GitStoreError, ValueError):
    """A configured signing key that cannot sign: missing file, not an OpenSSH Ed25519
    private key, or protected by a passphrase (docs/signing.md)."""


class SignatureFormatError(GitStoreError, ValueError):
    """Text that is not a well-formed SSH signature or public key (``PROTOCOL.sshsig``)."""


class SignerError(GitStoreError, ValueError):
    """A change of the allowed-signers registry that cannot be made: a bad key or actor
    id, a key already registered, no such signer (docs/signing.md)."""


class UnverifiedCommits(GitStoreError, RuntimeError):
    """Commits whose signatures do not verify, refused in signed mode (``pull``).

    Attributes:
        failures: the ``history.signatures.SignatureCheck`` of each refused commit.
    """

    def __init__(self, message: str, failures: list | None = None):
        super().__init__(message)
        self.failures = failures or []


class InvalidQuery(GitStoreError, ValueError):
    """A search query or filter that cannot be parsed (bad syntax, unknown field, bad date)."""


class ArchivedTicket(GitStoreError, PermissionError):
    """A write to an archived ticket, which is read-only until unarchived (docs/data-model.md#archived-tickets)."""


class InvalidOption(GitStoreError, ValueError):
    """A command option with a bad value (a limit below 1, a date that does not parse)."""


class HistoryUnavailable(GitStoreError, OSError):
    """The per-ticket history log (``.git/gitstore/history.sqlite``) cannot be opened."""


class OperationInProgress(GitStoreError, RuntimeError):
    """A git merge, rebase, cherry-pick, revert, am or bisect is unfinished in the
    repository, or its index holds conflict entries: writes are refused until it is
    finished or aborted (``gitstore.objects.repostate``).

    Attributes:
        state: ``merge``, ``rebase``, ``cherry-pick``, ``revert``, ``am``, ``bisect`` or
            ``conflicts``.
    """

    def __init__(self, message: str, state: str):
        super().__init__(message)
        self.state = state


class ConfigKeyNotFound(GitStoreError, KeyError):
    """A configuration key (``section.key``) that ``.gitstore/config.json`` does not hold."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "configuration key not found"


class CiphertextError(ValidationError):
    """A sealed field (``age:v1:`` + base64 of an age file) that is malformed: not one
    line of base64, or no age header inside (docs/encryption.md#ciphertext-format)."""


class RecipientError(ValidationError):
    """An encryption recipient that cannot be used: not an ``age1…`` X25519 or
    ``ssh-ed25519 AAAA…`` public key, a duplicate name, a malformed ``crypt``
    configuration section (docs/encryption.md#recipients)."""


class KeyFileError(GitStoreError, ValueError):
    """A site's identity file (``GITSTORE_IDENTITY``, ``gitstore.identityFile``,
    ``~/.config/gitstore/identity``) that cannot be read or holds no usable key
    (docs/encryption.md#identities)."""


class DecryptionError(GitStoreError, ValueError):
    """Sealed content that no identity of this site decrypts, where every item is
    needed (``crypt rotate``, ``crypt.open_all``; docs/encryption.md)."""
