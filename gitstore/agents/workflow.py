"""The workflow for the agent layer: the store's stage graph at a revision, configuring
it, and moving tickets along it.

The graph and its rules are the core's (``gitstore.tickets.policy``: ``Workflow``,
``DEFAULT_WORKFLOW``, ``TENEX_WORKFLOW``; enforced on every write by the store); stage
changes are ``Store.set_stage`` (docs/data-model.md#workflow-stages). This module keeps
the agent API's names for them.
"""

from __future__ import annotations

from typing import Any

from gitstore.store import StageInfo, Store
from gitstore.tickets.policy import DEFAULT_WORKFLOW, PRESETS, TENEX_WORKFLOW, Workflow, parse_workflow
from gitstore.writer import CommitResult

__all__ = [
    "DEFAULT_WORKFLOW",
    "TENEX_WORKFLOW",
    "PRESETS",
    "Workflow",
    "parse_workflow",
    "load_workflow",
    "configure_workflow",
    "set_stage",
    "stage_info",
]


def load_workflow(store: Store, at: str | None = None) -> Workflow:
    """Return the store's workflow at HEAD (or ``at``); ``DEFAULT_WORKFLOW`` if unset.

    Raises:
        ValidationError: the committed section is invalid.
    """
    return store.workflow(at)


def configure_workflow(store: Store, value: dict[str, Any] | str, *, actor: str) -> str:
    """Commit a workflow configuration (a preset name or a section object); returns the commit.

    Raises:
        ValidationError: unknown preset or invalid section; nothing is written.
    """
    return store.configure_workflow(value, actor=actor)


def set_stage(store: Store, t_no: str, stage: str, **options: Any) -> CommitResult:
    """Move a ticket to ``stage`` as one commit (``Store.set_stage``; same options).

    Raises:
        InvalidTransition, ValidationError, TicketNotFound, ConflictError, UnknownAgent.
    """
    return store.set_stage(t_no, stage, **options)


def stage_info(store: Store, t_no: str, at: str | None = None) -> StageInfo:
    """Return a ticket's stage, where it may go next, and its transition records.

    Raises:
        TicketNotFound, RevisionNotFound, ValidationError (invalid configuration).
    """
    return store.stage_info(t_no, at)
