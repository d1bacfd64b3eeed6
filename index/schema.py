"""The Whoosh schema of the search index and its version.

One document per message of an E or I file, one per ticket's workflow state (T file,
plus E's ``conversation_status``), told apart by ``kind`` (``external``, ``internal``,
``workflow``). Text fields are analysed by ``analysis.text_analyzer``, at indexing
and query time alike: words are found inside markup (``*word*``, ``_word_``,
backticks, trailing punctuation), Chinese, Japanese and Korean text is indexed as
overlapping character bigrams, and words are stemmed (``printers`` finds
``printer``). Times are DATETIME (naive UTC, Whoosh's convention); identifiers are ID
fields. Identifier fields people type in filters (``sender_id``, ``platform``,
``priority`` …) are lowercased when indexed and when queried, so ``priority:high`` and
``--sender-id AnaR`` match whatever case the data used.

Change ``SCHEMA_VERSION`` whenever the fields or the document content change: an index
recorded with another version is rebuilt on open (docs/architecture-notes.md "Search").
"""

from __future__ import annotations

from gitstore_index.compat import whoosh

SCHEMA_VERSION = 4
"""Version of the index layout written by this code (recorded in ``state.json``).
2: word positions moved from ``content`` to ``content_pos``.
3: ``analysis.text_analyzer`` (words inside markup, CJK bigrams) replaces Whoosh's
``StemmingAnalyzer``.
4: a smaller index (−36 % at 20,000 messages): no per-document unique terms (``doc_key``,
``message_id`` are gone from the terms), the hit's fields stored as one ``HIT_FIELD``
tuple, times indexed in two precision tiers (``TimeField``)."""

HIT_FIELD = "hit"
"""The one stored field (besides ``content``) a hit is shown from: the tuple
``HIT_PARTS`` (``documents.hit_record``). One tuple instead of a stored value per field
halves the stored bytes per document (Whoosh pickles each document's stored dict, names
and all)."""

HIT_PARTS = ("t_no", "kind", "message_id", "time", "sender", "sender_id", "platform")
"""The values of ``HIT_FIELD``, in order; ``time`` is UTC ISO 8601 (``…Z``), and
``message_id``, ``sender``, ``sender_id``, ``platform`` are None for a workflow document."""

POSITIONS_FIELD = "content_pos"
"""The field holding ``content``'s word positions, for phrase queries only.

``content`` itself is indexed without positions: a posting block then holds document
numbers and frequencies only, which the plain-word path (``fastpath``) reads ~5× faster
than blocks that also carry every word position. ``"quoted phrases"`` on ``content``
are rewritten to this field (``query.parse_query``); scores are alike (same analyser,
same documents, so the same statistics)."""

KIND_NAMES = {"E": "external", "I": "internal", "T": "workflow"}
"""Ticket file kind letter → the ``kind`` value of its documents."""

LOWERCASE_FIELDS = frozenset(
    {"sender", "sender_id", "platform", "message_type", "priority", "channel", "assignee", "stage", "status", "company"}
)
"""ID fields whose terms are lowercased (indexing and querying alike)."""

FIELD_ALIASES = {"t_no": ["ticket"], "content": ["text"]}
"""Extra names accepted in the query language: ``ticket:TW-1`` means ``t_no:TW-1``."""


def _lower_id():
    from whoosh.analysis import IDTokenizer, LowercaseFilter

    return whoosh.fields.ID(analyzer=IDTokenizer() | LowercaseFilter())


class TimeField(whoosh.fields.DATETIME):
    """Whoosh's ``DATETIME`` (microseconds since the epoch, naive UTC) indexed in two
    precision tiers (``shift_step=32``: the exact time and ~71.6-minute buckets)
    instead of ``DATETIME``'s eight: almost every message has a time of its own, so each
    fine tier is one more unique term per document (at 20,000 messages the eight tiers
    were 65,000 terms, a quarter of the index). Range queries stay exact; a range
    reads at most the exact terms of its two partial buckets (Whoosh's
    ``NumericRange`` splits a range by tiers)."""

    def __init__(self, stored: bool = False, unique: bool = False, sortable: bool = False):
        whoosh.fields.NUMERIC.__init__(self, int, 64, stored=stored, unique=unique, shift_step=32, sortable=sortable)


def make_schema():
    """Return the Whoosh ``Schema`` of the index.

    Fields (none stored but ``content`` and ``hit``: a hit is shown from those two):

    - ``t_no`` (ID, column), ``kind`` (ID, column).
    - ``sender`` (role: customer, cs_agent, technical_member), ``sender_id``,
      ``platform`` (E: the conversation's platform; I: the message's), ``message_type``.
    - ``time`` (``TimeField``): the message's timestamp; for a workflow document the
      ticket's ``card_create_timestamp``.
    - ``content`` (TEXT, ``analysis.text_analyzer``, stored for snippets): the message
      text; for a workflow document client and company names, assignee and the agent
      decisions' text.
    - ``content_pos`` (TEXT, the same analyser, positions, not stored): the same text, for
      phrase queries (``POSITIONS_FIELD``).
    - ``hit`` (stored only): ``HIT_PARTS`` as a tuple.
    - workflow only: ``client_name`` (TEXT), ``company`` (lowercase ID),
      ``priority``, ``channel``, ``assignee`` (assigned_member), ``stage``
      (workflow_stage), ``status`` (E's conversation_status), ``resolved`` and
      ``archived`` (BOOLEAN).

    A ticket's documents are replaced by ``t_no`` and ``kind`` (no per-document key).
    """
    from whoosh.fields import BOOLEAN, ID, STORED, TEXT, Schema

    from gitstore_index.analysis import text_analyzer

    return Schema(
        t_no=ID(sortable=True),
        kind=ID(sortable=True),
        sender=_lower_id(),
        sender_id=_lower_id(),
        platform=_lower_id(),
        message_type=_lower_id(),
        time=TimeField(),
        content=TEXT(analyzer=text_analyzer(), stored=True, phrase=False),
        content_pos=TEXT(analyzer=text_analyzer(), stored=False, phrase=True),
        hit=STORED(),
        client_name=TEXT(analyzer=text_analyzer(), stored=False, phrase=False),
        company=_lower_id(),
        priority=_lower_id(),
        channel=_lower_id(),
        assignee=_lower_id(),
        stage=_lower_id(),
        status=_lower_id(),
        resolved=BOOLEAN(),
        archived=BOOLEAN(),
    )
