"""Plain word queries, ranked without Whoosh's per-posting matcher objects.

Most searches are a few plain words (``printer refund``). Whoosh answers them with a
tree of matcher objects that scores one posting at a time in Python: ~20 µs per
matching document, so a word found in 500 messages costs 10 ms. This module answers
the same query from the same index, reading each term's posting blocks whole and
scoring them in one pass with Whoosh's own BM25F formula (``whoosh.scoring.bm25``,
same operands in the same order, so the same floating-point scores): the ranked hits,
their order (score, then document number, as Whoosh's top-N collector) and the match
counts are those of ``searcher.search(And([Term, …]))`` — checked against Whoosh on
random queries in ``tests/test_search_fastpath.py``, with deleted documents and
several segments. A viewer who may not see every kind scores with the statistics of
the documents it may see (``viewstats.VisibleBM25F``, passed as ``weighting``): the
same formula with that weighting's idf and average field length, as Whoosh scores
with it.

Only what Whoosh's query parser would turn into ``Term`` or ``And`` of ``Term``\\ s
on one scorable field qualifies (``plain_terms``); everything else (operators,
phrases, wildcards, fuzzy terms, ``field:value``, ranges) goes through Whoosh.

Whoosh internals (private names of the W3 codec) are read in three places, each behind
a feature check and with a fallback through Whoosh's public interface that gives the
same result, slower (``tests/test_guarded_internals.py`` forces each fallback and
compares):

- ``BLOCK_POSTINGS``: posting blocks decoded whole (``W3LeafMatcher._read_data``,
  ``_data``, ``_next_block`` …); else posting by posting (``is_active``/``id``/
  ``weight``/``skip_to``/``next``).
- ``LENGTH_COLUMN``: the field-length bytes of a segment read in one piece
  (``whoosh.codec.whoosh3._lenfield``, ``SegmentReader._perdoc._cached_reader``, the
  column reader's ``_dbfile``/``_basepos``/``_count``); else
  ``reader.doc_field_length`` per document.
- ``PERDOC_STORED``: stored fields from the segment's per-document reader
  (``SegmentReader._perdoc``); else ``searcher.stored_fields``.

Each flag is True only when Whoosh's version lies in the range these internals were
verified against (``compat.WHOOSH_VERIFIED``: whoosh-reloaded 2.7.5, pinned
``>=2.7.5,<2.8``) and the classes still have the names read; each use also checks the
object at hand and falls back when a name is missing. An exception raised here anyway
is a bug: the caller (``search.execute``) logs it and answers through Whoosh's search.

``snippet`` builds the highlighted snippet of a hit from the query's terms: tokens of
the stored text found by the field's tokenizer, matched when the field's analyzer turns
them into a query term — the words Whoosh's highlighter would mark, without its
per-hit re-analysis of the whole text.
"""

from __future__ import annotations

import heapq
import re
from array import array
from itertools import accumulate
from typing import Collection, Iterable

from gitstore_index.compat import whoosh, whoosh_verified  # noqa: F401  (quiet import before any whoosh submodule)

_WORDS = re.compile(r"\w+(?:\s+\w+)*")
_OPERATORS = frozenset({"AND", "OR", "NOT", "ANDNOT", "ANDMAYBE", "TO"})
MAX_TERMS = 8
"""Longest plain query answered here (longer ones go through Whoosh)."""


def plain_terms(text: str, schema, fieldname: str = "content") -> list[str] | None:
    """Return the analysed terms of a query made only of plain words, else None.

    ``None`` means "not plain": anything but word characters and spaces, an operator
    word, more than ``MAX_TERMS`` words, or a field that is not scorable text. An empty
    list means every word was a stop word.
    """
    text = text.strip()
    if not _WORDS.fullmatch(text):
        return None
    words = text.split()
    if len(words) > MAX_TERMS or any(w in _OPERATORS for w in words):
        return None
    field = schema[fieldname]
    if not field.scorable or field.analyzer is None:
        return None
    terms: list[str] = []
    for word in words:
        tokens = [t for t in field.process_text(word, mode="query")]
        if len(tokens) > 1:  # a word the analyser splits: let Whoosh's parser decide
            return None
        terms.extend(tokens)
    if len(set(terms)) != len(terms):  # Whoosh normalises repeated terms its own way
        return None
    return terms


def make_query(fieldname: str, terms: list[str]):
    """The Whoosh query the parser makes of these terms (``Term`` or ``And``)."""
    from whoosh.query import And, Term

    leaves = [Term(fieldname, t) for t in terms]
    return leaves[0] if len(leaves) == 1 else And(leaves)


def supported(searcher) -> bool:
    """True when the searcher ranks with BM25F (Whoosh's default weighting).

    The parameters (B, K1, a field's own B) are read from the scorer the weighting
    makes (``_bm25_parameters``), so a field-specific B is honoured as Whoosh does.
    ``viewstats.VisibleBM25F`` (a viewer's statistics over that searcher) is a BM25F
    whose scorers have the same attributes: ``match`` takes it as ``weighting``.
    """
    from whoosh.scoring import BM25F

    return type(searcher.weighting) is BM25F


# -------------------------------------------------------------------- feature checks
_BLOCK_METHODS = ("_read_data", "_read_ids", "_read_weights", "_next_block", "block_max_id")
"""Private methods of ``whoosh.codec.whoosh3.W3LeafMatcher`` the block reader calls."""
_BLOCK_STATE = ("_data", "_ids", "_weights", "_byteids", "_blocklength")
"""Private attributes of a W3 leaf matcher the block reader reads (set per instance)."""
_COLUMN_STATE = ("_dbfile", "_basepos", "_count", "_fixedlen")
"""Private attributes of the length column's reader (``FixedBytesColumn.Reader``)."""


def block_postings_available() -> bool:
    """Feature check: posting blocks can be decoded whole (``BLOCK_POSTINGS``).

    True when Whoosh's version is in ``compat.WHOOSH_VERIFIED`` and
    ``W3LeafMatcher`` still has the private methods read (``_BLOCK_METHODS``).
    """
    if not whoosh_verified():
        return False
    try:
        from whoosh.codec.whoosh3 import W3LeafMatcher
    except ImportError:
        return False
    return all(callable(getattr(W3LeafMatcher, name, None)) for name in _BLOCK_METHODS)


def length_column_available() -> bool:
    """Feature check: a segment's field-length bytes can be read in one piece
    (``LENGTH_COLUMN``): verified Whoosh version, and the W3 codec still has
    ``LENGTHS_COLUMN`` (one byte per document), ``_lenfield`` and
    ``W3PerDocReader._cached_reader``."""
    if not whoosh_verified():
        return False
    try:
        from whoosh.codec import whoosh3
    except ImportError:
        return False
    column = getattr(whoosh3, "LENGTHS_COLUMN", None)
    return (
        callable(getattr(whoosh3, "_lenfield", None))
        and callable(getattr(getattr(whoosh3, "W3PerDocReader", None), "_cached_reader", None))
        and getattr(column, "_typecode", None) == "B"
    )


def perdoc_stored_available() -> bool:
    """Feature check: stored fields can be read from a segment's per-document reader
    (``PERDOC_STORED``): verified Whoosh version and ``W3PerDocReader.stored_fields``."""
    if not whoosh_verified():
        return False
    try:
        from whoosh.codec.whoosh3 import W3PerDocReader
    except ImportError:
        return False
    return callable(getattr(W3PerDocReader, "stored_fields", None))


BLOCK_POSTINGS: bool = block_postings_available()
"""Decode posting blocks whole (else: the public matcher interface, posting by posting)."""
LENGTH_COLUMN: bool = length_column_available()
"""Read field lengths as one column (else: ``reader.doc_field_length`` per document)."""
PERDOC_STORED: bool = perdoc_stored_available()
"""Read stored fields from the segment's per-document reader (else: ``searcher.stored_fields``)."""


# -------------------------------------------------------------------- postings
def _block_postings(matcher, only: list[int] | None = None) -> tuple[list[int], list[float]]:
    """(document numbers, weights) of a W3 leaf posting matcher, block by block
    (``BLOCK_POSTINGS``: private W3 internals).

    Args:
        only: ascending document numbers; when given, blocks that cannot hold any of
            them are skipped without being decoded (their header gives the last id),
            and only these documents are returned.
    """
    ids: list[int] = []
    weights: list[float] = []
    read = _block_reader(matcher)
    if only is None:
        while matcher.is_active():
            block_ids, block_weights = read()
            ids.extend(block_ids)
            weights.extend(block_weights)
            matcher._next_block()
        return ids, weights
    wanted, position = set(only), 0
    while matcher.is_active() and position < len(only):
        last = matcher.block_max_id()
        if only[position] <= last:  # a candidate may be in this block: decode it
            for doc, weight in zip(*read()):
                if doc in wanted:
                    ids.append(doc)
                    weights.append(weight)
            while position < len(only) and only[position] <= last:
                position += 1
        matcher._next_block()
    return ids, weights


def _matcher_postings(matcher, only: list[int] | None = None) -> tuple[list[int], list[float]]:
    """(document numbers, weights) of any posting matcher through Whoosh's public
    matcher interface: the fallback of ``_block_postings`` (same result, slower).

    Args:
        only: ascending document numbers; when given, the matcher skips to each
            (``skip_to``) and only these documents are returned.
    """
    ids: list[int] = []
    weights: list[float] = []
    if only is None:
        while matcher.is_active():
            ids.append(matcher.id())
            weights.append(matcher.weight())
            matcher.next()
        return ids, weights
    for doc in only:
        if not matcher.is_active():
            break
        matcher.skip_to(doc)
        if matcher.is_active() and matcher.id() == doc:
            ids.append(doc)
            weights.append(matcher.weight())
    return ids, weights


def _block_reader(matcher):
    """Return ``read()``: the current block's (ids, weights) of a W3 leaf matcher.

    Decodes the block's data tuple directly (ids as running sums with
    ``itertools.accumulate``, uniform weights as one repeated value), which is what
    the matcher's ``_read_ids``/``_read_weights`` compute one Python step per posting;
    falls back to those when the block data is not in the expected shape. The caller
    checked that the matcher has every name read (``_BLOCK_METHODS``, ``_BLOCK_STATE``).
    """

    def generic():
        matcher._read_ids()
        matcher._read_weights()
        return matcher._ids, matcher._weights

    def read():
        if matcher._data is None:
            matcher._read_data()
        data = matcher._data
        if not isinstance(data, tuple) or len(data) < 2:
            return generic()
        raw_ids, raw_weights = data[0], data[1]
        block_ids = raw_ids if matcher._byteids else list(accumulate(raw_ids))
        if raw_weights is None:
            block_weights = [1.0] * matcher._blocklength
        elif isinstance(raw_weights, float):  # float32, as the matcher's array("f") holds it
            block_weights = array("f", [raw_weights]) * matcher._blocklength
        else:
            block_weights = raw_weights
        return block_ids, block_weights

    return read


def _postings(reader, fieldname: str, term: str, only: list[int] | None = None) -> tuple[list[int], list[float]]:
    """Postings of a term in one segment (or of ``only`` these documents), deleted
    documents left out."""
    from whoosh.matching.wrappers import FilterMatcher
    from whoosh.reading import TermNotFound

    try:
        matcher = reader.postings(fieldname, term)
    except TermNotFound:
        return [], []
    if BLOCK_POSTINGS:
        filtered = isinstance(matcher, FilterMatcher)  # the segment has deleted documents
        leaf = matcher.child if filtered else matcher
        if all(hasattr(leaf, name) for name in _BLOCK_METHODS + _BLOCK_STATE):
            ids, weights = _block_postings(leaf, only)
            if not filtered:
                return ids, weights
            deleted = reader.deleted_docs_set
            kept = [(d, w) for d, w in zip(ids, weights) if d not in deleted]
            return [d for d, _w in kept], [w for _d, w in kept]
    return _matcher_postings(matcher, only)  # Whoosh's FilterMatcher leaves deleted documents out


def live_postings(reader, fieldname: str, term: str) -> list[int]:
    """Document numbers (local to the segment ``reader``) of the live documents holding
    ``term`` in ``fieldname``: posting blocks decoded whole when ``BLOCK_POSTINGS`` is
    on, else Whoosh's public matcher interface; deleted documents left out."""
    return _postings(reader, fieldname, term)[0]


def field_length_reader(reader, fieldname: str, default: int = 0):
    """Return ``length(docnum)``: a document's field length in one segment, in words, as
    Whoosh records it (its lossy one-byte length code, the length BM25F scores with).

    Read from the segment's length column in one piece when ``LENGTH_COLUMN`` is on;
    else ``reader.doc_field_length`` per document (``default`` where it has none).
    """
    codes = _length_codes(reader, fieldname)
    if codes is None:
        return lambda docnum: reader.doc_field_length(docnum, fieldname, default)
    table = length_table()
    return lambda docnum: table[codes[docnum]]


def length_codes(reader, fieldname: str) -> bytes | None:
    """Each document's field-length byte in one segment (index = local document number;
    ``length_table()[byte]`` is the length in words), or None where ``LENGTH_COLUMN``
    is off or the segment lacks a name it reads: then use ``field_length_reader``."""
    return _length_codes(reader, fieldname)


_TABLE: list[int] = []


def length_table() -> list[int]:
    """Whoosh's field length (words) of each of the 256 length bytes (``byte_to_length``)."""
    if not _TABLE:
        from whoosh.util.numeric import byte_to_length

        _TABLE.extend(byte_to_length(b) for b in range(256))
    return _TABLE


_LENGTH_CODES: dict[tuple, bytes] = {}
_NORMS: dict[tuple, list[float]] = {}
"""(B, K1, average field length) → the BM25 length norm of each of the 256 length bytes."""


def _length_codes(reader, fieldname: str) -> bytes | None:
    """Each document's field-length byte in one segment (Whoosh's lossy length code).

    Read in one piece from the W3 length column (``LENGTH_COLUMN``: private W3
    internals) and cached per segment; None when that is off or the segment's reader
    lacks a name read (lengths are then read per document, ``doc_field_length``).
    """
    if not LENGTH_COLUMN:
        return None
    try:
        segment = reader.segment()
        key = (segment.segment_id(), fieldname, reader.doc_count_all())
    except AttributeError:
        return None
    cached = _LENGTH_CODES.get(key)
    if cached is not None:
        return cached
    from whoosh.codec.whoosh3 import LENGTHS_COLUMN, _lenfield

    perdoc = getattr(reader, "_perdoc", None)
    cached_reader = getattr(perdoc, "_cached_reader", None)
    if not callable(cached_reader):
        return None
    column = cached_reader(_lenfield(fieldname), LENGTHS_COLUMN)
    if column is None or not all(hasattr(column, name) for name in _COLUMN_STATE) or column._fixedlen != 1:
        return None
    codes = bytes(column._dbfile.get(column._basepos, column._count))
    codes += bytes(reader.doc_count_all() - len(codes))
    if len(_LENGTH_CODES) > 256:
        _LENGTH_CODES.clear()
    _LENGTH_CODES[key] = codes
    return codes


def _bm25_parameters(searcher, fieldname: str, term: str, weighting=None) -> tuple[float, float, float, float]:
    """``(idf, average field length, B, K1)`` of a term, from the scorer the weighting
    (the searcher's BM25F, or a ``viewstats.VisibleBM25F``) makes for it (public
    attributes of ``whoosh.scoring.BM25FScorer``, which ``VisibleBM25FScorer`` also has):
    idf and average length from the top searcher's (or the viewer's) statistics, the
    field's own B when the weighting sets one."""
    scorer = (weighting or searcher.weighting).scorer(searcher, fieldname, term)
    return scorer.idf, scorer.avgfl, scorer.B, scorer.K1


def _term_scores(searcher, reader, offset: int, fieldname: str, term: str, only: list[int] | None = None,
                 parameters: dict | None = None, weighting=None) -> dict[int, float]:
    """BM25F score of every document of one segment holding ``term`` (global numbers);
    with ``only`` (ascending local numbers), of those of them that hold it.

    Whoosh's ``BM25FScorer``: idf and average field length from the top searcher,
    the document's field length from its lossy length byte, ``bm25(idf, tf, fl,
    avgfl, B, K1)`` evaluated with the same operations in the same order.

    Args:
        parameters: term → ``_bm25_parameters``, filled here (one scorer per term and
            query, not per segment).
        weighting: the weighting whose scorer gives the parameters (None: the searcher's).
    """
    from whoosh.util.numeric import byte_to_length

    ids, weights = _postings(reader, fieldname, term, only)
    if not ids:  # as Whoosh: a term with no postings has no scorer (an empty index has no idf)
        return {}
    parameters = {} if parameters is None else parameters
    if term not in parameters:
        parameters[term] = _bm25_parameters(searcher, fieldname, term, weighting)
    idf, avgfl, B, K1 = parameters[term]
    k1p1 = K1 + 1
    codes = _length_codes(reader, fieldname)
    if codes is not None:
        norms = _NORMS.get((B, K1, avgfl))
        if norms is None:
            if len(_NORMS) > 64:
                _NORMS.clear()
            norms = _NORMS[(B, K1, avgfl)] = [K1 * ((1 - B) + B * byte_to_length(b) / avgfl) for b in range(256)]
        return {d + offset: idf * ((w * k1p1) / (w + norms[codes[d]])) for d, w in zip(ids, weights)}
    scores = {}
    for d, w in zip(ids, weights):
        fl = reader.doc_field_length(d, fieldname, 1)
        scores[d + offset] = idf * ((w * k1p1) / (w + K1 * ((1 - B) + B * fl / avgfl)))
    return scores


def match(searcher, fieldname: str, terms: list[str], weighting=None) -> dict[int, float]:
    """Every document holding all ``terms`` in ``fieldname``, with its BM25F score.

    Per segment, the rarest term's postings are read whole; each other term's only
    where they can hold a document still in the running (blocks skipped unread), as
    Whoosh's intersection matcher skips.

    Args:
        weighting: None scores as the searcher's BM25F; a ``viewstats.VisibleBM25F``
            with one viewer's statistics, as Whoosh scores with that weighting.

    Returns:
        Global document number → score, as Whoosh scores ``And([Term, …])``.
    """
    found: dict[int, float] = {}
    parameters: dict[str, tuple] = {}
    for reader, offset in searcher.reader().leaf_readers():
        if len(terms) == 1:
            found.update(_term_scores(searcher, reader, offset, fieldname, terms[0], parameters=parameters,
                                      weighting=weighting))
            continue
        order = sorted(terms, key=lambda t: reader.doc_frequency(fieldname, t))
        per_term = {order[0]: _term_scores(searcher, reader, offset, fieldname, order[0], parameters=parameters,
                                           weighting=weighting)}
        for term in order[1:]:
            candidates = sorted(d - offset for d in min(per_term.values(), key=len))
            if not candidates:
                break
            scores = _term_scores(searcher, reader, offset, fieldname, term, candidates, parameters, weighting)
            per_term[term] = scores
        if len(per_term) < len(terms):
            continue
        for doc in min(per_term.values(), key=len):
            if all(doc in per_term[t] for t in terms):
                found[doc] = sum(per_term[t][doc] for t in terms)
    return found


def top(
    scores: dict[int, float], limit: int, allowed: set[int] | None, hidden: Collection[int] | None
) -> tuple[list[tuple[float, int]], set[int]]:
    """The best ``limit`` of ``scores`` and every visible match.

    Args:
        allowed: only these documents (a filter), or None for all.
        hidden: never these documents (the role's mask: a set, or a
            ``kinds.HiddenDocs``, whose ``leave_out`` costs in proportion to the
            matches), or None.

    Returns:
        ``([(score, docnum), …] best first, ties by lower docnum; visible docnums)``.
    """
    visible = set(scores)
    if allowed is not None:
        visible &= allowed  # iterates the smaller set
    if hidden:
        leave_out = getattr(hidden, "leave_out", None)
        # not -=, which would iterate all of ``hidden``
        visible = leave_out(visible) if callable(leave_out) else visible.difference(hidden)
    if len(visible) > limit:  # the limit-th best score, found in C, bounds the candidates
        cut = heapq.nlargest(limit, [scores[d] for d in visible])[-1]
        candidates = [d for d in visible if scores[d] >= cut]
    else:
        candidates = list(visible)
    candidates.sort(key=lambda d: (-scores[d], d))
    best = candidates[:limit]
    return [(scores[d], d) for d in best], visible


# -------------------------------------------------------------------- snippets
_STEMS: dict[tuple[int, str], tuple[str, ...]] = {}


def _analysed(analyzer, word: str) -> tuple[str, ...]:
    """The terms a token of the text was indexed as (``mode="index"``: an analyser may
    index more than one term per token, such as the parts of a joined word)."""
    key = (id(analyzer), word)
    found = _STEMS.get(key)
    if found is None:
        if len(_STEMS) > 200_000:
            _STEMS.clear()
        found = _STEMS[key] = tuple(t.text for t in analyzer(word, mode="index"))
    return found


def _tokenizer_pattern(analyzer):
    for item in getattr(analyzer, "items", [analyzer]):
        expression = getattr(item, "expression", None)
        if expression is not None and not getattr(item, "gaps", False):
            return expression
    return None


STEM_REWRITE = 3
"""Letters at the end of a word a suffix-stripping stemmer (Porter's) may rewrite: a
token whose analysed form is a term starts with that term minus its last 3 letters."""


def _matches(text: str, analyzer, pattern, wanted: set[str]) -> list[tuple[int, int, str]] | None:
    """``(start, end, term)`` of the tokens of ``text`` the analyser turns into a wanted
    term, in text order; None when positions cannot be found this way (the caller then
    tokenizes the whole text).

    Candidates are found with ``str.find`` on the lowercased text (a token starts with
    its term's first letters, see ``STEM_REWRITE``), then checked by the analyser.
    """
    lower = text.lower()
    if len(lower) != len(text):  # lowercasing changed lengths: positions would not line up
        return None
    found = {}
    for prefix in {t[: max(1, len(t) - STEM_REWRITE)] for t in wanted}:
        at = lower.find(prefix)
        while at != -1:
            if at == 0 or not (lower[at - 1].isalnum() or lower[at - 1] == "_"):
                token = pattern.match(text, at)
                if token is not None and token.start() not in found:
                    for term in _analysed(analyzer, lower[token.start() : token.end()]):
                        if term in wanted:
                            found[token.start()] = (token.start(), token.end(), term)
                            break
            at = lower.find(prefix, at + 1)
    return [found[k] for k in sorted(found)]


def _all_matches(text: str, analyzer, pattern, wanted: set[str]) -> list[tuple[int, int, str]]:
    found = []
    for m in pattern.finditer(text):
        for term in _analysed(analyzer, text[m.start() : m.end()].lower()):
            if term in wanted:
                found.append((m.start(), m.end(), term))
                break
    return found


def snippet(text: str, analyzer, terms: Iterable[str], maxchars: int = 200, surround: int = 40, top_n: int = 2) -> str | None:
    """Highlight the query terms in ``text``: up to ``top_n`` fragments joined by `` … ``.

    A token (found by the analyser's tokenizer) is marked ``**token**`` when the
    analyser turns it into one of ``terms``. Fragments hold matched tokens with up to
    ``surround`` characters of whole-word context each side and at most ``maxchars``
    characters; the fragments with the most distinct terms (then most matches) are
    kept, in text order. Returns None when no token matches (or the analyser has no
    tokenizer pattern), so the caller can fall back.
    """
    pattern = _tokenizer_pattern(analyzer)
    if pattern is None or not text:
        return None
    wanted = set(terms)
    hits = _matches(text, analyzer, pattern, wanted)
    if hits is None:
        hits = _all_matches(text, analyzer, pattern, wanted)
    if not hits:
        return None
    fragments: list[list[tuple[int, int, str]]] = []
    for hit in hits:
        if fragments and hit[1] - fragments[-1][0][0] <= maxchars - 2 * surround:
            fragments[-1].append(hit)
        else:
            fragments.append([hit])
    chosen = sorted(
        sorted(fragments, key=lambda f: (-len({t for _s, _e, t in f}), -len(f), f[0][0]))[:top_n],
        key=lambda f: f[0][0],
    )
    pieces = []
    for fragment in chosen:
        first, last = fragment[0][0], fragment[-1][1]
        start = _word_start(text, max(0, first - surround), first)
        end = _word_end(text, min(len(text), last + surround), last)
        out, cursor = [], start
        for hit_start, hit_end, _term in fragment:
            out += [text[cursor:hit_start], "**", text[hit_start:hit_end], "**"]
            cursor = hit_end
        out.append(text[cursor:end])
        pieces.append("".join(out))
    return " … ".join(pieces)


_WORD_START = re.compile(r"\b\w")


def _word_start(text: str, lo: int, limit: int) -> int:
    """The first word start at or after ``lo`` (not inside a word), at most ``limit``."""
    found = _WORD_START.search(text, lo, limit + 1)
    return found.start() if found is not None else limit


def _word_end(text: str, hi: int, limit: int) -> int:
    """The last word end at or before ``hi`` (not inside a word), at least ``limit``."""
    if hi < len(text) and _word_char(text[hi]):
        while hi > limit and _word_char(text[hi - 1]):
            hi -= 1
    while hi > limit and not _word_char(text[hi - 1]):
        hi -= 1
    return hi


def _word_char(char: str) -> bool:
    return char.isalnum() or char == "_"


def stored_fields(searcher, docnum: int) -> dict:
    """The stored fields of a document (global number).

    Read straight from its segment's per-document reader when ``PERDOC_STORED`` is on
    and the segment's reader has one (private ``SegmentReader._perdoc``); else through
    ``searcher.stored_fields``, which also drops names missing from the schema (never
    the case here: an index of another schema is rebuilt).
    """
    if PERDOC_STORED:
        for leaf, offset in reversed(list(searcher.reader().leaf_readers())):
            if docnum >= offset:
                perdoc = getattr(leaf, "_perdoc", None)
                read = getattr(perdoc, "stored_fields", None)
                if callable(read):
                    return read(docnum - offset)
                break
    return searcher.stored_fields(docnum)
