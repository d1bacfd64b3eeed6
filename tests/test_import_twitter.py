"""The twitter-care importer on real data (IBM customer-care conversations)."""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime, timedelta, timezone

from conftest import TEST_DATA, git, requires_git, shared_or_skip

from gitstore import Store
from gitstore.timeutil import parse_utc

SAMPLE = TEST_DATA / "twitter_care_sample.json"


def expected_counts(path):
    """Count tickets and messages independently from the raw file."""
    conversations = json.loads(path.read_text())
    messages = sum(len(c["dialogContent"]) + 1 for c in conversations)  # + the agentURL reply
    return len({c["dialogHeader"]["sessionID"] for c in conversations}), messages, conversations


def import_file(gs, path):
    result = gs("import", "twitter-care", str(path), "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


@requires_git
def test_sample_import_is_faithful_and_idempotent(gs):
    n_tickets, n_messages, conversations = expected_counts(SAMPLE)
    summary = import_file(gs, SAMPLE)
    assert len(summary["tickets_created"]) == n_tickets
    assert summary["messages_added"] == n_messages == summary["commits"]
    again = import_file(gs, SAMPLE)
    assert again["messages_added"] == 0 and again["commits"] == 0 and again["duplicates"] == n_messages
    assert gs("verify").exit_code == 0
    assert git(gs.path, "status", "--porcelain") == ""

    # spot checks: exact text, sender and time of known messages
    conv = next(c for c in conversations if c["dialogHeader"]["sessionID"] == "btl6ofX5a6TSNB3b3rkV")
    shown = json.loads(gs("ticket", "show", "TW-btl6ofX5a6TSNB3b3rkV", "--json").output)
    timeline = shown["unified_timeline"]
    assert len(timeline) == len(conv["dialogContent"]) + 1
    first = conv["dialogContent"][0]
    assert timeline[0]["content"] == first["message"]
    assert timeline[0]["sender"] == "customer" and timeline[0]["sender_id"] == first["client"]
    assert parse_utc(timeline[0]["timestamp"]) == parse_utc(first["datetime"])
    agent_turn = next(t for t in conv["dialogContent"] if "agent" in t)
    match = next(m for m in timeline if m["message_id"] == agent_turn["tweet_ID"])
    assert match["sender"] == "cs_agent" and match["sender_id"] == "AdobeCare"
    last = timeline[-1]
    assert last["content"] == conv["agentURL"]["url_utterance"]
    assert last["metadata"]["platform_specific"]["url"] == conv["agentURL"]["url"]
    # the reply's time is the one its tweet id encodes (Twitter's id layout), not
    # conversationDateTime + duration, which here is two days early
    ms = (int(conv["agentURL"]["tweet_ID"]) >> 22) + 1288834974657
    assert parse_utc(last["timestamp"]) == datetime(1970, 1, 1, tzinfo=timezone.utc) + timedelta(milliseconds=ms)
    assert last["metadata"]["platform_specific"]["time_source"] == "tweet_id"
    h, m, s = conv["dialogHeader"]["duration"].split(":")
    end = parse_utc(conv["dialogHeader"]["conversationDateTime"]) + timedelta(hours=int(h), minutes=int(m), seconds=float(s))
    assert parse_utc(last["timestamp"]) - end > timedelta(days=1)
    state = shown["workflow_state"]
    assert state["resolved"] is True and state["workflow_stage"] == "end"
    assert state["company_name"] == "AdobeCare" and state["client_name"] == "OGYouTubeGod"
    assert shown["external_conversation"]["platform"] == "web_chat"

    # git log shows the source times as author dates, one commit per message
    dates = git(gs.path, "log", "--format=%aI", "--", *gs_paths(gs, "TW-btl6ofX5a6TSNB3b3rkV")).split()
    # (git keeps whole seconds; a reply's id-encoded time has milliseconds)
    assert sorted(parse_utc(d) for d in dates) == sorted(parse_utc(m["timestamp"]).replace(microsecond=0) for m in timeline)


def gs_paths(gs, t_no):
    return gs("ticket", "path", t_no).output.split()


def test_second_customer_handle_is_a_customer(gs):
    import_file(gs, SAMPLE)
    conversations = json.loads(SAMPLE.read_text())
    conv = next(c for c in conversations if any("client1" in t for t in c["dialogContent"]))
    t_no = "TW-" + conv["dialogHeader"]["sessionID"]
    timeline = json.loads(gs("ticket", "show", t_no, "--json").output)["unified_timeline"]
    turn = next(t for t in conv["dialogContent"] if "client1" in t)
    message = next(m for m in timeline if m["message_id"] == turn["tweet_ID"])
    assert message["sender"] == "customer" and message["sender_id"] == turn["client1"]


def test_truncated_file_imports_records_before_it_and_fails(gs, tmp_path):
    text = SAMPLE.read_text()
    conversations = json.loads(text)
    truncated = tmp_path / "cut.json"
    cut = text.index('"dialogHeader"', text.index(conversations[3]["dialogHeader"]["sessionID"]) + 1)
    truncated.write_text(text[:cut])
    result = gs("import", "twitter-care", str(truncated))
    assert result.exit_code == 1
    assert "Error: " in result.output and "cut.json" in result.output and "line" in result.output
    tickets = [t["ticket"] for t in json.loads(gs("ticket", "list", "--json").output)]
    imported = {f"TW-{c['dialogHeader']['sessionID']}" for c in conversations[:4]}
    assert imported <= set(tickets) and len(tickets) == 4
    assert gs("verify").exit_code == 0


def test_full_dev_set(tmp_path):
    path = shared_or_skip("twitter_customer_care_ibm", "dev.json")
    n_tickets, n_messages, _ = expected_counts(path)
    store = Store.init(tmp_path / "s", fsync=False)
    from gitstore.importers.base import run_import
    from gitstore.importers.twitter_care import IMPORTER

    summary = run_import(store, IMPORTER, path, actor="importer", progress=False)
    assert len(summary.tickets_created) == n_tickets == 525
    assert summary.messages_added == n_messages
    assert len(store.list_tickets()) == 525
    senders = Counter(m.sender for t in store.list_tickets()[:50] for m in store.read(t).external.messages)
    assert senders["customer"] > 0 and senders["cs_agent"] >= 50


@requires_git
def test_import_leaves_the_derived_files_at_head(gs):
    """After an import has printed its summary, the per-ticket log and the ticket-list
    rows are brought up to the new HEAD in the same command: the first read after it
    builds nothing."""
    import sqlite3

    summary = import_file(gs, SAMPLE)
    head = git(gs.path, "rev-parse", "HEAD").strip()
    state = gs.path / ".git" / "gitstore"
    with sqlite3.connect(state / "history.sqlite") as db:
        assert db.execute("SELECT value FROM meta WHERE key='head'").fetchone() == (head,)
        assert db.execute("SELECT COUNT(*) FROM commits").fetchone()[0] == summary["commits"] + 1  # + the store's first
    with sqlite3.connect(state / "listing.sqlite") as db:
        assert db.execute("SELECT value FROM meta WHERE key='commit'").fetchone() == (head,)
        assert db.execute("SELECT COUNT(*) FROM rows").fetchone()[0] == len(summary["tickets_created"])
