"""Per-agent view state: ``agent_states`` in the T file (docs/data-model.md#agent-views).

gitstore keeps the commit id of the ticket version the agent last processed, not the
index of the last message it saw, because after a merge between sites messages
are ordered by time and an index would point at the wrong message: "what the agent has
seen" is exactly the set of messages present at that commit. A late-joining agent has no
state (``agent_states`` has no entry for it) and sees the whole history.

An update cannot name its own commit, so recording a decision moves the view to the
version the decision's context was built from (``seen``): messages that arrived after
it stay unseen and show up as "while you were away" next time; the agent's own reply in
the same commit is never "away". A view never moves backwards in history.
"""

from __future__ import annotations

from typing import Any

import pygit2

from gitstore.agents.roles import load_access
from gitstore.agents.writes import write_checked
from gitstore.errors import RevisionNotFound, ValidationError
from gitstore.store import Store
from gitstore.tickets.files import TicketFiles


def next_states(
    store: Store,
    files: TicketFiles,
    agent: str,
    commit: str,
    *,
    session_id: str | None = None,
    metadata: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Return ``agent_states`` with ``agent``'s view moved to ``commit`` (JSON-ready).

    The view keeps its commit when that is already a descendant of ``commit`` (never
    moves backwards); ``session_id`` replaces, ``metadata`` is merged key by key.
    """
    states = {k: v.model_dump(mode="json") for k, v in files.workflow.agent_states.items()}
    state = states.get(agent, {"last_processed_commit": None, "session_id": None, "metadata": {}})
    current = state.get("last_processed_commit")
    if current is None or current == commit or not _descends(store.repo, current, commit):
        state["last_processed_commit"] = commit
    if session_id is not None:
        state["session_id"] = session_id
    if metadata:
        state["metadata"] = {**state.get("metadata", {}), **metadata}
    states[agent] = state
    return states


def _descends(repo: pygit2.Repository, newer: str, older: str) -> bool:
    try:
        return repo.descendant_of(pygit2.Oid(hex=newer), pygit2.Oid(hex=older))
    except (KeyError, ValueError, pygit2.GitError):
        return False


def mark_processed(
    store: Store,
    t_no: str,
    agent: str,
    *,
    actor: str,
    commit: str | None = None,
    session_id: str | None = None,
    metadata: dict[str, Any] | None = None,
):
    """Record that ``agent`` processed ticket ``t_no`` as of ``commit`` (HEAD when None).

    One synchronized update of T (``agent_states``), with an ``Agent:`` trailer.

    Raises:
        UnknownAgent, TicketNotFound, RevisionNotFound.
        ValidationError: ``metadata`` is not an object.
    """
    load_access(store).agent_role(agent)
    if metadata is not None and not isinstance(metadata, dict):
        raise ValidationError("agent metadata must be a JSON object")
    target = str(store.resolve(commit).id) if commit else None

    def make(files: TicketFiles, head: pygit2.Commit):
        seen = target or str(head.id)
        states = next_states(store, files, agent, seen, session_id=session_id, metadata=metadata)
        return {"T": {"agent_states": states}}, None, f"Agent {agent} processed ticket {t_no} at {seen[:12]}"

    return write_checked(store, t_no, make, actor=actor, agent=agent)


def resolve_seen(store: Store, seen: str) -> str:
    """Resolve the ``seen`` revision of a decision to a full commit id.

    Raises:
        RevisionNotFound: ``seen`` names no commit.
    """
    if not isinstance(seen, str) or not seen:
        raise RevisionNotFound("a decision needs --seen: the commit its context was built from")
    return str(store.resolve(seen).id)
