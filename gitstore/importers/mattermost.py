"""Import a Mattermost bulk export (docs/importers.md "mattermost").

Source: the JSONL file ``mmctl export`` / ``mattermost export bulk`` writes, in
Mattermost's documented bulk-loading data format: one JSON object per line, each
``{"type": T, T: {...}}``; the first line is ``{"type": "version", "version": 1}``. Read
here: ``team`` (``name``, ``display_name``), ``channel`` (``team``, ``name``,
``display_name``, ``type``, ``header``, ``purpose``), ``user`` (``username``,
``email``, …), ``post`` (``team``, ``channel``, ``user``, ``message``, ``create_at`` in
epoch milliseconds, ``replies`` [{``user``, ``message``, ``create_at``, …}],
``reactions``, ``attachments`` [{``path``}], ``props``, …) and ``direct_post``
(``channel_members``, ``user``, ``message``, ``create_at``, ``replies``). Other object
types (scheme, emoji, role, bot, direct_channel) carry no messages.

Mapping: every post and every reply is one internal (I) message, one commit, platform
``mattermost``, mapped to a ticket by ``chat.ChannelMap`` (ticket tag in the text —
a tagged post takes its replies along —, ``--channel-map``; unmapped posts are
reported as skipped). Bulk exports carry no post ids (Mattermost itself identifies a
post by channel, create_at and message), so ``message_id`` is
``mattermost:<team>/<channel>:<create_at>:<user>``; ``metadata.channel_id``
``<team>/<channel>`` (direct channels: ``dm/<member>+<member>``), ``thread_id`` the
root post's message id (for the root and its replies); ``sender`` ``cs_agent`` when
the user's e-mail is in an ``--agent-domain``, else ``technical_member``;
``sender_id`` the username (who joins the I file's ``participants.cs_team`` or
``technical_team`` accordingly); ``content`` the message exactly; every other field of the
post (``props``, ``reactions``, ``flagged_by``, …) in ``platform_specific``;
attachments by file name (the export has no size or hash).

Bad input: a post that cannot be read (no user, no message, a bad ``create_at``) or a
line that is not valid JSON inside the file is skipped with its line and reason; the
rest is imported. A last line cut off before its end (a truncated file) or a file
that does not start with the version object stops the import with file, line and
column after the posts before it are imported.
"""

from __future__ import annotations

import json
import mimetypes
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

from gitstore.errors import ImportFormatError
from gitstore.importers.base import RECORD_ERRORS, Importer, ImportEvent, ImportSummary, record_problem, source_file
from gitstore.importers.chat import ChannelMap, create_for_chat
from gitstore.timeutil import format_utc

_OWN_FIELDS = {"team", "channel", "user", "message", "create_at", "replies", "attachments", "channel_members"}


def mm_time(create_at: Any) -> datetime:
    """Convert Mattermost's ``create_at`` (epoch milliseconds) to aware UTC.

    Raises:
        ValueError: not a non-negative integer.
    """
    if isinstance(create_at, bool) or not isinstance(create_at, int) or create_at < 0:
        raise ValueError(f"create_at must be epoch milliseconds, not {create_at!r}")
    return datetime.fromtimestamp(create_at // 1000, timezone.utc).replace(microsecond=(create_at % 1000) * 1000)


def read_jsonl(path: Path, summary: ImportSummary | None = None) -> Iterator[tuple[int, dict]]:
    """Yield ``(line number, object)`` of a JSONL file, skipping blank lines.

    A line inside the file that is not a bulk-export object is reported with
    ``summary.skip`` (when a summary is given) and the next line is read.

    Raises:
        ImportFormatError: the last line is cut off (no final newline and not JSON), or
            any bad line when no summary is given (file, line, column), after the lines
            before it were yielded.
    """
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            if not raw.strip():
                continue
            problem = None
            try:
                record = json.loads(raw.decode("utf-8"))
            except UnicodeDecodeError as exc:
                problem = f"line {number}: invalid UTF-8 at byte {exc.start}"
            except json.JSONDecodeError as exc:
                problem = f"line {number} column {exc.colno}: malformed or truncated JSON: {exc.msg}"
            else:
                if not isinstance(record, dict) or "type" not in record:
                    problem = f"line {number}: not a bulk-export object (no \"type\")"
            if problem is None:
                yield number, record
                continue
            truncated = not raw.endswith(b"\n")
            if summary is None or truncated:
                raise ImportFormatError(f"{path}: {problem}" + (" (the file ends inside this line)" if truncated else ""))
            summary.skip(f"{path}: line {number}", None, problem.partition(": ")[2])


class MattermostImporter(Importer):
    """Importer for a Mattermost bulk-export JSONL file (see module doc).

    Args:
        channel_map: channel name → T_NO template (``*`` = any other channel).
        agent_domains: e-mail domains of support agents (``cs_agent``).
    """

    kind = "mattermost"
    platform = "mattermost"

    def __init__(self, channel_map: dict[str, str] | None = None, agent_domains: tuple[str, ...] = ()):
        self.channel_map = dict(channel_map or {})
        self.agent_domains = tuple(d.lower().lstrip("@") for d in agent_domains)

    def events(self, source: Path, summary: ImportSummary) -> Iterator[ImportEvent]:
        source = source_file(source, "*.jsonl", ".jsonl export")
        mapper = ChannelMap(self.channel_map)
        teams: dict[str, str] = {}
        users: dict[str, dict] = {}
        first = True
        for number, record in read_jsonl(source, summary):
            kind = record["type"]
            if first and kind != "version":
                raise ImportFormatError(f"{source}: line {number}: a bulk export starts with the version object, not {kind!r}")
            first = False
            body = record.get(kind)
            where = f"{source}: line {number}"
            if kind == "team" and isinstance(body, dict):
                teams[str(body.get("name"))] = str(body.get("display_name") or body.get("name"))
            elif kind == "user" and isinstance(body, dict):
                users[str(body.get("username"))] = body
            elif kind in ("post", "direct_post"):
                try:
                    if not isinstance(body, dict):
                        raise TypeError(f"{kind} is not an object")
                    events = list(self._post(kind, body, where, mapper, teams, users, summary))
                except RECORD_ERRORS as exc:
                    replies = body.get("replies") if isinstance(body, dict) else None
                    count = 1 + (len(replies) if isinstance(replies, list) else 0)
                    ident = f"{body.get('channel')}:{body.get('create_at')}:{body.get('user')}" if isinstance(body, dict) else None
                    summary.skip(where, ident, f"malformed {kind} ({record_problem(exc)})", count)
                    continue
                yield from events

    def _post(self, kind, post, where, mapper, teams, users, summary) -> Iterator[ImportEvent]:
        if kind == "direct_post":
            members = sorted(str(m) for m in post["channel_members"])
            team, channel = "dm", "+".join(members)
        else:
            team, channel = str(post["team"]), str(post["channel"])
        channel_id = f"{team}/{channel}"
        root_id = f"{self.platform}:{channel_id}:{post['create_at']}:{post['user']}"
        t_no, reason = mapper.ticket(channel, post["message"], root_id, None, channel_id)
        replies = post.get("replies") or []
        items = [(post, where, None)] + [(reply, f"{where} reply {i}", root_id) for i, reply in enumerate(replies)]
        for item, item_where, thread in items:
            mm_time(item["create_at"])  # validate every time before yielding any event
            if not isinstance(item["message"], str) or not item.get("user"):
                raise ValueError("a post needs a user and a message")
        for item, item_where, thread in items:
            if thread is not None:
                t_no, reason = mapper.ticket(channel, item["message"], item_where, root_id, channel_id)
            if t_no is None:
                summary.skip(item_where, f"{channel_id}:{item['create_at']}:{item['user']}", reason, 1)
                continue
            yield self._event(t_no, item, item_where, team, channel, channel_id, root_id, teams, users)

    def _event(self, t_no, item, where, team, channel, channel_id, root_id, teams, users) -> ImportEvent:
        when = mm_time(item["create_at"])
        username = str(item["user"])
        email = str(users.get(username, {}).get("email") or "").lower()
        domain = email.rpartition("@")[2]
        is_agent = bool(domain) and any(domain == d or domain.endswith("." + d) for d in self.agent_domains)
        message_id = f"{self.platform}:{channel_id}:{item['create_at']}:{username}"
        extra = {k: v for k, v in item.items() if k not in _OWN_FIELDS}
        extra.update({"team": team, "channel": channel, "create_at": item["create_at"]})
        attachments = []
        for attachment in item.get("attachments") or []:
            name = Path(str((attachment or {}).get("path", "attachment"))).name
            attachments.append({"name": name, "content_type": mimetypes.guess_type(name)[0]})
        message = {
            "message_id": message_id,
            "timestamp": format_utc(when),
            "sender": "cs_agent" if is_agent else "technical_member",
            "sender_id": username,
            "content": item["message"],
            "message_type": "update",
            "platform": self.platform,
            "attachments": attachments,
            "metadata": {"channel_id": channel_id, "thread_id": root_id, "platform_specific": extra},
        }
        create, create_update = create_for_chat(self.platform, channel, teams.get(team, team))
        return ImportEvent(
            t_no=t_no,
            when=when,
            update={"I": {"messages": [message]}},
            ids=(message_id,),
            create=create,
            create_update=create_update,
            summary=f"Import Mattermost post {item['create_at']} from ~{channel} into ticket {t_no}",
            actor=username,
            where=where,
            messages=1,
            cs_team=(username,) if is_agent else (),
            technical_team=() if is_agent else (username,),
        )


def make_importer(channel_map: tuple[str, ...] = (), agent_domains: tuple[str, ...] = ()) -> MattermostImporter:
    """Return a Mattermost importer for ``--channel-map`` and ``--agent-domain`` values.

    Raises:
        ValidationError: a malformed channel map pair.
    """
    from gitstore.importers.chat import parse_channel_map

    return MattermostImporter(parse_channel_map(channel_map), tuple(agent_domains))


IMPORTER = MattermostImporter()
