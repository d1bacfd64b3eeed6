"""``gitstore import mattermost``: Mattermost bulk exports.

There is no real Mattermost export in ../shared/data. ``tests/data/mattermost_export.jsonl``
is a small hand-written fixture that follows Mattermost's documented bulk-loading /
bulk-export data format (one JSON object per line: version first, then team, channel,
user, post with nested replies/reactions/attachments, direct_channel, direct_post;
``create_at`` in epoch milliseconds). Expected values are read from it in the test.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timezone

from conftest import TEST_DATA, git, import_json, internal_messages, requires_git

FIXTURE = TEST_DATA / "mattermost_export.jsonl"


def posts() -> list[tuple[str, dict]]:
    """(channel, post or reply) for every message in the fixture, read with json."""
    found = []
    for line in FIXTURE.read_text().splitlines():
        record = json.loads(line)
        if record["type"] == "post":
            post = record["post"]
            channel = post["channel"]
        elif record["type"] == "direct_post":
            post = record["direct_post"]
            channel = "+".join(sorted(post["channel_members"]))
        else:
            continue
        found += [(channel, post)] + [(channel, reply) for reply in post.get("replies", [])]
    return found


def run_json(gs, *args, exit_code=0):
    return import_json(gs, "mattermost", *args, exit_code=exit_code)


def test_tag_and_channel_map_counts_text_sender_time(gs):
    everything = posts()
    summary = run_json(gs, str(FIXTURE), "--channel-map", "*=MM-{channel}", "--agent-domain", "acme.example")
    # the tagged post and its replies go to MM-1001; every other channel to its own ticket
    # (the direct channel "alice+bob" is not a T_NO as it stands: normalised, plus a
    # hash of its id, so no channel named "alice-bob" could share its ticket)
    dm = "MM-alice-bob-" + hashlib.sha1(b"dm/alice+bob").hexdigest()[:10]
    assert summary["tickets_created"] == ["MM-1001", dm, "MM-escalations", "MM-town-square"]
    assert summary["messages_added"] == len(everything) == 7
    stored = internal_messages(gs.path)
    for channel, post in everything:
        message_id = next(k for k in stored if k.endswith(f":{post['create_at']}:{post['user']}"))
        t_no, message = stored[message_id]
        assert message["content"] == post["message"]
        assert message["sender_id"] == post["user"]
        assert message["sender"] == ("cs_agent" if post["user"] == "alice" else "technical_member")
        expected = datetime.fromtimestamp(post["create_at"] / 1000, timezone.utc)
        assert datetime.fromisoformat(message["timestamp"].replace("Z", "+00:00")) == expected
        assert message["platform"] == "mattermost"
    root_id = "mattermost:support/escalations:1614589200123:alice"
    assert stored[root_id][0] == "MM-1001"
    reply = stored["mattermost:support/escalations:1614592800456:bob"]
    assert reply[0] == "MM-1001" and reply[1]["metadata"]["thread_id"] == root_id
    assert reply[1]["timestamp"] == "2021-03-01T10:00:00.456000Z"
    root = stored[root_id][1]
    assert root["metadata"]["platform_specific"]["reactions"][0]["emoji_name"] == "eyes"
    assert root["metadata"]["platform_specific"]["is_pinned"] is True
    fix = stored["mattermost:support/escalations:1614679200000:bob"]
    assert fix[0] == "MM-escalations" and fix[1]["attachments"] == [
        {"name": "export-fix-notes.txt", "content_type": "text/plain", "size": None, "sha256": None}
    ]
    from gitstore import Store

    with Store.open(gs.path, fsync=False) as store:
        files = store.read("MM-1001")
    assert files.internal.platforms == ["mattermost"]
    assert files.workflow.company_name == "Acme Support"
    # writers join the I file's participants, in order of their first message:
    # alice (acme.example) the CS team, the others the technical team
    ordered = sorted((m for t, m in stored.values() if t == "MM-1001"), key=lambda m: m["timestamp"])
    technical = list(dict.fromkeys(m["sender_id"] for m in ordered if m["sender"] == "technical_member"))
    assert files.internal.participants.cs_team == ["alice"]
    assert files.internal.participants.technical_team == technical and "bob" in technical


def test_unmapped_posts_are_skipped_with_reason(gs):
    summary = run_json(gs, str(FIXTURE), exit_code=3)
    assert summary["tickets_created"] == ["MM-1001"] and summary["messages_added"] == 3
    reasons = [record["reason"] for record in summary["skipped"]]
    assert len(reasons) == 4 and all("no ticket for channel" in r for r in reasons)
    assert summary["skipped"][0]["id"] == "support/escalations:1614679200000:bob"
    assert summary["skipped"][0]["position"].endswith("mattermost_export.jsonl: line 9")


@requires_git
def test_reimport_adds_nothing_verify_and_git_log(gs):
    run_json(gs, str(FIXTURE), "--channel-map", "*=MM-{channel}")
    head = git(gs.path, "rev-parse", "HEAD").strip()
    again = run_json(gs, str(FIXTURE), "--channel-map", "*=MM-{channel}")
    assert again["commits"] == 0 and again["duplicates"] == 7
    assert git(gs.path, "rev-parse", "HEAD").strip() == head
    assert gs("verify").exit_code == 0
    stamps = {int(line) for line in git(gs.path, "log", "--format=%at", "-n", "7").split()}
    assert stamps == {post["create_at"] // 1000 for _, post in posts()}


def test_truncated_export_imports_preceding_posts_and_exits_1(gs, tmp_path):
    lines = FIXTURE.read_text().splitlines(keepends=True)
    broken = tmp_path / "export.jsonl"
    broken.write_text("".join(lines[:8]) + lines[8][:60])  # line 9 cut in the middle
    result = gs("import", "mattermost", str(broken), "--channel-map", "*=MM-{channel}")
    assert result.exit_code == 1
    assert "export.jsonl: line 9 column" in result.stderr and "truncated" in result.stderr
    assert len(internal_messages(gs.path)) == 3  # the post of line 8 and its two replies
    assert gs("verify").exit_code == 0


def test_export_must_start_with_version(gs, tmp_path):
    broken = tmp_path / "export.jsonl"
    broken.write_text("".join(FIXTURE.read_text().splitlines(keepends=True)[1:]))
    result = gs("import", "mattermost", str(broken))
    assert result.exit_code == 1 and "line 1: a bulk export starts with the version object" in result.stderr


def test_search_finds_an_imported_phrase(gs):

    run_json(gs, str(FIXTURE), "--channel-map", "*=MM-{channel}")
    result = gs("search", '"proxy timeout"', "--json")
    assert result.exit_code == 0, result.output
    assert "mattermost:support/escalations:1614592800456:bob" in result.stdout
