"""``gitstore ticket list``: the table a help desk scans, like ``gh issue list``.

Driven through the installed command: on a terminal (a pseudo-terminal here) a table
with a header, newest update first; in a pipe tab-separated fields; ``--json`` objects
with the same fields. Filters take the store's configured stages and the same case-free
choices as ``ticket create``. The rows are derived data (``gitstore.listing``) that
follow HEAD whatever moved it.
"""

from __future__ import annotations

import json
import os
import pty
import select
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import git, requires_git

pytestmark = requires_git

GITSTORE = str(Path(sys.executable).parent / "gitstore")


def run(store: Path, *args, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run([GITSTORE, "--no-fsync", "-C", str(store), *args], capture_output=True, text=True,
                          env=dict(os.environ, GITSTORE_ACTOR="alice"))
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


def on_terminal(store: Path, *args, env: dict | None = None) -> tuple[int, str]:
    """Run gitstore with stdout on a pseudo-terminal 160 columns wide; return (exit code, text)."""
    master, slave = pty.openpty()
    environment = dict(os.environ, GITSTORE_ACTOR="alice", COLUMNS="160", LINES="50", PAGER="cat", TERM="xterm")
    environment.update(env or {})
    proc = subprocess.Popen([GITSTORE, "--no-fsync", "-C", str(store), *args], stdout=slave, stderr=subprocess.PIPE,
                            env=environment)
    os.close(slave)
    chunks = []
    while True:
        ready, _, _ = select.select([master], [], [], 30)
        if not ready:
            break
        try:
            data = os.read(master, 65536)
        except OSError:  # the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    code = proc.wait(timeout=30)
    proc.stderr.close()
    return code, b"".join(chunks).decode().replace("\r\n", "\n")


@pytest.fixture
def desk(tmp_path):
    """Three tickets touched in a known order: 1002 newest, then 1003, then 1001."""
    store = tmp_path / "desk"
    run(tmp_path, "init", str(store))
    run(store, "ticket", "create", "1001", "--client", "Ana Ruiz", "--company", "Acme", "--priority", "high")
    run(store, "ticket", "create", "1002", "--client", "Bo", "--company", "Initech")
    run(store, "ticket", "create", "1003", "--client", "Cy", "--company", "acme")
    run(store, "message", "add", "1003", "--external", "--sender", "customer", "--sender-id", "cy", "Cannot log in\nsince Monday")
    run(store, "state", "set", "1002", "assigned_member=bob", "workflow_stage=classifier")
    run(store, "message", "add", "1002", "--internal", "--sender", "technical_member", "--sender-id", "ops1", "Looking at the logs")
    return store


FIELDS = ["ticket", "status", "priority", "stage", "assignee", "client", "company", "updated", "latest_message"]


def test_a_table_on_a_terminal_newest_first(desk):
    code, text = on_terminal(desk, "--color", "never", "ticket", "list")
    assert code == 0
    lines = [line for line in text.splitlines() if line.strip()]
    assert lines[0].split() == ["ID", "STATUS", "PRIORITY", "STAGE", "ASSIGNEE", "CLIENT", "UPDATED", "LATEST", "MESSAGE"]
    assert [line.split()[0] for line in lines[1:]] == ["1002", "1003", "1001"]
    assert lines[1].split()[:5] == ["1002", "active", "LOW", "classifier", "bob"]
    assert "Bo (Initech)" in lines[1] and "just now" in lines[1] and lines[1].endswith("[I] Looking at the logs")
    assert lines[2].endswith("Cannot log in")  # the first line of the latest message
    assert "HIGH" in lines[3] and "Ana Ruiz (Acme)" in lines[3]
    assert all(len(line) <= 160 for line in lines)


def test_tab_separated_in_a_pipe_and_json_objects_with_the_same_fields(desk):
    rows = [line.split("\t") for line in run(desk, "ticket", "list").stdout.splitlines()]
    assert [row[0] for row in rows] == ["1002", "1003", "1001"]
    assert rows[0][:7] == ["1002", "active", "LOW", "classifier", "bob", "Bo", "Initech"]
    assert rows[0][7].endswith("Z") and rows[0][8] == "[I] Looking at the logs"
    objects = json.loads(run(desk, "ticket", "list", "--json").stdout)
    assert [o["ticket"] for o in objects] == ["1002", "1003", "1001"]
    for row, obj in zip(rows, objects):
        assert set(FIELDS) <= set(obj)
        assert [str(obj[f] or "") for f in FIELDS[:8]] == row[:8]
    assert objects[0]["latest_kind"] == "internal" and objects[1]["latest_message"] == "Cannot log in"


def test_filters_take_the_configured_stages_and_case_free_choices(desk):
    refused = run(desk, "ticket", "list", "--stage", "chat", check=False)
    assert refused.returncode == 2 and "'chat' is not a configured stage" in refused.stderr
    assert "trigger, classifier, selection, action, end" in refused.stderr
    assert [r["ticket"] for r in json.loads(run(desk, "ticket", "list", "--stage", "classifier", "--json").stdout)] == ["1002"]
    run(desk, "stage", "configure", "--preset", "tenex")
    assert json.loads(run(desk, "ticket", "list", "--stage", "chat", "--json").stdout) == []
    assert run(desk, "ticket", "list", "--stage", "classifier", check=False).returncode == 2
    high = json.loads(run(desk, "ticket", "list", "--priority", "high", "--json").stdout)
    assert [r["ticket"] for r in high] == ["1001"]
    assert [r["ticket"] for r in json.loads(run(desk, "ticket", "list", "--company", "ACME", "--json").stdout)] == ["1003", "1001"]
    assert [r["ticket"] for r in json.loads(run(desk, "ticket", "list", "--assignee", "BOB", "--json").stdout)] == ["1002"]
    assert json.loads(run(desk, "ticket", "list", "--status", "RESOLVED", "--json").stdout) == []
    assert json.loads(run(desk, "ticket", "list", "--since", "2999-01-01", "--json").stdout) == []
    run(desk, "ticket", "create", "1004", "--client", "Di", "--company", "D", "--channel", "flock", "--platform", "WEB_CHAT")


def test_limit_says_how_many_more_and_all_shows_them(desk):
    limited = run(desk, "ticket", "list", "--limit", "2")
    assert len(limited.stdout.splitlines()) == 2
    assert "showing 2 of 3 tickets" in limited.stderr
    assert len(run(desk, "ticket", "list", "--all").stdout.splitlines()) == 3


def test_rows_follow_head_whatever_moved_it(desk):
    run(desk, "ticket", "list")
    listing = desk / ".git" / "gitstore" / "listing.sqlite"
    assert listing.is_file()
    # a hand edit committed with plain git
    t_file = desk / run(desk, "ticket", "path", "1001").stdout.splitlines()[2]
    t_file.write_text(t_file.read_text().replace('"assigned_member": null', '"assigned_member": "zoe"'))
    git(desk, "commit", "-qam", "assign by hand")
    rows = {r["ticket"]: r for r in json.loads(run(desk, "ticket", "list", "--json").stdout)}
    assert rows["1001"]["assignee"] == "zoe"
    # archived tickets are left out unless asked for
    run(desk, "archive", "1003")
    assert "1003" not in [r["ticket"] for r in json.loads(run(desk, "ticket", "list", "--json").stdout)]
    assert "1003" in [r["ticket"] for r in json.loads(run(desk, "ticket", "list", "--archived", "--json").stdout)]
    # a damaged listing file is rebuilt
    listing.write_bytes(b"not a database at all" * 100)
    assert len(json.loads(run(desk, "ticket", "list", "--json").stdout)) == 2
    with sqlite3.connect(listing) as db:
        assert db.execute("SELECT COUNT(*) FROM rows").fetchone()[0] == 3
    # as of an older revision: built from that tree
    before = json.loads(run(desk, "ticket", "list", "--at", "HEAD~3", "--json").stdout)
    assert {r["ticket"]: r["assignee"] for r in before}["1001"] is None


def test_a_ticket_file_that_is_not_json_is_listed_with_its_problem(desk):
    e_file = desk / run(desk, "ticket", "path", "1002").stdout.splitlines()[0]
    e_file.write_text("{ broken")
    git(desk, "commit", "-qam", "break it", "--no-verify")
    rows = {r["ticket"]: r for r in json.loads(run(desk, "ticket", "list", "--json").stdout)}
    assert "E_1002.json is not valid JSON" in rows["1002"]["problem"]
    assert rows["1002"]["assignee"] == "bob" and rows["1001"]["problem"] is None


def test_a_customer_facing_viewer_never_sees_an_internal_note_in_the_list(tmp_path):
    """The latest-message column shows what the viewer's role may read: a customer-facing
    actor gets the newest public reply, never the internal note written after it."""
    store = tmp_path / "store"
    subprocess.run([GITSTORE, "--no-fsync", "init", str(store)], check=True, capture_output=True)
    run(store, "ticket", "create", "1001", "--client", "Ana", "--company", "Acme")
    run(store, "message", "add", "1001", "--external", "--sender", "customer", "--sender-id", "ana", "The printer is down")
    run(store, "message", "add", "1001", "--internal", "--sender", "technical_member", "--sender-id", "ops",
        "Driver zebrafirmware breaks it")
    run(store, "role", "set", "bob", "customer_facing")
    everyone = json.loads(run(store, "ticket", "list", "--json").stdout)
    assert everyone[0]["latest_message"].startswith("Driver zebrafirmware") and everyone[0]["latest_kind"] == "internal"
    for args in (("ticket", "list", "--json"), ("ticket", "list")):
        shown = run(store, "--actor", "bob", *args).stdout
        assert "zebrafirmware" not in shown
    rows = json.loads(run(store, "--actor", "bob", "ticket", "list", "--json").stdout)
    assert rows[0]["latest_message"] == "The printer is down" and rows[0]["latest_kind"] == "external"
