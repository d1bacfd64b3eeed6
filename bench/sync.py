"""Benchmark: ``pull`` with the semantic merge against plain ``git fetch`` + ``git merge``.

Setup (not timed): a base store of ``--base`` tickets (one commit), cloned into sites A
and B. Each site then makes ``--tickets`` synchronized updates through the write path
(one commit each): ``--shared`` tickets are updated on both sides (a new external
message each, and a different ``assigned_member``: one field conflict per ticket), the
rest on one side only (a new external message).

Timed, on copies of site B taken before any pull, so every run merges the same
histories:

1. ``gitstore pull A`` through the Python API (fetch + semantic merge + one merge
   commit + working tree and ``.git/index`` caught up);
2. the same through the CLI (``gitstore pull``: a new process, as a person runs it);
3. baseline: ``git fetch A main`` + ``git merge FETCH_HEAD`` with git's own text merge
   (the gitstore merge driver unset) — it leaves conflicts, which are counted.

Prints one JSON line per gitstore measurement with the baseline's figure from the same
run, their ratio, the conflicts each left, and whether the merged store verifies.

Usage: python bench/sync.py [--tickets 1000] [--shared 100] [--base 2000]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from common import BASE_TIME, emit, fast_store, git

from gitstore import Store
from gitstore.verify import verify_store
from sync.clone import clone
from sync.pull import pull
from sync.setup import register_merge_driver


def diverge(path: Path, tickets: list[str], shared: set[str], site: str, offset: int) -> None:
    """Make one synchronized update per ticket at a site (one commit each)."""
    store = Store.open(path, fsync=False)
    with store.batch():
        for n, t_no in enumerate(tickets):
            when = BASE_TIME + timedelta(days=1, seconds=offset + n)
            data = {"E": {"messages": [{"sender": "cs_agent", "sender_id": site, "content": f"{site} reply on {t_no}"}]}}
            if t_no in shared:
                data["T"] = {"assigned_member": f"agent-{site}"}
            store.update(t_no, data, actor=f"site-{site}", timestamp=when)
    store.close()


def unmerged(path: Path) -> int:
    out = git(path, "diff", "--name-only", "--diff-filter=U")
    return len([line for line in out.splitlines() if line.strip()])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=1000, help="tickets updated on each side")
    parser.add_argument("--shared", type=int, default=100, help="of which updated on both sides")
    parser.add_argument("--base", type=int, default=2000, help="tickets in the common base")
    args = parser.parse_args()
    own = args.tickets - args.shared
    if args.base < args.shared + 2 * own:
        parser.error("--base must hold shared + both sides' own tickets")
    work = Path(tempfile.mkdtemp(prefix="gitstore-bench-sync-"))
    try:
        fast_store(work / "base", args.base, messages=1).close()
        register_merge_driver(Store.open(work / "base", fsync=False).repo)
        names = [f"{n:06d}" for n in range(args.base)]
        shared = names[: args.shared]
        a_tickets = shared + names[args.shared : args.shared + own]
        b_tickets = shared + names[args.shared + own : args.shared + 2 * own]
        for site in ("a", "b"):
            clone(str(work / "base"), work / site, fsync=False)[0].close()
        diverge(work / "a", a_tickets, set(shared), "a", 0)
        diverge(work / "b", b_tickets, set(shared), "b", 7)  # B is newer: it wins conflicts
        for copy in ("b-api", "b-cli", "b-git"):
            shutil.copytree(work / "b", work / copy, symlinks=True)

        git(work / "b-git", "config", "--remove-section", "merge.gitstore")
        start = time.perf_counter()
        git(work / "b-git", "fetch", "-q", str(work / "a"), "main")
        proc = subprocess.run(
            ["git", "-C", str(work / "b-git"), "merge", "--no-edit", "-q", "FETCH_HEAD"],
            capture_output=True, text=True,
        )
        git_seconds = time.perf_counter() - start
        if proc.returncode not in (0, 1):
            raise RuntimeError(f"git merge failed: {proc.stderr}")
        git_conflicts = unmerged(work / "b-git") if proc.returncode else 0

        store = Store.open(work / "b-api", fsync=False)
        start = time.perf_counter()
        result = pull(store, str(work / "a"), actor="bench")
        api_seconds = time.perf_counter() - start
        store.close()
        merged = sum(1 for t in result.tickets if t.status == "merged")
        problems = verify_store(Store.open(work / "b-api", fsync=False), objects=False)

        gitstore_bin = Path(sys.executable).parent / "gitstore"
        start = time.perf_counter()
        cli = subprocess.run(
            [str(gitstore_bin), "-C", str(work / "b-cli"), "--no-fsync", "--actor", "bench", "pull", str(work / "a")],
            capture_output=True, text=True,
        )
        cli_seconds = time.perf_counter() - start
        if cli.returncode:
            raise RuntimeError(f"gitstore pull failed: {cli.stderr}")
        same_tree = git(work / "b-api", "rev-parse", "HEAD^{tree}") == git(work / "b-cli", "rev-parse", "HEAD^{tree}")

        common = {
            "tickets_each_side": args.tickets,
            "shared_tickets": args.shared,
            "base_tickets": args.base,
            "tickets_changed_by_pull": len(result.tickets),
            "tickets_merged": merged,
            "field_conflicts_resolved": len(result.lost),
            "conflicts_left": 0,
            "verify_problems": len(problems),
            "baseline": "git fetch + git merge (text merge, no driver)",
            "baseline_seconds": round(git_seconds, 3),
            "baseline_conflicts_left": git_conflicts,
            "target_seconds": 10.0,
            "target_ratio": 3.0,
        }
        emit({"bench": "sync.pull.api", "seconds": round(api_seconds, 3), **common,
              "ratio_to_baseline": round(api_seconds / git_seconds, 2)})
        emit({"bench": "sync.pull.cli", "seconds": round(cli_seconds, 3), **common,
              "ratio_to_baseline": round(cli_seconds / git_seconds, 2), "same_tree_as_api": same_tree})
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
