"""The scale benchmark's corpus: N tickets, M messages, generated per ticket and resumable.

Every ticket is generated from its own RNG, ``random.Random(f"{seed}:{n}")``, so ticket
``n`` is the same whatever was generated before it: a run killed half way continues
from the first ticket the store does not hold and ends with the same files as an
uninterrupted run (message ids come from the same RNG, timestamps from ``n``). Nothing
is kept in memory: ``messages()`` yields the corpus again, ticket by ticket, for the
SQLite FTS5 baseline.

Shape (``message_count``): M/N messages per ticket on average, spread ±45 % around
the mean, and one ticket in every 1,000 (numbers 500, 1500, …) twenty times the
average; the counts add up to M exactly. Each message has 6–30 words drawn with
``bench/search.py``'s Zipf-like picker over its vocabulary (the real Twitter
customer-care words); ~30 % are internal (I), the rest external (E).

Tickets are written through gitstore's real write path, ``Store.create_ticket`` inside
``Store.bulk()`` (one commit per ticket, its messages included; the branch moves every
``CHECKPOINT`` commits; fsync off): 6,400 messages/s at 20,000 messages against 2,400
for ``Store.batch()``, which moves the branch after every commit. In chunks: the
working tree catches up and the progress file (``progress.json`` next to the store) is
rewritten after each chunk.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Callable, Iterator

from common import BASE_TIME
from search import vocabulary, zipf_picker

from gitstore import Store

INTERNAL_SHARE = 0.3
"""Share of internal (I) messages."""
WORDS = (6, 30)
"""Words per message, inclusive bounds."""
BIG_EVERY = 1000
"""One ticket in this many is large (numbers ``BIG_EVERY // 2`` modulo ``BIG_EVERY``)."""
BIG_FACTOR = 20
"""A large ticket has this many times the average number of messages."""
SPREAD = 0.45
"""Other tickets' message counts spread this fraction of their mean either side."""
CHUNK = 2000
"""Tickets per ``Store.bulk()`` block (the working tree and progress file catch up after each)."""
CHECKPOINT = 1000
"""Commits between two moves of the branch inside a bulk block (``Store.bulk``)."""


def t_no(n: int) -> str:
    """The ticket number of the n-th generated ticket (``S0000000``, ``S0000001``…)."""
    return f"S{n:07d}"


def created_at(n: int) -> datetime:
    """When ticket ``n`` is created (UTC): one minute after ticket ``n - 1``."""
    return BASE_TIME + timedelta(minutes=n)


class Shape:
    """How many messages each of ``tickets`` tickets gets; the counts add up to ``messages``.

    ``count(n)`` is computed from ``n`` alone (no replay): the cumulative count before
    ticket ``n`` is a closed form plus a jitter drawn from ``n``'s own RNG, zero at both
    ends, and each ticket gets the difference of two rounded cumulative counts.

    Args:
        tickets: N (>= 1).
        messages: M (>= 0).
        seed: the corpus seed.
    """

    def __init__(self, tickets: int, messages: int, seed: int):
        if tickets < 1 or messages < 0:
            raise ValueError(f"need at least one ticket and no negative message count, not {tickets} / {messages}")
        self.tickets, self.messages, self.seed = tickets, messages, seed
        self.big_size = BIG_FACTOR * messages // tickets
        big = self._big_before(tickets)
        while big and big * self.big_size > messages // 2:  # a tiny corpus: keep most messages in ordinary tickets
            self.big_size //= 2
        self.small_mean = (messages - big * self.big_size) / max(1, tickets - big)
        self.jitter = max(0.0, (self.small_mean - 1) * SPREAD)

    @staticmethod
    def _big_before(n: int) -> int:
        half = BIG_EVERY // 2
        return max(0, (n - half + BIG_EVERY - 1) // BIG_EVERY)

    def is_big(self, n: int) -> bool:
        """Whether ticket ``n`` is one of the large ones."""
        return n % BIG_EVERY == BIG_EVERY // 2 and self.big_size > 0

    def _cumulative(self, n: int) -> int:
        if n >= self.tickets:
            return self.messages
        big = self._big_before(n)
        jitter = random.Random(f"{self.seed}:jitter:{n}").uniform(-self.jitter, self.jitter) if n else 0.0
        return round(big * self.big_size + (n - big) * self.small_mean + jitter)

    def count(self, n: int) -> int:
        """Messages of ticket ``n`` (0 <= n < tickets)."""
        return self._cumulative(n + 1) - self._cumulative(n)


class _TicketRandom:
    """The RNG the shared Zipf picker draws from: the current ticket's (``zipf_picker``
    binds one RNG; its cumulative weights are built once, not per ticket)."""

    def __init__(self) -> None:
        self.rng = random.Random(0)

    def choices(self, *args: Any, **kwargs: Any) -> list[str]:
        return self.rng.choices(*args, **kwargs)


class Generator:
    """Ticket ``n``'s content, the same on every call (see the module docstring).

    Args:
        tickets, messages, seed: the corpus (``Shape``).
    """

    def __init__(self, tickets: int, messages: int, seed: int):
        self.shape = Shape(tickets, messages, seed)
        self.seed = seed
        self.words = vocabulary()
        self._current = _TicketRandom()
        self._pick = zipf_picker(self.words, self._current)  # type: ignore[arg-type]

    def fingerprint(self) -> str:
        """A hash of the vocabulary (it differs with and without ../shared/data)."""
        return hashlib.sha256("\n".join(self.words).encode("utf-8")).hexdigest()[:16]

    def ticket(self, n: int) -> tuple[dict[str, Any], list[tuple[str, str]]]:
        """Return ``(create_ticket keyword arguments, [(kind, text), …])`` for ticket ``n``."""
        rng = random.Random(f"{self.seed}:{n}")
        self._current.rng = rng
        when = created_at(n)
        update: dict[str, dict[str, list]] = {"E": {"messages": []}, "I": {"messages": []}}
        texts = []
        for k in range(self.shape.count(n)):
            kind = "I" if rng.random() < INTERNAL_SHARE else "E"
            text = " ".join(self._pick(rng.randint(*WORDS)))
            sender = "technical_member" if kind == "I" else rng.choice(["customer", "cs_agent"])
            update[kind]["messages"].append({
                "message_id": f"msg_{rng.getrandbits(80):020x}",
                "timestamp": (when + timedelta(seconds=k)).isoformat(),
                "sender": sender, "sender_id": f"user{rng.randint(1, 5000)}", "content": text,
            })
            texts.append((kind, text))
        create = {"client_name": f"client {n}", "company_name": f"company {n % 97}", "actor": "bench",
                  "timestamp": when, "priority": rng.choice(["HIGH", "LOW"]),
                  "update_data": {kind: part for kind, part in update.items() if part["messages"]} or None}
        return create, texts

    def messages(self) -> Iterator[tuple[str, str, str]]:
        """Yield every message as ``(t_no, kind, text)``, ticket by ticket (streamed)."""
        for n in range(self.shape.tickets):
            for kind, text in self.ticket(n)[1]:
                yield t_no(n), kind, text


def read_progress(folder: Path) -> dict[str, Any] | None:
    """The progress file of a corpus folder, or None when there is none."""
    path = folder / "progress.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None


def _write_progress(folder: Path, progress: dict[str, Any]) -> None:
    tmp = folder / "progress.json.tmp"
    tmp.write_text(json.dumps(progress, indent=1), encoding="utf-8")
    os.replace(tmp, folder / "progress.json")


def generate(folder: Path, generator: Generator, *, chunk: int = CHUNK,
             report: Callable[[int, int, float], None] | None = None) -> dict[str, Any]:
    """Generate (or finish generating) the corpus's store in ``folder/store``.

    Resumable: ``folder/progress.json`` records the corpus (tickets, messages, seed,
    vocabulary), the tickets and messages done and the seconds spent writing them (over
    every run); a rerun opens the store, skips the tickets it
    already holds (also those committed after the last progress write) and goes on.

    Args:
        folder: the corpus folder (created if missing).
        generator: the corpus.
        chunk: tickets per ``Store.bulk()`` block.
        report: called after each chunk with (tickets done, messages done, seconds
            this run has spent writing); it may raise to stop (as a kill would).

    Returns:
        The final progress record (``complete`` True, ``head`` the commit id).

    Raises:
        SystemExit: the folder holds another corpus, or a store without a progress file.
    """
    shape = generator.shape
    folder.mkdir(parents=True, exist_ok=True)
    want = {"tickets": shape.tickets, "messages": shape.messages, "seed": generator.seed,
            "vocabulary": generator.fingerprint()}
    progress = read_progress(folder)
    path = folder / "store"
    if progress is None:
        if path.exists():
            raise SystemExit(f"{path} exists without {folder / 'progress.json'}: remove it to generate again")
        Store.init(path, fsync=False).close()
        progress = {**want, "done": 0, "messages_done": 0, "seconds": 0.0, "complete": False, "head": None}
        _write_progress(folder, progress)
    elif {key: progress.get(key) for key in want} != want:
        raise SystemExit(f"{folder} holds another corpus ({ {key: progress.get(key) for key in want} }), not {want}")
    if progress["complete"]:
        return progress
    store = Store.open(path, fsync=False)
    done, messages_done = progress["done"], progress["messages_done"]
    while done < shape.tickets and store.exists(t_no(done)):  # committed after the last progress write
        messages_done += shape.count(done)
        done += 1
    spent = 0.0
    while done < shape.tickets:
        start = time.perf_counter()
        end = min(shape.tickets, done + chunk)
        with store.bulk(checkpoint_every=CHECKPOINT):
            for n in range(done, end):
                create, texts = generator.ticket(n)
                store.create_ticket(t_no(n), **create)
                messages_done += len(texts)
        done = end
        spent += time.perf_counter() - start
        progress.update(done=done, messages_done=messages_done, seconds=round(progress["seconds"] + time.perf_counter() - start, 2))
        _write_progress(folder, progress)
        if report is not None:
            report(done, messages_done, spent)
    progress.update(complete=True, head=str(store.head().id))
    store.close()
    _write_progress(folder, progress)
    return progress
