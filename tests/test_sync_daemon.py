"""Sites syncing through a hub served by the real ``git daemon`` on 127.0.0.1.

The hub is made by ``gitstore init --bare`` (pre-receive hook installed) and filled by
the first push of a new store, the sites by ``gitstore clone git://127.0.0.1:<port>/hub.git``; everything goes over git's own
protocol, with receive-pack enabled on the daemon.
"""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import subprocess
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner

from gitstore_cli.main import cli
from conftest import git, requires_git
from gitstore import Store
from gitstore.tickets import layout
from gitstore.errors import PushRejected, RemoteError
from gitstore.verify import verify_store
from gitstore_sync.exchange import sync
from gitstore_sync.push import push

pytestmark = requires_git


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Daemon:
    """A ``git daemon`` serving ``base`` on 127.0.0.1:``port`` (receive-pack enabled)."""

    def __init__(self, base: Path):
        self.base = base
        self.port = free_port()
        self.proc: subprocess.Popen | None = None

    def url(self, name: str) -> str:
        return f"git://127.0.0.1:{self.port}/{name}"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                "git", "daemon", "--reuseaddr", "--listen=127.0.0.1", f"--port={self.port}",
                f"--base-path={self.base}", "--export-all", "--enable=receive-pack",
                "--informative-errors", str(self.base),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)
        raise AssertionError("git daemon did not start")

    def stop(self) -> None:
        """Kill the daemon and every process it started (connections, hooks)."""
        if self.proc is None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait(timeout=10)
        self.proc = None


@pytest.fixture
def hub(tmp_path):
    """``(daemon, hub path)``: a bare hub made with the CLI, served by git daemon."""
    base = tmp_path / "served"
    base.mkdir()
    runner = CliRunner()
    result = runner.invoke(cli, ["--no-fsync", "init", "--bare", str(base / "hub.git")])
    assert result.exit_code == 0, result.output
    seed = tmp_path / "seed"  # a new hub is empty: the first store pushed to it fills it
    assert runner.invoke(cli, ["--no-fsync", "init", str(seed)]).exit_code == 0
    pushed = runner.invoke(cli, ["-C", str(seed), "--no-fsync", "push", str(base / "hub.git")])
    assert pushed.exit_code == 0, pushed.output
    daemon = Daemon(base)
    daemon.start()
    yield daemon, base / "hub.git"
    daemon.stop()


def clone_site(daemon: Daemon, path: Path) -> Path:
    result = CliRunner().invoke(cli, ["--no-fsync", "clone", daemon.url("hub.git"), str(path)])
    assert result.exit_code == 0, result.output
    return path


def cli_sync(site: Path, actor: str) -> dict:
    result = CliRunner().invoke(cli, ["-C", str(site), "--no-fsync", "--actor", actor, "sync", "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def all_ids(store: Store) -> Counter:
    found: Counter = Counter()
    for t_no in store.list_tickets():
        files = store.read(t_no)
        found.update(m.message_id for m in files.external.messages)
        found.update(m.message_id for m in files.internal.messages)
    return found


def test_three_sites_random_updates_and_sync_orders_converge(hub, tmp_path):
    daemon, hub_path = hub
    rng = random.Random(20240501)
    sites = [clone_site(daemon, tmp_path / f"site{i}") for i in range(3)]
    actors = ["amy", "bob", "cy"]
    with Store.open(sites[0], fsync=False) as store:
        for t_no in ("1001", "1002", "1003"):
            store.create_ticket(t_no, client_name="Ana", company_name="Acme", actor="amy")
    for site, actor in zip(sites, actors):
        cli_sync(site, actor)
    written: list[str] = []
    outcomes: Counter = Counter()
    new_tickets = 0
    for round_no in range(3):
        for number, (site, actor) in enumerate(zip(sites, actors)):
            with Store.open(site, fsync=False) as store:
                tickets = store.list_tickets()
                for _ in range(rng.randint(1, 3)):
                    t_no = rng.choice(tickets)
                    action = rng.choice(["E", "I", "state", "new"])
                    if action in ("E", "I"):
                        sender = "customer" if action == "E" else "technical_member"
                        result = store.add_message(
                            t_no, action, sender=sender, sender_id=actor, content=f"{actor} r{round_no}", actor=actor
                        )
                        written += result.added[action]
                    elif action == "state":
                        value = rng.choice(["amy", "bob", "cy", "dee"])
                        if store.read(t_no).workflow.assigned_member != value:
                            store.set_state(t_no, {"assigned_member": value, "priority": rng.choice(["HIGH", "LOW"])}, actor=actor)
                    else:
                        new_tickets += 1
                        store.create_ticket(f"N{number}-{round_no}-{new_tickets}", client_name=actor, company_name="X", actor=actor)
        for index in rng.sample(range(3), 3):
            report = cli_sync(sites[index], actors[index])
            outcomes.update(p["outcome"] for p in report["pulls"])
    for _ in range(2):  # two passes: the last site's merge reaches everyone
        for site, actor in zip(sites, actors):
            cli_sync(site, actor)
    assert outcomes["merge"] >= 2 and len(written) >= 5  # real concurrent work was merged
    trees = {git(site, "rev-parse", "HEAD^{tree}").strip() for site in sites}
    assert len(trees) == 1
    assert git(hub_path, "rev-parse", "main^{tree}").strip() in trees
    for site in sites:
        with Store.open(site, fsync=False) as store:
            ids = all_ids(store)
            assert set(written) <= set(ids)
            assert all(count == 1 for count in ids.values())
            assert len(store.list_tickets()) == 3 + new_tickets
            assert verify_store(store) == []
        assert git(site, "status", "--porcelain") == ""
    fsck = subprocess.run(["git", "--git-dir", str(hub_path), "fsck", "--no-progress"], capture_output=True, text=True)
    assert fsck.returncode == 0, fsck.stdout + fsck.stderr


def test_daemon_stopped_during_a_push_then_restarted(hub, tmp_path):
    daemon, hub_path = hub
    site = clone_site(daemon, tmp_path / "site")
    with Store.open(site, fsync=False) as store:
        store.create_ticket("1001", client_name="Ana", company_name="Acme", actor="amy")
    hook = hub_path / "hooks" / "pre-receive"
    real_hook = hub_path / "hooks" / "pre-receive.gitstore"
    hook.rename(real_hook)
    marker, slow = tmp_path / "in-push", tmp_path / "slow"
    hook.write_text(
        f'#!/bin/sh\nif [ -e "{slow}" ]; then touch "{marker}"; sleep 60; fi\nexec "{real_hook}"\n'
    )
    hook.chmod(0o755)
    slow.touch()
    hub_before = git(hub_path, "rev-parse", "main").strip()
    store = Store.open(site, fsync=False)
    local_before = str(store.head().id)
    errors: list[BaseException] = []

    def run_push():
        try:
            push(store, "origin")
        except BaseException as exc:  # noqa: BLE001 - handed to the test thread
            errors.append(exc)

    thread = threading.Thread(target=run_push)
    thread.start()
    deadline = time.monotonic() + 20
    while not marker.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert marker.exists(), "the push never reached the hub's pre-receive hook"
    daemon.stop()  # the server dies while the push waits for its answer
    thread.join(timeout=30)
    assert not thread.is_alive()
    assert errors and isinstance(errors[0], (RemoteError, PushRejected)), errors
    assert git(hub_path, "rev-parse", "main").strip() == hub_before
    assert str(store.head().id) == local_before
    assert verify_store(store) == []
    slow.unlink()
    daemon.start()  # same port
    result = push(store, "origin")
    assert result.refs[0].status == "ok"
    assert git(hub_path, "rev-parse", "main").strip() == local_before
    fsck = subprocess.run(["git", "--git-dir", str(hub_path), "fsck", "--no-progress"], capture_output=True, text=True)
    assert fsck.returncode == 0, fsck.stderr
    store.close()


def test_hub_pre_receive_refuses_invalid_tickets_and_local_store_is_unchanged(hub, tmp_path):
    daemon, hub_path = hub
    site = clone_site(daemon, tmp_path / "site")
    with Store.open(site, fsync=False) as store:
        store.create_ticket("1001", client_name="Ana", company_name="Acme", actor="amy")
    path = site / layout.ticket_path("I", "1001")
    path.write_text(path.read_text().replace('"synchronized_with": [', '"synchronized_with": ["X_1", '))
    git(site, "commit", "-q", "--no-verify", "-am", "hand edit that breaks the mesh")
    local = git(site, "rev-parse", "HEAD").strip()
    hub_before = git(hub_path, "rev-parse", "main").strip()
    result = CliRunner().invoke(cli, ["-C", str(site), "--no-fsync", "push"])
    assert result.exit_code == 1
    line = result.output.strip().splitlines()[-1]
    assert line.startswith("Error: push of refs/heads/main rejected:")
    assert layout.ticket_path("I", "1001") in line and "docs/data-model.md#cross-file-rules" in line
    assert "expected ['E_1001', 'T_1001']" in line  # the hook's lines arrive whole
    assert git(site, "rev-parse", "HEAD").strip() == local
    assert git(hub_path, "rev-parse", "main").strip() == hub_before
    with pytest.raises(PushRejected) as caught:
        with Store.open(site, fsync=False) as store:
            sync(store, "origin", actor="amy")
    assert not caught.value.retryable  # a hook refusal is not retried


def test_missing_repository_on_the_daemon_is_a_clear_error(hub, tmp_path):
    daemon, _hub_path = hub
    site = clone_site(daemon, tmp_path / "site")
    runner = CliRunner()
    result = runner.invoke(cli, ["-C", str(site), "--no-fsync", "--actor", "amy", "pull", daemon.url("missing.git")])
    assert result.exit_code == 1 and "cannot reach remote" in result.output
    cloned = runner.invoke(cli, ["--no-fsync", "clone", daemon.url("missing.git"), str(tmp_path / "x")])
    assert cloned.exit_code == 1 and not (tmp_path / "x").exists()
