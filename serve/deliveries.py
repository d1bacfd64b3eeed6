"""The webhook delivery log: ``.git/gitstore/webhooks/deliveries.sqlite``.

Per endpoint, a **cursor**: the id of the last event the endpoint acknowledged (or
did not take: another type, or nothing its actor may see). Delivery resumes after it,
so a restart — even after ``kill -9`` in the middle of a request — sends the event
that was in flight again, with the same ``webhook-id`` (at least once; a receiver
dedupes on the id). The cursor moves only in the transaction that records a 2xx
answer, so event N+1 is never sent before N is acknowledged.

Per endpoint also the retry state of the event at the head of its line (failures so
far, when to try next, the last error), and a bounded history of **attempts**: one row
per request, written before it is sent (``sending``) and completed with its outcome
(``delivered``, ``failed``; a row a killed process left ``sending`` reads
``interrupted``). The log holds delivery metadata only — ids, types, times, HTTP
statuses, one-line errors — never a payload or a response body.

SQLite in WAL mode: one writer at a time (the dispatcher holding the endpoint's lock),
readers (``webhook deliveries``) never blocked; the file is the owner's only (0600).
"""

from __future__ import annotations

import os
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gitstore.timeutil import format_utc, from_epoch

LOG = "deliveries.sqlite"
KEEP_ATTEMPTS = 1000
"""Attempts kept per endpoint (the oldest are dropped)."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS cursors (
    endpoint TEXT PRIMARY KEY,
    event TEXT,
    pending TEXT,
    failures INTEGER NOT NULL DEFAULT 0,
    next_at REAL,
    last_error TEXT,
    updated REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS attempts (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    endpoint TEXT NOT NULL,
    event TEXT NOT NULL,
    webhook_id TEXT NOT NULL,
    type TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    started REAL NOT NULL,
    finished REAL,
    status INTEGER,
    outcome TEXT NOT NULL,
    error TEXT
);
CREATE INDEX IF NOT EXISTS attempts_by_endpoint ON attempts (endpoint, seq);
"""


@dataclass(frozen=True)
class CursorState:
    """Where one endpoint's delivery stands.

    Attributes:
        endpoint: the endpoint id.
        event: the last event id acknowledged or passed over; None: none yet, delivery
            starts after the endpoint's ``start``.
        known: False when the endpoint has no row yet (``event`` then means nothing).
        pending: the event id at the head of the line after a failure, else None.
        failures: failed attempts of ``pending`` in a row.
        next_at: Unix seconds of its next attempt (None: now).
        last_error: the last failure, one line.
    """

    endpoint: str
    event: str | None
    known: bool = True
    pending: str | None = None
    failures: int = 0
    next_at: float | None = None
    last_error: str | None = None


@dataclass(frozen=True)
class Attempt:
    """One delivery request (``webhook deliveries``).

    Attributes:
        endpoint: the endpoint id.
        webhook_id: the ``webhook-id`` header (the same for every attempt of an event).
        event: the event id (a commit id).
        type: the event type.
        attempt: 1 for the first request of this event to this endpoint, then 2, 3…
        started: when the request was made (UTC ISO 8601).
        finished: when its outcome was known (None while sending or interrupted).
        status: the HTTP status answered (None: no answer).
        outcome: ``delivered``, ``failed``, ``sending`` or ``interrupted``.
        error: why it failed (``HTTP 500``, ``ConnectError: …``), one line.
    """

    endpoint: str
    webhook_id: str
    event: str
    type: str
    attempt: int
    started: str
    finished: str | None
    status: int | None
    outcome: str
    error: str | None


class DeliveryLog:
    """The delivery log of one store.

    Args:
        folder: ``.git/gitstore/webhooks`` (created by the registry, mode 0700).
        timeout: seconds to wait for SQLite's write lock.
    """

    def __init__(self, folder: Path, *, timeout: float = 30.0):
        self.path = Path(folder) / LOG
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        if not self.path.exists():
            os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT, 0o600))
        self.db = sqlite3.connect(str(self.path), timeout=timeout, isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.executescript(_SCHEMA)

    def close(self) -> None:
        """Close the database."""
        self.db.close()

    # ------------------------------------------------------------------ cursors
    def state(self, endpoint: str) -> CursorState:
        """The cursor and retry state of ``endpoint`` (``known`` False when it has none)."""
        row = self.db.execute(
            "SELECT event, pending, failures, next_at, last_error FROM cursors WHERE endpoint = ?", (endpoint,)
        ).fetchone()
        if row is None:
            return CursorState(endpoint, None, known=False)
        return CursorState(endpoint, row[0], True, row[1], row[2], row[3], row[4])

    def advance(self, endpoint: str, event: str | None) -> None:
        """Move the cursor of ``endpoint`` to ``event`` (events it does not take)."""
        with self._txn():
            self._set_cursor(endpoint, event)

    def begin(self, endpoint: str, event: str, webhook_id: str, event_type: str) -> int:
        """Record a request about to be sent; returns its attempt row.

        Rows of this endpoint still ``sending`` (a process killed mid-request) become
        ``interrupted``.
        """
        now = time.time()
        with self._txn():
            self.db.execute(
                "UPDATE attempts SET outcome = 'interrupted' WHERE endpoint = ? AND outcome = 'sending'", (endpoint,)
            )
            number = self.db.execute(
                "SELECT COUNT(*) FROM attempts WHERE endpoint = ? AND event = ?", (endpoint, event)
            ).fetchone()[0] + 1
            cur = self.db.execute(
                "INSERT INTO attempts (endpoint, event, webhook_id, type, attempt, started, outcome) "
                "VALUES (?, ?, ?, ?, ?, ?, 'sending')",
                (endpoint, event, webhook_id, event_type, number, now),
            )
        return int(cur.lastrowid or 0)

    def delivered(self, endpoint: str, event: str, row: int, status: int) -> None:
        """The request of ``row`` was acknowledged (2xx): the cursor moves to ``event``."""
        with self._txn():
            self.db.execute(
                "UPDATE attempts SET outcome = 'delivered', finished = ?, status = ? WHERE seq = ?", (time.time(), status, row)
            )
            self._set_cursor(endpoint, event)
            self.db.execute(
                "DELETE FROM attempts WHERE endpoint = ? AND seq <= "
                "(SELECT seq FROM attempts WHERE endpoint = ? ORDER BY seq DESC LIMIT 1 OFFSET ?)",
                (endpoint, endpoint, KEEP_ATTEMPTS),
            )

    def failed(self, endpoint: str, event: str, row: int, status: int | None, error: str, next_at: float, failures: int) -> None:
        """The request of ``row`` failed: the cursor stays; ``event`` is the head of the
        line with ``failures`` failures in a row, tried again at ``next_at`` (Unix seconds)."""
        with self._txn():
            self.db.execute(
                "UPDATE attempts SET outcome = 'failed', finished = ?, status = ?, error = ? WHERE seq = ?",
                (time.time(), status, error, row),
            )
            self.db.execute(
                "UPDATE cursors SET pending = ?, failures = ?, next_at = ?, last_error = ?, updated = ? WHERE endpoint = ?",
                (event, failures, next_at, error, time.time(), endpoint),
            )

    def ensure(self, endpoint: str, start: str | None) -> CursorState:
        """The state of ``endpoint``, its row made at ``start`` when it has none."""
        state = self.state(endpoint)
        if state.known:
            return state
        with self._txn():
            self.db.execute(
                "INSERT OR IGNORE INTO cursors (endpoint, event, updated) VALUES (?, ?, ?)", (endpoint, start, time.time())
            )
        return self.state(endpoint)

    def forget(self, endpoint: str) -> None:
        """Drop the cursor and attempts of a removed endpoint."""
        with self._txn():
            self.db.execute("DELETE FROM cursors WHERE endpoint = ?", (endpoint,))
            self.db.execute("DELETE FROM attempts WHERE endpoint = ?", (endpoint,))

    def endpoints(self) -> list[str]:
        """Every endpoint id the log holds a cursor for."""
        return [row[0] for row in self.db.execute("SELECT endpoint FROM cursors")]

    # ------------------------------------------------------------------ attempts
    def attempts(self, endpoint: str | None = None, limit: int | None = 50) -> list[Attempt]:
        """The newest attempts first (of one endpoint, or of all), at most ``limit``."""
        sql = "SELECT endpoint, webhook_id, event, type, attempt, started, finished, status, outcome, error FROM attempts"
        args: list[Any] = []
        if endpoint is not None:
            sql += " WHERE endpoint = ?"
            args.append(endpoint)
        sql += " ORDER BY seq DESC"
        if limit is not None:
            sql += " LIMIT ?"
            args.append(limit)
        busy = self._busy_endpoints()
        found = []
        for row in self.db.execute(sql, args):
            outcome = row[8]
            if outcome == "sending" and row[0] not in busy:
                outcome = "interrupted"
            found.append(Attempt(
                endpoint=row[0], webhook_id=row[1], event=row[2], type=row[3], attempt=row[4],
                started=format_utc(from_epoch(row[5])), finished=format_utc(from_epoch(row[6])) if row[6] is not None else None,
                status=row[7], outcome=outcome, error=row[9],
            ))
        return found

    def _busy_endpoints(self) -> set[str]:
        """Endpoints a live dispatcher is delivering to (its lock file is held)."""
        return {e for e in self.endpoints() if is_locked(self.path.parent, e)}

    # ------------------------------------------------------------------ helpers
    def _set_cursor(self, endpoint: str, event: str | None) -> None:
        self.db.execute(
            "INSERT INTO cursors (endpoint, event, updated) VALUES (?, ?, ?) ON CONFLICT(endpoint) DO UPDATE SET "
            "event = excluded.event, pending = NULL, failures = 0, next_at = NULL, last_error = NULL, updated = excluded.updated",
            (endpoint, event, time.time()),
        )

    def _txn(self) -> "_Transaction":
        return _Transaction(self.db)


def endpoint_lock(folder: Path, endpoint: str) -> Any:
    """The lock a dispatcher holds while it delivers to ``endpoint`` (a ``filelock``
    lock on ``<folder>/<endpoint>.lock``; the kernel drops it when its process dies)."""
    from filelock import FileLock

    return FileLock(str(Path(folder) / f"{endpoint}.lock"), timeout=0, mode=0o600)


def is_locked(folder: Path, endpoint: str) -> bool:
    """True while some dispatcher (of any process) delivers to ``endpoint``."""
    from filelock import Timeout

    if not (Path(folder) / f"{endpoint}.lock").exists():
        return False
    lock = endpoint_lock(folder, endpoint)
    try:
        lock.acquire(timeout=0)
    except Timeout:
        return True
    lock.release()
    return False


class _Transaction:
    """``BEGIN IMMEDIATE`` … ``COMMIT`` (``ROLLBACK`` on an exception); nests as one."""

    def __init__(self, db: sqlite3.Connection):
        self.db = db
        self.outer = False

    def __enter__(self) -> None:
        if not self.db.in_transaction:
            self.db.execute("BEGIN IMMEDIATE")
            self.outer = True

    def __exit__(self, exc_type: object, *rest: object) -> None:
        if not self.outer:
            return
        self.db.execute("ROLLBACK" if exc_type is not None else "COMMIT")
