"""Which documents are of which kind: sorted document numbers, read from the postings.

A search needs each matched document's kind twice: to count matches per kind (the
``facets`` and ``total``) and to mask the kinds its viewer may not see. Whoosh's
``docs_for_query(Term("kind", …))`` into Python sets costs ~1.1 µs and ~60 bytes per
document of the whole index, on every search of a new process (1.2 s and ~70 MB at
a million messages). Here each kind's document numbers are read from the ``kind``
term's posting blocks (``fastpath.live_postings``: ~0.05 µs per document) into one
sorted ``array`` of 8-byte numbers per kind; membership is a binary search. What a
search then does with them costs in proportion to its matches, not to the index:
a set of a kind's documents is built only when the matches outnumber them.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left, bisect_right
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Iterator

from gitstore_index.fastpath import live_postings
from gitstore_index.schema import KIND_NAMES

KINDS = tuple(KIND_NAMES.values())
"""The ``kind`` values of the index's documents: ``external``, ``internal``, ``workflow``."""
COLUMN_LOOKUPS = 5000
"""Below this many matches, ``KindPostings.counts`` looks each match's kind up in the
``kind`` column instead of reading every document's kind from the postings (at a
million messages the postings cost ~0.4 s per new process, 5,000 lookups ~10 ms)."""
SET_FROM = 16
"""A kind's documents are turned into a set (once) when a question asks about more
than ``len(kind's documents) / SET_FROM`` documents: a binary search per document is
then dearer than hashing them all."""


def count_among(sorted_docs, docs: Collection[int], as_set: Callable[[], frozenset[int]]) -> int:
    """How many of ``docs`` (no repeats) are in ``sorted_docs`` (ascending): a binary
    search per document when they are few (``SET_FROM``), else one set intersection
    (``as_set()`` gives ``sorted_docs`` as a set, built once by the caller and kept)."""
    if not docs or not sorted_docs:
        return 0
    if len(docs) * SET_FROM < len(sorted_docs):
        found = 0
        for d in docs:
            at = bisect_left(sorted_docs, d)
            found += at < len(sorted_docs) and sorted_docs[at] == d
        return found
    return len(as_set().intersection(docs))


class KindPostings:
    """The live document numbers of each kind in one generation of the index.

    Args:
        searcher: the index's top-level Whoosh searcher.

    Attributes:
        docs: kind → sorted global document numbers (``array('q')``).
    """

    def __init__(self, searcher):
        self._leaves = list(searcher.reader().leaf_readers())  # in document-number order
        self._offsets = [offset for _reader, offset in self._leaves]
        self._docs: dict[str, array] | None = None
        self._columns: list | None = None
        self._sets: dict[str, frozenset[int]] = {}

    @property
    def docs(self) -> dict[str, array]:
        """kind → sorted global document numbers of its live documents (read on first use)."""
        if self._docs is None:
            docs = {}
            for kind in KINDS:
                found = array("q")
                for reader, offset in self._leaves:
                    ids = live_postings(reader, "kind", kind)
                    found.extend([d + offset for d in ids] if offset else ids)
                docs[kind] = found
            self._docs = docs
        return self._docs

    def kind_of(self, docnum: int) -> str:
        """The kind of one live document (global number), from the ``kind`` column."""
        if self._columns is None:
            self._columns = [reader.column_reader("kind") for reader, _offset in self._leaves]
        leaf = bisect_right(self._offsets, docnum) - 1
        value = self._columns[leaf][docnum - self._offsets[leaf]]
        return value.decode("utf-8") if isinstance(value, bytes) else value

    def holds(self, kind: str, docnum: int) -> bool:
        """True if document ``docnum`` (global) is a live document of ``kind``."""
        docs = self.docs[kind]
        at = bisect_left(docs, docnum)
        return at < len(docs) and docs[at] == docnum

    def _as_set(self, kind: str) -> frozenset[int]:
        found = self._sets.get(kind)
        if found is None:
            found = self._sets[kind] = frozenset(self.docs[kind])
        return found

    def count(self, docs: Collection[int], kind: str) -> int:
        """How many of ``docs`` (global numbers, no repeats) are of ``kind``."""
        return count_among(self.docs[kind], docs, lambda: self._as_set(kind))

    def counts(self, docs: Collection[int], hidden: Iterable[str] = ()) -> dict[str, int]:
        """Matches per kind among ``docs``, kinds in ``hidden`` and kinds with none left out.

        Up to ``COLUMN_LOOKUPS`` documents, while the kinds' postings are not read yet,
        each document's kind is looked up in the ``kind`` column (~2 µs each): a search
        with few matches never reads the postings of every document (~0.35 µs each).
        """
        left_out = set(hidden)
        if self._docs is None and len(docs) <= COLUMN_LOOKUPS:
            found = Counter(self.kind_of(d) for d in docs)
        else:
            found = Counter({kind: self.count(docs, kind) for kind in KINDS})
        return {kind: n for kind, n in sorted(found.items()) if n and kind not in left_out}

    def mask(self, hidden: frozenset[str]) -> HiddenDocs:
        """The documents of the ``hidden`` kinds (a viewer's mask)."""
        return HiddenDocs(self, hidden)


class HiddenDocs:
    """The live documents of the kinds a viewer may not see, as a read-only set.

    ``d in mask`` is a binary search per hidden kind; ``len`` and iteration (in
    document-number order) come from the kinds' postings. ``as_set()`` builds a real set
    (for Whoosh's collector, which takes a set as its mask) and keeps it.
    """

    def __init__(self, kinds: KindPostings, hidden: frozenset[str]):
        self.kinds = kinds
        self.hidden = frozenset(hidden)
        self._arrays = [kinds.docs[k] for k in sorted(self.hidden)]
        self._set: set[int] | None = None

    def __contains__(self, docnum: object) -> bool:
        return isinstance(docnum, int) and any(self.kinds.holds(k, docnum) for k in self.hidden)

    def __len__(self) -> int:
        return sum(len(a) for a in self._arrays)

    def __bool__(self) -> bool:
        return len(self) > 0

    def __iter__(self) -> Iterator[int]:
        import heapq

        return heapq.merge(*self._arrays)

    def as_set(self) -> set[int]:
        """Every hidden document number, as a set (built once and kept: do not change
        it; a ``set``, not a ``frozenset``, because Whoosh's collector takes only that)."""
        if self._set is None:
            self._set = set().union(*self._arrays)
        return self._set

    def leave_out(self, docs: Collection[int]) -> set[int]:
        """``docs`` without the hidden ones, in time proportional to ``len(docs)``
        (or to the hidden documents, when they are the fewer)."""
        if len(docs) * SET_FROM < len(self):
            return {d for d in docs if d not in self}
        return set(docs).difference(self.as_set())


def kind_postings(index, searcher) -> KindPostings:
    """The ``KindPostings`` of ``searcher``'s generation, kept in ``index.memo`` while
    ``searcher`` is the index's current one (a server reuses them across searches)."""
    cached = index.memo.get("kind_postings")
    if cached is not None and cached[0] is searcher:
        return cached[1]
    kinds = KindPostings(searcher)
    index.memo["kind_postings"] = (searcher, kinds)
    return kinds
