"""Turn what a user types as a revision into a commit.

Accepted, in this order: a full commit id or a unique prefix of one (4+ hex digits), a
ref or any ``git rev-parse`` expression libgit2 understands (``main``, ``HEAD~3``,
``refs/remotes/hub/main``), or a date/time. Dates are parsed by ``dateparser`` (a
well-kept library: ``2026-11-01``, ``2026-11-01T12:00Z``, ``3 days ago``); a date
without a zone is UTC. A date resolves to the newest commit on the first-parent line of
HEAD whose author time is at or before it (imports keep the source's times as author
dates, so this is the store "as it was at that moment"). For one ticket (``Store.read``,
``Store.context``, ``ticket show --at``) a date resolves instead to the ticket's newest
first-parent change authored at or before it (``history.HistoryIndex.commit_at``): an
import that interleaves conversations gives non-monotonic author dates, and a date
before the ticket was created is an error ("ticket … did not exist at …").
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Callable

import pygit2

from gitstore.errors import RevisionNotFound

_HEX = re.compile(r"^[0-9a-fA-F]{4,40}$")


def parse_date(text: str) -> datetime | None:
    """Parse a user's date/time into aware UTC, or None if it is not a date."""
    import dateparser  # lazy: importing dateparser costs ~0.3 s, and most commands never parse a date

    value = dateparser.parse(
        text,
        settings={
            "TIMEZONE": "UTC",
            "TO_TIMEZONE": "UTC",
            "RETURN_AS_TIMEZONE_AWARE": True,
            "PREFER_DATES_FROM": "past",
        },
    )
    return value.astimezone(timezone.utc) if value else None


def resolve_commit(
    repo: pygit2.Repository,
    rev: str,
    head: pygit2.Commit,
    date_resolver: Callable[[datetime, str], str] | None = None,
    known_prefix: Callable[[str], list[str]] | None = None,
) -> pygit2.Commit:
    """Resolve ``rev`` to a commit (see module docstring).

    Args:
        repo: the repository; head: the commit dates are resolved from.
        rev: what the user typed.
        date_resolver: when ``rev`` is a date, called as ``date_resolver(when, rev)``
            and expected to return a commit id; used for one ticket's version at a
            date (``history.HistoryIndex.commit_at``). None: ``commit_at`` on ``head``.
        known_prefix: returns the ids of the branch's commits that start with a hex
            prefix (``history.HistoryIndex.commits_with_prefix``, an indexed range
            query). libgit2 does not always report an ambiguous short prefix (it
            returned one of two loose commits sharing 4 digits), so without this every
            object of the repository is scanned for a short prefix.

    Raises:
        RevisionNotFound: nothing matches; an ambiguous prefix lists its candidates.
        TicketNotFound: from ``date_resolver`` (the ticket did not exist then).
    """
    if _HEX.match(rev):
        candidates = _prefix_candidates(repo, rev.lower(), known_prefix)
        if len(candidates) == 1:
            return repo[candidates[0]].peel(pygit2.Commit)
        if len(candidates) > 1:
            shown = ", ".join(c[:12] for c in sorted(candidates)[:10])
            raise RevisionNotFound(f"ambiguous revision {rev!r}: candidates {shown}")
    try:
        return repo.revparse_single(rev).peel(pygit2.Commit)
    except (KeyError, ValueError, pygit2.GitError, pygit2.InvalidSpecError):
        pass
    when = parse_date(rev)
    if when is None:
        raise RevisionNotFound(f"unknown revision {rev!r}: not a commit, ref or date")
    if date_resolver is not None:
        return repo[date_resolver(when, rev)].peel(pygit2.Commit)
    return commit_at(head, when, rev)


def commit_at(head: pygit2.Commit, when: datetime, label: str = "") -> pygit2.Commit:
    """Return the newest first-parent ancestor of ``head`` authored at or before ``when``.

    Raises:
        RevisionNotFound: the store has no commit that old.
    """
    stamp = when.timestamp()
    commit = head
    while True:
        if commit.author.time <= stamp:
            return commit
        if not commit.parents:
            raise RevisionNotFound(f"no commit at or before {label or when.isoformat()}")
        commit = commit.parents[0]


def _prefix_candidates(repo: pygit2.Repository, prefix: str, known: Callable[[str], list[str]] | None = None) -> list[str]:
    if len(prefix) == 40:
        return [prefix] if prefix in repo else []
    if known is None:
        return _scan_prefix(repo, prefix)
    found = set(known(prefix))
    try:
        obj = repo.revparse_single(prefix)
        if str(obj.id).startswith(prefix):
            obj.peel(pygit2.Commit)
            found.add(str(obj.id))
    except ValueError as exc:
        if "ambiguous" in str(exc).lower():
            found.update(_scan_prefix(repo, prefix))
    except (KeyError, pygit2.GitError, pygit2.InvalidSpecError):
        pass
    return sorted(found)


def _scan_prefix(repo: pygit2.Repository, prefix: str) -> list[str]:
    found = []
    for oid in repo.odb:
        text = str(oid)
        if text.startswith(prefix):
            try:
                repo[oid].peel(pygit2.Commit)
            except (ValueError, pygit2.GitError):
                continue
            found.append(text)
    return found
