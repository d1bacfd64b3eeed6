"""The text of a sealed field: ``age:v1:`` + base64 of an age binary file, one line.

A sealed field replaces the clear text of an internal message's ``content`` or a
progress update's ``notes`` (``gitstore.crypt.fields``). The prefix names the scheme
and its version, so a reader knows what it holds without trying to decrypt it; the
base64 (standard alphabet, padded, no line breaks) keeps the ticket file one JSON
string per field, so git's line diffs, blame and the merge driver keep working on
ciphertext. Any text starting with the prefix is ciphertext: it must be well formed
(``sealed_problem``), wherever it is read (schemas, hooks, ``verify``). Source of the
rule: docs/encryption.md#ciphertext-format.

This module needs no key and no age library: it is what the schemas use.
"""

from __future__ import annotations

import base64
import binascii

from gitstore.errors import CiphertextError

PREFIX = "age:v1:"
"""What every sealed field starts with."""

AGE_HEADER = b"age-encryption.org/v1\n"
"""The first line of every age binary file (age's format, v1)."""

RULE = "docs/encryption.md#ciphertext-format"
"""Where the rule of this module is written down (cited in every message)."""

MAX_CLEAR_BYTES = 256 * 1024
"""Largest clear text sealed, in bytes (``models.MAX_CONTENT_BYTES``: the schemas
check the clear text before it is sealed)."""

MAX_HEADER_BYTES = 64 * 1024
"""Room for the age header (about 100-150 bytes per recipient: some 400 recipients)."""

MAX_SEALED_BYTES = len(PREFIX) + 4 * -(-(MAX_CLEAR_BYTES + MAX_HEADER_BYTES + 16 * 8) // 3)
"""Largest sealed text accepted, in bytes (about 437 KB): the ciphertext of the largest
clear text (age adds a 16-byte nonce and 16 bytes per 64 KiB chunk), base64-encoded."""


def is_sealed(text: object) -> bool:
    """True when ``text`` is a sealed field (starts with ``PREFIX``); says nothing of
    whether it is well formed (``sealed_problem``)."""
    return isinstance(text, str) and text.startswith(PREFIX)


def sealed_problem(text: str) -> str | None:
    """What is wrong with a sealed field, or None when it is well formed.

    Well formed: at most ``MAX_SEALED_BYTES``, ``PREFIX`` then standard padded base64
    on one line, decoding to bytes that start with age's header line.

    Returns:
        One phrase (no file name), e.g. ``sealed text is not base64``; None if fine.
    """
    if len(text) > MAX_SEALED_BYTES:
        return f"sealed text is {len(text)} bytes, over the limit of {MAX_SEALED_BYTES}"
    body = text[len(PREFIX):]
    try:
        raw = base64.b64decode(body.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError):
        return "sealed text is not one line of base64 after 'age:v1:'"
    if not raw.startswith(AGE_HEADER):
        return "sealed text holds no age header (age-encryption.org/v1)"
    return None


def check_sealed(text: str, where: str) -> str:
    """Return ``text`` when it is a well-formed sealed field.

    Args:
        text: the field's value (must start with ``PREFIX``).
        where: what to name in the error, e.g. ``I_1001.json messages msg_1 content``.

    Raises:
        CiphertextError: not sealed, or malformed; the message names ``where`` and the rule.
    """
    problem = "not sealed text (no 'age:v1:' prefix)" if not is_sealed(text) else sealed_problem(text)
    if problem is not None:
        raise CiphertextError(f"{where}: {problem} ({RULE})")
    return text


def decode(text: str) -> bytes:
    """The age binary file inside a well-formed sealed field.

    Raises:
        CiphertextError: the field is malformed.
    """
    check_sealed(text, "sealed field")
    return base64.b64decode(text[len(PREFIX):].encode("ascii"), validate=True)


def encode(ciphertext: bytes) -> str:
    """The sealed field holding an age binary file."""
    return PREFIX + base64.b64encode(ciphertext).decode("ascii")
