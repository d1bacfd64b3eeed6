"""Remotes of a store: other sites and hubs, kept in ``.git/config`` like git's own.

Supported URLs (libgit2's transports, as built into pygit2):

- a local path (made absolute when added) or ``file:///path``;
- ``git://host[:port]/path`` (``git daemon``; no authentication, read-only unless the
  daemon enables receive-pack);
- ``ssh://[user@]host[:port]/path`` and scp-like ``user@host:path`` (keys from the
  running ssh agent, ``SSH_AUTH_SOCK``);
- ``https://host/path`` (and ``http://``): user name and password from git's credential
  helpers (``git credential fill``, i.e. ``credential.helper`` in git config).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pygit2

from gitstore.errors import RemoteError
from gitstore.objects.refs import BRANCH

_SCP_LIKE = re.compile(r"^[A-Za-z0-9._-]+@[A-Za-z0-9.-]+:")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


@dataclass(frozen=True)
class RemoteInfo:
    """One configured remote.

    Attributes:
        name: the remote's name (``origin``, ``hub``…).
        url: its URL as stored.
        transport: ``local``, ``file``, ``git``, ``ssh``, ``https`` or ``http``.
    """

    name: str
    url: str
    transport: str


def transport_of(url: str) -> str:
    """Return the transport of a URL (see the module docstring).

    Raises:
        RemoteError: an empty URL or an unsupported scheme.
    """
    if not url or any(c in url for c in "\n\r\0"):
        raise RemoteError(f"invalid remote URL {url!r}")
    match = re.match(r"^([A-Za-z][A-Za-z0-9+.-]*)://", url)
    if match:
        scheme = match.group(1).lower()
        if scheme in ("file", "git", "ssh", "https", "http"):
            return scheme
        if scheme in ("git+ssh", "ssh+git"):
            return "ssh"
        raise RemoteError(f"unsupported remote URL {url!r}: use a path, file://, git://, ssh:// or https://")
    if _SCP_LIKE.match(url):
        return "ssh"
    return "local"


def normalise_url(url: str) -> str:
    """Return the URL to store: local paths become absolute, others are unchanged."""
    if transport_of(url) == "local":
        return str(Path(url).expanduser().resolve())
    return url


def add_remote(repo: pygit2.Repository, name: str, url: str) -> RemoteInfo:
    """Add a remote (fetches ``refs/heads/*`` into ``refs/remotes/<name>/*``).

    Raises:
        RemoteError: invalid name or URL, or a remote of that name already exists.
    """
    if not _NAME.match(name or ""):
        raise RemoteError(f"invalid remote name {name!r}: 1-64 letters, digits, '.', '_', '-'")
    if name in repo.remotes.names():
        raise RemoteError(f"remote {name!r} already exists (url {repo.remotes[name].url})")
    stored = normalise_url(url)
    try:
        repo.remotes.create(name, stored)
    except (ValueError, pygit2.GitError) as exc:
        raise RemoteError(f"cannot add remote {name!r}: {exc}") from None
    return RemoteInfo(name, stored, transport_of(stored))


def list_remotes(repo: pygit2.Repository) -> list[RemoteInfo]:
    """Return the configured remotes, sorted by name."""
    found = []
    for name in sorted(n for n in repo.remotes.names() if n):
        url = repo.remotes[name].url or ""
        try:
            kind = transport_of(url)
        except RemoteError:
            kind = "unknown"
        found.append(RemoteInfo(name, url, kind))
    return found


def remove_remote(repo: pygit2.Repository, name: str) -> RemoteInfo:
    """Remove a remote and its remote-tracking refs.

    Raises:
        RemoteError: no remote of that name.
    """
    info = {r.name: r for r in list_remotes(repo)}.get(name)
    if info is None:
        raise RemoteError(f"no remote named {name!r} (see 'gitstore remote list')")
    repo.remotes.delete(name)
    return info


def resolve_remote(repo: pygit2.Repository, remote: str) -> tuple[str | None, pygit2.Remote]:
    """Return ``(name or None, pygit2 Remote)`` for a remote name or a URL.

    A configured name wins; otherwise a string that looks like a URL or an existing
    path is used as an anonymous remote.

    Raises:
        RemoteError: neither a configured remote nor a usable URL.
    """
    if remote in repo.remotes.names():
        return remote, repo.remotes[remote]
    kind = transport_of(remote)
    if kind == "local" and not Path(remote).expanduser().exists():
        names = ", ".join(sorted(n for n in repo.remotes.names() if n)) or "none configured"
        raise RemoteError(f"no remote named {remote!r} and no such path (remotes: {names})")
    return None, repo.remotes.create_anonymous(normalise_url(remote))


def upstream_of(repo: pygit2.Repository) -> str | None:
    """Return the remote ``main`` tracks (``branch.main.remote``), or None."""
    try:
        return repo.config["branch.main.remote"]
    except KeyError:
        return None


def default_remote(repo: pygit2.Repository) -> str:
    """The remote ``pull``/``push``/``sync`` use when none is named: the one ``main``
    tracks (set by ``clone`` and by the first push, like ``git push -u``), else
    ``origin``."""
    return upstream_of(repo) or "origin"


def set_upstream(repo: pygit2.Repository, name: str) -> None:
    """Make ``main`` track ``name``'s main, as ``git push -u NAME main`` does
    (``branch.main.remote``, ``branch.main.merge``): a plain ``git pull``/``git push``
    and gitstore's own commands then default to it."""
    repo.config["branch.main.remote"] = name
    repo.config["branch.main.merge"] = BRANCH
