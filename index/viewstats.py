"""Scores computed as if the documents a viewer may not see did not exist.

BM25F (Whoosh's default weighting) scores a document with three collection
statistics: the number of documents, the term's document frequency (its idf) and
the field's average length. Taken from the whole index, they would let a hidden
document move a visible one's score: a customer-facing search for "refund" would
score lower once internal notes about refunds are added, which tells that reader
that such notes exist. For a viewer who may not see every kind (``roles``), search
therefore scores with the statistics of the documents that viewer may see:

- ``N``: live documents of the kinds it may see;
- document frequency: live postings of the term among those documents;
- average field length: the sum of those documents' field lengths (Whoosh's
  per-document length, the one BM25F scores each document with) over ``N``.

Deleted documents (kept by Whoosh until its segments merge, and counted in its own
statistics) count nowhere here, so a viewer's scores depend only on the documents it
may see. The formula, B and K1 are Whoosh's (``whoosh.scoring.bm25``), so
``VisibleBM25F`` scores as Whoosh's BM25F would on an index holding only those
documents, up to Whoosh's rounding of field lengths.

``VisibleBM25F`` is a public-API ``whoosh.scoring.BM25F`` subclass: Whoosh's own
search uses it through ``searcher.search_with_collector(…, context=
searcher.context(weighting=…))``, the plain-word path (``fastpath.match``) reads the
same idf and average length from its scorers. One ``VisibleStats`` is kept per index
generation (searcher) and set of hidden kinds (``weighting_for``); document
frequencies are computed on first use of a term and kept with it.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import Counter
from collections.abc import Collection
from math import log

from gitstore_index.compat import whoosh  # imports whoosh.scoring quietly
from gitstore_index.fastpath import field_length_reader, length_codes, length_table, live_postings
from gitstore_index.kinds import count_among

MAX_CACHED_TERMS = 100_000
"""Document frequencies kept per ``VisibleStats`` before the cache is cleared."""


def deleted_docs(reader) -> frozenset[int]:
    """A segment's deleted documents (local numbers): Whoosh's ``deleted_docs_set``
    (a public attribute of ``SegmentReader``), else asked document by document."""
    if not reader.has_deletions():
        return frozenset()
    found = getattr(reader, "deleted_docs_set", None)
    if isinstance(found, frozenset):
        return found
    return frozenset(d for d in range(reader.doc_count_all()) if reader.is_deleted(d))


class VisibleStats:
    """BM25F collection statistics over the documents one viewer may see.

    Args:
        searcher: the index's top-level Whoosh searcher (one generation of the index).
        hidden: global document numbers the viewer may not see (live documents of
            its hidden kinds: ``search.hidden_docs``, a set or ``kinds.HiddenDocs``).

    Attributes:
        doc_count: live documents the viewer may see (``N``).
    """

    def __init__(self, searcher, hidden: Collection[int]):
        self.searcher = searcher
        self.doc_count = searcher.doc_count() - len(hidden)
        leaves = list(searcher.reader().leaf_readers())
        self._leaves = leaves
        offsets = [offset for _reader, offset in leaves]
        per_leaf: list[list[int]] = [[] for _ in leaves]
        for docnum in sorted(hidden):
            position = bisect_right(offsets, docnum) - 1
            per_leaf[position].append(docnum - offsets[position])
        self._hidden = per_leaf  # sorted local numbers per segment
        self._hidden_sets: dict[int, frozenset[int]] = {}
        self._lengths: dict[str, int] = {}
        self._frequencies: dict[tuple[str, str], int] = {}

    def _hidden_set(self, leaf: int) -> frozenset[int]:
        found = self._hidden_sets.get(leaf)
        if found is None:
            found = self._hidden_sets[leaf] = frozenset(self._hidden[leaf])
        return found

    def _hidden_among(self, leaf: int, ids: list[int]) -> int:
        """How many of a segment's local ``ids`` are hidden (``kinds.count_among``)."""
        return count_among(self._hidden[leaf], ids, lambda: self._hidden_set(leaf))

    def doc_frequency(self, fieldname: str, text: str | bytes) -> int:
        """Live documents the viewer may see that hold ``text`` in ``fieldname``."""
        term = text.decode("utf-8") if isinstance(text, bytes) else text
        key = (fieldname, term)
        found = self._frequencies.get(key)
        if found is None:
            found = 0
            for leaf, (reader, _offset) in enumerate(self._leaves):
                if (fieldname, term) not in reader:
                    continue
                ids = live_postings(reader, fieldname, term)
                found += len(ids) - self._hidden_among(leaf, ids)
            if len(self._frequencies) >= MAX_CACHED_TERMS:
                self._frequencies.clear()
            self._frequencies[key] = found
        return found

    def field_length(self, fieldname: str) -> int:
        """Sum of the field lengths (words) of the live documents the viewer may see.

        With a segment's length bytes at hand (``fastpath.length_codes``) the sum over
        all its documents is counted per length byte (in C), then the deleted and the
        hidden documents' lengths are taken off: the same integer sum as adding up the
        visible documents one by one (the fallback), without a loop over every document.
        """
        total = self._lengths.get(fieldname)
        if total is None:
            total = 0
            for leaf, (reader, _offset) in enumerate(self._leaves):
                hidden = self._hidden[leaf]
                codes = length_codes(reader, fieldname)
                if codes is None:
                    length = field_length_reader(reader, fieldname)
                    hidden_set = self._hidden_set(leaf)
                    total += sum(length(d) for d in reader.all_doc_ids() if d not in hidden_set)
                    continue
                table = length_table()
                total += sum(table[code] * n for code, n in Counter(codes).items())
                gone = deleted_docs(reader)
                total -= sum(table[codes[d]] for d in gone)
                total -= sum(table[codes[d]] for d in hidden if d not in gone)
            self._lengths[fieldname] = total
        return total

    def avg_field_length(self, fieldname: str) -> float:
        """Average field length over the documents the viewer may see (0 without any)."""
        return self.field_length(fieldname) / self.doc_count if self.doc_count else 0.0

    def idf(self, fieldname: str, text: str | bytes) -> float:
        """Whoosh's idf, ``log(N / (df + 1)) + 1``, over the visible documents.

        With no visible document (``N`` 0) every document is hidden and masked: its
        score is never shown; ``N`` is taken as 1 so the logarithm is defined.
        """
        return log(max(self.doc_count, 1) / (self.doc_frequency(fieldname, text) + 1)) + 1


class VisibleBM25FScorer(whoosh.scoring.WeightLengthScorer):
    """Whoosh's ``BM25FScorer`` with a viewer's idf and average field length.

    Attributes (as ``BM25FScorer``'s, read by ``fastpath``): ``idf``, ``avgfl``, ``B``,
    ``K1``, ``qf``.
    """

    def __init__(self, searcher, fieldname, text, B, K1, stats: VisibleStats, qf=1):
        self.idf = stats.idf(fieldname, text)
        self.avgfl = stats.avg_field_length(fieldname) or 1
        self.B = B
        self.K1 = K1
        self.qf = qf
        self.setup(searcher, fieldname, text)

    def _score(self, weight, length):
        return whoosh.scoring.bm25(self.idf, weight, length, self.avgfl, self.B, self.K1)


class VisibleBM25F(whoosh.scoring.BM25F):
    """BM25F scored with ``VisibleStats``: what one viewer may see, nothing else.

    Args:
        stats: the viewer's statistics for the searcher it is used with.
        B, K1, field_B: as ``whoosh.scoring.BM25F`` (``content_B=…`` sets one field's B).
    """

    def __init__(self, stats: VisibleStats, B: float = 0.75, K1: float = 1.2, **field_B: float):
        super().__init__(B=B, K1=K1, **field_B)
        self.stats = stats
        self.field_B = {name[:-2]: value for name, value in field_B.items() if name.endswith("_B")}

    def scorer(self, searcher, fieldname, text, qf=1):
        """A ``VisibleBM25FScorer`` (a ``WeightScorer`` for a field without lengths, as
        BM25F)."""
        if not searcher.schema[fieldname].scorable:
            return whoosh.scoring.WeightScorer.for_(searcher, fieldname, text)
        B = self.field_B.get(fieldname, self.B)
        return VisibleBM25FScorer(searcher, fieldname, text, B, self.K1, self.stats, qf=qf)


def weighting_for(index, searcher, hidden_kinds: frozenset, hidden: Collection[int]) -> VisibleBM25F | None:
    """The weighting a search for a viewer with ``hidden_kinds`` scores with.

    Args:
        index: the open ``SearchIndex`` (the weighting is kept in ``index.memo`` for as
            long as ``searcher`` is the current one).
        searcher: the index's current Whoosh searcher.
        hidden_kinds: the kinds the viewer may not see (``roles.hidden_kinds_of``).
        hidden: their live documents (``search.hidden_docs``).

    Returns:
        None when nothing is hidden (Whoosh's own BM25F and statistics); else a
        ``VisibleBM25F`` with the searcher's B and K1.
    """
    if not hidden_kinds:
        return None
    cached = index.memo.get("visible_weighting")
    if cached is None or cached[0] is not searcher:
        cached = index.memo["visible_weighting"] = (searcher, {})
    weighting = cached[1].get(hidden_kinds)
    if weighting is None:
        base = searcher.weighting
        weighting = VisibleBM25F(VisibleStats(searcher, hidden), B=getattr(base, "B", 0.75), K1=getattr(base, "K1", 1.2))
        cached[1][hidden_kinds] = weighting
    return weighting
