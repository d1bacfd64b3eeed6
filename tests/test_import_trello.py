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
    """(cards, external messages, progress updates) the board holds."""
    board = json.loads(path.read_text())
    cards = {c["id"] for c in board["cards"]}
    descs = sum(1 for c in board["cards"] if c.get("desc"))
    on_card = [a for a in board["actions"] if (a["data"].get("card") or {}).get("id") in cards]
    comments = sum(1 for a in on_card if a["type"] == "commentCard")
    progress = sum(1 for a in on_card if a["type"] == "addMemberToCard" or (a["type"] == "updateCard" and "listAfter" in a["data"]))
    return len(cards), descs + comments, progress


def run_json(gs, *args):
    return import_json(gs, "trello", *args)


def test_cards_comments_moves_counts_and_spot_checks(gs):
    cards, messages, progress = expected_counts(SAMPLE)
    summary = run_json(gs, str(SAMPLE))
    assert len(summary["tickets_created"]) == cards == 6
    assert summary["messages_added"] == messages == 16
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
    assert card104.external.messages[0].message_id == "5ce32359d3cfca28530f449f:desc"
    # a card without actions is created at the time its id encodes
    card21 = tickets["TR-iq20ZNIV-21"]
    assert card21.workflow.card_create_timestamp == datetime.fromtimestamp(int("5ca51d81", 16), timezone.utc)
    reasons = " ".join(r for _, r in summary["skipped"])
    assert "board-level action" in reasons and "only list moves of a card are imported" in reasons


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


def test_malformed_action_imports_what_precedes_and_exits_1(gs, tmp_path):
    board = json.loads(SAMPLE.read_text())
    bad = next(i for i, a in enumerate(board["actions"]) if a["type"] == "commentCard")
    del board["actions"][bad]["date"]
    broken = tmp_path / "board.json"
    broken.write_text(json.dumps(board))
    result = gs("import", "trello", str(broken))
    assert result.exit_code == 1
    assert f"board.json: action {bad}: malformed action" in result.stderr
    tickets = read_all(gs.path)
    assert len(tickets) == 6  # the cards come before the actions
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
