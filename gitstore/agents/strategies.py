"""Selecting messages under a token budget (docs/data-model.md#agent-contexts).

Each strategy gets the candidate messages in context order (chronological within the
history and the "while you were away" blocks) and the tokens available for them, and
returns the positions it keeps, in the same order; structural system messages (header,
markers, the summary) and the triggering message are always kept by the caller.

- ``recent``: newest first while they fit, stopping at the first that does not (the
  kept messages are the most recent contiguous run).
- ``important``: by ``(importance, timestamp)`` highest first, skipping what does not
  fit; the result is put back in order.
- ``summarized``: the most recent run that fits together with one summary message that
  replaces all older candidates. The summary is built deterministically from them (no
  model call) and states what it replaced: how many, the time span, the first and last
  ids, who wrote them, and excerpts of the first customer message and the last one
  (left out when only the compact form fits).
"""

from __future__ import annotations

from typing import Callable, Sequence

STRATEGIES = ("recent", "important", "summarized")
EXCERPT_CHARS = 160
MAX_PARTICIPANTS = 8


class Candidate:
    """A message that may go into a context.

    Attributes:
        entry: the timeline entry it comes from.
        away: True if it arrived while the agent was away.
        role, content: the API-format message; filled in lazily by the caller
            (``None`` until then), so only messages a strategy looks at are formatted.
        cost: its tokens (``Tokenizer.message_tokens``); filled in by the caller.
    """

    __slots__ = ("entry", "away", "role", "content", "cost")

    def __init__(self, entry, away: bool):
        self.entry = entry
        self.away = away
        self.role: str | None = None
        self.content: str | None = None
        self.cost = 0


def select_recent(candidates: Sequence[Candidate], available: int) -> list[int]:
    """Keep the newest contiguous run of candidates whose tokens fit ``available``."""
    used = 0
    start = len(candidates)
    for index in range(len(candidates) - 1, -1, -1):
        cost = candidates[index].cost
        if used + cost > available:
            break
        used += cost
        start = index
    return list(range(start, len(candidates)))


def select_important(candidates: Sequence[Candidate], available: int) -> list[int]:
    """Keep candidates by importance then recency while they fit; return them in order."""
    order = sorted(
        range(len(candidates)),
        key=lambda i: (candidates[i].entry.importance, candidates[i].entry.when, candidates[i].entry.message_id),
        reverse=True,
    )
    used = 0
    kept = []
    for index in order:
        cost = candidates[index].cost
        if used + cost > available:
            continue
        used += cost
        kept.append(index)
    return sorted(kept)


def _excerpt(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= EXCERPT_CHARS else flat[: EXCERPT_CHARS - 1] + "…"


class _Replaced:
    """Running facts about the candidates a summary replaces (oldest first)."""

    def __init__(self):
        self.count = self.customer = self.internal = self.away = 0
        self.people: list[str] = []
        self._known: set[str] = set()
        self.first = self.last = self.first_customer = None

    def add(self, candidate: Candidate) -> None:
        entry = candidate.entry
        self.count += 1
        self.customer += entry.sender == "customer"
        self.internal += entry.kind == "I"
        self.away += bool(candidate.away)
        if entry.sender_id not in self._known:
            self._known.add(entry.sender_id)
            self.people.append(entry.sender_id)
        if self.first is None:
            self.first = entry
        if self.first_customer is None and entry.sender == "customer":
            self.first_customer = entry
        self.last = entry

    def copy(self) -> "_Replaced":
        other = _Replaced()
        other.__dict__.update(self.__dict__)
        other.people = list(self.people)
        other._known = set(self._known)
        return other

    def text(self, excerpts: bool) -> str:
        support = self.count - self.customer - self.internal
        shown = ", ".join(self.people[:MAX_PARTICIPANTS])
        if len(self.people) > MAX_PARTICIPANTS:
            shown += f" and {len(self.people) - MAX_PARTICIPANTS} more"
        parts = [
            f"[SUMMARY replacing {self.count} earlier messages to fit the token budget: "
            f"{self.first.timestamp} to {self.last.timestamp}, ids {self.first.message_id} … {self.last.message_id}; "
            f"{self.customer} from the customer, {support} from support agents, {self.internal} internal"
            + (f", {self.away} of them while you were away" if self.away else "")
            + f"; participants: {shown}."
        ]
        if excerpts and self.first_customer is not None:
            parts.append(f' First customer message ({self.first_customer.sender_id}): "{_excerpt(self.first_customer.content)}".')
        if excerpts and self.last is not self.first_customer:
            parts.append(f' Last replaced message ({self.last.sender_id}): "{_excerpt(self.last.content)}".')
        return "".join(parts) + "]"



def select_summarized(
    candidates: Sequence[Candidate], available: int, summary_cost: Callable[[str], int]
) -> tuple[list[int], str | None]:
    """Keep the newest run that fits with a summary of the rest.

    Args:
        candidates: in context order.
        available: tokens for candidates plus the summary message.
        summary_cost: tokens of a summary message with the given content.

    Returns:
        ``(kept positions, summary content or None)``; None when everything fits or the
        summary itself does not fit (then nothing older than the kept run is shown).
    """
    kept = select_recent(candidates, available)
    if len(kept) == len(candidates):
        return kept, None
    first = kept[0] if kept else len(candidates)
    first_used = sum(candidates[i].cost for i in kept)
    base = _Replaced()
    for candidate in candidates[:first]:
        base.add(candidate)
    # 1. the full summary (with excerpts), giving up at most half of the recent run
    start, used, facts = first, first_used, base.copy()
    while start < len(candidates) and len(candidates) - start >= max(1, len(kept) // 2):
        text = facts.text(True)
        if used + summary_cost(text) <= available:
            return list(range(start, len(candidates))), text
        used -= candidates[start].cost
        facts.add(candidates[start])
        start += 1
    # 2. the compact summary, keeping as many recent messages as fit
    start, used, facts = first, first_used, base
    while True:
        text = facts.text(False)
        if used + summary_cost(text) <= available:
            return list(range(start, len(candidates))), text
        if start == len(candidates):
            return [], None
        used -= candidates[start].cost
        facts.add(candidates[start])
        start += 1
