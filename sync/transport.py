"""Talking to a remote: credentials, fetch of ``main``, push with per-ref server answers.

pygit2 does not raise when a server refuses a ref (docs/architecture-notes.md "Sync"):
the refusal arrives through the ``push_update_reference`` callback, and a hook's
explanation through ``sideband_progress`` (the ``remote:`` lines of git).
``push_main`` checks every ref's answer and raises ``PushRejected`` naming the ref and
the reason.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import pygit2

from gitstore.errors import PushRejected, RemoteError
from gitstore.objects.refs import BRANCH

MAX_AUTH_ATTEMPTS = 3


def git_credential_fill(url: str, username: str | None = None) -> tuple[str, str] | None:
    """Ask git's credential helpers for a user name and password for ``url``.

    Runs ``git credential fill`` (git's credential conventions: ``credential.helper``,
    ``credential.<url>.username``) with prompting disabled.

    Returns:
        ``(username, password)``, or None when no helper knows the URL or git is absent.
    """
    parts = urlsplit(url)
    request = f"protocol={parts.scheme}\nhost={parts.hostname or ''}"
    if parts.port:
        request += f":{parts.port}"
    request += f"\npath={parts.path.lstrip('/')}\n"
    if username or parts.username:
        request += f"username={username or parts.username}\n"
    env = dict(os.environ, GIT_TERMINAL_PROMPT="0", GIT_ASKPASS="true", SSH_ASKPASS="true")
    try:
        proc = subprocess.run(
            ["git", "credential", "fill"], input=request + "\n", capture_output=True, text=True, env=env, timeout=30
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if proc.returncode != 0:
        return None
    values = dict(line.split("=", 1) for line in proc.stdout.splitlines() if "=" in line)
    if values.get("username") and "password" in values:
        return values["username"], values["password"]
    return None


class SyncCallbacks(pygit2.RemoteCallbacks):
    """Remote callbacks: credentials, per-ref push answers and the server's messages.

    Attributes:
        answers: ref → None (accepted) or the server's refusal message, per pushed ref.
        sideband: text the server printed (hook output), in order.
    """

    def __init__(self, url: str):
        super().__init__()
        self.url = url
        self.answers: dict[str, str | None] = {}
        self.sideband: list[str] = []
        self._auth_attempts = 0

    def credentials(self, url, username_from_url, allowed_types):  # noqa: D401 - pygit2 hook
        """Supply credentials: ssh agent keys, git credential helpers, or a user name."""
        self._auth_attempts += 1
        if self._auth_attempts > MAX_AUTH_ATTEMPTS:
            raise RemoteError(f"authentication to {self.url} failed {MAX_AUTH_ATTEMPTS} times")
        types = pygit2.enums.CredentialType
        user = username_from_url or "git"
        if allowed_types & types.SSH_KEY:
            if not os.environ.get("SSH_AUTH_SOCK"):
                raise RemoteError(f"{self.url} needs an ssh key: start an ssh agent and add your key (ssh-add)")
            return pygit2.KeypairFromAgent(user)
        if allowed_types & types.USERPASS_PLAINTEXT:
            found = git_credential_fill(url, username_from_url)
            if found is None:
                raise RemoteError(f"{self.url} needs a user name and password: configure a git credential helper")
            return pygit2.UserPass(*found)
        if allowed_types & types.USERNAME:
            return pygit2.Username(user)
        raise RemoteError(f"{self.url} asks for an authentication method gitstore does not support")

    def push_update_reference(self, refname: str, message: str | None) -> None:
        """Record the server's answer for one ref (None or empty means accepted)."""
        self.answers[refname] = message or None

    def sideband_progress(self, string: str) -> None:
        """Record what the server printed (a hook's refusal reason)."""
        self.sideband.append(string)

    def server_text(self) -> str:
        """The server's printed lines, joined into one line."""
        lines = [line.strip() for line in "".join(self.sideband).splitlines()]
        return " | ".join(line for line in lines if line)


def url_of(remote: pygit2.Remote) -> str:
    """The remote's URL ("" when libgit2 has none for it)."""
    return remote.url or ""


def _describe(remote: pygit2.Remote) -> str:
    return f"{remote.name!r} ({url_of(remote)})" if remote.name else url_of(remote)


def remote_main(remote: pygit2.Remote) -> tuple[pygit2.Oid | None, bool]:
    """Return ``(id of the remote's refs/heads/main or None, whether it has any ref)``.

    Raises:
        RemoteError: the remote cannot be reached.
    """
    callbacks = SyncCallbacks(url_of(remote))
    try:
        heads = remote.list_heads(callbacks=callbacks)
    except (pygit2.GitError, OSError, ValueError) as exc:
        raise RemoteError(f"cannot reach remote {_describe(remote)}: {_one_line(exc)}") from None
    main = None
    for head in heads:
        if head.name == BRANCH:
            main = head.oid
    return main, bool(heads)


def fetch_main(repo: pygit2.Repository, remote: pygit2.Remote, *, allow_empty: bool = False) -> pygit2.Oid | None:
    """Fetch the remote's ``refs/heads/main`` and return the commit id fetched.

    No ref of this store is changed (the objects arrive, FETCH_HEAD is written); the
    caller updates ``refs/remotes/<name>/main`` once it accepted the content.

    Args:
        allow_empty: return None for a remote without any ref (a new, empty hub)
            instead of raising.

    Raises:
        RemoteError: unreachable, or no ``refs/heads/main`` there (not a gitstore store).
    """
    main, any_ref = remote_main(remote)
    if main is None and allow_empty and not any_ref:
        return None
    if main is None:
        what = "an empty repository" if not any_ref else "a repository without refs/heads/main"
        raise RemoteError(f"remote {_describe(remote)} is not a gitstore store: {what}")
    if main not in repo:
        callbacks = SyncCallbacks(url_of(remote))
        try:
            _fresh(repo, remote).fetch([BRANCH], callbacks=callbacks, message="gitstore fetch")
        except (pygit2.GitError, OSError, ValueError) as exc:
            raise RemoteError(f"fetch from {_describe(remote)} failed: {_one_line(exc)}") from None
        if main not in repo:
            raise RemoteError(f"fetch from {_describe(remote)} did not bring commit {main}")
    return main


@dataclass
class RefAnswer:
    """The server's answer for one pushed ref.

    Attributes:
        ref: the ref pushed.
        old: the remote's commit before (None: the ref was created).
        new: the commit pushed.
        status: ``ok`` or ``up-to-date``.
    """

    ref: str
    old: str | None
    new: str
    status: str


@dataclass
class PushAnswers:
    """All ref answers of one push, and what the server printed."""

    refs: list[RefAnswer] = field(default_factory=list)
    server: str = ""


def push_main(repo: pygit2.Repository, remote: pygit2.Remote, local: pygit2.Oid) -> PushAnswers:
    """Push ``local`` to the remote's ``refs/heads/main``, checking the server's answer.

    The push is refused before sending anything when the remote's main is not an
    ancestor of ``local`` (a non-fast-forward: pull first).

    Raises:
        RemoteError: the remote cannot be reached, or holds refs but no main.
        PushRejected: non-fast-forward (``retryable``), or the server refused the ref
            (a hook; the message carries the hook's output).
    """
    before, any_ref = remote_main(remote)
    if before is None and any_ref:
        raise RemoteError(f"remote {_describe(remote)} is not a gitstore store: no refs/heads/main")
    if before == local:
        return PushAnswers([RefAnswer(BRANCH, str(before), str(local), "up-to-date")])
    if before is not None and (before not in repo or not repo.descendant_of(local, before)):
        raise PushRejected(
            BRANCH,
            "non-fast-forward: the remote has commits this store does not have (pull first, or use 'gitstore sync')",
            retryable=True,
        )
    callbacks = SyncCallbacks(url_of(remote))
    try:
        _fresh(repo, remote).push([f"{BRANCH}:{BRANCH}"], callbacks=callbacks)
    except (pygit2.GitError, OSError, ValueError) as exc:
        server = callbacks.server_text()
        detail = f" (server: {server})" if server else ""
        raise RemoteError(f"push to {_describe(remote)} failed: {_one_line(exc)}{detail}") from None
    server = callbacks.server_text()
    if BRANCH not in callbacks.answers:
        raise PushRejected(BRANCH, f"the server sent no answer for the ref{f' ({server})' if server else ''}")
    for ref, message in sorted(callbacks.answers.items()):
        if message:
            retryable = any(word in message.lower() for word in ("fast-forward", "fetch first", "failed to lock", "stale info"))
            reason = message + (f" ({server})" if server else "")
            raise PushRejected(ref, reason, retryable=retryable)
    return PushAnswers([RefAnswer(BRANCH, str(before) if before else None, str(local), "ok")], server)


def _fresh(repo: pygit2.Repository, remote: pygit2.Remote) -> pygit2.Remote:
    """A new handle on the same remote: libgit2 keeps the connection ``list_heads``
    opened (in the fetch direction), which a push on the same handle cannot reuse."""
    return repo.remotes[remote.name] if remote.name else repo.remotes.create_anonymous(url_of(remote))


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__
