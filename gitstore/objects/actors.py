"""Actors as git identities: the author and committer signature of an actor.

Actors (people and agents) have ids, not mail addresses: a signature's e-mail is the
id at ``EMAIL_DOMAIN``, under the ``.invalid`` top-level domain that RFC 2606 reserves,
so it is never a real address. Kept apart from the write path (``gitstore.writer``) so
whoever only needs the names (a store being opened, a hub's first commit) does not
load the write path.
"""

from __future__ import annotations

from datetime import datetime

import pygit2

from gitstore.errors import ValidationError

EMAIL_DOMAIN = "gitstore.invalid"
"""Domain of the e-mail address in every signature (actors have no real address)."""


def check_trailer_value(what: str, value: str) -> None:
    """Refuse an actor or agent name that could break a signature or forge a trailer.

    Raises:
        ValidationError: empty, over 200 characters, or holding ``<``, ``>``, a line
            break or NUL.
    """
    if not value or any(c in value for c in "<>\n\r\0") or len(value) > 200:
        raise ValidationError(f"invalid {what} {value!r}: 1-200 characters, no '<', '>' or line breaks")


def signature(actor: str, when: datetime) -> pygit2.Signature:
    """The git signature of an actor at a time: ``actor <actor@gitstore.invalid>``, UTC.

    Args:
        actor: the actor id (``check_trailer_value``).
        when: an aware time; its whole seconds are the signature's time, offset 0.

    Raises:
        ValidationError: an invalid actor name (``check_trailer_value``).
    """
    check_trailer_value("actor", actor)
    email = f"{actor.replace(' ', '.')}@{EMAIL_DOMAIN}"
    return pygit2.Signature(actor, email, int(when.timestamp()), 0)
