"""Is a git operation in progress in the repository? (The guard in front of every write.)

A person who uses plain git can leave the repository in the middle of an operation: a
``git pull``/``git merge`` that stopped on conflicts (``MERGE_HEAD``), a rebase
(``rebase-merge/``, ``rebase-apply/``), a cherry-pick (``CHERRY_PICK_HEAD``), a revert
(``REVERT_HEAD``), ``git am``, ``git bisect``, or an index that holds conflict entries
(stages 1–3) with none of those files, as ``git stash pop`` can leave it. A gitstore
write then would move ``refs/heads/main`` under git's feet and rewrite index entries git
still needs: ``git merge --abort`` afterwards fails with "multiple stage entries for
merged file". So every write refuses first (``refuse_if_in_progress``, called at the top
of ``Store.commit_tree_changes``), with one line naming the state and how to finish or
abort it.

``clear_operation`` is ``gitstore repair``'s part: a merge, cherry-pick or revert that
stopped (and stray conflict entries) is aborted the way ``git merge --abort`` does it,
every working-tree file it touched first copied to a backup folder; a rebase, ``am`` or
bisect is left alone, with what to run (their abort moves refs, which repair never does).

Detection uses libgit2's ``git_repository_state`` (pygit2 ``Repository.state()``), then
the files git itself leaves in ``.git`` (for what libgit2 does not name, such as a
sequencer stopped between picks), then ``Repository.index.conflicts``.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

import pygit2

from gitstore.errors import OperationInProgress

_STATES = {
    pygit2.enums.RepositoryState.MERGE: "merge",
    pygit2.enums.RepositoryState.REVERT: "revert",
    pygit2.enums.RepositoryState.REVERT_SEQUENCE: "revert",
    pygit2.enums.RepositoryState.CHERRYPICK: "cherry-pick",
    pygit2.enums.RepositoryState.CHERRYPICK_SEQUENCE: "cherry-pick",
    pygit2.enums.RepositoryState.BISECT: "bisect",
    pygit2.enums.RepositoryState.REBASE: "rebase",
    pygit2.enums.RepositoryState.REBASE_INTERACTIVE: "rebase",
    pygit2.enums.RepositoryState.REBASE_MERGE: "rebase",
    pygit2.enums.RepositoryState.APPLY_MAILBOX: "am",
    pygit2.enums.RepositoryState.APPLY_MAILBOX_OR_REBASE: "rebase",
}

_FILES = (
    ("rebase-merge", "rebase"),
    ("rebase-apply/applying", "am"),
    ("rebase-apply", "rebase"),
    ("MERGE_HEAD", "merge"),
    ("CHERRY_PICK_HEAD", "cherry-pick"),
    ("REVERT_HEAD", "revert"),
    ("sequencer/todo", "cherry-pick"),
    ("BISECT_LOG", "bisect"),
)
"""Files git leaves in the git folder while an operation is unfinished, most specific first."""

HOW_TO_FINISH = {
    "merge": "finish it (resolve the conflicts, 'git add' the files, 'git commit') or abort it ('git merge --abort' or 'gitstore repair')",
    "rebase": "finish it ('git rebase --continue' after resolving) or abort it ('git rebase --abort')",
    "cherry-pick": "finish it ('git cherry-pick --continue' after resolving) or abort it ('git cherry-pick --abort' or 'gitstore repair')",
    "revert": "finish it ('git revert --continue' after resolving) or abort it ('git revert --abort' or 'gitstore repair')",
    "am": "finish it ('git am --continue' after resolving) or abort it ('git am --abort')",
    "bisect": "end it ('git bisect reset')",
    "conflicts": "resolve them ('git add' the fixed files) or restore them from HEAD ('gitstore repair')",
}
"""State name → what a person runs to get out of it (the second half of the error line)."""

CLEARABLE = ("merge", "cherry-pick", "revert", "conflicts")
"""States ``clear_operation`` aborts by itself; the others only move with git's own commands."""


def operation_in_progress(repo: pygit2.Repository) -> str | None:
    """Return the unfinished git operation in ``repo``, or None.

    Args:
        repo: an open repository (bare repositories have no such state: None).

    Returns:
        ``merge``, ``rebase``, ``cherry-pick``, ``revert``, ``am``, ``bisect``, or
        ``conflicts`` (the index holds conflict entries without any of those), or None.
    """
    if repo.is_bare:
        return None
    state = _STATES.get(repo.state())
    if state is not None:
        return state
    git_dir = Path(repo.path)
    for name, found in _FILES:
        if (git_dir / name).exists():
            return found
    return "conflicts" if conflicted_paths(repo) else None


def conflicted_paths(repo: pygit2.Repository) -> list[str]:
    """Return the paths with conflict entries in the index (re-read if it changed on disk), sorted."""
    if repo.is_bare:
        return []
    index = repo.index
    index.read(force=False)  # a no-op unless git rewrote the file since it was last read
    conflicts = index.conflicts
    if conflicts is None:
        return []
    paths: set[str] = set()
    for entries in conflicts:
        paths.update(entry.path for entry in entries if entry is not None)
    return sorted(paths)


def describe(state: str, repo: pygit2.Repository | None = None) -> str:
    """Return the one-line refusal for ``state`` (see ``HOW_TO_FINISH``)."""
    if state == "conflicts":
        paths = conflicted_paths(repo) if repo is not None else []
        shown = ", ".join(paths[:3]) + (f" and {len(paths) - 3} more" if len(paths) > 3 else "")
        what = f"the git index holds unresolved conflicts{f' ({shown})' if shown else ''}"
    else:
        what = f"a git {state} is in progress"
    return f"{what}: {HOW_TO_FINISH[state]}; nothing was written"


def refuse_if_in_progress(repo: pygit2.Repository) -> None:
    """Raise when a git operation is unfinished in ``repo`` (the guard of every write).

    Raises:
        OperationInProgress: one line naming the state and how to finish or abort it;
            ``state`` holds the state's name.
    """
    state = operation_in_progress(repo)
    if state is not None:
        raise OperationInProgress(describe(state, repo), state)


@dataclass
class ClearedOperation:
    """What ``clear_operation`` did.

    Attributes:
        state: the state that was cleared (``merge``, ``cherry-pick``, ``revert``,
            ``conflicts``).
        restored: paths whose index entry and working-tree file were set back to HEAD.
        backup_dir: where the working-tree copies of those paths were saved (None if
            there was nothing to save).
    """

    state: str
    restored: list[str] = field(default_factory=list)
    backup_dir: str | None = None


def clear_operation(repo: pygit2.Repository, backup_dir: Path) -> ClearedOperation | None:
    """Abort an unfinished merge, cherry-pick or revert (or stray conflict entries).

    What ``git merge --abort`` does, with a backup: every path the operation touched
    (a conflict entry, or an index entry that differs from HEAD) is copied from the
    working tree to ``backup_dir/<path>``, then its index entry and file are set back
    to HEAD (or removed when HEAD has no such path), and git's state files
    (``MERGE_HEAD``, ``MERGE_MSG``, ``CHERRY_PICK_HEAD``, ``REVERT_HEAD``, ``sequencer/``,
    ``AUTO_MERGE``) are removed. Unstaged edits of files the operation did not touch stay.
    No ref moves. The caller holds the store's writer lock.

    Args:
        repo: a repository with a working tree.
        backup_dir: a folder that need not exist yet (created only when needed).

    Returns:
        What was cleared, or None when no operation was in progress.

    Raises:
        OperationInProgress: a rebase, ``am`` or bisect is in progress; nothing is
            touched and the message says what to run.
    """
    state = operation_in_progress(repo)
    if state is None:
        return None
    if state not in CLEARABLE:
        raise OperationInProgress(describe(state, repo).replace("; nothing was written", "; gitstore repair leaves it to git"), state)
    head = repo.head.peel(pygit2.Commit)
    index = repo.index
    index.read(force=True)
    touched = set(conflicted_paths(repo))
    for delta in index.diff_to_tree(head.tree).deltas:
        touched.update(p for p in (delta.old_file.path, delta.new_file.path) if p)
    report = ClearedOperation(state)
    workdir = Path(repo.workdir)
    for path in sorted(touched):
        source = workdir / path
        try:
            entry = head.tree[path]
        except KeyError:
            entry = None
        if source.is_file() and (entry is None or source.read_bytes() != repo[entry.id].read_raw()):
            target = Path(backup_dir) / path
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
            report.backup_dir = str(backup_dir)
        if index.conflicts is not None and path in index.conflicts:
            del index.conflicts[path]
        if entry is None:
            if source.is_file() or source.is_symlink():
                source.unlink()
            try:
                index.remove(path)
            except (OSError, KeyError, pygit2.GitError):
                pass
        else:
            source.parent.mkdir(parents=True, exist_ok=True)
            source.write_bytes(repo[entry.id].read_raw())
            index.add(path)
        report.restored.append(path)
    index.write()
    repo.state_cleanup()
    for name in ("AUTO_MERGE", "MERGE_HEAD", "MERGE_MSG", "MERGE_MODE", "CHERRY_PICK_HEAD", "REVERT_HEAD"):
        leftover = Path(repo.path) / name
        if leftover.is_file():
            leftover.unlink()
    shutil.rmtree(Path(repo.path) / "sequencer", ignore_errors=True)
    return report
