"""Benchmark: ``gitstore serve`` under 8 concurrent clients, against the CLI per command.

Builds (fixed seed) the search benchmark's corpus — N tickets, M messages, E and I —
through the write path, builds its search index, creates an API token, starts a real
``gitstore serve`` process on 127.0.0.1 and drives it with ``--clients`` threads (one
``httpx.Client`` each, keep-alive) for ``--seconds`` per operation:

- ``show``: ``GET /api/tickets/{t_no}`` (the complete context, as ``ticket show --json``);
- ``search``: ``GET /api/search?q=…`` (one word of a Zipf-like mix, top 10 with snippets);
- ``message add``: ``POST /api/tickets/{t_no}/messages`` (an external reply: one commit).

Each prints one JSON line: requests/s, p50/p95 latency in ms, errors, and the same
operation through the CLI — one new process per command (``ticket show --json``,
``search --json``, ``message add``), run serially — measured in the same run, with
the load average. Goals: show and search p50 ≤ 10 ms, message add p50 ≤ 15 ms, ≥ 500
reads/s.

Usage: python bench/serve.py [--tickets 2000] [--messages 10000] [--clients 8] [--seconds 10]
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from common import emit, percentile

HERE = Path(__file__).resolve().parent
GITSTORE = [sys.executable, "-m", "gitstore_cli.main", "--no-pager"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def drive(base: str, token: str, make_request, clients: int, seconds: float) -> dict:
    """Run ``make_request(client, rng)`` from ``clients`` threads for ``seconds``."""
    import httpx

    times: list[float] = []
    errors = [0]
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def worker(n: int) -> None:
        rng = random.Random(n)
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=30) as client:
            local = []
            while time.monotonic() < stop:
                t0 = time.perf_counter()
                response = make_request(client, rng)
                local.append((time.perf_counter() - t0) * 1000)
                if response.status_code >= 400:
                    with lock:
                        errors[0] += 1
            with lock:
                times.extend(local)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    return {"requests_per_s": round(len(times) / elapsed, 1), "p50_ms": round(percentile(times, 50), 2),
            "p95_ms": round(percentile(times, 95), 2), "requests": len(times), "errors": errors[0]}


def cli_runs(path: Path, argvs: list[list[str]]) -> dict:
    times = []
    for argv in argvs:
        t0 = time.perf_counter()
        subprocess.run([*GITSTORE, "-C", str(path), "--actor", "bench", *argv], check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
        times.append((time.perf_counter() - t0) * 1000)
    return {"p50_ms": round(percentile(times, 50), 1), "requests_per_s": round(1000 / percentile(times, 50), 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=2000)
    parser.add_argument("--messages", type=int, default=10000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--cli-runs", type=int, default=10)
    parser.add_argument("--seed", type=int, default=4)
    args = parser.parse_args()
    sys.path.insert(0, str(HERE))
    import httpx
    from search import build_store, make_queries

    from gitstore_index.store_index import rebuild_index
    from gitstore_serve.tokens import create_token

    root = Path(tempfile.mkdtemp(prefix="gitstore-bench-serve-"))
    server = None
    try:
        path = root / "store"
        store, _corpus = build_store(path, args.tickets, args.messages, args.seed)
        rebuild_index(store)
        token = create_token(store, "bench").token
        store.close()
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        server = subprocess.Popen([*GITSTORE, "-C", str(path), "serve", "--port", str(port)],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/api/tickets?limit=1", headers={"Authorization": f"Bearer {token}"}).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit("gitstore serve did not start")
            time.sleep(0.2)
        tickets = [f"B{n:06d}" for n in range(args.tickets)]
        words = [q for q in make_queries(args.seed, "mixed") if " " not in q] or ["refund"]
        ops = {
            "show": (lambda c, rng: c.get(f"/api/tickets/{rng.choice(tickets)}"),
                     [["ticket", "show", t, "--json"] for t in tickets[: args.cli_runs]]),
            "search": (lambda c, rng: c.get("/api/search", params={"q": rng.choice(words)}),
                       [["search", w, "--json"] for w in words[: args.cli_runs]]),
            "message add": (lambda c, rng: c.post(f"/api/tickets/{rng.choice(tickets)}/messages", json={
                "kind": "external", "sender": "cs_agent", "sender_id": "bench", "content": "we are on it"}),
                [["message", "add", t, "--external", "--sender", "cs_agent", "--sender-id", "bench", "on it"]
                 for t in tickets[: args.cli_runs]]),
        }
        for name, (request, cli_argvs) in ops.items():
            served = drive(base, token, request, args.clients, args.seconds)
            cli = cli_runs(path, cli_argvs)
            emit({"bench": "serve", "operation": name, "tickets": args.tickets, "messages": args.messages,
                  "clients": args.clients, "serve": served, "cli_per_command": cli,
                  "speedup_p50": round(cli["p50_ms"] / served["p50_ms"], 1) if served["p50_ms"] else None,
                  "loadavg": [round(x, 2) for x in os.getloadavg()]})
    finally:
        if server is not None:
            os.killpg(server.pid, 15)
            server.wait(timeout=30)
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
