"""Import ABCD, the Action-Based Conversations Dataset (docs/importers.md "abcd").

Source (the data set's README): a JSON array of conversations — or, as in the full
``abcd_v1.1.json``, an object whose values (``train``, ``dev``, ``test``) are such
arrays —, each with ``convo_id``, ``scenario`` (``personal``: customer_name, email,
member_level, phone, username; ``order``; ``product``; ``flow`` and ``subflow``, the
customer's true intent), ``original`` (turns ``[speaker, text]``, speaker ``agent``,
``customer`` or ``action``: a button the agent pressed in the agent tool) and
``delexed`` (the same turns with ``targets`` ``[intent, nextstep, action, values,
utterance_rank]``). A folder is read as its one ``abcd*.json`` file (``kb.json`` and
``ontology.json`` are reference tables, not conversations).

Mapping, one ticket per conversation, one commit per turn:

- T_NO ``ABCD-<convo_id>``; ``client_name`` the scenario's ``customer_name``;
  ``company_name`` empty (the data set names no company); ``contact_info`` the
  customer's ``email``, ``phone`` and ``username``; E platform ``web_chat`` (the
  dialogues are a live chat); no internal channel (T ``channel`` null).
- ``customer`` and ``agent`` turns are external messages: ``message_id``
  ``<convo_id>:<turn index>`` (from 0, the position in ``original``), ``sender``
  ``customer`` (``sender_id`` the customer's username) or ``cs_agent`` (``agent``),
  ``content`` the original text exactly; ``platform_specific`` holds the turn's
  ``targets``, ``flow`` and ``subflow``; the first message also the whole
  ``scenario`` (customer details, order, product).
- ``action`` turns are agent decisions in T: ``decision_id`` ``<convo_id>:<turn
  index>``, agent ``updates`` (the actions change the back end: pull up an account,
  validate a purchase, notify a team), ``decision`` = the button (``action``, e.g.
  ``pull-up-account``), its ``values``, the tool's ``text`` exactly, ``intent`` and
  ``nextstep``; ``confidence`` 1.0 and ``human_confirmed`` true (a person pressed it).
- **Times**: ABCD has none. They are synthesised, deterministically, as for SGD:
  conversation ``n`` starts at ``start`` (``--start``, default 2020-01-01T00:00:00Z) +
  n hours, turn k is k·30 seconds later; every message says so
  (``platform_specific.synthetic_time`` true, ``time_source`` ``synthetic``).

Bad input: a conversation that cannot be read (a missing field, an unknown speaker)
is skipped with its record number, convo_id and reason; the others are imported. A
file that is not JSON stops the import.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Iterator

from gitstore.errors import ImportFormatError
from gitstore.importers.base import (
    RECORD_ERRORS,
    Importer,
    ImportEvent,
    ImportSummary,
    iter_json_array,
    record_problem,
    source_file,
    synthetic_clock,
)
from gitstore.timeutil import format_utc, parse_utc

DEFAULT_START = "2020-01-01T00:00:00Z"
SPEAKERS = {"customer": "customer", "agent": "cs_agent"}
"""ABCD speaker → E ``sender`` (``action`` turns are decisions, not messages)."""


def read_conversations(path: Path) -> Iterator[tuple[str, Any]]:
    """Yield ``(position, conversation)`` of an ABCD file (an array, or an object of arrays).

    Raises:
        ImportFormatError: not JSON, truncated, or neither shape.
    """
    head = path.read_bytes()[:4096].lstrip()
    if head.startswith(b"["):
        for index, record in iter_json_array(path):
            yield f"{path}#record {index}", record
        return
    try:
        data = json.loads(path.read_bytes().decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ImportFormatError(f"{path}: invalid UTF-8 at byte {exc.start}") from None
    except json.JSONDecodeError as exc:
        raise ImportFormatError(f"{path}: malformed or truncated JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from None
    if not isinstance(data, dict) or not all(isinstance(v, list) for v in data.values()):
        raise ImportFormatError(f"{path}: not an ABCD file (a JSON array of conversations, or an object of such arrays)")
    for split, records in data.items():
        for index, record in enumerate(records):
            yield f"{path}#{split} record {index}", record


class AbcdImporter(Importer):
    """Importer for ABCD conversation files (see module doc).

    Args:
        start: ISO 8601 time (with zone) the synthetic clock starts at.

    Raises:
        ValueError: ``start`` is not an ISO 8601 time with a zone.
    """

    kind = "abcd"

    def __init__(self, start: str = DEFAULT_START):
        self.start = parse_utc(start)

    def events(self, source: Path, summary: ImportSummary) -> Iterator[ImportEvent]:
        path = source_file(source, "abcd*.json", "abcd*.json conversations file")
        for where, record in read_conversations(path):
            try:
                events = list(self._conversation(record, where))
            except RECORD_ERRORS as exc:
                ident = record.get("convo_id") if isinstance(record, dict) else None
                turns = record.get("original") if isinstance(record, dict) else None
                count = sum(1 for t in turns if isinstance(t, list) and t and t[0] in SPEAKERS) if isinstance(turns, list) else 0
                summary.skip(where, ident, f"conversation not imported: {record_problem(exc)}", count)
                continue
            yield from events

    def _conversation(self, record: dict, where: str) -> Iterator[ImportEvent]:
        convo = record["convo_id"]
        if isinstance(convo, bool) or not str(convo).strip().isdigit():
            raise ValueError(f"convo_id {convo!r} is not a number")
        convo = int(str(convo).strip())
        scenario = record.get("scenario") or {}
        personal = scenario.get("personal") or {}
        turns = record["original"]
        if not isinstance(turns, list) or not turns:
            raise ValueError("no turns in 'original'")
        delexed = record.get("delexed") or []
        t_no = f"ABCD-{convo}"
        customer_id = str(personal.get("username") or personal.get("customer_name") or "customer")
        contact = {k: personal[k] for k in ("email", "phone", "username") if personal.get(k)}
        create = {
            "client_name": str(personal.get("customer_name") or customer_id),
            "company_name": "",
            "platform": "web_chat",
            "channel": None,
            "contact_info": contact,
        }
        start = self.start + timedelta(hours=convo)
        flow = {"flow": scenario.get("flow"), "subflow": scenario.get("subflow")}
        built = []
        first_message = True
        for number, turn in enumerate(turns):
            if not isinstance(turn, list) or len(turn) != 2 or not isinstance(turn[1], str):
                raise ValueError(f"turn {number}: expected [speaker, text]")
            speaker, text = turn
            when = start + timedelta(seconds=30 * number)
            labels = delexed[number] if number < len(delexed) and isinstance(delexed[number], dict) else {}
            if labels and labels.get("speaker") not in (None, speaker):
                raise ValueError(f"turn {number}: 'delexed' has speaker {labels.get('speaker')!r}, 'original' {speaker!r}")
            targets = labels.get("targets") or []
            turn_id = f"{convo}:{number}"
            if speaker == "action":
                update = {"T": {"agent_decisions": [self._decision(turn_id, text, targets, flow, when)]}}
                messages = 0
            elif speaker in SPEAKERS:
                platform_specific: dict[str, Any] = {
                    "convo_id": convo, "turn": number, "speaker": speaker, "targets": targets,
                    **flow, "synthetic_time": True, "time_source": "synthetic",
                }
                if first_message:
                    platform_specific["scenario"] = scenario
                    first_message = False
                message = {
                    "message_id": turn_id,
                    "timestamp": format_utc(when),
                    "sender": SPEAKERS[speaker],
                    "sender_id": customer_id if speaker == "customer" else "agent",
                    "content": text,
                    "metadata": {"platform_specific": platform_specific},
                }
                update = {"E": {"messages": [message]}}
                messages = 1
            else:
                raise ValueError(f"turn {number}: unknown speaker {speaker!r}")
            built.append(
                ImportEvent(
                    t_no=t_no,
                    when=when,
                    update=update,
                    ids=(turn_id,),
                    create=create,
                    summary=f"Import ABCD turn {number} ({speaker}) into ticket {t_no}",
                    actor="abcd-customer" if speaker == "customer" else "abcd-agent",
                    where=f"{where} turn {number}",
                    messages=messages,
                    cs_agents=("agent",) if speaker != "customer" else (),
                )
            )
        yield from built

    @staticmethod
    def _decision(turn_id: str, text: str, targets: list, flow: dict, when: datetime) -> dict:
        targets = list(targets) + [None] * (5 - len(targets))
        values = targets[3] if isinstance(targets[3], list) else []
        return {
            "decision_id": turn_id,
            "agent": "updates",
            "timestamp": format_utc(when),
            "decision": {
                "action": targets[2],
                "values": values,
                "text": text,
                "intent": targets[0],
                "nextstep": targets[1],
                **flow,
            },
            "confidence": 1.0,
            "human_confirmed": True,
        }


def make_importer(start: str = DEFAULT_START) -> AbcdImporter:
    """Return an ABCD importer whose synthetic clock starts at ``start``.

    Raises:
        ValidationError: ``start`` is not an ISO 8601 time with a zone.
    """
    return synthetic_clock(AbcdImporter, start)


IMPORTER = AbcdImporter()
