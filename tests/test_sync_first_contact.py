"""A hub set up the obvious way and plain git, driven as a new user does it.

Everything runs through the installed ``gitstore`` command and the real ``git`` binary
as subprocesses, against a bare hub served by ``git daemon`` on 127.0.0.1:

- a new hub (``gitstore init --bare``) takes the first push of a store made elsewhere,
  and that push sets up tracking like ``git push -u``;
- a plain ``git clone`` is set up by the first gitstore command run in it, after which
  a plain ``git pull`` of a divergent hub merges ticket files with no conflict markers;
- while a plain ``git pull`` stopped on conflicts (or a rebase, cherry-pick, revert…),
  every gitstore write refuses with one line and ``git merge --abort`` still works;
  ``gitstore repair`` aborts what it safely can.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import git, requires_git
from test_sync_daemon import Daemon

pytestmark = requires_git

GITSTORE = str(Path(sys.executable).parent / "gitstore")


def gs(*args, cwd=None, input=None, check=True) -> subprocess.CompletedProcess:
    """Run the installed gitstore command."""
    proc = subprocess.run([GITSTORE, "--no-fsync", *args], capture_output=True, text=True, cwd=cwd, input=input)
    if check and proc.returncode != 0:
        raise AssertionError(f"gitstore {' '.join(args)} exited {proc.returncode}: {proc.stdout}{proc.stderr}")
    return proc


def run_git(path, *args, check=True) -> subprocess.CompletedProcess:
    proc = subprocess.run(["git", "-C", str(path), *args], capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} exited {proc.returncode}: {proc.stdout}{proc.stderr}")
    return proc


def ticket_file(site: Path, kind: str, t_no: str) -> Path:
    from gitstore.tickets import layout

    return site / layout.ticket_path(kind, t_no)


@pytest.fixture
def served(tmp_path):
    """``(daemon, base folder)``: git daemon serving ``base`` with receive-pack on."""
    base = tmp_path / "served"
    base.mkdir()
    daemon = Daemon(base)
    daemon.start()
    yield daemon, base
    daemon.stop()


@pytest.fixture
def hub(served, tmp_path):
    """A hub made by ``gitstore init --bare`` with one store pushed to it, and that store."""
    daemon, base = served
    gs("init", "--bare", str(base / "hub.git"))
    seed = tmp_path / "seed"
    gs("clone", daemon.url("hub.git"), str(seed))
    gs("-C", str(seed), "--actor", "amy", "ticket", "create", "1001", "--client", "Ana", "--company", "Acme")
    gs("-C", str(seed), "--actor", "amy", "message", "add", "1001", "--external", "--sender", "customer", "--sender-id", "ana", "Printer down")
    gs("-C", str(seed), "push")
    return daemon, base / "hub.git", seed


# ---------------------------------------------------------------------------- item 1


def test_a_new_hub_takes_the_first_push_of_an_existing_store_and_sets_tracking(served, tmp_path):
    daemon, base = served
    support = tmp_path / "support"
    gs("init", str(support))
    gs("-C", str(support), "--actor", "alice", "ticket", "create", "1001", "--client", "Ana", "--company", "Acme")
    # the hub is made later, in another second: its own first commit (if it made one)
    # could never be an ancestor of the store's history
    time.sleep(1.05 - time.time() % 1)
    made = gs("init", "--bare", str(base / "hub.git"))
    assert "empty gitstore hub" in made.stdout
    gs("-C", str(support), "remote", "add", "hub", daemon.url("hub.git"))
    pushed = gs("-C", str(support), "push", "hub", check=False)
    assert pushed.returncode == 0, pushed.stdout + pushed.stderr
    assert "main now tracks hub/main" in pushed.stdout
    head = git(support, "rev-parse", "HEAD").strip()
    assert git(base / "hub.git", "rev-parse", "main").strip() == head
    # tracking like git push -u: plain git and gitstore default to it
    assert git(support, "rev-parse", "--abbrev-ref", "main@{upstream}").strip() == "hub/main"
    assert "Already up to date with hub" in gs("-C", str(support), "--actor", "alice", "pull").stdout
    plain = run_git(support, "push")
    assert "Everything up-to-date" in plain.stderr
    # a second site clones the hub and has the store
    site = tmp_path / "site"
    gs("clone", daemon.url("hub.git"), str(site))
    assert json.loads(gs("-C", str(site), "ticket", "show", "1001", "--json").stdout)["workflow_state"]["client_name"] == "Ana"
    # the hub stays strict: a non-fast-forward is refused
    other = tmp_path / "other"
    gs("init", str(other))
    refused = gs("-C", str(other), "push", daemon.url("hub.git"), check=False)
    assert refused.returncode == 1 and refused.stderr.startswith("Error: ") and "non-fast-forward" in refused.stderr


def test_an_empty_hub_refuses_a_first_push_that_is_not_a_store_and_says_it_is_empty(served, tmp_path):
    daemon, base = served
    gs("init", "--bare", str(base / "hub.git"))
    listed = gs("-C", str(base / "hub.git"), "ticket", "list", check=False)
    assert listed.returncode == 1
    assert listed.stderr.strip().splitlines() == [listed.stderr.strip()]
    assert "empty hub" in listed.stderr
    plain = tmp_path / "plain"
    run_git(tmp_path, "init", "-q", "-b", "main", str(plain))
    (plain / "notes.txt").write_text("not tickets\n")
    run_git(plain, "add", "notes.txt")
    run_git(plain, "commit", "-qm", "notes")
    refused = run_git(plain, "push", daemon.url("hub.git"), "main", check=False)
    assert refused.returncode != 0 and "not a gitstore store" in refused.stderr
    assert run_git(base / "hub.git", "rev-parse", "--verify", "-q", "main", check=False).returncode != 0
    # a clone of the empty hub is a new store; its first push fills the hub
    site = tmp_path / "site"
    cloned = gs("clone", daemon.url("hub.git"), str(site))
    assert "empty hub" in cloned.stderr
    gs("-C", str(site), "--actor", "amy", "ticket", "create", "7", "--client", "Cy", "--company", "C")
    synced = gs("-C", str(site), "--actor", "amy", "sync")
    assert "empty hub: nothing to pull" in synced.stdout
    assert git(base / "hub.git", "rev-parse", "main").strip() == git(site, "rev-parse", "HEAD").strip()


# ---------------------------------------------------------------------------- item 2


def test_plain_git_clone_is_set_up_by_the_first_gitstore_command_and_git_pull_merges(hub, tmp_path):
    daemon, hub_path, seed = hub
    clone = tmp_path / "b"
    run_git(tmp_path, "clone", "-q", daemon.url("hub.git"), str(clone))
    assert run_git(clone, "config", "merge.gitstore.driver", check=False).returncode == 1  # git copied no config
    first = gs("-C", str(clone), "ticket", "list")
    notes = [line for line in first.stderr.splitlines() if line.startswith("gitstore: set up this clone")]
    assert len(notes) == 1 and "merge driver" in notes[0] and "pre-commit" in notes[0]
    assert git(clone, "config", "merge.gitstore.driver").strip().endswith("merge-driver %O %A %B %P")
    assert (clone / ".git" / "hooks" / "post-merge").is_file()
    again = gs("-C", str(clone), "ticket", "list")
    assert "set up this clone" not in again.stderr  # said once
    # the hub and the clone diverge on the same ticket's three files
    gs("-C", str(seed), "--actor", "amy", "message", "add", "1001", "--external", "--sender", "cs_agent", "--sender-id", "amy", "On it")
    gs("-C", str(seed), "--actor", "amy", "state", "set", "1001", "priority=HIGH")
    gs("-C", str(seed), "push")
    gs("-C", str(clone), "--actor", "bob", "message", "add", "1001", "--internal", "--sender", "technical_member", "--sender-id", "bob", "Driver 4.2")
    gs("-C", str(clone), "--actor", "bob", "message", "add", "1001", "--external", "--sender", "customer", "--sender-id", "ana", "Still down")
    pulled = run_git(clone, "pull", "--no-edit", check=False)  # plain git, no options
    assert pulled.returncode == 0, pulled.stdout + pulled.stderr
    for kind in "EIT":
        assert "<<<<<<<" not in ticket_file(clone, kind, "1001").read_text()
    texts = {m["content"] for m in json.loads(ticket_file(clone, "E", "1001").read_text())["messages"]}
    assert texts == {"Printer down", "On it", "Still down"}
    assert json.loads(ticket_file(clone, "T", "1001").read_text())["priority"] == "HIGH"
    verified = gs("-C", str(clone), "verify", check=False)
    assert verified.returncode == 0, verified.stdout + verified.stderr


# ---------------------------------------------------------------------------- item 3


def conflicted_plain_clone(daemon, seed: Path, tmp_path: Path) -> Path:
    """A plain git clone (no gitstore command run in it) whose ``git pull`` stopped on
    conflicts in E, I and T: MERGE_HEAD present, conflict entries in the index."""
    clone = tmp_path / "b"
    run_git(tmp_path, "clone", "-q", daemon.url("hub.git"), str(clone))
    for kind in "EIT":  # a hand edit that restamps the three files, as an update does
        path = ticket_file(clone, kind, "1001")
        text = re.sub(r'"(last_updated|last_synchronized)": "[^"]+"', r'"\1": "2031-01-01T00:00:00Z"', path.read_text())
        path.write_text(text.replace('"priority": "LOW"', '"priority": "HIGH"'))
    run_git(clone, "commit", "-qam", "hand edit")
    gs("-C", str(seed), "--actor", "amy", "message", "add", "1001", "--external", "--sender", "cs_agent", "--sender-id", "amy", "On it")
    gs("-C", str(seed), "--actor", "amy", "message", "add", "1001", "--internal", "--sender", "cs_agent", "--sender-id", "amy", "Escalating")
    gs("-C", str(seed), "push")
    pulled = run_git(clone, "-c", "pull.rebase=false", "pull", "--no-edit", check=False)
    assert pulled.returncode != 0 and "CONFLICT" in pulled.stdout
    assert (clone / ".git" / "MERGE_HEAD").is_file()
    return clone


def test_writes_refuse_during_a_conflicted_plain_git_pull_and_git_merge_abort_still_works(hub, tmp_path):
    daemon, _hub_path, seed = hub
    clone = conflicted_plain_clone(daemon, seed, tmp_path)
    head = git(clone, "rev-parse", "HEAD").strip()
    unmerged = git(clone, "ls-files", "--unmerged")
    for argv in (
        ["message", "add", "1001", "--external", "--sender", "customer", "--sender-id", "ana", "hello"],
        ["state", "set", "1001", "priority=LOW"],
        ["ticket", "create", "2002", "--client", "Bo", "--company", "B"],
        ["stage", "configure", "--preset", "tenex"],
        ["pull"],
    ):
        refused = gs("-C", str(clone), "--actor", "bob", *argv, check=False)
        assert refused.returncode == 1, (argv, refused.stdout, refused.stderr)
        errors = [line for line in refused.stderr.splitlines() if line.startswith("Error:")]
        assert errors == [refused.stderr.strip().splitlines()[-1]]
        assert "git merge is in progress" in errors[0] and "git merge --abort" in errors[0]
        assert "Traceback" not in refused.stderr
    assert git(clone, "rev-parse", "HEAD").strip() == head  # nothing written
    assert git(clone, "ls-files", "--unmerged") == unmerged
    aborted = run_git(clone, "merge", "--abort", check=False)
    assert aborted.returncode == 0, aborted.stderr
    assert git(clone, "status", "--porcelain") == ""
    # the first gitstore command set the clone up: the same pull now merges
    pulled = run_git(clone, "pull", "--no-edit", check=False)
    assert pulled.returncode == 0, pulled.stdout + pulled.stderr
    assert "<<<<<<<" not in ticket_file(clone, "E", "1001").read_text()
    gs("-C", str(clone), "--actor", "bob", "message", "add", "1001", "--external", "--sender", "customer", "--sender-id", "ana", "thanks")


def test_repair_aborts_a_stopped_merge_with_a_backup(hub, tmp_path):
    daemon, _hub_path, seed = hub
    clone = conflicted_plain_clone(daemon, seed, tmp_path)
    head = git(clone, "rev-parse", "HEAD").strip()
    conflicted = ticket_file(clone, "E", "1001").read_text()
    assert "<<<<<<<" in conflicted
    repaired = gs("-C", str(clone), "repair")
    assert "aborted the unfinished git merge" in repaired.stdout
    assert not (clone / ".git" / "MERGE_HEAD").exists()
    assert git(clone, "ls-files", "--unmerged") == ""
    assert git(clone, "status", "--porcelain") == ""
    assert git(clone, "rev-parse", "HEAD").strip() == head
    backups = list((clone / ".git" / "gitstore" / "repair-backup").rglob("E_1001.json"))
    assert len(backups) == 1 and backups[0].read_text() == conflicted
    gs("-C", str(clone), "--actor", "bob", "message", "add", "1001", "--external", "--sender", "customer", "--sender-id", "ana", "after repair")


def local_pair(tmp_path: Path) -> tuple[Path, str]:
    """A store with a non-ticket file changed on two branches: ``(path, other branch)``."""
    site = tmp_path / "site"
    gs("init", str(site))
    gs("-C", str(site), "--actor", "amy", "ticket", "create", "1001", "--client", "Ana", "--company", "Acme")
    (site / "notes.txt").write_text("base\n")
    run_git(site, "add", "notes.txt")
    run_git(site, "commit", "-qm", "notes")
    run_git(site, "checkout", "-qb", "side")
    (site / "notes.txt").write_text("side\n")
    run_git(site, "commit", "-qam", "side notes")
    run_git(site, "checkout", "-q", "main")
    (site / "notes.txt").write_text("main\n")
    run_git(site, "commit", "-qam", "main notes")
    return site, "side"


@pytest.mark.parametrize(
    "operation, start, state, hint",
    [
        ("cherry-pick", ["cherry-pick", "side"], "git cherry-pick is in progress", "git cherry-pick --abort"),
        ("revert", ["revert", "--no-edit", "HEAD"], "git revert is in progress", "git revert --abort"),
        ("rebase", ["rebase", "side"], "git rebase is in progress", "git rebase --abort"),
        ("stash", None, "unresolved conflicts (notes.txt)", "gitstore repair"),
    ],
)
def test_every_unfinished_operation_refuses_writes_and_repair_clears_what_it_safely_can(tmp_path, operation, start, state, hint):
    site, _branch = local_pair(tmp_path)
    if operation == "revert":  # a revert that conflicts: undo an older change of the line
        (site / "notes.txt").write_text("later\n")
        run_git(site, "commit", "-qam", "later notes")
        start = ["revert", "--no-edit", "HEAD~1"]
    if operation == "stash":
        (site / "notes.txt").write_text("stashed\n")
        run_git(site, "stash", "-q")
        (site / "notes.txt").write_text("committed\n")
        run_git(site, "commit", "-qam", "committed notes")
        started = run_git(site, "stash", "pop", check=False)
    else:
        started = run_git(site, *start, check=False)
    assert started.returncode != 0, started.stdout + started.stderr
    main_before = git(site, "rev-parse", "refs/heads/main").strip()
    refused = gs("-C", str(site), "--actor", "amy", "state", "set", "1001", "priority=HIGH", check=False)
    assert refused.returncode == 1
    assert refused.stderr.count("\n") == 1 and refused.stderr.startswith("Error: ")
    assert state in refused.stderr and hint in refused.stderr
    assert git(site, "rev-parse", "refs/heads/main").strip() == main_before
    repaired = gs("-C", str(site), "repair", check=False)
    if operation == "rebase":  # its abort moves refs: left to git, with what to run
        assert repaired.returncode == 1 and "git rebase --abort" in repaired.stderr
        assert (site / ".git" / "rebase-merge").exists() or (site / ".git" / "rebase-apply").exists()
        run_git(site, "rebase", "--abort")
    else:
        assert repaired.returncode == 0, repaired.stdout + repaired.stderr
        assert git(site, "ls-files", "--unmerged") == ""
        assert (site / "notes.txt").read_text() == git(site, "show", "HEAD:notes.txt")
    assert git(site, "status", "--porcelain") == ""
    gs("-C", str(site), "--actor", "amy", "state", "set", "1001", "priority=HIGH")


def test_the_api_refuses_too_and_names_the_state(tmp_path):
    from gitstore import Store
    from gitstore.errors import OperationInProgress
    from gitstore.objects.repostate import operation_in_progress

    site, branch = local_pair(tmp_path)
    assert run_git(site, "merge", branch, check=False).returncode != 0
    with Store.open(site, fsync=False) as store:
        assert operation_in_progress(store.repo) == "merge"
        with pytest.raises(OperationInProgress) as caught:
            store.set_state("1001", {"priority": "HIGH"}, actor="amy")
        assert caught.value.state == "merge" and isinstance(caught.value, RuntimeError)
        assert "\n" not in str(caught.value)
    run_git(site, "merge", "--abort")
    with Store.open(site, fsync=False) as store:
        assert operation_in_progress(store.repo) is None
        store.set_state("1001", {"priority": "HIGH"}, actor="amy")
