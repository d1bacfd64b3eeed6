"""Errors of the HTTP API as RFC 9457 problem documents (docs/http.md#errors).

Every error answer of ``/api/…`` and ``/events`` is ``application/problem+json``::

    {"type": "urn:gitstore:error:TicketNotFound", "title": "Ticket not found",
     "status": 404, "detail": "ticket 9999 not found at 1a2b3c4d5e6f"}

``detail`` is the one line the CLI prints after ``Error:`` for the same exception
(``gitstore_cli.main.GitStoreGroup.invoke``: the message's first line, white space
folded). The exception tree of ``gitstore.errors`` is mapped to a status once, here
(``status_of``); anything that is not a ``GitStoreError`` is a 500 whose body says
nothing of the code (the traceback goes to the server's log, never to the client).
"""

from __future__ import annotations

import logging
import re
from typing import Any

from starlette.responses import JSONResponse

from gitstore.errors import (
    AccessDenied,
    ArchivedTicket,
    BudgetTooSmall,
    ConfigKeyNotFound,
    ConflictError,
    DecisionNotFound,
    GitStoreError,
    HistoryUnavailable,
    InvalidOption,
    InvalidQuery,
    InvalidTicketNumber,
    InvalidTransition,
    LockTimeout,
    MergeConflictError,
    OperationInProgress,
    RefMovedError,
    RevisionNotFound,
    TicketExists,
    TicketNotFound,
    TurnNotFound,
    TurnStateError,
    UncommittedChangesError,
    UnknownAgent,
    ValidationError,
)

log = logging.getLogger("gitstore.serve")

MEDIA_TYPE = "application/problem+json"
TYPE_PREFIX = "urn:gitstore:error:"
"""``type`` of a problem raised by gitstore: this prefix and the exception's class name."""

STATUS_OF: tuple[tuple[type[BaseException], int], ...] = (
    (TicketNotFound, 404),
    (RevisionNotFound, 404),
    (DecisionNotFound, 404),
    (TurnNotFound, 404),
    (ConfigKeyNotFound, 404),
    (AccessDenied, 403),
    (ConflictError, 409),  # 412 when the request carried If-Match (``problem_for``)
    (ArchivedTicket, 409),
    (TicketExists, 409),
    (TurnStateError, 409),
    (RefMovedError, 409),
    (OperationInProgress, 409),
    (MergeConflictError, 409),
    (UncommittedChangesError, 409),
    (InvalidOption, 400),
    (InvalidQuery, 400),
    (InvalidTicketNumber, 400),
    (ValidationError, 422),
    (InvalidTransition, 422),
    (UnknownAgent, 422),
    (BudgetTooSmall, 422),
    (LockTimeout, 503),
    (HistoryUnavailable, 503),
)
"""gitstore's exceptions → HTTP status, first match wins; any other ``GitStoreError`` is 500."""


class HTTPProblem(GitStoreError):
    """An error of the HTTP layer itself (no or a bad token, a body that is not JSON,
    an unknown query parameter), answered as a problem document.

    Args:
        status: the HTTP status.
        detail: one line saying what was wrong.
        title: a short summary; the class's own when None.
        headers: extra response headers (``WWW-Authenticate``…).
        extra: further members of the problem document (``errors``…).
    """

    title = "Bad request"
    kind = "about:blank"

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        title: str | None = None,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ):
        super().__init__(detail)
        self.status = status
        self.detail = detail
        if title is not None:
            self.title = title
        self.headers = headers or {}
        self.extra = extra or {}


def one_line(exc: BaseException) -> str:
    """The line the CLI prints for ``exc`` (after ``Error:``): its message's first
    line with white space folded, or the class name for an empty message."""
    return " ".join(str(exc).split("\n")[0].split()) or type(exc).__name__


TITLES = {"ConflictError": "Ticket changed since that version", "ValidationError": "Invalid ticket data"}
"""Titles that the class name alone would not say well."""


def title_of(cls: type) -> str:
    """The problem's title: ``TicketNotFound`` → ``Ticket not found`` (or ``TITLES``)."""
    if cls.__name__ in TITLES:
        return TITLES[cls.__name__]
    words = re.findall(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+", cls.__name__)
    text = " ".join(w if w.isupper() else w.lower() for w in words)
    return text[:1].upper() + text[1:]


def status_of(exc: BaseException) -> int:
    """The HTTP status of an exception (``STATUS_OF``; 500 for anything else)."""
    if isinstance(exc, HTTPProblem):
        return exc.status
    for cls, status in STATUS_OF:
        if isinstance(exc, cls):
            return status
    return 500


def problem(
    status: int,
    title: str,
    detail: str,
    *,
    kind: str = "about:blank",
    headers: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
) -> JSONResponse:
    """A problem document response (RFC 9457)."""
    body: dict[str, Any] = {"type": kind, "title": title, "status": status, "detail": detail}
    body.update(extra or {})
    return JSONResponse(body, status_code=status, headers=headers, media_type=MEDIA_TYPE)


def problem_for(exc: BaseException, *, if_match: bool = False) -> JSONResponse:
    """The problem document answering ``exc``.

    Args:
        exc: what the request raised.
        if_match: the request carried ``If-Match``: a ``ConflictError`` is then 412
            Precondition Failed, with the ticket's current version in the body
            (``current_version``) and in ``ETag``; without it, 409.

    Returns:
        The response; for an exception outside gitstore's tree, a 500 that names no
        code (the traceback is logged on ``gitstore.serve``).
    """
    if isinstance(exc, HTTPProblem):
        return problem(exc.status, exc.title, exc.detail, kind=exc.kind, headers=exc.headers, extra=exc.extra)
    if not isinstance(exc, GitStoreError):
        log.error("unexpected error answering a request", exc_info=exc)
        return problem(500, "Internal server error", "the server failed to answer; the error is in its log")
    status = status_of(exc)
    headers: dict[str, str] = {}
    extra: dict[str, Any] = {}
    if isinstance(exc, ConflictError):
        extra = {"ticket": exc.t_no, "expected_version": exc.expected, "current_version": exc.current}
        headers["ETag"] = f'"{exc.current}"'
        if if_match:
            status = 412
    if isinstance(exc, LockTimeout):
        headers["Retry-After"] = "1"
    if isinstance(exc, ValidationError) and len(exc.problems) > 1:
        extra["problems"] = list(exc.problems)
    if status == 500:
        log.error("gitstore error answered with 500: %s", one_line(exc))
    return problem(status, title_of(type(exc)), one_line(exc), kind=TYPE_PREFIX + type(exc).__name__, headers=headers,
                   extra=extra)


__all__ = ["HTTPProblem", "MEDIA_TYPE", "STATUS_OF", "TYPE_PREFIX", "one_line", "problem", "problem_for", "status_of", "title_of"]
