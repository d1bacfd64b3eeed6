"""Benchmark: a customer-facing viewer's search, two ways of keeping internal notes out of its scores.

(a) **per-viewer statistics on the shared index** (what gitstore does: ``index/viewstats.py``):
    one index of every document; a customer-facing search masks internal documents and
    scores with the statistics of the documents it may see;
(b) **a separate index** holding only the customer-facing visible documents (external
    messages and workflow state), built in a temporary folder with the same schema and
    searched with Whoosh's own statistics (nothing in it is hidden).

Measured in one run, on the same store (``bench/search.py``'s corpus: real Twitter
customer-care vocabulary, 30 % of messages internal):

- query latency p50/p95 of the same queries, ranked the same way in both (plain-word
  path: ``fastpath.match`` + ``top`` + stored fields + snippets of the top 10), with the
  baseline in the same run: the shared index scored with whole-index statistics (what
  search did before, which let internal notes move customer-facing scores);
- the first query after an index change in (a) (the viewer's statistics are computed
  once per index generation);
- index size on disk and indexing time of each; (b) is *in addition to* the shared
  index, which internal viewers still need;
- how alike the rankings are: top-10 documents equal, largest relative score difference
  ((a) rounds field lengths as Whoosh records them; (b) averages exact ones).

Prints one JSON line per figure, with the load average before and after.

Usage: python bench/search_viewer.py [--tickets 2000] [--messages 10000] [--seed 4]
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

from common import emit, percentile
from search import build_store, make_queries, time_queries

from gitstore import Store

LIMIT = 10


def folder_bytes(folder: Path) -> int:
    """Bytes of every file in an index folder."""
    return sum(p.stat().st_size for p in Path(folder).iterdir() if p.is_file())


def build_visible_only(store: Store, folder: Path) -> tuple[object, float, int]:
    """Build approach (b): the customer-facing documents only, same schema, one segment.

    Returns:
        (Whoosh index, seconds, documents).
    """
    from gitstore_index.compat import whoosh
    from gitstore_index.documents import ticket_documents
    from gitstore_index.schema import make_schema

    start = time.perf_counter()
    ix = whoosh.index.create_in(str(folder), make_schema())
    writer = ix.writer(limitmb=128)
    count = 0
    head = store.head()
    for t_no in store.list_tickets(at=str(head.id)):
        files = store.read(t_no, at=head)  # the store is opened for the customer-facing actor: I is empty
        for doc in ticket_documents(files):
            if doc["kind"] != "internal":
                writer.add_document(**doc)
                count += 1
    writer.commit(optimize=True)
    return ix, time.perf_counter() - start, count


def ranker(searcher, mask, weighting):
    """Return ``rank(query)``: the plain-word path's top hits with stored fields and snippets."""
    from gitstore_index import fastpath
    from gitstore_index.schema import make_schema

    schema = make_schema()
    analyzer = searcher.schema["content"].analyzer

    def rank(query: str) -> list[tuple[str, float]]:
        terms = fastpath.plain_terms(query, schema)
        if not terms:
            return []
        scores = fastpath.match(searcher, "content", terms, weighting=weighting)
        best, _visible = fastpath.top(scores, LIMIT, None, mask or None)
        hits = []
        for score, docnum in best:
            fields = fastpath.stored_fields(searcher, docnum)
            fastpath.snippet(fields.get("content") or "", analyzer, terms, maxchars=200, surround=40)
            hits.append((fields["doc_key"], score))
        return hits

    return rank


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=2000)
    parser.add_argument("--messages", type=int, default=10000)
    parser.add_argument("--seed", type=int, default=4)
    args = parser.parse_args()

    from gitstore_index import viewstats
    from gitstore_index.search import hidden_docs, run_search
    from gitstore_index.store_index import SearchIndex

    load_before = os.getloadavg()
    work = Path(tempfile.mkdtemp(prefix="gitstore-bench-viewer-"))
    try:
        start = time.perf_counter()
        store, corpus = build_store(work / "store", args.tickets, args.messages, args.seed)
        store.write_config_section("roles", {"actors": {"cora": "customer_facing"}}, actor="bench")
        store.close()
        internal = sum(1 for _t, kind, _text in corpus if kind == "I")
        emit({"bench": "search_viewer", "measure": "store_build", "tickets": args.tickets, "messages": len(corpus),
              "internal_messages": internal, "seconds": round(time.perf_counter() - start, 1),
              "loadavg_1_5_15": [round(x, 2) for x in load_before]})

        # -- (a) the shared index, built from everything the owner reads
        facing = Store.open(work / "store", fsync=False, viewer="cora")
        start = time.perf_counter()
        index = SearchIndex.open(facing)
        shared_s = time.perf_counter() - start
        searcher = index.searcher()
        shared_docs = searcher.doc_count()
        shared_bytes = folder_bytes(index.folder)

        # -- (b) a separate index of the customer-facing documents
        separate = work / "visible-only"
        separate.mkdir()
        ix_b, separate_s, separate_docs = build_visible_only(facing, separate)
        separate_bytes = folder_bytes(separate)
        emit({"bench": "search_viewer", "measure": "indexing", "approach_a": "shared index (every document)",
              "a_seconds": round(shared_s, 2), "a_documents": shared_docs, "a_bytes": shared_bytes,
              "approach_b": "separate customer-facing index", "b_seconds": round(separate_s, 2),
              "b_documents": separate_docs, "b_bytes": separate_bytes,
              "b_total_seconds_with_shared": round(shared_s + separate_s, 2),
              "b_total_bytes_with_shared": shared_bytes + separate_bytes,
              "note": "b still needs the shared index for internal viewers: its cost is in addition to a's"})

        hidden = frozenset({"internal"})
        mask = hidden_docs(index, searcher, hidden)
        index.memo.pop("visible_weighting", None)
        start = time.perf_counter()
        weighting = viewstats.weighting_for(index, searcher, hidden, mask)
        rank_a = ranker(searcher, mask, weighting)
        rank_a("printer refund")
        first_ms = (time.perf_counter() - start) * 1000
        rank_old = ranker(searcher, mask, None)  # baseline: whole-index statistics (the old scores)
        searcher_b = ix_b.searcher()
        rank_b = ranker(searcher_b, None, None)
        emit({"bench": "search_viewer", "measure": "first_query_after_index_change_ms", "a_ms": round(first_ms, 1),
              "note": "viewer statistics (N, field length) computed once per index generation, then kept"})

        for mix in ("mixed", "head"):
            queries = make_queries(args.seed, mix)
            for run in (rank_a, rank_old, rank_b):
                run(queries[0])  # warm
            a = time_queries(rank_a, queries)
            old = time_queries(rank_old, queries)
            b = time_queries(rank_b, queries)
            full = time_queries(lambda q: run_search(index, q, limit=LIMIT, count=False), queries)
            emit({"bench": "search_viewer", "measure": f"query_ms_{mix}", "queries": len(queries),
                  "a_p50": round(percentile(a, 50), 3), "a_p95": round(percentile(a, 95), 3),
                  "b_p50": round(percentile(b, 50), 3), "b_p95": round(percentile(b, 95), 3),
                  "baseline": "shared index, whole-index statistics (before)",
                  "baseline_p50": round(percentile(old, 50), 3), "baseline_p95": round(percentile(old, 95), 3),
                  "a_full_search_p50": round(percentile(full, 50), 3),
                  "note": "customer-facing viewer, top 10 with stored fields and snippets; a's per-term "
                          "document frequencies are cached after the first use of a term"})
            same = 0
            worst = 0.0
            for query in queries:
                hits_a, hits_b = rank_a(query), rank_b(query)
                same += [k for k, _s in hits_a] == [k for k, _s in hits_b]
                scores_b = dict(hits_b)
                for key, score in hits_a:
                    if key in scores_b and scores_b[key]:
                        worst = max(worst, abs(score - scores_b[key]) / abs(scores_b[key]))
            emit({"bench": "search_viewer", "measure": f"ranking_agreement_{mix}", "queries": len(queries),
                  "same_top10_order": same, "max_relative_score_difference": float(f"{worst:.3g}")})
        searcher_b.close()
        index.close()
        facing.close()
        emit({"bench": "search_viewer", "measure": "load", "loadavg_before": [round(x, 2) for x in load_before],
              "loadavg_after": [round(x, 2) for x in os.getloadavg()], "cpus": os.cpu_count()})
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
