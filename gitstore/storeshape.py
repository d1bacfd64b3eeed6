"""What every site reads besides ticket files: configuration, attributes, tree shapes.

A store's tree holds three things gitstore reads on every site that pulls it:

- ``.gitstore/config.json`` (``gitstore.config``): the ``roles``, ``agents`` and
  ``workflow`` sections must parse into a ``Policy`` (``tickets.policy.parse_policy``)
  and ``search.default_role`` must be a known role (``tickets.policy.ROLES``);
  otherwise writes, search and agent contexts fail on every site;
- ``.gitattributes``: ticket files go through the ``gitstore`` merge driver
  (``store.GITATTRIBUTES``); a line that switches it off (``-merge``, ``!merge``,
  ``merge=<other>``, ``binary``) turns every later pull into git's line merge;
- the shape of ``Tickets/``: a folder of folders and regular files, never a file in
  place of a folder, a submodule (gitlink) or a symbolic link.

``tree_problems`` checks all three, for ``gitstore verify`` (the whole tree) and a
hub's ``pre-receive`` (only the subtrees a push changed). Each problem is one line
naming the path and the rule (docs/architecture.md; docs/data-model.md#roles,
docs/data-model.md#workflow-stages).
"""

from __future__ import annotations

from typing import Any

import pygit2

from gitstore.config import CONFIG_PATH
from gitstore.crypt.recipients import SECTION, parse_section
from gitstore.errors import GitStoreError
from gitstore.tickets import layout
from gitstore.tickets.jsontext import parse_json
from gitstore.tickets.policy import check_role, parse_policy

ATTRIBUTES_PATH = ".gitattributes"
DRIVER_LINE = layout.MERGE_DRIVER_LINE

_KINDS = {pygit2.GIT_FILEMODE_TREE: "folder", pygit2.GIT_FILEMODE_COMMIT: "submodule (gitlink)",
          pygit2.GIT_FILEMODE_LINK: "symbolic link"}


def config_problems(data: bytes) -> list[str]:
    """Validate the bytes of ``.gitstore/config.json`` as every site will read them.

    Returns:
        One line per problem (at most one per section); empty when valid.
    """
    try:
        config = parse_json(data, CONFIG_PATH)
    except GitStoreError as exc:
        return [str(exc)]
    if not isinstance(config, dict):
        return [f"{CONFIG_PATH}: must be a JSON object"]
    problems = []
    try:
        parse_policy(config)
    except GitStoreError as exc:
        problems.append(f"{CONFIG_PATH}: {exc} (docs/data-model.md#roles, docs/data-model.md#workflow-stages)")
    except (ValueError, TypeError, RecursionError) as exc:
        problems.append(f"{CONFIG_PATH}: unusable policy sections ({type(exc).__name__})")
    search: Any = config.get("search", {})
    if not isinstance(search, dict):
        problems.append(f"{CONFIG_PATH}: section 'search' must be a JSON object")
    elif "default_role" in search:
        try:
            check_role(search["default_role"], "search.default_role")
        except GitStoreError as exc:
            problems.append(f"{CONFIG_PATH}: {exc} (docs/data-model.md#roles)")
    try:
        parse_section(config.get(SECTION))
    except GitStoreError as exc:
        problems.append(str(exc))
    return problems


def attributes_problems(data: bytes) -> list[str]:
    """Validate ``.gitattributes``: ticket files must keep the ``gitstore`` merge driver.

    Returns:
        One line per offending line; empty when the driver line is there and no line
        switches it off.
    """
    text = data.decode("utf-8", "replace")
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    problems = []
    if DRIVER_LINE not in lines:
        problems.append(f"{ATTRIBUTES_PATH}: the merge-driver line {DRIVER_LINE!r} is missing (ticket files must merge with gitstore)")
    for line in lines:
        if line == DRIVER_LINE:
            continue
        for token in line.split()[1:]:
            if token in ("-merge", "!merge", "binary") or (token.startswith("merge=") and token != "merge=gitstore"):
                problems.append(f"{ATTRIBUTES_PATH}: {line!r} switches the gitstore merge driver off ({token})")
                break
    return problems


def shape_problems(repo: pygit2.Repository, tree: pygit2.Tree, old: pygit2.Tree | None = None) -> list[str]:
    """Check that ``Tickets/`` is a folder of folders and regular files.

    Args:
        repo: the repository holding the trees.
        tree: the root tree to check.
        old: a root tree known to be good (the hub's current one): subtrees equal in
            both are not walked again. None walks all of ``Tickets/``.

    Returns:
        One line per entry of the wrong kind.
    """
    try:
        entry = tree[layout.ROOT]
    except KeyError:
        return []
    if entry.filemode != pygit2.GIT_FILEMODE_TREE:
        return [f"{layout.ROOT}: must be a folder, found a {_kind(entry.filemode)}"]
    old_id = _entry_id(old, layout.ROOT)
    problems: list[str] = []
    stack: list[tuple[str, pygit2.Oid, pygit2.Oid | None]] = [(layout.ROOT, entry.id, old_id)]
    while stack:
        prefix, tree_id, known = stack.pop()
        if known == tree_id:
            continue
        current = repo[tree_id]
        assert isinstance(current, pygit2.Tree)  # only folders are stacked
        known_tree = repo[known] if known is not None else None
        for item in current:
            path = f"{prefix}/{item.name}"
            if item.filemode == pygit2.GIT_FILEMODE_TREE:
                stack.append((path, item.id, _entry_id(known_tree, item.name or "")))
            elif item.filemode not in (pygit2.GIT_FILEMODE_BLOB, pygit2.GIT_FILEMODE_BLOB_EXECUTABLE):
                problems.append(f"{path}: a {_kind(item.filemode)} where only ticket folders and files belong")
    return sorted(problems)


def tree_problems(repo: pygit2.Repository, tree: pygit2.Tree, old: pygit2.Tree | None = None) -> list[str]:
    """All the checks of this module on one root tree (``old``: see ``shape_problems``).

    The configuration and attributes are checked when they changed from ``old`` (always
    when ``old`` is None).

    Returns:
        One line per problem, naming the path and the rule.
    """
    problems = []
    for path, check in ((CONFIG_PATH, config_problems), (ATTRIBUTES_PATH, attributes_problems)):
        new_id = _entry_id(tree, path)
        if new_id is None or (old is not None and _entry_id(old, path) == new_id):
            if new_id is None and path == ATTRIBUTES_PATH and _entry_id(old, path) is not None:
                problems.append(f"{ATTRIBUTES_PATH}: missing (ticket files must merge with gitstore: {DRIVER_LINE!r})")
            continue
        blob = repo[new_id]
        if not isinstance(blob, pygit2.Blob):
            problems.append(f"{path}: must be a file")
            continue
        problems += check(blob.data)
    return problems + shape_problems(repo, tree, old)


def has_tickets(repo: pygit2.Repository, tree: pygit2.Tree) -> bool:
    """True if ``tree`` holds at least one T file (``Tickets/tickets/…/T_*.json``)."""
    tree_id = _entry_id(tree, f"{layout.ROOT}/{layout.FOLDERS['T']}")
    stack = [tree_id] if tree_id is not None else []
    while stack:
        current = repo[stack.pop()]
        if not isinstance(current, pygit2.Tree):
            continue
        for item in current:
            if item.filemode == pygit2.GIT_FILEMODE_TREE:
                stack.append(item.id)
            elif (item.name or "").startswith("T_"):
                return True
    return False


def _entry_id(tree: Any, path: str) -> pygit2.Oid | None:
    if not isinstance(tree, pygit2.Tree):
        return None
    try:
        return tree[path].id
    except KeyError:
        return None


def _kind(filemode: int) -> str:
    return _KINDS.get(filemode, "file")
