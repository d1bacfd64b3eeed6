"""The plain-word search path (``index.fastpath``) against Whoosh's own search.

For random one- to three-word queries drawn from the index's own vocabulary, the fast
path must give what ``searcher.search(And([Term, …]))`` gives: the same top hits in the
same order (score, then document number), the same scores, and the same set of
matches (for the counts), with the role's mask and with filters. Checked on a store of
real messages (Twitter customer care + Slack), first as one segment, then after
updates have added segments and deleted replaced documents.
"""

from __future__ import annotations

import random
import shutil
from datetime import datetime, timezone

import pytest

from conftest import TEST_DATA
from test_search import build_store

QUERIES = 150


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    path = tmp_path_factory.mktemp("fastpath") / "store"
    build_store(path, TEST_DATA / "twitter_care_sample.json", TEST_DATA / "slack_houstondatavis_tools")
    return path


def _vocabulary(searcher) -> list[str]:
    """Indexed terms of ``content``, frequent and rare alike."""
    terms = [t.decode("utf-8") if isinstance(t, bytes) else t for t in searcher.lexicon("content")]
    return [t for t in terms if t.isalpha()]


def _whoosh(searcher, terms, limit, mask=None, allowed=None):
    from gitstore_index.fastpath import make_query

    query = make_query("content", terms)
    mask = set(mask) if mask else None  # Whoosh takes a set (search's mask is a kinds.HiddenDocs)
    results = searcher.search(query, limit=limit, mask=mask, filter=allowed)
    matched = set(searcher.docs_for_query(query))
    if allowed is not None:
        matched &= allowed
    if mask:
        matched -= mask
    return [(hit.score, hit.docnum) for hit in results], matched


def _fast(searcher, terms, limit, mask=None, allowed=None):
    from gitstore_index import fastpath

    return fastpath.top(fastpath.match(searcher, "content", terms), limit, allowed, mask)


def _same_ranking(ours, theirs):
    assert [d for _s, d in ours] == [d for _s, d in theirs] or _equal_up_to_ties(ours, theirs)
    for (a, _d1), (b, _d2) in zip(ours, theirs):
        assert a == pytest.approx(b, rel=1e-12, abs=1e-12)


def _equal_up_to_ties(ours, theirs):
    """Scores summed in another order may differ in the last bit: ties may swap."""
    return sorted((round(s, 9), d) for s, d in ours) == sorted((round(s, 9), d) for s, d in theirs)


def _compare_random_queries(searcher, seed, mask=None, allowed=None):
    rng = random.Random(seed)
    words = _vocabulary(searcher)
    frequent = sorted(words, key=lambda t: -searcher.doc_frequency("content", t))[:40]
    checked = nonempty = 0
    for n in range(QUERIES):
        pool = frequent if n % 3 == 0 else words  # frequent words give large intersections
        terms = rng.sample(pool, rng.choice([1, 1, 2, 2, 3]))
        limit = rng.choice([1, 10, 50])
        ours, visible = _fast(searcher, terms, limit, mask, allowed)
        theirs, matched = _whoosh(searcher, terms, limit, mask, allowed)
        _same_ranking(ours, theirs)
        assert visible == matched, terms
        checked += 1
        nonempty += bool(theirs)
    assert checked == QUERIES and nonempty > QUERIES // 4


def _open(path):
    from gitstore import Store
    from gitstore_index.store_index import SearchIndex

    store = Store.open(path, fsync=False)
    return store, SearchIndex.open(store)


def test_plain_queries_rank_as_whoosh_on_one_segment(built, tmp_path):
    from gitstore_index.search import hidden_docs

    shutil.copytree(built, tmp_path / "s", symlinks=True)
    _store, index = _open(tmp_path / "s")
    searcher = index.searcher()
    assert len(searcher.reader().leaf_readers()) == 1
    _compare_random_queries(searcher, seed=1)
    mask = hidden_docs(index, searcher, frozenset({"internal"}))
    assert mask
    _compare_random_queries(searcher, seed=2, mask=mask)
    allowed = set(list(searcher.document_numbers())[::3])
    _compare_random_queries(searcher, seed=3, allowed=allowed)


def test_plain_queries_rank_as_whoosh_with_segments_and_deletions(built, tmp_path):
    from gitstore_index.search import hidden_docs

    shutil.copytree(built, tmp_path / "s", symlinks=True)
    store, index = _open(tmp_path / "s")
    from gitstore_index.subscriber import subscribe_index

    subscriber = subscribe_index(store)
    tickets = store.list_tickets()
    rng = random.Random(7)
    for n in range(12):  # each update: a new segment; a changed workflow document replaced (deleted)
        store.update(rng.choice(tickets), {
            "E": {"messages": [{"sender": "customer", "sender_id": "c", "content": f"refund printer battery update {n}",
                                "timestamp": datetime(2024, 1, 1, n, tzinfo=timezone.utc).isoformat()}]},
            "T": {"assigned_member": f"agent refund {n}"},
        }, actor="tester")
    subscriber.close()
    index.ensure_fresh()
    searcher = index.searcher()
    assert len(searcher.reader().leaf_readers()) > 1
    assert searcher.reader().has_deletions()
    _compare_random_queries(searcher, seed=4)
    _compare_random_queries(searcher, seed=5, mask=hidden_docs(index, searcher, frozenset({"internal"})))
    ours, _ = _fast(searcher, ["refund"], 100)
    theirs, _ = _whoosh(searcher, ["refund"], 100)
    _same_ranking(ours, theirs)


def test_only_plain_word_queries_take_the_fast_path():
    from gitstore_index.fastpath import plain_terms
    from gitstore_index.schema import make_schema

    schema = make_schema()
    assert plain_terms("Printers refunds", schema) == ["printer", "refund"]
    assert plain_terms("the printer", schema) == ["printer"]  # stop word dropped, as the parser does
    assert plain_terms("the of", schema) == []
    for query in ('"printer refund"', "printer OR refund", "print*", "printr~", "kind:external printer",
                  "printer AND refund", "NOT printer", "(printer)", "printer printers", "a-b"):
        assert plain_terms(query, schema) is None, query


def test_snippet_marks_the_words_the_analyser_matches():
    from gitstore_index.fastpath import snippet
    from gitstore_index.schema import make_schema

    analyzer = make_schema()["content"].analyzer
    text = "My printers stopped printing. The PRINTER shows error 42 after the update; refund please."
    marked = snippet(text, analyzer, ["printer", "refund"])
    assert "**printers**" in marked and "**PRINTER**" in marked and "**refund**" in marked
    assert "**printing**" not in marked  # "printing" stems to "print", not "printer"
    assert snippet("nothing here", analyzer, ["printer"]) is None
    long = " ".join(["filler"] * 60) + " printer " + " ".join(["filler"] * 60)
    one = snippet(long, analyzer, ["printer"], maxchars=200, surround=40)
    assert one.startswith("filler") and "**printer**" in one and len(one) <= 200 + 4
    assert snippet("İstanbul printer", analyzer, ["printer"]) == "İstanbul **printer**"  # lowercasing changes length


def test_plain_query_on_an_empty_store_finds_nothing(tmp_path):
    """No documents: Whoosh has no idf for any term; the plain path must not compute one."""
    from gitstore import Store
    from gitstore_index import search_store

    store = Store.init(tmp_path / "empty", fsync=False)
    results = search_store(store, "printer refund", role="customer_facing")
    assert results.total == 0 and results.hits == [] and results.facets == {"kind": {}}
    assert not any("corrupted" in notice for notice in results.notices)  # not mistaken for damage
    store.create_ticket("1", client_name="Ana", company_name="Acme", actor="a")
    assert search_store(store, "printer").total == 0
    assert [h.t_no for h in search_store(store, "acme").hits] == ["1"]


def test_kind_postings_match_whoosh_sets_with_segments_and_deletions(built, tmp_path):
    """Per-kind counts and the viewer's mask from the kinds' postings equal Whoosh's
    own document sets, with several segments and deleted (replaced) documents."""
    from whoosh.query import Term

    from gitstore_index.kinds import KINDS, kind_postings

    shutil.copytree(built, tmp_path / "s", symlinks=True)
    store, index = _open(tmp_path / "s")
    tickets = store.list_tickets()
    for n, t_no in enumerate(tickets[:6]):  # workflow documents replaced: deletions in older segments
        store.update(t_no, {"T": {"assigned_member": f"agent {n}"}}, actor="tester")
        index.catch_up()
    searcher = index.searcher()
    assert len(searcher.reader().leaf_readers()) > 1 and searcher.reader().has_deletions()
    kinds = kind_postings(index, searcher)
    assert kind_postings(index, searcher) is kinds  # kept for the searcher's generation
    truth = {k: set(searcher.docs_for_query(Term("kind", k))) for k in KINDS}
    assert {k: set(kinds.docs[k]) for k in KINDS} == truth
    rng = random.Random(3)
    every = sorted(set().union(*truth.values()))
    for size in (0, 1, 5, len(every) // 2, len(every)):  # both ways of counting (binary search, set)
        docs = set(rng.sample(every, size))
        expected = {k: len(docs & truth[k]) for k in KINDS if k != "internal" and docs & truth[k]}
        assert kinds.counts(docs, {"internal"}) == dict(sorted(expected.items()))
        mask = kinds.mask(frozenset({"internal"}))
        assert mask.leave_out(docs) == docs - truth["internal"]
        assert len(mask) == len(truth["internal"]) and list(mask) == sorted(truth["internal"])
        assert all((d in mask) == (d in truth["internal"]) for d in docs)
    # few matches: counted from the kind column, the postings of every document unread
    import gitstore_index.kinds as kinds_module

    fresh = kinds_module.KindPostings(searcher)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(kinds_module, "live_postings", lambda *a: pytest.fail("postings read for a few matches"))
        for size in (0, 1, 7, 40):
            docs = set(rng.sample(every, size))
            expected = {k: len(docs & truth[k]) for k in KINDS if docs & truth[k]}
            assert fresh.counts(docs) == dict(sorted(expected.items()))
            assert fresh.counts(docs, {"internal"}) == {k: n for k, n in sorted(expected.items()) if k != "internal"}
    store.close()
