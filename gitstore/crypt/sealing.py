"""Sealing and unsealing one field with age (``pyrage``, the Rust age implementation).

``seal`` needs only public recipients (``recipients.Recipient``); ``unseal`` needs a
private identity of one of them (``identities``). Each call encrypts to a fresh file
key, so sealing the same text twice gives different ciphertexts: a field is sealed once,
when it is written, and its ciphertext never changes afterwards
(docs/encryption.md#what-is-sealed).
"""

from __future__ import annotations

from typing import Any, Sequence

from gitstore.crypt.format import MAX_SEALED_BYTES, decode, encode
from gitstore.errors import DecryptionError, GitStoreError, RecipientError


def seal(text: str, recipients: Sequence[Any]) -> str:
    """Encrypt ``text`` for ``recipients`` and return the sealed field.

    Args:
        text: the clear text (valid Unicode; its size was checked by the schemas).
        recipients: ``recipients.Recipient`` values or pyrage recipient objects; at
            least one.

    Returns:
        ``age:v1:`` + base64 of the age binary file (``format``).

    Raises:
        RecipientError: no recipients, or so many that the sealed text would exceed
            ``format.MAX_SEALED_BYTES``.
    """
    import pyrage  # loaded on first use: a store without encryption never loads it

    keys = [getattr(r, "key", r) for r in recipients]
    if not keys:
        raise RecipientError("cannot seal: no recipients (docs/encryption.md#recipients)")
    try:
        sealed = encode(pyrage.encrypt(text.encode("utf-8"), keys))
    except pyrage.EncryptError as exc:
        raise RecipientError(f"cannot seal: {exc} (docs/encryption.md#recipients)") from None
    if len(sealed) > MAX_SEALED_BYTES:
        raise RecipientError(
            f"sealed text would be {len(sealed)} bytes, over the limit of {MAX_SEALED_BYTES}: too many recipients"
        )
    return sealed


def try_unseal(text: str, identities: Sequence[Any]) -> str | None:
    """Decrypt a sealed field, or None when no identity in ``identities`` opens it.

    Raises:
        CiphertextError: the field is malformed (``format.check_sealed``).
    """
    data = decode(text)
    if not identities:
        return None
    import pyrage  # loaded on first use: a store without encryption never loads it

    try:
        clear = pyrage.decrypt(data, list(identities))
    except pyrage.DecryptError:
        return None
    try:
        return clear.decode("utf-8")
    except UnicodeDecodeError:
        return None  # not something gitstore sealed


def unseal(text: str, identities: Sequence[Any]) -> str:
    """Decrypt a sealed field with this site's identities.

    Args:
        text: the sealed field.
        identities: pyrage identities (``identities.identities_for``).

    Returns:
        The clear text.

    Raises:
        CiphertextError: the field is malformed.
        DecryptionError: no identity opens it (wrong key, or no key at all).
    """
    clear = try_unseal(text, identities)
    if clear is None:
        what = "no identity is configured" if not identities else "none of this site's identities opens it"
        raise DecryptionError(f"cannot decrypt sealed text: {what} (docs/encryption.md#identities)")
    return clear


def unseal_or(text: str, identities: Sequence[Any], fallback: str | None) -> str | None:
    """Decrypt a sealed field for showing it: ``fallback`` when no identity opens it or
    the field is malformed (a read that shows a ticket never fails on one item)."""
    try:
        return unseal(text, identities)
    except GitStoreError:
        return fallback
