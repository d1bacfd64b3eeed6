"""Who a request acts as: its API token → the token's actor (docs/http.md#authentication).

A request carries a token (``gitstore token create``) in ``Authorization: Bearer <token>``
or, for the web view, in the cookie ``gitstore_token``; the header wins when both are
there. No token, a token no record has, or a revoked one is ``Unauthenticated`` (401
with ``WWW-Authenticate: Bearer``). What the actor may then read and write is its role's
business (``gitstore.viewer``, the write path): a refusal there is ``AccessDenied``, 403.

Usage (``serve.web`` and the API alike)::

    from gitstore_serve.auth import actor_for_request
    actor = actor_for_request(request)   # raises Unauthenticated

The app keeps its ``TokenRegistry`` in ``request.app.state.tokens`` (``serve.app``).
"""

from __future__ import annotations

from typing import Any

from gitstore_serve.problems import HTTPProblem
from gitstore_serve.tokens import TokenRegistry

COOKIE = "gitstore_token"
"""The cookie the web view keeps a token in."""
REALM = "gitstore"


class Unauthenticated(HTTPProblem, PermissionError):
    """A request without a valid token: answered 401 with ``WWW-Authenticate: Bearer``.

    Args:
        detail: what was wrong (no token, unknown token, revoked token).
        presented: a token was presented (the challenge then says ``invalid_token``,
            RFC 6750 §3.1).
    """

    title = "Unauthorized"

    def __init__(self, detail: str, *, presented: bool = False):
        challenge = f'Bearer realm="{REALM}"' + (', error="invalid_token"' if presented else "")
        super().__init__(401, detail, headers={"WWW-Authenticate": challenge})


def token_of(request: Any) -> tuple[str | None, str | None]:
    """The token a request carries and where: ``(token, "bearer"|"cookie")``, or
    ``(None, None)``.

    Raises:
        Unauthenticated: an ``Authorization`` header of another scheme, or empty.
    """
    header = request.headers.get("authorization")
    if header is not None:
        scheme, _, value = header.strip().partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise Unauthenticated("the Authorization header must be 'Bearer <token>' (gitstore token create)", presented=True)
        return value.strip(), "bearer"
    cookie = request.cookies.get(COOKIE)
    if cookie:
        return cookie, "cookie"
    return None, None


def actor_for_request(request: Any) -> str:
    """The actor a request acts as (its token's actor).

    Also sets ``request.state.auth`` to ``"bearer"`` or ``"cookie"`` and
    ``request.state.token_id`` to the token's id.

    Args:
        request: a Starlette ``Request`` of an app made by ``serve.app.create_app``
            (its ``app.state.tokens`` is the store's ``TokenRegistry``).

    Raises:
        Unauthenticated: no token, an unknown token or a revoked one.
        TokenFileError: ``tokens.json`` cannot be read.
    """
    registry: TokenRegistry = request.app.state.tokens
    token, source = token_of(request)
    if token is None:
        raise Unauthenticated("no API token: send 'Authorization: Bearer <token>' (gitstore token create ACTOR)")
    record = registry.lookup(token)
    if record is None:
        raise Unauthenticated("unknown API token", presented=True)
    if not record.active:
        raise Unauthenticated(f"API token {record.id} was revoked at {record.revoked}", presented=True)
    request.state.auth = source
    request.state.token_id = record.id
    return record.actor


__all__ = ["COOKIE", "Unauthenticated", "actor_for_request", "token_of"]
