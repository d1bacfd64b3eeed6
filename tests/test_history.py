"""History through the CLI on real stores: history, --at, diff, rollback, log, blame, archive, gc."""

from __future__ import annotations

import json
import re
import sqlite3
import subprocess
import sys
import time

import pytest

from conftest import git, requires_git
from gitstore.tickets import layout

pytestmark = requires_git


def ok(result):
    assert result.exit_code == 0, result.output
    return result


def commit_of(result) -> str:
    return json.loads(result.output)["commit"]


def build(gs):
    """A ticket with a life: create, messages, state changes, a decision, progress."""
    ok(gs("ticket", "create", "1001", "--client", "Ana Ruiz", "--company", "Acme"))
    ok(gs("message", "add", "1001", "--external", "--sender", "customer", "--sender-id", "ana", "Printer is down", actor="ana"))
    ok(gs("--agent", "classifier", "state", "set", "1001", "priority=HIGH", "workflow_stage=classifier", actor="bot-7"))
    ok(gs("message", "add", "1001", "--internal", "--sender", "technical_member", "--sender-id", "ops1", "--type", "update", "Driver rolled back", actor="ops1"))
    ok(gs("message", "add", "1001", "--external", "--sender", "cs_agent", "--sender-id", "bob", "We are on it", actor="bob"))
    ok(gs("ticket", "create", "2002", "--client", "Li", "--company", "Initech"))
    return gs.path


def paths(t_no):
    return list(layout.ticket_paths(t_no).values())


def test_history_lists_the_commits_that_changed_the_ticket_like_git_log(gs):
    path = build(gs)
    out = json.loads(ok(gs("history", "1001", "--json")).output)
    assert [e["commit"] for e in out] == git(path, "log", "--format=%H", "--", *paths("1001")).split()
    assert [e["kinds"] for e in out] == [["E"], ["I"], ["T"], ["E"], ["E", "I", "T"]]
    assert [e["actor"] for e in out] == ["bob", "ops1", "bot-7", "ana", "tester"]
    assert out[2]["agent"] == "classifier" and out[0]["agent"] is None
    assert out[0]["summary"] == "Add external message to ticket 1001"
    assert out[-1]["summary"].startswith("Create ticket 1001")
    times = [e["time"] for e in out]
    assert times == sorted(times, reverse=True) and times[0].endswith("Z")
    limited = json.loads(ok(gs("history", "1001", "--limit", "2", "--json")).output)
    assert limited == out[:2]
    text = ok(gs("history", "1001")).output.splitlines()
    assert len(text) == 5 and text[0].startswith(out[0]["commit"][:12]) and "bob" in text[0]
    assert "agent=classifier" in text[2]


def test_history_bad_input_is_one_line_error(gs):
    build(gs)
    r = gs("history", "9999")
    assert r.exit_code == 1 and "ticket 9999 has no history" in r.output
    r = gs("history", "../etc")
    assert r.exit_code == 1 and "invalid ticket number" in r.output
    r = gs("history", "1001", "--limit", "0")
    assert r.exit_code == 1 and "invalid limit 0" in r.output


def test_history_catches_up_after_plain_git_commits_and_rewinds(gs):
    path = build(gs)
    before = json.loads(ok(gs("history", "1001", "--json")).output)
    # a person edits the T file with plain git: the log catches up by tree diff
    t_file = path / layout.ticket_path("T", "1001")
    data = json.loads(t_file.read_text())
    data["assigned_member"] = "carol"
    t_file.write_text(json.dumps(data, indent=2) + "\n")
    git(path, "commit", "-qam", "hand edit")
    after = json.loads(ok(gs("history", "1001", "--json")).output)
    head = git(path, "rev-parse", "HEAD").strip()
    assert after[0]["commit"] == head and after[0]["kinds"] == ["T"] and after[0]["actor"] == "test"
    assert after[1:] == before
    # history rewound (reset): the log notices the recorded commit is gone and rebuilds
    git(path, "reset", "-q", "--hard", "HEAD~3")
    rewound = json.loads(ok(gs("history", "1001", "--json")).output)
    assert [e["commit"] for e in rewound] == git(path, "log", "--format=%H", "--", *paths("1001")).split()
    assert len(rewound) == 4 and rewound[0]["actor"] == "ops1"


def test_history_log_rebuilds_on_schema_change_and_damage(store):
    from gitstore.history.log import SCHEMA_VERSION, for_store, ticket_history

    store.create_ticket("1", client_name="A", company_name="B", actor="a")
    store.set_state("1", {"priority": "HIGH"}, actor="a")
    first = ticket_history(store, "1")
    db = store.state_dir / "history.sqlite"
    for_store(store).close()
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE meta SET value=? WHERE key='schema_version'", (str(SCHEMA_VERSION + 1),))
        conn.execute("DELETE FROM changes")
    assert ticket_history(store, "1") == first
    for_store(store).close()
    for suffix in ("-wal", "-shm"):
        (store.state_dir / f"history.sqlite{suffix}").unlink(missing_ok=True)
    db.write_bytes(b"this is not a database" * 100)
    assert ticket_history(store, "1") == first


def test_building_a_long_history_log_on_a_read_says_so(store, caplog, monkeypatch):
    """A read that has to build (or catch up) the history log over many commits tells
    it on the ``gitstore.history`` logger; a short catch-up stays quiet."""
    import logging

    import gitstore.history.log as history
    from gitstore.history.log import for_store, ticket_history

    monkeypatch.setattr(history, "NOTICE_FROM_COMMITS", 30)
    with store.bulk(checkpoint_every=100):
        for n in range(40):
            store.create_ticket(str(n), client_name="A", company_name="B", actor="a")
    with caplog.at_level(logging.WARNING, logger="gitstore.history"):
        assert len(ticket_history(store, "7")) == 1
    notices = [r.getMessage() for r in caplog.records if r.name == "gitstore.history"]
    assert len(notices) == 1 and "building the history log" in notices[0] and "41 commits" in notices[0], notices
    caplog.clear()
    store.set_state("7", {"priority": "HIGH"}, actor="a")
    with caplog.at_level(logging.WARNING, logger="gitstore.history"):
        assert len(ticket_history(store, "7")) == 2
    assert not [r for r in caplog.records if r.name == "gitstore.history"]
    for_store(store).close()


def test_ticket_version_from_the_log_equals_the_first_parent_walk(store):
    import gitstore.history.log as history

    for n in range(3):
        store.create_ticket(str(n), client_name="A", company_name="B", actor="a")
    store.set_state("0", {"priority": "HIGH"}, actor="a")
    store.set_state("2", {"priority": "HIGH"}, actor="a")
    indexed = {t: store.ticket_version(t) for t in "012"}
    at_old = store.ticket_version("0", at="HEAD~2")
    original = history.indexed_version
    history.indexed_version = lambda *a: None  # the plain walk, for comparison
    try:
        assert {t: store.ticket_version(t) for t in "012"} == indexed
        assert store.ticket_version("0", at="HEAD~2") == at_old
    finally:
        history.indexed_version = original


def test_show_at_commit_prefix_ref_and_bad_revisions(gs):
    path = build(gs)
    log = git(path, "log", "--format=%H", "--", *paths("1001")).split()
    r = json.loads(ok(gs("ticket", "show", "1001", "--at", log[3][:8], "--json")).output)
    assert [m["content"] for m in r["unified_timeline"]] == ["Printer is down"]
    r = json.loads(ok(gs("ticket", "show", "1001", "--at", "HEAD~2", "--json")).output)
    assert r["workflow_state"]["priority"] == "HIGH" and len(r["unified_timeline"]) == 2
    r = gs("ticket", "show", "1001", "--at", "no-such-rev")
    assert r.exit_code == 1 and "unknown revision 'no-such-rev'" in r.output
    r = gs("ticket", "show", "1001", "--at", "1999-01-01")
    assert r.exit_code == 1 and "ticket 1001 did not exist at 1999-01-01" in r.output
    # an ambiguous prefix lists its candidates: make commits until two share 4 hex digits
    # (libgit2 alone returned one of them without complaint)
    from gitstore import Store

    seen: dict[str, str] = {}
    for commit in git(path, "rev-list", "--all").split():
        seen.setdefault(commit[:4], commit)
    with Store.open(path, fsync=False) as store, store.batch():
        for n in range(5000):
            commit = store.set_state("2002", {"assigned_member": f"m{n}"}, actor="a").commit
            if commit[:4] in seen:
                break
            seen[commit[:4]] = commit
    r = gs("ticket", "show", "2002", "--at", commit[:4])
    assert r.exit_code == 1 and "ambiguous revision" in r.output
    assert commit[:12] in r.output and seen[commit[:4]][:12] in r.output


def test_show_at_date_uses_the_update_times(store, runner):
    from datetime import datetime, timedelta, timezone

    from gitstore_cli.main import cli

    t0 = datetime(2026, 3, 1, 9, 0, tzinfo=timezone.utc)
    store.create_ticket("7", client_name="A", company_name="B", actor="a", timestamp=t0)
    for n in range(1, 4):
        store.add_message("7", "E", sender="customer", sender_id="c", content=f"m{n}", actor="a", timestamp=t0 + timedelta(hours=n))
    base = ["-C", str(store.path), "--no-fsync", "ticket", "show", "7", "--json", "--at"]
    r = runner.invoke(cli, base + ["2026-03-01T11:30Z"])
    assert r.exit_code == 0, r.output
    assert [m["content"] for m in json.loads(r.output)["unified_timeline"]] == ["m1", "m2"]
    r = runner.invoke(cli, base + ["2026-03-01T09:00:00Z"])
    assert json.loads(r.output)["unified_timeline"] == []
    r = runner.invoke(cli, base + ["2026-03-01T08:59Z"])
    assert r.exit_code == 1
    assert "ticket 7 did not exist at 2026-03-01T08:59Z: it was created 2026-03-01T09:00:00Z" in r.output
    r = runner.invoke(cli, base + ["3 days ago"])
    assert r.exit_code == 0 and len(json.loads(r.output)["unified_timeline"]) == 3


def test_diff_in_ticket_terms(gs):
    path = build(gs)
    ok(gs("update", "1001", "--file", "-", input=json.dumps({
        "I": {"progress_updates": [{"updater": "ops1", "status": "in_progress", "notes": "replacing fuser"}]},
        "T": {"agent_decisions": [{"agent": "classifier", "decision": {"category": "hardware"}, "confidence": 0.9}]},
    })))
    last = json.loads(ok(gs("diff", "1001", "--json")).output)
    kinds = {(i["file"], i["item"], i["change"]) for i in last["items"]}
    assert kinds == {("I", "progress_update", "added"), ("T", "agent_decision", "added")}
    assert last["fields"] == [] and last["new_commit"] == git(path, "rev-parse", "HEAD").strip()
    text = ok(gs("diff", "1001")).output
    assert "+ I progress" in text and "in_progress" in text and "+ T decision" in text and '"category": "hardware"' in text
    first = git(path, "log", "--reverse", "--format=%H", "--", *paths("1001")).split()[0]
    span = json.loads(ok(gs("diff", "1001", first, "HEAD~1", "--json")).output)
    added = [(i["detail"]["sender"], i["detail"]["sender_id"], i["detail"]["content"]) for i in span["items"] if i["item"] == "message"]
    assert added == [("customer", "ana", "Printer is down"), ("cs_agent", "bob", "We are on it"), ("technical_member", "ops1", "Driver rolled back")]
    assert all(i["detail"]["timestamp"].endswith("Z") for i in span["items"])
    fields = {(f["file"], f["field"]): (f["old"], f["new"]) for f in span["fields"]}
    assert fields[("T", "priority")] == ("LOW", "HIGH")
    assert fields[("T", "workflow_stage")] == ("trigger", "classifier")
    assert not {k for k in fields if k[0] != "T"} and ("T", "last_synchronized") not in fields
    created = json.loads(ok(gs("diff", "2002", "--json")).output)
    assert created["created"] is True and created["old_commit"] is not None
    text = ok(gs("diff", "1001", "HEAD", "HEAD")).output
    assert "no change" in text
    r = gs("diff", "1001", "nope")
    assert r.exit_code == 1 and "unknown revision 'nope'" in r.output


def test_rollback_is_one_new_commit_checked_with_real_git(gs):
    path = build(gs)
    target = git(path, "log", "--format=%H", "--", *paths("1001")).split()[3]  # after the first message
    head_before = git(path, "rev-parse", "HEAD").strip()
    count_before = int(git(path, "rev-list", "--count", "HEAD"))
    r = ok(gs("rollback", "1001", "--to", target[:10], "--reason", "agent misclassified", "--json", actor="lead"))
    commit = commit_of(r)
    assert git(path, "rev-parse", "HEAD").strip() == commit
    assert git(path, "rev-parse", "HEAD~1").strip() == head_before  # history kept, one commit more
    assert int(git(path, "rev-list", "--count", "HEAD")) == count_before + 1
    body = git(path, "log", "-1", "--format=%an%n%B")
    assert body.startswith("lead\nRoll back ticket 1001 to " + target[:12])
    trailers = git(path, "log", "-1", "--format=%(trailers:key=Rollback-To,valueonly)%(trailers:key=Reason,valueonly)")
    assert trailers.split("\n")[:2] == [target, "agent misclassified"]
    for kind, file_path in layout.ticket_paths("1001").items():
        old = json.loads(git(path, "show", f"{target}:{file_path}"))
        new = json.loads(git(path, "show", f"HEAD:{file_path}"))
        stamp = "last_synchronized" if kind == "T" else "last_updated"
        old.pop(stamp), new.pop(stamp)
        assert old == new
    assert git(path, "status", "--porcelain") == ""
    # the ticket 2002 was untouched and the rollback is itself in history and undoable
    assert git(path, "diff", "--stat", "HEAD~1", "HEAD", "--", *paths("2002")) == ""
    hist = json.loads(ok(gs("history", "1001", "--json")).output)
    assert hist[0]["rollback_to"] == target and hist[0]["kinds"] == ["E", "I", "T"]
    ok(gs("rollback", "1001", "--to", head_before))
    for file_path in paths("1001"):
        assert git(path, "diff", head_before, "HEAD", "--stat", "--", file_path).count("|") == 1  # only the stamp line
    shown = json.loads(ok(gs("ticket", "show", "1001", "--json")).output)
    assert len(shown["unified_timeline"]) == 3


def test_rollback_bad_input_writes_nothing(gs):
    path = build(gs)
    head = git(path, "rev-parse", "HEAD").strip()
    first = git(path, "rev-list", "--max-parents=0", "HEAD").strip()
    cases = [
        (["rollback", "1001", "--to", "nope"], "unknown revision 'nope'"),
        (["rollback", "1001", "--to", first], "did not exist at"),
        (["rollback", "1001", "--to", "1999-01-01"], "ticket 1001 did not exist at 1999-01-01"),
        (["rollback", "1001", "--to", "HEAD"], "changes nothing"),
        (["rollback", "9999", "--to", "HEAD~1"], "ticket 9999 not found"),
        (["rollback", "1001", "--to", "HEAD~1", "--reason", "a\nb"], "invalid reason"),
    ]
    for args, message in cases:
        r = gs(*args)
        assert r.exit_code == 1 and message in r.output, (args, r.output)
        assert len(r.output.strip().splitlines()) == 1
    assert git(path, "rev-parse", "HEAD").strip() == head
    ok(gs("archive", "1001"))
    head = git(path, "rev-parse", "HEAD").strip()
    r = gs("rollback", "1001", "--to", "HEAD~2")
    assert r.exit_code == 1 and "ticket 1001 is archived" in r.output
    assert git(path, "rev-parse", "HEAD").strip() == head


def test_log_filters_and_streams_json_lines(gs):
    path = build(gs)
    lines = ok(gs("log", "--json-lines")).output.splitlines()
    entries = [json.loads(line) for line in lines]
    assert json.loads(ok(gs("log", "--json")).output) == entries  # --json: the same, as one array
    assert [e["commit"] for e in entries] == git(path, "log", "--format=%H").split()
    assert entries[0]["tickets"] == ["2002"] and entries[-1]["summary"] == "Initialise gitstore store"
    by_ticket = json.loads(ok(gs("log", "--ticket", "1001", "--json")).output)
    assert [e["commit"] for e in by_ticket] == git(path, "log", "--format=%H", "--", *paths("1001")).split()
    bot = json.loads(ok(gs("log", "--agent", "classifier", "--json")).output)
    assert len(bot) == 1 and bot[0]["actor"] == "bot-7" and bot[0]["files"] == ["T_1001.json"]
    assert bot[0]["trailers"]["Agent"] == "classifier"
    ana = ok(gs("log", "--actor", "ana")).output.splitlines()
    assert len(ana) == 1 and "[1001]" in ana[0] and "ana" in ana[0]
    assert ok(gs("log", "--since", "1 hour ago", "--until", "in 1 hour", "--actor", "ops1")).output.count("\n") == 1
    assert ok(gs("log", "--until", "2000-01-01")).output == ""
    r = gs("log", "--since", "not a date at all")
    assert r.exit_code == 1 and "invalid --since date" in r.output
    r = gs("log", "--since", "2026-12-02", "--until", "2026-12-01")
    assert r.exit_code == 1 and "is after --until" in r.output


def git_blame(path, file_path) -> dict[str, str]:
    """Map each line of a file to the commit ``git blame`` gives it."""
    out = git(path, "blame", "--line-porcelain", "HEAD", "--", file_path)
    found, commit = {}, None
    for line in out.splitlines():
        if line.startswith("\t"):
            found[line[1:]] = commit
        elif re.match(r"^[0-9a-f]{40} \d+ \d+", line):
            commit = line[:40]
    return found


def check_blame_agrees(gs, path, t_no):
    lines = git_blame(path, layout.ticket_path("E", t_no))
    ours = json.loads(ok(gs("blame", t_no, "--external", "--json")).output)
    for item in ours:
        assert lines[f'      "message_id": "{item["key"]}",'] == item["commit"], item
    t_lines = git_blame(path, layout.ticket_path("T", t_no))
    fields = [x for x in json.loads(ok(gs("blame", t_no, "--workflow", "--json")).output) if x["item"] == "field"]
    checked = 0
    for item in fields:
        value = json.dumps(item["detail"]["value"], ensure_ascii=False)
        for text in (f'  "{item["key"]}": {value},', f'  "{item["key"]}": {value}'):
            if text in t_lines:
                assert t_lines[text] == item["commit"], item
                checked += 1
    assert checked >= 8
    return ours


def test_blame_agrees_with_git_blame_through_rollbacks(gs):
    path = build(gs)
    ours = check_blame_agrees(gs, path, "1001")
    adders = git(path, "log", "--format=%H", "--", *paths("1001")).split()
    assert [(x["key"][:4], x["actor"], x["commit"]) for x in ours] == [("msg_", "ana", adders[3]), ("msg_", "bob", adders[0])]
    assert ours[0]["detail"]["content"] == "Printer is down"
    internal = json.loads(ok(gs("blame", "1001", "--internal", "--json")).output)
    assert [(x["item"], x["actor"]) for x in internal] == [("message", "ops1")]
    # roll back past bob's message, then forward again: git blame and ours name the re-adder
    ok(gs("rollback", "1001", "--to", adders[1]))
    ok(gs("rollback", "1001", "--to", adders[0]))
    ours = check_blame_agrees(gs, path, "1001")
    assert ours[1]["commit"] == git(path, "rev-parse", "HEAD").strip()
    text = ok(gs("blame", "1001", "--workflow")).output
    assert "priority = \"HIGH\"" in text
    r = gs("blame", "1001")
    assert r.exit_code == 2 and "choose --external, --internal or --workflow" in r.output
    r = gs("blame", "9999", "--external")
    assert r.exit_code == 1 and "9999" in r.output


def test_archive_makes_read_only_hidden_and_history_continuous(gs):
    path = build(gs)
    before = json.loads(ok(gs("history", "1001", "--json")).output)
    ok(gs("archive", "1001", "--reason", "resolved long ago"))
    assert [r["ticket"] for r in json.loads(ok(gs("ticket", "list", "--json")).output)] == ["2002"]
    assert sorted(r["ticket"] for r in json.loads(ok(gs("ticket", "list", "--archived", "--json")).output)) == ["1001", "2002"]
    head = git(path, "rev-parse", "HEAD").strip()
    for args in (
        ["message", "add", "1001", "--external", "--sender", "customer", "--sender-id", "ana", "hello?"],
        ["state", "set", "1001", "priority=LOW"],
        ["archive", "1001"],
    ):
        r = gs(*args)
        assert r.exit_code == 1 and "ticket 1001 is" in r.output and "archived" in r.output, r.output
    assert git(path, "rev-parse", "HEAD").strip() == head
    assert git(path, "log", "-1", "--format=%(trailers:key=Archive,valueonly)").strip() == "archived"
    shown = json.loads(ok(gs("ticket", "show", "1001", "--json")).output)
    assert shown["workflow_state"]["archived"] is True
    ok(gs("unarchive", "1001"))
    assert sorted(r["ticket"] for r in json.loads(ok(gs("ticket", "list", "--json")).output)) == ["1001", "2002"]
    ok(gs("state", "set", "1001", "priority=LOW"))
    after = json.loads(ok(gs("history", "1001", "--json")).output)
    assert after[3:] == before and [e["summary"] for e in after[:3]] == [
        "Set priority=LOW on ticket 1001", "Unarchive ticket 1001", "Archive ticket 1001"]
    r = gs("unarchive", "1001")
    assert r.exit_code == 1 and "not archived" in r.output


def test_archived_ticket_refused_in_the_write_path(store):
    from gitstore.tickets.archive import archive
    from gitstore.errors import ArchivedTicket

    store.create_ticket("5", client_name="A", company_name="B", actor="a")
    archive(store, "5", actor="a")
    files = store.read("5")
    with pytest.raises(ArchivedTicket):
        store.replace_files("5", files.with_file("T", files.workflow.model_copy(update={"priority": "HIGH"})), actor="a", summary="x")
    with pytest.raises(ArchivedTicket):
        store.update("5", {"T": {"archived": False, "priority": "HIGH"}}, actor="a")
    assert isinstance(ArchivedTicket("x"), PermissionError)
    store.update("5", {"T": {"archived": False}}, actor="a")
    assert store.list_tickets(archived=False) == ["5"] and store.list_tickets(archived=True) == []


def test_bare_store_history_log_blame_gc(tmp_path, runner):
    from gitstore_cli.main import cli

    bare = tmp_path / "hub.git"
    r = runner.invoke(cli, ["--no-fsync", "init", "--bare", str(bare)])
    assert r.exit_code == 0, r.output

    def run(*args):
        return ok(runner.invoke(cli, ["-C", str(bare), "--no-fsync", "--actor", "hub", *args]))

    run("ticket", "create", "9", "--client", "A", "--company", "B")
    run("state", "set", "9", "priority=HIGH")
    hist = json.loads(run("history", "9", "--json").output)
    assert [e["commit"] for e in hist] == git(bare, "log", "--format=%H", "main", "--", *paths("9")).split()
    assert len(json.loads(run("log", "--json").output)) == 3
    assert json.loads(run("blame", "9", "--workflow", "--json").output)
    run("rollback", "9", "--to", "HEAD~1")
    gc = json.loads(run("gc", "--json").output)
    assert gc["loose_objects_after"] == 0 and gc["packs_after"] == 1 and gc["history_commits"] == 4
    assert (bare / "objects" / "info" / "commit-graph").exists() or (bare / "objects" / "info" / "commit-graphs").exists()
    assert git(bare, "fsck", "--no-progress") == ""


HOLDER = """
import sys, time
from gitstore.objects.lock import WriterLock
lock = WriterLock(sys.argv[1], timeout=5)
lock.acquire()
print("held", flush=True)
time.sleep(30)
"""


def test_gc_packs_and_refuses_while_a_writer_holds_the_lock(gs):
    path = build(gs)
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(path / ".git")], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "held"
        loose = int(git(path, "count-objects").split()[0])
        r = gs("gc")
        assert r.exit_code == 1 and "gc refused: a writer holds the store lock" in r.output
        assert int(git(path, "count-objects").split()[0]) == loose
    finally:
        proc.kill()
        proc.wait()
    start = time.monotonic()
    result = json.loads(ok(gs("gc", "--json")).output)
    assert time.monotonic() - start < 30
    assert result["loose_objects_before"] > 0 and result["loose_objects_after"] == 0
    assert result["history_head"] == git(path, "rev-parse", "HEAD").strip()
    rebuilt = json.loads(ok(gs("gc", "--rebuild-history", "--json")).output)
    assert rebuilt["history_added"] == rebuilt["history_commits"] == int(git(path, "rev-list", "--count", "HEAD"))
    assert ok(gs("history", "1001")).output.count("\n") == 5
    assert git(path, "status", "--porcelain") == ""


def test_two_processes_building_the_log_at_once_agree(gs):
    path = build(gs)
    expected = ok(gs("history", "1001", "--json")).output
    for name in ("history.sqlite", "history.sqlite-wal", "history.sqlite-shm"):
        (path / ".git" / "gitstore" / name).unlink(missing_ok=True)
    gitstore = [sys.executable, "-c", "from gitstore_cli.main import main; main()", "-C", str(path), "history", "1001", "--json"]
    procs = [subprocess.Popen(gitstore, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outputs = [p.communicate(timeout=60) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    assert [json.loads(out) for out, _ in outputs] == [json.loads(expected)] * 2
    with sqlite3.connect(path / ".git" / "gitstore" / "history.sqlite") as conn:
        assert conn.execute("SELECT COUNT(*) FROM commits").fetchone()[0] == int(git(path, "rev-list", "--count", "HEAD"))


def test_bulk_catch_up_with_git_diff_tree_equals_the_python_tree_diff(store, monkeypatch):
    import gitstore.history.log as history

    with store.batch():
        for n in range(40):
            store.create_ticket(f"B{n}", client_name="A", company_name="B", actor="a")
        for n in range(200):
            store.set_state(f"B{n % 40}", {"assigned_member": f"m{n}"}, actor=f"a{n % 3}")
    index = history.for_store(store)
    assert index.refresh() == 241  # >= 200 new commits: git diff-tree
    bulk = {f"B{n}": index.history(f"B{n}") for n in range(40)}
    monkeypatch.setattr(history, "_GIT_DIFF_FROM", 10**9)
    assert index.refresh(rebuild=True) == 241
    assert {f"B{n}": index.history(f"B{n}") for n in range(40)} == bulk
    assert [len(v) for v in bulk.values()] == [6] * 40


def test_store_wide_date_from_the_log_equals_the_first_parent_walk(store):
    from datetime import datetime, timedelta, timezone

    from gitstore.errors import RevisionNotFound
    from gitstore.objects.revisions import commit_at

    t0 = datetime(2026, 5, 1, tzinfo=timezone.utc)
    for n, hours in enumerate([0, 5, 2, 7, 3]):  # imports may give non-monotonic author dates
        store.create_ticket(f"D{n}", client_name="A", company_name="B", actor="a", timestamp=t0 + timedelta(hours=hours))
    for hours in (1, 4, 6, 8):
        when = t0 + timedelta(hours=hours)
        text = when.strftime("%Y-%m-%dT%H:%MZ")
        assert store.resolve(text).id == commit_at(store.head(), when).id
    assert store.list_tickets(at="2026-05-01T04:00Z") == ["D0", "D1", "D2", "D3", "D4"]
    assert store.list_tickets(at="2026-05-01T02:30Z") == ["D0", "D1", "D2"]
    with pytest.raises(RevisionNotFound, match="no commit at or before 1990-01-01"):
        store.resolve("1990-01-01")


def test_merged_side_branch_history_and_blame_agree_with_git(gs):
    """A plain git merge (as a pull makes): the log catches up; blame names the side commits."""
    path = build(gs)
    git(path, "checkout", "-q", "-b", "side")
    e_path, t_path = layout.ticket_path("E", "2002"), layout.ticket_path("T", "2002")
    data = json.loads((path / e_path).read_text())
    data["messages"].append({"message_id": "side-1", "timestamp": "2026-01-02T03:04:05Z", "sender": "customer",
                             "sender_id": "li", "content": "sent from the other site"})
    (path / e_path).write_bytes(layout.dumps(layout.validate_data("E", data, "E")))
    state = json.loads((path / t_path).read_text())
    state["assigned_member"] = "remote-agent"
    (path / t_path).write_bytes(layout.dumps(layout.validate_data("T", state, "T")))
    git(path, "commit", "-qam", "Change ticket 2002 at the other site")
    side = git(path, "rev-parse", "HEAD").strip()
    git(path, "checkout", "-q", "main")
    ok(gs("state", "set", "1001", "assigned_member=dana"))
    git(path, "merge", "-q", "--no-ff", "--no-edit", "side")
    merge = git(path, "rev-parse", "HEAD").strip()
    hist = json.loads(ok(gs("history", "2002", "--json")).output)
    assert [e["commit"] for e in hist][:2] == [merge, side]
    assert [e["mainline"] for e in hist] == [True, False, True]
    from gitstore import Store

    with Store.open(path, fsync=False) as store:
        assert store.ticket_version("2002") == merge
        assert store.ticket_version("1001") == git(path, "rev-parse", "HEAD^1").strip()
    ours = check_blame_agrees(gs, path, "2002")
    assert [(x["key"], x["commit"]) for x in ours] == [("side-1", side)]
    fields = {x["key"]: x["commit"] for x in json.loads(ok(gs("blame", "2002", "--workflow", "--json")).output)}
    assert fields["assigned_member"] == side


def test_history_marks_a_ticket_deleted_by_plain_git_and_at_says_so(gs):
    path = build(gs)
    git(path, "rm", "-q", *paths("2002"))
    git(path, "commit", "-qm", "drop ticket 2002")
    text = ok(gs("history", "2002")).output.splitlines()
    assert len(text) == 2 and text[0].endswith("drop ticket 2002 [ticket deleted]")
    hist = json.loads(ok(gs("history", "2002", "--json")).output)
    assert [e["exists"] for e in hist] == [False, True]
    r = gs("ticket", "show", "2002", "--at", "in 1 hour")
    assert r.exit_code == 1 and "did not exist at in 1 hour: its files were deleted by commit" in r.output
