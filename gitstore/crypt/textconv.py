"""An I file with its sealed fields decrypted: git's ``textconv`` for ``diff``/``log -p``/``blame``.

``.gitattributes`` routes I files to the diff driver ``gitstore-crypt``
(``ATTRIBUTES_LINE``) and ``.git/config`` makes that driver's textconv
``gitstore crypt textconv`` (``TEXTCONV_KEY``), so a key holder's plain ``git diff``,
``git log -p`` and ``git blame`` show clear text line for line. Git runs it on the
stored bytes; it never changes what is committed. Sealed strings this site cannot
decrypt are left as they are (docs/encryption.md#git).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Sequence

import pygit2

from gitstore.crypt.identities import identities_for
from gitstore.crypt.sealing import try_unseal
from gitstore.errors import CiphertextError
from gitstore.tickets import layout

DIFF_DRIVER = "gitstore-crypt"
"""The name of the diff driver (``diff=gitstore-crypt``)."""

ATTRIBUTES_LINE = f"{layout.ROOT}/T_int/**/I_*.json diff={DIFF_DRIVER}"
"""The ``.gitattributes`` line that routes I files through the textconv."""

TEXTCONV_KEY = f"diff.{DIFF_DRIVER}.textconv"
"""The git config key of the textconv command."""

_SEALED = re.compile(r'"(age:v1:[A-Za-z0-9+/=]*)"')


def textconv(data: bytes, identities: Sequence[Any]) -> bytes:
    """Return ``data`` (an I file's bytes) with each sealed JSON string that one of
    ``identities`` decrypts replaced by its clear text as a JSON string; everything
    else, layout included, byte for byte."""
    text = data.decode("utf-8", "surrogateescape")
    if not identities or "age:v1:" not in text:
        return data

    def clear(match: re.Match[str]) -> str:
        try:
            value = try_unseal(match.group(1), identities)
        except CiphertextError:
            return match.group(0)
        return match.group(0) if value is None else json.dumps(value, ensure_ascii=False)

    return _SEALED.sub(clear, text).encode("utf-8", "surrogateescape")


def set_textconv(repo: pygit2.Repository, command: str) -> None:
    """Register ``command`` as the textconv of the ``gitstore-crypt`` diff driver in the
    repository's ``.git/config`` (never cached: a cache would store clear text in refs)."""
    repo.config[TEXTCONV_KEY] = command
    repo.config[f"diff.{DIFF_DRIVER}.cachetextconv"] = False


def textconv_file(path: str | Path, repo: pygit2.Repository | None = None) -> bytes:
    """The bytes of the file at ``path`` with each sealed field this site decrypts in
    clear text (``textconv``), with the identities of ``repo``'s site.

    Raises:
        KeyFileError: the configured identity file cannot be read.
        OSError: ``path`` cannot be read.
    """
    return textconv(Path(path).read_bytes(), identities_for(repo))
