"""gitstore: a versioned store for customer-service tickets, in git.

Each ticket is three JSON files (seed 000 §2.1): ``E_<T_NO>.json`` (external
conversation), ``I_<T_NO>.json`` (internal conversation) and ``T_<T_NO>.json`` (workflow
state). Every synchronized update of a ticket is one git commit.

Example:
    >>> from gitstore import Store
    >>> store = Store.init("/tmp/demo")                          # doctest: +SKIP
    >>> store.create_ticket("1001", client_name="Ana", company_name="Acme",
    ...                     actor="alice")                       # doctest: +SKIP
"""

from gitstore.errors import (
    ConflictError,
    GitStoreError,
    ImportFormatError,
    InvalidTicketNumber,
    LockTimeout,
    NotAStoreError,
    RefMovedError,
    RevisionNotFound,
    StoreExistsError,
    TicketExists,
    TicketNotFound,
    ValidationError,
)
from gitstore.store import CommitEvent, CommitResult, Store
from gitstore.tickets.files import TicketFiles

__version__ = "0.1.0"

__all__ = [
    "Store",
    "CommitResult",
    "CommitEvent",
    "TicketFiles",
    "GitStoreError",
    "ConflictError",
    "ImportFormatError",
    "InvalidTicketNumber",
    "LockTimeout",
    "NotAStoreError",
    "RefMovedError",
    "RevisionNotFound",
    "StoreExistsError",
    "TicketExists",
    "TicketNotFound",
    "ValidationError",
]
