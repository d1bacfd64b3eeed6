"""API tokens: who an HTTP request acts as (docs/http.md#authentication).

``gitstore token create ACTOR`` makes a token — ``gst_`` and ``secrets.token_urlsafe(32)``
(32 random bytes) — and prints it once. The store keeps only its SHA-256, with the
actor it names, in ``.git/gitstore/tokens.json``: derived, per-site data that is never
committed or pushed. The file is replaced atomically (a temporary file, fsync,
``os.replace``) with mode 0600, under a ``filelock`` lock (``tokens.json.lock``) so the
CLI and a running server never lose each other's changes; a server re-reads it when it
changes, so a revoked token stops working at the next request.

A token names an actor, never a role: the actor's role is looked up in the store's role
registry (``gitstore role set``; docs/data-model.md#roles) at every request, so a role
change applies to tokens already handed out.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import threading
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

from gitstore.errors import GitStoreError, LockTimeout, ValidationError
from gitstore.timeutil import format_utc, utc_now

FILE_NAME = "tokens.json"
PREFIX = "gst_"
"""Every token starts with this, so a leaked one is easy to recognise (secret scanners)."""
FORMAT_VERSION = 1
MAX_NAME = 100
MAX_ACTOR = 256


class TokenNotFound(GitStoreError, KeyError):
    """A token id that ``tokens.json`` does not hold (``gitstore token revoke``)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "token not found"


class TokenFileError(GitStoreError, ValueError):
    """``.git/gitstore/tokens.json`` cannot be read (malformed JSON, wrong shape)."""


@dataclass(frozen=True)
class TokenRecord:
    """One API token as stored (the token itself is not: only its SHA-256).

    Attributes:
        id: ``tok_`` and 12 hex digits; names the token in ``list``/``revoke``.
        actor: the actor a request with this token acts as.
        name: a label (``--name``), or None.
        created: when it was made, UTC ISO 8601.
        revoked: when it was revoked, UTC ISO 8601; None while it is valid.
        sha256: hex SHA-256 of the token.
    """

    id: str
    actor: str
    name: str | None
    created: str
    revoked: str | None
    sha256: str

    @property
    def active(self) -> bool:
        """True until the token is revoked."""
        return self.revoked is None

    def to_json(self) -> dict[str, Any]:
        """The record for output (``token list --json``): everything but the hash."""
        return {"id": self.id, "actor": self.actor, "name": self.name, "created": self.created, "revoked": self.revoked}


@dataclass(frozen=True)
class CreatedToken:
    """What ``create_token`` returns: the stored record and the token, shown once.

    Attributes:
        record: the ``TokenRecord``.
        token: the bearer token (``gst_…``); nowhere else after this.
    """

    record: TokenRecord
    token: str

    def to_json(self) -> dict[str, Any]:
        """The record with the token (``token create --json``)."""
        return {**self.record.to_json(), "token": self.token}


def digest(token: str) -> str:
    """Hex SHA-256 of a token's UTF-8 bytes."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def _check_line(value: Any, what: str, limit: int) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValidationError(f"{what} must be a non-empty text")
    if len(value) > limit or any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise ValidationError(f"{what} must be one line of at most {limit} characters without control characters")
    return value


class TokenRegistry:
    """The tokens of one store (``<git dir>/gitstore/tokens.json``).

    Args:
        state_dir: the store's ``.git/gitstore`` folder (``Store.state_dir``).
        lock_timeout: seconds to wait for another writer of the file.

    Thread-safe: ``lookup`` may be called from any thread.
    """

    def __init__(self, state_dir: str | os.PathLike, *, lock_timeout: float = 10.0):
        self.path = Path(state_dir) / FILE_NAME
        self.lock = FileLock(str(self.path) + ".lock", timeout=lock_timeout)
        self._mutex = threading.Lock()
        self._seen: tuple[int, int, int] | None = None
        self._records: tuple[TokenRecord, ...] = ()

    # ------------------------------------------------------------------ file
    def _read(self) -> tuple[TokenRecord, ...]:
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return ()
        try:
            document = json.loads(data.decode("utf-8"))
            rows = document["tokens"]
            return tuple(
                TokenRecord(r["id"], r["actor"], r.get("name"), r["created"], r.get("revoked"), r["sha256"]) for r in rows
            )
        except (UnicodeDecodeError, ValueError, KeyError, TypeError) as exc:
            raise TokenFileError(f"{self.path} is unreadable ({type(exc).__name__}: {exc}); fix or remove it") from None

    def _write(self, records: tuple[TokenRecord, ...]) -> None:
        document = {
            "version": FORMAT_VERSION,
            "tokens": [{**r.to_json(), "sha256": r.sha256} for r in records],
        }
        data = (json.dumps(document, indent=2, ensure_ascii=False) + "\n").encode("utf-8")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{FILE_NAME}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(tmp, 0o600)
            os.replace(tmp, self.path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        folder = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(folder)
        finally:
            os.close(folder)

    def _locked(self) -> FileLock:
        try:
            self.lock.acquire()
        except Timeout:
            raise LockTimeout(f"{self.lock.lock_file} is held by another writer of the tokens (waited {self.lock.timeout} s)") from None
        return self.lock

    # ------------------------------------------------------------------ changes
    def create(self, actor: str, name: str | None = None) -> CreatedToken:
        """Make a token for ``actor`` and store its hash.

        Raises:
            ValidationError: an empty or multi-line actor or name, or one too long.
            LockTimeout: another writer held the file's lock too long.
            TokenFileError: the file cannot be read.
        """
        _check_line(actor, "the actor", MAX_ACTOR)
        if name is not None:
            _check_line(name, "the token name", MAX_NAME)
        token = PREFIX + secrets.token_urlsafe(32)
        record = TokenRecord("tok_" + secrets.token_hex(6), actor, name, format_utc(utc_now()), None, digest(token))
        lock = self._locked()
        try:
            self._write(self._read() + (record,))
        finally:
            lock.release()
        return CreatedToken(record, token)

    def revoke(self, token_id: str) -> TokenRecord:
        """Revoke a token: requests carrying it are refused from now on. A token
        revoked before stays as it was (the record says when).

        Returns:
            The record, with ``revoked`` set.

        Raises:
            TokenNotFound: no token has this id.
            LockTimeout, TokenFileError.
        """
        lock = self._locked()
        try:
            records = self._read()
            found = next((r for r in records if r.id == token_id), None)
            if found is None:
                raise TokenNotFound(f"no token {token_id!r} (gitstore token list shows them)")
            if not found.active:
                return found
            done = replace(found, revoked=format_utc(utc_now()))
            self._write(tuple(done if r.id == token_id else r for r in records))
            return done
        finally:
            lock.release()

    def records(self) -> list[TokenRecord]:
        """Every token record, oldest first (revoked ones included).

        Raises:
            TokenFileError: the file cannot be read.
        """
        return list(self._read())

    # ------------------------------------------------------------------ requests
    def lookup(self, token: str) -> TokenRecord | None:
        """The record of a presented token (revoked or not), None when no record has
        its hash. Each record's hash is compared in constant time
        (``hmac.compare_digest``); the file is re-read when it changed on disk.

        Raises:
            TokenFileError: the file cannot be read.
        """
        wanted = digest(token)
        found = None
        for record in self._current():
            if hmac.compare_digest(record.sha256, wanted):
                found = record
        return found

    def _current(self) -> tuple[TokenRecord, ...]:
        try:
            st = os.stat(self.path)
            seen: tuple[int, int, int] | None = (st.st_ino, st.st_mtime_ns, st.st_size)
        except FileNotFoundError:
            seen = None
        with self._mutex:
            if seen != self._seen or seen is None:
                self._records = self._read() if seen is not None else ()
                self._seen = seen
            return self._records


def registry_of(store: Any) -> TokenRegistry:
    """The token registry of an open ``gitstore.Store``."""
    return TokenRegistry(store.state_dir)


def create_token(store: Any, actor: str, *, name: str | None = None) -> CreatedToken:
    """Create an API token for ``actor`` (``gitstore token create``); see ``TokenRegistry.create``."""
    return registry_of(store).create(actor, name)


def list_tokens(store: Any) -> list[TokenRecord]:
    """The store's API tokens (``gitstore token list``); see ``TokenRegistry.records``."""
    return registry_of(store).records()


def revoke_token(store: Any, token_id: str) -> TokenRecord:
    """Revoke an API token (``gitstore token revoke``); see ``TokenRegistry.revoke``."""
    return registry_of(store).revoke(token_id)


__all__ = [
    "CreatedToken", "TokenRecord", "TokenRegistry", "TokenNotFound", "TokenFileError", "PREFIX",
    "create_token", "list_tokens", "revoke_token", "digest",
]
