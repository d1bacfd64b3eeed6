"""Ranked search over the index, for the store's viewer (``gitstore search``).

Hits are ranked by BM25F (Whoosh's default), labelled with their ticket, and carry a
highlighted snippet (matched words between ``**``), time, sender and kind. A search
runs for the store's viewer (``Store.viewer``: the acting identity's role), narrowed
by ``role`` (``roles.search_viewer``). Documents of kinds the viewer may not see are
masked inside the search, so they count nowhere: not in hits, snippets, ``total`` or
``facets``; and they weigh nothing in the scores, which are computed from the
documents the viewer may see (``viewstats``): adding internal notes never changes a
customer-facing hit's score or rank.

Plain word queries (most searches) are answered by ``fastpath`` from the same index,
with the same ranking; every other query by Whoosh's searcher. An exception in the fast
path is a bug: it is logged (logger ``gitstore.index``) and the query is answered by
Whoosh's searcher instead. Only a damaged index (``SearchIndex.damage``) is rebuilt.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from gitstore.store import Store
from gitstore_index import fastpath, viewstats
from gitstore_index.documents import hit_fields
from gitstore_index.fastpath import make_query, plain_terms
from gitstore_index.kinds import HiddenDocs, kind_postings
from gitstore_index.query import parse_query, parse_when, term, time_range
from gitstore_index.roles import hidden_kinds_of, role_name, search_viewer
from gitstore_index.schema import POSITIONS_FIELD

if TYPE_CHECKING:
    from gitstore.viewer import Viewer

log = logging.getLogger("gitstore.index")

SNIPPET_CHARS = 200
"""Longest snippet fragment, in characters."""
SNIPPET_SURROUND = 40
"""Characters of context kept around the matched words of a fragment."""
TICKET_LOOKUPS = 500
"""Above this many tickets, a status/priority filter scans the ``t_no`` column once
instead of looking each ticket's documents up."""


@dataclass
class Hit:
    """One search hit.

    Attributes:
        rank: 1-based position.
        score: BM25F score.
        t_no: the ticket.
        kind: ``external``, ``internal`` or ``workflow``.
        message_id: the message (None for a workflow document).
        time: UTC ISO 8601 (message time; ticket creation for workflow documents).
        sender, sender_id: who wrote the message (None for workflow documents).
        platform: the message's platform.
        snippet: text around the matched words, matches between ``**``.
    """

    rank: int
    score: float
    t_no: str
    kind: str
    message_id: str | None
    time: str | None
    sender: str | None
    sender_id: str | None
    platform: str | None
    snippet: str


@dataclass
class SearchResults:
    """The answer to one search.

    Attributes:
        query: the query text.
        role: the viewer's effective role: ``customer_facing``, ``internal``, ``admin``,
            or ``unrestricted`` (``roles.UNRESTRICTED``: the store's owner, or an
            actor of a store without roles; it sees everything).
        total: documents matching (visible to the viewer), not only those returned;
            None when the search was made with ``count=False``.
        hits: the best ``limit`` hits, best first.
        facets: ``{"kind": {kind: count}}`` over all visible matches (hidden kinds
            never appear, not even as 0).
        commit: the commit the index reflected when searched.
        notices: what the index did on its own meanwhile (rebuilt, skipped a file).
    """

    query: str
    role: str
    total: int | None
    hits: list[Hit] = field(default_factory=list)
    facets: dict[str, dict[str, int]] = field(default_factory=dict)
    commit: str | None = None
    notices: list[str] = field(default_factory=list)

    def by_ticket(self) -> list[tuple[str, list[Hit]]]:
        """Group hits by ticket, tickets in order of their best hit."""
        groups: dict[str, list[Hit]] = {}
        for hit in self.hits:
            groups.setdefault(hit.t_no, []).append(hit)
        return list(groups.items())


def _formatter():
    """Whoosh highlight formatter: matched words between ``**``, fragments joined by `` … ``."""
    from whoosh.highlight import Formatter, get_text

    class Marks(Formatter):
        between = " … "

        def format_token(self, text, token, replace=False):
            return "**" + get_text(text, token, replace) + "**"

    return Marks()


def _snippet(hit, analyzer, terms: set[str]) -> str:
    """Whoosh's highlight of a hit (it expands wildcards and fuzzy terms); for words
    it cannot place (a phrase, searched on ``content_pos``) the query's own terms are
    marked (``fastpath.snippet``); else the text's start."""
    text = hit.get("content") or ""
    snippet = ""
    try:
        snippet = hit.highlights("content", text=text, top=2)
    except Exception as exc:  # highlighting is cosmetic: say so, fall back to our marks or the text's start
        log.warning("Whoosh's highlighter failed on document %s (%s); snippet marked without it", hit.docnum, exc, exc_info=exc)
        snippet = ""
    if not snippet and terms:
        try:
            snippet = fastpath.snippet(text, analyzer, terms, maxchars=SNIPPET_CHARS, surround=SNIPPET_SURROUND) or ""
        except Exception as exc:  # a bug in the fast snippet: logged, the text's start instead
            log.warning("fast snippet failed on document %s (%s); showing the text's start", hit.docnum, exc, exc_info=exc)
            snippet = ""
    if not snippet:
        return _plain_start(text)
    return " ".join(snippet.split())


def _plain_start(text: str) -> str:
    """The start of a text, whitespace collapsed: the snippet when no word is marked."""
    flat = " ".join(text.split())
    return flat[:SNIPPET_CHARS] + ("…" if len(flat) > SNIPPET_CHARS else "")


def hidden_docs(index, searcher, hidden: frozenset) -> HiddenDocs:
    """The documents of kinds a role may not see (the search's mask).

    Args:
        index: the open ``SearchIndex`` (the kinds' postings are kept in ``index.memo``
            for as long as ``searcher`` is the current one).
        searcher: the index's current Whoosh searcher.
        hidden: kind names (``roles.hidden_kinds``).

    Returns:
        A ``kinds.HiddenDocs``: global document numbers, a read-only set.
    """
    return kind_postings(index, searcher).mask(hidden)


def _kind_counts(index, searcher, parsed, filter_docs, hidden) -> dict[str, int]:
    """Count every match per kind (not only the hits returned), leaving hidden kinds out.

    Matching without scoring, then counting per kind: the ranked top hits come from
    Whoosh's optimised collector, which never visits every match.
    """
    matched = set(searcher.docs_for_query(parsed))
    if filter_docs is not None:
        matched &= filter_docs if isinstance(filter_docs, set) else set(searcher.docs_for_query(filter_docs))
    return kind_postings(index, searcher).counts(matched, hidden)


def _ticket_filter(searcher, status: str | None, priority: str | None):
    """Return the docnums of every document of tickets with this status/priority."""
    from whoosh.query import And

    parts = [term("kind", "workflow")]
    if status:
        parts.append(term("status", status))
    if priority:
        parts.append(term("priority", priority))
    reader = searcher.reader()
    column = reader.column_reader("t_no")
    tickets = {column[docnum] for docnum in searcher.docs_for_query(And(parts))}
    if len(tickets) > TICKET_LOOKUPS:  # many tickets: one pass over the t_no column beats many lookups
        return {d for d in range(reader.doc_count_all()) if column[d] in tickets and not reader.is_deleted(d)}
    docs: set[int] = set()
    for t_no in tickets:
        docs.update(searcher.docs_for_query(term("t_no", t_no)))
    return docs


@dataclass
class SearchPlan:
    """A checked search request: what ``prepare`` made of the caller's arguments."""

    query: str
    role: str
    parsed: Any
    filters: list
    status: str | None
    priority: str | None
    limit: int
    hidden: frozenset = frozenset()
    count: bool = True
    terms: list[str] | None = None
    viewer: Viewer | None = None


def prepare(
    store: Store,
    query: str,
    *,
    kind: str | None = None,
    ticket: str | None = None,
    sender_id: str | None = None,
    platform: str | None = None,
    status: str | None = None,
    priority: str | None = None,
    since: datetime | str | None = None,
    until: datetime | str | None = None,
    limit: int = 10,
    role: str | None = None,
    count: bool = True,
    viewer: Viewer | None = None,
) -> SearchPlan:
    """Check a search request without touching the index.

    Args:
        store: the ``gitstore.Store`` (its viewer and configuration).
        query: Whoosh query language (see ``query``).
        kind: only ``external``, ``internal`` or ``workflow`` documents.
        ticket: only this ticket's documents.
        sender_id: only messages from this sender id (case-insensitive).
        platform: only this platform (email, trello, web_chat, slack, mattermost, flock).
        status: only tickets whose conversation_status is this (active, resolved, escalated).
        priority: only tickets of this priority (HIGH, LOW).
        since, until: only documents timed in [since, until] (aware datetimes or text
            such as ``2020-03-01`` or ``3 days ago``; UTC when no zone is given).
        limit: hits returned (1–1000).
        role: ``customer_facing``, ``internal`` or ``admin``: narrow the viewer to
            this role (never wider than its own: docs/data-model.md#search-roles).
        count: count every match per kind (``total``, ``facets``); False returns
            only the ranked hits (``total`` and ``facets`` are then None and ``{}``),
            which on large stores is several times faster for frequent words.
        viewer: who searches (``gitstore.viewer.Viewer``); ``store.viewer`` when None
            (the identity the store was opened for: ``Store(viewer=…)``).

    Raises:
        InvalidQuery: bad query syntax, unknown field, role, kind or date, bad limit.
        AccessDenied: ``role`` would let the viewer see more than its own role does.
    """
    from gitstore.errors import InvalidQuery

    searcher_viewer = search_viewer(store, role, viewer)
    if kind is not None and kind not in ("external", "internal", "workflow"):
        raise InvalidQuery(f"unknown kind {kind!r}: use external, internal or workflow")
    if not 1 <= limit <= 1000:
        raise InvalidQuery(f"limit must be between 1 and 1000, not {limit}")
    since_at, until_at = parse_when(since, "--since"), parse_when(until, "--until")
    schema = _schema()
    terms = plain_terms(query, schema)
    if terms == []:
        raise InvalidQuery(f"invalid query: {query.strip()!r} has no search term (only operators, stop words or unreadable values)")
    parsed = make_query("content", terms) if terms else parse_query(query, schema)
    filters = []
    if kind:
        filters.append(term("kind", kind))
    if ticket:
        filters.append(term("t_no", ticket))
    if sender_id:
        filters.append(term("sender_id", sender_id))
    if platform:
        filters.append(term("platform", platform))
    window = time_range(since_at, until_at)
    if window is not None:
        filters.append(window)
    hidden = hidden_kinds_of(searcher_viewer)
    return SearchPlan(
        query, role_name(searcher_viewer), parsed, filters, status, priority, limit, hidden, count, terms, searcher_viewer
    )


_SCHEMA = None


def _schema():
    global _SCHEMA
    if _SCHEMA is None:
        from gitstore_index.schema import make_schema

        _SCHEMA = make_schema()
    return _SCHEMA


def run_search(index, query: str, **options: Any) -> SearchResults:
    """Search an open ``SearchIndex`` (caught up to HEAD first).

    Args:
        index: an open ``SearchIndex``.
        query, options: see ``prepare``.

    Returns:
        SearchResults.

    Raises:
        InvalidQuery: see ``prepare``.
        LockTimeout: the index had to catch up and another writer held it too long.
    """
    return execute(index, prepare(index.store, query, **options))


def execute(index, plan: SearchPlan) -> SearchResults:
    """Run a prepared search on an open ``SearchIndex``.

    A plain word query goes through ``fastpath`` when the searcher supports it; an
    exception there is a bug, logged as a warning on ``gitstore.index`` (with the
    traceback), and the query is answered by Whoosh's own search. When the search
    fails and the index is really damaged (``SearchIndex.damage``: Whoosh could not
    decode its files, or its files — table of contents, segments — cannot be opened
    now), the index is rebuilt from HEAD once, with a notice, and the search retried;
    any other exception is raised as it is.

    Raises:
        LockTimeout: the index had to catch up and another writer held it too long.
    """
    from gitstore.errors import GitStoreError

    for attempt in (1, 2):
        index.ensure_fresh()
        try:
            return _execute(index, plan)
        except GitStoreError:
            raise
        except Exception as exc:
            problem = index.damage(exc)
            if problem is None or attempt == 2:
                raise
            index.recover(problem)
    raise AssertionError("unreachable")


def _execute(index, plan: SearchPlan) -> SearchResults:
    """One attempt of ``execute``: the fast path for a plain query, else (or when it
    fails) Whoosh's search."""
    from whoosh.query import And

    from gitstore.errors import GitStoreError

    filters, status, priority = plan.filters, plan.status, plan.priority
    searcher = index.searcher()
    filter_docs = None
    if status or priority:
        filter_docs = _ticket_filter(searcher, status, priority)
        if filters:
            filter_docs &= set(searcher.docs_for_query(And(filters)))
        if not filter_docs:  # Whoosh reads an empty filter set as "no filter"
            return SearchResults(plan.query, plan.role, 0, [], {"kind": {}}, index.commit, list(index.notices))
    elif filters:
        filter_docs = And(filters) if len(filters) > 1 else filters[0]
    mask = weighting = None
    if plan.hidden:  # the viewer's hidden kinds, as a docnum set cached per index generation
        mask = hidden_docs(index, searcher, plan.hidden)
        weighting = viewstats.weighting_for(index, searcher, plan.hidden, mask)  # scores without them
    if plan.terms and fastpath.supported(searcher):
        try:
            return _execute_plain(index, searcher, plan, filter_docs, mask, weighting)
        except GitStoreError:
            raise
        except Exception as exc:  # a bug of the fast path, never a reason to rebuild: Whoosh answers
            log.warning(
                "plain-word search path failed on %r (%s: %s); answering with Whoosh's search",
                plan.query, type(exc).__name__, exc, exc_info=exc,
            )
    return _execute_whoosh(index, searcher, plan, filter_docs, mask, weighting)


def _execute_whoosh(index, searcher, plan: SearchPlan, filter_docs, mask, weighting=None) -> SearchResults:
    """Any query through Whoosh's searcher (its collector, highlighter and matchers),
    scored with ``weighting`` (a viewer's ``viewstats.VisibleBM25F``) when given."""
    parsed, limit = plan.parsed, plan.limit
    masked = mask.as_set() if mask else None  # Whoosh's collector takes a set
    if weighting is None:
        results = searcher.search(parsed, limit=limit, filter=filter_docs, mask=masked)
    else:  # what Searcher.search does, with the viewer's weighting in the search context
        collector = searcher.collector(limit=limit, filter=filter_docs, mask=masked)
        searcher.search_with_collector(parsed, collector, context=searcher.context(weighting=weighting))
        results = collector.results()
    results.fragmenter.maxchars = SNIPPET_CHARS
    results.fragmenter.surround = SNIPPET_SURROUND
    results.formatter = _formatter()
    facets = {"kind": _kind_counts(index, searcher, parsed, filter_docs, plan.hidden)} if plan.count else {}
    analyzer = searcher.schema["content"].analyzer
    words = {t for f, t in parsed.iter_all_terms(phrases=True) if f in ("content", POSITIONS_FIELD) and isinstance(t, str)}
    hits = [
        _hit(position, hit.score, hit.fields(), _snippet(hit, analyzer, words))
        for position, hit in enumerate(results[:limit], start=1)
    ]
    total = sum(facets["kind"].values()) if plan.count else None
    return SearchResults(plan.query, plan.role, total, hits, facets, index.commit, list(index.notices))


def _hit(rank: int, score: float, stored: dict, snippet_text: str) -> Hit:
    fields = hit_fields(stored)
    return Hit(
        rank=rank,
        score=round(float(score or 0.0), 4),
        t_no=fields["t_no"],
        kind=fields["kind"],
        message_id=fields["message_id"],
        time=fields["time"],
        sender=fields["sender"],
        sender_id=fields["sender_id"],
        platform=fields["platform"],
        snippet=snippet_text,
    )


def _execute_plain(index, searcher, plan: SearchPlan, filter_docs, mask, weighting=None) -> SearchResults:
    """A plain word query through ``fastpath``: same hits, order, scores and counts as
    Whoosh (with the same ``weighting``)."""
    terms = plan.terms
    assert terms is not None  # only a plain word query (plan.terms set) comes here
    scores = fastpath.match(searcher, "content", terms, weighting=weighting)
    allowed = None
    if filter_docs is not None:
        allowed = filter_docs if isinstance(filter_docs, set) else set(searcher.docs_for_query(filter_docs))
    best, visible = fastpath.top(scores, plan.limit, allowed, mask)
    analyzer = searcher.schema["content"].analyzer
    hits = []
    for rank, (score, docnum) in enumerate(best, start=1):
        fields = fastpath.stored_fields(searcher, docnum)
        text = fields.get("content") or ""
        marked = fastpath.snippet(text, analyzer, terms, maxchars=SNIPPET_CHARS, surround=SNIPPET_SURROUND)
        hits.append(_hit(rank, score, fields, " ".join(marked.split()) if marked else _plain_start(text)))
    facets, total = {}, None
    if plan.count:
        counts = kind_postings(index, searcher).counts(visible, plan.hidden)
        facets, total = {"kind": counts}, sum(counts.values())
    return SearchResults(plan.query, plan.role, total, hits, facets, index.commit, list(index.notices))


def search(store: Store, query: str, **options: Any) -> SearchResults:
    """Open the store's index (building or catching it up as needed) and search it.

    Convenience for one-shot callers such as the CLI; long-running processes keep a
    ``SearchIndex`` open and call ``run_search`` (or ``SearchIndex.search``).

    Args:
        store: an open ``gitstore.Store``; the search runs for its viewer
            (``Store(viewer=…)``), narrowed by ``role``.
        query, options: see ``prepare``; also ``report`` (called with each notice
            as it happens) and ``lock_timeout`` (seconds).

    Raises:
        InvalidQuery, LockTimeout: see ``prepare`` and ``execute``.
        AccessDenied: ``role`` would widen what the store's viewer may see.
    """
    from gitstore_index.store_index import SearchIndex

    report = options.pop("report", None)
    lock_timeout = options.pop("lock_timeout", 30.0)
    plan = prepare(store, query, **options)
    with SearchIndex.open(store, catch_up=False, report=report, lock_timeout=lock_timeout) as index:  # ensure_fresh catches up
        return execute(index, plan)
