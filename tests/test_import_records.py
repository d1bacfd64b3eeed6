"""Odd records, real formats, real times, real authors (docs/importers.md).

Each test is driven by real records copied into tests/data (see its README):
a record that cannot be imported is skipped with its position, id and reason and the
rest is imported (exit code 3); what real exports contain (negative durations, other
speaker keys, numbers as strings, Trello description edits and attachments, Slack
file comments, colliding channel names, ABCD action turns) is imported as the source
says it; fields the source does not know keep a neutral value.
"""

from __future__ import annotations

import json
import shutil
from datetime import datetime, timedelta, timezone

import pytest
from conftest import TEST_DATA, git, import_json, read_all, requires_git

UTC = timezone.utc
TWITTER = TEST_DATA / "twitter_care_sample.json"
TWITTER_VARIANTS = TEST_DATA / "twitter_care_variants.json"
TRELLO = TEST_DATA / "trello_sample.json"
TRELLO_VARIANTS = TEST_DATA / "trello_variants.json"
CLIPKIT = TEST_DATA / "trello_clipkit_sample.json"
SLACK_VARIANTS = TEST_DATA / "slack_variants"
SGD = TEST_DATA / "sgd_sample" / "dialogues_001.json"
ABCD = TEST_DATA / "abcd_sample.json"
MATTERMOST = TEST_DATA / "mattermost_export.jsonl"


def tweet_time(tweet_id: str) -> datetime:
    """Twitter's id layout: milliseconds since 2010-11-04T01:42:54.657Z above bit 22."""
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=(int(tweet_id) >> 22) + 1288834974657)


def iso(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


# ------------------------------------------------------------------ item 1: odd records
def test_odd_twitter_conversation_is_skipped_and_the_rest_imported(gs, tmp_path):
    conversations = json.loads(TWITTER.read_text(encoding="utf-8"))
    odd = conversations[5]
    del odd["dialogContent"][0]["message"]
    broken = tmp_path / "dev.json"
    broken.write_text(json.dumps(conversations))
    result = gs("import", "twitter-care", str(broken), "--json")
    assert result.exit_code == 3, result.output
    summary = json.loads(result.stdout)
    assert summary["skipped"] == [{
        "position": f"{broken}#record 5",
        "id": odd["dialogHeader"]["sessionID"],
        "reason": "conversation not imported: missing field 'message'",
    }]
    tickets = read_all(gs.path)
    assert len(tickets) == len(conversations) - 1 and f"TW-{odd['dialogHeader']['sessionID']}" not in tickets
    assert f"TW-{conversations[-1]['dialogHeader']['sessionID']}" in tickets  # records after it are read
    text = gs("import", "twitter-care", str(broken))
    assert text.exit_code == 3 and f"#record 5 ({odd['dialogHeader']['sessionID']}): conversation not imported" in text.stderr


def test_odd_trello_action_is_skipped_and_the_rest_imported(gs, tmp_path):
    board = json.loads(TRELLO.read_text(encoding="utf-8"))
    bad = next(i for i, a in enumerate(board["actions"]) if a["type"] == "commentCard")
    del board["actions"][bad]["date"]
    broken = tmp_path / "board.json"
    broken.write_text(json.dumps(board))
    summary = import_json(gs, "trello", str(broken), exit_code=3)
    assert summary["skipped"] == [{
        "position": f"{broken}: action {bad}", "id": board["actions"][bad]["id"],
        "reason": "malformed action (missing field 'date')",
    }]
    comments = [a for a in board["actions"] if a["type"] == "commentCard"]
    stored = {m.message_id for f in read_all(gs.path).values() for m in f.external.messages}
    assert {a["id"] for a in comments} - stored == {board["actions"][bad]["id"]}
    assert gs("verify").exit_code == 0


def test_odd_sgd_dialogue_and_abcd_conversation_are_skipped(gs, tmp_path):
    dialogues = json.loads(SGD.read_text(encoding="utf-8"))
    dialogues[2]["turns"][1]["speaker"] = "ROBOT"
    broken = tmp_path / "dialogues_001.json"
    broken.write_text(json.dumps(dialogues))
    summary = import_json(gs, "sgd", str(broken), exit_code=3)
    assert [(s["id"], s["reason"]) for s in summary["skipped"]] == [
        (dialogues[2]["dialogue_id"], "dialogue not imported: ValueError: turn 1: unknown speaker 'ROBOT'")
    ]
    assert len(summary["tickets_created"]) == len(dialogues) - 1
    convos = json.loads(ABCD.read_text(encoding="utf-8"))
    del convos[0]["original"]
    odd = tmp_path / "abcd_sample.json"
    odd.write_text(json.dumps(convos))
    summary = import_json(gs, "abcd", str(odd), exit_code=3)
    assert [(s["id"], s["reason"]) for s in summary["skipped"]] == [("3592", "conversation not imported: missing field 'original'")]
    assert summary["tickets_created"] == ["ABCD-9489"]


def test_odd_mattermost_line_is_skipped_but_a_cut_last_line_stops(gs, tmp_path):
    lines = MATTERMOST.read_text(encoding="utf-8").splitlines(keepends=True)
    odd = tmp_path / "export.jsonl"
    odd.write_text("".join(lines[:8]) + '{"type": "post", "post": {oops\n' + "".join(lines[8:]))
    summary = import_json(gs, "mattermost", str(odd), "--channel-map", "*=MM-{channel}", exit_code=3)
    assert len(summary["skipped"]) == 1 and summary["skipped"][0]["position"] == f"{odd}: line 9"
    assert "malformed or truncated JSON" in summary["skipped"][0]["reason"]
    assert summary["messages_added"] == 7  # every post of the file
    cut = tmp_path / "cut.jsonl"
    cut.write_text("".join(lines[:8]) + lines[8][:40])
    result = gs("import", "mattermost", str(cut), "--channel-map", "*=MM-{channel}")
    assert result.exit_code == 1 and "cut.jsonl: line 9 column" in result.stderr


def test_exit_codes_are_in_the_help(gs):
    text = gs("import", "--help").output
    assert "Exit codes:" in text and "3  imported, but records were skipped" in text


# ------------------------------------------------------------------ items 2, 3: twitter
def test_reply_times_come_from_tweet_ids_not_durations(gs):
    """Real conversations with a negative ``duration`` ("-12:14:20."): the reply's time is
    the one its id encodes, after the turn it answers."""
    summary = import_json(gs, "twitter-care", str(TWITTER_VARIANTS))
    conversations = json.loads(TWITTER_VARIANTS.read_text(encoding="utf-8"))
    assert summary["skipped"] == [] and len(summary["tickets_created"]) == len(conversations)
    tickets = read_all(gs.path)
    negative = [c for c in conversations if c["dialogHeader"]["duration"].startswith("-")]
    assert len(negative) == 2
    for conv in negative:
        messages = tickets[f"TW-{conv['dialogHeader']['sessionID']}"].external.messages
        reply = messages[-1]
        assert reply.message_id == conv["agentURL"]["tweet_ID"]
        assert reply.timestamp == tweet_time(conv["agentURL"]["tweet_ID"])
        assert reply.metadata.platform_specific["time_source"] == "tweet_id"
        assert reply.metadata.platform_specific["duration"] == conv["dialogHeader"]["duration"]
        assert reply.timestamp > messages[-2].timestamp  # never before the turn it answers
    # the same tweets in two conversations (as the data set has them): one ticket each
    shared = [c for c in conversations if not c["dialogHeader"]["duration"].startswith("-")]
    first, second = (tickets[f"TW-{c['dialogHeader']['sessionID']}"].external.messages for c in shared)
    assert [m.message_id for m in first] == [m.message_id for m in second] and len(first) == 4


def test_twitter_format_variants(gs, tmp_path):
    """Numbers as strings or numbers, another speaker key, a day part in the duration, a
    missing optional field: taken from a real record of the sample."""
    from gitstore.importers.twitter_care import parse_duration

    assert parse_duration("02:52:41.0") == timedelta(hours=2, minutes=52, seconds=41)
    assert parse_duration("1-02:52:41.0") == timedelta(days=1, hours=2, minutes=52, seconds=41)
    assert parse_duration("-12:14:20.") == -timedelta(hours=12, minutes=14, seconds=20)
    with pytest.raises(ValueError):
        parse_duration("soon")
    conv = json.loads(TWITTER.read_text(encoding="utf-8"))[0]
    conv["agentURL"]["tweet_ID"] = int(conv["agentURL"]["tweet_ID"])  # a number, not a string
    conv["agentURL"]["turn"] = int(conv["agentURL"]["turn"])
    del conv["agentURL"]["doc_id"]  # optional
    turn = conv["dialogContent"][0]
    turn["customer"] = turn.pop(next(k for k in turn if k.startswith("client")))  # another speaker key
    variant = tmp_path / "dev.json"
    variant.write_text(json.dumps([conv]))
    import_json(gs, "twitter-care", str(variant))
    files = read_all(gs.path)[f"TW-{conv['dialogHeader']['sessionID']}"]
    first, reply = files.external.messages[0], files.external.messages[-1]
    assert first.sender == "customer" and first.sender_id == turn["customer"]
    assert first.metadata.platform_specific["speaker_key"] == "customer"
    assert reply.message_id == str(conv["agentURL"]["tweet_ID"]) and reply.metadata.platform_specific["doc_id"] is None
    # a reply id that is not a Snowflake id: conversation start + a duration with days
    conv["agentURL"]["tweet_ID"] = "12345"
    conv["dialogHeader"]["duration"] = "1-00:00:05.0"
    conv["dialogHeader"]["sessionID"] = "variant-days"
    variant.write_text(json.dumps([conv]))
    import_json(gs, "twitter-care", str(variant))
    reply = read_all(gs.path)["TW-variant-days"].external.messages[-1]
    start = iso(conv["dialogHeader"]["conversationDateTime"])
    assert reply.timestamp == start + timedelta(days=1, seconds=5)
    assert reply.metadata.platform_specific["time_source"] == "start+duration"


def test_an_email_reply_dated_before_its_parent_is_stored_after_it(gs, tmp_path):
    """The real answer of "About ServerLimit" with its Date moved before the question (a
    sender's clock behind): stored at the question's time, and said so."""
    data = (TEST_DATA / "httpd_users_sample.mbox").read_bytes()
    moved = data.replace(b"Date: Wed, 8 Jul 2020 06:33:27 -0400", b"Date: Wed, 8 Jul 2020 05:00:00 -0400", 1)
    assert moved != data
    skewed = tmp_path / "skewed.mbox"
    skewed.write_bytes(moved)
    import_json(gs, "email", str(skewed))
    stored = {m.message_id: m for f in read_all(gs.path).values() for m in f.external.messages}
    question = stored["225131299.2033432.1594201321692@mail.yahoo.com"]
    answer = next(m for k, m in stored.items() if k.startswith("CALK=YjN6"))
    assert question.timestamp == datetime(2020, 7, 8, 9, 42, 1, tzinfo=UTC)
    assert answer.timestamp == question.timestamp  # not 09:00, before the question
    assert answer.metadata.platform_specific["time_source"] == "Date, not before its parent"
    follow_up = stored["727946651.2091014.1594208957697@mail.yahoo.com"]  # answers the answer
    assert follow_up.timestamp == datetime(2020, 7, 8, 11, 49, 17, tzinfo=UTC)


# ------------------------------------------------------------------ item 4: trello
def test_trello_descriptions_belong_to_the_actions_that_wrote_them(gs):
    import_json(gs, "trello", str(TRELLO_VARIANTS))
    board = json.loads(TRELLO_VARIANTS.read_text(encoding="utf-8"))
    tickets = read_all(gs.path)
    card = next(c for c in board["cards"] if c["idShort"] == 122)
    edits = sorted((a for a in board["actions"] if a["type"] == "updateCard" and a["data"]["card"]["id"] == card["id"]
                    and "desc" in a["data"]["old"]), key=lambda a: a["date"])
    assert len(edits) == 7
    messages = {m.message_id: m for m in tickets[f"TR-{board['shortLink']}-122"].external.messages}
    for edit in edits:
        if edit["data"]["card"]["desc"]:
            kept = messages[edit["id"]]
            assert kept.content == edit["data"]["card"]["desc"]
            assert kept.timestamp == iso(edit["date"]) and kept.sender_id == edit["memberCreator"]["username"]
    # a description written before the first recorded edit: at the card's creation
    card34 = next(c for c in board["cards"] if c["idShort"] == 34)
    first = next(a for a in sorted(board["actions"], key=lambda a: a["date"])
                 if a["data"]["card"]["id"] == card34["id"] and "desc" in a["data"].get("old", {}))
    original = tickets[f"TR-{board['shortLink']}-34"].external.messages[0]
    assert original.message_id == f"{card34['id']}:desc" and original.content == first["data"]["old"]["desc"]
    assert original.timestamp < iso(first["date"])


def test_trello_attachments_archiving_and_members(gs):
    import_json(gs, "trello", str(TRELLO_VARIANTS))
    import_json(gs, "trello", str(TRELLO))
    boards = [json.loads(p.read_text(encoding="utf-8")) for p in (TRELLO, TRELLO_VARIANTS)]
    tickets = read_all(gs.path)
    for board in boards:
        members = {m["id"]: m["username"] for m in board["members"]}
        for card in board["cards"]:
            files = tickets[f"TR-{board['shortLink']}-{card['idShort']}"]
            recorded = {a.name: a for m in files.external.messages for a in m.attachments}
            for attachment in card.get("attachments") or []:  # the card's own list
                kept = recorded[attachment["name"]]
                assert (kept.url, kept.size) == (attachment["url"], attachment["bytes"])
                assert kept.content_type == (attachment.get("mimeType") or None)  # "" in the export: none
            added = [a for a in board["actions"] if a["type"] == "addAttachmentToCard" and a["data"]["card"]["id"] == card["id"]]
            assert {a["data"]["attachment"]["name"] for a in added} <= set(recorded)  # even deleted ones
            assert files.workflow.archived is bool(card["closed"])
            assert {members[m] for m in card["idMembers"]} <= set(files.external.participants.cs_agents)
            assert files.workflow.channel is None and files.internal.platforms == []
    # card 31 was edited after it was archived: every record kept, the ticket archived
    board = boards[1]
    card31 = next(c for c in board["cards"] if c["idShort"] == 31)
    ids = {m.message_id for m in tickets[f"TR-{board['shortLink']}-31"].external.messages}
    ids |= {p.update_id for p in tickets[f"TR-{board['shortLink']}-31"].internal.progress_updates}
    on_card = [a for a in board["actions"] if a["data"]["card"]["id"] == card31["id"]]
    archived_at = max(a["date"] for a in on_card if "closed" in a["data"].get("old", {}))
    later = [a for a in on_card if a["date"] > archived_at]
    assert later and all(a["id"] in ids for a in later)
    notes = [p.notes for p in tickets[f"TR-{board['shortLink']}-31"].internal.progress_updates]
    assert "Archived the card" in notes


def test_trello_archive_and_unarchive_and_clipkit(gs):
    summary = import_json(gs, "trello", str(CLIPKIT))
    board = json.loads(CLIPKIT.read_text(encoding="utf-8"))
    tickets = read_all(gs.path)
    card1 = tickets[f"TR-{board['shortLink']}-1"]  # archived, then sent back to the board
    notes = [p.notes for p in card1.internal.progress_updates]
    assert notes.count("Archived the card") == 1 and notes.count("Sent the card back to the board") == 1
    assert notes.index("Archived the card") < notes.index("Sent the card back to the board")
    assert card1.workflow.archived is False
    assert tickets[f"TR-{board['shortLink']}-11"].workflow.archived is True  # archived in the export
    assert {r["reason"].split(":")[0] for r in summary["ignored"]} <= {"updateCard of pos"}
    again = import_json(gs, "trello", str(CLIPKIT))
    assert again["commits"] == 0 and again["skipped"] == []


# ------------------------------------------------------------------ item 5: slack
def test_slack_file_comment_keeps_its_author(gs):
    import_json(gs, "slack", str(SLACK_VARIANTS), "--channel-map", "*=SLACK-{channel}")
    users = {u["id"]: u["name"] for u in json.loads((SLACK_VARIANTS / "users.json").read_text(encoding="utf-8"))}
    stored = {m.message_id: m for m in read_all(gs.path)["SLACK-general"].internal.messages}
    channel = json.loads((SLACK_VARIANTS / "channels.json").read_text(encoding="utf-8"))[0]
    records = [m for day in sorted((SLACK_VARIANTS / "general").glob("*.json")) for m in json.loads(day.read_text(encoding="utf-8"))]
    comments = [m for m in records if m.get("subtype") == "file_comment"]
    assert len(comments) == 2 and all("user" not in m for m in comments)
    for record in records:
        kept = stored[f"slack:{channel['id']}:{record['ts']}"]
        author = record.get("user") or record["comment"]["user"]
        assert kept.sender_id == users[author] != "unknown"
        if record.get("subtype") == "file_comment":
            assert kept.attachments == []  # the comment refers to the file; it does not share it
        if record.get("subtype") == "file_share":
            assert [a.name for a in kept.attachments] == [record["file"]["name"]]
            assert kept.attachments[0].url == record["file"]["permalink"]
    files = read_all(gs.path)["SLACK-general"]
    assert files.internal.platforms == ["slack"] and files.workflow.channel is None


def test_slack_channels_whose_names_normalise_alike_get_distinct_tickets(gs, tmp_path):
    """Channels ``general`` and ``general-`` (as the houstondatavis export has ``meetup``
    and ``meetup-``), built from the real day files."""
    export = tmp_path / "export"
    shutil.copytree(SLACK_VARIANTS, export)
    shutil.copytree(export / "general", export / "general-")
    channels = json.loads((export / "channels.json").read_text(encoding="utf-8"))
    twin = dict(channels[0], id="C0TWIN0001", name="general-")
    (export / "channels.json").write_text(json.dumps(channels + [twin]))
    summary = import_json(gs, "slack", str(export), "--channel-map", "*=SLACK-{channel}")
    assert summary["tickets_created"] == ["SLACK-general", "SLACK-general-C0TWIN0001"]
    tickets = read_all(gs.path)
    assert len(tickets["SLACK-general"].internal.messages) == len(tickets["SLACK-general-C0TWIN0001"].internal.messages) == 7


# ------------------------------------------------------------------ item 7: abcd
def test_abcd_turns_actions_scenario_and_synthetic_times(gs):
    summary = import_json(gs, "abcd", str(ABCD))
    convos = json.loads(ABCD.read_text(encoding="utf-8"))
    assert summary["tickets_created"] == [f"ABCD-{c['convo_id']}" for c in convos]
    tickets = read_all(gs.path)
    for convo in convos:
        files = tickets[f"ABCD-{convo['convo_id']}"]
        turns = [(s, t) for s, t in convo["original"] if s != "action"]
        actions = [(k, t) for k, (s, t) in enumerate(convo["original"]) if s == "action"]
        assert [m.content for m in files.external.messages] == [t for _s, t in turns]
        assert [m.sender for m in files.external.messages] == [{"agent": "cs_agent", "customer": "customer"}[s] for s, _t in turns]
        decisions = files.workflow.agent_decisions
        assert [d.decision["text"] for d in decisions] == [t for _k, t in actions]
        for decision, (k, _text) in zip(decisions, actions):
            targets = convo["delexed"][k]["targets"]
            assert decision.agent == "updates" and decision.human_confirmed is True
            assert (decision.decision["action"], decision.decision["values"]) == (targets[2], targets[3])
        personal = convo["scenario"]["personal"]
        customer = files.external.participants.customer
        assert customer.client_name == personal["customer_name"] and customer.company_name == ""
        assert customer.contact_info == {k: personal[k] for k in ("email", "phone", "username")}
        first = files.external.messages[0].metadata.platform_specific
        assert first["scenario"] == convo["scenario"] and first["subflow"] == convo["scenario"]["subflow"]
        start = datetime(2020, 1, 1, tzinfo=UTC) + timedelta(hours=convo["convo_id"])
        for message in files.external.messages:
            turn = int(message.message_id.split(":")[1])
            assert message.timestamp == start + timedelta(seconds=30 * turn)
            assert message.metadata.platform_specific["time_source"] == "synthetic"
        assert files.workflow.channel is None and files.internal.platforms == []


def test_abcd_start_option_and_folder_source(gs, tmp_path):
    folder = tmp_path / "abcd_sample"
    folder.mkdir()
    shutil.copy(ABCD, folder / "abcd_sample.json")
    (folder / "kb.json").write_text("{}")  # reference tables are not conversations
    summary = import_json(gs, "abcd", str(folder), "--start", "2021-06-01T00:00:00Z")
    assert len(summary["tickets_created"]) == 2
    files = read_all(gs.path)["ABCD-9489"]
    assert files.external.messages[0].timestamp == datetime(2021, 6, 1, tzinfo=UTC) + timedelta(hours=9489)
    bad = gs("import", "abcd", str(folder), "--start", "tomorrow")
    assert bad.exit_code == 1 and "--start 'tomorrow'" in bad.stderr


# ------------------------------------------------------------------ item 8: no false defaults
@requires_git
def test_no_importer_claims_an_internal_channel_it_never_used(gs):
    import_json(gs, "twitter-care", str(TWITTER))
    import_json(gs, "trello", str(TRELLO))
    import_json(gs, "sgd", str(SGD))
    import_json(gs, "mattermost", str(MATTERMOST), "--channel-map", "*=MM-{channel}")
    for t_no, files in read_all(gs.path).items():
        if t_no.startswith("MM-"):
            assert files.workflow.channel == "MATTERMOST" and files.internal.platforms == ["mattermost"]
        else:
            assert files.workflow.channel is None and files.internal.platforms == [], t_no
    shown = json.loads(gs("ticket", "show", "TR-iq20ZNIV-98", "--json").stdout)
    assert shown["workflow_state"]["channel"] is None and shown["internal_conversation"]["platforms"] == []
    assert gs("verify").exit_code == 0 and git(gs.path, "status", "--porcelain") == ""
