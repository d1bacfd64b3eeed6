"""Helpers shared by the benchmarks: fast store building, percentiles, sizes."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import pygit2  # noqa: E402

from gitstore import Store
from gitstore.tickets import layout  # noqa: E402
from gitstore.objects.refs import BRANCH  # noqa: E402
from gitstore.tickets.files import new_ticket  # noqa: E402
from gitstore.objects.trees import write_tree  # noqa: E402

BASE_TIME = datetime(2026, 1, 1, tzinfo=timezone.utc)


def fast_store(path: Path, n_tickets: int, messages: int = 1, bare: bool = False, checkout: bool = True) -> Store:
    """Create a store holding ``n_tickets`` valid tickets in ONE commit (bench setup only).

    Each ticket has ``messages`` external messages. Built with blobs and one tree write,
    not through the per-update write path, so 100,000 tickets take seconds.
    """
    store = Store.init(path, bare=bare, fsync=False)
    writer = store.objects
    changes = {}
    for n in range(n_tickets):
        t_no = f"{n:06d}"
        when = BASE_TIME + timedelta(seconds=n)
        files = new_ticket(t_no, client_name=f"client {n}", company_name=f"company {n % 97}", when=when)
        msgs = [
            {"message_id": f"m{n}-{k}", "timestamp": (when + timedelta(seconds=k)).isoformat(),
             "sender": "customer", "sender_id": f"c{n}", "content": f"message {k} of ticket {n}: the printer is jammed"}
            for k in range(messages)
        ]
        if msgs:
            data = files.external.model_dump(mode="json")
            data["messages"] = msgs
            files = files.with_file("E", layout.validate_data("E", data, "E"))
        for kind, p in layout.ticket_paths(t_no).items():
            changes[p] = writer.add_blob(layout.dumps(files.get(kind)))
    head = store.head()
    tree = write_tree(writer.repo, writer.repo[head.tree.id], changes, put=writer.put)
    sig = pygit2.Signature("bench", "bench@gitstore.invalid", int(BASE_TIME.timestamp()), 0)
    commit = writer.add_commit(tree, [head.id], sig, sig, f"Bench base: {n_tickets} tickets\n")
    writer.flush(fsync=False)
    store.repo.references.create(BRANCH, commit, force=True)
    repo = store.repo
    if not bare and checkout:
        repo.checkout_head(strategy=pygit2.GIT_CHECKOUT_FORCE)
        store.worktree.mark(commit)
    return store


def percentile(values: list[float], q: float) -> float:
    """Return the q-th percentile (0–100) of values (inclusive method)."""
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1] if q < 100 else max(values)


def folder_bytes(path: Path) -> int:
    """Bytes of every file under ``path`` (apparent sizes; files vanishing meanwhile skipped)."""
    total = 0
    for folder, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += os.path.getsize(os.path.join(folder, name))
            except FileNotFoundError:
                pass
    return total


def objects_bytes(git_dir: Path) -> int:
    """Total size in bytes of everything under ``objects/``."""
    return folder_bytes(Path(git_dir) / "objects")


def emit(record: dict) -> None:
    """Print one JSON line (the benchmark's result format)."""
    print(json.dumps(record, sort_keys=False), flush=True)


def git(path: Path, *args: str, env: dict | None = None) -> str:
    """Run the git binary; raise on failure."""
    proc = subprocess.run(["git", "-C", str(path), *args], capture_output=True, text=True, env=env)
    if proc.returncode:
        raise RuntimeError(f"git {' '.join(args)}: {proc.stderr}")
    return proc.stdout
