"""Import a Trello board export (issue 6, importer 4).

Source: Trello's "Export JSON" of a board, one JSON object: ``name``, ``lists``
(``id, name``), ``members`` (``id, username, fullName``), ``cards`` (``id, idShort, name,
desc, idList, idMembers, shortUrl, …``) and ``actions`` (``id, type, date,
idMemberCreator, memberCreator, data{card, list, listBefore, listAfter, text, …}``;
Trello keeps at most the last 1,000 actions of a board).

Mapping, one ticket per card of ``cards``:

- T_NO ``TR-<board shortLink>-<card idShort>`` (readable and unique across boards);
  ``client_name`` = the card's name (Trello has no customer field; the card names the
  request), ``company_name`` and ``trello_template`` = the board's name, E platform
  ``trello``. The ticket is created at the card's creation time (its ``createCard``
  action, else the time encoded in the card id) in the stage of the list it was
  created in; a non-empty description becomes the first external message
  (``<card id>:desc``, sender the card's creator as ``cs_agent``).
- ``commentCard``: one external message each (``message_id`` = action id, ``sender``
  ``cs_agent`` — board members are the support team —, ``sender_id`` the member's
  username, ``content`` the comment text exactly, ``metadata.trello_card_id``; every
  other field of the action — type, ``memberCreator``, ``data`` without the text,
  ``limits``, … — plus the list's name in ``platform_specific``). The author joins
  ``participants.cs_agents``.
- ``updateCard`` with ``listBefore``/``listAfter`` (a list move): ``workflow_stage`` of T
  set to the stage of the new list (``resolved`` true in stage ``end``), and a progress
  update in I (``update_id`` = action id, ``status`` ``resolved`` in stage ``end`` else
  ``in_progress``, ``notes`` "Moved card from list 'A' to list 'B'").
- ``addMemberToCard``: the member joins ``cs_agents`` and becomes ``assigned_member``;
  a progress update (``status`` ``assigned``) records it.
- Every other action type, actions on cards not in the export, and board-level actions
  are reported as skipped with the reason.

Stage of a list (``workflow_stage``, seed 000 §3.1.3): ``stage_map`` (``--stage-map
LIST=STAGE``, exact list name) first; otherwise the first keyword rule that matches the
list's name, case-insensitively (``DEFAULT_STAGE_RULES``): *end* — done, closed,
complete, resolved, released, shipped, cancel, archive, 完了, クローズ, 中止; *action* —
progress, doing, working, review, qa, test, merge, 作業中; *selection* — to do, todo,
next, ready, planned, やること; *classifier* — triage, sort, classif; anything else
*trigger* (inbox, ideas, backlog, やりたいこと…).

Bad input: a file that is not one complete JSON object is reported with line and
column (nothing is imported: the board is a single record); a malformed action stops
the import with its index after the cards and the actions before it are imported.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

from gitstore.agents.workflow import SEED000_WORKFLOW
from gitstore.errors import ImportFormatError, ValidationError
from gitstore.timeutil import format_utc, parse_utc
from gitstore.importers.base import ImportEvent, Importer, ImportSummary, source_file

STAGES = tuple(SEED000_WORKFLOW["stages"])

DEFAULT_STAGE_RULES: list[tuple[str, re.Pattern]] = [
    ("end", re.compile(r"done|closed|complete|resolved|released|shipped|cancel|archive|完了|クローズ|中止", re.I)),
    ("action", re.compile(r"progress|doing|working|review|\bqa\b|test|merge|作業中", re.I)),
    ("selection", re.compile(r"to ?do|next|ready|planned|やること", re.I)),
    ("classifier", re.compile(r"triage|sort|classif", re.I)),
]
"""Default list-name rules, in order; a list that matches none is stage ``trigger``."""


def parse_stage_map(pairs: tuple[str, ...] | list[str]) -> dict[str, str]:
    """Parse ``LIST=STAGE`` strings.

    Raises:
        ValidationError: no ``=``, an empty list name, or a stage outside seed 000's
            ``trigger|classifier|selection|action|end``.
    """
    mapping = {}
    for pair in pairs:
        name, sep, stage = pair.rpartition("=")
        if not sep or not name.strip() or stage.strip() not in STAGES:
            raise ValidationError(f"stage map {pair!r}: expected LIST=STAGE with STAGE one of {', '.join(STAGES)}")
        mapping[name.strip()] = stage.strip()
    return mapping


def load_board(path: Path) -> dict:
    """Read a board export file.

    Raises:
        ImportFormatError: missing file, invalid UTF-8, malformed or truncated JSON
            (line and column), or not a board object.
    """
    path = source_file(path, "*.json", "board .json file")
    try:
        board = json.loads(path.read_bytes().decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ImportFormatError(f"{path}: invalid UTF-8 at byte {exc.start}") from None
    except json.JSONDecodeError as exc:
        raise ImportFormatError(f"{path}: malformed or truncated JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from None
    if not isinstance(board, dict) or not isinstance(board.get("cards"), list) or not isinstance(board.get("actions"), list):
        raise ImportFormatError(f"{path}: not a Trello board export (no 'cards' and 'actions' arrays)")
    board["_path"] = str(path)
    return board


def _id_time(trello_id: str) -> datetime:
    """The creation time Trello encodes in an object id (its first 8 hex digits)."""
    return datetime.fromtimestamp(int(trello_id[:8], 16), timezone.utc)


class TrelloImporter(Importer):
    """Importer for a Trello board export (see module doc).

    Args:
        stage_map: list name → workflow stage, before the default rules.
    """

    kind = "trello"

    def __init__(self, stage_map: dict[str, str] | None = None):
        self.stage_map = dict(stage_map or {})

    def stage(self, list_name: str) -> str:
        """Return the workflow stage of a list (``stage_map``, then the default rules)."""
        if list_name in self.stage_map:
            return self.stage_map[list_name]
        for stage, rule in DEFAULT_STAGE_RULES:
            if rule.search(list_name or ""):
                return stage
        return "trigger"

    def events(self, source: Path, summary: ImportSummary) -> Iterator[ImportEvent]:
        board = load_board(source)
        path = board["_path"]
        lists = {l.get("id"): l.get("name", "") for l in board.get("lists", []) if isinstance(l, dict)}
        members = {m.get("id"): m for m in board.get("members", []) if isinstance(m, dict)}
        short = board.get("shortLink") or str(board.get("id", "board"))[:8]
        cards = {}
        for index, card in enumerate(board["cards"]):
            if not isinstance(card, dict) or not card.get("id") or "idShort" not in card:
                raise ImportFormatError(f"{path}: card {index}: malformed card (no id/idShort)")
            cards[card["id"]] = card
        created_by: dict[str, dict] = {}
        oldest_move: dict[str, tuple[str, str]] = {}
        for action in board["actions"]:
            if not isinstance(action, dict):
                continue
            card_id = ((action.get("data") or {}).get("card") or {}).get("id")
            if action.get("type") == "createCard" and card_id:
                created_by[card_id] = action
            before = (action.get("data") or {}).get("listBefore")
            if card_id and isinstance(before, dict) and str(action.get("date", "")) < oldest_move.get(card_id, ("\uffff", ""))[0]:
                oldest_move[card_id] = (str(action.get("date", "")), before.get("name", ""))
        first_list = {card_id: name for card_id, (_, name) in oldest_move.items()}
        for card in cards.values():
            yield self._creation(board, short, card, created_by.get(card["id"]), first_list, lists, members)
        for index, action in enumerate(board["actions"]):
            where = f"{path}: action {index}"
            try:
                event = self._action(board, short, action, cards, lists, members, where, summary)
            except (KeyError, TypeError, ValueError, AttributeError) as exc:
                raise ImportFormatError(f"{where}: malformed action ({type(exc).__name__}: {exc})") from None
            if event is not None:
                yield event

    def _t_no(self, short: str, card: dict) -> str:
        return f"TR-{short}-{card['idShort']}"

    def _create(self, board: dict, card: dict) -> dict:
        return {
            "client_name": str(card.get("name") or card["id"]),
            "company_name": str(board.get("name") or "Trello"),
            "platform": "trello",
            "trello_template": str(board.get("name") or "") or None,
            "contact_info": {"trello_card_url": card.get("shortUrl") or card.get("url") or ""},
        }

    def _creation(self, board, short, card, action, first_list, lists, members) -> ImportEvent:
        t_no = self._t_no(short, card)
        if action is not None:
            when = parse_utc(action["date"])
            creator = (action.get("memberCreator") or {}).get("username") or members.get(action.get("idMemberCreator"), {}).get("username")
            list_name = ((action.get("data") or {}).get("list") or {}).get("name")
        else:
            when = _id_time(card["id"])
            creator = None
            list_name = None
        if list_name is None:
            list_name = first_list.get(card["id"], lists.get(card.get("idList"), ""))
        stage = self.stage(list_name)
        update: dict[str, Any] = {}
        ids: tuple[str, ...] = ()
        known = {"desc", "name", "id", "idShort"}
        platform_specific = {k: v for k, v in card.items() if k not in known}
        platform_specific.update({"card_name": card.get("name"), "id_short": card.get("idShort"), "list": list_name})
        if card.get("desc"):
            message = {
                "message_id": f"{card['id']}:desc",
                "timestamp": format_utc(when),
                "sender": "cs_agent",
                "sender_id": creator or "trello",
                "content": card["desc"],
                "metadata": {"trello_card_id": card["id"], "platform_specific": platform_specific},
            }
            update = {"E": {"messages": [message]}}
            ids = (message["message_id"],)
        return ImportEvent(
            t_no=t_no,
            when=when,
            update=update,
            ids=ids,
            create=self._create(board, card),
            create_update={"T": {"workflow_stage": stage, "resolved": stage == "end"}},
            summary=f"Import Trello card {card.get('shortLink') or card['id']} as ticket {t_no}",
            actor=creator,
            where=f"{board['_path']}: card {card['id']}",
            messages=len(ids),
            cs_agents=(creator,) if creator else (),
        )

    def _action(self, board, short, action, cards, lists, members, where, summary) -> ImportEvent | None:
        kind = action["type"]
        data = action.get("data") or {}
        card_ref = data.get("card")
        if kind == "createCard":
            return None  # the card's creation event
        if not isinstance(card_ref, dict):
            summary.skipped.append((where, f"{kind}: a board-level action, not about a card"))
            return None
        card = cards.get(card_ref.get("id"))
        if card is None:
            summary.skipped.append((where, f"{kind}: card {card_ref.get('id')} is not in the export"))
            if kind == "commentCard":
                summary.messages_read += 1
            return None
        when = parse_utc(action["date"])
        t_no = self._t_no(short, card)
        member = action.get("memberCreator") or members.get(action.get("idMemberCreator")) or {}
        username = member.get("username") or action.get("idMemberCreator") or "trello"
        base = dict(
            t_no=t_no, when=when, ids=(action["id"],), create=self._create(board, card),
            actor=username, where=where,
        )
        if kind == "commentCard":
            message = {
                "message_id": action["id"],
                "timestamp": format_utc(when),
                "sender": "cs_agent",
                "sender_id": username,
                "content": data["text"],
                "metadata": {
                    "trello_card_id": card["id"],
                    "platform_specific": {
                        **{k: v for k, v in action.items() if k not in ("id", "date", "data")},
                        "data": {k: v for k, v in data.items() if k != "text"},
                        "list": (data.get("list") or {}).get("name"),
                        "member_full_name": member.get("fullName"),
                        "card_name": card_ref.get("name"),
                    },
                },
            }
            return ImportEvent(
                **base, update={"E": {"messages": [message]}}, messages=1, cs_agents=(username,),
                summary=f"Import Trello comment {action['id']} into ticket {t_no}",
            )
        if kind == "updateCard" and isinstance(data.get("listAfter"), dict):
            before = (data.get("listBefore") or {}).get("name", "")
            after = data["listAfter"].get("name", "")
            stage = self.stage(after)
            progress = {
                "update_id": action["id"],
                "timestamp": format_utc(when),
                "updater": username,
                "status": "resolved" if stage == "end" else "in_progress",
                "notes": f"Moved card from list '{before}' to list '{after}'",
            }
            return ImportEvent(
                **base,
                update={"T": {"workflow_stage": stage, "resolved": stage == "end"}, "I": {"progress_updates": [progress]}},
                summary=f"Move Trello card to list '{after}' (stage {stage}) in ticket {t_no}"[:200],
            )
        if kind == "addMemberToCard":
            added = (data.get("member") or {}).get("username") or members.get(data.get("idMember"), {}).get("username") or data.get("idMember")
            if not added:
                raise ValueError("addMemberToCard without a member")
            progress = {
                "update_id": action["id"],
                "timestamp": format_utc(when),
                "updater": username,
                "status": "assigned",
                "notes": f"Added {added} to the card",
            }
            return ImportEvent(
                **base,
                update={"T": {"assigned_member": added}, "I": {"progress_updates": [progress]}},
                cs_agents=(added,),
                summary=f"Assign {added} to ticket {t_no} (Trello)",
            )
        if kind == "updateCard":
            changed = ", ".join(sorted((data.get("old") or {}).keys())) or "unknown fields"
            summary.skipped.append((where, f"updateCard of {changed}: only list moves of a card are imported"))
        else:
            summary.skipped.append((where, f"{kind}: Trello action type not imported"))
        return None


def make_importer(stage_map: tuple[str, ...] = ()) -> TrelloImporter:
    """Return a Trello importer for ``--stage-map LIST=STAGE`` pairs.

    Raises:
        ValidationError: a malformed pair or unknown stage.
    """
    return TrelloImporter(parse_stage_map(stage_map))


IMPORTER = TrelloImporter()
