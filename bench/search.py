"""Benchmark: search.

Builds a reproducible corpus (fixed seed) of M messages over N tickets (default 100,000
over 20,000) in a real store — every ticket created with its messages through
``Store.create_ticket`` inside ``Store.batch()`` with fsync off — and measures in one
run, each figure next to its baseline measured in the same run:

- index build: messages/s and index size, against SQLite FTS5 (stdlib) on the same
  messages;
- query p50/p95 over 200 mixed one- and two-word queries (top-10 hits with
  highlighted snippets, warm searcher, customer-facing role; and again with exact
  counts and facets), for two query mixes (``make_queries``), against ``grep -rliw`` over the ticket files
  (first word only: grep does less work than the index) and against FTS5 (same
  queries, ``ORDER BY rank LIMIT 10`` with ``snippet()``);
- freshness: time from a committed update to the moment search finds it, in process
  (the index subscribed to the store) and through ``gitstore watch`` (a separate
  process; the searcher here never catches up by itself);
- catching up 1,000 commits when the index is opened, against a full rebuild.

Vocabulary: words of the real Twitter customer-care messages (tests/data extract, or
the full set when ../shared is present), drawn with a Zipf-like law so frequent and
rare words both occur. Prints one JSON line per measurement.

Usage: python bench/search.py [--tickets 20000] [--messages 100000] [--seed 4]
"""

from __future__ import annotations

import argparse
import json
import random
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from datetime import timedelta
from pathlib import Path

from common import BASE_TIME, ROOT, emit, percentile

from gitstore import Store

SAMPLE = ROOT / "tests" / "data" / "twitter_care_sample.json"
FULL = ROOT.parent / "shared" / "data" / "twitter_customer_care_ibm" / "dev.json"
QUERIES = 200
FRESHNESS_SAMPLES = 20
CATCH_UP_COMMITS = 1000


def vocabulary() -> list[str]:
    """Distinct lowercase words (3–15 letters) of the real conversations, most frequent first."""
    source = FULL if FULL.exists() else SAMPLE
    counts: dict[str, int] = {}
    for record in json.loads(source.read_text(encoding="utf-8")):
        for turn in record["dialogContent"]:
            for word in re.findall(r"[a-z]{3,15}", turn["message"].lower()):
                counts[word] = counts.get(word, 0) + 1
    return sorted(counts, key=lambda w: (-counts[w], w))


def zipf_picker(words: list[str], rng: random.Random):
    """Return ``pick(k)``: k words drawn with weight 1/rank (Zipf-like)."""
    weights = [1.0 / (rank + 1) for rank in range(len(words))]
    cumulative, total = [], 0.0
    for w in weights:
        total += w
        cumulative.append(total)

    def pick(k: int) -> list[str]:
        return rng.choices(words, cum_weights=cumulative, k=k)

    return pick


def build_store(path: Path, n_tickets: int, n_messages: int, seed: int) -> tuple[Store, list[tuple[str, str, str]]]:
    """Create the store; returns it and every message as (t_no, kind, text)."""
    rng = random.Random(seed)
    pick = zipf_picker(vocabulary(), rng)
    per_ticket = [n_messages // n_tickets] * n_tickets
    for extra in range(n_messages - sum(per_ticket)):
        per_ticket[extra] += 1
    store = Store.init(path, fsync=False)
    corpus = []
    with store.batch():
        for n in range(n_tickets):
            t_no = f"B{n:06d}"
            when = BASE_TIME + timedelta(minutes=n)
            update = {"E": {"messages": []}, "I": {"messages": []}}
            for k in range(per_ticket[n]):
                kind = "I" if rng.random() < 0.3 else "E"
                text = " ".join(pick(rng.randint(6, 30)))
                message = {"timestamp": (when + timedelta(seconds=k)).isoformat(), "content": text,
                           "sender_id": f"user{rng.randint(1, 5000)}"}
                message["sender"] = "technical_member" if kind == "I" else rng.choice(["customer", "cs_agent"])
                update[kind]["messages"].append(message)
                corpus.append((t_no, kind, text))
            store.create_ticket(t_no, client_name=f"client {n}", company_name=f"company {n % 97}", actor="bench",
                                timestamp=when, update_data=update, priority=rng.choice(["HIGH", "LOW"]))
    return store, corpus


def make_queries(seed: int, mix: str) -> list[str]:
    """Return 200 queries, alternately one and two words (stop words left out).

    ``mix="mixed"``: words drawn uniformly from frequency ranks 20–2,000 of the
    vocabulary (common and rare words alike, as people search for distinctive words);
    ``mix="head"``: words drawn by a Zipf law over the 3,000 most frequent words, so
    most queries hit very frequent words (the index's worst case: many matches).
    """
    from whoosh.analysis import STOP_WORDS

    rng = random.Random(seed + (1 if mix == "head" else 7))
    words = [w for w in vocabulary() if w not in STOP_WORDS]
    if mix == "head":
        pick = zipf_picker(words[:3000], rng)
    else:
        pool = words[20:2000]

        def pick(k: int) -> list[str]:
            return rng.sample(pool, k)

    return [" ".join(pick(1 if n % 2 == 0 else 2)) for n in range(QUERIES)]


def time_queries(run, queries: list[str]) -> list[float]:
    """Run each query once; return the times in milliseconds."""
    times = []
    for query in queries:
        start = time.perf_counter()
        run(query)
        times.append((time.perf_counter() - start) * 1000)
    return times


def fts5_build(corpus, folder: Path):
    """Build the SQLite FTS5 baseline (porter stemming); return (db, seconds, bytes)."""
    db = sqlite3.connect(str(folder / "fts.sqlite"))
    db.execute("CREATE VIRTUAL TABLE docs USING fts5(t_no UNINDEXED, kind UNINDEXED, content, tokenize='porter')")
    start = time.perf_counter()
    db.executemany("INSERT INTO docs VALUES (?, ?, ?)", corpus)
    db.commit()
    seconds = time.perf_counter() - start
    return db, seconds, (folder / "fts.sqlite").stat().st_size


def main() -> None:
    """Run every measurement once and print one JSON line each."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=20000)
    parser.add_argument("--messages", type=int, default=100000)
    parser.add_argument("--seed", type=int, default=4)
    parser.add_argument("--role", default="customer_facing", choices=["customer_facing", "internal", "admin"],
                        help="the role queries run as (internal: a key holder on an encrypted store)")
    parser.add_argument("--keep", metavar="DIR", help="Build the store in DIR and keep it; reuse it when it is there.")
    args = parser.parse_args()

    from gitstore_index.search import run_search
    from gitstore_index.store_index import SearchIndex, index_status
    from gitstore_index.subscriber import subscribe_index

    work = Path(tempfile.mkdtemp(prefix="gitstore-bench-search-"))
    try:
        start = time.perf_counter()
        kept = Path(args.keep) / f"search-{args.tickets}-{args.messages}-{args.seed}" if args.keep else None
        if kept is not None and (kept / "corpus.json").exists():
            shutil.copytree(kept / "store", work / "store", symlinks=True)
            corpus = [tuple(c) for c in json.loads((kept / "corpus.json").read_text())]
            store = Store.open(work / "store", fsync=False)
            shutil.rmtree(store.state_dir / "index", ignore_errors=True)
        else:
            store, corpus = build_store(work / "store", args.tickets, args.messages, args.seed)
            if kept is not None:
                shutil.copytree(work / "store", kept / "store", symlinks=True)
                (kept / "corpus.json").write_text(json.dumps(corpus))
        store.close()
        emit({"bench": "search", "measure": "store_build", "tickets": args.tickets, "messages": len(corpus),
              "seconds": round(time.perf_counter() - start, 1)})

        # -- index build against FTS5
        start = time.perf_counter()
        index = SearchIndex.open(store)
        build_s = time.perf_counter() - start
        status = index_status(store)
        db, fts_s, fts_bytes = fts5_build(corpus, work)
        emit({"bench": "search", "measure": "index_build", "messages": len(corpus), "documents": status.documents,
              "seconds": round(build_s, 1), "messages_per_s": round(len(corpus) / build_s),
              "index_bytes": status.size_bytes,
              "baseline": "sqlite_fts5", "baseline_seconds": round(fts_s, 1),
              "baseline_messages_per_s": round(len(corpus) / fts_s), "baseline_bytes": fts_bytes})

        # -- queries: gitstore (warm, as a customer-facing agent: role mask applied), FTS5, grep
        def fts5(q):
            return db.execute(
                "SELECT t_no, snippet(docs, 2, '**', '**', '…', 12) FROM docs WHERE docs MATCH ? ORDER BY rank LIMIT 10",
                (" ".join(f'"{w}"' for w in q.split()),),
            ).fetchall()

        for mix in ("mixed", "head"):
            queries = make_queries(args.seed, mix)
            run_search(index, queries[0], limit=10, role=args.role)  # warm the searcher
            ours = time_queries(lambda q: run_search(index, q, limit=10, count=False, role=args.role), queries)
            counted = time_queries(lambda q: run_search(index, q, limit=10, role=args.role), queries)
            fts = time_queries(fts5, queries)
            p50, p95 = percentile(ours, 50), percentile(ours, 95)
            emit({"bench": "search", "measure": f"query_ms_{mix}", "queries": len(queries), "p50": round(p50, 2),
                  "p95": round(p95, 2), "baseline": "sqlite_fts5", "baseline_p50": round(percentile(fts, 50), 3),
                  "baseline_p95": round(percentile(fts, 95), 3), "ratio_p50_vs_fts5": round(p50 / percentile(fts, 50), 1),
                  "target": "p50 <= 10 ms, within 3x of FTS5",
                  "note": f"top-10 hits with highlighted snippets, {args.role} role"})
            emit({"bench": "search", "measure": f"query_with_counts_ms_{mix}", "queries": len(queries),
                  "p50": round(percentile(counted, 50), 2), "p95": round(percentile(counted, 95), 2),
                  "baseline": "same queries without counts", "baseline_p50": round(p50, 2), "baseline_p95": round(p95, 2),
                  "note": "plus exact total and per-kind facets over every match (CLI default)"})
            if mix == "mixed":
                grep_queries = queries[:20]
                grep = time_queries(
                    lambda q: subprocess.run(["grep", "-rliw", q.split()[0], str(work / "store" / "Tickets")],
                                             capture_output=True), grep_queries)
                mixed_p50 = p50
                emit({"bench": "search", "measure": "query_vs_grep", "p50": round(p50, 2),
                      "baseline": "grep -rliw over ticket files (first word of the first 20 mixed queries)",
                      "baseline_queries": len(grep_queries), "baseline_p50": round(percentile(grep, 50), 1),
                      "speedup_p50": round(percentile(grep, 50) / mixed_p50, 1), "target": ">= 50x faster than grep"})

        # -- freshness in process (the index subscribed to the store)
        writer = Store.open(store.path, fsync=False)
        subscriber = subscribe_index(writer)
        tickets = writer.list_tickets()
        rng = random.Random(args.seed + 2)
        fresh_in = []
        for n in range(FRESHNESS_SAMPLES):
            token = f"zqinproc{n}x"
            start = time.perf_counter()
            writer.add_message(rng.choice(tickets), "E", sender="customer", sender_id="bench", content=f"word {token}", actor="bench")
            while not run_search(index, token, limit=1, count=False).hits:
                pass
            fresh_in.append((time.perf_counter() - start) * 1000)
        subscriber.close()
        emit({"bench": "search", "measure": "freshness_in_process_ms", "samples": len(fresh_in),
              "p50": round(percentile(fresh_in, 50), 1), "p95": round(percentile(fresh_in, 95), 1),
              "note": "from before the commit (write call included) to search finding it"})

        # -- freshness through the watcher (another process); this searcher never catches up
        watch = subprocess.Popen([sys.executable, "-m", "gitstore_cli.main", "-C", str(store.path), "--no-fsync", "watch"],
                                 cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        ready = threading.Event()

        def pump():
            for line in watch.stderr:
                if line.startswith("watching"):
                    ready.set()

        threading.Thread(target=pump, daemon=True).start()
        ready.wait(120)
        import whoosh.index as wix

        raw = wix.open_dir(str(index.folder)).searcher()
        fresh_w = []
        for n in range(FRESHNESS_SAMPLES):
            token = f"zqwatch{n}x"
            writer.add_message(rng.choice(tickets), "E", sender="customer", sender_id="bench", content=f"word {token}", actor="bench")
            start = time.perf_counter()
            deadline = start + 30
            while time.perf_counter() < deadline:
                raw = raw.refresh()
                if raw.doc_frequency("content", token):
                    break
                time.sleep(0.005)
            fresh_w.append((time.perf_counter() - start) * 1000)
            time.sleep(0.2)
        watch.terminate()
        watch.wait(30)
        emit({"bench": "search", "measure": "freshness_watcher_ms", "samples": len(fresh_w),
              "p50": round(percentile(fresh_w, 50), 1), "p95": round(percentile(fresh_w, 95), 1),
              "baseline": "in-process path p95", "baseline_p95": round(percentile(fresh_in, 95), 1),
              "target": "p95 <= 1000 ms"})

        # -- catching up 1,000 commits on open, against a full rebuild
        index.close()
        with writer.batch():
            for n in range(CATCH_UP_COMMITS):
                writer.add_message(rng.choice(tickets), "I" if n % 3 == 0 else "E",
                                   sender="technical_member" if n % 3 == 0 else "customer", sender_id="bench",
                                   content=f"catch up {n}", actor="bench")
        writer.close()
        start = time.perf_counter()
        caught = SearchIndex.open(store)
        catch_s = time.perf_counter() - start
        assert run_search(caught, "catch", limit=1).total >= CATCH_UP_COMMITS
        start = time.perf_counter()
        caught.rebuild()
        rebuild_s = time.perf_counter() - start
        emit({"bench": "search", "measure": "catch_up_on_open", "commits": CATCH_UP_COMMITS, "seconds": round(catch_s, 2),
              "baseline": "full rebuild", "baseline_seconds": round(rebuild_s, 1), "target": "<= 10 s"})
        caught.close()
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
