"""Benchmark: every command as a new process, as a person or a script runs it.

Builds (fixed seed) the search benchmark's store — N tickets, M messages, E and I —
through the write path (``bench/search.py``'s ``build_store``), builds its search index
and brings the history log and ticket-list rows up to date (as ``gitstore import`` does
after printing its summary), then runs each command ``--repeat`` times as a fresh process and reports the median wall
time and the peak RSS (``os.wait4``'s ``ru_maxrss`` of that one process), next to the
floor measured in the same run: ``git show HEAD:<file>`` and ``git log -1`` on the same
repository (a process that reads one object). Needs GNU time (``/usr/bin/time``).

Commands: ``gitstore --help``, ``python -c 'import gitstore.store'``, ``ticket show``,
``ticket list`` (a filter, 30 rows), ``search`` (a frequent and a rare word, and as a
customer-facing actor), ``history`` of one ticket, ``log -n 20``; also ``ticket show``
the first time after a large write (1,000 new commits through the write path).

Prints one JSON line per command: ``wall_ms`` (median), ``peak_rss_mb`` (max over the
repeats), the floor's figures, ``ratio`` to the floor, and the load average.

Usage: python bench/cli.py [--tickets 20000] [--messages 100000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import emit

HERE = Path(__file__).resolve().parent
GITSTORE = [sys.executable, "-m", "gitstore_cli.main"]
TIME = shutil.which("time", path="/usr/bin:/bin") or "/usr/bin/time"
"""GNU time (Debian package ``time``): measures one process's peak RSS."""


def run_once(argv: list[str], cwd: Path) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of one new process running ``argv``.

    Run under GNU time (``/usr/bin/time -f %M``): a process forked from this large one
    would carry this one's memory into its ``ru_maxrss`` until it execs.
    """
    with tempfile.NamedTemporaryFile("r", suffix=".time") as report:
        start = time.perf_counter()
        proc = subprocess.run([TIME, "-q", "-f", "%M", "-o", report.name, *argv], cwd=cwd, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE)
        wall = time.perf_counter() - start
        if proc.returncode != 0:
            raise SystemExit(f"{' '.join(argv)} failed ({proc.returncode}): {proc.stderr.decode()[-400:]}")
        return wall, int(report.read().split()[-1]) / 1024


def measure(argv: list[str], cwd: Path, repeat: int) -> dict:
    runs = [run_once(argv, cwd) for _ in range(repeat)]
    return {"wall_ms": round(statistics.median(w for w, _ in runs) * 1000, 1), "peak_rss_mb": round(max(r for _, r in runs), 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=20000)
    parser.add_argument("--messages", type=int, default=100000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--seed", type=int, default=4)
    parser.add_argument("--workdir", default=None)
    args = parser.parse_args()
    sys.path.insert(0, str(HERE))
    from search import build_store  # the search benchmark's corpus and store

    from gitstore import Store
    from gitstore.maintenance import catch_up_derived
    from gitstore.tickets import layout
    from gitstore_index.store_index import rebuild_index

    root = Path(args.workdir or tempfile.mkdtemp(prefix="gitstore-bench-cli-"))
    try:
        path = root / "store"
        store, _corpus = build_store(path, args.tickets, args.messages, args.seed)
        rebuild_index(store)
        catch_up_derived(store)  # as `gitstore import` does after its summary: history log, list rows
        store.close()
        t_no = f"B{args.tickets // 2:06d}"
        with Store.open(path, fsync=False) as s:
            s.write_config_section("roles", {"actors": {"bob": "customer_facing"}, "default": None}, actor="bench")
        e_path = layout.ticket_path("E", t_no)
        floor_show = measure(["git", "show", f"HEAD:{e_path}"], path, args.repeat)
        floor_log = measure(["git", "log", "-1"], path, args.repeat)
        base = [*GITSTORE, "--no-pager", "--actor", "bench"]
        commands = {
            "--help": [*GITSTORE, "--help"],
            "import gitstore.store": [sys.executable, "-c", "import gitstore.store"],
            "ticket show": [*base, "ticket", "show", t_no],
            "ticket list --priority high": [*base, "ticket", "list", "--priority", "high"],
            "search refund": [*base, "search", "refund"],
            "search (rare word)": [*base, "search", "onboarding"],
            "search refund (customer_facing)": [*GITSTORE, "--no-pager", "--actor", "bob", "search", "refund"],
            "history": [*base, "history", t_no],
            "log -n 20": [*base, "log", "-n", "20"],
        }
        for name, argv in commands.items():
            got = measure(argv, path, args.repeat)
            floor = floor_log if name.startswith(("log", "history")) else floor_show
            emit({"bench": "cli", "command": name, "tickets": args.tickets, "messages": args.messages, **got,
                  "floor": floor, "ratio": round(got["wall_ms"] / floor["wall_ms"], 1),
                  "loadavg": [round(x, 2) for x in os.getloadavg()]})
        with Store.open(path, fsync=False) as s:  # a large write, then the first show after it
            for n in range(1000):
                s.add_message(f"B{n % args.tickets:06d}", "E", sender="customer", sender_id="bench",
                              content=f"follow-up {n}", actor="bench")
        got = measure([*base, "ticket", "show", f"B{(args.tickets - 1) // 3:06d}"], path, 1)
        emit({"bench": "cli", "command": "ticket show (first after 1,000 commits)", "tickets": args.tickets, **got,
              "floor": floor_show, "ratio": round(got["wall_ms"] / floor_show["wall_ms"], 1),
              "loadavg": [round(x, 2) for x in os.getloadavg()]})
    finally:
        if not args.workdir:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
