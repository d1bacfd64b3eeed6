"""gitstore: a versioned store for customer-service tickets, in git.

Each ticket is three JSON files (docs/data-model.md): ``E_<T_NO>.json`` (the external
conversation), ``I_<T_NO>.json`` (the internal conversation) and ``T_<T_NO>.json`` (the
workflow state). Every synchronized update of a ticket is one git commit.

The package is layered (docs/architecture.md): ``gitstore.objects`` (packs, trees,
refs, the writer lock, the working tree), ``gitstore.tickets`` (models, layout, rules,
roles and stages, updates), ``gitstore.writer`` (the write path), ``gitstore.history``
(history log, diff, blame, audit, rollback) and ``gitstore.store`` (``Store``). This
module exports what a program needs; features built on it (``gitstore.agents``,
``gitstore.importers``, search in ``gitstore_index``, sync in ``gitstore_sync``) are
imported on their own.

Example:
    >>> from gitstore import Store
    >>> store = Store.init("/tmp/demo")                          # doctest: +SKIP
    >>> store.create_ticket("1001", client_name="Ana", company_name="Acme",
    ...                     actor="alice")                       # doctest: +SKIP
"""

from gitstore.errors import (
    AccessDenied,
    ArchivedTicket,
    BudgetTooSmall,
    ConflictError,
    DecisionNotFound,
    GitStoreError,
    HistoryUnavailable,
    HookExistsError,
    ImportFormatError,
    InvalidOption,
    InvalidQuery,
    InvalidTicketNumber,
    InvalidTransition,
    LockTimeout,
    MergeConflictError,
    NotAStoreError,
    OperationInProgress,
    PushRejected,
    RefMovedError,
    RemoteError,
    RevisionNotFound,
    StoreExistsError,
    TicketExists,
    TicketNotFound,
    TurnNotFound,
    TurnStateError,
    UncommittedChangesError,
    UnknownAgent,
    ValidationError,
)
from gitstore.handedit import HandEditReport, commit_hand_edits
from gitstore.history.audit import LogEntry, audit_log
from gitstore.history.blame import BlameLine, blame
from gitstore.history.diff import TicketDiff, ticket_diff
from gitstore.history.log import HistoryEntry, ticket_history
from gitstore.history.rollback import rollback
from gitstore.maintenance import GcResult, gc
from gitstore.objects.refs import BRANCH
from gitstore.store import StageInfo, Store, retry_on_conflict
from gitstore.tickets.archive import archive, unarchive
from gitstore.tickets.complete import CompleteContext
from gitstore.tickets.files import TicketFiles
from gitstore.tickets.policy import AccessConfig, Policy, Workflow
from gitstore.verify import Problem, RepairReport, repair_store, verify_store
from gitstore.writer import CommitEvent, CommitResult

__version__ = "0.1.0"

__all__ = [
    "__version__",
    "BRANCH",
    # the store and its results
    "Store",
    "CommitResult",
    "CommitEvent",
    "CompleteContext",
    "StageInfo",
    "TicketFiles",
    "Policy",
    "AccessConfig",
    "Workflow",
    "retry_on_conflict",
    # history, audit, maintenance
    "ticket_history",
    "HistoryEntry",
    "ticket_diff",
    "TicketDiff",
    "blame",
    "BlameLine",
    "audit_log",
    "LogEntry",
    "rollback",
    "archive",
    "unarchive",
    "commit_hand_edits",
    "HandEditReport",
    "verify_store",
    "Problem",
    "repair_store",
    "RepairReport",
    "gc",
    "GcResult",
    # errors
    "GitStoreError",
    "AccessDenied",
    "ArchivedTicket",
    "BudgetTooSmall",
    "ConflictError",
    "DecisionNotFound",
    "HistoryUnavailable",
    "HookExistsError",
    "ImportFormatError",
    "InvalidOption",
    "InvalidQuery",
    "InvalidTicketNumber",
    "InvalidTransition",
    "LockTimeout",
    "MergeConflictError",
    "NotAStoreError",
    "OperationInProgress",
    "PushRejected",
    "RefMovedError",
    "RemoteError",
    "RevisionNotFound",
    "StoreExistsError",
    "TicketExists",
    "TicketNotFound",
    "TurnNotFound",
    "TurnStateError",
    "UncommittedChangesError",
    "UnknownAgent",
    "ValidationError",
]
