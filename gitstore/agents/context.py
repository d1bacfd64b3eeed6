"""An agent's context: the ticket's timeline as one agent should see it.

Rules: docs/data-model.md#agent-contexts. ``build_context`` returns messages in LLM API
format (``{"role", "content"}``), in this order:

1. a ``system`` header: ticket, stage, priority, the agent and its role;
2. the history the agent had already seen, chronological;
3. ``=== MESSAGES WHILE YOU WERE AWAY ===`` and the messages that arrived since the
   version the agent last processed (``agent_states[agent].last_processed_commit``),
   chronological; an agent with no state (late-joining) sees everything as history;
4. ``=== NEW INTERACTION ===`` and the triggering message, last: by default the newest
   message of the timeline unless the agent wrote it itself.

Roles: the agent's own messages (``sender_id`` = agent id) are ``assistant``; customer
messages ``user``; everything else (support agents, team members, other agents,
internal messages) ``system`` with attribution ``[sender_id · sender · channel]``.
Visibility follows the agent's role (``roles``): a customer-facing agent never gets
internal (I) messages; nor does a context asked for by a viewer who may not read them
(``Store.viewer``). Sealed internal messages are decrypted with the viewer's identities;
those this site cannot decrypt are left out (docs/encryption.md).

Budgets: with ``max_tokens``, the whole context (by ``tokens.Tokenizer.context_tokens``)
plus ``reserve_tokens`` for the response never exceeds ``max_tokens``; header, markers
and the trigger are always kept (``BudgetTooSmall`` if they alone do not fit); the
other messages are chosen by the strategy (``strategies``).

Reproducible: the result depends only on the commit it was built at (files, agent
state and configuration are all read there), the agent, the budget, the strategy, the
trigger and the tokenizer. ``canonical_bytes`` and ``sha256`` identify it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from gitstore.agents.roles import READS, load_access
from gitstore.agents.strategies import STRATEGIES, Candidate, select_important, select_recent, select_summarized
from gitstore.agents.timeline import Entry, load_timeline, opened
from gitstore.agents.tokens import REPLY_PRIMING, get_tokenizer
from gitstore.errors import BudgetTooSmall, TicketNotFound, ValidationError
from gitstore.store import Store
from gitstore.tickets import layout

AWAY_MARKER = "=== MESSAGES WHILE YOU WERE AWAY ==="
TRIGGER_MARKER = "=== NEW INTERACTION ==="
DEFAULT_RESERVE = 500
"""Tokens kept for the response by default, at most a quarter of the budget."""


@dataclass
class AgentContext:
    """The context built for one agent.

    Attributes:
        t_no, agent, role: the ticket, the agent and its role.
        commit: full id of the commit the context was built from (pass it as ``seen``).
        strategy, max_tokens, reserve_tokens, tokenizer: how it was built.
        trigger: message id of the triggering message, or None.
        messages: ``[{"role", "content"}, …]``.
        tokens: the context's tokens by ``tokenizer``.
        away: ids of messages that arrived while the agent was away (all, kept or not;
            the trigger too when it is new to the agent).
        omitted: ids of visible messages the budget left out (or summarized).
        summarized: ids replaced by the summary message.
        sha256: SHA-256 of ``canonical_bytes()``.
    """

    t_no: str
    agent: str
    role: str
    commit: str
    strategy: str
    max_tokens: int | None
    reserve_tokens: int
    tokenizer: str
    trigger: str | None
    messages: list[dict[str, str]]
    tokens: int
    away: list[str] = field(default_factory=list)
    omitted: list[str] = field(default_factory=list)
    summarized: list[str] = field(default_factory=list)
    sha256: str = ""

    def canonical_bytes(self) -> bytes:
        """The messages as canonical JSON (sorted keys, no spaces, UTF-8)."""
        return canonical_bytes(self.messages)

    def spec(self) -> dict[str, Any]:
        """The recorded ``context`` of a decision (``models.ContextSpec``)."""
        return {
            "strategy": self.strategy,
            "max_tokens": self.max_tokens,
            "reserve_tokens": self.reserve_tokens,
            "tokenizer": self.tokenizer,
            "trigger": self.trigger,
            "sha256": self.sha256,
        }


def canonical_bytes(messages: list[dict[str, str]]) -> bytes:
    """Serialise API-format messages canonically (the bytes ``sha256`` is taken of)."""
    return json.dumps(messages, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8")


def _role_and_content(entry: Entry, agent: str) -> tuple[str, str]:
    if entry.sender_id == agent:
        return "assistant", entry.content
    if entry.kind == "E" and entry.sender == "customer":
        return "user", entry.content
    return "system", entry.attributed


def _seen_ids(store: Store, commit_id: str | None, t_no: str) -> frozenset[str] | None:
    if not commit_id:
        return None
    try:
        commit = store.repo[commit_id]
    except (KeyError, ValueError):
        return None  # a commit not fetched here: treat the agent as late-joining
    try:
        return load_timeline(store.repo, commit.tree, t_no).ids
    except TicketNotFound:
        return frozenset()


def _fill(candidate: Candidate, agent: str) -> Candidate:
    if candidate.role is None:
        candidate.role, candidate.content = _role_and_content(candidate.entry, agent)
    return candidate


def build_context(
    store: Store,
    t_no: str,
    agent: str,
    *,
    max_tokens: int | None = None,
    strategy: str = "recent",
    at: str | None = None,
    trigger: str | None = None,
    reserve_tokens: int | None = None,
    tokenizer: str | None = None,
) -> AgentContext:
    """Build the context ``agent`` should be given for ticket ``t_no`` (see module doc).

    Args:
        store: an open ``Store``.
        t_no: the ticket.
        agent: a configured agent id (``agents`` configuration).
        max_tokens: the budget in tokens (None: no budget, everything visible).
        strategy: ``recent``, ``important`` or ``summarized`` (``strategies``).
        at: the revision to build at (HEAD when None).
        trigger: message id of the triggering message (default: the newest message
            unless the agent wrote it).
        reserve_tokens: tokens kept for the response; default
            ``min(500, max_tokens // 4)``; 0 without a budget.
        tokenizer: ``cl100k_base`` or ``estimate-utf8-bytes/4``; the best installed
            when None (``tokens.get_tokenizer``).

    Returns:
        An ``AgentContext``.

    Raises:
        UnknownAgent: the agent is not configured.
        TicketNotFound, RevisionNotFound, InvalidTicketNumber.
        ValidationError: unknown strategy, bad budget, or a trigger the agent cannot see.
        BudgetTooSmall: header, markers and trigger alone exceed the budget.
        TokenizerUnavailable: ``tokenizer`` is not installed here.
    """
    if strategy not in STRATEGIES:
        raise ValidationError(f"unknown strategy {strategy!r}: use {', '.join(STRATEGIES)}")
    if max_tokens is not None and (isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1):
        raise ValidationError(f"max_tokens must be a positive integer, not {max_tokens!r}")
    if reserve_tokens is not None and (not isinstance(reserve_tokens, int) or reserve_tokens < 0):
        raise ValidationError(f"reserve_tokens must be a non-negative integer, not {reserve_tokens!r}")
    layout.validate_t_no(t_no)
    commit = store.resolve(at)
    commit_id = str(commit.id)
    access = load_access(store, at=commit_id)
    role = access.agent_role(agent)
    t_path = layout.ticket_path("T", t_no)
    try:
        t_blob = commit.tree[t_path].id
    except KeyError:
        raise TicketNotFound(f"ticket {t_no} not found at {commit_id[:12]}") from None
    state = layout.loads("T", store.repo[t_blob].read_raw(), layout.file_name("T", t_no))
    counter = get_tokenizer(tokenizer)
    if max_tokens is None:
        reserve = 0
    else:
        reserve = min(DEFAULT_RESERVE, max_tokens // 4) if reserve_tokens is None else reserve_tokens
    viewer = store.viewer  # a person asking for an agent's context sees no more than they may read
    reads = tuple(kind for kind in READS[role] if viewer.can_read(kind))
    timeline = opened(load_timeline(store.repo, commit.tree, t_no).visible(reads), viewer.identities)

    trigger_entry = None
    if trigger is not None:
        trigger_entry = next((e for e in reversed(timeline) if e.message_id == trigger), None)
        if trigger_entry is None:
            raise ValidationError(f"message {trigger!r} is not in ticket {t_no} as agent {agent} sees it")
    elif timeline and timeline[-1].sender_id != agent:
        trigger_entry = timeline[-1]

    view = state.agent_states.get(agent)
    seen = _seen_ids(store, view.last_processed_commit if view else None, t_no)
    if seen is None:
        history = [Candidate(e, False) for e in timeline if e is not trigger_entry]
        away: list[Candidate] = []
    else:
        history, away = [], []
        for entry in timeline:
            if entry is trigger_entry:
                continue
            if entry.message_id not in seen and entry.sender_id != agent:
                away.append(Candidate(entry, True))
            else:
                history.append(Candidate(entry, False))
    candidates = history + away

    header = {
        "role": "system",
        "content": (
            f"Ticket {t_no} · stage {state.workflow_stage} · priority {state.priority} · "
            f"you are agent {agent} (role {role}). Customer messages are 'user', yours are "
            "'assistant', everyone else's are 'system' with the sender named."
        ),
    }
    away_marker = {"role": "system", "content": AWAY_MARKER}
    trigger_msgs: list[dict[str, str]] = []
    if trigger_entry is not None:
        t_role, t_content = _role_and_content(trigger_entry, agent)
        trigger_msgs = [{"role": "system", "content": TRIGGER_MARKER}, {"role": t_role, "content": t_content}]

    kept = list(range(len(candidates)))
    summary = None
    if max_tokens is not None:
        fixed = [header, *trigger_msgs] + ([away_marker] if away else [])
        fixed_cost = REPLY_PRIMING + sum(counter.message_tokens(m["role"], m["content"]) for m in fixed)
        available = max_tokens - reserve - fixed_cost
        if available < 0:
            raise BudgetTooSmall(
                f"a budget of {max_tokens} tokens (reserve {reserve}) cannot hold the header and trigger "
                f"({fixed_cost} tokens)"
            )
        candidates = _with_costs(candidates, counter, available, strategy, agent)
        if strategy == "recent":
            kept = select_recent(candidates, available)
        elif strategy == "important":
            kept = select_important(candidates, available)
        else:
            kept, summary = select_summarized(
                candidates, available, lambda text: counter.message_tokens("system", text)
            )
            if summary is None and len(kept) < len(candidates):
                raise BudgetTooSmall(
                    f"a budget of {max_tokens} tokens (reserve {reserve}) leaves no room for the summary message"
                )

    kept_set = set(kept)
    messages = [header]
    summarized: list[str] = []
    if summary is not None:
        summarized = [candidates[i].entry.message_id for i in range(len(candidates)) if i not in kept_set]
        messages.append({"role": "system", "content": summary})
    marker_done = False
    for index in kept:
        candidate = _fill(candidates[index], agent)
        assert candidate.role is not None and candidate.content is not None  # set by _fill
        if candidate.away and not marker_done:
            messages.append(away_marker)
            marker_done = True
        messages.append({"role": candidate.role, "content": candidate.content})
    messages += trigger_msgs
    omitted = [candidates[i].entry.message_id for i in range(len(candidates)) if i not in kept_set]
    result = AgentContext(
        t_no=t_no,
        agent=agent,
        role=role,
        commit=commit_id,
        strategy=strategy,
        max_tokens=max_tokens,
        reserve_tokens=reserve,
        tokenizer=counter.name,
        trigger=trigger_entry.message_id if trigger_entry is not None else None,
        messages=messages,
        tokens=counter.context_tokens(messages),
        away=[c.entry.message_id for c in away] + (
            [trigger_entry.message_id]
            if trigger_entry is not None and seen is not None and trigger_entry.message_id not in seen
            else []
        ),
        omitted=omitted,
        summarized=summarized,
    )
    result.sha256 = hashlib.sha256(result.canonical_bytes()).hexdigest()
    return result


def _with_costs(candidates: list[Candidate], counter, available: int, strategy: str, agent: str) -> list[Candidate]:
    """Fill in token costs, newest first.

    ``recent`` and ``summarized`` keep a newest run, so counting stops at the first
    candidate that overflows the budget (older ones are never looked at); ``important``
    needs every cost.
    """
    used = 0
    for index in range(len(candidates) - 1, -1, -1):
        c = _fill(candidates[index], agent)
        c.cost = counter.message_tokens(c.role, c.content)
        used += c.cost
        if strategy != "important" and used > available:
            break
    return candidates
