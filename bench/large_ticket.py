"""Benchmark: a single update on a ticket with many messages against one with few.

Builds one store holding a small ticket (``--small`` messages, default 10) and a large
one (``--large`` messages, default 5,000), then, in one process through the Python API
(``Store.update``, as an agent process writes), appends one external message and sets
the assignee on each ticket in turn, ``--updates`` times each (interleaved, so both see
the same machine load). The small ticket is the baseline: the target is a large-ticket
p50 within 1.5x of the small one's (appending the n-th message must not re-serialise
the whole file).

Prints one JSON line: p50/p95 ms per update for each ticket, bytes of the large E file,
and the ratio. fsync off unless ``--fsync``.

Usage: python bench/large_ticket.py [--large 5000] [--small 10] [--updates 200] [--fsync]
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

from common import emit, fast_store, percentile

from gitstore import Store
from gitstore.tickets import layout


def build(path: Path, small: int, large: int) -> None:
    """Ticket 000000 gets ``small`` messages, ticket 000001 ``large`` (through the API)."""
    fast_store(path, 2, messages=0).close()
    with Store.open(path, fsync=False) as store:
        for t_no, count in (("000000", small), ("000001", large)):
            messages = [
                {"sender": "customer", "sender_id": "ana", "content": f"message {k}: the printer on floor 3 is jammed again"}
                for k in range(count)
            ]
            store.update(t_no, {"E": {"messages": messages}}, actor="bench")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=10)
    parser.add_argument("--large", type=int, default=5000)
    parser.add_argument("--updates", type=int, default=200)
    parser.add_argument("--fsync", action="store_true")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="gitstore-bench-large-"))
    try:
        path = root / "store"
        build(path, args.small, args.large)
        times: dict[str, list[float]] = {"000000": [], "000001": []}
        with Store.open(path, fsync=args.fsync) as store, store.batch(flush_interval=1.0):
            for i in range(args.updates):
                for t_no in times:
                    data = {
                        "E": {"messages": [{"sender": "cs_agent", "sender_id": "bench", "content": f"reply {i}: on it"}]},
                        "T": {"assigned_member": f"agent-{i}"},
                    }
                    t0 = time.perf_counter()
                    store.update(t_no, data, actor="bench")
                    times[t_no].append((time.perf_counter() - t0) * 1000)
            size = len(store.repo[store.head().tree[layout.ticket_path("E", "000001")].id].data)
        small, large = times["000000"], times["000001"]
        emit({
            "bench": "large_ticket", "small_messages": args.small, "large_messages": args.large,
            "updates": args.updates, "fsync": args.fsync, "large_e_bytes": size,
            "small": {"p50_ms": round(percentile(small, 50), 3), "p95_ms": round(percentile(small, 95), 3)},
            "large": {"p50_ms": round(percentile(large, 50), 3), "p95_ms": round(percentile(large, 95), 3)},
            "ratio_p50": round(percentile(large, 50) / percentile(small, 50), 2),
            "load_avg": os.getloadavg()[0],
        })
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
