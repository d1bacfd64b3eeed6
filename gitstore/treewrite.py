"""Build a new tree by rewriting only the trees on the changed paths.

ARCHITECTURE.md "Cost at scale": loading the whole tree into an index costs time in
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
    """Return the raw SHA-1 object id of ``content`` as a git object of that type."""
    return hashlib.sha1(b"%s %d\x00" % (type_name, len(content)) + content).digest()


def _sort_key(item: tuple[str, tuple[int, bytes]]) -> bytes:
    name, (mode, _raw) = item
    encoded = name.encode("utf-8")
    return encoded + b"/" if mode == TREE_MODE else encoded


def encode_tree(entries: dict[str, tuple[int, bytes]]) -> bytes:
    """Encode tree entries ``name → (mode, raw id)`` in git's tree format."""
    return b"".join(
        b"%o %s\x00%s" % (mode, name.encode("utf-8"), raw)
        for name, (mode, raw) in sorted(entries.items(), key=_sort_key)
    )


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
    raw = _write(repo, base, changes, put or odb_put(repo), root=True)
    return pygit2.Oid(raw=raw)


def _write(repo, base, changes, put: Put, root: bool = False) -> bytes | None:
    entries = {e.name: (e.filemode, e.id.raw) for e in base} if base is not None else {}
    grouped: dict[str, dict[str, pygit2.Oid | None]] = {}
    for path, oid in changes.items():
        head, sep, rest = path.partition("/")
        if sep:
            grouped.setdefault(head, {})[rest] = oid
        elif oid is None:
            entries.pop(head, None)
        else:
            entries[head] = (BLOB_MODE, oid.raw)
    for name, sub_changes in grouped.items():
        current = entries.get(name)
        sub_base = repo[pygit2.Oid(raw=current[1])] if current and current[0] == TREE_MODE else None
        sub = _write(repo, sub_base, sub_changes, put)
        if sub is None:
            entries.pop(name, None)
        else:
            entries[name] = (TREE_MODE, sub)
    if not entries and not root:
        return None
    content = encode_tree(entries)
    raw = hash_object(b"tree", content)
    put(raw, 2, content)
    return raw


def blob_at(tree: pygit2.Tree, path: str) -> pygit2.Oid | None:
    """Return the id of the blob at ``path`` in ``tree``, or None if there is none."""
    try:
        entry = tree[path]
    except KeyError:
        return None
    return entry.id if entry.type_str == "blob" else None
