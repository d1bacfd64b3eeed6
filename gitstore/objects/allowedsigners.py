"""The allowed-signers registry: which SSH key may sign for which actor, and when.

The registry is the file ``.gitstore/allowed_signers`` of the store's tree, in the
format of ``ssh-keygen``'s ALLOWED SIGNERS section (``man ssh-keygen``), so the very
file can be handed to git as ``gpg.ssh.allowedSignersFile``. One entry a line::

    principals [options] keytype base64-key [comment]

- *principals*: a comma-separated pattern list (``*`` and ``?`` wildcards, ``!`` to
  exclude), double quotes around a name with spaces; gitstore writes one actor id;
- *options*: comma-separated ``valid-after="T"``, ``valid-before="T"`` (inclusive
  bounds; ``T`` is ``YYYYMMDD[Z]`` or ``YYYYMMDDHHMM[SS][Z]``, in the system's time zone
  unless it ends in ``Z``, which gitstore always writes), ``namespaces="…"`` and
  ``cert-authority`` (certificates are not supported: such lines never match);
- blank lines and lines starting with ``#`` are comments.

A line ``ssh-keygen`` would refuse (unknown option, unclosed quote, bad key, a
``valid-before`` not after ``valid-after``) is kept as it is but matches nothing here
either, and is listed in ``AllowedSigners.bad``.
"""

from __future__ import annotations

import calendar
import re
import time
from dataclasses import dataclass
from functools import lru_cache

import pygit2

from gitstore.errors import SignatureFormatError
from gitstore.objects.sshsig import NAMESPACE_GIT, PublicKey
from gitstore.objects.trees import blob_at

REGISTRY_PATH = ".gitstore/allowed_signers"
"""Where the registry lives in a store's tree."""

KEY_PREFIXES = ("ssh-", "ecdsa-", "sk-")
"""How key types start (a token that starts so is the key, not the options)."""

_TIME = re.compile(r"^(\d{8}|\d{12}|\d{14})(Z?)$")


def parse_time(text: str) -> int:
    """Parse an allowed-signers time (``YYYYMMDD[Z]``, ``YYYYMMDDHHMM[SS][Z]``) into Unix
    seconds: UTC with ``Z``, else the system's time zone (as ``ssh-keygen`` reads it).

    Raises:
        SignatureFormatError: any other form, or an impossible date.
    """
    found = _TIME.match(text)
    if not found:
        raise SignatureFormatError(f"invalid time {text!r}: use YYYYMMDD[Z] or YYYYMMDDHHMM[SS][Z]")
    digits = found.group(1).ljust(14, "0")
    try:
        parts = time.strptime(digits, "%Y%m%d%H%M%S")
    except ValueError:
        raise SignatureFormatError(f"invalid time {text!r}: no such date") from None
    return calendar.timegm(parts) if found.group(2) else int(time.mktime(parts))


def format_time(seconds: int) -> str:
    """Unix seconds as an allowed-signers UTC time: ``YYYYMMDDHHMMSSZ``."""
    return time.strftime("%Y%m%d%H%M%SZ", time.gmtime(seconds))


@lru_cache(maxsize=1024)
def _pattern(pattern: str) -> re.Pattern[str]:
    parts = [".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern]
    return re.compile("".join(parts), re.DOTALL)


def match_pattern_list(name: str, patterns: str) -> bool:
    """OpenSSH's pattern-list rule: ``name`` matches when a pattern matches it and no
    ``!``-negated pattern does (``*`` any run of characters, ``?`` one character)."""
    matched = False
    for pattern in patterns.split(","):
        negated = pattern.startswith("!")
        if _pattern(pattern[1:] if negated else pattern).fullmatch(name):
            if negated:
                return False
            matched = True
    return matched


@dataclass(frozen=True)
class SignerEntry:
    """One valid line of the registry.

    Attributes:
        principals: the principals pattern list, quotes removed (an actor id).
        key: the public key.
        valid_after: Unix seconds from which the key may sign (inclusive), or None.
        valid_before: Unix seconds until which it may sign (inclusive), or None.
        namespaces: the ``namespaces`` pattern list, or None for any.
        cert_authority: the key is a certificate authority (never matches here).
        comment: the text after the key.
        line_no: its line in the file (1-based).
    """

    principals: str
    key: PublicKey
    valid_after: int | None = None
    valid_before: int | None = None
    namespaces: str | None = None
    cert_authority: bool = False
    comment: str = ""
    line_no: int = 0

    def matches(self, principal: str) -> bool:
        """True when ``principal`` matches the entry's pattern list."""
        return match_pattern_list(principal, self.principals)

    def valid_at(self, when: int) -> bool:
        """True when the key may sign at ``when`` (Unix seconds, bounds inclusive)."""
        return (self.valid_after is None or when >= self.valid_after) and (self.valid_before is None or when <= self.valid_before)

    def allows(self, principal: str, when: int, namespace: str = NAMESPACE_GIT) -> bool:
        """True when this entry lets its key sign for ``principal`` at ``when``."""
        if self.cert_authority or (self.namespaces is not None and not match_pattern_list(namespace, self.namespaces)):
            return False
        return self.matches(principal) and self.valid_at(when)

    def window(self) -> str:
        """The validity as text: ``from 2026-01-01T10:00:00Z until 2026-02-01T00:00:00Z``."""
        def iso(seconds: int) -> str:
            return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))

        parts = []
        if self.valid_after is not None:
            parts.append(f"from {iso(self.valid_after)}")
        if self.valid_before is not None:
            parts.append(f"until {iso(self.valid_before)}")
        return " ".join(parts) or "always"


@dataclass(frozen=True)
class BadLine:
    """A registry line that is neither a comment nor a valid entry.

    Attributes:
        line_no: its line (1-based). text: the line. reason: why it is refused.
    """

    line_no: int
    text: str
    reason: str


def check_principal(name: str) -> None:
    """Refuse an actor id that cannot be written as one allowed-signers principal.

    Raises:
        SignatureFormatError: empty, surrounded by spaces, holding a control character,
            ``"``, ``,``, ``*`` or ``?``, or starting with ``!``.
    """
    if not name or name != name.strip() or any(ord(c) < 32 or c in '",*?' for c in name) or name.startswith("!"):
        raise SignatureFormatError(
            f"actor id {name!r} cannot be a signer: no quotes, commas, wildcards, control characters or leading '!'"
        )


def entry_line(principal: str, key: PublicKey, *, valid_after: int | None = None, valid_before: int | None = None,
               comment: str = "") -> str:
    """The registry line of one actor's key (times written in UTC, with ``Z``).

    Raises:
        SignatureFormatError: an actor id ``check_principal`` refuses, or a
            ``valid_before`` not after ``valid_after``.
    """
    check_principal(principal)
    if valid_after is not None and valid_before is not None and valid_before <= valid_after:
        raise SignatureFormatError("valid-before must be after valid-after")
    field = f'"{principal}"' if (" " in principal or principal.startswith("#")) else principal
    options = []
    if valid_after is not None:
        options.append(f'valid-after="{format_time(valid_after)}"')
    if valid_before is not None:
        options.append(f'valid-before="{format_time(valid_before)}"')
    comment = " ".join(comment.split())
    return " ".join(part for part in (field, ",".join(options), key.openssh(), comment) if part)


def _token(line: str, pos: int) -> tuple[str, int]:
    """The token at ``pos`` as OpenSSH's ``strdelimw`` cuts it: up to whitespace, or,
    when a double quote comes first, the quote dropped and the token ending at the
    matching quote (spaces inside kept). Returns ``(token, position after it)``."""
    end = pos
    while end < len(line) and line[end] not in ' \t"':
        end += 1
    if end < len(line) and line[end] == '"':
        close = line.find('"', end + 1)
        if close < 0:
            raise SignatureFormatError("unclosed quote in the principals")
        return line[pos:end] + line[end + 1:close], close + 1
    return line[pos:end], end


def _options_token(line: str, pos: int) -> tuple[str, int]:
    """The options field: up to the first whitespace outside double quotes."""
    quoted = False
    end = pos
    while end < len(line) and (quoted or line[end] not in " \t"):
        if line[end] == '"':
            quoted = not quoted
        end += 1
    if quoted:
        raise SignatureFormatError("unclosed quote in the options")
    return line[pos:end], end


def _parse_options(text: str) -> dict[str, str | bool]:
    options: dict[str, str | bool] = {}
    pos = 0
    while pos < len(text):
        name_end = pos
        while name_end < len(text) and text[name_end] not in ",=":
            name_end += 1
        name = text[pos:name_end].lower()
        if name in options:
            raise SignatureFormatError(f"option {name} given twice")
        if name == "cert-authority":
            options[name] = True
            pos = name_end
        elif name in ("namespaces", "valid-after", "valid-before"):
            if not text.startswith('="', name_end):
                raise SignatureFormatError(f'option {name} needs a quoted value ({name}="...")')
            close = text.find('"', name_end + 2)
            options[name] = text[name_end + 2:close]
            pos = close + 1
        else:
            raise SignatureFormatError(f"unknown option {text[pos:name_end]!r}")
        if pos < len(text):
            if text[pos] != ",":
                raise SignatureFormatError("options must be separated by commas")
            pos += 1
            if pos == len(text):
                raise SignatureFormatError("the options end with a comma")
    return options


def parse_entry(line: str, line_no: int = 0) -> SignerEntry | None:
    """Parse one registry line; None for a blank or comment line.

    Raises:
        SignatureFormatError: a line ``ssh-keygen`` would refuse (with the reason).
    """
    pos = len(line) - len(line.lstrip(" \t"))
    if pos == len(line) or line[pos] == "#":
        return None
    principals, pos = _token(line, pos)
    rest = line[pos:].lstrip(" \t")
    if not principals or not rest:
        raise SignatureFormatError("a line needs principals and a key")
    options: dict[str, str | bool] = {}
    if not rest.startswith(KEY_PREFIXES):
        text, end = _options_token(rest, 0)
        options = _parse_options(text)
        rest = rest[end:].lstrip(" \t")
    key, comment = PublicKey.parse(rest)
    after = parse_time(str(options["valid-after"])) if "valid-after" in options else None
    before = parse_time(str(options["valid-before"])) if "valid-before" in options else None
    if after is not None and before is not None and before <= after:
        raise SignatureFormatError('"valid-before" time is before "valid-after"')
    namespaces = options.get("namespaces")
    return SignerEntry(
        principals, key, after, before, namespaces if isinstance(namespaces, str) else None,
        bool(options.get("cert-authority")), comment, line_no,
    )


class AllowedSigners:
    """A parsed registry: its lines as written, the valid entries, the bad lines.

    Args:
        lines: the file's lines, without line ends.
    """

    def __init__(self, lines: list[str] | None = None):
        self.lines = list(lines or [])
        self.entries: list[SignerEntry] = []
        self.bad: list[BadLine] = []
        self.by_key: dict[bytes, list[SignerEntry]] = {}
        for number, line in enumerate(self.lines, 1):
            try:
                entry = parse_entry(line, number)
            except SignatureFormatError as exc:
                self.bad.append(BadLine(number, line, str(exc)))
                continue
            if entry is not None:
                self.entries.append(entry)
                self.by_key.setdefault(entry.key.blob, []).append(entry)

    @classmethod
    def parse(cls, data: bytes | str) -> "AllowedSigners":
        """Parse the registry file's bytes (UTF-8; undecodable bytes are replaced)."""
        text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
        return cls(text.splitlines())

    def for_key(self, key: PublicKey) -> list[SignerEntry]:
        """The entries of ``key``, in file order (empty when the key is unknown)."""
        return self.by_key.get(key.blob, [])

    def render(self) -> bytes:
        """The file's bytes: the lines, each ending in a newline."""
        return "".join(line + "\n" for line in self.lines).encode("utf-8")

    def with_line(self, text: str) -> "AllowedSigners":
        """A copy with one more line at the end."""
        return AllowedSigners(self.lines + [text])

    def with_replaced(self, line_no: int, text: str) -> "AllowedSigners":
        """A copy whose line ``line_no`` (1-based) reads ``text``."""
        lines = list(self.lines)
        lines[line_no - 1] = text
        return AllowedSigners(lines)


_CACHE: dict[bytes, AllowedSigners] = {}


def registry_at(repo: pygit2.Repository, tree: pygit2.Tree) -> AllowedSigners | None:
    """The registry of a tree, or None when the tree has no ``.gitstore/allowed_signers``
    (parsed once per blob and kept)."""
    oid = blob_at(tree, REGISTRY_PATH)
    if oid is None:
        return None
    found = _CACHE.get(oid.raw)
    if found is None:
        if len(_CACHE) > 256:
            _CACHE.clear()
        found = _CACHE[oid.raw] = AllowedSigners.parse(repo[oid].read_raw())
    return found


__all__ = [
    "REGISTRY_PATH", "AllowedSigners", "BadLine", "SignerEntry", "check_principal", "entry_line", "format_time",
    "match_pattern_list", "parse_entry", "parse_time", "registry_at",
]
