"""The audit log over the whole store (``gitstore log``), built from commit trailers.

Every commit gitstore writes carries ``Ticket:``, ``Files:``, ``Actor:`` and, for
automated agents, ``Agent:`` trailers (docs/architecture.md, the path of one update, step 4). The log
reads them from the per-ticket log's ``commits`` table (``history``), which is caught
up with the branch before each call, so a filter by ticket, actor, agent or time is an
indexed query and entries stream out newest first in constant memory (rows are fetched
500 at a time), even on 100,000 commits.

Times: ``since``/``until`` compare with the author date (the update's time; imports keep
the source's original time there), inclusive at both ends.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING, Iterator

from gitstore.errors import InvalidOption
from gitstore.history.log import iter_commits
from gitstore.objects.revisions import parse_date
from gitstore.tickets.layout import validate_t_no
from gitstore.timeutil import from_epoch

if TYPE_CHECKING:
    from gitstore.store import Store
    from gitstore.viewer import Viewer


@dataclass(frozen=True)
class LogEntry:
    """One commit of the audit log.

    Attributes:
        commit: the commit id (40 hex digits).
        time: the update's time (author date, aware UTC).
        committed: when the commit was written (committer date, aware UTC).
        actor: ``Actor:`` trailer (else the author name).
        agent: ``Agent:`` trailer or None.
        tickets: the tickets whose files the commit changed (from the tree diff).
        files: the ``Files:`` trailer's file names (what really changed).
        summary: the commit message's first line.
        trailers: every trailer of the message (``Rollback-To``, ``Reason``, …).
    """

    commit: str
    time: datetime
    committed: datetime
    actor: str
    agent: str | None
    tickets: list[str]
    files: list[str]
    summary: str
    trailers: dict[str, str] = field(default_factory=dict)


def _date(text: str | datetime | None, option: str) -> int | None:
    if text is None:
        return None
    when = text if isinstance(text, datetime) else parse_date(text)
    if when is None:
        raise InvalidOption(f"invalid {option} date {text!r}: use e.g. 2026-11-01, 2026-11-01T12:00Z or '3 days ago'")
    return int(when.timestamp())


def audit_log(
    store: Store,
    *,
    ticket: str | None = None,
    actor: str | None = None,
    agent: str | None = None,
    since: str | datetime | None = None,
    until: str | datetime | None = None,
) -> Iterator[LogEntry]:
    """Stream the store's commits, newest first, filtered by trailer values and time.

    Args:
        store: an open ``Store``.
        ticket: only commits that changed this ticket's files.
        actor: only commits whose ``Actor:`` (else author name) equals this.
        agent: only commits whose ``Agent:`` trailer equals this.
        since, until: author-date bounds, inclusive: a datetime or text that
            ``dateparser`` understands (``2026-11-01``, ``3 days ago``; UTC when no zone).

    Yields:
        ``LogEntry`` values, newest first (children before parents), as the store's
        viewer may see them (``_as_seen``).

    Raises:
        InvalidOption: a date that does not parse, or ``since`` after ``until``.
        InvalidTicketNumber: malformed ``ticket``.
    """
    if ticket is not None:
        validate_t_no(ticket)
    low, high = _date(since, "--since"), _date(until, "--until")
    if low is not None and high is not None and low > high:
        raise InvalidOption(f"--since {since!r} is after --until {until!r}")
    filters = (("c.actor = ?", actor), ("c.agent = ?", agent), ("c.author_time >= ?", low), ("c.author_time <= ?", high))
    where = ["1=1"] + [clause for clause, value in filters if value is not None]
    params = [value for _clause, value in filters if value is not None]
    rows = iter_commits(store, " AND ".join(where), tuple(params), ticket=ticket)
    viewer = store.viewer
    entries = (_log_entry(row) for row in rows)
    return entries if viewer.internal else (_as_seen(entry, viewer) for entry in entries)


SHOWN_TRAILERS = ("Ticket", "Files", "Actor", "Agent")
"""Trailers a viewer who may not read I sees of a commit that changed only I files."""


def _as_seen(entry: LogEntry, viewer: Viewer) -> LogEntry:
    """``entry`` as a viewer who may not read I sees it: a commit whose ticket files
    are all I files reads ``viewer.INTERNAL_SUMMARY``, with only ``SHOWN_TRAILERS``."""
    kinds = {name[0] for name in entry.files if name[:2] in ("E_", "I_", "T_")}
    summary = viewer.summary(entry.summary, sorted(kinds))
    if summary != entry.summary:
        trailers = {k: v for k, v in entry.trailers.items() if k in SHOWN_TRAILERS}
    else:  # a merge's losing values of I fields are internal content too
        trailers = {k: v for k, v in entry.trailers.items() if not (k == "Lost-Value" and v.startswith("I_"))}
    if summary == entry.summary and trailers == entry.trailers:
        return entry
    return replace(entry, summary=summary, trailers=trailers)


def _log_entry(row: tuple) -> LogEntry:
    trailers = json.loads(row[6])
    files = [name.strip() for name in trailers.get("Files", "").split(",") if name.strip()]
    return LogEntry(
        commit=row[0],
        time=from_epoch(row[1]),
        committed=from_epoch(row[2]),
        actor=row[3],
        agent=row[4],
        tickets=json.loads(row[7]),
        files=files,
        summary=row[5],
        trailers=trailers,
    )
