"""Benchmark: history, time-travel and audit on a large store.

Builds (or reuses, with ``--store PATH``) a bare store of 100,000 commits over 10,000
tickets through the real write path (``Store.batch()``, fsync off): one commit per
ticket creation, then updates spread at random over the tickets (external and internal
messages, progress updates, workflow fields), each with its own author date, 30 s
apart from 2026-01-01. Then measures, in one run, each against a baseline taken in the
same run:

- ``history_index_build``: first catch-up of the per-ticket log over the whole store,
  against ``git log --raw`` (git's own full walk with tree diffs);
- ``history``: p50/p95 of ``ticket_history`` over 50 tickets, against
  ``git log --format=%H -- <the ticket's three paths>`` without a commit-graph;
- ``show_at_date``: p50 of ``Store.context(t_no, at=DATE)`` with DATE between the
  ticket's commits, against resolving the date by the first-parent walk
  (``revisions.commit_at``) and reading the ticket there (what the store did before);
- ``log_since``: ``audit_log(since=…)`` of the last 1,000 commits, against
  ``git log -n 1000 --format=%H%n%(trailers)``;
- ``peak_memory``: peak RSS of each command run as ``gitstore …`` in a child process,
  against ``gitstore ticket path`` (the interpreter and CLI alone);
- ``history_git_commit_graph``: ``git log -- <paths>`` after ``gitstore gc`` wrote a
  commit-graph with changed-path Bloom filters (for people using plain git).

Prints one JSON line per measurement. Usage:
``python bench/history.py [--tickets 10000] [--commits 100000] [--store PATH] [--build-only]``
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gitstore import Store
from gitstore.tickets import layout  # noqa: E402
from gitstore.objects.revisions import commit_at  # noqa: E402

BASE_TIME = datetime(2026, 1, 1, tzinfo=timezone.utc)
STEP = timedelta(seconds=30)
GITSTORE = str(Path(sys.executable).with_name("gitstore"))


def emit(record: dict) -> None:
    """Print one JSON line."""
    print(json.dumps(record), flush=True)


def p(values: list[float], q: int) -> float:
    """Return the q-th percentile (inclusive method), in the values' unit."""
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def t_no_of(n: int) -> str:
    return f"H{n:05d}"


REPACK_EVERY = 5_000
"""Commits between two ``git repack -a -d`` while building (see ``build``)."""


def build(path: Path, tickets: int, commits: int, seed: int = 3, repack_every: int = REPACK_EVERY) -> dict:
    """Create the bench store through the write path; return build figures.

    Every ``repack_every`` commits the batch ends, ``git repack -a -d`` merges the write
    path's small packs into one (no commit-graph is written: the naive baseline must
    run without one) and the store is opened again (libgit2 keeps the packs it knew
    open and searched even after they were deleted). At this scale the build otherwise
    slows down on hundreds of packs and runs out of file handles. A store left half
    built (no ``bench-built.json``) is resumed from its last commit.
    """
    import pygit2

    pygit2.settings.mwindow_file_limit = 256
    if (path / "HEAD").exists():
        store = Store.open(path, fsync=False)
        done = int(git(path, "rev-list", "--count", "refs/heads/main")) - 1
    else:
        store = Store.init(path, bare=True, fsync=False)
        done = 0
    rng = random.Random(seed + done)
    start = time.perf_counter()
    repack_seconds = 0.0

    def repack() -> float:
        t0 = time.perf_counter()
        git(path, "repack", "-a", "-d", "-q", "--window=0")
        return time.perf_counter() - t0

    for first in range(done, commits, repack_every):
        with store.batch():
            _build_part(store, rng, tickets, first, min(commits, first + repack_every))
        repack_seconds += repack()
        store = Store.open(path, fsync=False)
    seconds = time.perf_counter() - start
    (path / "gitstore" / "bench-built.json").write_text(json.dumps({"tickets": tickets, "commits": commits}))
    return {"bench": "history_build", "commits": commits, "tickets": tickets, "resumed_from": done,
            "seconds": round(seconds, 1), "commits_per_s": round((commits - done) / seconds, 1),
            "repack_seconds": round(repack_seconds, 1)}


def _build_part(store: Store, rng: random.Random, tickets: int, first: int, last: int) -> None:
    for n in range(first, min(last, tickets)):
        store.create_ticket(
            t_no_of(n), client_name=f"client {n}", company_name=f"company {n % 97}",
            actor=f"agent-{n % 13}", timestamp=BASE_TIME + STEP * n,
        )
    for i in range(max(first, tickets), last):
        t_no = t_no_of(rng.randrange(tickets))
        when = BASE_TIME + STEP * i
        op = i % 4
        if op == 0:
            data = {"E": {"messages": [{"sender": rng.choice(["customer", "cs_agent"]), "sender_id": f"u{i % 50}",
                                        "content": f"external message {i}: the printer is jammed again"}]}}
        elif op == 1:
            data = {"I": {"messages": [{"sender": "technical_member", "sender_id": f"tech{i % 9}",
                                        "content": f"internal note {i}: checked the spooler", "message_type": "update"}]}}
        elif op == 2:
            data = {"I": {"progress_updates": [{"updater": f"tech{i % 9}", "status": rng.choice(["assigned", "in_progress", "blocked"]),
                                                "notes": f"step {i}"}]}}
        else:
            data = {"T": {"priority": rng.choice(["HIGH", "LOW"]), "assigned_member": f"agent-{i % 17}",
                          "workflow_stage": rng.choice(["classifier", "selection", "action"])}}
        try:
            store.update(t_no, data, actor=f"agent-{i % 13}", timestamp=when)
        except Exception as exc:  # "changes nothing" when the same state is drawn twice
            if "changes nothing" not in str(exc):
                raise
            store.update(t_no, {"T": {"assigned_member": f"agent-x{i}"}}, actor="bench", timestamp=when)


def timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return (time.perf_counter() - t0) * 1000


def git(path: Path, *args: str) -> str:
    proc = subprocess.run(["git", "-C", str(path), *args], capture_output=True, text=True)
    if proc.returncode:
        raise RuntimeError(f"git {' '.join(args)}: {proc.stderr}")
    return proc.stdout


def peak_rss_mb(args: list[str]) -> float:
    """Run a command; return its peak resident memory in MB.

    Measured by ``/usr/bin/time -f %M``: on Linux a child's ``ru_maxrss`` keeps the RSS
    its parent had when it forked, so the command must be forked from a small process,
    not from this (large) benchmark process.
    """
    with tempfile.NamedTemporaryFile("r", suffix=".rss") as out:
        proc = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", out.name, *args],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        if proc.returncode:
            raise RuntimeError(f"{' '.join(args)} failed: {proc.stderr}")
        return round(int(out.read().split()[-1]) / 1024, 1)


def measure(path: Path, tickets: int, seed: int = 5) -> None:
    from gitstore.history.audit import audit_log
    from gitstore.history.log import for_store, ticket_history

    rng = random.Random(seed)
    store = Store.open(path, fsync=False)
    index = for_store(store)
    commits = int(git(path, "rev-list", "--count", "refs/heads/main"))

    build_ms = timed(lambda: index.refresh(rebuild=True))
    git_ms = timed(lambda: git(path, "log", "--raw", "--no-renames", "--format=%H", "refs/heads/main"))
    emit({"bench": "history_index_build", "commits": commits, "seconds": round(build_ms / 1000, 2),
          "baseline": "git log --raw (full walk with tree diffs)", "baseline_seconds": round(git_ms / 1000, 2)})

    sample = [t_no_of(rng.randrange(tickets)) for _ in range(50)]
    ours, naive = [], []
    for t_no in sample:
        ours.append(timed(lambda: ticket_history(store, t_no)))
    # a store reused from an earlier run has the commit-graph its final gc wrote: drop it
    (path / "objects" / "info" / "commit-graph").unlink(missing_ok=True)
    shutil.rmtree(path / "objects" / "info" / "commit-graphs", ignore_errors=True)
    for t_no in sample:
        paths = list(layout.ticket_paths(t_no).values())
        naive.append(timed(lambda: git(path, "log", "--format=%H", "refs/heads/main", "--", *paths)))
    # same answer as git, for the record
    t_no = sample[0]
    expected = git(path, "log", "--format=%H", "refs/heads/main", "--", *layout.ticket_paths(t_no).values()).split()
    agree = [e.commit for e in ticket_history(store, t_no)] == expected
    git_naive = list(naive)
    emit({"bench": "history", "commits": commits, "tickets": tickets, "samples": len(sample),
          "p50_ms": round(p(ours, 50), 2), "p95_ms": round(p(ours, 95), 2),
          "baseline": "git log --format=%H -- <3 paths>, no commit-graph",
          "baseline_p50_ms": round(p(naive, 50), 1), "speedup_p50": round(p(naive, 50) / p(ours, 50), 1),
          "same_commits_as_git": agree, "target_p50_ms": 100})

    ours, naive = [], []
    for t_no in sample:
        entries = ticket_history(store, t_no)
        if len(entries) >= 2:
            a, b = entries[-1].time, entries[0].time
            when = a + (b - a) / 2
        else:
            when = entries[0].time + timedelta(seconds=1)
        date = when.strftime("%Y-%m-%dT%H:%M:%SZ")
        ours.append(timed(lambda: store.context(t_no, at=date)))

        def old_way():
            from gitstore.objects.revisions import parse_date

            commit = commit_at(store.head(), parse_date(date), date)
            store.read(t_no, at=commit)

        naive.append(timed(old_way))
    emit({"bench": "show_at_date", "commits": commits, "samples": len(sample),
          "p50_ms": round(p(ours, 50), 2), "p95_ms": round(p(ours, 95), 2),
          "baseline": "first-parent walk to the date (revisions.commit_at) + read",
          "baseline_p50_ms": round(p(naive, 50), 1), "target_p50_ms": 50})

    thousandth = git(path, "log", "-n", "1", "--skip", "999", "--format=%aI", "refs/heads/main").strip()
    rows = []
    ours_ms = timed(lambda: rows.extend(audit_log(store, since=thousandth)))
    naive_ms = timed(lambda: git(path, "log", "-n", "1000", "--format=%H%n%(trailers)", "refs/heads/main"))
    emit({"bench": "log_since", "commits": commits, "entries": len(rows), "ms": round(ours_ms, 1),
          "baseline": "git log -n 1000 --format=%H%n%(trailers)", "baseline_ms": round(naive_ms, 1)})

    t_no = sample[1]
    base = peak_rss_mb([GITSTORE, "-C", str(path), "ticket", "path", t_no])
    for name, args in [
        ("history", ["history", t_no, "--json"]),
        ("show_at_date", ["ticket", "show", t_no, "--at", thousandth, "--json"]),
        ("log_since", ["log", "--since", thousandth, "--json"]),
        ("log_all", ["log", "--json"]),
        ("blame", ["blame", t_no, "--external", "--json"]),
        ("diff", ["diff", t_no, "--json"]),
    ]:
        emit({"bench": "peak_memory", "command": name, "commits": commits,
              "peak_mb": peak_rss_mb([GITSTORE, "-C", str(path), *args]),
              "baseline": "gitstore ticket path (interpreter + CLI)", "baseline_peak_mb": base, "target_mb": 200})

    gc_ms = timed(lambda: subprocess.run([GITSTORE, "-C", str(path), "gc", "--json"], check=True, capture_output=True))
    graph = []
    for t_no in sample[:20]:
        paths = list(layout.ticket_paths(t_no).values())
        graph.append(timed(lambda: git(path, "log", "--format=%H", "refs/heads/main", "--", *paths)))
    emit({"bench": "history_git_commit_graph", "commits": commits, "gc_seconds": round(gc_ms / 1000, 1),
          "git_log_paths_p50_ms": round(p(graph, 50), 1), "baseline": "same 20 tickets without commit-graph",
          "baseline_p50_ms": round(p(git_naive[:20], 50), 1)})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=10_000)
    parser.add_argument("--commits", type=int, default=100_000)
    parser.add_argument("--store", type=Path, help="build here, or reuse a store built here before")
    parser.add_argument("--build-only", action="store_true")
    parser.add_argument("--repack-every", type=int, default=REPACK_EVERY, help="commits between repacks while building")
    args = parser.parse_args()
    temp = None
    path = args.store
    if path is None:
        temp = Path(tempfile.mkdtemp(prefix="gitstore-bench-history-"))
        path = temp / "store"
    try:
        marker = path / "gitstore" / "bench-built.json"
        if marker.exists() and json.loads(marker.read_text()) == {"tickets": args.tickets, "commits": args.commits}:
            emit({"bench": "history_build", "reused": str(path), "commits": args.commits, "tickets": args.tickets})
        else:
            if path.exists() and not (path / "HEAD").exists():
                shutil.rmtree(path)
            emit(build(path, args.tickets, args.commits, repack_every=args.repack_every))
        if not args.build_only:
            measure(path, args.tickets)
    finally:
        if temp is not None:
            shutil.rmtree(temp, ignore_errors=True)


if __name__ == "__main__":
    main()
