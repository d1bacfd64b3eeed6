"""Import the IBM Twitter customer-care conversations (``twitter_customer_care_ibm``).

Source format (the data set's README): one JSON array of conversations, each with
``dialogHeader`` (``company``, ``conversationDateTime``, ``duration``, ``sessionID``,
``messageCount``), ``dialogContent`` (turns: a customer handle under ``client``,
``client1``…, or the support account under ``agent``…; ``datetime``, ``message``,
``tweet_ID``) and ``agentURL`` (the agent's resolving reply: ``tweet_ID``,
``url_utterance``, ``url``, ``doc_id``, ``turn``; it has no time of its own).

Mapping, one ticket per conversation (docs/importers.md "twitter-care"):

- T_NO = ``TW-<sessionID>``; platform ``web_chat``; ``client_name`` = the first
  customer handle; ``company_name`` = the support account the customer wrote to
  (``dialogHeader.company``); ``card_create_timestamp`` = the first turn's time. No
  internal channel (T ``channel`` null, I ``platforms`` empty): Twitter has none.
- Each turn is one external message (``message_id`` = ``tweet_ID``, text kept exactly),
  one commit with the tweet's time as author date. The first turn's commit creates
  the ticket. A turn's speaker key is any key besides ``datetime``/``message``/
  ``tweet_ID``; it is the agent when it starts with ``agent`` or names the support
  account, else a customer.
- The resolving reply (``agentURL``) is the last message; its commit also records
  what the data says of the outcome: ``resolved`` true, ``conversation_status``
  resolved, ``workflow_stage`` end, ``assigned_member`` = the support account. Its
  ``url``/``doc_id``/``turn`` go to ``metadata.platform_specific``.

**Times** (``platform_specific.time_source`` says which rule gave each one): a turn's
``datetime``; else, and always for the resolving reply, the time its tweet id encodes
(``tweet_id``: Twitter's documented id layout, milliseconds since
``TWITTER_EPOCH_MS`` in the bits above the lowest 22); else, for a reply whose id is
not of that layout, ``conversationDateTime`` + ``duration`` (``start+duration``;
durations may have a day part ``D-HH:MM:SS`` or a sign). ``duration`` is not trusted
over the id: on this set it loses whole days and is sometimes negative. A message is
never stored before the one it answers (the previous turn): a time that would be is
raised to its parent's and ``time_source`` ends in ``, not before its parent``.

Bad input: a conversation that cannot be read (a missing field, a turn without text)
is skipped with its record number, session id and reason; the others are imported. A
file that is not a JSON array stops the import (docs/importers.md "Bad input").
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Iterator

from gitstore.importers.base import (
    RECORD_ERRORS,
    Importer,
    ImportEvent,
    ImportSummary,
    iter_json_array,
    record_problem,
    source_file,
)
from gitstore.timeutil import format_utc, parse_utc

TWITTER_EPOCH_MS = 1288834974657
"""Twitter's id epoch (2010-11-04T01:42:54.657Z) in Unix milliseconds."""

_SNOWFLAKE_MIN = 1 << 40
"""Smallest id read as a Snowflake id: ids before Snowflake (Nov. 2010) are below 3·10^10."""

_TURN_FIELDS = {"datetime", "message", "tweet_ID"}
_DURATION_RE = re.compile(r"^\s*([+-])?(?:(\d+)[- ])?(\d+):(\d{1,2}):(\d{1,2}(?:\.\d*)?)\s*$")


def tweet_time(tweet_id: Any) -> datetime | None:
    """The post time a Snowflake tweet id encodes (aware UTC), or None for other ids.

    Twitter's id layout: the bits above the lowest 22 are milliseconds since
    ``TWITTER_EPOCH_MS``.
    """
    try:
        number = int(str(tweet_id).strip())
    except ValueError:
        return None
    if number < _SNOWFLAKE_MIN or number >= 1 << 63:
        return None
    ms = (number >> 22) + TWITTER_EPOCH_MS
    return datetime(1970, 1, 1, tzinfo=timezone.utc) + timedelta(milliseconds=ms)


def parse_duration(text: Any) -> timedelta:
    """Parse ``HH:MM:SS[.f]``, ``D-HH:MM:SS`` or ``D HH:MM:SS``, with an optional sign.

    Raises:
        ValueError: any other shape.
    """
    match = _DURATION_RE.match(str(text))
    if not match:
        raise ValueError(f"not a duration: {text!r}")
    sign, days, hours, minutes, seconds = match.groups()
    value = timedelta(days=int(days or 0), hours=int(hours), minutes=int(minutes), seconds=float(seconds))
    return -value if sign == "-" else value


def _speaker(turn: dict) -> str:
    keys = [k for k in turn if k not in _TURN_FIELDS]
    if len(keys) != 1:
        raise ValueError(f"a turn needs exactly one speaker key besides {sorted(_TURN_FIELDS)}, found {sorted(keys)}")
    return keys[0]


class TwitterCareImporter(Importer):
    """Importer for the IBM customer-care conversation set (``dev.json``/``test.json``)."""

    kind = "twitter-care"

    def events(self, source: Path, summary: ImportSummary) -> Iterator[ImportEvent]:
        path = source_file(source, "*.json", "conversations .json file")
        for index, record in iter_json_array(path):
            where = f"{path}#record {index}"
            try:
                events = list(self._conversation(record, where))
            except RECORD_ERRORS as exc:
                session = ((record.get("dialogHeader") or {}) if isinstance(record, dict) else {})
                session = session.get("sessionID") if isinstance(session, dict) else None
                summary.skip(where, session, f"conversation not imported: {record_problem(exc)}", _count(record))
                continue
            yield from events

    def _conversation(self, record: dict, where: str) -> Iterator[ImportEvent]:
        header = record["dialogHeader"]
        session = str(header["sessionID"])
        t_no = f"TW-{session}"
        company = str(header["company"])
        turns = record.get("dialogContent") or []
        if not isinstance(turns, list):
            raise TypeError("dialogContent is not a list")
        final = record.get("agentURL")
        if not turns and not final:
            raise ValueError("no turns and no resolving reply")
        speakers = [_speaker(turn) for turn in turns]
        customer = next(
            (str(turns[i][k]) for i, k in enumerate(speakers) if not self._is_agent(k, turns[i][k], company)),
            "unknown customer",
        )
        contact = {"twitter": customer}
        create = {
            "client_name": customer,
            "company_name": company,
            "platform": "web_chat",
            "channel": None,
            "contact_info": contact,
        }
        participants = {"client_name": customer, "company_name": company, "contact_info": contact}
        previous: datetime | None = None
        built = []
        for position, (turn, key) in enumerate(zip(turns, speakers)):
            handle = str(turn[key])
            is_agent = self._is_agent(key, handle, company)
            when, time_source = self._turn_time(turn, previous)
            previous = when
            text = turn["message"]
            if not isinstance(text, str):
                raise TypeError(f"turn {position}: message is not text")
            message: dict[str, Any] = {
                "message_id": str(turn["tweet_ID"]),
                "timestamp": format_utc(when),
                "sender": "cs_agent" if is_agent else "customer",
                "sender_id": handle,
                "content": text,
                "metadata": {
                    "platform_specific": {
                        "twitter_session": session,
                        "turn": position,
                        "speaker_key": key,
                        "time_source": time_source,
                    }
                },
            }
            update: dict = {"E": {"messages": [message]}}
            if is_agent:
                update["E"]["participants"] = {"customer": participants, "cs_agents": [handle]}
            built.append(
                ImportEvent(
                    t_no=t_no,
                    when=when,
                    update=update,
                    ids=(message["message_id"],),
                    create=create,
                    summary=f"Import tweet {message['message_id']} into ticket {t_no}",
                    actor=handle,
                    where=f"{where} turn {position}",
                    messages=1,
                )
            )
        if final:
            built.append(self._reply(final, header, t_no, session, company, participants, create, previous, where, len(turns)))
        yield from built

    @staticmethod
    def _is_agent(key: str, handle: str, company: str) -> bool:
        return key.startswith("agent") or handle.lower() == company.lower()

    @staticmethod
    def _turn_time(turn: dict, previous: datetime | None) -> tuple[datetime, str]:
        if turn.get("datetime"):
            when, source = parse_utc(str(turn["datetime"])), "datetime"
        else:
            encoded = tweet_time(turn["tweet_ID"])
            if encoded is None:
                raise ValueError(f"turn {turn['tweet_ID']}: no datetime and a tweet id that encodes no time")
            when, source = encoded, "tweet_id"
        if previous is not None and when < previous:
            return previous, source + ", not before its parent"
        return when, source

    def _reply(self, final, header, t_no, session, company, participants, create, previous, where, position) -> ImportEvent:
        when = tweet_time(final["tweet_ID"])
        time_source = "tweet_id"
        if when is None:
            when = parse_utc(str(header["conversationDateTime"])) + parse_duration(header["duration"])
            time_source = "start+duration"
        if previous is not None and when < previous:
            when, time_source = previous, time_source + ", not before its parent"
        text = final["url_utterance"]
        if not isinstance(text, str):
            raise TypeError("agentURL.url_utterance is not text")
        platform_specific: dict[str, Any] = {
            "twitter_session": session,
            "turn": int(final["turn"]) if str(final.get("turn", "")).strip().lstrip("-").isdigit() else position,
            "url": final.get("url"),
            "doc_id": final.get("doc_id"),
            "time_source": time_source,
        }
        if header.get("duration") is not None:
            platform_specific["duration"] = header["duration"]
        reply: dict[str, Any] = {
            "message_id": str(final["tweet_ID"]),
            "timestamp": format_utc(when),
            "sender": "cs_agent",
            "sender_id": company,
            "content": text,
            "metadata": {"platform_specific": platform_specific},
        }
        return ImportEvent(
            t_no=t_no,
            when=when,
            update={
                "E": {
                    "messages": [reply],
                    "conversation_status": "resolved",
                    "participants": {"customer": participants, "cs_agents": [company]},
                },
                "T": {"resolved": True, "workflow_stage": "end", "assigned_member": company},
            },
            ids=(reply["message_id"],),
            create=create,
            summary=f"Import resolving reply {reply['message_id']} into ticket {t_no}",
            actor=company,
            where=f"{where} agentURL",
            messages=1,
        )


def _count(record: Any) -> int:
    """Source messages in a conversation that could not be imported (for the summary)."""
    if not isinstance(record, dict):
        return 0
    turns = record.get("dialogContent")
    return (len(turns) if isinstance(turns, list) else 0) + (1 if record.get("agentURL") else 0)


IMPORTER = TwitterCareImporter()
