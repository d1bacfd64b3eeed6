"""Encryption of a store, as commands use it: ``gitstore crypt init|add-recipient|
remove-recipient|status|rotate|textconv`` (docs/encryption.md).

The mechanics live in ``gitstore.crypt`` (format, sealing, recipients, identities, the
rule against clear text); this module changes and reads a ``Store``:

- ``init_crypt``: adds a recipient (this site's own key, generated when there is none)
  to the committed ``crypt`` section and the ``diff=gitstore-crypt`` line to
  ``.gitattributes``, in one commit, and registers git's textconv in ``.git/config``;
- ``add_recipient`` / ``remove_recipient``: one commit each changing the section.
  Removing a recipient re-encrypts nothing: what they could read stays readable to
  them in history (``rotate`` re-encrypts the current files only);
- ``crypt_status``: on or off, recipients, whether this site holds a matching key,
  counts of sealed, clear and unreadable internal items at HEAD;
- ``rotate``: every internal item of the current files sealed afresh for the current
  recipients, in one commit (needs a key for every sealed item).

``crypt textconv`` is ``gitstore.crypt.textconv.textconv_file`` (no store needed).

Each commit goes through the write path (``Store.commit_tree_changes``) with the
trailers ``Config: crypt`` (or ``Crypt: rotate``) and ``Actor:``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterator

import pygit2

from gitstore.config import CONFIG_PATH, dumps_config, read_tree_config
from gitstore.crypt.fields import SEALED_FIELDS, is_clear, reseal
from gitstore.crypt.format import is_sealed
from gitstore.crypt.identities import generate_identity, identities_for, identity_path, matching, parse_identities
from gitstore.crypt.opened import open_internal
from gitstore.crypt.recipients import SECTION, Recipient, parse_recipient, recipients_at, section_json
from gitstore.crypt.sealing import try_unseal
from gitstore.crypt.textconv import ATTRIBUTES_LINE, TEXTCONV_KEY, set_textconv
from gitstore.errors import KeyFileError, RecipientError
from gitstore.store import Store
from gitstore.tickets import layout
from gitstore.timeutil import utc_now
from gitstore.writer import commit_message, signature

ATTRIBUTES_PATH = ".gitattributes"


@dataclass
class CryptChange:
    """The outcome of ``init_crypt``, ``add_recipient`` or ``remove_recipient``.

    Attributes:
        commit: the new commit's id; None when nothing had to change.
        recipients: the section's recipients afterwards (``Recipient.to_json``).
        recipient: the recipient added or removed (its public key).
        name: its name.
        identity_file: the identity file ``init_crypt`` generated, if it did.
        textconv: the textconv command registered in ``.git/config``, if any.
    """

    commit: str | None
    recipients: list[dict[str, str]]
    recipient: str | None = None
    name: str | None = None
    identity_file: str | None = None
    textconv: str | None = None


@dataclass
class CryptStatus:
    """Encryption at a revision, as this site sees it (``crypt_status``).

    Attributes:
        enabled: the ``crypt`` section lists at least one recipient.
        recipients: each recipient (``name``, ``recipient``, ``kind``) and ``local``:
            whether an identity of this site decrypts for it.
        identity_file: where this site's identity file is looked for.
        has_key: this site holds a key of at least one recipient.
        sealed: internal items (messages, progress updates with notes) whose text is sealed.
        clear: internal items whose text is clear.
        unreadable: sealed items no identity of this site decrypts.
        textconv: git's textconv for I files is registered in ``.git/config``.
        counted: False for a viewer who may not read I (``Store.viewer``): the three
            counts are then 0 and mean nothing (docs/data-model.md#roles).
    """

    enabled: bool
    recipients: list[dict[str, Any]]
    identity_file: str
    has_key: bool
    sealed: int = 0
    clear: int = 0
    unreadable: int = 0
    textconv: bool = False
    counted: bool = True


@dataclass
class RotateResult:
    """The outcome of ``rotate``.

    Attributes:
        commit: the new commit's id; None when no internal item holds text.
        files: I files rewritten.
        items: items sealed afresh.
        recipients: names of the recipients sealed for.
        tickets: the T_NOs rewritten.
    """

    commit: str | None
    files: int
    items: int
    recipients: list[str]
    tickets: list[str] = field(default_factory=list)


def _commit(store: Store, head: pygit2.Commit, blobs: dict[str, bytes], *, actor: str, summary: str,
            trailers: dict[str, str]) -> str:
    if CONFIG_PATH in blobs:  # who may read what is the admins' to decide (Policy.check_config)
        store.policy(head).check_config(SECTION, actor=actor)
    changes: dict[str, pygit2.Oid | None] = {path: store.repo.create_blob(data) for path, data in blobs.items()}
    message = commit_message(summary, {**trailers, "Actor": actor})
    commit_id, _kept = store.commit_tree_changes(head, changes, message=message, author=signature(actor, utc_now()),
                                                 contents=blobs)
    return str(commit_id)


def _config_with(store: Store, head: pygit2.Commit, recipients: list[Recipient]) -> bytes:
    data = read_tree_config(store.repo, head.tree)
    data[SECTION] = section_json(recipients)
    return dumps_config(data)


def _attributes_with_line(store: Store, head: pygit2.Commit) -> bytes | None:
    """``.gitattributes`` with the textconv line added; None when it has it already."""
    try:
        data = store.repo[head.tree[ATTRIBUTES_PATH].id].read_raw()
    except KeyError:
        data = b""
    lines = [line.strip() for line in data.decode("utf-8", "replace").splitlines()]
    if ATTRIBUTES_LINE in lines:
        return None
    if data and not data.endswith(b"\n"):
        data += b"\n"
    return data + f"# gitstore: I files shown decrypted by git diff/log -p/blame (docs/encryption.md#git)\n{ATTRIBUTES_LINE}\n".encode()


def _own_recipient(store: Store) -> tuple[str, str | None]:
    """This site's public recipient, generating an identity when there is none.

    Returns:
        ``(recipient, generated identity file or None)``.
    """
    path, _explicit = identity_path(store.repo)
    if not path.exists():
        return generate_identity(path), str(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise KeyFileError(f"{path}: cannot read the identity file ({exc.strerror or exc})") from None
    identities = parse_identities(data, str(path))
    public = next((str(i.to_public()) for i in identities if hasattr(i, "to_public")), None)
    if public is None:
        raise KeyFileError(
            f"{path}: holds an OpenSSH key whose public key gitstore cannot derive: pass --recipient 'ssh-ed25519 AAAA…' "
            "(its .pub file's line)"
        )
    return public, None


def init_crypt(store: Store, *, actor: str, recipient: str | None = None, name: str | None = None,
               textconv_command: str | None = None) -> CryptChange:
    """Turn encryption on: add a recipient and git's textconv, in one commit.

    Args:
        store: the store.
        actor: who makes the change (the commit's author).
        recipient: the public key to add (``age1…`` or ``ssh-ed25519 AAAA…``); None:
            this site's own key, an X25519 identity generated at the identity path
            (mode 0600) when no identity file is there.
        name: the recipient's name (default: ``actor``).
        textconv_command: the command git runs as textconv (``gitstore crypt textconv``
            with an absolute path: ``gitstore_sync.setup.textconv_command``); None
            registers none.

    Returns:
        The ``CryptChange`` (``commit`` None when the recipient and the attributes line
        were there already).

    Raises:
        RecipientError: a malformed key or name, or the name taken by another key.
        KeyFileError: the identity file cannot be read or written.
        RefMovedError, OperationInProgress, LockTimeout: as every write.
    """
    generated = None
    if recipient is None:
        recipient, generated = _own_recipient(store)
    wanted = parse_recipient(recipient, name or actor)
    with store.lock:
        head = store.head()
        current = list(recipients_at(store.repo, head.tree))
        if any(r.name == wanted.name and r.recipient != wanted.recipient for r in current):
            raise RecipientError(f"recipient name {wanted.name!r} is taken by another key: pick another --name")
        blobs: dict[str, bytes] = {}
        if not any(r.recipient == wanted.recipient for r in current):
            current.append(wanted)
            blobs[CONFIG_PATH] = _config_with(store, head, current)
        attributes = _attributes_with_line(store, head)
        if attributes is not None:
            blobs[ATTRIBUTES_PATH] = attributes
        commit = _commit(store, head, blobs, actor=actor, summary=f"Encrypt internal content for {wanted.name}",
                         trailers={"Config": SECTION}) if blobs else None
    if textconv_command is not None and not store.repo.is_bare:
        set_textconv(store.repo, textconv_command)
    return CryptChange(commit, [r.to_json() for r in current], wanted.recipient, wanted.name, generated,
                       textconv_command if not store.repo.is_bare else None)


def add_recipient(store: Store, recipient: str, *, name: str, actor: str) -> CryptChange:
    """Add a recipient to the ``crypt`` section, in one commit: items written from then
    on are sealed for them too (existing ones are not: ``rotate`` does that).

    Raises:
        RecipientError: a malformed key or name, the name or the key already listed.
        RefMovedError, OperationInProgress, LockTimeout: as every write.
    """
    wanted = parse_recipient(recipient, name)
    with store.lock:
        head = store.head()
        current = list(recipients_at(store.repo, head.tree))
        for r in current:
            if r.name == wanted.name:
                raise RecipientError(f"recipient {wanted.name!r} is already listed (remove it first to change its key)")
            if r.recipient == wanted.recipient:
                raise RecipientError(f"that key is already listed as recipient {r.name!r}")
        current.append(wanted)
        commit = _commit(store, head, {CONFIG_PATH: _config_with(store, head, current)}, actor=actor,
                         summary=f"Add encryption recipient {wanted.name}", trailers={"Config": SECTION})
    return CryptChange(commit, [r.to_json() for r in current], wanted.recipient, wanted.name)


def remove_recipient(store: Store, name: str, *, actor: str) -> CryptChange:
    """Remove a recipient from the ``crypt`` section, in one commit: items written from
    then on are not sealed for them. Nothing is re-encrypted: what they could read
    before stays readable to them (history keeps its ciphertext; ``rotate`` re-seals
    the current files). Removing the last recipient turns encryption off.

    Raises:
        RecipientError: no recipient of that name.
        RefMovedError, OperationInProgress, LockTimeout: as every write.
    """
    with store.lock:
        head = store.head()
        current = list(recipients_at(store.repo, head.tree))
        gone = next((r for r in current if r.name == name), None)
        if gone is None:
            listed = ", ".join(r.name for r in current) or "none"
            raise RecipientError(f"no recipient named {name!r} (listed: {listed})")
        current.remove(gone)
        commit = _commit(store, head, {CONFIG_PATH: _config_with(store, head, current)}, actor=actor,
                         summary=f"Remove encryption recipient {name}", trailers={"Config": SECTION})
    return CryptChange(commit, [r.to_json() for r in current], gone.recipient, gone.name)


def internal_files(repo: pygit2.Repository, tree: pygit2.Tree) -> Iterator[tuple[str, str, pygit2.Oid]]:
    """Every I file in ``tree``: ``(T_NO, path, blob id)``, in path order."""
    try:
        entry = tree[f"{layout.ROOT}/T_int"]
    except KeyError:
        return
    stack = [(f"{layout.ROOT}/T_int", entry.id)]
    while stack:
        prefix, tree_id = stack.pop()
        folder = repo[tree_id]
        if not isinstance(folder, pygit2.Tree):
            continue
        for item in sorted(folder, key=lambda e: e.name or "", reverse=True):
            path = f"{prefix}/{item.name}"
            if item.type_str == "tree":
                stack.append((path, item.id))
                continue
            parsed = layout.parse_path(path)
            if parsed is not None and parsed[0] == "I":
                yield parsed[1], path, item.id


def crypt_status(store: Store, at: str | None = None) -> CryptStatus:
    """Encryption at HEAD (or ``at``) as this site sees it (see ``CryptStatus``).

    Counting unreadable items tries this site's identities on each sealed item.

    Raises:
        KeyFileError: the configured identity file cannot be read.
        RecipientError: the ``crypt`` section is malformed.
        ValidationError: an I file at that revision is invalid.
    """
    commit = store.resolve(at)
    recipients = recipients_at(store.repo, commit.tree)
    identities = identities_for(store.repo)
    local = set(matching(recipients, identities))
    status = CryptStatus(
        enabled=bool(recipients),
        recipients=[{**r.to_json(), "local": r.name in local} for r in recipients],
        identity_file=str(identity_path(store.repo)[0]),
        has_key=bool(local),
        textconv=not store.repo.is_bare and TEXTCONV_KEY in store.repo.config,
    )
    if not store.viewer.internal:  # a customer-facing viewer is told no count of internal items
        status.counted = False
        return status
    for t_no, _path, oid in internal_files(store.repo, commit.tree):
        internal = layout.loads("I", store.repo[oid].read_raw(), layout.file_name("I", t_no))
        for (_kind, key), name in SEALED_FIELDS.items():
            for item in getattr(internal, key):
                value = getattr(item, name)
                if is_sealed(value):
                    status.sealed += 1
                    status.unreadable += try_unseal(value, identities) is None
                elif is_clear(value):
                    status.clear += 1
    return status


def rotate(store: Store, *, actor: str) -> RotateResult:
    """Seal every internal item of the current files afresh for the current recipients,
    in one commit: sealed items are decrypted with this site's identities and sealed
    again, clear ones (written before encryption was on) are sealed. History keeps
    the old ciphertexts (docs/encryption.md#rotation).

    Raises:
        RecipientError: encryption is off (no recipients).
        KeyFileError: the identity file cannot be read.
        DecryptionError: a sealed item no identity of this site decrypts; nothing written.
        RefMovedError, OperationInProgress, LockTimeout: as every write.
    """
    identities = identities_for(store.repo)
    with store.lock:
        head = store.head()
        recipients = recipients_at(store.repo, head.tree)
        if not recipients:
            raise RecipientError("encryption is off: add a recipient first ('gitstore crypt init' or 'crypt add-recipient')")
        blobs: dict[str, bytes] = {}
        tickets: list[str] = []
        items = 0
        for t_no, path, oid in internal_files(store.repo, head.tree):
            name = layout.file_name("I", t_no)
            internal = layout.loads("I", store.repo[oid].read_raw(), name)
            count = sum(1 for (_k, key), f in SEALED_FIELDS.items() for item in getattr(internal, key)
                        if is_sealed(getattr(item, f)) or is_clear(getattr(item, f)))
            if not count:
                continue
            opened, _none = open_internal(internal, name, identities, strict=True)
            blobs[path] = layout.dumps(reseal(opened, recipients))
            tickets.append(t_no)
            items += count
        names = [r.name for r in recipients]
        commit = None
        if blobs:
            commit = _commit(store, head, blobs, actor=actor,
                             summary=f"Re-encrypt internal content of {len(blobs)} tickets for {', '.join(names)}",
                             trailers={"Crypt": f"rotate {len(blobs)} files {items} items for {', '.join(names)}"})
    return RotateResult(commit, len(blobs), items, names, sorted(tickets))
