"""Hand edits committed with ``gitstore commit``; ``verify`` and ``repair``."""

from __future__ import annotations

import json
import os

from conftest import git, requires_git
from gitstore.tickets import layout


def setup_ticket(gs, t_no="1001"):
    assert gs("ticket", "create", t_no, "--client", "Ana", "--company", "Acme").exit_code == 0
    assert gs("message", "add", t_no, "--external", "--sender", "customer", "--sender-id", "ana", "hello").exit_code == 0
    return gs.path / layout.ticket_path("T", t_no), gs.path / layout.ticket_path("E", t_no)


@requires_git
def test_valid_hand_edit_is_committed_as_one_update(gs):
    t_file, e_file = setup_ticket(gs)
    data = json.loads(t_file.read_text())
    data["company_name"] = "Acme Corp"
    t_file.write_text(json.dumps(data))  # not canonical: gitstore rewrites it canonically
    before = int(git(gs.path, "rev-list", "--count", "HEAD"))
    result = gs("commit", "-m", "Fix company name", actor="dana")
    assert result.exit_code == 0, result.output
    assert int(git(gs.path, "rev-list", "--count", "HEAD")) == before + 1
    assert git(gs.path, "log", "-1", "--format=%an %s").strip() == "dana Fix company name"
    assert git(gs.path, "status", "--porcelain") == ""
    shown = json.loads(gs("ticket", "show", "1001", "--json").output)
    assert shown["workflow_state"]["company_name"] == "Acme Corp"
    state = shown["workflow_state"]
    assert state["last_synchronized"] == shown["external_conversation"]["last_updated"]
    assert gs("verify").exit_code == 0


@requires_git
def test_invalid_hand_edits_are_refused_and_left_in_place(gs):
    t_file, e_file = setup_ticket(gs)
    setup_ticket(gs, "2002")
    t2 = gs.path / layout.ticket_path("T", "2002")
    t_file.write_text('{"ticket_id": "1001", ')  # malformed
    bad_enum = json.loads(t2.read_text())
    bad_enum["priority"] = "URGENT"
    t2.write_text(json.dumps(bad_enum))
    before = git(gs.path, "rev-parse", "HEAD")
    result = gs("commit")
    assert result.exit_code == 1
    lines = [l for l in result.output.splitlines() if l.startswith("refused")]
    assert len(lines) == 2
    assert "T_1001.json: malformed JSON" in lines[0] and "priority" in lines[1]
    assert git(gs.path, "rev-parse", "HEAD") == before
    assert t_file.read_text() == '{"ticket_id": "1001", '  # edit left in place
    assert "URGENT" in t2.read_text()


def test_cross_file_rule_violation_refused(gs):
    t_file, e_file = setup_ticket(gs)
    data = json.loads(e_file.read_text())
    data["ticket_id"] = "9999"
    e_file.write_text(json.dumps(data, indent=2))
    result = gs("commit")
    assert result.exit_code == 1
    assert "ticket_id is '9999'" in result.output


def test_hand_made_new_ticket_needs_all_three_files(gs):
    setup_ticket(gs)
    stray = gs.path / layout.ticket_path("E", "3003")
    stray.parent.mkdir(parents=True, exist_ok=True)
    stray.write_text((gs.path / layout.ticket_path("E", "1001")).read_text().replace("1001", "3003"))
    result = gs("commit")
    assert result.exit_code == 1 and "a ticket needs all three files" in result.output


def test_nothing_to_commit(gs):
    setup_ticket(gs)
    result = gs("commit")
    assert result.exit_code == 0 and "nothing to commit" in result.output


@requires_git
def test_verify_reports_each_problem_on_one_line(gs):
    setup_ticket(gs)
    setup_ticket(gs, "2002")
    assert gs("verify").exit_code == 0
    # a person commits broken files with plain git, bypassing gitstore
    t2 = gs.path / layout.ticket_path("T", "2002")
    data = json.loads(t2.read_text())
    data["priority"] = "URGENT"
    t2.write_text(json.dumps(data, indent=2) + "\n")
    os.remove(gs.path / layout.ticket_path("I", "1001"))
    stray = gs.path / "Tickets/T_ext/notes.txt"
    stray.write_text("hello")
    git(gs.path, "add", "-A")
    git(gs.path, "commit", "-qm", "break things")
    (gs.path / layout.ticket_path("E", "2002")).write_text("uncommitted junk")
    result = gs("verify", "--json")
    assert result.exit_code == 1
    problems = json.loads(result.output)
    messages = [(p["ticket"], p["message"]) for p in problems]
    assert any(t == "1001" and "orphaned ticket" in m for t, m in messages)
    assert any(t == "2002" and "priority" in m for t, m in messages)
    assert any(p["file"] == "Tickets/T_ext/notes.txt" and "stray file" in p["message"] for p in problems)
    assert any(t == "2002" and "working tree differs from HEAD (modified)" in m for t, m in messages)
    text = gs("verify").output.strip().splitlines()
    assert len(text) == len(problems)


@requires_git
def test_repair_restores_working_tree_with_backup(gs):
    t_file, e_file = setup_ticket(gs)
    original = e_file.read_text()
    e_file.write_text("garbage")
    git_dir = gs.path / ".git"
    result = gs("repair")
    assert result.exit_code == 0, result.output
    assert e_file.read_text() == original
    backups = list((git_dir / "gitstore/repair-backup").rglob("E_1001.json"))
    assert len(backups) == 1 and backups[0].read_text() == "garbage"
    assert git(gs.path, "status", "--porcelain") == ""
    assert gs("verify").exit_code == 0


def test_repair_clears_stale_locks_of_a_dead_writer(gs):
    setup_ticket(gs)
    git_dir = gs.path / ".git"
    (git_dir / "gitstore/writer.pid").write_text("999999 0\n")
    (git_dir / "index.lock").write_text("")
    result = gs("repair")
    assert result.exit_code == 0, result.output
    assert "cleared stale lock" in result.output and not (git_dir / "index.lock").exists()


@requires_git
def test_verify_no_objects_skips_git_fsck_only(gs):
    """``verify`` runs git fsck (a corrupt object is a problem); ``--no-objects`` skips
    only that check: ticket rules are still checked."""
    setup_ticket(gs)
    corrupt = gs.path / ".git" / "objects" / "00" / ("0" * 38)
    corrupt.parent.mkdir(exist_ok=True)
    corrupt.write_bytes(b"garbage")
    full = gs("verify")
    assert full.exit_code == 1 and "git fsck:" in full.output and "object corrupt or missing" in full.output
    quick = gs("verify", "--no-objects")
    assert quick.exit_code == 0, quick.output
    corrupt.unlink()
    t2 = gs.path / layout.ticket_path("T", "1001")
    data = json.loads(t2.read_text())
    data["priority"] = "URGENT"
    t2.write_text(json.dumps(data, indent=2) + "\n")
    git(gs.path, "commit", "-qam", "a bad priority, by hand")
    quick = gs("verify", "--no-objects", "--json")
    assert quick.exit_code == 1 and any("priority" in p["message"] for p in json.loads(quick.output))
