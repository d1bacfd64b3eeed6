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

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the type checker sees the exports; at run time they load on first use
    from gitstore.errors import (
        AccessDenied,
        ArchivedTicket,
        BudgetTooSmall,
        CiphertextError,
        ConfigKeyNotFound,
        ConflictError,
        DecisionNotFound,
        DecryptionError,
        GitStoreError,
        HistoryUnavailable,
        HookExistsError,
        ImportFormatError,
        InvalidOption,
        InvalidQuery,
        InvalidTicketNumber,
        InvalidTransition,
        KeyFileError,
        LockTimeout,
        MergeConflictError,
        NotAStoreError,
        OperationInProgress,
        PushRejected,
        RecipientError,
        RefMovedError,
        RemoteError,
        RevisionNotFound,
        SignatureFormatError,
        SignerError,
        SigningKeyError,
        StoreExistsError,
        TicketExists,
        TicketNotFound,
        TurnNotFound,
        TurnStateError,
        UncommittedChangesError,
        UnknownAgent,
        UnverifiedCommits,
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

_EXPORTS: dict[str, str] = {
    "AccessDenied": "gitstore.errors",
    "ArchivedTicket": "gitstore.errors",
    "BudgetTooSmall": "gitstore.errors",
    "ConflictError": "gitstore.errors",
    "DecisionNotFound": "gitstore.errors",
    "GitStoreError": "gitstore.errors",
    "HistoryUnavailable": "gitstore.errors",
    "HookExistsError": "gitstore.errors",
    "ImportFormatError": "gitstore.errors",
    "InvalidOption": "gitstore.errors",
    "InvalidQuery": "gitstore.errors",
    "InvalidTicketNumber": "gitstore.errors",
    "InvalidTransition": "gitstore.errors",
    "LockTimeout": "gitstore.errors",
    "MergeConflictError": "gitstore.errors",
    "NotAStoreError": "gitstore.errors",
    "OperationInProgress": "gitstore.errors",
    "PushRejected": "gitstore.errors",
    "RefMovedError": "gitstore.errors",
    "RemoteError": "gitstore.errors",
    "RevisionNotFound": "gitstore.errors",
    "StoreExistsError": "gitstore.errors",
    "TicketExists": "gitstore.errors",
    "TicketNotFound": "gitstore.errors",
    "TurnNotFound": "gitstore.errors",
    "TurnStateError": "gitstore.errors",
    "UncommittedChangesError": "gitstore.errors",
    "UnknownAgent": "gitstore.errors",
    "ValidationError": "gitstore.errors",
    "ConfigKeyNotFound": "gitstore.errors",
    "SignatureFormatError": "gitstore.errors",
    "SignerError": "gitstore.errors",
    "SigningKeyError": "gitstore.errors",
    "UnverifiedCommits": "gitstore.errors",
    "CiphertextError": "gitstore.errors",
    "DecryptionError": "gitstore.errors",
    "KeyFileError": "gitstore.errors",
    "RecipientError": "gitstore.errors",
    "HandEditReport": "gitstore.handedit",
    "commit_hand_edits": "gitstore.handedit",
    "LogEntry": "gitstore.history.audit",
    "audit_log": "gitstore.history.audit",
    "BlameLine": "gitstore.history.blame",
    "blame": "gitstore.history.blame",
    "TicketDiff": "gitstore.history.diff",
    "ticket_diff": "gitstore.history.diff",
    "HistoryEntry": "gitstore.history.log",
    "ticket_history": "gitstore.history.log",
    "rollback": "gitstore.history.rollback",
    "GcResult": "gitstore.maintenance",
    "gc": "gitstore.maintenance",
    "BRANCH": "gitstore.objects.refs",
    "StageInfo": "gitstore.store",
    "Store": "gitstore.store",
    "retry_on_conflict": "gitstore.store",
    "archive": "gitstore.tickets.archive",
    "unarchive": "gitstore.tickets.archive",
    "CompleteContext": "gitstore.tickets.complete",
    "TicketFiles": "gitstore.tickets.files",
    "AccessConfig": "gitstore.tickets.policy",
    "Policy": "gitstore.tickets.policy",
    "Workflow": "gitstore.tickets.policy",
    "Problem": "gitstore.verify",
    "RepairReport": "gitstore.verify",
    "repair_store": "gitstore.verify",
    "verify_store": "gitstore.verify",
    "CommitEvent": "gitstore.writer",
    "CommitResult": "gitstore.writer",
}
"""Exported name → the module that defines it. Loaded on first access (PEP 562): a
command that needs only the store does not pay for history, verify and maintenance
(about 50 ms of start-up)."""


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'gitstore' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))


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
    "ConfigKeyNotFound",
    "SignatureFormatError",
    "SignerError",
    "SigningKeyError",
    "UnverifiedCommits",
    "CiphertextError",
    "DecryptionError",
    "KeyFileError",
    "RecipientError",
]
