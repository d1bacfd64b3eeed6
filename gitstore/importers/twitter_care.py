"""Import the IBM Twitter customer-care conversations (``../shared/data/twitter_customer_care_ibm``).

Source format (the data set's README): one JSON array of conversations, each with
``dialogHeader`` (``company``, ``conversationDateTime``, ``duration``, ``sessionID``),
``dialogContent`` (turns: a customer handle under ``client``/``client1``…, or the
support account under ``agent``; ``datetime``, ``message``, ``tweet_ID``) and
``agentURL`` (the agent's resolving reply: ``tweet_ID``, ``url_utterance``, ``url``,
``doc_id``, ``turn``; it has no time of its own).

Mapping, one ticket per conversation:

- T_NO = ``TW-<sessionID>``; platform ``web_chat``; ``client_name`` = the first
  customer handle; ``company_name`` = the support account the customer wrote to
  (``dialogHeader.company``); ``card_create_timestamp`` = ``conversationDateTime``.
- Each turn is one external message (``message_id`` = ``tweet_ID``, original time,
  text kept exactly), one commit with the tweet's time as author date. The first turn's
  commit creates the ticket.
- The resolving reply (``agentURL``) is the last message, timed
  ``conversationDateTime + duration`` (the data's only time for it); its commit also
  records what the data says of the outcome: ``resolved`` true, ``conversation_status``
  resolved, ``workflow_stage`` end, ``assigned_member`` = the support account. Its
  ``url``/``doc_id``/``turn`` go to ``metadata.platform_specific``.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Iterator

from gitstore.errors import ImportFormatError
from gitstore.timeutil import parse_utc
from gitstore.importers.base import ImportEvent, Importer, ImportSummary, iter_json_array


def _duration(text: str) -> timedelta:
    hours, minutes, seconds = text.split(":")
    return timedelta(hours=int(hours), minutes=int(minutes), seconds=float(seconds))


class TwitterCareImporter(Importer):
    """Importer for the IBM customer-care conversation set (``dev.json``/``test.json``)."""

    kind = "twitter-care"

    def events(self, source: Path, summary: ImportSummary) -> Iterator[ImportEvent]:
        if source.is_dir():
            source = source / "dev.json"
        if not source.is_file():
            raise ImportFormatError(f"{source}: no such file")
        for index, record in iter_json_array(source):
            try:
                events = list(self._conversation(record))
            except (KeyError, TypeError, ValueError, AttributeError) as exc:
                raise ImportFormatError(f"{source}: record {index}: malformed conversation ({type(exc).__name__}: {exc})") from None
            yield from events

    def _conversation(self, record: dict) -> Iterator[ImportEvent]:
        header = record["dialogHeader"]
        t_no = f"TW-{header['sessionID']}"
        company = header["company"]
        turns = record["dialogContent"]
        customer = next(
            (turn[k] for turn in turns for k in turn if k.startswith("client")), "unknown customer"
        )
        started = parse_utc(header["conversationDateTime"])
        create = {
            "client_name": customer,
            "company_name": company,
            "platform": "web_chat",
            "contact_info": {"twitter": customer},
        }
        for position, turn in enumerate(turns):
            handle_key = next(k for k in turn if k.startswith("client") or k == "agent")
            is_agent = handle_key == "agent"
            message = {
                "message_id": str(turn["tweet_ID"]),
                "timestamp": turn["datetime"],
                "sender": "cs_agent" if is_agent else "customer",
                "sender_id": turn[handle_key],
                "content": turn["message"],
                "metadata": {"platform_specific": {"twitter_session": header["sessionID"], "turn": position}},
            }
            update: dict = {"E": {"messages": [message]}}
            if is_agent:
                update["E"]["participants"] = {
                    "customer": {"client_name": customer, "company_name": company, "contact_info": {"twitter": customer}},
                    "cs_agents": [turn[handle_key]],
                }
            yield ImportEvent(
                t_no=t_no,
                when=parse_utc(turn["datetime"]),
                update=update,
                ids=(message["message_id"],),
                create=create,
                summary=f"Import tweet {message['message_id']} into ticket {t_no}",
                actor=turn[handle_key],
            )
        final = record["agentURL"]
        when = started + _duration(header["duration"])
        reply = {
            "message_id": str(final["tweet_ID"]),
            "timestamp": when.isoformat(),
            "sender": "cs_agent",
            "sender_id": company,
            "content": final["url_utterance"],
            "metadata": {
                "platform_specific": {
                    "twitter_session": header["sessionID"],
                    "turn": int(final["turn"]),
                    "url": final["url"],
                    "doc_id": final["doc_id"],
                }
            },
        }
        yield ImportEvent(
            t_no=t_no,
            when=when,
            update={
                "E": {
                    "messages": [reply],
                    "conversation_status": "resolved",
                    "participants": {
                        "customer": {"client_name": customer, "company_name": company, "contact_info": {"twitter": customer}},
                        "cs_agents": [company],
                    },
                },
                "T": {"resolved": True, "workflow_stage": "end", "assigned_member": company},
            },
            ids=(reply["message_id"],),
            create=create,
            summary=f"Import resolving reply {reply['message_id']} into ticket {t_no}",
            actor=company,
        )


IMPORTER = TwitterCareImporter()
