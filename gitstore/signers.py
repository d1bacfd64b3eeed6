"""Who may sign: the store's allowed-signers registry, changed by commits of its own.

The registry is ``.gitstore/allowed_signers`` in the store's tree (git's allowed-signers
format, ``objects.allowedsigners``), so it is versioned, synced and merged like the rest
of the store, and the very file is what ``git verify-commit`` takes as
``gpg.ssh.allowedSignersFile``. Each change is one commit through the write path
(``Store.commit_tree_changes``), signed like every other commit, with the trailers
``Signer:`` (actor and key fingerprint) and ``Actor:``:

- ``add_signer``: a new line for the actor's key, valid from now (or ``valid_after``);
- ``remove_signer``: the actor's key lines get ``valid-before`` = now (or ``since``, to
  revoke a leaked key from the time it leaked): commits signed before still verify,
  later ones do not. Lines are never deleted, so history keeps verifying.

``verify_signatures`` checks the commits of a store (``history.signatures``).
See docs/signing.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

import pygit2

from gitstore.errors import SignatureFormatError, SignerError
from gitstore.history.signatures import SignatureReport, verify_range
from gitstore.objects.allowedsigners import REGISTRY_PATH, AllowedSigners, SignerEntry, check_principal, entry_line, registry_at
from gitstore.objects.sshsig import KEY_TYPE, PublicKey
from gitstore.timeutil import from_epoch, to_utc, utc_now
from gitstore.writer import commit_message, signature

if TYPE_CHECKING:
    from gitstore.store import Store


@dataclass(frozen=True)
class SignerInfo:
    """One entry of the registry.

    Attributes:
        actor: the principals (an actor id).
        key: the key's fingerprint (``SHA256:…``).
        key_type: ``ssh-ed25519``.
        valid_after: from when the key signs (aware UTC), or None.
        valid_before: until when it signs (aware UTC), or None.
        status: ``active``, ``removed`` (past ``valid_before``) or ``not-yet-valid``.
        comment: the text after the key (the key file's comment).
        line: its line in ``.gitstore/allowed_signers``.
    """

    actor: str
    key: str
    key_type: str
    valid_after: datetime | None
    valid_before: datetime | None
    status: str
    comment: str
    line: int


@dataclass(frozen=True)
class SignerChange:
    """A registry change committed.

    Attributes:
        commit: the commit id.
        action: ``add`` or ``remove``.
        actor: the signer added or removed.
        keys: fingerprints of the keys concerned.
        at: the ``valid-after`` (add) or ``valid-before`` (remove) written, aware UTC.
    """

    commit: str
    action: str
    actor: str
    keys: list[str]
    at: datetime


def _status(entry: SignerEntry, now: int) -> str:
    if entry.valid_before is not None and now > entry.valid_before:
        return "removed"
    if entry.valid_after is not None and now < entry.valid_after:
        return "not-yet-valid"
    return "active"


def _registry(store: "Store", commit: pygit2.Commit) -> AllowedSigners:
    return registry_at(store.repo, commit.tree) or AllowedSigners()


def list_signers(store: "Store", at: str | None = None) -> list[SignerInfo]:
    """The registry's entries at HEAD (or ``at``), in file order.

    Raises:
        RevisionNotFound: ``at`` names no commit.
    """
    now = int(utc_now().timestamp())
    return [
        SignerInfo(
            entry.principals, entry.key.fingerprint, entry.key.key_type,
            from_epoch(entry.valid_after) if entry.valid_after is not None else None,
            from_epoch(entry.valid_before) if entry.valid_before is not None else None,
            _status(entry, now), entry.comment, entry.line_no,
        )
        for entry in _registry(store, store.resolve(at)).entries
    ]


def registry_bytes(store: "Store", at: str | None = None) -> bytes:
    """The bytes of ``.gitstore/allowed_signers`` at HEAD (or ``at``): empty when absent
    (to write out for ``gpg.ssh.allowedSignersFile`` from a bare store)."""
    return _registry(store, store.resolve(at)).render()


def _commit_registry(store: "Store", head: pygit2.Commit, registry: AllowedSigners, *, actor: str, summary: str,
                     signer: str) -> str:
    data = registry.render()
    blob = store.repo.create_blob(data)
    message = commit_message(summary, {"Signer": signer, "Actor": actor})
    commit_id, _kept = store.commit_tree_changes(
        head, {REGISTRY_PATH: blob}, message=message, author=signature(actor, utc_now()), contents={REGISTRY_PATH: data}
    )
    return str(commit_id)


def add_signer(store: "Store", principal: str, public_key: str, *, actor: str, valid_after: datetime | None = None) -> SignerChange:
    """Register ``public_key`` as the key of actor ``principal``, in one commit.

    Args:
        store: the store.
        principal: the actor id the key signs for (its commits' committer name).
        public_key: an OpenSSH public key line, ``ssh-ed25519 AAAA… [comment]`` (the
            content of a ``.pub`` file).
        actor: who makes the change (the commit's author, whose key signs it).
        valid_after: from when the key may sign (aware); now when None.

    Returns:
        The ``SignerChange``.

    Raises:
        SignerError: not an ssh-ed25519 public key, an actor id that cannot be a
            principal, or the key already registered and not removed; nothing written.
        RefMovedError, OperationInProgress, LockTimeout: as every write.
    """
    try:
        key, comment = PublicKey.parse(public_key)
        check_principal(principal)
    except SignatureFormatError as exc:
        raise SignerError(str(exc)) from None
    if key.key_type != KEY_TYPE:
        raise SignerError(f"a {key.key_type} key cannot sign here: gitstore signers use ssh-ed25519 keys (ssh-keygen -t ed25519)")
    start = int(to_utc(valid_after).timestamp()) if valid_after is not None else int(utc_now().timestamp())
    with store.lock:
        head = store.head()
        registry = _registry(store, head)
        for entry in registry.for_key(key):
            if entry.valid_before is None or entry.valid_before >= start:
                raise SignerError(f"key {key.fingerprint} is already registered for {entry.principals} "
                                  f"(line {entry.line_no}, valid {entry.window()}); remove it first")
        line = entry_line(principal, key, valid_after=start, comment=comment)
        commit = _commit_registry(store, head, registry.with_line(line), actor=actor,
                                  summary=f"Add signer {principal} ({key.fingerprint})", signer=f"{principal} {key.fingerprint}")
    return SignerChange(commit, "add", principal, [key.fingerprint], from_epoch(start))


def _key_matches(entry: SignerEntry, key: str) -> bool:
    if key.startswith("SHA256:"):
        return entry.key.fingerprint == key
    try:
        return PublicKey.parse(key)[0] == entry.key
    except SignatureFormatError:
        return False


def remove_signer(store: "Store", principal: str, *, actor: str, key: str | None = None,
                  since: datetime | None = None) -> SignerChange:
    """Stop ``principal``'s keys (or one of them) from signing after ``since``, in one commit.

    Each active entry of the actor gets ``valid-before`` = ``since`` (now when None):
    commits dated up to then still verify, later ones do not. An entry whose key was
    not yet valid at ``since`` is turned into a comment (it never signed anything).

    Args:
        store: the store.
        principal: the actor whose keys stop signing.
        actor: who makes the change (the commit's author, whose key signs it).
        key: only this key: a fingerprint (``SHA256:…``) or a public key line.
        since: when the key stopped being trustworthy (aware; a leak's time).

    Returns:
        The ``SignerChange``.

    Raises:
        SignerError: the actor has no active entry (with that key); an entry with
            options gitstore does not write (edit those by hand); nothing written.
    """
    end = int(to_utc(since).timestamp()) if since is not None else int(utc_now().timestamp())
    with store.lock:
        head = store.head()
        registry = _registry(store, head)
        found = [
            entry for entry in registry.entries
            if entry.principals == principal and (key is None or _key_matches(entry, key))
            and (entry.valid_before is None or entry.valid_before > end)
        ]
        if not found:
            which = f" with key {key}" if key else ""
            raise SignerError(f"no signer {principal!r}{which} valid after {from_epoch(end).isoformat()} in {REGISTRY_PATH}")
        for entry in found:
            if entry.namespaces is not None or entry.cert_authority:
                raise SignerError(f"{REGISTRY_PATH} line {entry.line_no} has options gitstore does not write: edit it by hand")
            if entry.valid_after is not None and end <= entry.valid_after:
                text = f"# removed (never valid before {from_epoch(end).isoformat()}): {registry.lines[entry.line_no - 1]}"
            else:
                text = entry_line(entry.principals, entry.key, valid_after=entry.valid_after, valid_before=end,
                                  comment=entry.comment)
            registry = registry.with_replaced(entry.line_no, text)
        prints = [entry.key.fingerprint for entry in found]
        commit = _commit_registry(store, head, registry, actor=actor,
                                  summary=f"Remove signer {principal} ({', '.join(prints)})", signer=f"{principal} {' '.join(prints)}")
    return SignerChange(commit, "remove", principal, prints, from_epoch(end))


def verify_signatures(store: "Store", since: str | None = None) -> SignatureReport:
    """Check the signature of every commit on HEAD's history (after ``since``) against
    the registry at HEAD (``history.signatures``; docs/signing.md#what-verify-checks).

    Args:
        store: the store.
        since: a revision: only commits after it are checked (``REV..HEAD``).

    Returns:
        The ``SignatureReport`` (failures are values, not errors).

    Raises:
        RevisionNotFound: ``since`` names no commit.
    """
    head = store.head()
    hide = [store.resolve(since).id] if since is not None else []
    return verify_range(store.repo, head, hide)


__all__ = ["SignerChange", "SignerInfo", "add_signer", "list_signers", "registry_bytes", "remove_signer", "verify_signatures"]
