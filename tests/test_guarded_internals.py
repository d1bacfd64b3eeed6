"""Private library internals are guarded: a feature check, a fallback, the same result.

gitstore reads a few private names of whoosh-reloaded (``gitstore_index.fastpath``:
posting blocks, the length column, the per-document reader) and of pygit2's C binding
(``gitstore.objects.worktree``: index entries with stat data). Each use sits behind a
feature flag; here every flag is forced off and the result compared with the fast
path's:

- search: the same hits, order, scores, snippets, totals and facets, on a store of real
  messages (Twitter customer care + Slack) with several segments and deleted documents;
  the fast path as a whole against Whoosh's own search;
- an exception inside the fast path: a logged warning, Whoosh's answer, and no rebuild
  (the index folder is left byte for byte as it was); an unexpected exception in Whoosh
  itself is raised, not answered by a rebuild; only missing or unreadable files rebuild;
- checkout: ``.git/index`` entries staged through pygit2's public ``Index.add`` equal
  those staged through the C binding, stat data included (``git ls-files --debug``),
  and the real git binary sees a clean tree either way.
"""

from __future__ import annotations

import logging
import os
import random
import shutil
import zlib
from datetime import datetime, timezone

import pygit2
import pytest
from conftest import TEST_DATA, git, requires_git
from test_search import build_store

WHOOSH_FLAGS = ("BLOCK_POSTINGS", "LENGTH_COLUMN", "PERDOC_STORED")


# ---------------------------------------------------------------------------- stores
@pytest.fixture(scope="module")
def segmented(tmp_path_factory):
    """A store of real messages whose index has several segments and deletions."""
    from gitstore_index.store_index import SearchIndex
    from gitstore_index.subscriber import subscribe_index

    from gitstore import Store

    path = tmp_path_factory.mktemp("guarded") / "store"
    build_store(path, TEST_DATA / "twitter_care_sample.json", TEST_DATA / "slack_houstondatavis_tools")
    store = Store.open(path, fsync=False)
    index = SearchIndex.open(store)
    subscriber = subscribe_index(store)
    tickets = store.list_tickets()
    rng = random.Random(11)
    for n in range(8):  # each update: a new segment; the changed workflow document replaced (deleted)
        store.update(rng.choice(tickets), {
            "E": {"messages": [{"sender": "customer", "sender_id": "c", "content": f"refund printer battery help {n}",
                                "timestamp": datetime(2024, 1, 1, n, tzinfo=timezone.utc).isoformat()}]},
            "T": {"assigned_member": f"agent refund {n}"},
        }, actor="tester")
    subscriber.close()
    index.ensure_fresh()
    reader = index.searcher().reader()
    assert len(list(reader.leaf_readers())) > 1 and reader.has_deletions()
    index.close()
    store.close()
    return path


@pytest.fixture
def opened(segmented, tmp_path):
    """A private copy of the segmented store, with its index open."""
    from gitstore_index.store_index import SearchIndex

    from gitstore import Store

    path = tmp_path / "s"
    shutil.copytree(segmented, path, symlinks=True)
    store = Store.open(path, fsync=False)
    index = SearchIndex.open(store)
    yield store, index
    index.close()
    store.close()


def _queries(index) -> list[tuple[str, dict]]:
    """Plain word queries from the index's own vocabulary, with roles, filters, limits."""
    from gitstore_index.fastpath import plain_terms

    searcher = index.searcher()
    words = sorted(t for t in (w.decode() if isinstance(w, bytes) else w for w in searcher.lexicon("content")) if t.isalpha())
    frequent = sorted(words, key=lambda t: -searcher.doc_frequency("content", t))[:30]
    rng = random.Random(3)
    texts = ["refund", "printer refund", "help", "battery printer help"]
    while len(texts) < 40:
        pool = frequent if len(texts) % 2 else words
        texts.append(" ".join(rng.sample(pool, rng.choice([1, 2, 2, 3]))))
    options = [{}, {"role": "admin", "limit": 50}, {"role": "customer_facing"}, {"kind": "internal", "role": "admin"},
               {"status": "resolved", "limit": 5}, {"count": False, "limit": 20}]
    queries = [(text, options[n % len(options)]) for n, text in enumerate(texts)]
    plain = [q for q in queries if plain_terms(q[0], index.schema)]
    assert len(plain) >= 30  # the comparisons are about the fast path: most queries must take it
    return plain


def _run(index, queries):
    return [index.search(text, **options) for text, options in queries]


def _index_files(store) -> tuple:
    """What a rebuild would change: the folder's inode, every file's name, size, mtime."""
    folder = store.path / ".git" / "gitstore" / "index"
    files = sorted((p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in folder.iterdir())
    return os.stat(folder).st_ino, files, (folder / "state.json").read_bytes()


def _counting(monkeypatch, owner, name: str) -> list:
    """Count calls of a public Whoosh method (which path ran is seen from outside)."""
    calls = []
    original = getattr(owner, name)

    def counted(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(owner, name, counted)
    return calls


# ---------------------------------------------------------------------------- feature checks
def test_whoosh_feature_checks_follow_the_verified_version_range(monkeypatch):
    import whoosh
    from gitstore_index import fastpath
    from gitstore_index.compat import WHOOSH_VERIFIED, whoosh_verified
    from whoosh.codec import whoosh3

    assert WHOOSH_VERIFIED[0] <= tuple(whoosh.__version__) < WHOOSH_VERIFIED[1]
    assert all(getattr(fastpath, flag) for flag in WHOOSH_FLAGS)  # the pinned Whoosh has every internal
    checks = (fastpath.block_postings_available, fastpath.length_column_available, fastpath.perdoc_stored_available)
    for version in ((2, 8, 0), (2, 7, 4), (3, 0)):
        monkeypatch.setattr(whoosh, "__version__", version)
        assert not whoosh_verified() and not any(check() for check in checks), version
    monkeypatch.undo()
    monkeypatch.delattr(whoosh3.W3LeafMatcher, "_next_block")
    assert not fastpath.block_postings_available() and fastpath.length_column_available()
    monkeypatch.delattr(whoosh3, "_lenfield")
    assert not fastpath.length_column_available() and fastpath.perdoc_stored_available()
    monkeypatch.setattr(whoosh3.W3PerDocReader, "stored_fields", None)  # the base class has an abstract one
    assert not fastpath.perdoc_stored_available()


# ---------------------------------------------------------------------------- fallbacks
@pytest.mark.parametrize("off", [*[(flag,) for flag in WHOOSH_FLAGS], WHOOSH_FLAGS])
def test_each_whoosh_fallback_gives_the_fast_paths_results(opened, monkeypatch, off):
    import whoosh.codec.whoosh3
    import whoosh.reading
    from gitstore_index import fastpath

    _store, index = opened
    queries = _queries(index)
    fast = _run(index, queries)
    searcher = index.searcher()
    terms = [fastpath.plain_terms(text, index.schema) for text, _options in queries]
    fast_scores = [fastpath.match(searcher, "content", t) for t in terms]
    spies = {  # the public Whoosh calls each fallback makes instead of reading internals
        "BLOCK_POSTINGS": _counting(monkeypatch, whoosh.codec.whoosh3.W3LeafMatcher, "weight"),
        "LENGTH_COLUMN": _counting(monkeypatch, whoosh.reading.SegmentReader, "doc_field_length"),
        "PERDOC_STORED": _counting(monkeypatch, whoosh.reading.SegmentReader, "stored_fields"),
    }
    _run(index, queries)
    assert not any(spies.values())  # with every flag on, no fallback ran
    for flag in off:
        monkeypatch.setattr(fastpath, flag, False)
    slow = _run(index, queries)
    for flag in WHOOSH_FLAGS:
        assert bool(spies[flag]) == (flag in off), flag
    assert slow == fast  # hits, order, scores, snippets, totals, facets
    assert sum(r.total or 0 for r in fast) > 100 and sum(len(r.hits) for r in fast) > 100
    assert [fastpath.match(searcher, "content", t) for t in terms] == fast_scores  # unrounded scores too
    assert not any("corrupted" in n for r in slow for n in r.notices)


def _same_hits(ours, theirs):
    """Same hits, ranks and scores; hits of equal score may swap (last-bit sums)."""
    assert (ours.total, ours.facets) == (theirs.total, theirs.facets), ours.query
    assert [h.score for h in ours.hits] == [h.score for h in theirs.hits], ours.query
    def key(hit):
        return hit.score, hit.t_no, hit.kind, hit.message_id or ""

    assert sorted(map(key, ours.hits)) == sorted(map(key, theirs.hits)), ours.query


def test_fast_path_gives_whoosh_search_results(opened, monkeypatch):
    from gitstore_index import fastpath

    _store, index = opened
    queries = _queries(index)
    fast = _run(index, queries)
    monkeypatch.setattr(fastpath, "supported", lambda searcher: False)  # every query through Whoosh
    whoosh_results = _run(index, queries)
    for ours, theirs in zip(fast, whoosh_results):
        _same_hits(ours, theirs)
        assert all("**" in h.snippet for h in ours.hits if h.kind != "workflow")
    assert sum(len(r.hits) for r in fast) > 100


def test_fast_path_honours_a_field_specific_bm25_parameter(opened):
    """B for one field (``BM25F(content_B=…)``) is read from Whoosh's scorer, as Whoosh does."""
    import whoosh.index
    from gitstore_index import fastpath
    from whoosh.scoring import BM25F

    _store, index = opened
    ix = whoosh.index.open_dir(str(index.folder))
    for weighting in (BM25F(content_B=0.3), BM25F(B=0.5, K1=2.0)):
        custom = ix.searcher(weighting=weighting)
        try:
            assert fastpath.supported(custom)
            for terms in (["refund"], ["printer", "refund"], ["help"]):
                ours = fastpath.top(fastpath.match(custom, "content", terms), 20, None, None)[0]
                theirs = [(hit.score, hit.docnum) for hit in custom.search(fastpath.make_query("content", terms), limit=20)]
                assert [d for _s, d in ours] == [d for _s, d in theirs], terms
                assert [s for s, _d in ours] == pytest.approx([s for s, _d in theirs], rel=1e-12), terms
        finally:
            custom.close()


# ---------------------------------------------------------------------------- exceptions
@pytest.mark.parametrize("broken", ["match", "stored_fields"])
def test_fast_path_exception_is_logged_answered_by_whoosh_and_never_rebuilds(opened, monkeypatch, caplog, broken):
    from gitstore_index import fastpath

    store, index = opened
    queries = [q for q in _queries(index) if "status" not in q[1]][:12]  # a status filter may end before any path
    with monkeypatch.context() as m:
        m.setattr(fastpath, "supported", lambda searcher: False)
        expected = _run(index, queries)  # Whoosh's own answers
    before = _index_files(store)

    def fail(*args, **kwargs):
        raise RuntimeError(f"fast path bug in {broken}")

    monkeypatch.setattr(fastpath, broken, fail)
    caplog.set_level(logging.WARNING, logger="gitstore.index")
    got = _run(index, queries)
    assert got == expected  # Whoosh's hits, order, scores, snippets and counts
    warnings = [r for r in caplog.records if r.name == "gitstore.index" and r.levelno == logging.WARNING]
    reached = len(queries) if broken == "match" else sum(1 for r in expected if r.hits)  # stored_fields: per hit
    assert len(warnings) == reached > 0
    assert all(r.exc_info and r.exc_info[0] is RuntimeError and "Whoosh's search" in r.getMessage() for r in warnings)
    assert f"fast path bug in {broken}" in caplog.text
    assert _index_files(store) == before  # no rebuild: same folder, same files, same state
    assert not index.notices and not any(r.notices for r in got)


def test_unexpected_whoosh_error_is_raised_and_never_rebuilds(opened, monkeypatch):
    import whoosh.searching
    from gitstore_index import fastpath

    store, index = opened
    before = _index_files(store)

    def fail(*args, **kwargs):
        raise RuntimeError("a bug in the search")

    monkeypatch.setattr(whoosh.searching.Searcher, "search", fail)
    with pytest.raises(RuntimeError, match="a bug in the search"):
        index.search("refund OR printer")  # not plain: Whoosh only
    monkeypatch.setattr(fastpath, "match", fail)
    with pytest.raises(RuntimeError, match="a bug in the search"):
        index.search("refund")  # the fast path fails, then its fallback too
    assert _index_files(store) == before and not index.notices
    monkeypatch.undo()
    assert index.search("refund OR printer").total > 0  # the index was fine all along


def test_damage_is_only_unreadable_files(opened):
    """``damage``: decode errors and files that cannot be opened; not any exception."""
    _store, index = opened
    assert index.damage() is None and index.damage(RuntimeError("bug")) is None
    assert index.damage(KeyError("docnum")) is None and index.damage(OSError(24, "Too many open files")) is None
    assert "invalid block type" in index.damage(zlib.error("invalid block type"))
    assert index.damage(EOFError("truncated")) is not None


def test_segment_files_removed_under_an_open_index_are_rebuilt_on_search(opened):
    """Real damage met by a search (not at open): a rebuild from HEAD, with a notice."""
    store, index = opened
    expected = index.search("refund", role="admin", limit=1000)
    index.close()  # the next search opens a new searcher
    folder = store.path / ".git" / "gitstore" / "index"
    removed = [p for p in folder.iterdir() if p.suffix in (".seg", ".trm", ".pst")]  # compound or separate parts
    assert removed
    for item in removed:
        item.unlink()
    assert index.damage() is not None
    got = index.search("refund", role="admin", limit=1000)
    assert any("is corrupted" in n and "rebuilding it from HEAD" in n for n in got.notices)
    def found(results):
        return sorted((h.t_no, h.kind, h.message_id or "") for h in results.hits)

    assert found(got) == found(expected)  # scores differ: the rebuilt index holds no deleted documents
    assert got.total == expected.total and index.damage() is None
    status = index.status()
    assert status.up_to_date and status.segments == 1 and status.problem is None  # the rebuild is one segment


# ---------------------------------------------------------------------------- checkout
def test_pygit2_feature_check_follows_the_verified_version_range(monkeypatch):
    from gitstore.objects import worktree

    assert worktree.FAST_STAGE  # the pinned pygit2 has the C binding used
    assert worktree.fast_stage_available(pygit2.__version__)
    for version in ("2.0.0", "1.14.2", "0.28", "", "unknown"):
        assert not worktree.fast_stage_available(version), version
    assert worktree.fast_stage_available("1.15.0") and worktree.fast_stage_available("1.99.1rc1")
    monkeypatch.delattr(pygit2.IndexEntry, "_to_c")
    assert not worktree.fast_stage_available()


def _ls_debug(path) -> dict[str, list[str]]:
    """``git ls-files --debug -s``: each entry's mode, id, stage and stat data, by path.

    The device number is left out: libgit2's ``Index.add(path)`` records 0 there, the
    C-binding path (like ``git add``) the file's device; git compares it only when built
    with ``USE_STDEV``, so both entries are clean.
    """
    entries: dict[str, list[str]] = {}
    current = None
    for line in git(path, "ls-files", "--debug", "-s").splitlines():
        if line.startswith(" "):
            fields = line.split()
            if fields[0] == "dev:":
                fields = fields[2:]
            entries[current].append(" ".join(fields))
        else:
            current = line.split("\t", 1)[1]
            entries[current] = [line.split("\t", 1)[0]]
    return entries


def _assert_clean(path) -> dict[str, list[str]]:
    """The real git binary sees the tree as committed, from the stat data staged."""
    entries = _ls_debug(path)  # before any git command refreshes the index
    for name, fields in entries.items():
        st = (path / name).stat()
        assert f"mtime: {st.st_mtime_ns // 10**9}:{st.st_mtime_ns % 10**9}" in fields, name
        assert f"size: {st.st_size} flags: 0" in fields, name
    assert git(path, "diff-files") == ""  # stat data match: clean without rehashing
    assert git(path, "diff-index", "--cached", "HEAD") == ""
    assert git(path, "status", "--porcelain") == ""
    return entries


def _write_tickets(path):
    from gitstore import Store

    store = Store.init(path, fsync=False)
    for n in range(1, 6):
        store.create_ticket(str(1000 + n), client_name=f"Client {n}", company_name="Acme", actor="agent")
    with store.batch():  # deferred checkout: one flush
        for n in range(1, 6):
            store.add_message(str(1000 + n), "E", sender="customer", sender_id=f"c{n}", content=f"printer {n} broke", actor="agent")
            store.add_message(str(1000 + n), "I", sender="technical_member", sender_id="t", content="looking", actor="agent")
    store.update("1001", {"T": {"assigned_member": "bob"}}, actor="agent")
    return store


@requires_git
@pytest.mark.parametrize("fast", [True, False], ids=["c-binding", "public-api"])
def test_checkout_leaves_a_clean_tree_through_either_staging(tmp_path, monkeypatch, fast):
    from gitstore.objects import worktree

    monkeypatch.setattr(worktree, "FAST_STAGE", fast)
    store = _write_tickets(tmp_path / "store")
    entries = _assert_clean(store.path)
    assert len(entries) >= 15 and all(e[0].startswith("100644 ") for e in entries.values())
    store.close()


@requires_git
def test_public_api_staging_gives_the_c_bindings_index_entries(tmp_path, monkeypatch):
    """The same files staged both ways: every ``.git/index`` entry equal, stat data included."""
    from gitstore.objects import worktree

    store = _write_tickets(tmp_path / "store")
    head = store.head()
    blobs = {}

    def walk(tree, prefix=""):
        for entry in tree:
            if entry.type_str == "tree":
                walk(store.repo[entry.id], f"{prefix}{entry.name}/")
            else:
                blobs[prefix + entry.name] = entry.id

    walk(head.tree)
    executable = min(blobs)
    (store.path / executable).chmod(0o755)  # libgit2's add(path) would stage 100755: the commit says 100644

    def stage_all(flag):
        monkeypatch.setattr(worktree, "FAST_STAGE", flag)
        emptied = store.repo.index
        emptied.clear()  # nothing left of the other way's entries
        emptied.write()
        assert git(store.path, "ls-files") == ""
        store.worktree.record(head.id, {path: (blob, blob) for path, blob in blobs.items()})
        assert store.worktree.flush() == []  # files already hold their content: staged only
        return _ls_debug(store.path)

    fast, public = stage_all(True), stage_all(False)
    assert set(fast) == set(public) == set(blobs)
    assert fast[executable][0] == public[executable][0] == f"100644 {blobs[executable]} 0"
    del fast[executable], public[executable]  # re-set to the committed mode, that one has no stat data
    assert public == fast
    (store.path / executable).chmod(0o644)
    assert git(store.path, "diff-index", "--cached", "HEAD") == ""
    assert git(store.path, "status", "--porcelain") == ""
    store.close()
