"""Import a Trello board export (docs/importers.md "trello").

Source: Trello's "Export JSON" of a board, one JSON object: ``name``, ``lists``
(``id, name``), ``members`` (``id, username, fullName``), ``cards`` (``id, idShort, name,
desc, idList, idMembers, closed, attachments, shortUrl, …``) and ``actions`` (``id,
type, date, idMemberCreator, memberCreator, data{card, list, listBefore, listAfter,
text, old, attachment, …}``; Trello keeps at most the last 1,000 actions of a board).

Mapping, one ticket per card of ``cards``:

- T_NO ``TR-<board shortLink>-<card idShort>`` (readable and unique across boards);
  ``client_name`` = the card's name (Trello has no customer field; the card names the
  request), ``company_name`` and ``trello_template`` = the board's name, E platform
  ``trello``, no internal channel (T ``channel`` null, I ``platforms`` empty). The
  ticket is created at the card's creation (its ``createCard`` action — or
  ``convertToCardFromCheckItem``, ``copyCard``, ``emailCard`` —, else the time
  encoded in the card id) in the stage of the list it was created in. Board members
  map to ``participants.cs_agents``: the card's creator and members, and everyone who
  comments, attaches or is added.
- **Description**: an external message belonging to the action that wrote it: each
  ``updateCard`` of ``desc`` is a message of its own (``message_id`` the action id,
  its time and member), so later edits are kept. A description the first recorded
  edit replaces, or one no action records, was written when the card was created:
  message ``<card id>:desc`` at the creation time, by the creator.
  ``platform_specific.time_source`` says which (``action``, ``card creation``).
- ``commentCard``: one external message each (``message_id`` = action id, ``sender``
  ``cs_agent`` — board members are the support team —, ``sender_id`` the member's
  username, ``content`` the comment text exactly, ``metadata.trello_card_id``; every
  other field of the action — type, ``memberCreator``, ``data`` without the text,
  ``limits``, … — plus the list's name in ``platform_specific``).
- **Attachments**: ``addAttachmentToCard`` is an external message (empty ``content``)
  whose ``attachments`` holds the file: name, URL, size in bytes and MIME type where
  the export gives them (the card's ``attachments`` array completes the action's
  data); an attachment of the card's ``attachments`` that no action records is a
  message ``<card id>:attachment:<attachment id>`` at the attachment's ``date``.
- ``updateCard`` with ``listBefore``/``listAfter`` (a list move): ``workflow_stage`` of T
  set to the stage of the new list (``resolved`` true in stage ``end``), and a progress
  update in I (``update_id`` = action id, ``status`` ``resolved`` in stage ``end`` else
  ``in_progress``, ``notes`` "Moved card from list 'A' to list 'B'").
- ``addMemberToCard``: the member joins ``cs_agents`` and becomes ``assigned_member``;
  a progress update (``status`` ``assigned``) records it.
- **Archiving** (``updateCard`` of ``closed``): a progress update ("Archived the card"
  / "Sent the card back to the board"). A card archived in the export archives its
  ticket (T ``archived``); archived tickets are read-only, and Trello lets members
  edit archived cards, so the flag is set by the card's last imported event (the
  archiving itself when nothing follows it).
- Other card actions are progress updates that say what changed (``updateCard`` of
  ``name``, ``due``, ``dueComplete``, …; ``removeMemberFromCard``,
  ``deleteAttachmentFromCard``, checklist actions).
- Not imported, listed in the summary's ``ignored``: ``updateCard`` of only ``pos``
  or ``idAttachmentCover`` (a card's place in its list, its cover image) and
  board-level actions (lists, board settings, board members). Actions on cards that
  are not in the export are reported as skipped.

Stage of a list (``workflow_stage``): ``stage_map`` (``--stage-map
LIST=STAGE``, exact list name) first; otherwise the first keyword rule that matches the
list's name, case-insensitively (``DEFAULT_STAGE_RULES``): *end* — done, closed,
complete, resolved, released, shipped, cancel, archive, 完了, クローズ, 中止; *action* —
progress, doing, working, review, qa, test, merge, 作業中; *selection* — to do, todo,
next, ready, planned, やること; *classifier* — triage, sort, classif; anything else
*trigger* (inbox, ideas, backlog, やりたいこと…).

Bad input: a file that is not one complete JSON object is reported with line and
column (nothing is imported: the board is a single record); a malformed card or
action is skipped with its index, id and reason, and the rest is imported.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

from gitstore.errors import ImportFormatError, ValidationError
from gitstore.importers.base import RECORD_ERRORS, Importer, ImportEvent, ImportSummary, record_problem, source_file
from gitstore.tickets.policy import DEFAULT_WORKFLOW
from gitstore.timeutil import format_utc, parse_utc

STAGES = tuple(DEFAULT_WORKFLOW["stages"])

CREATION_TYPES = frozenset({"createCard", "convertToCardFromCheckItem", "copyCard", "emailCard"})
"""Action types that create a card (its creation time, creator and first list)."""

IGNORED_CARD_FIELDS = frozenset({"pos", "idAttachmentCover"})
"""``updateCard`` fields that are not ticket data (a card's place in its list, its cover)."""

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
        ValidationError: no ``=``, an empty list name, or a stage outside
            ``trigger|classifier|selection|action|end`` (docs/data-model.md).
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


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def _attachment(data: dict) -> dict:
    """An ``Attachment`` record of a Trello attachment object (name, URL, size, MIME)."""
    size = data.get("bytes")
    if isinstance(size, str) and size.isdigit():
        size = int(size)
    url = data.get("url")
    return {
        "name": str(data.get("name") or data.get("fileName") or url or data.get("id") or "attachment"),
        "content_type": data.get("mimeType") or None,
        "size": size if isinstance(size, int) and not isinstance(size, bool) and size >= 0 else None,
        "url": str(url) if url else None,
    }


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
        self._board = board
        self._lists = {item.get("id"): item.get("name", "") for item in board.get("lists", []) if isinstance(item, dict)}
        self._members = {m.get("id"): m for m in board.get("members", []) if isinstance(m, dict)}
        self._short = board.get("shortLink") or str(board.get("id", "board"))[:8]
        cards: dict[str, dict] = {}
        for index, card in enumerate(board["cards"]):
            if not isinstance(card, dict) or not card.get("id") or "idShort" not in card:
                card_id = card.get("id") if isinstance(card, dict) else None
                has_desc = isinstance(card, dict) and bool(card.get("desc"))
                summary.skip(f"{path}: card {index}", card_id, "malformed card (no id/idShort)", int(has_desc))
                continue
            cards[card["id"]] = card
        per_card: dict[str, list[tuple[datetime, str, dict]]] = {card_id: [] for card_id in cards}
        for index, action in enumerate(board["actions"]):
            where = f"{path}: action {index}"
            action_id = action.get("id") if isinstance(action, dict) else None
            try:
                if not isinstance(action, dict):
                    raise TypeError("an action is not a JSON object")
                kind = str(action["type"])
                when = parse_utc(str(action["date"]))
                str(action["id"])
            except RECORD_ERRORS as exc:
                summary.skip(where, action_id, f"malformed action ({record_problem(exc)})")
                continue
            card_ref = (action.get("data") or {}).get("card") if isinstance(action.get("data") or {}, dict) else None
            if not isinstance(card_ref, dict):
                summary.ignore(where, action_id, f"{kind}: a board-level action, not about a card")
                continue
            if card_ref.get("id") not in cards:
                summary.skip(where, action_id, f"{kind}: card {card_ref.get('id')} is not in the export", 1 if kind == "commentCard" else 0)
                continue
            per_card[card_ref["id"]].append((when, where, action))
        for card_id, card in cards.items():
            actions = sorted(per_card[card_id], key=lambda a: a[0])
            yield from self._card_events(card, actions, summary)

    # ------------------------------------------------------------------ one card
    def _t_no(self, card: dict) -> str:
        return f"TR-{self._short}-{card['idShort']}"

    def _create(self, card: dict) -> dict:
        board = self._board
        return {
            "client_name": str(card.get("name") or card["id"]),
            "company_name": str(board.get("name") or "Trello"),
            "platform": "trello",
            "channel": None,
            "trello_template": str(board.get("name") or "") or None,
            "contact_info": {"trello_card_url": card.get("shortUrl") or card.get("url") or ""},
        }

    def _username(self, member_id: Any, member: dict | None = None) -> str | None:
        member = member or self._members.get(member_id) or {}
        return member.get("username") or (str(member_id) if member_id else None)

    def _card_events(self, card: dict, actions: list[tuple[datetime, str, dict]], summary: ImportSummary) -> Iterator[ImportEvent]:
        creation = next((a for a in actions if a[2]["type"] in CREATION_TYPES), None)
        desc_actions = [a for a in actions if a[2]["type"] == "updateCard" and "desc" in ((a[2].get("data") or {}).get("old") or {})]
        try:
            first = self._creation(card, creation, desc_actions, actions)
        except RECORD_ERRORS as exc:
            comments = sum(1 for a in actions if a[2]["type"] == "commentCard")
            where = f"{self._board['_path']}: card {card.get('id')}"
            summary.skip(where, card.get("id"), f"card not imported: {record_problem(exc)}", comments + bool(card.get("desc")))
            return
        events = [first]
        covered_attachments: set[str] = set()
        for position, (when, where, action) in enumerate(actions):
            if action["type"] in CREATION_TYPES:
                if creation is None or action is not creation[2]:
                    summary.ignore(where, action["id"], f"{action['type']}: the card was created by an earlier action")
                continue
            try:
                event = self._action(card, when, where, action, desc_actions, summary, covered_attachments)
            except RECORD_ERRORS as exc:
                comment = int(action["type"] == "commentCard")
                summary.skip(where, action["id"], f"{action['type']}: malformed action ({record_problem(exc)})", comment)
                continue
            if event is not None:
                events.append(event)
        events += self._unrecorded_attachments(card, covered_attachments, first.when, summary)
        where = f"{self._board['_path']}: card {card['id']}"
        try:
            current = self._current_description(card, desc_actions, events)
        except RECORD_ERRORS as exc:
            summary.skip(where, card["id"], f"the card's current description: {record_problem(exc)}", 1)
            current = None
        if current is not None:
            events.append(current)
        events.sort(key=lambda e: e.when)  # stable: the creation stays first
        try:
            self._archive(card, events)
        except RECORD_ERRORS as exc:
            summary.skip(where, card["id"], f"the card's archived state: {record_problem(exc)}")
        yield from events

    def _creation(self, card, action, desc_actions, actions) -> ImportEvent:
        t_no = self._t_no(card)
        if action is not None:
            when = action[0]
            creator = self._username(action[2].get("idMemberCreator"), action[2].get("memberCreator"))
            list_name = ((action[2].get("data") or {}).get("list") or {}).get("name")
        else:
            when = _id_time(card["id"])
            if actions and actions[0][0] < when:  # an action before the id's second
                when = actions[0][0]
            creator = None
            list_name = None
        if list_name is None:
            moves = [a for a in actions if isinstance((a[2].get("data") or {}).get("listBefore"), dict)]
            list_name = moves[0][2]["data"]["listBefore"].get("name", "") if moves else self._lists.get(card.get("idList"), "")
        stage = self.stage(list_name)
        update: dict[str, Any] = {}
        ids: tuple[str, ...] = ()
        if desc_actions:
            text = str(((desc_actions[0][2].get("data") or {}).get("old") or {}).get("desc") or "")
            source = "card creation (the description the first recorded edit replaced)"
        else:
            text = str(card.get("desc") or "")
            source = "card creation (no action records the description)"
        if text:
            known = {"desc", "name", "id", "idShort", "attachments"}
            platform_specific = {k: v for k, v in card.items() if k not in known}
            platform_specific.update(
                {"card_name": card.get("name"), "id_short": card.get("idShort"), "list": list_name, "time_source": source}
            )
            message: dict[str, Any] = {
                "message_id": f"{card['id']}:desc",
                "timestamp": format_utc(when),
                "sender": "cs_agent",
                "sender_id": creator or "trello",
                "content": text,
                "metadata": {"trello_card_id": card["id"], "platform_specific": platform_specific},
            }
            update = {"E": {"messages": [message]}}
            ids = (message["message_id"],)
        agents = [creator] if creator else []
        agents += [u for u in (self._username(m) for m in card.get("idMembers") or []) if u]
        return ImportEvent(
            t_no=t_no,
            when=when,
            update=update,
            ids=ids,
            create=self._create(card),
            create_update={"T": {"workflow_stage": stage, "resolved": stage == "end"}},
            summary=f"Import Trello card {card.get('shortLink') or card['id']} as ticket {t_no}",
            actor=creator,
            where=f"{self._board['_path']}: card {card['id']}",
            messages=len(ids),
            cs_agents=tuple(dict.fromkeys(agents)),
        )

    def _message(self, card, when, action, username, member, content, attachments=(), time_source="action") -> dict:
        data = action.get("data") or {}
        return {
            "message_id": action["id"],
            "timestamp": format_utc(when),
            "sender": "cs_agent",
            "sender_id": username,
            "content": content,
            "attachments": list(attachments),
            "metadata": {
                "trello_card_id": card["id"],
                "platform_specific": {
                    **{k: v for k, v in action.items() if k not in ("id", "date", "data")},
                    "data": {k: v for k, v in data.items() if k != "text"},
                    "list": (data.get("list") or {}).get("name"),
                    "member_full_name": member.get("fullName"),
                    "card_name": (data.get("card") or {}).get("name"),
                    "time_source": time_source,
                },
            },
        }

    def _progress(self, when, action, username, notes, status="in_progress") -> dict:
        return {
            "update_id": action["id"],
            "timestamp": format_utc(when),
            "updater": username,
            "status": status,
            "notes": notes,
        }

    def _action(self, card, when, where, action, desc_actions, summary, covered_attachments) -> ImportEvent | None:
        kind = action["type"]
        data = action.get("data") or {}
        t_no = self._t_no(card)
        member = action.get("memberCreator") or self._members.get(action.get("idMemberCreator")) or {}
        username = self._username(action.get("idMemberCreator"), member) or "trello"
        base = dict(t_no=t_no, when=when, ids=(action["id"],), create=self._create(card), actor=username, where=where)
        if kind == "commentCard":
            text = data["text"]
            if not isinstance(text, str):
                raise TypeError("the comment text is not text")
            message = self._message(card, when, action, username, member, text)
            return ImportEvent(
                **base, update={"E": {"messages": [message]}}, messages=1, cs_agents=(username,),
                summary=f"Import Trello comment {action['id']} into ticket {t_no}",
            )
        if kind == "addAttachmentToCard":
            attachment = data["attachment"]
            if not isinstance(attachment, dict):
                raise TypeError("the attachment is not an object")
            on_card = next((a for a in card.get("attachments") or [] if isinstance(a, dict) and a.get("id") == attachment.get("id")), {})
            if attachment.get("id"):
                covered_attachments.add(str(attachment["id"]))
            message = self._message(card, when, action, username, member, "", [_attachment({**attachment, **on_card})])
            return ImportEvent(
                **base, update={"E": {"messages": [message]}}, messages=1, cs_agents=(username,),
                summary=f"Import Trello attachment {action['id']} into ticket {t_no}",
            )
        if kind == "addMemberToCard":
            added = (data.get("member") or {}).get("username") or self._username(data.get("idMember"), action.get("member"))
            if not added:
                raise ValueError("addMemberToCard without a member")
            progress = self._progress(when, action, username, f"Added {added} to the card", "assigned")
            return ImportEvent(
                **base,
                update={"T": {"assigned_member": added}, "I": {"progress_updates": [progress]}},
                cs_agents=(added,),
                summary=f"Assign {added} to ticket {t_no} (Trello)",
            )
        notes = None
        update: dict[str, Any] = {}
        if kind == "updateCard":
            old = data.get("old") or {}
            new = data.get("card") or {}
            if isinstance(data.get("listAfter"), dict):
                before = (data.get("listBefore") or {}).get("name", "")
                after = data["listAfter"].get("name", "")
                stage = self.stage(after)
                progress = self._progress(when, action, username, f"Moved card from list '{before}' to list '{after}'",
                                          "resolved" if stage == "end" else "in_progress")
                return ImportEvent(
                    **base,
                    update={"T": {"workflow_stage": stage, "resolved": stage == "end"}, "I": {"progress_updates": [progress]}},
                    summary=f"Move Trello card to list '{after}' (stage {stage}) in ticket {t_no}"[:200],
                )
            if "desc" in old:
                return self._description(card, when, action, username, member, desc_actions, base)
            if "closed" in old:
                closed = bool(new.get("closed", not old["closed"]))
                notes = "Archived the card" if closed else "Sent the card back to the board"
            else:
                changed = [k for k in sorted(old) if k not in IGNORED_CARD_FIELDS]
                if not changed:
                    fields = ", ".join(sorted(old)) or "nothing"
                    reason = f"updateCard of {fields}: a card's place in its list or its cover is not ticket data"
                    summary.ignore(where, action["id"], reason)
                    return None
                notes = "Changed " + "; ".join(f"{k} from {_json(old[k])} to {_json(new.get(k))}" for k in changed)
        elif kind == "removeMemberFromCard":
            removed = (data.get("member") or {}).get("username") or self._username(data.get("idMember"), action.get("member"))
            notes = f"Removed {removed} from the card"
        elif kind == "deleteAttachmentFromCard":
            notes = f"Deleted attachment {_json((data.get('attachment') or {}).get('name'))}"
        elif kind == "updateCheckItemStateOnCard":
            item, checklist = data.get("checkItem") or {}, data.get("checklist") or {}
            notes = f"Marked {_json(item.get('name'))} {item.get('state')} in checklist {_json(checklist.get('name'))}"
        elif kind in ("addChecklistToCard", "removeChecklistFromCard"):
            verb = "Added" if kind.startswith("add") else "Removed"
            notes = f"{verb} checklist {_json((data.get('checklist') or {}).get('name'))}"
        if notes is None:
            summary.ignore(where, action["id"], f"{kind}: Trello action type not imported")
            return None
        update["I"] = {"progress_updates": [self._progress(when, action, username, notes)]}
        return ImportEvent(**base, update=update, summary=f"Trello {kind} on ticket {t_no}: {notes}"[:200])

    def _description(self, card, when, action, username, member, desc_actions, base) -> ImportEvent:
        """An edit of the card's description: the new text as a message of its own."""
        data = action.get("data") or {}
        if "desc" in (data.get("card") or {}):
            text = data["card"]["desc"]
        else:  # older exports: the next edit's "old", else the card's current text
            later = [a for a in desc_actions if a[0] > base["when"]]
            text = later[0][2]["data"]["old"]["desc"] if later else card.get("desc", "")
        if not isinstance(text, str):
            raise TypeError("the description is not text")
        t_no = base["t_no"]
        if not text:
            progress = self._progress(when, action, username, "Cleared the description")
            return ImportEvent(
                **base, update={"I": {"progress_updates": [progress]}}, summary=f"Trello description cleared in ticket {t_no}"
            )
        message = self._message(card, when, action, username, member, text)
        return ImportEvent(
            **base, update={"E": {"messages": [message]}}, messages=1, cs_agents=(username,),
            summary=f"Import Trello description edit {action['id']} into ticket {t_no}",
        )

    def _current_description(self, card, desc_actions, events) -> ImportEvent | None:
        """The card's description when the last recorded edit is not it (an edit older
        than the export's last 1,000 actions is missing): a message at the card's last
        activity."""
        if not desc_actions or not card.get("desc"):
            return None
        last = desc_actions[-1][2].get("data") or {}
        if (last.get("card") or {}).get("desc", card["desc"]) == card["desc"]:
            return None
        when = max([e.when for e in events] + ([parse_utc(card["dateLastActivity"])] if card.get("dateLastActivity") else []))
        message: dict[str, Any] = {
            "message_id": f"{card['id']}:desc:current",
            "timestamp": format_utc(when),
            "sender": "cs_agent",
            "sender_id": "trello",
            "content": card["desc"],
            "metadata": {
                "trello_card_id": card["id"],
                "platform_specific": {"time_source": "dateLastActivity (the edit's action is not in the export)"},
            },
        }
        return ImportEvent(
            t_no=self._t_no(card), when=when, update={"E": {"messages": [message]}}, ids=(message["message_id"],),
            create=self._create(card), where=f"{self._board['_path']}: card {card['id']} desc", messages=1,
            summary=f"Import the current description of Trello card {card['id']}",
        )

    def _unrecorded_attachments(self, card, covered: set[str], created: datetime, summary: ImportSummary) -> list[ImportEvent]:
        """Attachments of the card's ``attachments`` array that no action records (a
        malformed one is skipped)."""
        events = []
        for attachment in card.get("attachments") or []:
            if isinstance(attachment, dict) and str(attachment.get("id")) in covered:
                continue
            try:
                events.append(self._attachment_event(card, attachment, created))
            except RECORD_ERRORS as exc:
                ident = attachment.get("id") if isinstance(attachment, dict) else None
                where = f"{self._board['_path']}: card {card['id']} attachment"
                summary.skip(where, ident, f"attachment not imported: {record_problem(exc)}", 1)
        return events

    def _attachment_event(self, card: dict, attachment: dict, created: datetime) -> ImportEvent:
        """The message of one attachment of the card's list."""
        if not isinstance(attachment, dict):
            raise TypeError("an attachment is not an object")
        when = parse_utc(attachment["date"]) if attachment.get("date") else _id_time(str(attachment["id"]))
        source = "attachment date" if attachment.get("date") else "attachment id"
        if when < created:
            when, source = created, source + ", not before the card's creation"
        username = self._username(attachment.get("idMember")) or "trello"
        message: dict[str, Any] = {
            "message_id": f"{card['id']}:attachment:{attachment['id']}",
            "timestamp": format_utc(when),
            "sender": "cs_agent",
            "sender_id": username,
            "content": "",
            "attachments": [_attachment(attachment)],
            "metadata": {
                "trello_card_id": card["id"],
                "platform_specific": {
                    **{k: v for k, v in attachment.items() if k not in ("name", "url", "bytes", "mimeType")},
                    "time_source": source,
                },
            },
        }
        return ImportEvent(
            t_no=self._t_no(card), when=when, update={"E": {"messages": [message]}}, ids=(message["message_id"],),
            create=self._create(card), actor=username, where=f"{self._board['_path']}: card {card['id']} attachment {attachment['id']}",
            messages=1, cs_agents=(username,) if username != "trello" else (),
            summary=f"Import Trello attachment {attachment['id']} into ticket {self._t_no(card)}",
        )

    def _archive(self, card: dict, events: list[ImportEvent]) -> None:
        """Archive the ticket of an archived card with its last event (see module doc)."""
        if not card.get("closed"):
            return
        last = events[-1]
        if last.ids and isinstance(last.update, dict):
            last.update.setdefault("T", {})["archived"] = True
            return
        when = max(e.when for e in events)
        if card.get("dateLastActivity"):
            when = max(when, parse_utc(card["dateLastActivity"]))
        progress = {
            "update_id": f"{card['id']}:archived",
            "timestamp": format_utc(when),
            "updater": "trello",
            "status": "in_progress",
            "notes": "The export shows the card archived (the archiving action is not in the export)",
        }
        events.append(ImportEvent(
            t_no=self._t_no(card), when=when, update={"T": {"archived": True}, "I": {"progress_updates": [progress]}},
            ids=(progress["update_id"],), create=self._create(card), where=f"{self._board['_path']}: card {card['id']} closed",
            summary=f"Archive ticket {self._t_no(card)}: the Trello card is archived",
        ))


def make_importer(stage_map: tuple[str, ...] = ()) -> TrelloImporter:
    """Return a Trello importer for ``--stage-map LIST=STAGE`` pairs.

    Raises:
        ValidationError: a malformed pair or unknown stage.
    """
    return TrelloImporter(parse_stage_map(stage_map))


IMPORTER = TrelloImporter()
