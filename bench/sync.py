"""Benchmark: ``pull`` with the semantic merge against plain ``git fetch`` + ``git merge``.

Setup (not timed): a base store of ``--base`` tickets (one commit), cloned into sites A
and B. Each site then makes ``--tickets`` synchronized updates through the write path
(one commit each): ``--shared`` tickets are updated on both sides (a new external
message each, and a different ``assigned_member``: one field conflict per ticket), the
rest on one side only (a new external message).

Timed, on fresh copies of site B taken before any pull, so every run merges the same
histories; ``--repeat`` runs of each, interleaved, medians reported (wall and CPU
seconds: the machine may be shared, and CPU time is less sensitive to other load):

1. ``gitstore pull A`` through the Python API (fetch + semantic merge + one merge
   commit + working tree and ``.git/index`` caught up);
2. the same through the CLI (``gitstore pull``: a new process, as a person runs it);
3. baseline: ``git fetch A main`` + ``git merge FETCH_HEAD`` with git's own text merge
   (the gitstore merge driver unset) — it leaves conflicts, which are counted.

Prints one JSON line per gitstore measurement with the baseline's figure from the same
run, their ratio, the conflicts each left, and whether the merged store verifies.

Usage: python bench/sync.py [--tickets 1000] [--shared 100] [--base 2000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from common import BASE_TIME, emit, fast_store, git

from gitstore import Store
from gitstore.verify import verify_store
from gitstore_sync.clone import clone
from gitstore_sync.pull import pull
from gitstore_sync.setup import register_merge_driver


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


def cpu_children() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_git(work: Path, copy: Path) -> dict:
    """The baseline: plain git fetch + merge with git's text merge (driver removed)."""
    git(copy, "config", "--remove-section", "merge.gitstore")
    os.sync()  # each timed run starts with no dirty pages left by the setup
    cpu, start = cpu_children(), time.perf_counter()
    git(copy, "fetch", "-q", str(work / "a"), "main")
    proc = subprocess.run(["git", "-C", str(copy), "merge", "--no-edit", "-q", "FETCH_HEAD"], capture_output=True, text=True)
    seconds, cpu = time.perf_counter() - start, cpu_children() - cpu
    if proc.returncode not in (0, 1):
        raise RuntimeError(f"git merge failed: {proc.stderr}")
    return {"seconds": seconds, "cpu": cpu, "conflicts": unmerged(copy) if proc.returncode else 0}


def run_api(work: Path, copy: Path) -> dict:
    store = Store.open(copy, fsync=False)
    os.sync()
    cpu, start = time.process_time(), time.perf_counter()
    result = pull(store, str(work / "a"), actor="bench")
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    store.close()
    problems = verify_store(Store.open(copy, fsync=False), objects=False)
    return {"seconds": seconds, "cpu": cpu, "result": result, "problems": len(problems)}


def run_cli(work: Path, copy: Path) -> dict:
    gitstore_bin = Path(sys.executable).parent / "gitstore"
    os.sync()
    cpu, start = cpu_children(), time.perf_counter()
    proc = subprocess.run(
        [str(gitstore_bin), "-C", str(copy), "--no-fsync", "--actor", "bench", "pull", str(work / "a")],
        capture_output=True, text=True,
    )
    seconds, cpu = time.perf_counter() - start, cpu_children() - cpu
    if proc.returncode:
        raise RuntimeError(f"gitstore pull failed: {proc.stderr}")
    return {"seconds": seconds, "cpu": cpu}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=1000, help="tickets updated on each side")
    parser.add_argument("--shared", type=int, default=100, help="of which updated on both sides")
    parser.add_argument("--base", type=int, default=2000, help="tickets in the common base")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs of each; the median is reported")
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

        runs: dict[str, list[dict]] = {"git": [], "api": [], "cli": []}
        trees = set()
        for rep in range(args.repeat):  # interleaved, so load changes hit all three alike
            for kind, run in (("git", run_git), ("api", run_api), ("cli", run_cli)):
                copy = work / f"b-{kind}-{rep}"
                shutil.copytree(work / "b", copy, symlinks=True)
                runs[kind].append(run(work, copy))
                if kind != "git":
                    trees.add(git(copy, "rev-parse", "HEAD^{tree}"))
                shutil.rmtree(copy, ignore_errors=True)

        def median(kind: str, key: str) -> float:
            return statistics.median(r[key] for r in runs[kind])

        result = runs["api"][0]["result"]
        git_seconds, git_cpu = median("git", "seconds"), median("git", "cpu")
        common = {
            "tickets_each_side": args.tickets,
            "shared_tickets": args.shared,
            "base_tickets": args.base,
            "runs": args.repeat,
            "tickets_changed_by_pull": len(result.tickets),
            "tickets_merged": sum(1 for t in result.tickets if t.status == "merged"),
            "field_conflicts_resolved": len(result.lost),
            "conflicts_left": 0,
            "verify_problems": max(r["problems"] for r in runs["api"]),
            "same_tree_every_run": len(trees) == 1,
            "baseline": "git fetch + git merge (text merge, no driver)",
            "baseline_seconds": round(git_seconds, 3),
            "baseline_cpu_seconds": round(git_cpu, 3),
            "baseline_conflicts_left": runs["git"][0]["conflicts"],
            "target_seconds": 10.0,
            "target_ratio": 3.0,
        }
        for kind in ("api", "cli"):
            seconds, cpu = median(kind, "seconds"), median(kind, "cpu")
            emit({"bench": f"sync.pull.{kind}", "seconds": round(seconds, 3), "cpu_seconds": round(cpu, 3),
                  "all_seconds": [round(r["seconds"], 3) for r in runs[kind]], **common,
                  "all_baseline_seconds": [round(r["seconds"], 3) for r in runs["git"]],
                  "ratio_to_baseline": round(seconds / git_seconds, 2),
                  "cpu_ratio_to_baseline": round(cpu / git_cpu, 2)})
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
