"""Internal content encrypted at rest, per field, for its recipients (docs/encryption.md).

The ``content`` of every internal (I) message and the non-empty ``notes`` of every
progress update are sealed with age (``pyrage``) for the recipients of the committed
``crypt`` configuration section when they are written, and never change afterwards;
everything else stays clear. Modules, one concept each:

- ``format``: the sealed-field text (``age:v1:`` + base64) and its checks;
- ``sealing``: ``seal``/``unseal`` with age;
- ``recipients``: the ``crypt`` section and its parsed recipients (cached per blob);
- ``identities``: this site's private keys (never committed);
- ``fields``: which fields are sealed, sealing new items, the "no clear text where
  ciphertext is expected" rule;
- ``opened``: a ticket opened with this site's keys (``open_ticket``, ``open_all``);
- ``textconv``: an I file with its sealed fields decrypted, for ``git diff``/``log -p``.

Names load on first use (PEP 562), so ``gitstore.tickets.models`` can use ``format``
without loading age.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gitstore.crypt.fields import SEALED_FIELDS, exposed_fields, seal_exposed
    from gitstore.crypt.format import PREFIX, check_sealed, is_sealed
    from gitstore.crypt.identities import generate_identity, identities_for, identity_path
    from gitstore.crypt.opened import OpenedTicket, open_all, open_ticket
    from gitstore.crypt.recipients import Recipient, parse_recipient, recipients_at
    from gitstore.crypt.sealing import seal, unseal

_EXPORTS = {
    "SEALED_FIELDS": "gitstore.crypt.fields",
    "exposed_fields": "gitstore.crypt.fields",
    "seal_exposed": "gitstore.crypt.fields",
    "PREFIX": "gitstore.crypt.format",
    "check_sealed": "gitstore.crypt.format",
    "is_sealed": "gitstore.crypt.format",
    "generate_identity": "gitstore.crypt.identities",
    "identities_for": "gitstore.crypt.identities",
    "identity_path": "gitstore.crypt.identities",
    "OpenedTicket": "gitstore.crypt.opened",
    "open_all": "gitstore.crypt.opened",
    "open_ticket": "gitstore.crypt.opened",
    "Recipient": "gitstore.crypt.recipients",
    "parse_recipient": "gitstore.crypt.recipients",
    "recipients_at": "gitstore.crypt.recipients",
    "seal": "gitstore.crypt.sealing",
    "unseal": "gitstore.crypt.sealing",
    "unseal_or": "gitstore.crypt.sealing",
}


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'gitstore.crypt' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))


__all__ = [
    "SEALED_FIELDS",
    "exposed_fields",
    "seal_exposed",
    "PREFIX",
    "check_sealed",
    "is_sealed",
    "generate_identity",
    "identities_for",
    "identity_path",
    "OpenedTicket",
    "open_all",
    "open_ticket",
    "Recipient",
    "parse_recipient",
    "recipients_at",
    "seal",
    "unseal",
]
