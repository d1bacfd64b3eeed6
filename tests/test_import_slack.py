"""``gitstore import slack``: Slack export folders.

Always-on tests use ``tests/data/slack_sample`` (channels ``sci`` and ``talks`` of the
real houstondatavis export, day files unchanged); the full development export in
../shared/data is imported by the ``shared_or_skip`` test. Expected counts and values
are read from the raw day files with ``json`` in the test.
"""

from __future__ import annotations

import json
import shutil
from datetime import datetime, timezone
from pathlib import Path

from conftest import TEST_DATA, git, import_json, internal_messages, read_all, requires_git, shared_or_skip

SAMPLE = TEST_DATA / "slack_sample"


def raw_records(folder: Path, channels=None) -> list[tuple[str, dict]]:
    found = []
    for channel in json.loads((folder / "channels.json").read_text()):
        if channels and channel["name"] not in channels:
            continue
        for day in sorted((folder / channel["name"]).glob("*.json")):
            found += [(channel["name"], m) for m in json.loads(day.read_text())]
    return found


def run_json(gs, *args, exit_code=0):
    return import_json(gs, "slack", *args, exit_code=exit_code)


def test_channel_map_per_channel_counts_text_sender_time(gs):
    records = raw_records(SAMPLE)
    summary = run_json(gs, str(SAMPLE), "--channel-map", "*=SLACK-{channel}")
    assert summary["tickets_created"] == ["SLACK-sci", "SLACK-talks"]
    assert summary["messages_added"] == len(records) == 90
    stored = internal_messages(gs.path)
    assert len(stored) == len(records)
    users = {u["id"]: u["name"] for u in json.loads((SAMPLE / "users.json").read_text())}
    channel_ids = {c["name"]: c["id"] for c in json.loads((SAMPLE / "channels.json").read_text())}
    for channel, record in records:
        t_no, message = stored[f"slack:{channel_ids[channel]}:{record['ts']}"]
        assert t_no == f"SLACK-{channel}"
        assert message["content"] == record["text"]
        assert message["sender_id"] == users.get(record.get("user"), record.get("user"))
        when = datetime.fromtimestamp(float(record["ts"]), timezone.utc)
        assert abs(datetime.fromisoformat(message["timestamp"].replace("Z", "+00:00")) - when).total_seconds() < 1e-5
        assert message["platform"] == "slack" and message["sender"] == "technical_member"
        assert message["metadata"]["channel_id"] == channel_ids[channel]
        assert message["metadata"]["platform_specific"].get("subtype") == record.get("subtype")
    # a known message, exactly
    _, known = stored[f"slack:{channel_ids['talks']}:1434464491.000003"]
    assert known["content"] == "The Bostock talk was awesome. Good to have in the background during a codejam"
    assert known["timestamp"] == "2015-06-16T14:21:31.000003Z"
    # a shared file is recorded as an attachment
    _, shared = stored[f"slack:{channel_ids['talks']}:1433866273.000004"]
    assert shared["attachments"][0]["name"] == "Screen Shot 2015-06-09 at 11.10.32.png"
    assert shared["attachments"][0]["content_type"] == "image/png"
    # each channel's writers are the I file's technical team, in order of first message
    tickets = read_all(gs.path)
    for channel in ("sci", "talks"):
        writers = [users.get(r.get("user"), r.get("user") or r.get("username") or r.get("bot_id") or "unknown")
                   for c, r in sorted(records, key=lambda cr: float(cr[1]["ts"])) if c == channel]
        participants = tickets[f"SLACK-{channel}"].internal.participants
        assert participants.technical_team == list(dict.fromkeys(writers)) and participants.cs_team == []


def test_unmapped_messages_are_reported_as_skipped(gs):
    result = gs("import", "slack", str(SAMPLE), "--channel-map", "sci=2001")
    assert result.exit_code == 3, result.output  # 3: records were skipped
    talks = len(raw_records(SAMPLE, {"talks"}))
    assert f"{talks} skipped" in result.stdout
    assert "no ticket for channel #talks" in result.stderr
    stored = internal_messages(gs.path)
    assert len(stored) == len(raw_records(SAMPLE, {"sci"})) and {t for t, _ in stored.values()} == {"2001"}


def test_ticket_tag_in_text_maps_the_thread(gs, tmp_path):
    export = tmp_path / "export"
    (export / "ops").mkdir(parents=True)
    (export / "channels.json").write_text(json.dumps([{"id": "C1", "name": "ops"}]))
    (export / "users.json").write_text(json.dumps([
        {"id": "U1", "name": "ana", "team_id": "T9", "profile": {"email": "ana@help.example"}},
        {"id": "U2", "name": "raj", "team_id": "T9", "profile": {"email": "raj@eng.example"}},
    ]))
    (export / "ops" / "2021-03-01.json").write_text(json.dumps([
        {"type": "message", "user": "U1", "text": "Customer down, see [T_3001]", "ts": "1614589200.000100", "thread_ts": "1614589200.000100"},
        {"type": "message", "user": "U2", "text": "on it", "ts": "1614589260.000200", "thread_ts": "1614589200.000100"},
        {"type": "message", "user": "U2", "text": "unrelated chatter", "ts": "1614589300.000300"},
    ]))
    summary = run_json(gs, str(export), "--agent-domain", "help.example", exit_code=3)
    assert summary["tickets_created"] == ["3001"] and summary["messages_added"] == 2
    assert summary["skipped"][0]["position"].endswith("2021-03-01.json#record 2")
    assert summary["skipped"][0]["id"] == "1614589300.000300"
    stored = internal_messages(gs.path)
    assert [m["sender"] for _, m in sorted(stored.values(), key=lambda v: v[1]["timestamp"])] == ["cs_agent", "technical_member"]
    assert stored["slack:C1:1614589260.000200"][1]["metadata"]["thread_id"] == "1614589200.000100"


@requires_git
def test_reimport_adds_nothing_verify_and_git_log(gs):
    run_json(gs, str(SAMPLE), "--channel-map", "*=SLACK-{channel}")
    head = git(gs.path, "rev-parse", "HEAD").strip()
    again = run_json(gs, str(SAMPLE), "--channel-map", "*=SLACK-{channel}")
    assert again["commits"] == 0 and again["duplicates"] == 90
    assert git(gs.path, "rev-parse", "HEAD").strip() == head
    assert gs("verify").exit_code == 0
    log = git(gs.path, "log", "--format=%at %s", "-n", "90").splitlines()
    expected = {int(float(m["ts"])) for _, m in raw_records(SAMPLE)}
    assert {int(line.split()[0]) for line in log} == expected
    assert git(gs.path, "status", "--porcelain") == ""


def test_truncated_day_file_imports_what_precedes_and_exits_1(gs, tmp_path):
    export = tmp_path / "export"
    shutil.copytree(SAMPLE, export)
    day = export / "talks" / "2015-06-11.json"
    text = day.read_text()
    day.write_text(text[: text.index("}", text.index("1434083785")) - 5])  # cut inside record 1
    result = gs("import", "slack", str(export), "--channel-map", "*=S-{channel}")
    assert result.exit_code == 1
    assert "2015-06-11.json" in result.stderr and "line" in result.stderr and "column" in result.stderr
    before = len(raw_records(SAMPLE, {"sci"})) + sum(
        len(json.loads(p.read_text())) for p in sorted((SAMPLE / "talks").glob("*.json")) if p.name < "2015-06-11.json"
    ) + 1  # record 0 of the cut file is complete
    assert len(internal_messages(gs.path)) == before
    assert gs("verify").exit_code == 0


def test_oversized_message_is_skipped_with_reason(gs, tmp_path):
    export = tmp_path / "export"
    (export / "ops").mkdir(parents=True)
    (export / "channels.json").write_text(json.dumps([{"id": "C1", "name": "ops"}]))
    (export / "ops" / "2021-03-01.json").write_text(json.dumps([
        {"type": "message", "user": "U1", "text": "x" * (257 * 1024), "ts": "1614589200.000100"},
        {"type": "message", "user": "U1", "text": "small", "ts": "1614589201.000100"},
    ]))
    result = gs("import", "slack", str(export), "--channel-map", "ops=4001")
    assert result.exit_code == 3
    assert "1 messages added" in result.stdout and "over the limit" in result.stderr


def test_bad_channel_map_is_a_one_line_error(gs):
    result = gs("import", "slack", str(SAMPLE), "--channel-map", "sci")
    assert result.exit_code == 1 and "expected CHANNEL=T_NO" in result.stderr


def test_full_export(gs):
    folder = shared_or_skip("slack_export_houstondatavis")
    records = raw_records(folder)
    summary = run_json(gs, str(folder), "--channel-map", "*=SLACK-{channel}")
    channels = {c for c, _ in records}
    assert len(summary["tickets_created"]) == len(channels) == 7
    assert summary["messages_added"] == len(records) == 690
    assert len(internal_messages(gs.path)) == 690
    assert gs("verify").exit_code == 0


def test_search_finds_an_imported_phrase(gs):

    run_json(gs, str(SAMPLE), "--channel-map", "*=SLACK-{channel}")
    result = gs("search", '"Bostock talk was awesome"', "--json")
    assert result.exit_code == 0, result.output
    assert "SLACK-talks" in result.stdout and "1434464491.000003" in result.stdout
