"""Kill campaign: SIGKILL writers at random moments, then check nothing acknowledged is lost.

Each round starts a child writer of one kind (``update``: single updates with fsync on;
``bulk``: ``Store.bulk`` blocks of 5; ``gc``, ``index``: updates with ``gc`` or a search
index rebuild every 5; ``rollback``: updates and rollbacks of the one before; ``pull``:
an update here and one on a side clone, then a pull that merges the side's commits —
its messages count as acknowledged once the pull returned), lets
it run a random 0.05–0.6 s and kills it and its children (``git gc``) with SIGKILL. Then: ``Store.open``, ``verify``,
``git fsck --strict``, every acknowledged message present exactly once, no partial
ticket, the last acknowledged message found by search, and no git lock or pack litter
left after the open.

    python bench/soak/kills.py --rounds 50 --seconds 600

Prints one JSON line: kills, acknowledged, lost, duplicated, partial_tickets,
open_failures, verify_failures, fsck_failures, search_misses, locks_needing_a_human,
leftover_files, per_kind.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from soakcommon import HOT, ROOT, emit, fsck_strict, hot_store, leftovers, message_ids

KINDS = ("update", "bulk", "gc", "index", "rollback", "pull")


def child(kind: str, path: str, name: str) -> None:
    """Write until killed, printing ``ok <message id>`` for each acknowledged update."""
    from gitstore import Store
    from gitstore.maintenance import gc

    store = Store.open(path, fsync=kind == "update", lock_timeout=120)
    n = 0

    def one(t_no: str, mid: str) -> None:
        store.update(t_no, {"E": {"messages": [{"message_id": mid, "sender": "customer", "sender_id": name, "content": mid}]},
                            "T": {"assigned_member": mid}}, actor=name)

    side = None
    if kind == "pull":
        side_path = Path(path).with_name("side")
        if not side_path.exists():
            subprocess.run(["git", "clone", "-q", path, str(side_path)], check=True)
        side = Store.open(side_path, fsync=False)
    while True:
        if side is not None:
            from gitstore_sync.pull import pull

            mid, side_mid = f"{name}-{n}", f"{name}-side-{n}"
            one(HOT[n % 2], mid)
            print("ok", mid, flush=True)
            side.update(HOT[(n + 1) % 2], {"E": {"messages": [
                {"message_id": side_mid, "sender": "customer", "sender_id": name, "content": side_mid}]}}, actor=name)
            pull(store, str(side.path), actor=name)  # a merge commit: both sides changed
            print("ok", side_mid, flush=True)
            n += 1
            continue
        if kind == "bulk":
            ids = [f"{name}-{n + i}" for i in range(5)]
            with store.bulk(checkpoint_every=5):
                for i, mid in enumerate(ids):
                    one(HOT[(n + i) % 2], mid)
            store.close()
            for mid in ids:
                print("ok", mid, flush=True)
            n += 5
            continue
        mid = f"{name}-{n}"
        one(HOT[n % 2], mid)
        print("ok", mid, flush=True)
        n += 1
        if kind == "gc" and n % 5 == 0:
            gc(store)
        elif kind == "index" and n % 5 == 0:
            from gitstore_index.store_index import rebuild_index

            rebuild_index(store)
        elif kind == "rollback" and n % 2 == 0:
            from gitstore.history.rollback import rollback

            # an update nobody acknowledges, rolled back at once (to the commit before it)
            one(HOT[n % 2], f"{mid}-undone")
            rollback(store, HOT[n % 2], "HEAD~1", actor=name, reason="soak")


def run_round(path: Path, kind: str, name: str, rng: random.Random) -> list[str]:
    proc = subprocess.Popen([sys.executable, __file__, "--child", kind, str(path), name], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True, cwd=ROOT, start_new_session=True)
    time.sleep(rng.uniform(0.05, 0.6))
    os.killpg(proc.pid, signal.SIGKILL)  # the writer and the git it runs (gc), as a kill of the command
    out, _ = proc.communicate()
    return [line.split()[1] for line in out.splitlines() if line.startswith("ok ")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=1000, help="kills to make (default 1000)")
    parser.add_argument("--seconds", type=float, default=3600, help="stop after this many seconds (default 3600)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--no-search", action="store_true", help="skip the search check (the index build)")
    parser.add_argument("--kinds", default=",".join(KINDS), help=f"writer kinds to kill, in turn (default {','.join(KINDS)})")
    parser.add_argument("--child", nargs=3, metavar=("KIND", "STORE", "NAME"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    from gitstore import Store
    from gitstore.verify import verify_store

    kinds = [k for k in args.kinds.split(",") if k]
    unknown = sorted(set(kinds) - set(KINDS))
    if unknown or not kinds:
        parser.error(f"unknown kinds {unknown}: use {', '.join(KINDS)}")
    rng = random.Random(args.seed)
    started = time.monotonic()
    counts: Counter[str] = Counter()
    per_kind: Counter[str] = Counter()
    acknowledged: list[str] = []
    with tempfile.TemporaryDirectory(prefix="soak-kills-") as tmp:
        path = Path(tmp) / "store"
        hot_store(path)
        for round_no in range(args.rounds):
            if time.monotonic() - started > args.seconds:
                break
            kind = kinds[round_no % len(kinds)]
            acked = run_round(path, kind, f"w{round_no}", rng)
            acknowledged += acked
            counts["kills"] += 1
            per_kind[kind] += 1
            try:
                store = Store.open(path, fsync=False)
            except Exception:  # noqa: BLE001 - counted, the campaign goes on
                counts["open_failures"] += 1
                continue
            left = leftovers(path)
            counts["leftover_files"] += len(left)
            if left and os.environ.get("SOAK_DEBUG"):
                print("leftover after", kind, left, file=sys.stderr)
            try:
                found = Counter(message_ids(store))
            except Exception:  # noqa: BLE001 - a ticket that does not read is partial
                counts["partial_tickets"] += 1
                found = Counter()
            counts["lost"] += sum(1 for mid in acked if found[mid] == 0)
            counts["duplicated"] += sum(1 for mid in acked if found[mid] > 1)
            problems = verify_store(store, objects=False)
            counts["verify_failures"] += bool(problems)
            counts["locks_needing_a_human"] += sum("stale git lock" in p.message for p in problems)
            if not fsck_strict(path):
                counts["fsck_failures"] += 1
                if os.environ.get("SOAK_DEBUG"):
                    print("fsck after", kind, subprocess.run(["git", "-C", str(path), "fsck", "--strict"], capture_output=True,
                                                             text=True).stderr[-400:], file=sys.stderr)
            if acked and not args.no_search:
                from gitstore_index.search import search

                hits = search(store, f'"{acked[-1]}"')
                counts["search_misses"] += not hits.hits
            store.close()
        with Store.open(path, fsync=False) as store:
            final = Counter(message_ids(store))
        counts["lost_at_end"] = sum(1 for mid in acknowledged if final[mid] == 0)
    emit("kills", started, acknowledged=len(acknowledged), **{k: counts[k] for k in (
        "kills", "lost", "lost_at_end", "duplicated", "partial_tickets", "open_failures", "verify_failures", "fsck_failures",
        "search_misses", "locks_needing_a_human", "leftover_files")}, per_kind=dict(per_kind))


if __name__ == "__main__":
    main()
