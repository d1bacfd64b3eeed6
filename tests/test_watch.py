"""The watcher (``gitstore watch``): fresh search after plain git, bare stores, restarts.

Every test bounds its waits and stops its observer (``Watcher.stop`` joins the thread;
CLI watchers run as subprocesses that are killed or terminated at the end).
"""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path


from conftest import git, requires_git

ROOT = Path(__file__).resolve().parents[1]
TIMEOUT = 10.0


def wait_for(predicate, timeout: float = TIMEOUT, step: float = 0.02):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    raise AssertionError(f"condition not met within {timeout} s")


def make_store(path: Path, bare: bool = False):
    from gitstore import Store

    store = Store.init(path, fsync=False, bare=bare)
    for t_no, client in (("1001", "Ana"), ("1002", "Ben")):
        store.create_ticket(t_no, client_name=client, company_name="Acme", actor="setup")
        store.add_message(t_no, "E", sender="customer", sender_id=client.lower(), content=f"{client} reports a broken printer", actor="setup")
    return store


@contextmanager
def running(store, **options):
    from gitstore_index.watcher import Watcher

    changes, logs = [], []
    watcher = Watcher(store, on_change=changes.append, on_log=logs.append, debounce=0.05, **options)
    watcher.start()
    thread = threading.Thread(target=watcher.run, kwargs={"duration": 30}, daemon=True)
    thread.start()
    try:
        yield watcher, changes, logs
    finally:
        watcher.stop()
        thread.join(TIMEOUT)
        assert not thread.is_alive()


def hand_add_message(store, t_no: str, message_id: str, text: str) -> None:
    from gitstore.tickets import layout

    path = Path(store.path) / layout.ticket_path("E", t_no)
    data = json.loads(path.read_text())
    data["messages"].append({"message_id": message_id, "timestamp": "2026-01-02T03:04:05Z", "sender": "cs_agent",
                             "sender_id": "desk", "content": text, "attachments": [], "metadata": {}})
    path.write_text(json.dumps(data, indent=2) + "\n")


def search(store, query, **options):
    from gitstore_index.search import search as run

    return run(store, query, **options)


def up_to_date(store) -> bool:
    from gitstore_index.store_index import index_status

    return index_status(store).up_to_date


# ---------------------------------------------------------------------------- in-process watcher
@requires_git
def test_plain_git_commit_is_indexed_by_the_watcher(tmp_path):
    store = make_store(tmp_path / "s")
    with running(store) as (watcher, changes, logs):
        hand_add_message(store, "1001", "hand-1", "the manatee toner arrived")
        git(store.path, "commit", "-q", "-am", "hand edit")
        head = git(store.path, "rev-parse", "HEAD").strip()
        wait_for(lambda: any(c.t_no == "1001" and c.commit == head for c in changes))
        assert up_to_date(store)  # the watcher, not the search below, brought it to HEAD
        change = next(c for c in changes if c.t_no == "1001")
        assert change.added == {"external": ["hand-1"]} and change.kinds == ["external"]
        assert change.report() == {"ticket": "1001", "commit": head, "kinds": ["external"],
                                   "added": {"external": ["hand-1"]}, "deleted": False}
    hits = search(store, "manatee").hits
    assert [(h.t_no, h.message_id) for h in hits] == [("1001", "hand-1")]


@requires_git
def test_uncommitted_edit_is_not_indexed(tmp_path):
    store = make_store(tmp_path / "s")
    with running(store) as (watcher, changes, logs):
        handled = watcher.handled
        hand_add_message(store, "1002", "draft-1", "a draft about a capybara")
        wait_for(lambda: watcher.handled > handled)  # the file event was seen and handled
        assert changes == []
    assert search(store, "capybara").total == 0


@requires_git
def test_invalid_committed_file_is_logged_once_and_watching_goes_on(tmp_path):
    from gitstore.tickets import layout

    store = make_store(tmp_path / "s")
    with running(store) as (watcher, changes, logs):
        bad = Path(store.path) / layout.ticket_path("E", "1001")
        bad.write_text('{"ticket_id": "1001", "messages": [')
        git(store.path, "commit", "-q", "-am", "broken by hand")
        wait_for(lambda: any("1001" in line and "not indexed" in line for line in logs))
        hand_add_message(store, "1002", "hand-2", "a valid note about a wombat")
        git(store.path, "commit", "-q", "-am", "valid edit")
        wait_for(lambda: any(c.t_no == "1002" for c in changes))
        assert len([line for line in logs if "1001" in line and "not indexed" in line]) == 1
        assert "malformed JSON" in next(line for line in logs if "not indexed" in line)
        assert watcher.handled >= 2
    assert search(store, "wombat").hits[0].t_no == "1002"
    assert search(store, "printer AND Ana").total == 1  # 1001 keeps its last good documents


def test_bare_store_is_watched_through_its_ref(tmp_path):
    from gitstore import Store

    store = make_store(tmp_path / "bare.git", bare=True)
    with running(store) as (watcher, changes, logs):
        writer = Store.open(tmp_path / "bare.git", fsync=False)  # another program, no index subscription
        result = writer.add_message("1002", "I", sender="technical_member", sender_id="ops", content="rebooted the axolotl cluster", actor="ops")
        wait_for(lambda: any(c.commit == result.commit for c in changes))
        change = next(c for c in changes if c.commit == result.commit)
        assert change.t_no == "1002" and change.added == {"internal": result.added["I"]}
        assert up_to_date(store)
    assert search(store, "axolotl", role="admin").hits[0].t_no == "1002"
    assert search(store, "axolotl", role="customer_facing").total == 0


def test_events_are_debounced_per_ticket_and_git_internals_ignored(tmp_path):
    from gitstore.tickets import layout
    from gitstore_index.watcher import REF_KEY, Watcher

    store = make_store(tmp_path / "s")
    watcher = Watcher(store, debounce=0.2, max_wait=5.0)
    git_dir = Path(store.repo.path).resolve()
    work = Path(store.repo.workdir).resolve()
    ticket_file = str(work / layout.ticket_path("E", "1001"))

    class Event:
        def __init__(self, src, dest="", event_type="modified"):
            self.src_path, self.dest_path, self.event_type = src, dest, event_type

    assert watcher.key_for(ticket_file) == "1001"
    assert watcher.key_for(str(git_dir / "objects" / "ab" / "cdef")) is None
    assert watcher.key_for(str(git_dir / "refs" / "heads" / "main.lock")) is None
    assert watcher.key_for(str(git_dir / "index")) is None
    assert watcher.key_for(str(git_dir / "refs" / "heads" / "main")) == REF_KEY
    assert watcher.key_for(str(git_dir / "packed-refs")) == REF_KEY
    assert watcher.key_for(str(work / "README.md")) is None
    for kind in ("created", "modified", "deleted", "modified", "opened"):
        watcher.notify(Event(ticket_file, event_type=kind))
    watcher.notify(Event(str(git_dir / "refs/heads/main.lock"), str(git_dir / "refs/heads/main"), "moved"))
    watcher.notify(Event(str(git_dir / "objects/ab/cd"), event_type="created"))
    now = time.monotonic()
    assert watcher._due(now)[0] == []  # still bursting
    due, _wait = watcher._due(now + 0.25)
    assert sorted(due) == sorted(["1001", REF_KEY])  # once per ticket and once for the ref


# ---------------------------------------------------------------------------- the CLI watcher
class Lines:
    """Read a pipe's lines on a thread so waits are bounded."""

    def __init__(self, pipe):
        self.queue: queue.Queue = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._pump, args=(pipe,), daemon=True).start()

    def _pump(self, pipe):
        for line in pipe:
            self.queue.put(line.rstrip("\n"))

    def wait(self, predicate, timeout: float = TIMEOUT) -> str:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            try:
                line = self.queue.get(timeout=max(0.01, end - time.monotonic()))
            except queue.Empty:
                break
            self.seen.append(line)
            if predicate(line):
                return line
        raise AssertionError(f"no matching line within {timeout} s; seen: {self.seen}")


def start_watch(path: Path):
    proc = subprocess.Popen(
        [sys.executable, "-m", "gitstore_cli.main", "-C", str(path), "--no-fsync", "watch", "--json", "--debounce", "0.05", "--duration", "60"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    out, err = Lines(proc.stdout), Lines(proc.stderr)
    err.wait(lambda line: line.startswith("watching "))
    return proc, out, err


@requires_git
def test_cli_watch_json_lines_and_a_killed_watcher_restarted(tmp_path):
    from gitstore import Store

    store = make_store(tmp_path / "s")
    store.close()
    procs = []
    try:
        proc, out, err = start_watch(store.path)
        procs.append(proc)
        writer = Store.open(store.path, fsync=False)
        result = writer.add_message("1001", "E", sender="cs_agent", sender_id="desk", content="sent a new toner", actor="desk")
        line = out.wait(lambda l: result.commit in l)
        assert json.loads(line) == {"ticket": "1001", "commit": result.commit, "kinds": ["external"],
                                    "added": {"external": result.added["E"]}, "deleted": False}
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(TIMEOUT)
        # while no watcher runs, a person commits by hand: the index falls behind
        hand_add_message(writer, "1002", "hand-9", "an ocelot ate the invoice")
        git(store.path, "commit", "-q", "-am", "hand edit while the watcher was down")
        assert not up_to_date(writer)
        proc, out, err = start_watch(store.path)  # restarted: catches up on start
        procs.append(proc)
        assert up_to_date(writer)
        result = writer.set_state("1002", {"priority": "HIGH"}, actor="lead")
        line = out.wait(lambda l: result.commit in l)
        assert json.loads(line)["kinds"] == ["workflow"] and json.loads(line)["added"] == {}
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(TIMEOUT) == 0
        writer.close()
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait(TIMEOUT)
    assert search(writer, "ocelot").hits[0].message_id == "hand-9"


def test_watcher_and_subscribed_writer_never_duplicate_or_lose_documents(tmp_path):
    """Two index writers (the CLI watcher process and a writing process) take turns."""
    from gitstore import Store
    from gitstore_index.store_index import SearchIndex, index_status
    from gitstore_index.subscriber import subscribe_index

    store = make_store(tmp_path / "s")
    SearchIndex.open(store).close()
    proc = None
    try:
        proc, out, err = start_watch(store.path)
        writer = Store.open(store.path, fsync=False)
        subscriber = subscribe_index(writer)
        commits = []
        for n in range(15):
            t_no = "1001" if n % 2 else "1002"
            kind = "I" if n % 3 == 0 else "E"
            sender = "technical_member" if kind == "I" else "cs_agent"
            commits.append(writer.add_message(t_no, kind, sender=sender, sender_id="desk", content=f"pangolin note {n}", actor="desk").commit)
        out.wait(lambda line: commits[-1] in line)
        subscriber.close()
        status = index_status(writer)
        expected = sum(len(writer.read(t).external.messages) + len(writer.read(t).internal.messages) + 1 for t in writer.list_tickets())
        assert status.up_to_date and status.documents == expected
        assert search(writer, "pangolin", limit=100).total == 15
        assert not subscriber.changes or all(c.t_no in ("1001", "1002") for c in subscriber.changes)
        writer.close()
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(TIMEOUT)


def test_reading_the_tree_causes_no_work(tmp_path):
    """Opening and listing files (git status, backups, watchdog's own rescans) is not a change."""
    store = make_store(tmp_path / "s")
    with running(store) as (watcher, changes, logs):
        handled = watcher.handled
        for _ in range(3):
            for folder, _dirs, files in os.walk(Path(store.path) / "Tickets"):
                for name in files:
                    (Path(folder) / name).read_bytes()
        time.sleep(0.5)  # several debounce periods
        assert watcher.handled == handled and changes == []
        assert not any("overflow" in line for line in logs)
