"""Benchmark: ``gitstore ticket list`` on a store of 20,000 tickets, each figure against
a baseline measured in the same run.

The store is built in one commit (``common.fast_store``: valid tickets, 3 messages each,
fsync off). Figures, one JSON line each:

- ``list_first``: the first ``list_ticket_rows`` call, which builds
  ``.git/gitstore/listing.sqlite`` from the tree, against ``read_all``: reading every
  ticket's three files with ``Store.read`` and sorting by last update (what listing costs
  on every call without the derived rows);
- ``list_warm``: p50/p95 of the default call (newest 30 rows) and of a filtered one,
  the rows up to date, against ``read_all``;
- ``list_after_update``: one synchronized update then the listing (its catch-up reads
  only the changed ticket), against ``list_first`` (a full rebuild);
- ``cli``: wall time of ``gitstore ticket list`` (and ``--json --all``) as a child
  process, against ``gitstore ticket path 1`` (interpreter and CLI start-up alone, no
  store opened). The target is under 300 ms for ``ticket list``.

Usage: python bench/ticket_list.py [--tickets 20000] [--runs 20] [--store PATH]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import fast_store, percentile  # noqa: E402
from gitstore import Store  # noqa: E402
from gitstore.listing import FILE_NAME, list_ticket_rows  # noqa: E402

GITSTORE = str(Path(sys.executable).with_name("gitstore"))


def emit(record: dict) -> None:
    """Print one JSON line."""
    print(json.dumps(record), flush=True)


def ms(seconds: float) -> float:
    return round(seconds * 1000, 2)


def timed(function, runs: int) -> list[float]:
    values = []
    for _ in range(runs):
        start = time.perf_counter()
        function()
        values.append(time.perf_counter() - start)
    return values


def read_all(store: Store) -> list[str]:
    """The baseline: read every ticket's files and sort by the last update, newest first."""
    found = []
    for t_no in store.list_tickets(archived=False):
        files = store.read(t_no)
        found.append((files.workflow.last_synchronized, t_no))
    found.sort(reverse=True)
    return [t_no for _when, t_no in found[:30]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--store", type=Path, help="Build the store here (kept), instead of a temporary folder.")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        path = args.store or Path(scratch) / "store"
        started = time.perf_counter()
        store = fast_store(path, args.tickets, messages=3, checkout=False)
        base = {"bench": "ticket_list", "tickets": args.tickets}
        emit({**base, "setup": "store built", "seconds": round(time.perf_counter() - started, 1)})

        baseline = timed(lambda: read_all(store), max(1, min(args.runs, 3)))
        read_all_ms = ms(statistics.median(baseline))
        (Path(store.state_dir) / FILE_NAME).unlink(missing_ok=True)
        first = timed(lambda: list_ticket_rows(store, limit=30), 1)[0]
        emit({**base, "figure": "list_first", "ms": ms(first), "baseline": "read_all", "baseline_ms": read_all_ms})

        for name, options in (("default", {}), ("filtered", {"priority": "HIGH", "stage": "trigger", "company": "company 5"})):
            warm = timed(lambda: list_ticket_rows(store, limit=30, **options), args.runs)
            emit({**base, "figure": "list_warm", "case": name, "p50_ms": ms(statistics.median(warm)),
                  "p95_ms": ms(percentile(warm, 95)), "baseline": "read_all", "baseline_ms": read_all_ms})

        after = []
        for n in range(max(1, args.runs // 2)):
            store.set_state(f"{n:06d}", {"priority": "HIGH"}, actor="bench")
            after += timed(lambda: list_ticket_rows(store, limit=30), 1)
        emit({**base, "figure": "list_after_update", "p50_ms": ms(statistics.median(after)),
              "baseline": "list_first", "baseline_ms": ms(first)})
        store.close()

        def child(*argv: str) -> float:
            start = time.perf_counter()
            subprocess.run([GITSTORE, "-C", str(path), *argv], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            return time.perf_counter() - start

        floor = [child("ticket", "path", "1") for _ in range(5)]
        for argv in (("ticket", "list"), ("ticket", "list", "--json", "--all")):
            wall = [child(*argv) for _ in range(5)]
            emit({**base, "figure": "cli", "command": "gitstore " + " ".join(argv), "p50_ms": ms(statistics.median(wall)),
                  "baseline": "gitstore ticket path 1", "baseline_ms": ms(statistics.median(floor))})


if __name__ == "__main__":
    main()
