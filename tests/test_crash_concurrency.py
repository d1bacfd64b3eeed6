"""Reliability: SIGKILL at random moments, and concurrent writers with the retry helper."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from conftest import git, requires_git
from gitstore import Store
from gitstore.verify import verify_store

CHILD = Path(__file__).with_name("writer_child.py")
ROOT = Path(__file__).resolve().parents[1]


def spawn(store_path, mode, name, count):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.Popen(
        [sys.executable, str(CHILD), str(store_path), mode, name, str(count)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )


def two_tickets(path):
    store = Store.init(path, fsync=False)
    for t_no in ("A", "B"):
        store.create_ticket(t_no, client_name="Ana", company_name="Acme", actor="setup")
    store.close()


def read_lines(proc, sink):
    for line in proc.stdout:
        sink.append(line.split())


@pytest.mark.slow
@requires_git
def test_sigkill_at_random_moments_loses_nothing_committed(tmp_path):
    path = tmp_path / "store"
    two_tickets(path)
    rng = random.Random(20261121)
    reported = []
    required = 0
    kills = 50
    for round_no in range(kills):
        proc = spawn(path, "crash", f"w{round_no}", 10_000)
        lines: list[list[str]] = []
        reader = threading.Thread(target=read_lines, args=(proc, lines))
        reader.start()
        # Kill after the child reported `wanted` commits (counted, not timed: a loaded
        # machine only makes the rounds longer), at a random moment of the next update.
        wanted = rng.randint(0, 3)
        deadline = time.time() + 60
        while not lines and time.time() < deadline:
            time.sleep(0.002)
        while sum(1 for line in list(lines) if line and line[0] == "ok") < wanted and time.time() < deadline:
            time.sleep(0.002)
        assert lines and lines[0] == ["ready"], proc.stderr.read()
        required += wanted
        time.sleep(rng.uniform(0.0, 0.01))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        reader.join()
        reported += [line[1:] for line in lines if line and line[0] == "ok"]
        store = Store.open(path, fsync=False)  # repairs the working tree if needed
        problems = verify_store(store, objects=False)
        assert problems == [], (round_no, [str(p) for p in problems])
    assert len(reported) >= required  # the children committed between kills
    store = Store.open(path, fsync=False)
    messages = {}
    for t_no in ("A", "B"):
        for m in store.read(t_no).external.messages:
            messages[m.message_id] = m.content
    for content, commit in reported:
        assert messages.get(content) == content, f"update {content} reported as committed is missing"
        assert git(path, "cat-file", "-t", commit).strip() == "commit"
    # no half-updated ticket: every message's update also set assigned_member in the same commit
    for t_no in ("A", "B"):
        files = store.read(t_no)
        if files.external.messages:
            assert files.workflow.assigned_member == files.external.messages[-1].content
    assert verify_store(store) == []
    assert git(path, "status", "--porcelain") == ""
    git(path, "fsck", "--strict")


@requires_git
@pytest.mark.slow
def test_four_processes_fifty_updates_each_with_retry(tmp_path):
    path = tmp_path / "store"
    two_tickets(path)
    procs = [spawn(path, "retry", f"p{i}", 50) for i in range(4)]
    outputs = [p.communicate(timeout=300) for p in procs]
    for proc, (out, err) in zip(procs, outputs):
        assert proc.returncode == 0, err
    store = Store.open(path, fsync=False)
    ids = [m.message_id for t in ("A", "B") for m in store.read(t).internal.messages]
    expected = {f"p{i}-{n}" for i in range(4) for n in range(50)}
    assert sorted(ids) == sorted(expected)  # every message exactly once
    assert git(path, "rev-list", "--merges", "--count", "HEAD").strip() == "0"  # linear history
    assert int(git(path, "rev-list", "--count", "HEAD")) == 1 + 2 + 200
    assert verify_store(store) == []
    assert git(path, "status", "--porcelain") == ""
