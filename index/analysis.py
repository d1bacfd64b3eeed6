"""The text analyser of the search index: words out of markup, CJK text as bigrams.

``text_analyzer()`` is what ``content``, ``content_pos`` and ``client_name`` are indexed
and queried with (``schema.make_schema``): ``WordTokenizer`` → lowercase →
``StopFilter`` (Whoosh's English stop words and one-letter words; positions renumbered
as Whoosh does) → Porter stemming (``printers`` finds ``printer``).

``WordTokenizer`` finds, in one pass:

- **words**: runs of letters and digits, joined by ``.`` or ``_`` into one token
  (``19.5.0``, ``help.minecraft.net``, ``max_connections``). Underscores are never part
  of a word's edge, so Slack/Markdown markup does not hide it: ``*word*``, ``_word_``,
  ``~word~``, ```word```, ``word.`` all give ``word``. When indexing, a joined token
  is also indexed as its parts, at the same position (``minecraft`` finds
  ``help.minecraft.net``; ``max_connections`` finds itself);
- **CJK runs** (Han, Hiragana, Katakana, Hangul, their iteration marks and
  half-width Katakana): Chinese, Japanese and Korean have no spaces between words, so
  a run is indexed as overlapping character bigrams (``東京都`` → ``東京``, ``京都``),
  the approach of Lucene's ``CJKAnalyzer``/``CJKBigramFilter``; when indexing, each
  character is also indexed alone (Lucene's ``outputUnigrams``) so a one-character
  word is found too. A query is analysed the same way without the unigrams: ``京都``
  is the term ``京都``, ``東京都`` the terms ``東京`` and ``京都`` (all must match;
  in quotes, in that order), one character the character itself.

Positions: a bigram has the position of its first character, so a quoted CJK phrase
matches its bigrams in sequence; the parts of a joined word share its position.
"""

from __future__ import annotations

import re

from gitstore_index.compat import whoosh  # noqa: F401  (quiet import before any whoosh submodule)

# isort: split
from whoosh.analysis import STOP_WORDS, Filter, LowercaseFilter, StemFilter, Token, Tokenizer

CJK_CHARS = (
    "\u1100-\u11ff"  # Hangul Jamo
    "\u2e80-\u2fdf"  # CJK radicals, Kangxi radicals
    "\u3005-\u3007"  # 々 〆 〇
    "\u3021-\u3029\u3031-\u3035\u3038-\u303c"  # Hangzhou numerals, kana repeat marks
    "\u3041-\u309f"  # Hiragana
    "\u30a1-\u30fa\u30fc-\u30ff"  # Katakana (not the middle dot ・)
    "\u3105-\u312f\u3131-\u318e\u31a0-\u31bf\u31f0-\u31ff"  # Bopomofo, Hangul compat., Katakana ext.
    "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"  # CJK unified and compatibility ideographs
    "\ua960-\ua97f\uac00-\ud7af\ud7b0-\ud7ff"  # Hangul syllables and Jamo extensions
    "\uff66-\uff9f"  # half-width Katakana
    "\U00020000-\U0003134f"  # CJK extensions B–G
)
"""Characters written without spaces between words (regex class body)."""

_LETTER = rf"[^\W_{CJK_CHARS}]"
WORD_PATTERN = re.compile(rf"(?P<cjk>[{CJK_CHARS}]+)|(?P<word>{_LETTER}+(?:(?:\.|_+){_LETTER}+)*)")
"""A CJK run, or a word (letters/digits joined by ``.`` or underscores)."""

_PART = re.compile(rf"{_LETTER}+")
_CJK_CHAR = re.compile(rf"[{CJK_CHARS}]")


def is_cjk(text: str) -> bool:
    """True when ``text`` starts with a CJK character (a bigram or unigram token)."""
    return bool(text) and _CJK_CHAR.match(text) is not None


class WordTokenizer(Tokenizer):
    """Words and CJK bigrams (see the module doc), with positions and character ranges.

    ``expression`` is the pattern of one token as the text shows it (a word or a whole
    CJK run): search snippets find tokens with it and ask the analyser for their terms.
    """

    def __init__(self):
        self.expression = WORD_PATTERN

    def __eq__(self, other):
        return type(other) is type(self)

    def __hash__(self):
        return hash(type(self))

    def __call__(
        self,
        value,
        positions=False,
        chars=False,
        keeporiginal=False,
        removestops=True,
        start_pos=0,
        start_char=0,
        tokenize=True,
        mode="",
        **kwargs,
    ):
        """Yield Whoosh ``Token``s of ``value`` (one reused object, as Whoosh's tokenizers do).

        Args:
            value: the text.
            positions, chars: record positions / character ranges in the tokens.
            mode: ``"index"`` adds the parts of joined words and CJK unigrams;
                anything else (``"query"``) gives the query terms only.
        """
        assert isinstance(value, str), f"{value!r} is not text"
        t = Token(positions, chars, removestops=removestops, mode=mode, **kwargs)
        t.boost = 1.0
        t.stopped = False
        if not tokenize:
            t.original = t.text = value
            if positions:
                t.pos = start_pos
            if chars:
                t.startchar, t.endchar = start_char, start_char + len(value)
            yield t
            return
        indexing = mode == "index"
        pos = start_pos

        def emit(text: str, at: int, start: int, end: int) -> Token:
            t.text = text
            t.stopped = False
            if keeporiginal:
                t.original = text
            if positions:
                t.pos = at
            if chars:
                t.startchar, t.endchar = start_char + start, start_char + end
            return t

        for match in WORD_PATTERN.finditer(value):
            start, text = match.start(), match.group(0)
            if match.lastgroup == "word":
                yield emit(text, pos, start, match.end())
                if indexing and len(text) > 1 and ("." in text or "_" in text):
                    for part in _PART.finditer(text):
                        yield emit(part.group(0), pos, start + part.start(), start + part.end())
                pos += 1
                continue
            if len(text) == 1:
                yield emit(text, pos, start, start + 1)
                pos += 1
                continue
            for i in range(len(text) - 1):
                yield emit(text[i : i + 2], pos + i, start + i, start + i + 2)
                if indexing:
                    yield emit(text[i], pos + i, start + i, start + i + 1)
            if indexing:
                last = len(text) - 1
                yield emit(text[last], pos + last - 1, start + last, start + last + 1)
            pos += len(text) - 1


class StopFilter(Filter):
    """Drop stop words and one-character tokens (not CJK ones), renumbering positions.

    Like Whoosh's ``StopFilter`` (same stop list, ``minsize`` 2, positions made
    consecutive so a phrase matches across a removed stop word), except that tokens
    sharing a position (the parts of a joined word, a CJK bigram and its unigram)
    keep sharing one, and a one-character CJK token is a word.
    """

    def __init__(self, stoplist=STOP_WORDS, minsize: int = 2):
        self.stops = frozenset(stoplist)
        self.min = minsize

    def __eq__(self, other):
        return type(other) is type(self) and (other.stops, other.min) == (self.stops, self.min)

    def __hash__(self):
        return hash((type(self), self.min))

    def __call__(self, tokens):
        stops, minsize = self.stops, self.min
        first = last = None
        pos = 0
        for t in tokens:
            text = t.text
            if text not in stops and (len(text) >= minsize or is_cjk(text)):
                if t.positions:
                    if first is None:
                        first = last = t.pos
                        pos = t.pos
                    elif t.pos != last:
                        last = t.pos
                        pos += 1
                    t.pos = pos
                t.stopped = False
                yield t
            elif not t.removestops:
                t.stopped = True
                yield t


def text_analyzer():
    """Return the analyser of the index's text fields (see the module doc)."""
    return WordTokenizer() | LowercaseFilter() | StopFilter() | StemFilter()
