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

SCHEMA_VERSION = 3
"""Version of the index layout written by this code (recorded in ``state.json``).
2: word positions moved from ``content`` to ``content_pos``.
3: ``analysis.text_analyzer`` (words inside markup, CJK bigrams) replaces Whoosh's
``StemmingAnalyzer``."""

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

    return whoosh.fields.ID(stored=True, analyzer=IDTokenizer() | LowercaseFilter())


def make_schema():
    """Return the Whoosh ``Schema`` of the index.

    Fields (all stored, for hits and snippets):

    - ``doc_key`` (unique ID): ``E:<T_NO>:<message_id>``, ``I:<T_NO>:<message_id>`` or
      ``T:<T_NO>``.
    - ``t_no`` (ID, column), ``kind`` (ID, column), ``message_id`` (ID).
    - ``sender`` (role: customer, cs_agent, technical_member), ``sender_id``,
      ``platform`` (E: the conversation's platform; I: the message's), ``message_type``.
    - ``time`` (DATETIME): the message's timestamp; for a workflow document the
      ticket's ``card_create_timestamp``.
    - ``content`` (TEXT, ``analysis.text_analyzer``): the message text; for a workflow document
      client and company names, assignee and the agent decisions' text.
    - ``content_pos`` (TEXT, the same analyser, positions, not stored): the same text, for
      phrase queries (``POSITIONS_FIELD``).
    - workflow only: ``client_name`` (TEXT), ``company`` (lowercase ID) and
      ``company_name`` (stored), ``priority``, ``channel``, ``assignee``
      (assigned_member), ``stage`` (workflow_stage), ``status`` (E's
      conversation_status), ``resolved`` and ``archived`` (BOOLEAN).
    """
    from whoosh.fields import BOOLEAN, DATETIME, ID, STORED, TEXT, Schema

    from gitstore_index.analysis import text_analyzer

    return Schema(
        doc_key=ID(stored=True, unique=True),
        t_no=ID(stored=True, sortable=True),
        kind=ID(stored=True, sortable=True),
        message_id=ID(stored=True),
        sender=_lower_id(),
        sender_id=_lower_id(),
        platform=_lower_id(),
        message_type=_lower_id(),
        time=DATETIME(stored=True),
        content=TEXT(analyzer=text_analyzer(), stored=True, phrase=False),
        content_pos=TEXT(analyzer=text_analyzer(), stored=False, phrase=True),
        client_name=TEXT(analyzer=text_analyzer(), stored=True, phrase=False),
        company=_lower_id(),
        company_name=STORED(),
        priority=_lower_id(),
        channel=_lower_id(),
        assignee=_lower_id(),
        stage=_lower_id(),
        status=_lower_id(),
        resolved=BOOLEAN(stored=True),
        archived=BOOLEAN(stored=True),
    )
