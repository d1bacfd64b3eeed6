"""What chat importers (Slack, Mattermost) share: which ticket a message belongs to.

Internal conversations happen in team chat; a channel or a thread there is about one
ticket. ``ChannelMap`` decides which (docs/importers.md "Chat tickets"), in this order:

1. **Ticket tag in the text**: a message whose text contains ``[T_<T_NO>]`` (the tag
   format of the e-mail importer) belongs to ticket ``<T_NO>``; if it starts a thread,
   the whole thread follows it.
2. **A reply** belongs where its thread's first message went.
3. **``--channel-map CHANNEL=T_NO``** (repeatable): every message of that channel.
   ``*=T_NO`` maps every channel not named otherwise. ``{channel}`` in T_NO is
   replaced by the channel's name, so ``*=SLACK-{channel}`` gives each channel a
   ticket of its own. A name that is not a valid T_NO as it stands (``meetup-``, a
   name with spaces or non-ASCII letters) is normalised (other characters become
   ``-``; ``-``, ``.`` and ``_`` at its ends dropped) and followed by
   ``-<channel id>``: two channels never share a ticket because their names
   normalise alike (``meetup`` and ``meetup-`` get ``SLACK-meetup`` and
   ``SLACK-meetup-C0123``).
4. Otherwise the message is reported as skipped ("no ticket for channel …"), never
   dropped silently.

A ticket that does not exist yet is created by the first message mapped to it, with
``client_name`` "<Platform> #<channel>", ``company_name`` the team/workspace, E
platform ``web_chat`` (the chat platform among the E platforms; the E file stays
empty), the I file's ``platforms`` set to the chat platform, and T's ``channel``
``MATTERMOST`` for Mattermost, null for Slack (T's ``channel`` names only Mattermost
and Flock: docs/data-model.md).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field

from gitstore.errors import InvalidTicketNumber, ValidationError
from gitstore.tickets.layout import validate_t_no

TAG_RE = re.compile(r"\[T_([A-Za-z0-9][A-Za-z0-9._-]{0,63})\]")
"""A ticket tag in message text: ``[T_<T_NO>]``."""


def parse_channel_map(pairs: tuple[str, ...] | list[str]) -> dict[str, str]:
    """Parse ``CHANNEL=T_NO`` strings (``*`` for every other channel).

    Raises:
        ValidationError: a pair without ``=``, an empty side, or a T_NO that is not
            valid (checked with ``{channel}`` replaced by ``channel``).
    """
    mapping: dict[str, str] = {}
    for pair in pairs:
        channel, sep, t_no = pair.partition("=")
        channel, t_no = channel.strip().lstrip("#"), t_no.strip()
        if not sep or not channel or not t_no:
            raise ValidationError(f"channel map {pair!r}: expected CHANNEL=T_NO (or *=T_NO)")
        validate_t_no(t_no.replace("{channel}", "channel"))
        mapping[channel] = t_no
    return mapping


def channel_ticket_name(channel: str, channel_id: str | None = None) -> str:
    """The text that replaces ``{channel}`` in a T_NO template (see module doc).

    A name made only of letters, digits, ``_``, ``.`` and ``-`` that starts and ends
    with a letter or digit is used as it is; any other name is normalised and gets
    ``-<channel id>`` (the id's own safe characters; a SHA-1 prefix of it otherwise).
    """
    name = re.sub(r"[^A-Za-z0-9._-]", "-", channel).strip("-._")
    name = re.sub(r"\.{2,}", ".", name)
    if name == channel and name:
        return name
    ident = str(channel_id or channel)
    safe = re.sub(r"[^A-Za-z0-9_-]", "", ident)
    if safe != ident or not safe:
        safe = hashlib.sha1(ident.encode("utf-8")).hexdigest()[:10]
    return f"{name or 'channel'}-{safe}"


def _ticket_for_channel(template: str, channel: str, channel_id: str | None) -> str:
    return template.replace("{channel}", channel_ticket_name(channel, channel_id))


@dataclass
class ChannelMap:
    """Decides the ticket of each chat message (see module doc).

    Args:
        mapping: channel name → T_NO template (``*`` = any other channel).
    """

    mapping: dict[str, str] = field(default_factory=dict)
    _threads: dict[tuple[str, str], str] = field(default_factory=dict)

    def ticket(self, channel: str, text: str, ts: str, thread: str | None, channel_id: str | None = None) -> tuple[str | None, str]:
        """Return ``(T_NO or None, reason)`` for one message.

        Args:
            channel: the channel's name.
            text: the message text (searched for a ticket tag).
            ts: the message's own id within the channel (thread roots are keyed by it).
            thread: the id of the thread's first message, for replies; else None.
            channel_id: the channel's id, for names that need it (see module doc).

        Messages must be passed in time order so replies find their thread's ticket.
        """
        for match in TAG_RE.finditer(text or ""):
            try:
                t_no = validate_t_no(match.group(1))
            except InvalidTicketNumber:
                continue
            self._threads.setdefault((channel, thread or ts), t_no)
            return t_no, "tag"
        if thread and (channel, thread) in self._threads:
            return self._threads[(channel, thread)], "thread"
        template = self.mapping.get(channel, self.mapping.get("*"))
        if template is None:
            return None, f"no ticket for channel #{channel}: no ticket tag and no --channel-map {channel}=T_NO or *=T_NO"
        return _ticket_for_channel(template, channel, channel_id), "map"


def create_for_chat(platform: str, channel: str, company: str) -> tuple[dict, dict]:
    """``(create keywords, create-only update)`` for a ticket born in a chat channel."""
    create = {
        "client_name": f"{platform.capitalize()} #{channel}",
        "company_name": company or platform,
        "platform": "web_chat",
        "channel": platform.upper() if platform.upper() in ("MATTERMOST", "FLOCK") else None,
    }
    return create, {"I": {"platforms": [platform]}}
