"""``gitstore import trello``: Trello board exports.

Always-on tests use ``tests/data/trello_sample.json`` (6 cards of the real GoCD "Test
Drive" board with all their actions, plus two board-level actions); the two full
development boards in ../shared/data are imported by the ``shared_or_skip`` tests.
Expected counts are computed from the raw JSON in the test.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

from conftest import TEST_DATA, git, import_json, read_all, requires_git, shared_or_skip

SAMPLE = TEST_DATA / "trello_sample.json"


def expected_counts(path: Path) -> tuple[int, int, int]:
    """(cards, external messages, progress updates) the board holds.

    Messages: comments; each description version (the one written at creation — the
    card's description when no action edits it, else what the first edit replaced —
    and every edit's non-empty text); attachments (added by an action, or in the
    card's list). Progress updates: every other card action except moves within a
    list (``pos``), cover changes and the creation itself.
    """
    board = json.loads(path.read_text())
    cards = {c["id"]: c for c in board["cards"]}
    on_card = [a for a in board["actions"] if (a["data"].get("card") or {}).get("id") in cards]
    comments = sum(1 for a in on_card if a["type"] == "commentCard")
    edits = [a for a in on_card if a["type"] == "updateCard" and "desc" in a["data"].get("old", {})]
    descs = sum(1 for a in edits if a["data"]["card"]["desc"])
    for card_id, card in cards.items():
        mine = sorted((a for a in edits if a["data"]["card"]["id"] == card_id), key=lambda a: a["date"])
        descs += bool(mine[0]["data"]["old"]["desc"] if mine else card.get("desc"))
    added = {a["data"]["attachment"]["id"] for a in on_card if a["type"] == "addAttachmentToCard"}
    attachments = len(added) + sum(1 for c in cards.values() for x in c.get("attachments") or [] if x["id"] not in added)
    messages = comments + descs + attachments
    not_progress = {"commentCard", "addAttachmentToCard", "createCard", "convertToCardFromCheckItem"}
    progress = sum(
        1 for a in on_card
        if a["type"] not in not_progress
        and not (a["type"] == "updateCard" and set(a["data"].get("old", {})) <= {"pos", "idAttachmentCover"})
        and not (a["type"] == "updateCard" and "desc" in a["data"].get("old", {}) and a["data"]["card"]["desc"])
    )
    # an archived card with no record to carry the flag gets one ("the export shows it archived")
    progress += sum(
        1 for card_id, c in cards.items()
        if c.get("closed") and not c.get("desc") and not c.get("attachments")
        and not any(a["data"]["card"]["id"] == card_id for a in on_card)
    )
    return len(cards), messages, progress


def run_json(gs, *args):
    return import_json(gs, "trello", *args)


def test_cards_comments_moves_counts_and_spot_checks(gs):
    cards, messages, progress = expected_counts(SAMPLE)
    summary = run_json(gs, str(SAMPLE))
    assert len(summary["tickets_created"]) == cards == 6
    assert summary["messages_added"] == messages == 19  # 15 comments, 1 description, 3 attachments
    tickets = read_all(gs.path)
    assert sum(len(f.external.messages) for f in tickets.values()) == messages
    assert sum(len(f.internal.progress_updates) for f in tickets.values()) == progress
    card98 = tickets["TR-iq20ZNIV-98"]
    assert card98.workflow.client_name == "Add CTA to Features page"
    assert card98.workflow.trello_template == "Test Drive" and card98.workflow.company_name == "Test Drive"
    assert card98.external.platform == "trello"
    first = card98.external.messages[0]
    assert first.message_id == "5cdc6ca1ca6b2827761735a1"
    assert first.content.startswith("@steven_st I'd like to officially prioritize this,")
    assert (first.sender, first.sender_id) == ("cs_agent", "loudapena")
    assert first.timestamp == datetime(2019, 5, 15, 19, 46, 41, 687000, tzinfo=timezone.utc)
    assert first.metadata.trello_card_id == "5cdadb85a186f33a451d9143"
    kept = first.metadata.platform_specific  # unknown fields are kept, not dropped
    assert kept["type"] == "commentCard" and kept["data"]["board"]["name"] == "Test Drive"
    assert kept["memberCreator"]["username"] == "loudapena" and "text" not in kept["data"]
    assert len(card98.external.messages) == 8
    # moved from "Homepage/Website" (trigger) to "To Do" (selection)
    assert card98.workflow.workflow_stage == "selection"
    move = next(p for p in card98.internal.progress_updates if p.notes.startswith("Moved"))
    assert move.notes == "Moved card from list 'Homepage/Website' to list 'To Do'"
    assert set(card98.external.participants.cs_agents) >= {"loudapena", "steven_st", "chandrakanth42"}
    # moved to "In Progress" (action) and back to the ideas list (trigger)
    card104 = tickets["TR-iq20ZNIV-104"]
    assert card104.workflow.workflow_stage == "trigger"
    # its description was written by an edit a day and a half after the card was created:
    # the message is that action's (time, member), not the card's creation
    board = json.loads(SAMPLE.read_text())
    edit = next(a for a in board["actions"] if a["id"] == "5ce4c0d8518ecd5e81f5f018")
    assert edit["data"]["old"] == {"desc": ""}
    first = next(m for m in card104.external.messages if m.message_id == edit["id"])
    assert first.content == edit["data"]["card"]["desc"] and first.content == next(
        c["desc"] for c in board["cards"] if c["idShort"] == 104)
    assert first.timestamp == datetime.fromisoformat(edit["date"].replace("Z", "+00:00"))
    assert first.sender_id == edit["memberCreator"]["username"]
    assert card104.workflow.card_create_timestamp < first.timestamp
    # a card without actions is created at the time its id encodes
    card21 = tickets["TR-iq20ZNIV-21"]
    assert card21.workflow.card_create_timestamp == datetime.fromtimestamp(int("5ca51d81", 16), timezone.utc)
    assert summary["skipped"] == []
    reasons = " ".join(r["reason"] for r in summary["ignored"])
    assert "board-level action" in reasons and "updateCard of pos" in reasons


def test_stage_map_overrides_the_default_rules(gs):
    run_json(gs, str(SAMPLE), "--stage-map", "To Do=action")
    assert read_all(gs.path)["TR-iq20ZNIV-98"].workflow.workflow_stage == "action"


def test_bad_stage_map_is_a_one_line_error(gs):
    result = gs("import", "trello", str(SAMPLE), "--stage-map", "To Do=nowhere")
    assert result.exit_code == 1 and "expected LIST=STAGE" in result.stderr


@requires_git
def test_reimport_adds_nothing_verify_and_git_log(gs):
    run_json(gs, str(SAMPLE))
    head = git(gs.path, "rev-parse", "HEAD").strip()
    again = run_json(gs, str(SAMPLE))
    assert again["commits"] == 0 and again["messages_added"] == 0
    assert git(gs.path, "rev-parse", "HEAD").strip() == head
    assert gs("verify").exit_code == 0
    log = git(gs.path, "log", "--format=%aI|%s").splitlines()
    comment = next(line for line in log if "Import Trello comment 5cdc6ca1ca6b2827761735a1" in line)
    assert comment.startswith("2019-05-15T19:46:41+00:00|")


def test_truncated_board_is_reported_with_line_and_column(gs, tmp_path):
    broken = tmp_path / "board.json"
    text = SAMPLE.read_text()
    broken.write_text(text[: len(text) // 2])
    result = gs("import", "trello", str(broken))
    assert result.exit_code == 1
    assert "board.json: malformed or truncated JSON at line" in result.stderr and "column" in result.stderr
    assert read_all(gs.path) == {}


def test_malformed_action_is_skipped_and_the_rest_imported(gs, tmp_path):
    board = json.loads(SAMPLE.read_text())
    bad = next(i for i, a in enumerate(board["actions"]) if a["type"] == "commentCard")
    del board["actions"][bad]["date"]
    broken = tmp_path / "board.json"
    broken.write_text(json.dumps(board))
    result = gs("import", "trello", str(broken))
    assert result.exit_code == 3
    assert f"board.json: action {bad} ({board['actions'][bad]['id']}): malformed action" in result.stderr
    tickets = read_all(gs.path)
    assert len(tickets) == 6
    _cards, messages, _progress = expected_counts(SAMPLE)
    assert sum(len(f.external.messages) for f in tickets.values()) == messages - 1
    assert gs("verify").exit_code == 0


def test_full_boards(gs):
    for folder in ("trello_gocd_test_drive", "trello_clipkit"):
        path = shared_or_skip(folder, "board_dev.json")
        cards, messages, _ = expected_counts(path)
        summary = run_json(gs, str(path))
        assert len(summary["tickets_created"]) == cards
        assert summary["messages_added"] == messages
    assert gs("verify").exit_code == 0
    tickets = read_all(gs.path)
    clipkit = [f for t, f in tickets.items() if t.startswith("TR-rwD5sDDk-")]
    assert len(clipkit) == 34 and {f.workflow.trello_template for f in clipkit} == {"Clipkit"}


def test_search_finds_an_imported_phrase(gs):

    run_json(gs, str(SAMPLE))
    result = gs("search", '"officially prioritize"', "--json")
    assert result.exit_code == 0, result.output
    assert "5cdc6ca1ca6b2827761735a1" in result.stdout
