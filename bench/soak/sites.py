"""Site campaign: 3 sites and a hub over ``git daemon`` on 127.0.0.1, random updates and exchanges.

The hub is ``gitstore init --bare`` (pre-receive installed), served by the real
``git daemon`` with receive-pack on. Each round one site writes 1–3 messages on
overlapping tickets, then a random site does a random exchange: ``pull``, ``push``,
``sync``, a plain ``git pull`` (the merge driver merges ticket files), or a
``gitstore pull`` killed with SIGKILL mid-way. A refused push (the hub moved) is
normal and counted. At the end every site syncs twice; all must hold the same tree,
every acknowledged message exactly once, and pass ``verify``.

    python bench/soak/sites.py --rounds 200 --seconds 1800

Prints one JSON line: rounds, acknowledged, exchanges per kind, refused_pushes,
exchange_errors, converged, lost, duplicated, verify_failures.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from soakcommon import ROOT, emit

TICKETS = ("A", "B", "C")
SITES = 3


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def gitstore(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run([str(Path(sys.executable).with_name("gitstore")), "--no-fsync", *args], capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise RuntimeError(f"gitstore {' '.join(args)}: {proc.stderr.strip()}")
    return proc


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=1800)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    from gitstore import Store
    from gitstore.errors import GitStoreError, PushRejected
    from gitstore.verify import verify_store
    from gitstore_sync.exchange import sync
    from gitstore_sync.pull import pull
    from gitstore_sync.push import push

    rng = random.Random(args.seed)
    started = time.monotonic()
    counts: Counter[str] = Counter()
    acked: list[str] = []
    with tempfile.TemporaryDirectory(prefix="soak-sites-") as tmp:
        base = Path(tmp) / "served"
        base.mkdir()
        gitstore("init", "--bare", str(base / "hub.git"))
        seed = Path(tmp) / "seed"
        gitstore("init", str(seed))
        with Store.open(seed, fsync=False) as store:
            for t_no in TICKETS:
                store.create_ticket(t_no, client_name=t_no, company_name="soak", actor="seed")
        gitstore("-C", str(seed), "push", str(base / "hub.git"))
        port = free_port()
        daemon = subprocess.Popen(["git", "daemon", "--reuseaddr", "--listen=127.0.0.1", f"--port={port}", f"--base-path={base}",
                                   "--export-all", "--enable=receive-pack", str(base)], stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL, start_new_session=True)
        try:
            for _ in range(100):
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                    break
                except OSError:
                    time.sleep(0.05)
            url = f"git://127.0.0.1:{port}/hub.git"
            sites = [Path(tmp) / f"site{i}" for i in range(SITES)]
            for site in sites:
                gitstore("clone", url, str(site))
            for round_no in range(args.rounds):
                if time.monotonic() - started > args.seconds:
                    break
                counts["rounds"] += 1
                writer = rng.randrange(SITES)
                with Store.open(sites[writer], fsync=False) as store:
                    for k in range(rng.randint(1, 3)):
                        mid = f"s{writer}-r{round_no}-{k}"
                        store.add_message(rng.choice(TICKETS), "E", sender="customer", sender_id=f"s{writer}", content=mid,
                                          actor=f"site{writer}")
                        acked.append(mid)
                site = sites[rng.randrange(SITES)]
                kind = rng.choice(("pull", "push", "sync", "sync", "git pull", "killed pull"))
                counts[f"exchange {kind}"] += 1
                try:
                    if kind == "git pull":
                        proc = subprocess.run(["git", "-C", str(site), "-c", "user.name=soak", "-c", "user.email=soak@example.invalid",
                                               "pull", "-q", "--no-rebase", "--no-edit", "origin", "main"], capture_output=True, text=True)
                        if proc.returncode != 0:
                            counts["exchange_errors"] += 1
                            subprocess.run(["git", "-C", str(site), "merge", "--abort"], capture_output=True)
                    elif kind == "killed pull":
                        proc2 = subprocess.Popen([str(Path(sys.executable).with_name("gitstore")), "-C", str(site), "--no-fsync",
                                                  "--actor", "soak", "pull"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                                 start_new_session=True, cwd=ROOT)
                        time.sleep(rng.uniform(0.05, 0.5))
                        try:
                            os.killpg(proc2.pid, signal.SIGKILL)
                        except ProcessLookupError:
                            pass
                        proc2.wait()
                    else:
                        with Store.open(site, fsync=False) as store:
                            if kind == "pull":
                                pull(store, "origin", actor="soak")
                            elif kind == "push":
                                push(store, "origin")
                            else:
                                sync(store, "origin", actor="soak")
                except PushRejected:
                    counts["refused_pushes"] += 1
                except GitStoreError as exc:
                    counts["exchange_errors"] += 1
                    if os.environ.get("SOAK_DEBUG"):
                        print(kind, exc, file=sys.stderr)
            trees = []
            found: Counter[str] = Counter()
            for _ in range(2):
                for site in sites:
                    with Store.open(site, fsync=False) as store:
                        sync(store, "origin", actor="soak")
            for index, site in enumerate(sites):
                with Store.open(site, fsync=False) as store:
                    trees.append(str(store.head().tree.id))
                    counts["verify_failures"] += bool(verify_store(store))
                    if index == 0:
                        for t_no in TICKETS:
                            found.update(m.content for m in store.read(t_no).external.messages)
        finally:
            os.killpg(daemon.pid, signal.SIGKILL)
    emit("sites", started, rounds=counts["rounds"], acknowledged=len(acked), converged=len(set(trees)) == 1,
         lost=sum(1 for m in acked if found[m] == 0), duplicated=sum(1 for m in acked if found[m] > 1),
         verify_failures=counts["verify_failures"], refused_pushes=counts["refused_pushes"],
         exchange_errors=counts["exchange_errors"],
         exchanges={k.split(" ", 1)[1]: v for k, v in sorted(counts.items()) if k.startswith("exchange ")})


if __name__ == "__main__":
    main()
