"""This site's private keys: the identity file of a person or agent, never committed.

Where it is, first match wins (docs/encryption.md#identities):

1. the ``GITSTORE_IDENTITY`` environment variable (a path);
2. git config ``gitstore.identityFile`` (the repository's, then global and system);
3. ``$XDG_CONFIG_HOME/gitstore/identity``, by default ``~/.config/gitstore/identity``.

The file holds age X25519 identities (``AGE-SECRET-KEY-1…`` lines, as ``age-keygen``
writes; ``#`` comments and blank lines ignored) or one OpenSSH private key
(``-----BEGIN OPENSSH PRIVATE KEY-----``, e.g. ``ssh-keygen -t ed25519 -N ''``; a
passphrase-protected key is refused: age cannot ask for the passphrase here).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pygit2

from gitstore.errors import KeyFileError

ENV = "GITSTORE_IDENTITY"
"""Environment variable naming the identity file."""

GIT_KEY = "gitstore.identityFile"
"""git config key naming the identity file."""

RULE = "docs/encryption.md#identities"

_SSH_BEGIN = b"-----BEGIN OPENSSH PRIVATE KEY-----"


def default_identity_path() -> Path:
    """``$XDG_CONFIG_HOME/gitstore/identity`` (``~/.config/gitstore/identity``)."""
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "gitstore" / "identity"


def identity_path(repo: pygit2.Repository | None = None) -> tuple[Path, bool]:
    """Where this site's identity file is, and whether it was configured explicitly.

    Args:
        repo: the repository whose git config may name the file (None: only the
            environment and the default path).

    Returns:
        ``(path, explicit)``: ``explicit`` is True for ``GITSTORE_IDENTITY`` and
        ``gitstore.identityFile`` (a missing file there is an error), False for the
        default path (a missing file there means no key).
    """
    value = os.environ.get(ENV)
    if value:
        return Path(value).expanduser(), True
    if repo is not None:
        try:
            configured = repo.config[GIT_KEY]
        except (KeyError, pygit2.GitError):
            configured = None
        if configured:
            path = Path(str(configured)).expanduser()
            if not path.is_absolute() and repo.workdir:
                path = Path(repo.workdir) / path
            return path, True
    return default_identity_path(), False


def parse_identities(data: bytes, where: str) -> list[Any]:
    """Parse the bytes of an identity file.

    Raises:
        KeyFileError: no key in it, a line that is not an age identity, or an OpenSSH
            key age cannot use (passphrase-protected, unsupported type).
    """
    import pyrage  # loaded on first use: a store without encryption never loads it

    if _SSH_BEGIN in data:
        try:
            return [pyrage.ssh.Identity.from_buffer(data)]
        except pyrage.IdentityError as exc:
            raise KeyFileError(f"{where}: unusable OpenSSH private key ({exc}) ({RULE})") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise KeyFileError(f"{where}: not an identity file (not UTF-8 text) ({RULE})") from None
    found = []
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if not line.startswith("AGE-SECRET-KEY-1"):
            raise KeyFileError(f"{where}: line {number} is not an age identity (AGE-SECRET-KEY-1...) ({RULE})")
        try:
            found.append(pyrage.x25519.Identity.from_str(line))
        except pyrage.IdentityError:
            raise KeyFileError(f"{where}: line {number} is a malformed age identity ({RULE})") from None
    if not found:
        raise KeyFileError(f"{where}: holds no identity ({RULE})")
    return found


def identities_for(repo: pygit2.Repository | None = None) -> list[Any]:
    """This site's age identities (pyrage objects), to decrypt sealed fields.

    Args:
        repo: the repository (its git config may name the identity file); None: the
            environment and the default path only.

    Returns:
        The identities; empty when none is configured (no ``GITSTORE_IDENTITY``, no
        ``gitstore.identityFile`` and no file at the default path).

    Raises:
        KeyFileError: the identity file is configured but missing, unreadable or
            malformed (one line naming the file).
    """
    path, explicit = identity_path(repo)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        if not explicit:
            return []
        raise KeyFileError(f"{path}: identity file not found ({RULE})") from None
    except OSError as exc:
        raise KeyFileError(f"{path}: cannot read the identity file ({exc.strerror or exc}) ({RULE})") from None
    return parse_identities(data, str(path))


def generate_identity(path: Path) -> str:
    """Write a new age X25519 identity to ``path`` (mode 0600) and return its public
    recipient (``age1…``). The folder is created (mode 0700) when missing.

    Raises:
        KeyFileError: ``path`` exists already, or cannot be written.
    """
    import pyrage  # loaded on first use: a store without encryption never loads it

    identity = pyrage.x25519.Identity.generate()
    public = str(identity.to_public())
    text = f"# gitstore identity (docs/encryption.md#identities)\n# public key: {public}\n{identity}\n"
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise KeyFileError(f"{path}: an identity file exists already ({RULE})") from None
    except OSError as exc:
        raise KeyFileError(f"{path}: cannot write the identity file ({exc.strerror or exc}) ({RULE})") from None
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)
        out.flush()
        os.fsync(out.fileno())
    return public


def matching(recipients: Any, identities: list[Any]) -> list[str]:
    """Names of the ``recipients`` (``recipients.Recipient``) that one of
    ``identities`` can decrypt for: a trial sealing of a few bytes per recipient, so
    it works for every kind of key without reading public keys out of private ones."""
    import pyrage  # loaded on first use: a store without encryption never loads it

    if not identities:
        return []
    found = []
    for recipient in recipients:
        probe = pyrage.encrypt(b"gitstore", [recipient.key])
        try:
            pyrage.decrypt(probe, identities)
        except pyrage.DecryptError:
            continue
        found.append(recipient.name)
    return found
