"""The core CLI driven as a person would: init, ticket, message, state, update, show, list."""

from __future__ import annotations

import json

import pytest

from conftest import git, requires_git
from gitstore.tickets import layout


def create(gs, t_no="1001", *extra):
    result = gs("ticket", "create", t_no, "--client", "Ana Ruiz", "--company", "Acme", *extra)
    assert result.exit_code == 0, result.output
    return result


@requires_git
def test_a_support_day_through_the_cli(gs):
    create(gs, "1001", "--priority", "HIGH", "--platform", "web_chat")
    r = gs("message", "add", "1001", "--external", "--sender", "customer", "--sender-id", "ana", "Printer is down", actor="ana")
    assert r.exit_code == 0, r.output
    r = gs("message", "add", "1001", "--internal", "--sender", "technical_member", "--sender-id", "ops1",
           "--type", "update", "-", input="Driver rolled back\nsecond line\n", actor="ops1")
    assert r.exit_code == 0, r.output
    r = gs("state", "set", "1001", "assigned_member=bob", "workflow_stage=classifier", "resolved=false")
    assert r.exit_code == 0, r.output
    r = gs("ticket", "show", "1001", "--json")
    data = json.loads(r.output)
    assert data["workflow_state"]["priority"] == "HIGH"
    assert data["workflow_state"]["assigned_member"] == "bob"
    assert data["external_conversation"]["platform"] == "web_chat"
    assert [m["content"] for m in data["unified_timeline"]] == ["Printer is down", "Driver rolled back\nsecond line\n"]
    text = gs("ticket", "show", "1001").output
    assert "[E] customer:ana: Printer is down" in text and "stage: classifier" in text
    assert [row["ticket"] for row in json.loads(gs("ticket", "list", "--json").output)] == ["1001"]
    # the index entries carry the files' stat data: clean without git re-reading them
    assert git(gs.path, "diff-files", "--name-only") == ""
    assert git(gs.path, "status", "--porcelain") == ""
    assert git(gs.path, "log", "-1", "--format=%an").strip() == "tester"
    assert git(gs.path, "log", "-2", "--skip=1", "--format=%an").split() == ["ops1", "ana"]


def test_update_file_applies_one_synchronized_update(gs, tmp_path):
    create(gs)
    update = {
        "E": {"messages": [{"sender": "cs_agent", "sender_id": "bob", "content": "On it"}], "conversation_status": "escalated"},
        "I": {"messages": [{"sender": "cs_agent", "sender_id": "bob", "content": "Need eyes", "message_type": "escalation"}],
              "progress_updates": [{"updater": "bob", "status": "in_progress", "notes": "looking"}]},
        "T": {"priority": "HIGH", "agent_decisions": [{"agent": "classifier", "decision": {"priority": "HIGH"}, "confidence": 0.9}]},
    }
    path = tmp_path / "u.json"
    path.write_text(json.dumps(update))
    before = git(gs.path, "rev-list", "--count", "HEAD")
    r = gs("update", "1001", "--file", str(path), "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["files"] == ["E_1001.json", "I_1001.json", "T_1001.json"]
    assert int(git(gs.path, "rev-list", "--count", "HEAD")) == int(before) + 1
    data = json.loads(gs("ticket", "show", "1001", "--json").output)
    assert data["external_conversation"]["conversation_status"] == "escalated"
    assert data["internal_conversation"]["progress_updates"][0]["status"] == "in_progress"
    assert data["decision_trail"][0]["decision"] == {"priority": "HIGH"}


def head(gs):
    return git(gs.path, "rev-parse", "HEAD").strip()


@pytest.mark.parametrize(
    "args, message",
    [
        (("ticket", "show", "404"), "ticket 404 not found"),
        (("message", "add", "404", "--external", "--sender", "customer", "--sender-id", "x", "hi"), "ticket 404 not found"),
        (("ticket", "create", "1001", "--client", "A", "--company", "B"), "ticket 1001 already exists"),
        (("ticket", "create", "../../etc", "--client", "A", "--company", "B"), "invalid ticket number"),
        (("ticket", "show", "a/b"), "invalid ticket number"),
        (("state", "set", "1001", "priority=URGENT"), "priority"),
        (("state", "set", "1001", "colour=red"), "unknown field 'colour'"),
        (("message", "add", "1001", "--external", "--sender", "alien", "--sender-id", "x", "hi"), "sender"),
        (("message", "add", "1001", "--external", "--type", "update", "--sender", "customer", "--sender-id", "x", "hi"), "internal messages only"),
        (("ticket", "show", "1001", "--at", "nonsense-rev-xyz"), "unknown revision"),
    ],
)
def test_bad_input_gives_one_line_error_and_changes_nothing(gs, args, message):
    create(gs)
    before = head(gs)
    result = gs(*args)
    assert result.exit_code == 1, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ") and message in lines[0], result.output
    assert head(gs) == before
    assert git(gs.path, "status", "--porcelain") == ""


def test_bad_update_files(gs, tmp_path):
    create(gs)
    before = head(gs)
    cases = {
        "malformed.json": (b'{"E": {"messages": [', "malformed JSON at line 1"),
        "utf8.json": (b'{"E": {"messages": [{"content": "\xff"}]}}', "invalid UTF-8"),
        "schema.json": (json.dumps({"T": {"channel": "FAX"}}).encode(), "channel"),
        "huge.json": (json.dumps({"E": {"messages": [{"sender": "customer", "sender_id": "x", "content": "x" * 300_000}]}}).encode(), "over the limit"),
        "kind.json": (json.dumps({"Q": {}}).encode(), "unknown file kind"),
    }
    for name, (data, message) in cases.items():
        path = tmp_path / name
        path.write_bytes(data)
        result = gs("update", "1001", "--file", str(path))
        assert result.exit_code == 1 and result.output.startswith("Error: ") and message in result.output, (name, result.output)
        assert len(result.output.strip().splitlines()) == 1
    assert head(gs) == before


def test_stdin_must_be_utf8(gs):
    create(gs)
    result = gs("message", "add", "1001", "--external", "--sender", "customer", "--sender-id", "x", "-", input=b"\xff\xfe")
    assert result.exit_code == 1 and "not valid UTF-8" in result.output


def test_non_store_directory(runner, tmp_path):
    from gitstore_cli.main import cli

    result = runner.invoke(cli, ["-C", str(tmp_path), "ticket", "list"])
    assert result.exit_code == 1
    assert result.output.startswith("Error: not a gitstore store")


def test_actor_defaults_to_git_user_name_and_is_required(gs):
    create(gs)
    result = gs("state", "set", "1001", "priority=HIGH", actor=None)
    assert result.exit_code == 1 and "no actor" in result.output
    git(gs.path, "config", "user.name", "Dana Git")
    result = gs("state", "set", "1001", "priority=HIGH", actor=None)
    assert result.exit_code == 0, result.output
    assert git(gs.path, "log", "-1", "--format=%an").strip() == "Dana Git"


def test_optimistic_version_from_show(gs):
    create(gs)
    version = json.loads(gs("ticket", "show", "1001", "--json").output)["version"]
    assert gs("state", "set", "1001", "priority=HIGH", "--version", version).exit_code == 0
    stale = gs("state", "set", "1001", "priority=LOW", "--version", version)
    assert stale.exit_code == 1 and "changed since version" in stale.output


def test_ticket_path_and_help_has_examples(gs, runner):
    from gitstore_cli.main import cli

    result = runner.invoke(cli, ["ticket", "path", "1001", "--json"])
    assert json.loads(result.output) == layout.ticket_paths("1001")
    for command in (["--help"], ["ticket", "create", "--help"], ["message", "add", "--help"], ["update", "--help"]):
        assert "Example" in runner.invoke(cli, command).output
