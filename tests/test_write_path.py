"""The synchronized write path: one commit per update, checked with the real git binary."""

from __future__ import annotations

from pathlib import Path

import pygit2
import pytest

from conftest import git, requires_git
from gitstore import ConflictError, Store, TicketExists, TicketNotFound, ValidationError
from gitstore.tickets import layout


def make_ticket(store, t_no="1001"):
    return store.create_ticket(t_no, client_name="Ana Ruiz", company_name="Acme", actor="alice")


@requires_git
def test_each_update_is_one_commit_with_trailers_and_clean_status(store):
    make_ticket(store)
    store.add_message("1001", "E", sender="customer", sender_id="ana", content="Printer down", actor="ana")
    store.add_message("1001", "I", sender="cs_agent", sender_id="bob", content="Assigning", actor="bob",
                      agent="classifier", message_type="assignment")
    store.set_state("1001", {"priority": "HIGH", "assigned_member": "bob"}, actor="carol")
    path = store.path
    assert git(path, "status", "--porcelain") == ""
    git(path, "fsck", "--strict")
    log = git(path, "log", "--format=%an|%s|%(trailers:key=Files,valueonly,separator=;)|%(trailers:key=Agent,valueonly,separator=;)").strip().splitlines()
    assert len(log) == 5  # 4 updates + the initial commit
    assert log[0].startswith("carol|Set priority=HIGH, assigned_member=bob on ticket 1001|T_1001.json")
    assert log[1] == "bob|Add internal message to ticket 1001|I_1001.json|classifier"
    assert log[2].startswith("ana|Add external message to ticket 1001|E_1001.json")
    assert log[3].startswith("alice|Create ticket 1001|E_1001.json, I_1001.json, T_1001.json")
    # every update is exactly one commit touching only this ticket's files
    changed = git(path, "show", "--name-only", "--format=", "HEAD").split()
    assert sorted(changed) == sorted(layout.ticket_paths("1001").values())


def test_shared_timestamp_and_cross_file_rules_hold(store):
    make_ticket(store)
    result = store.add_message("1001", "E", sender="customer", sender_id="ana", content="hi", actor="ana")
    files = store.read("1001")
    assert files.external.last_updated == files.internal.last_updated == files.workflow.last_synchronized == result.timestamp
    assert files.external.synchronized_with == ["I_1001", "T_1001"]
    assert files.workflow.file_references.external_conversation == "E_1001.json"


@requires_git
def test_blame_attributes_each_message_to_its_commit(store):
    make_ticket(store)
    first = store.add_message("1001", "E", sender="customer", sender_id="ana", content="first words", actor="ana")
    second = store.add_message("1001", "E", sender="cs_agent", sender_id="bob", content="second words", actor="bob")
    blame = git(store.path, "blame", "--line-porcelain", layout.ticket_path("E", "1001"))
    owners = {}
    commit = None
    for line in blame.splitlines():
        if len(line) > 40 and line[:40].isalnum() and " " in line:
            commit = line[:40]
        if line.startswith("\t") and "_words" not in line and "words" in line:
            owners[line.strip()] = commit
    assert owners['"content": "first words",'] == first.commit
    assert owners['"content": "second words",'] == second.commit


def test_reads_at_any_commit(store):
    make_ticket(store)
    before = store.add_message("1001", "E", sender="customer", sender_id="ana", content="one", actor="ana")
    store.add_message("1001", "E", sender="customer", sender_id="ana", content="two", actor="ana")
    assert [m.content for m in store.read("1001").external.messages] == ["one", "two"]
    assert [m.content for m in store.read("1001", at=before.commit).external.messages] == ["one"]
    assert [m.content for m in store.read("1001", at=before.commit[:10]).external.messages] == ["one"]
    context = store.context("1001", at=before.commit)
    assert context.commit == before.commit and context.version == before.commit
    assert [i["content"] for i in context.unified_timeline] == ["one"]


def test_unified_timeline_orders_external_and_internal_by_time(store):
    make_ticket(store)
    from datetime import datetime, timezone

    t = lambda h: datetime(2024, 1, 1, h, tzinfo=timezone.utc)
    store.add_message("1001", "E", sender="customer", sender_id="ana", content="c", actor="a", timestamp=t(12))
    store.add_message("1001", "I", sender="technical_member", sender_id="ops", content="b", actor="a", timestamp=t(11))
    store.add_message("1001", "E", sender="cs_agent", sender_id="bob", content="d", actor="a", timestamp=t(13))
    timeline = store.context("1001").unified_timeline
    assert [(i["kind"], i["content"]) for i in timeline] == [("internal", "b"), ("external", "c"), ("external", "d")]


def test_bad_input_changes_nothing(store):
    make_ticket(store)
    head = store.head().id
    with pytest.raises(TicketExists):
        make_ticket(store)
    with pytest.raises(TicketNotFound):
        store.add_message("404", "E", sender="customer", sender_id="x", content="x", actor="a")
    with pytest.raises(ValidationError, match="sender"):
        store.add_message("1001", "E", sender="robot", sender_id="x", content="x", actor="a")
    with pytest.raises(ValidationError, match="priority"):
        store.set_state("1001", {"priority": "URGENT"}, actor="a")
    with pytest.raises(ValidationError, match="managed by gitstore"):
        store.update("1001", {"T": {"ticket_id": "evil"}}, actor="a")
    with pytest.raises(ValidationError, match="unknown field"):
        store.update("1001", {"T": {"colour": "red"}}, actor="a")
    with pytest.raises(ValidationError, match="unknown file kind"):
        store.update("1001", {"X": {}}, actor="a")
    with pytest.raises(ValidationError, match="changes nothing"):
        store.set_state("1001", {"priority": "LOW"}, actor="a")
    with pytest.raises(ValidationError, match="invalid actor"):
        store.set_state("1001", {"priority": "HIGH"}, actor="evil <x>\n")
    assert store.head().id == head


def test_optimistic_concurrency(store):
    created = make_ticket(store)
    version = store.ticket_version("1001")
    assert version == created.commit
    store.create_ticket("2002", client_name="B", company_name="C", actor="a")  # another ticket
    # an update to another ticket does not make this version stale
    ok = store.add_message("1001", "E", sender="customer", sender_id="ana", content="x", actor="a", expected_version=version)
    with pytest.raises(ConflictError) as info:
        store.add_message("1001", "E", sender="customer", sender_id="ana", content="y", actor="a", expected_version=version)
    assert info.value.current == ok.commit
    assert ok.commit in str(info.value)
    assert [m.content for m in store.read("1001").external.messages] == ["x"]


def test_update_with_retry_retries_on_conflict(store):
    make_ticket(store)
    calls = []

    def make(files):
        calls.append(len(files.external.messages))
        if len(calls) == 1:  # someone else writes between our read and our write
            store.add_message("1001", "E", sender="customer", sender_id="z", content="racer", actor="z")
        return {"E": {"messages": [{"sender": "cs_agent", "sender_id": "bob", "content": "mine"}]}}

    store.update_with_retry("1001", make, actor="bob", backoff=0.001)
    assert calls == [0, 1]
    assert [m.content for m in store.read("1001").external.messages] == ["racer", "mine"]


@requires_git
def test_uncommitted_hand_edit_is_kept_not_clobbered(store):
    make_ticket(store)
    e_path = store.path / layout.ticket_path("E", "1001")
    e_path.write_text(e_path.read_text().replace("Ana Ruiz", "Ana R."))
    result = store.add_message("1001", "E", sender="customer", sender_id="ana", content="hi", actor="ana")
    assert result.kept_local_edits == [layout.ticket_path("E", "1001")]
    assert "Ana R." in e_path.read_text()  # the person's edit survives
    assert "Ana Ruiz" in git(store.path, "show", f"HEAD:{layout.ticket_path('E', '1001')}")
    status = git(store.path, "status", "--porcelain").splitlines()
    assert status == [f" M {layout.ticket_path('E', '1001')}"]  # only the edit, nothing staged


@requires_git
def test_crash_between_ref_update_and_checkout_is_repaired_on_open(tmp_path):
    store = Store.init(tmp_path / "s", fsync=False)
    make_ticket(store)
    with store.batch():
        store.add_message("1001", "E", sender="customer", sender_id="ana", content="late", actor="ana")
        store.worktree.pending.clear()  # simulate death before the working tree caught up
        store.worktree.target = None
    assert git(store.path, "status", "--porcelain") != ""
    reopened = Store.open(tmp_path / "s", fsync=False)
    assert git(reopened.path, "status", "--porcelain") == ""
    assert "late" in (reopened.path / layout.ticket_path("E", "1001")).read_text()


def test_stale_git_lock_of_a_dead_writer_is_cleared(tmp_path):
    store = Store.init(tmp_path / "s", fsync=False)
    make_ticket(store)
    gitstore_dir = Path(store.repo.path) / "gitstore"
    # a writer that died holding the lock: its pid file and a ref lock remain
    (gitstore_dir / "writer.pid").write_text("999999 0\n")
    (Path(store.repo.path) / "refs/heads/main.lock").write_text("junk")
    store.add_message("1001", "E", sender="customer", sender_id="ana", content="after crash", actor="ana")
    assert not (Path(store.repo.path) / "refs/heads/main.lock").exists()
    assert store.read("1001").external.messages[-1].content == "after crash"


def test_bare_store_works(tmp_path):
    store = Store.init(tmp_path / "hub.git", bare=True, fsync=False)
    make_ticket(store)
    store.add_message("1001", "E", sender="customer", sender_id="ana", content="bare", actor="ana")
    reopened = Store.open(tmp_path / "hub.git")
    assert reopened.repo.is_bare
    assert reopened.read("1001").external.messages[0].content == "bare"
    assert reopened.list_tickets() == ["1001"]


def test_subscribers_get_each_commit(store):
    events = []
    store.subscribe(events.append)
    make_ticket(store)
    result = store.add_message("1001", "I", sender="cs_agent", sender_id="b", content="x", actor="b")
    assert [e.t_no for e in events] == ["1001", "1001"]
    assert events[-1].commit == result.commit and events[-1].kinds == ("I",)
    assert events[-1].added == result.added


def test_not_a_store(tmp_path):
    from gitstore import NotAStoreError

    with pytest.raises(NotAStoreError, match="not a gitstore store"):
        Store.open(tmp_path)
    pygit2.init_repository(str(tmp_path / "plain"))
    with pytest.raises(NotAStoreError):
        Store.open(tmp_path / "plain")
    with pytest.raises(FileNotFoundError):  # the built-in it also inherits
        Store.open(tmp_path)


@requires_git
def test_plain_git_clone_of_a_store_opens(tmp_path):
    store = Store.init(tmp_path / "s", fsync=False)
    make_ticket(store)
    git(tmp_path, "clone", "-q", str(tmp_path / "s"), str(tmp_path / "c"))
    clone = Store.open(tmp_path / "c")
    assert clone.list_tickets() == ["1001"]
    clone.add_message("1001", "E", sender="customer", sender_id="ana", content="from clone", actor="ana")
    assert git(tmp_path / "c", "status", "--porcelain") == ""
