"""Merge two commits of a store into the blob changes of one merge commit.

``merge_commits(repo, base, ours, theirs)`` compares each side with the merge base
(a tree diff: identical subtrees are skipped, so the cost follows what changed):

- a path changed on one side only takes that side's blob (git's rule);
- a ticket file changed on both sides goes through ``filemerge.merge_ticket_file``;
- ``.gitstore/config.json`` changed on both sides goes through ``merge_json_objects``;
- any other path changed differently on both sides cannot be settled.

Then every ticket the merge changes (relative to ``ours``) is checked as a whole: its
three files must parse and pass the cross-file rules (``gitstore.tickets.rules``,
docs/data-model.md#cross-file-rules). Incoming files are validated too, so one broken site cannot poison another.
Problems are collected and raised together; nothing is written here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pygit2

from gitstore.config import CONFIG_PATH
from gitstore.errors import GitStoreError, MergeConflictError
from gitstore.objects.trees import blob_at, tree_changes
from gitstore.tickets import layout
from gitstore.tickets.files import TicketFiles
from gitstore.tickets.rules import cross_file_problems
from gitstore_sync.filemerge import FileMerge, LostValue, merge_json_objects, merge_ticket_file


@dataclass
class TicketMergeResult:
    """What a pull did to one ticket.

    Attributes:
        ticket: the T_NO.
        status: ``new`` (absent here before), ``updated`` (changed on the remote side
            only), ``merged`` (changed on both sides) or ``deleted``.
        conflicts: number of fields changed differently on both sides and resolved.
        lost: the losing values of those conflicts.
    """

    ticket: str
    status: str
    conflicts: int = 0
    lost: list[LostValue] = field(default_factory=list)


@dataclass
class TreeMerge:
    """The outcome of merging two commits.

    Attributes:
        changes: path → new blob id (None: delete), relative to ``ours``' tree.
        tickets: per-ticket results, sorted by T_NO.
        lost: every losing value (tickets and configuration), in a stable order.
    """

    changes: dict[str, pygit2.Oid | None]
    tickets: list[TicketMergeResult]
    lost: list[LostValue]


def changed_blobs(repo: pygit2.Repository, old: pygit2.Tree, new: pygit2.Tree) -> dict[str, pygit2.Oid | None]:
    """Return path → blob id in ``new`` (None if deleted) for every path that differs."""
    return {path: new_id for path, (_old_id, new_id) in tree_changes(repo, old, new).items()}


def empty_tree(repo: pygit2.Repository) -> pygit2.Tree:
    """Return the empty tree (the base of two histories with no common commit)."""
    return repo[repo.TreeBuilder().write()].peel(pygit2.Tree)


def merge_commits(
    repo: pygit2.Repository,
    base: pygit2.Commit | None,
    ours: pygit2.Commit,
    theirs: pygit2.Commit,
) -> TreeMerge:
    """Merge ``theirs`` into ``ours`` given their merge base (None: unrelated histories).

    Returns:
        A ``TreeMerge``; the merged tree is ``ours.tree`` with ``changes`` applied.
        The result does not depend on which side is ``ours``.

    Raises:
        MergeConflictError: a conflict the rules cannot settle, or a ticket that would
            be invalid or inconsistent after the merge; ``problems`` lists them all.
    """
    base_tree = base.tree if base is not None else empty_tree(repo)
    ours_changed = changed_blobs(repo, base_tree, ours.tree)
    theirs_changed = changed_blobs(repo, base_tree, theirs.tree)
    changes: dict[str, pygit2.Oid | None] = {}
    merged_files: dict[str, FileMerge] = {}
    both: set[str] = set()
    problems: list[str] = []
    lost: list[LostValue] = []
    for path, their_blob in theirs_changed.items():
        if path not in ours_changed:
            changes[path] = their_blob
            continue
        our_blob = ours_changed[path]
        if our_blob == their_blob:
            continue
        parsed = layout.parse_path(path)
        ticket = parsed[1] if parsed else None
        if ticket is not None:
            both.add(ticket)
        base_blob = blob_at(base_tree, path)
        data = [repo[b].read_raw() if b is not None else None for b in (base_blob, our_blob, their_blob)]
        try:
            if parsed is not None:
                result = merge_ticket_file(parsed[0], path.rsplit("/", 1)[-1], *data)
            elif path == CONFIG_PATH:
                result = merge_json_objects(CONFIG_PATH, *data)
            else:
                problems.append(f"{path}: changed differently on both sides (gitstore merges ticket files and {CONFIG_PATH} only)")
                continue
        except MergeConflictError as exc:
            problems.append(str(exc))
            continue
        merged_files[path] = result
        lost.extend(result.lost)
        new_blob = repo.create_blob(result.data) if result.data is not None else None
        if new_blob != our_blob:
            changes[path] = new_blob
    tickets = _ticket_results(repo, ours.tree, changes, merged_files, both, problems)
    if problems:
        raise MergeConflictError(
            f"cannot merge: {problems[0]}" + (f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""),
            problems,
        )
    return TreeMerge(changes, tickets, lost)


def _ticket_results(
    repo: pygit2.Repository,
    ours_tree: pygit2.Tree,
    changes: dict[str, pygit2.Oid | None],
    merged_files: dict[str, FileMerge],
    both: set[str],
    problems: list[str],
) -> list[TicketMergeResult]:
    touched: set[str] = set()
    for path in changes:
        parsed = layout.parse_path(path)
        if parsed is not None:
            touched.add(parsed[1])
    results = []
    for t_no in sorted(touched):
        try:
            paths = layout.ticket_paths(t_no)
        except GitStoreError as exc:
            problems.append(f"{t_no}: {exc}")
            continue
        blobs = {k: changes[p] if p in changes else blob_at(ours_tree, p) for k, p in paths.items()}
        existed = blob_at(ours_tree, paths["T"]) is not None
        present = [k for k, b in blobs.items() if b is not None]
        if not present:
            results.append(TicketMergeResult(t_no, "deleted"))
            continue
        if len(present) < 3:
            missing = ", ".join(layout.file_name(k, t_no) for k in layout.KINDS if blobs[k] is None)
            problems.append(f"ticket {t_no}: incomplete after the merge: missing {missing}")
            continue
        models = {}
        for kind, path in paths.items():
            merged = merged_files.get(path)
            # a merged file's blob is what ``blobs`` holds for it: reuse its validated model
            if merged is not None and merged.model is not None and merged.data is not None:
                models[kind] = merged.model
                continue
            try:
                blob = blobs[kind]
                assert blob is not None  # every kind is present (checked above)
                models[kind] = layout.loads(kind, repo[blob].read_raw(), layout.file_name(kind, t_no))
            except GitStoreError as exc:
                problems.append(f"{path}: {exc}")
        if len(models) < 3:
            continue
        files = TicketFiles(t_no, models["E"], models["I"], models["T"])
        for name, problem in cross_file_problems(files):
            problems.append(f"ticket {t_no}: {name}: {problem}")
        lost = [v for p in paths.values() if p in merged_files for v in merged_files[p].lost]
        if t_no in both:
            status = "merged"
        else:
            status = "updated" if existed else "new"
        results.append(TicketMergeResult(t_no, status, len(lost), lost))
    return results
