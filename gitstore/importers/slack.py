"""Import a Slack workspace export folder (docs/importers.md "slack").

Source layout (Slack's standard export): ``channels.json`` (and ``groups.json`` for
private channels, when present): ``id, name, …``; ``users.json``: ``id, name,
real_name, profile{email}, is_bot, …``; ``<channel name>/<YYYY-MM-DD>.json``: a JSON
array of message objects (``ts`` epoch seconds as a string, unique per channel;
``user``, ``text``, optional ``subtype``, ``thread_ts``, ``file``/``files``, …).

Mapping: every message object is one internal (I) message, one commit:

- ticket: ``chat.ChannelMap`` (ticket tag in the text, the thread, ``--channel-map``;
  two channels whose names normalise alike get distinct tickets by channel id);
  unmapped messages are reported as skipped;
- ``message_id`` ``slack:<channel id>:<ts>``; ``timestamp`` = ``ts`` (UTC, exact to the
  microsecond); ``platform`` ``slack``; ``message_type`` ``update``;
- ``sender`` ``cs_agent`` when the user's e-mail is in one of ``agent_domains``
  (``--agent-domain``), else ``technical_member``; ``sender_id`` the author's name
  (``users.json``), else their id. The author is whoever the record names: ``user``;
  for a ``file_comment`` the comment's ``user``; else ``username``, ``bot_id``,
  ``bot_profile.name``; only a record that names nobody is from ``unknown``. The
  writer joins the I file's ``participants.cs_team`` or
  ``participants.technical_team`` accordingly;
- ``content`` = ``text`` exactly (Slack mrkdwn, mentions and links as exported);
- ``metadata.channel_id`` the channel id, ``thread_id`` the ``thread_ts`` of replies
  and thread roots; every other field of the message object (``type``, ``subtype``,
  ``user``, ``edited``, ``reactions``, ``file``, …) plus ``channel`` (the name) in
  ``metadata.platform_specific``;
- shared files (``file``/``files`` of a message that is not a ``file_comment``: a
  comment only refers to the file, kept in ``platform_specific``) are also recorded
  in ``attachments`` (name, ``mimetype``, ``size``, ``permalink`` as URL; Slack
  exports carry no content hash).

Bad input: a record that is not a message (no ``ts``, not an object) is skipped with
its file, record number and reason; a malformed day file (truncated or invalid JSON)
stops the import with file, line, column and record number after the messages read
before it are imported.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Iterator

from gitstore.errors import ImportFormatError
from gitstore.importers.base import RECORD_ERRORS, Importer, ImportEvent, ImportSummary, iter_json_array, record_problem
from gitstore.importers.chat import ChannelMap, create_for_chat
from gitstore.timeutil import format_utc

_OWN_FIELDS = {"text", "ts", "thread_ts"}


def slack_time(ts: str) -> datetime:
    """Convert a Slack ``ts`` (``"1433558207.760577"``) to an aware UTC datetime.

    Raises:
        ValueError: not a Slack timestamp.
    """
    seconds, _, fraction = str(ts).partition(".")
    if not seconds.isdigit() or (fraction and not fraction.isdigit()):
        raise ValueError(f"not a Slack ts: {ts!r}")
    micro = int((fraction or "0").ljust(6, "0")[:6])
    return datetime.fromtimestamp(int(seconds), timezone.utc) + timedelta(microseconds=micro)


def author_of(message: dict) -> str | None:
    """The id or name of who wrote a message, wherever the record gives it (see module
    doc), or None."""
    comment = message.get("comment")
    bot = message.get("bot_profile")
    for value in (
        message.get("user"),
        comment.get("user") if isinstance(comment, dict) else None,
        message.get("username"),
        message.get("bot_id"),
        bot.get("name") if isinstance(bot, dict) else None,
    ):
        if isinstance(value, str) and value.strip():
            return value
    return None


def _files(message: dict) -> list[dict]:
    if message.get("subtype") == "file_comment":
        return []
    found = []
    for item in ([message["file"]] if isinstance(message.get("file"), dict) else []) + [
        f for f in message.get("files", []) or [] if isinstance(f, dict)
    ]:
        size = item.get("size")
        found.append(
            {
                "name": str(item.get("name") or item.get("title") or item.get("id") or "file"),
                "content_type": item.get("mimetype"),
                "size": size if isinstance(size, int) and not isinstance(size, bool) and size >= 0 else None,
                "url": item.get("permalink") or item.get("url") or None,
            }
        )
    return found


class SlackImporter(Importer):
    """Importer for a Slack export folder (see module doc).

    Args:
        channel_map: ``--channel-map`` pairs parsed by ``chat.parse_channel_map``.
        agent_domains: e-mail domains of support agents (``cs_agent``).
    """

    kind = "slack"
    platform = "slack"

    def __init__(self, channel_map: dict[str, str] | None = None, agent_domains: tuple[str, ...] = ()):
        self.channel_map = dict(channel_map or {})
        self.agent_domains = tuple(d.lower().lstrip("@") for d in agent_domains)

    def events(self, source: Path, summary: ImportSummary) -> Iterator[ImportEvent]:
        if not (source / "channels.json").is_file():
            raise ImportFormatError(f"{source}: not a Slack export folder (no channels.json)")
        channels = [c for _, c in iter_json_array(source / "channels.json")]
        if (source / "groups.json").is_file():
            channels += [c for _, c in iter_json_array(source / "groups.json")]
        users = {}
        if (source / "users.json").is_file():
            users = {u.get("id"): u for _, u in iter_json_array(source / "users.json") if isinstance(u, dict)}
        team = next((u.get("team_id") for u in users.values() if u.get("team_id")), "slack")
        mapper = ChannelMap(self.channel_map)
        records: list[tuple[dict, dict, str]] = []
        error: ImportFormatError | None = None
        try:
            for channel in sorted(channels, key=lambda c: str(c.get("name", "")) if isinstance(c, dict) else ""):
                if not isinstance(channel, dict) or not channel.get("name"):
                    channel_id = channel.get("id") if isinstance(channel, dict) else None
                    summary.skip(f"{source / 'channels.json'}", channel_id, f"a channel without a name: {str(channel)[:80]}")
                    continue
                folder = source / str(channel["name"])
                if not folder.is_dir():
                    continue
                for day in sorted(folder.glob("*.json")):
                    for index, message in iter_json_array(day):
                        records.append((channel, message, f"{day}#record {index}"))
        except ImportFormatError as exc:
            error = exc
        yield from self._events(records, users, team, mapper, summary)
        if error is not None:
            raise error

    def _events(self, records, users, team, mapper: ChannelMap, summary: ImportSummary) -> Iterator[ImportEvent]:
        timed = []
        for channel, message, where in records:
            try:
                if not isinstance(message, dict):
                    raise ValueError("not a JSON object")
                when = slack_time(message["ts"])
            except (KeyError, ValueError) as exc:
                ts = message.get("ts") if isinstance(message, dict) else None
                summary.skip(where, ts, f"not a Slack message ({record_problem(exc)})", 1)
                continue
            timed.append((channel["name"], when, channel, message, where))
        timed.sort(key=lambda r: (r[0], r[1]))
        for name, when, channel, message, where in timed:
            text = message.get("text", "")
            thread = message.get("thread_ts")
            reply_to = thread if thread and thread != message["ts"] else None
            t_no, reason = mapper.ticket(name, text, message["ts"], reply_to, str(channel.get("id") or name))
            if t_no is None:
                summary.skip(where, message["ts"], reason, 1)
                continue
            try:
                event = self._event(t_no, when, channel, message, where, users, team)
            except RECORD_ERRORS as exc:
                summary.skip(where, message["ts"], f"message not imported: {record_problem(exc)}", 1)
                continue
            yield event

    def _event(self, t_no, when, channel, message, where, users, team) -> ImportEvent:
        author = author_of(message)
        user = users.get(author, {}) if author else {}
        email = str((user.get("profile") or {}).get("email") or "").lower()
        domain = email.rpartition("@")[2]
        is_agent = bool(domain) and any(domain == d or domain.endswith("." + d) for d in self.agent_domains)
        sender_id = str(user.get("name") or author or "unknown")
        extra: dict[str, Any] = {k: v for k, v in message.items() if k not in _OWN_FIELDS}
        extra["channel"] = channel["name"]
        item: dict[str, Any] = {
            "message_id": f"{self.platform}:{channel.get('id', channel['name'])}:{message['ts']}",
            "timestamp": format_utc(when),
            "sender": "cs_agent" if is_agent else "technical_member",
            "sender_id": sender_id,
            "content": message.get("text", "") if isinstance(message.get("text", ""), str) else str(message.get("text")),
            "message_type": "update",
            "platform": self.platform,
            "attachments": _files(message),
            "metadata": {
                "channel_id": str(channel.get("id", channel["name"])),
                "thread_id": message.get("thread_ts"),
                "platform_specific": {**extra, "ts": message["ts"]},
            },
        }
        create, create_update = create_for_chat(self.platform, channel["name"], team)
        return ImportEvent(
            t_no=t_no,
            when=when,
            update={"I": {"messages": [item]}},
            ids=(item["message_id"],),
            create=create,
            create_update=create_update,
            summary=f"Import Slack message {message['ts']} from #{channel['name']} into ticket {t_no}",
            actor=sender_id,
            where=where,
            messages=1,
            cs_team=(sender_id,) if is_agent else (),
            technical_team=() if is_agent else (sender_id,),
        )


def make_importer(channel_map: tuple[str, ...] = (), agent_domains: tuple[str, ...] = ()) -> SlackImporter:
    """Return a Slack importer for ``--channel-map`` pairs and ``--agent-domain`` values.

    Raises:
        ValidationError: a malformed channel map pair.
    """
    from gitstore.importers.chat import parse_channel_map

    return SlackImporter(parse_channel_map(channel_map), tuple(agent_domains))


IMPORTER = SlackImporter()
