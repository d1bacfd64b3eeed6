"""Who internal content is sealed for: the ``crypt`` section of the configuration.

The section is committed (``.gitstore/config.json``, docs/data-model.md#configuration),
so every site seals for the same people, and it is versioned like tickets::

    {"crypt": {"recipients": [{"name": "alice", "recipient": "age1…"},
                              {"name": "bob", "recipient": "ssh-ed25519 AAAA… bob@laptop"}]}}

A recipient is an age X25519 public key (``age1…``) or an OpenSSH ``ssh-ed25519``
public key (a trailing comment is kept in the text, ignored by age). Names are unique,
1-128 characters. Encryption is **on** at a commit when that commit's section lists at
least one recipient (docs/encryption.md#recipients). Only public keys are needed to
write.

Parsed recipients are cached per configuration blob id (``recipients_at``): a write
does not parse keys again while the configuration is unchanged.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import pygit2

from gitstore.config import CONFIG_PATH, config_blob, parse_config
from gitstore.errors import RecipientError

SECTION = "crypt"
"""The configuration section holding the recipients."""

RULE = "docs/encryption.md#recipients"

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:@-]{0,127}$")
_CACHE: OrderedDict[bytes, tuple["Recipient", ...]] = OrderedDict()
_CACHE_SIZE = 64


@dataclass(frozen=True)
class Recipient:
    """One person or agent internal content is sealed for.

    Attributes:
        name: who it is (unique in the section).
        recipient: the public key as configured (``age1…`` or ``ssh-ed25519 AAAA…``).
        kind: ``x25519`` or ``ssh-ed25519``.
        key: the parsed pyrage recipient.
    """

    name: str
    recipient: str
    kind: str
    key: Any

    def to_json(self) -> dict[str, str]:
        """The entry as stored in the section (and as ``crypt status --json`` prints it)."""
        return {"name": self.name, "recipient": self.recipient, "kind": self.kind}


def parse_recipient(text: str, name: str = "recipient") -> Recipient:
    """Parse one public key.

    Args:
        text: ``age1…`` or ``ssh-ed25519 AAAA… [comment]``.
        name: the recipient's name.

    Raises:
        RecipientError: the name is not 1-128 characters of ``A-Za-z0-9_.:@-``, or the
            key is not an X25519 or ssh-ed25519 public key.
    """
    import pyrage  # loaded on first use: a store without encryption never loads it

    if not isinstance(name, str) or not _NAME.match(name):
        raise RecipientError(f"invalid recipient name {name!r}: 1-128 characters of A-Za-z0-9_.:@- ({RULE})")
    if not isinstance(text, str):
        raise RecipientError(f"recipient {name!r}: the key must be a string ({RULE})")
    value = " ".join(text.split())
    try:
        if value.startswith("age1"):
            return Recipient(name, value, "x25519", pyrage.x25519.Recipient.from_str(value))
        if value.startswith("ssh-ed25519 "):
            return Recipient(name, value, "ssh-ed25519", pyrage.ssh.Recipient.from_str(value))
    except pyrage.RecipientError as exc:
        raise RecipientError(f"recipient {name!r}: not a valid public key ({exc}) ({RULE})") from None
    shown = value if len(value) <= 40 else value[:37] + "..."
    raise RecipientError(f"recipient {name!r}: {shown!r} is neither an age X25519 key (age1...) nor ssh-ed25519 ({RULE})")


def parse_section(section: Any) -> tuple[Recipient, ...]:
    """Parse the ``crypt`` section into its recipients (empty: encryption off).

    Raises:
        RecipientError: not an object, an unknown key, ``recipients`` not a list of
            ``{"name", "recipient"}`` objects, a duplicate name, a bad key.
    """
    if section is None:
        return ()
    if not isinstance(section, dict):
        raise RecipientError(f"{CONFIG_PATH}: section {SECTION!r} must be a JSON object ({RULE})")
    unknown = sorted(set(section) - {"recipients"})
    if unknown:
        raise RecipientError(f"{CONFIG_PATH}: section {SECTION!r} has unknown key(s) {unknown} ({RULE})")
    entries = section.get("recipients", [])
    if not isinstance(entries, list):
        raise RecipientError(f"{CONFIG_PATH}: {SECTION}.recipients must be a list ({RULE})")
    found: list[Recipient] = []
    names: set[str] = set()
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict) or set(entry) != {"name", "recipient"}:
            raise RecipientError(
                f"{CONFIG_PATH}: {SECTION}.recipients.{index} must be an object with 'name' and 'recipient' ({RULE})"
            )
        recipient = parse_recipient(entry["recipient"], entry["name"])
        if recipient.name in names:
            raise RecipientError(f"{CONFIG_PATH}: recipient name {recipient.name!r} is listed twice ({RULE})")
        names.add(recipient.name)
        found.append(recipient)
    return tuple(found)


def section_json(recipients: tuple[Recipient, ...] | list[Recipient]) -> dict[str, Any]:
    """The ``crypt`` section holding ``recipients`` (what ``Store.write_config_section`` takes)."""
    return {"recipients": [{"name": r.name, "recipient": r.recipient} for r in recipients]}


def recipients_at(repo: pygit2.Repository, tree: pygit2.Tree) -> tuple[Recipient, ...]:
    """The recipients configured in ``tree`` (empty: encryption off there).

    Cached per configuration blob id, so a write pays a dictionary lookup, not a parse.

    Raises:
        ValidationError: the configuration file is not a JSON object.
        RecipientError: the ``crypt`` section is malformed.
    """
    blob = config_blob(tree)
    if blob is None:
        return ()
    key = blob.raw
    cached = _CACHE.get(key)
    if cached is not None:
        _CACHE.move_to_end(key)
        return cached
    found = parse_section(parse_config(repo[blob].read_raw()).get(SECTION))
    _CACHE[key] = found
    while len(_CACHE) > _CACHE_SIZE:
        _CACHE.popitem(last=False)
    return found
