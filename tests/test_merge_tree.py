"""Merging whole stores through ``sync.pull.pull`` (API) between clones on local paths."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import git, requires_git
from gitstore import Store
from gitstore.tickets import layout
from gitstore.errors import MergeConflictError
from gitstore.verify import verify_store
from gitstore_sync.clone import clone
from gitstore_sync.pull import pull

pytestmark = requires_git


@pytest.fixture
def two_sites(tmp_path):
    """Sites A and B cloned from a common store holding ticket 1001."""
    origin = Store.init(tmp_path / "origin", fsync=False)
    origin.create_ticket("1001", client_name="Ana", company_name="Acme", actor="amy")
    origin.close()
    a, _ = clone(str(tmp_path / "origin"), tmp_path / "a", fsync=False)
    b, _ = clone(str(tmp_path / "origin"), tmp_path / "b", fsync=False)
    yield a, b
    a.close()
    b.close()


def tree(store: Store) -> str:
    return str(store.head().tree.id)


def twin(store: Store, path: Path) -> Store:
    shutil.copytree(store.path, path, symlinks=True)
    return Store.open(path, fsync=False)


def test_merge_result_is_the_same_whichever_site_merges(two_sites, tmp_path):
    a, b = two_sites
    a.add_message("1001", "E", sender="customer", sender_id="ana", content="A1", actor="amy")
    a.set_state("1001", {"priority": "HIGH", "assigned_member": "amy"}, actor="amy")
    b.add_message("1001", "I", sender="technical_member", sender_id="tom", content="B1", actor="bob")
    b.set_state("1001", {"assigned_member": "bob", "workflow_stage": "classifier"}, actor="bob")
    a_copy, b_copy = twin(a, tmp_path / "a-copy"), twin(b, tmp_path / "b-copy")
    at_a = pull(a, str(b.path), actor="amy")
    at_b = pull(b_copy, str(a_copy.path), actor="bob")
    assert at_a.outcome == at_b.outcome == "merge"
    assert tree(a) == tree(b_copy)
    files = a.read("1001")
    assert (files.workflow.priority, files.workflow.assigned_member, files.workflow.workflow_stage) == ("HIGH", "bob", "classifier")
    assert [v.field for v in at_a.lost] == ["assigned_member"] == [v.field for v in at_b.lost]
    assert verify_store(a) == [] and verify_store(b_copy) == []


def test_ticket_created_on_both_sides_is_merged_once(two_sites):
    a, b = two_sites
    a.create_ticket("2002", client_name="Cy", company_name="C", actor="amy",
                    update_data={"E": {"messages": [{"sender": "customer", "sender_id": "cy", "content": "from A"}]}})
    b.create_ticket("2002", client_name="Cy", company_name="C", actor="bob",
                    update_data={"E": {"messages": [{"sender": "customer", "sender_id": "cy", "content": "from B"}]}})
    result = pull(a, str(b.path), actor="amy")
    assert {t.ticket: t.status for t in result.tickets} == {"2002": "merged"}
    assert a.list_tickets() == ["1001", "2002"]
    assert sorted(m.content for m in a.read("2002").external.messages) == ["from A", "from B"]
    assert verify_store(a) == []


def test_ticket_deleted_on_one_side_and_changed_on_the_other_keeps_the_change(two_sites, tmp_path):
    a, b = two_sites
    for path in layout.ticket_paths("1001").values():
        git(a.path, "rm", "-q", path)
    git(a.path, "commit", "-q", "-m", "delete ticket 1001")
    b.add_message("1001", "E", sender="customer", sender_id="ana", content="still open", actor="bob")
    a = Store.open(a.path, fsync=False)
    a_copy, b_copy = twin(a, tmp_path / "a-copy"), twin(b, tmp_path / "b-copy")
    assert pull(a, str(b.path), actor="amy").outcome == "merge"
    assert pull(b_copy, str(a_copy.path), actor="bob").outcome == "merge"
    assert [m.content for m in a.read("1001").external.messages] == ["still open"]
    assert tree(a) == tree(b_copy)
    assert verify_store(a) == []


def test_conflict_the_rules_cannot_settle_stops_the_pull_and_changes_nothing(two_sites):
    a, b = two_sites
    path = layout.ticket_path("T", "1001")
    for store, text in ((a, '"priority": "URGENT"'), (b, '"priority": "SOON"')):
        file = store.path / path
        file.write_text(file.read_text().replace('"priority": "LOW"', text))
        git(store.path, "commit", "-q", "--no-verify", "-am", "broken by hand")
    a = Store.open(a.path, fsync=False)
    before = str(a.head().id)
    with pytest.raises(MergeConflictError) as caught:
        pull(a, str(b.path), actor="amy")
    assert "T_1001.json: both sides are invalid" in str(caught.value)
    assert str(a.head().id) == before
    assert git(a.path, "status", "--porcelain") == ""


def test_a_bare_hub_can_pull_from_a_site(two_sites, tmp_path):
    a, _b = two_sites
    hub, _ = clone(str(a.path), tmp_path / "hub.git", bare=True, fsync=False)
    assert (tmp_path / "hub.git" / "hooks" / "pre-receive").is_file()
    a.add_message("1001", "E", sender="customer", sender_id="ana", content="to the hub", actor="amy")
    result = pull(hub, str(a.path), actor="hub")
    assert result.outcome == "fast-forward" and [t.status for t in result.tickets] == ["updated"]
    assert tree(hub) == tree(a)
    fsck = subprocess.run(["git", "--git-dir", str(hub.path), "fsck", "--no-progress"], capture_output=True, text=True)
    assert fsck.returncode == 0


def test_stores_with_unrelated_histories_merge_from_an_empty_base(tmp_path):
    one = Store.init(tmp_path / "one", fsync=False)
    two = Store.init(tmp_path / "two", fsync=False)
    one.create_ticket("1001", client_name="Ana", company_name="Acme", actor="amy")
    two.create_ticket("1001", client_name="Ana", company_name="Acme", actor="bob",
                      update_data={"I": {"messages": [{"sender": "technical_member", "sender_id": "t", "content": "seen"}]}})
    two.create_ticket("3003", client_name="Dee", company_name="D", actor="bob")
    result = pull(one, str(two.path), actor="amy")
    assert result.outcome == "merge"
    assert {t.ticket: t.status for t in result.tickets} == {"1001": "merged", "3003": "new"}
    assert [m.content for m in one.read("1001").internal.messages] == ["seen"]
    assert verify_store(one) == []
    one.close()
    two.close()
