"""Build a new tree by rewriting only the trees on the changed paths.

docs/architecture-notes.md "Write path": loading the whole tree into an index costs time in
proportion to the store; rewriting only the trees on each changed path costs time in
proportion to the depth and the size of those few trees.

Tree objects are encoded here (git's tree format: entries sorted by name, a folder
sorting as ``name/``; each entry ``<octal mode> <name>\\0<20-byte id>``) and hashed with
SHA-1, so the write path can stage them in memory (``packwrite``) without libgit2's
per-object existence check, which rescans the pack folder for every new object.
``git fsck --strict`` in the tests checks the objects written this way.
"""

from __future__ import annotations

import hashlib
from typing import Callable

import pygit2

BLOB_MODE = pygit2.GIT_FILEMODE_BLOB
TREE_MODE = pygit2.GIT_FILEMODE_TREE

Put = Callable[[bytes, int, bytes], None]
"""Stores an object: ``put(raw_oid, type, content)`` (type 1 commit, 2 tree, 3 blob)."""


def hash_object(type_name: bytes, content: bytes) -> bytes:
    """Return the raw SHA-1 object id of ``content`` as a git object of that type.

    ``hashlib`` (OpenSSL) hashes ~3× faster than ``pygit2.hash`` (libgit2's
    collision-detecting SHA-1); the ids are the same.
    """
    digest = hashlib.sha1(b"%s %d\x00" % (type_name, len(content)))
    digest.update(content)
    return digest.digest()


def hash_blob(content: bytes) -> pygit2.Oid:
    """Return the id of ``content`` as a blob (``git hash-object``)."""
    return pygit2.Oid(raw=hash_object(b"blob", content))


Entries = dict[bytes, tuple[bytes, bytes]]
"""A parsed tree: name → (sort key, entry record ``<octal mode> <name>\\0<raw id>``)."""

_TREE_MODE_PREFIX = b"40000 "
_CACHE: dict[bytes, Entries] = {}
CACHE_TREES = 4096
"""Parsed trees kept in memory (raw id → entries), written or read recently. A tree's
content never changes for its id, so the cache is shared by every repository; a
commit rewrites the same few top trees over and over, which are then never re-read."""


def _record(name: bytes, mode: int, raw: bytes) -> tuple[bytes, bytes]:
    key = name + b"/" if mode == TREE_MODE else name
    return key, b"%o %s\x00%s" % (mode, name, raw)


def parse_tree(content: bytes) -> Entries:
    """Parse a tree object's content into ``Entries``."""
    entries: Entries = {}
    pos, end = 0, len(content)
    while pos < end:
        space = content.index(b" ", pos)
        nul = content.index(b"\x00", space)
        name = content[space + 1 : nul]
        is_tree = content[pos:space] == b"40000"
        entries[name] = (name + b"/" if is_tree else name, content[pos : nul + 21])
        pos = nul + 21
    return entries


def _encode(entries: Entries) -> bytes:
    return b"".join(record for _key, record in sorted(entries.values()))


def _remember(raw: bytes, entries: Entries) -> None:
    if len(_CACHE) >= CACHE_TREES:
        _CACHE.clear()
    _CACHE[raw] = entries


def _entries(repo: pygit2.Repository, raw: bytes) -> Entries:
    cached = _CACHE.get(raw)
    if cached is None:
        cached = parse_tree(repo[pygit2.Oid(raw=raw)].read_raw())
        _remember(raw, cached)
    return cached


def odb_put(repo: pygit2.Repository) -> Put:
    """A ``put`` that writes through the repository's object database."""

    def put(raw: bytes, type_: int, content: bytes) -> None:
        repo.odb.write(type_, content)

    return put


def write_tree(
    repo: pygit2.Repository,
    base: pygit2.Tree | None,
    changes: dict[str, pygit2.Oid | None],
    put: Put | None = None,
) -> pygit2.Oid:
    """Write the tree ``base`` with ``changes`` applied and return its id.

    Args:
        repo: where existing trees are read from (and written to when ``put`` is None).
        base: the tree to start from (None for an empty tree).
        changes: repository path → blob id to store there, or None to remove the
            path. Folders left empty by removals are removed too.
        put: where new tree objects go (``ObjectWriter.put`` stages them in memory).

    Returns:
        The id of the new root tree.
    """
    encoded = {path.encode("utf-8"): oid for path, oid in changes.items()}
    raw = _write(repo, base.id.raw if base is not None else None, encoded, put or odb_put(repo), root=True)
    assert raw is not None  # the root tree is written even when empty
    return pygit2.Oid(raw=raw)


def _write(repo, base: bytes | None, changes: dict[bytes, pygit2.Oid | None], put: Put, root: bool = False) -> bytes | None:
    entries = dict(_entries(repo, base)) if base is not None else {}
    grouped: dict[bytes, dict[bytes, pygit2.Oid | None]] = {}
    for path, oid in changes.items():
        head, sep, rest = path.partition(b"/")
        if sep:
            grouped.setdefault(head, {})[rest] = oid
        elif oid is None:
            entries.pop(head, None)
        else:
            entries[head] = _record(head, BLOB_MODE, oid.raw)
    for name, sub_changes in grouped.items():
        current = entries.get(name)
        sub_base = current[1][-20:] if current and current[1].startswith(_TREE_MODE_PREFIX) else None
        sub = _write(repo, sub_base, sub_changes, put)
        if sub is None:
            entries.pop(name, None)
        else:
            entries[name] = _record(name, TREE_MODE, sub)
    if not entries and not root:
        return None
    content = _encode(entries)
    raw = hash_object(b"tree", content)
    put(raw, 2, content)
    _remember(raw, entries)
    return raw


def blob_at(tree: pygit2.Tree, path: str) -> pygit2.Oid | None:
    """Return the id of the blob at ``path`` in ``tree``, or None if there is none."""
    try:
        entry = tree[path]
    except KeyError:
        return None
    return entry.id if entry.type_str == "blob" else None


def tree_changes(
    repo: pygit2.Repository,
    old: pygit2.Tree | None,
    new: pygit2.Tree | None,
    prefix: str = "",
) -> dict[str, tuple[pygit2.Oid | None, pygit2.Oid | None]]:
    """Return every file path that differs between two root trees.

    libgit2's tree diff skips subtrees whose ids are equal, so the cost follows what
    changed, not the size of the store. No rename detection: a move is a deletion
    plus an addition.

    Args:
        repo: the repository holding both trees.
        old, new: root trees; None stands for an empty tree.
        prefix: compare only below this folder (e.g. ``"Tickets"``).

    Returns:
        ``{path: (blob id in old or None, blob id in new or None)}``, repository paths.
    """
    if prefix:
        old, new = _subtree(repo, old, prefix), _subtree(repo, new, prefix)
    if old is None and new is None:
        return {}
    if old is not None and new is not None and old.id == new.id:
        return {}
    if old is None:
        assert new is not None
        diff = new.diff_to_tree(swap=True)
    elif new is None:
        diff = old.diff_to_tree()
    else:
        diff = repo.diff(old, new)  # type: ignore[call-overload]  # pygit2's stubs omit Tree arguments, which it accepts
    lead = f"{prefix}/" if prefix else ""
    found: dict[str, tuple[pygit2.Oid | None, pygit2.Oid | None]] = {}
    for delta in diff.deltas:
        added = delta.status == pygit2.enums.DeltaStatus.ADDED
        deleted = delta.status == pygit2.enums.DeltaStatus.DELETED
        path = delta.old_file.path if deleted else delta.new_file.path
        found[lead + path] = (None if added else delta.old_file.id, None if deleted else delta.new_file.id)
    return found


def _subtree(repo: pygit2.Repository, tree: pygit2.Tree | None, name: str) -> pygit2.Tree | None:
    if tree is None:
        return None
    try:
        entry = tree[name]
    except KeyError:
        return None
    obj = repo[entry.id]
    return obj if isinstance(obj, pygit2.Tree) else None


class NotWithin(Exception):
    """``last_change`` gave up after ``within`` commits (the caller asks its index)."""


class Reached(Exception):
    """``last_change`` reached its ``stop_at`` commit with the blobs unchanged: the last
    change is the one at or before that commit (the caller's index knows it).

    Attributes:
        commit: the ``stop_at`` commit.
    """

    def __init__(self, commit: pygit2.Commit):
        super().__init__(str(commit.id))
        self.commit = commit


def last_change(
    commit: pygit2.Commit,
    path: str | tuple[str, ...],
    within: int | None = None,
    stop_at: pygit2.Oid | None = None,
) -> pygit2.Oid | None:
    """The commit, on ``commit``'s first-parent line, where the blob at ``path`` took
    the id it has at ``commit`` (for several paths: where any of them last changed);
    None when ``commit`` has none of them.

    Every synchronized update rewrites a ticket's three files (their sync stamps); a
    hand edit or a rotation may change one of them only, so a ticket's version is the
    last change of any of its files.

    Args:
        commit: where the walk starts.
        path: a repository path, or several.
        within: give up after this many commits (None: walk to the root).
        stop_at: a commit to stop at when the walk reaches it before any change (the
            commit a derived log already reflects); never checked against ``commit``
            itself.

    Raises:
        NotWithin: ``within`` is given and the change is more than that many commits back.
        Reached: the walk reached ``stop_at`` first.
    """
    paths = (path,) if isinstance(path, str) else path
    blobs = [blob_at(commit.tree, p) for p in paths]
    if all(b is None for b in blobs):
        return None
    steps = 0
    while commit.parents:
        parent = commit.parents[0]
        if any(blob_at(parent.tree, p) != b for p, b in zip(paths, blobs)):
            break
        commit = parent
        steps += 1
        if stop_at is not None and commit.id == stop_at:
            raise Reached(commit)
        if within is not None and steps >= within:
            raise NotWithin(paths[0])
    return commit.id
