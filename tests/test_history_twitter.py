"""History, time-travel and archive on stores imported from the real IBM Twitter
customer-care data, with original times.

``tests/data/twitter_care_sample.json`` (always on) and the full ``dev.json`` under
``../shared/data`` (skipped when absent): ``--at`` dates fall between real tweets.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from conftest import TEST_DATA, git, requires_git, shared_or_skip
from gitstore.tickets import layout
from test_history import check_blame_agrees, ok, paths

pytestmark = requires_git

SAMPLE = TEST_DATA / "twitter_care_sample.json"


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(timezone.utc)


def iso(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def conversations(source) -> list[dict]:
    return json.loads(source.read_text())


def messages_until(record: dict, when: datetime) -> list[str]:
    """Ids of the conversation's messages at or before ``when`` (turns, and the resolving
    reply, timed by its tweet id: Twitter's id layout puts the milliseconds since
    2010-11-04T01:42:54.657Z in the bits above the lowest 22), oldest first."""
    found = [(utc(t["datetime"]), str(t["tweet_ID"])) for t in record["dialogContent"]]
    reply_id = int(record["agentURL"]["tweet_ID"])
    reply = datetime(1970, 1, 1, tzinfo=timezone.utc) + timedelta(milliseconds=(reply_id >> 22) + 1288834974657)
    found.append((reply, str(reply_id)))
    return [tweet for at, tweet in sorted(found) if at <= when]


def multi_turn(records: list[dict]) -> list[dict]:
    """Conversations with at least three turns at distinct seconds."""
    found = []
    for record in records:
        times = [utc(t["datetime"]) for t in record["dialogContent"]]
        if len(times) >= 3 and len(set(times)) == len(times) and times == sorted(times):
            found.append(record)
    return found


@pytest.fixture
def imported(gs):
    ok(gs("import", "twitter-care", str(SAMPLE)))
    return gs


def test_show_at_dates_between_real_tweets(imported):
    gs = imported
    record = multi_turn(conversations(SAMPLE))[0]
    t_no = f"TW-{record['dialogHeader']['sessionID']}"
    turns = record["dialogContent"]
    times = [utc(t["datetime"]) for t in turns]
    for n in range(1, len(turns)):
        between = times[n - 1] + (times[n] - times[n - 1]) / 2
        shown = json.loads(ok(gs("ticket", "show", t_no, "--at", iso(between), "--json")).output)
        assert [m["message_id"] for m in shown["unified_timeline"]] == messages_until(record, between)
        assert {str(t["tweet_ID"]) for t in turns[:n]} <= {m["message_id"] for m in shown["unified_timeline"]}
        assert str(turns[n]["tweet_ID"]) not in {m["message_id"] for m in shown["unified_timeline"]}
    before = iso(times[0] - timedelta(minutes=1))
    r = gs("ticket", "show", t_no, "--at", before)
    assert r.exit_code == 1
    assert f"ticket {t_no} did not exist at {before}: it was created {iso(times[0])}" in r.output


def test_history_and_log_match_git_on_imported_data(imported):
    gs = imported
    path = gs.path
    records = conversations(SAMPLE)
    for record in records[:10]:
        t_no = f"TW-{record['dialogHeader']['sessionID']}"
        hist = json.loads(ok(gs("history", t_no, "--json")).output)
        assert [e["commit"] for e in hist] == git(path, "log", "--format=%H", "--", *paths(t_no)).split()
        assert hist[-1]["kinds"] == ["E", "I", "T"]
        assert hist[-1]["time"] == iso(utc(record["dialogContent"][0]["datetime"]))
    # --since/--until compare the original (author) times: a window between real tweets
    stamps = [(line.split()[0], int(line.split()[1])) for line in git(path, "log", "--format=%H %at").splitlines()]
    ordered = sorted(s for _, s in stamps)
    low, high = ordered[len(ordered) // 4], ordered[len(ordered) // 2]
    expected = [c for c, s in stamps if low <= s <= high]
    since = iso(datetime.fromtimestamp(low, timezone.utc))
    until = iso(datetime.fromtimestamp(high, timezone.utc))
    got = [e["commit"] for e in json.loads(ok(gs("log", "--since", since, "--until", until, "--json")).output)]
    assert got == expected and len(got) > 5


def test_rollback_to_a_date_between_tweets_checked_with_git(imported):
    gs = imported
    path = gs.path
    record = multi_turn(conversations(SAMPLE))[1]
    t_no = f"TW-{record['dialogHeader']['sessionID']}"
    turns = record["dialogContent"]
    between = utc(turns[0]["datetime"]) + (utc(turns[1]["datetime"]) - utc(turns[0]["datetime"])) / 2
    log = [line.split() for line in git(path, "log", "--format=%H %at", "--", *paths(t_no)).splitlines()]
    version = next(c for c, at in log if int(at) <= between.timestamp())  # git's --until is the committer date
    r = ok(gs("rollback", t_no, "--to", iso(between), "--reason", "undo the later replies", "--json", actor="lead"))
    commit = json.loads(r.output)["commit"]
    assert git(path, "rev-parse", "HEAD").strip() == commit
    assert git(path, "log", "-1", "--format=%(trailers:key=Rollback-To,valueonly)").strip() == version.strip() != ""
    restored = json.loads(git(path, "show", f"HEAD:{layout.ticket_path('E', t_no)}"))
    assert sorted(m["message_id"] for m in restored["messages"]) == sorted(messages_until(record, between))
    assert str(turns[1]["tweet_ID"]) not in {m["message_id"] for m in restored["messages"]}
    shown = git(path, "show", "--stat", "--format=%an %s", "HEAD")
    assert shown.startswith(f"lead Roll back ticket {t_no} to {version[:12]}")
    assert "3 files changed" in shown
    # the rolled-back replies are still in history, and blame agrees with git blame
    assert len(json.loads(ok(gs("history", t_no, "--json")).output)) == len(turns) + 2
    check_blame_agrees(gs, path, t_no)


def test_blame_agrees_with_git_blame_on_every_imported_ticket(imported):
    gs = imported
    tickets = sorted(r["ticket"] for r in json.loads(ok(gs("ticket", "list", "--all", "--json")).output))
    assert len(tickets) == len(conversations(SAMPLE))
    for t_no in tickets[:15]:
        ours = check_blame_agrees(gs, gs.path, t_no)
        # each message was added by the commit carrying its original time as author date
        assert ours and all(x["time"] == iso(utc(x["detail"]["timestamp"])) for x in ours)


def test_full_twitter_set_history_at_and_log(gs):
    source = shared_or_skip("twitter_customer_care_ibm", "dev.json")
    ok(gs("import", "twitter-care", str(source)))
    path = gs.path
    records = multi_turn(conversations(source))
    assert len(records) > 20
    for record in records[::max(1, len(records) // 20)]:
        t_no = f"TW-{record['dialogHeader']['sessionID']}"
        turns = record["dialogContent"]
        hist = json.loads(ok(gs("history", t_no, "--json")).output)
        assert [e["commit"] for e in hist] == git(path, "log", "--format=%H", "--", *paths(t_no)).split()
        between = utc(turns[1]["datetime"]) + (utc(turns[2]["datetime"]) - utc(turns[1]["datetime"])) / 2
        shown = json.loads(ok(gs("ticket", "show", t_no, "--at", iso(between), "--json")).output)
        assert [m["message_id"] for m in shown["unified_timeline"]] == messages_until(record, between)
    total = int(git(path, "rev-list", "--count", "HEAD"))
    assert len(json.loads(ok(gs("log", "--json")).output)) == total
    assert len(ok(gs("log", "--json-lines")).output.splitlines()) == total
