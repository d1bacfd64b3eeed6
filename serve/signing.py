"""Standard Webhooks signatures: the ``whsec_`` secrets and the ``webhook-signature`` header.

The scheme of the Standard Webhooks specification 1.0 (standardwebhooks.com, "Signature
scheme" and "Webhook headers"), symmetric variant:

- a secret is 32 random bytes (the specification asks for 24 to 64), shown as
  ``whsec_`` + base64;
- the signed content is ``{webhook-id}.{webhook-timestamp}.{body}`` (UTF-8; the body
  exactly as sent), the signature ``v1,`` + base64(HMAC-SHA256(secret bytes, content));
- ``webhook-signature`` is a space-separated list of signatures: during a rotation one
  per secret still signing, so a receiver that knows either secret accepts the request.

The HMAC is the standard library's (``hmac``, ``hashlib``): nothing of its own here.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from typing import Sequence

from gitstore.errors import GitStoreError

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32
"""Bytes of a new secret (the specification: at least 24, at most 64)."""


class InvalidSecret(GitStoreError, ValueError):
    """A webhook secret that is not ``whsec_`` + base64 of 24 to 64 bytes."""


def new_secret() -> str:
    """A new random secret, ``whsec_<base64 of 32 bytes>`` (``secrets.token_bytes``)."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode("ascii")


def secret_key(secret: str) -> bytes:
    """The HMAC key of ``secret``: the bytes its base64 part encodes.

    Raises:
        InvalidSecret: no ``whsec_`` prefix, not base64, or not 24 to 64 bytes.
    """
    if not secret.startswith(SECRET_PREFIX):
        raise InvalidSecret(f"a webhook secret starts with {SECRET_PREFIX!r}")
    try:
        key = base64.b64decode(secret[len(SECRET_PREFIX):], validate=True)
    except (binascii.Error, ValueError):
        raise InvalidSecret("a webhook secret is whsec_ followed by base64") from None
    if not 24 <= len(key) <= 64:
        raise InvalidSecret(f"a webhook secret holds 24 to 64 bytes, this one {len(key)}")
    return key


def signature(webhook_id: str, timestamp: int, body: bytes, secret: str) -> str:
    """One ``v1,<base64>`` signature of a delivery.

    Args:
        webhook_id: the ``webhook-id`` header (no ``.`` in it: the specification's rule,
            so the signed content splits one way only).
        timestamp: the ``webhook-timestamp`` header, Unix seconds.
        body: the request body, bytes exactly as sent.
        secret: ``whsec_…``.

    Raises:
        InvalidSecret: see ``secret_key``.
        ValueError: ``webhook_id`` holds a ``.``.
    """
    if "." in webhook_id:
        raise ValueError(f"a webhook id may not hold '.': {webhook_id!r}")
    content = f"{webhook_id}.{int(timestamp)}.".encode() + body
    digest = hmac.new(secret_key(secret), content, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def signature_header(webhook_id: str, timestamp: int, body: bytes, secrets_: Sequence[str]) -> str:
    """The ``webhook-signature`` header: one signature per secret, space-separated,
    in the order given (the newest secret first).

    Raises:
        ValueError: no secret, or see ``signature``.
    """
    if not secrets_:
        raise ValueError("a delivery is signed with at least one secret")
    return " ".join(signature(webhook_id, timestamp, body, s) for s in secrets_)


def headers(webhook_id: str, timestamp: int, body: bytes, secrets_: Sequence[str]) -> dict[str, str]:
    """The three Standard Webhooks headers of a delivery, plus its content type."""
    return {
        "content-type": "application/json",
        "webhook-id": webhook_id,
        "webhook-timestamp": str(int(timestamp)),
        "webhook-signature": signature_header(webhook_id, timestamp, body, secrets_),
    }
