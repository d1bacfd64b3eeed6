"""The git merge driver: ``gitstore merge-driver %O %A %B %P``.

git calls it for a file changed on both sides of a plain ``git merge``/``git pull``
(``.gitattributes`` routes ``Tickets/**/*.json`` here). It runs the same
``filemerge.merge_ticket_file`` as ``gitstore pull``, so both give the same bytes, and
writes the result into ``%A``. A conflict the rules cannot settle leaves ``%A`` as it
was and is reported to git as a conflict (exit code 1).
"""

from __future__ import annotations

import os
from pathlib import Path

from gitstore.config import CONFIG_PATH
from gitstore.errors import MergeConflictError
from gitstore.tickets import layout
from gitstore_sync.filemerge import FileMerge, merge_json_objects, merge_ticket_file


def _read(path: str) -> bytes | None:
    try:
        return Path(path).read_bytes()
    except FileNotFoundError:
        return None


def run_merge_driver(base: str, ours: str, theirs: str, path: str) -> FileMerge:
    """Merge the three temporary files git gives and write the result over ``ours``.

    Args:
        base: ``%O``, the merge base's version (empty when the file is new on both sides).
        ours: ``%A``, our version; receives the result.
        theirs: ``%B``, their version.
        path: ``%P``, the file's path in the repository.

    Returns:
        The ``FileMerge`` (its ``lost`` values for the caller to report).

    Raises:
        MergeConflictError: the rules cannot settle it, or ``path`` is not a file
            gitstore merges; ``ours`` is left unchanged.
    """
    data = [_read(p) for p in (base, ours, theirs)]
    parsed = layout.parse_path(path)
    name = path.rsplit("/", 1)[-1]
    if parsed is not None:
        result = merge_ticket_file(parsed[0], name, *data)
    elif path == CONFIG_PATH:
        result = merge_json_objects(CONFIG_PATH, *data)
    else:
        raise MergeConflictError(f"{path}: not a ticket file; gitstore's merge driver merges Tickets/**/*.json only")
    if result.data is None:
        raise MergeConflictError(f"{path}: deleted on one side and changed on the other; resolve by hand")
    if result.data != data[1]:
        tmp = Path(ours).with_name(Path(ours).name + ".gitstore-tmp")
        tmp.write_bytes(result.data)
        os.replace(tmp, ours)
    return result
