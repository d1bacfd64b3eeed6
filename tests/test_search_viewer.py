"""Search for the acting identity's role: what is hidden from it counts nowhere, not even in scores.

Two stores hold the same real external conversations (the IBM Twitter customer-care
sample): store A has no internal notes; store B is A plus internal notes that use the
very words searched for (real Slack messages of the Houston Data Vis export, and
notes about refunds and games). A customer-facing actor (``cora``) must get identical
hits, order, snippets, counts and unrounded scores from both; the store's owner, who
sees the notes, gets other scores (so the comparison can fail). An internal actor
(``ivan``) still finds the notes, whoever's action built the shared index.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest
from test_search import SAMPLE, SLACK_SAMPLE, add_slack_internal

ROLES = {"actors": {"cora": "customer_facing", "ivan": "internal", "ada": "admin"}}
NOTES = [
    "customer wants a refund for the game, refund approved by billing",
    "refund flagged: same account asked for a refund twice, hold the game refund",
    "need to help this customer, the game download failed on our side",
    "please help: refund queue is stuck, the game store API times out",
    "internal only: refund policy exception for this game, do not tell the customer",
]
PLAIN = ["refund", "game", "help", "refund game", "need help", "game refund help"]
WHOOSH_ONLY = ["refund OR help", "refun*", "game AND NOT help", '"need refund"', "refnd~1", "client_name:ana OR refund"]


# ---------------------------------------------------------------------------- stores
def _import(path: Path):
    from gitstore import Store
    from gitstore.importers.base import run_import
    from gitstore.importers.twitter_care import IMPORTER
    from gitstore_index.store_index import SearchIndex

    store = Store.init(path, fsync=False)
    run_import(store, IMPORTER, SAMPLE, actor="importer", progress=False)
    store.write_config_section("roles", ROLES, actor="setup")
    SearchIndex.open(store).close()  # built by the owner
    store.close()


def _add_notes(path: Path) -> list[str]:
    """Add the internal notes (Slack extract + NOTES) to a store; its index is left behind."""
    from gitstore import Store

    store = Store.open(path, fsync=False)
    tickets = store.list_tickets()
    add_slack_internal(store, SLACK_SAMPLE, tickets)
    placed = []
    for n, text in enumerate(NOTES):
        t_no = tickets[(7 * n + 3) % len(tickets)]
        store.add_message(t_no, "I", sender="technical_member", sender_id="ops", content=text, actor="ivan")
        placed.append(t_no)
    store.close()
    return placed


@pytest.fixture(scope="module")
def stores(tmp_path_factory):
    """(A, B caught up from A's index, B rebuilt from scratch): paths."""
    from gitstore import Store
    from gitstore_index.store_index import SearchIndex, rebuild_index

    root = tmp_path_factory.mktemp("viewer")
    a, b, rebuilt = root / "a", root / "b", root / "b-rebuilt"
    _import(a)
    shutil.copytree(a, b, symlinks=True)
    _add_notes(b)
    shutil.copytree(b, rebuilt, symlinks=True)
    store = Store.open(b, fsync=False, viewer="cora")  # a customer-facing actor's search catches B's index up
    SearchIndex.open(store).close()
    store.close()
    store = Store.open(rebuilt, fsync=False, viewer="cora")  # ... and rebuilds the other copy
    rebuild_index(store)
    store.close()
    return a, b, rebuilt


@pytest.fixture
def private(stores, tmp_path):
    """A private copy of store B (tests that write)."""
    path = tmp_path / "b"
    shutil.copytree(stores[1], path, symlinks=True)
    return path


def opened(path: Path, viewer: str | None = None, **options):
    from gitstore import Store

    return Store.open(path, fsync=False, viewer=viewer, **options)


def search(path: Path, query: str, viewer: str | None = None, **options):
    from gitstore_index.search import search as run

    store = opened(path, viewer)
    try:
        return run(store, query, **options)
    finally:
        store.close()


def cli(path: Path, *args: str):
    from click.testing import CliRunner

    from gitstore_cli.main import cli as main

    return CliRunner().invoke(main, ["-C", str(path), "--no-fsync", *args])


# ---------------------------------------------------------------------------- raw scores
def raw_scores(path: Path, query: str, viewer: str | None, *, whoosh: bool) -> dict[str, float]:
    """Unrounded score of every visible match, by document key, through the fast path
    (plain words) or Whoosh's own search (``whoosh=True``), as ``search`` scores."""
    from gitstore_index import fastpath, viewstats
    from gitstore_index.documents import hit_fields
    from gitstore_index.roles import hidden_kinds_of
    from gitstore_index.schema import KIND_NAMES
    from gitstore_index.search import hidden_docs, prepare
    from gitstore_index.store_index import SearchIndex

    store = opened(path, viewer)
    try:
        plan = prepare(store, query, limit=1000)
        with SearchIndex.open(store) as index:
            searcher = index.searcher()
            hidden = hidden_kinds_of(store.viewer)
            mask = hidden_docs(index, searcher, hidden) if hidden else set()
            weighting = viewstats.weighting_for(index, searcher, hidden, mask)
            if whoosh:
                collector = searcher.collector(limit=None, mask=set(mask) if mask else None)
                context = searcher.context(weighting=weighting or searcher.weighting)
                searcher.search_with_collector(plan.parsed, collector, context=context)
                found = {hit.docnum: hit.score for hit in collector.results()}
            else:
                assert plan.terms and fastpath.supported(searcher)
                found = {d: s for d, s in fastpath.match(searcher, "content", plan.terms, weighting).items() if d not in mask}
            keys = {d: hit_fields(searcher.stored_fields(d)) for d in found}
            letter = {name: kind for kind, name in KIND_NAMES.items()}
            return {f"{letter[keys[d]['kind']]}:{keys[d]['t_no']}:{keys[d]['message_id']}": score for d, score in found.items()}
    finally:
        store.close()


def shown(results) -> list[tuple]:
    return [(h.rank, h.score, h.t_no, h.kind, h.message_id, h.snippet) for h in results.hits]


@pytest.mark.parametrize("query", PLAIN + WHOOSH_ONLY)
def test_customer_facing_results_are_identical_with_or_without_internal_notes(stores, query):
    a, b, rebuilt = stores
    expected = search(a, query, "cora", limit=50)
    assert expected.role == "customer_facing"
    for other in (b, rebuilt):
        got = search(other, query, "cora", limit=50)
        assert shown(got) == shown(expected), query
        assert (got.total, got.facets) == (expected.total, expected.facets)
    assert expected.hits and "internal" not in expected.facets["kind"]


@pytest.mark.parametrize("query", PLAIN)
def test_unrounded_scores_are_identical_on_both_paths(stores, query):
    a, b, rebuilt = stores
    for whoosh in (False, True):
        expected = raw_scores(a, query, "cora", whoosh=whoosh)
        assert expected, query
        assert raw_scores(b, query, "cora", whoosh=whoosh) == expected  # ==: not approximately
        assert raw_scores(rebuilt, query, "cora", whoosh=whoosh) == expected
    fast, slow = raw_scores(b, query, "cora", whoosh=False), raw_scores(b, query, "cora", whoosh=True)
    assert fast.keys() == slow.keys() and all(fast[k] == pytest.approx(slow[k], rel=1e-12) for k in fast)


def test_without_viewer_statistics_the_notes_would_move_the_scores(stores):
    """The owner sees the notes: its scores of the same external messages change."""
    a, b, _rebuilt = stores
    owner_a, owner_b = raw_scores(a, "refund", None, whoosh=False), raw_scores(b, "refund", None, whoosh=False)
    external = [k for k in owner_a if k.startswith("E:")]
    assert external and all(owner_a[k] != owner_b[k] for k in external)
    assert any(k.startswith("I:") for k in owner_b)


def test_visible_statistics_count_only_what_the_viewer_may_see(stores):
    from whoosh.query import Term

    from gitstore_index import viewstats
    from gitstore_index.search import hidden_docs
    from gitstore_index.store_index import SearchIndex

    store = opened(stores[1], "cora")
    with SearchIndex.open(store) as index:
        searcher = index.searcher()
        mask = hidden_docs(index, searcher, frozenset({"internal"}))
        stats = viewstats.weighting_for(index, searcher, frozenset({"internal"}), mask).stats
        visible = set(searcher.document_numbers()) - set(mask)
        assert mask and stats.doc_count == len(visible)
        assert stats.doc_frequency("content", "refund") == len(set(searcher.docs_for_query(Term("content", "refund"))) - set(mask))
        lengths = sum(searcher.doc_field_length(d, "content", 0) for d in visible)
        assert stats.field_length("content") == lengths
        assert viewstats.weighting_for(index, searcher, frozenset(), set()) is None  # nothing hidden: Whoosh's own
    store.close()


@pytest.mark.parametrize("flag", ["BLOCK_POSTINGS", "LENGTH_COLUMN"])
def test_visible_statistics_fallbacks_give_the_same_figures(stores, monkeypatch, flag):
    from gitstore_index import fastpath, viewstats
    from gitstore_index.search import hidden_docs
    from gitstore_index.store_index import SearchIndex

    store = opened(stores[1], "cora")
    with SearchIndex.open(store) as index:
        searcher = index.searcher()
        mask = hidden_docs(index, searcher, frozenset({"internal"}))
        fast = viewstats.VisibleStats(searcher, mask)
        figures = [fast.field_length("content"), fast.doc_frequency("content", "refund"), fast.doc_frequency("content", b"game")]
        monkeypatch.setattr(fastpath, flag, False)
        slow = viewstats.VisibleStats(searcher, mask)
        assert [slow.field_length("content"), slow.doc_frequency("content", "refund"), slow.doc_frequency("content", b"game")] == figures
        assert figures[1] > 0
    store.close()


# ---------------------------------------------------------------------------- who sees what
def test_index_built_for_a_customer_facing_actor_serves_internal_hits_to_internal_viewers(stores):
    _a, b, rebuilt = stores  # both indexes were last written by cora's store
    for path in (b, rebuilt):
        internal = search(path, "refund", "ivan", kind="internal", limit=50)
        assert internal.role == "internal" and internal.total == len(NOTES) - 1  # one note says "need to help", no refund
        assert all(h.kind == "internal" for h in internal.hits)
        assert search(path, "sparklines", "ivan").total == 1  # a Slack message
        assert search(path, "sparklines", "cora").total == 0
        assert search(path, "refund", "cora", kind="internal").total == 0


def test_totals_and_facets_never_count_internal_documents(stores):
    b = stores[1]
    query = "refund OR game OR help OR terminal OR dygraphs"
    everything = search(b, query, "ada", limit=100)
    assert everything.facets["kind"]["internal"] >= len(NOTES)
    for options in ({}, {"count": True, "limit": 1}, {"kind": "external"}):
        facing = search(b, query, "cora", **options)
        assert "internal" not in facing.facets["kind"]
        assert facing.total == sum(facing.facets["kind"].values())
    facing = search(b, query, "cora", limit=100)
    assert facing.total == everything.total - everything.facets["kind"]["internal"]
    assert all(h.kind != "internal" for h in facing.hits)
    narrowed = search(b, query, "ada", role="customer_facing", limit=100)  # --role narrows an admin
    assert narrowed.role == "customer_facing" and shown(narrowed) == shown(facing)


def test_role_may_narrow_never_widen(stores):
    from gitstore.errors import AccessDenied

    b = stores[1]
    with pytest.raises(AccessDenied, match="may only narrow"):
        search(b, "refund", "cora", role="admin")
    with pytest.raises(PermissionError):  # AccessDenied is a PermissionError too
        search(b, "refund", "cora", role="internal")
    assert search(b, "refund", None).role == "unrestricted"  # the store's owner
    result = cli(b, "--actor", "cora", "search", "refund", "--role", "admin")
    assert result.exit_code != 0
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ") and "narrow" in lines[0], result.output
    data = json.loads(cli(b, "--actor", "cora", "search", "refund OR sparklines", "--json").stdout)
    assert data["role"] == "customer_facing" and "internal" not in data["facets"]["kind"]
    assert all(hit["kind"] != "internal" for hit in data["hits"])


def test_configured_default_role_narrows_but_never_widens(private):
    from gitstore import Store

    store = Store.open(private, fsync=False)
    store.write_config_section("search", {"default_role": "admin"}, actor="setup")
    store.close()
    assert search(private, "refund", "cora").role == "customer_facing"  # admin would widen: ignored
    assert search(private, "refund", "ivan").role == "internal"
    store = Store.open(private, fsync=False)
    store.write_config_section("search", {"default_role": "customer_facing"}, actor="setup")
    store.close()
    assert search(private, "refund", "ivan").role == "customer_facing"  # it narrows a search without --role
    assert search(private, "refund", "ivan", role="internal").facets["kind"].get("internal")


def test_index_status_shows_only_what_the_viewer_may_see(stores):
    from gitstore_index.store_index import index_status

    b = stores[1]
    owner, facing = opened(b), opened(b, "cora")
    full, seen = index_status(owner), index_status(facing)
    owner.close()
    facing.close()
    internal = search(b, "kind:internal", "ivan", limit=1).total
    assert internal >= len(NOTES) and full.role == "unrestricted" and full.size_bytes and full.segments
    assert seen.role == "customer_facing" and seen.documents == full.documents - internal
    assert seen.size_bytes is None and seen.segments is None
    data = json.loads(cli(b, "--actor", "cora", "index", "status", "--json").stdout)
    assert data["documents"] == seen.documents and data["size_bytes"] is None and data["segments"] is None
    text = cli(b, "--actor", "cora", "index", "status").stdout
    assert f"documents:      {seen.documents} (visible to role customer_facing)" in text
    assert "bytes" not in text and "segment" not in text
    assert f"documents:      {full.documents}" in cli(b, "--actor", "ada", "index", "status").stdout


def test_ticket_filter_since_ignores_messages_the_viewer_may_not_see(private):
    from gitstore import Store
    from gitstore_index.tickets import find_tickets

    store = Store.open(private, fsync=False)
    t_no = store.list_tickets()[0]
    store.add_message(t_no, "I", sender="technical_member", sender_id="ops", content="late internal note",
                      actor="ivan", timestamp=datetime(2031, 1, 1, tzinfo=timezone.utc))
    store.close()
    for viewer, expected in (("ivan", [t_no]), ("cora", []), (None, [t_no])):
        store = opened(private, viewer)
        assert find_tickets(store, since="2030-06-01") == expected, viewer
        store.close()


# ---------------------------------------------------------------------------- watch
def test_watch_tells_a_customer_facing_viewer_nothing_of_internal_messages(private):
    from gitstore import Store
    from gitstore_index.watcher import REF_KEY, Watcher

    writer = Store.open(private, fsync=False)
    one, two = writer.list_tickets()[:2]
    for viewer in ("cora", "ivan"):
        store = opened(private, viewer)
        changes: list = []
        watcher = Watcher(store, on_change=changes.append)
        watcher.start()
        try:
            note = writer.add_message(one, "I", sender="technical_member", sender_id="ops", content="secret refund note", actor="ivan")
            watcher.handle([REF_KEY])
            mixed = writer.update(two, {
                "E": {"messages": [{"sender": "cs_agent", "sender_id": "desk", "content": "we sent a refund"}]},
                "I": {"messages": [{"sender": "technical_member", "sender_id": "ops", "content": "refund sent, ticket 88"}]},
            }, actor="setup")
            watcher.handle([REF_KEY])
        finally:
            watcher.stop()
            store.close()
        reports = [c.report() for c in changes]
        if viewer == "cora":
            assert reports == [{"ticket": two, "commit": mixed.commit, "kinds": ["external"],
                                "added": {"external": mixed.added["E"]}, "deleted": False}]
            assert all(d["kind"] != "internal" for c in changes for d in c.documents)
        else:
            assert [r["ticket"] for r in reports] == [one, two] and reports[0]["commit"] == note.commit
            assert reports[1]["kinds"] == ["external", "internal"] and set(reports[1]["added"]) == {"external", "internal"}
    writer.close()


def test_cli_watch_json_for_a_customer_facing_actor(private):
    from test_watch import ROOT, TIMEOUT, Lines

    from gitstore import Store

    writer = Store.open(private, fsync=False)
    one, two = writer.list_tickets()[:2]
    proc = subprocess.Popen(
        [sys.executable, "-m", "gitstore_cli.main", "-C", str(private), "--no-fsync", "--actor", "cora", "watch", "--json",
         "--debounce", "0.05", "--duration", "60"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        out, err = Lines(proc.stdout), Lines(proc.stderr)
        err.wait(lambda line: line.startswith("watching "))
        note = writer.add_message(one, "I", sender="technical_member", sender_id="ops", content="secret note", actor="ivan")
        reply = writer.add_message(two, "E", sender="cs_agent", sender_id="desk", content="public reply", actor="setup")
        line = out.wait(lambda text: reply.commit in text)
        assert json.loads(line) == {"ticket": two, "commit": reply.commit, "kinds": ["external"],
                                    "added": {"external": reply.added["E"]}, "deleted": False}
        err.wait(lambda text: text.startswith(f"indexed {two}"))
        proc.terminate()
        assert proc.wait(TIMEOUT) == 0
        for lines in (out, err):  # what was printed after the awaited lines
            while not lines.queue.empty():
                lines.seen.append(lines.queue.get())
        assert not any(one in text or note.commit in text for text in out.seen)
        assert not any("internal" in text or note.added["I"][0] in text for text in out.seen + err.seen)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(TIMEOUT)
        writer.close()

