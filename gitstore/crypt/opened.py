"""A ticket opened with this site's identities: sealed fields in clear text.

``open_ticket`` is for reads that show what they can (the ``Viewer``, docs/encryption.md):
each sealed item it decrypts is given in clear text, each item it cannot decrypt is
left out and counted, never an error. ``open_all`` is for reads that need every item
(``crypt rotate``, ``crypt textconv``): an item it cannot decrypt is a one-line error.

Decrypted fields are cached per ciphertext (a sealed field never changes, so a cached
clear text is never stale), up to ``CACHE_BYTES`` per set of identities.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Sequence

from gitstore.crypt.fields import ID_FIELDS, SEALED_FIELDS
from gitstore.crypt.format import is_sealed
from gitstore.crypt.sealing import try_unseal
from gitstore.errors import DecryptionError
from gitstore.tickets import layout
from gitstore.tickets.files import TicketFiles

CACHE_BYTES = 16 * 1024 * 1024
"""Bytes of ciphertext and clear text kept in the decryption cache."""


@dataclass(frozen=True)
class OpenedTicket:
    """A ticket as this site can read it.

    Attributes:
        files: the three files; in I, every sealed field this site decrypts is in
            clear text and every item it cannot decrypt is removed.
        unreadable: how many I items (messages and progress updates) were removed.
    """

    files: TicketFiles
    unreadable: int = 0


class _Cache:
    def __init__(self) -> None:
        self.keys: tuple[Any, ...] = ()
        self.entries: OrderedDict[str, str | None] = OrderedDict()
        self.size = 0

    def get(self, text: str, identities: tuple[Any, ...]) -> str | None:
        if len(identities) != len(self.keys) or any(a is not b for a, b in zip(identities, self.keys)):
            self.keys, self.entries, self.size = identities, OrderedDict(), 0  # holds them: ids stay unique
        if text in self.entries:
            self.entries.move_to_end(text)
            return self.entries[text]
        clear = try_unseal(text, identities)
        self.entries[text] = clear
        self.size += len(text) + len(clear or "")
        while self.size > CACHE_BYTES and self.entries:
            old, value = self.entries.popitem(last=False)
            self.size -= len(old) + len(value or "")
        return clear


_CACHE = _Cache()


def open_internal(internal: Any, name: str, identities: Sequence[Any], *, strict: bool) -> tuple[Any, int]:
    """Open the sealed fields of one I model.

    Args:
        internal: the ``InternalConversation`` as committed.
        name: its file name, for errors.
        identities: pyrage identities; may be empty.
        strict: raise on an item no identity opens, instead of leaving it out.

    Returns:
        ``(the I model with opened fields, items left out)``; the model itself when it
        holds no sealed field.

    Raises:
        DecryptionError: ``strict`` and an item no identity opens.
    """
    keys = tuple(identities)
    update: dict[str, list[Any]] = {}
    removed = 0
    for (_kind, key), field in SEALED_FIELDS.items():
        items = getattr(internal, key)
        if not any(is_sealed(getattr(item, field)) for item in items):
            continue
        kept = []
        for item in items:
            value = getattr(item, field)
            if not is_sealed(value):
                kept.append(item)
                continue
            clear = _CACHE.get(value, keys) if keys else None
            if clear is None:
                if strict:
                    what = "no identity is configured" if not keys else "none of this site's identities opens it"
                    raise DecryptionError(
                        f"{name}: {key} {getattr(item, ID_FIELDS[key])!r}: cannot decrypt {field}: {what} "
                        "(docs/encryption.md#identities)"
                    )
                removed += 1
                continue
            kept.append(item.model_copy(update={field: clear}))
        update[key] = kept
    if not update:
        return internal, 0
    return internal.model_copy(update=update), removed


def _open(files: TicketFiles, identities: Sequence[Any], strict: bool) -> OpenedTicket:
    internal, removed = open_internal(files.internal, layout.file_name("I", files.t_no), identities, strict=strict)
    if internal is files.internal:
        return OpenedTicket(files, 0)
    return OpenedTicket(files.with_file("I", internal), removed)


def open_ticket(files: TicketFiles, identities: Sequence[Any]) -> OpenedTicket:
    """Open a ticket for reading with this site's identities.

    Args:
        files: the ticket as committed (sealed fields as ciphertext).
        identities: pyrage identities (``identities.identities_for``); may be empty.

    Returns:
        ``OpenedTicket``: sealed fields it can decrypt in clear text, items it cannot
        decrypt removed and counted in ``unreadable``. A ticket without sealed fields
        is returned as it is.
    """
    return _open(files, identities, strict=False)


def open_all(files: TicketFiles, identities: Sequence[Any]) -> TicketFiles:
    """Open every sealed field of a ticket (reads that need every item: ``rotate``).

    Returns:
        The files with every sealed field in clear text.

    Raises:
        DecryptionError: an item no identity decrypts (one line naming the file and
            the item).
    """
    return _open(files, identities, strict=True).files
