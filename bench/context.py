"""Benchmark: building an agent's context for a ticket of 5,000 messages under a
4,000-token budget, against the naive approach, measured in the same run.

Naive baseline: read the ticket's files (``Store.read``, validated models), merge the
unified timeline (``gitstore.tickets.complete.unified_timeline``) and serialise every message in
API format as JSON — what a caller does without ``build_context``.

Cases (one JSON line each): each strategy with a warm timeline cache (the same ticket
version built again, as an agent process does between changes), and ``recent`` cold
(cache cleared before every build: the first build after the ticket changed); plus the
floor of any cold build: inflating and parsing the E and I blobs alone.

Usage: python bench/context.py [--messages 5000] [--budget 4000] [--runs 30]
"""

from __future__ import annotations

import argparse
import json

import orjson
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gitstore import Store  # noqa: E402
from gitstore.agents import build_context  # noqa: E402
from gitstore.agents.timeline import clear_cache  # noqa: E402
from gitstore.tickets.complete import unified_timeline  # noqa: E402


def make_ticket(store: Store, t_no: str, count: int) -> None:
    """Create a ticket with ``count`` messages: 4/5 external, 1/5 internal."""
    start = datetime(2024, 1, 1, tzinfo=timezone.utc)
    store.create_ticket(t_no, client_name="Ana", company_name="Acme", actor="bench", timestamp=start)
    external, internal = [], []
    for i in range(count):
        when = (start + timedelta(seconds=i + 1)).isoformat()
        if i % 5 == 4:
            internal.append({"message_id": f"i{i}", "timestamp": when, "sender": "technical_member",
                             "sender_id": "ops1", "content": f"Internal note {i}: checked the print spooler and the driver logs."})
        else:
            customer = i % 2 == 0
            external.append({"message_id": f"e{i}", "timestamp": when, "sender": "customer" if customer else "cs_agent",
                             "sender_id": "ana" if customer else "bob",
                             "content": f"Message {i}: the office printer on floor 3 still shows error 0x{i:04x} after the restart."})
    store.update(t_no, {"E": {"messages": external}, "I": {"messages": internal}}, actor="bench",
                 timestamp=start + timedelta(seconds=count + 1))


def naive(store: Store, t_no: str) -> bytes:
    """Read the files and serialise every message: the baseline."""
    files = store.read(t_no)
    messages = [{"role": "user" if m["sender"] == "customer" else "system", "content": m["content"]}
                for m in unified_timeline(files)]
    return json.dumps(messages, ensure_ascii=False).encode("utf-8")


def p50(fn, runs: int) -> float:
    """Median wall time of ``fn()`` in milliseconds."""
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--budget", type=int, default=4000)
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="gitstore-bench-context-") as folder:
        store = Store.init(Path(folder) / "store", fsync=False)
        make_ticket(store, "B1", args.messages)
        build_context(store, "B1", "classifier", max_tokens=args.budget)  # load the tokenizer once
        naive(store, "B1")
        baseline = p50(lambda: naive(store, "B1"), args.runs)

        def cold():
            clear_cache()
            return build_context(store, "B1", "classifier", max_tokens=args.budget)

        cases = [("recent", "cold", cold)]
        for strategy in ("recent", "important", "summarized"):
            build_context(store, "B1", "classifier", max_tokens=args.budget, strategy=strategy)
            cases.append((strategy, "warm", lambda s=strategy: build_context(
                store, "B1", "classifier", max_tokens=args.budget, strategy=s)))
        def floor():
            """Inflate and parse the E and I blobs only: what any cold build must pay."""
            from gitstore.tickets import layout

            tree = store.head().tree
            for kind in ("E", "I"):
                orjson.loads(store.repo[tree[layout.ticket_path(kind, "B1")].id].data)

        floor_ms = p50(floor, args.runs)
        print(json.dumps({"bench": "context", "case": "floor/inflate+parse (orjson) of E and I blobs",
                          "messages": args.messages, "p50_ms": round(floor_ms, 2),
                          "baseline": "Store.read + unified_timeline + serialise all messages",
                          "baseline_p50_ms": round(baseline, 2), "runs": args.runs}), flush=True)
        for strategy, cache, fn in cases:
            figure = p50(fn, args.runs)
            ctx = fn()
            print(json.dumps({
                "bench": "context",
                "case": f"{strategy}/{cache}",
                "messages": args.messages,
                "max_tokens": args.budget,
                "context_tokens": ctx.tokens,
                "kept_messages": len(ctx.messages),
                "tokenizer": ctx.tokenizer,
                "p50_ms": round(figure, 2),
                "baseline": "Store.read + unified_timeline + serialise all messages",
                "baseline_p50_ms": round(baseline, 2),
                "speedup": round(baseline / figure, 1),
                "target": "p50 <= 20 ms and speedup >= 3",
                "runs": args.runs,
            }), flush=True)
        store.close()


if __name__ == "__main__":
    main()
