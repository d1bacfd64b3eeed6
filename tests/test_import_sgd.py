"""``gitstore import sgd``: Schema-Guided Dialogue files.

Always-on tests use ``tests/data/sgd_sample/dialogues_001.json`` (the first 6 dialogues
of the real SGD dev split, records unchanged); the full development file in
../shared/data is imported by the ``shared_or_skip`` test. Expected values are read
from the raw JSON in the test.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

from conftest import TEST_DATA, git, import_json, read_all, requires_git, shared_or_skip

SAMPLE = TEST_DATA / "sgd_sample" / "dialogues_001.json"


def dialogues(path: Path) -> list[dict]:
    return json.loads(path.read_text())


def run_json(gs, *args):
    return import_json(gs, "sgd", *args)


def test_turns_and_decisions_counts_and_spot_checks(gs):
    raw = dialogues(SAMPLE)
    summary = run_json(gs, str(SAMPLE.parent))
    assert len(summary["tickets_created"]) == len(raw) == 6
    assert summary["messages_added"] == sum(len(d["turns"]) for d in raw)
    tickets = read_all(gs.path)
    for dialogue in raw:
        files = tickets[f"SGD-{dialogue['dialogue_id']}"]
        assert [m.content for m in files.external.messages] == [t["utterance"] for t in dialogue["turns"]]
        assert [m.sender for m in files.external.messages] == [
            "customer" if t["speaker"] == "USER" else "cs_agent" for t in dialogue["turns"]
        ]
        frames = [f for t in dialogue["turns"] for f in t["frames"]]
        assert len(files.workflow.agent_decisions) == len(frames)
        calls = [f for f in frames if "service_call" in f]
        updates = [d for d in files.workflow.agent_decisions if d.agent == "updates"]
        assert [d.decision["service_call"] for d in updates] == [f["service_call"] for f in calls]
        assert files.workflow.company_name == ", ".join(dialogue["services"])
    first = tickets["SGD-1_00000"]
    assert first.external.messages[1].content == "What city do you want to dine in? Do you have a preferred restaurant?"
    classifier = first.workflow.agent_decisions[0]
    assert classifier.agent == "classifier" and classifier.decision["active_intent"] == "ReserveRestaurant"
    assert classifier.confidence == 1.0 and classifier.human_confirmed
    # synthetic clock: dialogue 1_0000N starts N hours after 2019-01-01, turns 30 s apart
    start = datetime(2019, 1, 1, tzinfo=timezone.utc)
    third = tickets["SGD-1_00003"].external.messages
    assert third[0].timestamp == start + timedelta(hours=3)
    assert third[4].timestamp == start + timedelta(hours=3, seconds=120)
    assert third[0].metadata.platform_specific["synthetic_time"] is True


def test_start_option_moves_the_synthetic_clock(gs):
    run_json(gs, str(SAMPLE), "--start", "2020-05-01T12:00:00+02:00")
    first = read_all(gs.path)["SGD-1_00000"].external.messages[0]
    assert first.timestamp == datetime(2020, 5, 1, 10, 0, tzinfo=timezone.utc)


def test_bad_start_is_a_one_line_error(gs):
    result = gs("import", "sgd", str(SAMPLE), "--start", "yesterday")
    assert result.exit_code == 1 and "--start 'yesterday'" in result.stderr


@requires_git
def test_reimport_adds_nothing_verify_and_git_log(gs):
    run_json(gs, str(SAMPLE))
    head = git(gs.path, "rev-parse", "HEAD").strip()
    again = run_json(gs, str(SAMPLE))
    total = sum(len(d["turns"]) for d in dialogues(SAMPLE))
    assert again["commits"] == 0 and again["duplicates"] == total
    assert git(gs.path, "rev-parse", "HEAD").strip() == head
    assert gs("verify").exit_code == 0
    log = git(gs.path, "log", "--reverse", "--format=%aI|%s").splitlines()[1:]
    assert log[0] == "2019-01-01T00:00:00+00:00|Import SGD turn 0 (user) into ticket SGD-1_00000"
    assert len(log) == total


def test_truncated_file_imports_preceding_dialogues_and_exits_1(gs, tmp_path):
    text = SAMPLE.read_text()
    cut = text.index('"dialogue_id": "1_00002"')
    broken = tmp_path / "dialogues_001.json"
    broken.write_text(text[:cut])
    result = gs("import", "sgd", str(broken))
    assert result.exit_code == 1
    assert "dialogues_001.json: malformed JSON in record 2 at line" in result.stderr
    assert sorted(read_all(gs.path)) == ["SGD-1_00000", "SGD-1_00001"]
    assert gs("verify").exit_code == 0


def test_full_dev_file(gs):
    path = shared_or_skip("sgd_schema_guided_dialogue", "dev", "dialogues_001.json")
    raw = dialogues(path)
    summary = run_json(gs, str(path))
    assert len(summary["tickets_created"]) == len(raw) == 128
    assert summary["messages_added"] == sum(len(d["turns"]) for d in raw) == 1650
    assert gs("verify").exit_code == 0


def test_search_finds_an_imported_phrase(gs):

    run_json(gs, str(SAMPLE))
    result = gs("search", '"preferred restaurant"', "--json")
    assert result.exit_code == 0, result.output
    assert "1_00000:1" in result.stdout
