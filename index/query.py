"""The query language: Whoosh's, checked strictly, plus the filters of ``search``.

QUERY is Whoosh's query language (``AND``/``OR``/``NOT``, parentheses, ``"phrases"``,
``field:value``, wildcards ``print*``, fuzzy ``printr~`` / ``printr~2``, ranges
``time:[2020-01-01 to 2020-02-01]``, ``time:>2020``). Bare words search ``content``.
Whoosh itself never rejects a query: it silently drops what it cannot parse, which
would turn a typo into wrong results. ``parse_query`` therefore refuses, with one line
saying why: unbalanced quotes, parentheses or brackets; an unknown ``field:``; a
dangling or doubled operator; a query with no search term left.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from gitstore.errors import InvalidQuery
from gitstore_index.compat import whoosh
from gitstore_index.documents import naive_utc
from gitstore_index.schema import FIELD_ALIASES, LOWERCASE_FIELDS, POSITIONS_FIELD

BINARY_OPERATORS = ("AND", "OR", "ANDNOT", "ANDMAYBE")
_FIELD_RE = re.compile(r"(?:^|(?<=[\s(]))([A-Za-z_][A-Za-z0-9_]*):")
_TOKEN_RE = re.compile(r"\(|\)|[^\s()]+")
MAX_QUERY_LENGTH = 2000
"""Longest query accepted, in characters."""


def _outside_quotes(text: str) -> str:
    """Return ``text`` with quoted phrases blanked out (quotes must be balanced)."""
    if text.count('"') % 2:
        raise InvalidQuery('invalid query: unbalanced double quote (")')
    return re.sub(r'"[^"]*"', lambda m: '"' + " " * (len(m.group(0)) - 2) + '"', text)


def check_syntax(text: str, field_names: set[str]) -> None:
    """Refuse query text Whoosh would silently misread.

    Raises:
        InvalidQuery: one line naming the problem.
    """
    if not text.strip():
        raise InvalidQuery("invalid query: empty")
    if len(text) > MAX_QUERY_LENGTH:
        raise InvalidQuery(f"invalid query: longer than {MAX_QUERY_LENGTH} characters")
    bare = _outside_quotes(text)
    depth = 0
    for char in bare:
        depth += {"(": 1, ")": -1}.get(char, 0)
        if depth < 0:
            raise InvalidQuery("invalid query: ')' without a matching '('")
    if depth:
        raise InvalidQuery("invalid query: '(' without a matching ')'")
    if bare.count("[") != bare.count("]") or bare.count("{") != bare.count("}"):
        raise InvalidQuery("invalid query: unbalanced range brackets ([...] or {...})")
    for name in _FIELD_RE.findall(bare):
        if name not in field_names:
            known = ", ".join(sorted(field_names))
            raise InvalidQuery(f"invalid query: unknown field {name!r} (known: {known}); quote text to search it literally")
    tokens = _TOKEN_RE.findall(bare)
    previous = None
    for position, token in enumerate(tokens):
        if token in BINARY_OPERATORS:
            if previous is None or previous == "(" or previous in BINARY_OPERATORS or previous == "NOT":
                raise InvalidQuery(f"invalid query: {token} needs a term before it")
            if position == len(tokens) - 1 or tokens[position + 1] == ")":
                raise InvalidQuery(f"invalid query: {token} needs a term after it")
        if token == "NOT" and (position == len(tokens) - 1 or tokens[position + 1] in (")", *BINARY_OPERATORS)):
            raise InvalidQuery("invalid query: NOT needs a term after it")
        previous = token


def make_parser(schema):
    """Return the Whoosh query parser: default field ``content``, fuzzy and ``>``/``<``
    plugins, ``ticket:`` as an alias of ``t_no`` and ``text:`` of ``content``."""
    from whoosh import qparser

    parser = qparser.QueryParser("content", schema)
    parser.add_plugin(qparser.FuzzyTermPlugin())
    parser.add_plugin(qparser.GtLtPlugin())
    parser.add_plugin(qparser.FieldAliasPlugin(FIELD_ALIASES))
    return parser


_PARSERS: dict[int, Any] = {}


def _parser_for(schema):
    """One parser per schema object (building one costs more than parsing a query)."""
    parser = _PARSERS.get(id(schema))
    if parser is None or parser.schema is not schema:
        parser = _PARSERS[id(schema)] = make_parser(schema)
    return parser


def parse_query(text: str, schema):
    """Parse a user's QUERY into a Whoosh query.

    Raises:
        InvalidQuery: bad syntax, unknown field, or nothing to search for.
    """
    names = set(schema.names()) | {alias for aliases in FIELD_ALIASES.values() for alias in aliases}
    check_syntax(text, names)
    try:
        query = _parser_for(schema).parse(text)
    except Exception as exc:  # Whoosh's parser raises assorted errors on odd input
        raise InvalidQuery(f"invalid query: {' '.join(str(exc).split()) or type(exc).__name__}") from None
    null = type(whoosh.query.NullQuery)
    if isinstance(query, null):
        raise InvalidQuery(
            f"invalid query: {text.strip()!r} has no search term (only operators, stop words or unreadable values)"
        )
    if any(isinstance(leaf, null) for leaf in query.leaves()):  # Whoosh drops a value it cannot read
        raise InvalidQuery(
            "invalid query: a field:value could not be read (time: takes dates such as 2020-03-01 or [2020-03-01 to 2020-04-01])"
        )
    return _phrases_on_positions(query)


def _phrases_on_positions(query):
    """Rewrite phrase queries on ``content`` to ``content_pos`` (``schema.POSITIONS_FIELD``)."""
    from whoosh.query import Phrase

    if isinstance(query, Phrase):
        if query.fieldname != "content":
            return query
        return Phrase(POSITIONS_FIELD, query.words, slop=query.slop, boost=query.boost, char_ranges=query.char_ranges)
    return query.apply(_phrases_on_positions)


def term(field: str, value: str):
    """Return an exact-match Whoosh term on an ID field (lowercased where indexed so)."""
    from whoosh.query import Term

    return Term(field, value.lower() if field in LOWERCASE_FIELDS else value)


def time_range(since: datetime | None, until: datetime | None):
    """Return a DATETIME range on ``time`` (inclusive), or None without bounds."""
    from whoosh.query import DateRange

    if since is None and until is None:
        return None
    return DateRange("time", naive_utc(since) if since else None, naive_utc(until) if until else None)


def parse_when(text: str | datetime | None, what: str) -> datetime | None:
    """Parse ``--since``/``--until`` text (``2020-03-01``, ``3 days ago``) into aware UTC.

    Raises:
        InvalidQuery: the text is not a date.
    """
    if text is None or isinstance(text, datetime):
        return text
    from gitstore.objects.revisions import parse_date

    value = parse_date(text)
    if value is None:
        raise InvalidQuery(f"invalid {what} date {text!r}: use e.g. 2020-03-01, 2020-03-01T12:00Z or '3 days ago'")
    return value
