"""Race campaign: P processes × N updates on 2 hot tickets, through the API with retry and the CLI.

API writers call ``Store.update_with_retry`` with its default attempts and backoff;
CLI writers run ``gitstore message add`` once per update. Afterwards every message
must be there exactly once and the history linear (no merge commits).

    python bench/soak/races.py --processes 8 --updates 500 --cli 2 --seconds 1800

Prints one JSON line: processes, updates, acknowledged, gave_up (ConflictError after
the default attempts), lock_timeouts, cli_failures, lost, duplicated, merges,
ms_per_update (wall time / acknowledged updates).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from soakcommon import HOT, ROOT, emit, hot_store


def child(path: str, name: str, count: int, deadline: float) -> None:
    """One API writer: ``count`` updates alternating the hot tickets; prints an outcome per update."""
    from gitstore import Store
    from gitstore.errors import ConflictError, LockTimeout

    store = Store.open(path, fsync=False)
    for n in range(count):
        if time.time() > deadline:
            break
        mid = f"{name}-{n}"
        try:
            store.update_with_retry(HOT[n % 2], lambda files, m=mid: {"I": {"messages": [
                {"message_id": m, "sender": "cs_agent", "sender_id": name, "content": m}]}}, actor=name)
            print("ok", mid, flush=True)
        except ConflictError:
            print("gave_up", mid, flush=True)
        except LockTimeout:
            print("lock_timeout", mid, flush=True)
    store.close()


def cli_child(path: str, name: str, count: int, deadline: float) -> None:
    """One CLI writer: ``gitstore message add`` per update (the content is the id)."""
    gitstore = str(Path(sys.executable).with_name("gitstore"))
    for n in range(count):
        if time.time() > deadline:
            break
        mid = f"{name}-{n}"
        proc = subprocess.run([gitstore, "-C", path, "--no-fsync", "--actor", name, "message", "add", HOT[n % 2], "--internal",
                               "--sender", "cs_agent", "--sender-id", name, mid], capture_output=True, text=True)
        print("ok" if proc.returncode == 0 else "cli_failure", mid, flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--processes", type=int, default=8)
    parser.add_argument("--updates", type=int, default=500, help="updates per process")
    parser.add_argument("--cli", type=int, default=0, help="how many of the processes write through the CLI")
    parser.add_argument("--seconds", type=float, default=1800, help="writers stop starting updates after this")
    parser.add_argument("--child", nargs=4, metavar=("MODE", "STORE", "NAME", "COUNT"), help=argparse.SUPPRESS)
    parser.add_argument("--deadline", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        mode, path, name, count = args.child
        (cli_child if mode == "cli" else child)(path, name, int(count), args.deadline)
        return
    from gitstore import Store

    started = time.monotonic()
    deadline = time.time() + args.seconds
    with tempfile.TemporaryDirectory(prefix="soak-races-") as tmp:
        path = Path(tmp) / "store"
        hot_store(path)
        procs = [subprocess.Popen([sys.executable, __file__, "--deadline", str(deadline), "--child",
                                   "cli" if i < args.cli else "api", str(path), f"w{i}", str(args.updates)],
                                  stdout=subprocess.PIPE, text=True, cwd=ROOT) for i in range(args.processes)]
        outcomes: Counter[str] = Counter()
        acked: list[str] = []
        for proc in procs:
            out, _ = proc.communicate()
            for line in out.splitlines():
                outcome, mid = line.split()
                outcomes[outcome] += 1
                if outcome == "ok":
                    acked.append(mid)
        write_seconds = time.monotonic() - started
        with Store.open(path, fsync=False) as store:
            found = Counter()
            for t_no in HOT:
                found.update(m.content for m in store.read(t_no).internal.messages)
        merges = int(subprocess.run(["git", "-C", str(path), "rev-list", "--merges", "--count", "HEAD"],
                                    capture_output=True, text=True).stdout or 0)
    emit("races", started, processes=args.processes, cli_processes=args.cli, updates=args.updates, acknowledged=len(acked),
         gave_up=outcomes["gave_up"], lock_timeouts=outcomes["lock_timeout"], cli_failures=outcomes["cli_failure"],
         lost=sum(1 for m in acked if found[m] == 0), duplicated=sum(1 for m in acked if found[m] > 1), merges=merges,
         ms_per_update=round(1000 * write_seconds / max(1, len(acked)), 2))


if __name__ == "__main__":
    main()
