"""Import Schema-Guided Dialogue (SGD) task dialogues (docs/importers.md "sgd").

Source: ``dialogues_NNN.json`` files (a JSON array of dialogues: ``dialogue_id``,
``services``, ``turns``; each turn ``speaker`` USER/SYSTEM, ``utterance``, ``frames``
with ``service``, ``actions``, ``slots``, on USER turns ``state``, on some SYSTEM turns
``service_call`` and ``service_results``). A folder is read as its ``dialogues_*.json``
files in name order (``schema.json`` is not a dialogue file).

Mapping, one ticket per dialogue, one commit per turn:

- T_NO ``SGD-<dialogue_id>``; ``client_name`` ``SGD user <dialogue_id>``;
  ``company_name`` the dialogue's services joined with ``, ``; E platform ``web_chat``;
  no internal channel (T ``channel`` null, I ``platforms`` empty).
- Each turn is an external message: ``message_id`` ``<dialogue_id>:<turn index>``,
  ``sender`` ``customer`` (USER) or ``cs_agent`` (SYSTEM), ``sender_id`` ``user`` or
  ``system``, ``content`` the utterance exactly; each frame's ``slots`` spans go to
  ``metadata.platform_specific``.
- Each frame of a turn is an agent decision in T (``agent_decisions``,
  docs/data-model.md): ``decision_id`` ``<dialogue_id>:<turn>:<service>``; on USER
  turns agent ``classifier`` (the labelled dialogue state is the intent
  classification: ``active_intent``, ``requested_slots``, ``slot_values`` and the
  user's ``actions``), on SYSTEM turns agent ``updates`` when the frame has a
  ``service_call`` (the back-end call with its ``service_results``) and ``selector``
  otherwise (the chosen system ``actions``). ``confidence`` 1.0 and
  ``human_confirmed`` true: the labels are human annotations.
- **Times**: SGD has none. They are synthesised, deterministically: dialogue
  ``<n>_<m>`` (e.g. ``1_00012``) starts at ``start`` (default 2019-01-01T00:00:00Z) +
  ((n−1)·100000 + m) hours, and turn k is k·30 seconds later (an id of another shape uses its
  position in the file). ``platform_specific.synthetic_time`` marks every message and
  ``time_source`` says ``synthetic``.

Bad input: a dialogue that cannot be read (a missing field, an unknown speaker) is
skipped with its record number, dialogue id and reason; the others are imported. A
truncated or malformed file stops the import with file, line, column and record
number after the dialogues before it are imported.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from pathlib import Path
from typing import Iterator

from gitstore.errors import ImportFormatError
from gitstore.importers.base import (
    RECORD_ERRORS,
    Importer,
    ImportEvent,
    ImportSummary,
    iter_json_array,
    record_problem,
    synthetic_clock,
)
from gitstore.timeutil import format_utc, parse_utc

DEFAULT_START = "2019-01-01T00:00:00Z"
_ID_RE = re.compile(r"^(\d+)_(\d+)$")


class SgdImporter(Importer):
    """Importer for SGD dialogue files (see module doc).

    Args:
        start: ISO 8601 time (with zone) the synthetic clock starts at.

    Raises:
        ValueError: ``start`` is not an ISO 8601 time with a zone.
    """

    kind = "sgd"

    def __init__(self, start: str = DEFAULT_START):
        self.start = parse_utc(start)

    def files(self, source: Path) -> list[Path]:
        """The dialogue files of a source file or folder.

        Raises:
            ImportFormatError: nothing to read there.
        """
        if source.is_dir():
            found = sorted(p for p in source.rglob("dialogues_*.json") if p.is_file())
            if not found:
                raise ImportFormatError(f"{source}: no dialogues_*.json files in the folder")
            return found
        if not source.is_file():
            raise ImportFormatError(f"{source}: no such file or folder")
        return [source]

    def events(self, source: Path, summary: ImportSummary) -> Iterator[ImportEvent]:
        for path in self.files(source):
            for index, dialogue in iter_json_array(path):
                where = f"{path}#record {index}"
                try:
                    events = list(self._dialogue(dialogue, index, where))
                except RECORD_ERRORS as exc:
                    ident = dialogue.get("dialogue_id") if isinstance(dialogue, dict) else None
                    turns = dialogue.get("turns") if isinstance(dialogue, dict) else None
                    count = len(turns) if isinstance(turns, list) else 0
                    summary.skip(where, ident, f"dialogue not imported: {record_problem(exc)}", count)
                    continue
                yield from events

    def _start_of(self, dialogue_id: str, index: int) -> datetime:
        match = _ID_RE.match(dialogue_id)
        hours = (int(match.group(1)) - 1) * 100000 + int(match.group(2)) if match else index
        return self.start + timedelta(hours=hours)

    def _dialogue(self, dialogue: dict, index: int, where: str) -> Iterator[ImportEvent]:
        dialogue_id = str(dialogue["dialogue_id"])
        t_no = f"SGD-{dialogue_id}"
        services = [str(s) for s in dialogue.get("services", [])]
        start = self._start_of(dialogue_id, index)
        create = {
            "client_name": f"SGD user {dialogue_id}",
            "company_name": ", ".join(services) or "SGD",
            "platform": "web_chat",
            "channel": None,
        }
        for number, turn in enumerate(dialogue["turns"]):
            when = start + timedelta(seconds=30 * number)
            speaker = turn["speaker"]
            if speaker not in ("USER", "SYSTEM"):
                raise ValueError(f"turn {number}: unknown speaker {speaker!r}")
            is_user = speaker == "USER"
            message = {
                "message_id": f"{dialogue_id}:{number}",
                "timestamp": format_utc(when),
                "sender": "customer" if is_user else "cs_agent",
                "sender_id": "user" if is_user else "system",
                "content": turn["utterance"],
                "metadata": {
                    "platform_specific": {
                        "dialogue_id": dialogue_id,
                        "turn": number,
                        "speaker": speaker,
                        "slots": {f["service"]: f.get("slots", []) for f in turn["frames"]},
                        "synthetic_time": True,
                        "time_source": "synthetic",
                    }
                },
            }
            decisions = [self._decision(dialogue_id, number, frame, is_user, when) for frame in turn["frames"]]
            update: dict = {"E": {"messages": [message]}}
            if decisions:
                update["T"] = {"agent_decisions": decisions}
            yield ImportEvent(
                t_no=t_no,
                when=when,
                update=update,
                ids=(message["message_id"], *(d["decision_id"] for d in decisions)),
                create=create,
                summary=f"Import SGD turn {number} ({speaker.lower()}) into ticket {t_no}",
                actor="sgd-user" if is_user else "sgd-system",
                where=f"{where} turn {number}",
                messages=1,
            )

    def _decision(self, dialogue_id: str, number: int, frame: dict, is_user: bool, when: datetime) -> dict:
        service = str(frame["service"])
        decision: dict = {"service": service, "actions": frame.get("actions", [])}
        if is_user:
            agent = "classifier"
            decision.update(frame.get("state") or {})
        elif "service_call" in frame:
            agent = "updates"
            decision["service_call"] = frame["service_call"]
            decision["service_results"] = frame.get("service_results", [])
        else:
            agent = "selector"
        return {
            "decision_id": f"{dialogue_id}:{number}:{service}",
            "agent": agent,
            "timestamp": format_utc(when),
            "decision": decision,
            "confidence": 1.0,
            "human_confirmed": True,
        }


def make_importer(start: str = DEFAULT_START) -> SgdImporter:
    """Return an SGD importer whose synthetic clock starts at ``start``.

    Raises:
        ValidationError: ``start`` is not an ISO 8601 time with a zone.
    """
    return synthetic_clock(SgdImporter, start)


IMPORTER = SgdImporter()
