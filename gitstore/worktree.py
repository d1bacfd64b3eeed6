"""Bring the working tree and ``.git/index`` up to date (ARCHITECTURE.md write path, step 6).

Commits are built in memory and the branch moves by compare-and-swap; the working tree
is a *view* that catches up afterwards, for the changed paths only:

- a file whose working copy still equals the blob it had before (or is missing) is
  rewritten atomically (temporary file + rename) and staged;
- a file that already holds the new content is only staged;
- a file a person edited and has not committed is left as it is, its index entry set
  to the new commit, and reported (``kept``): nothing of theirs is overwritten.

Catch-up is deferred and batched: each commit records its changed paths, and
``flush`` applies them at once (the index, 29 MB at 100,000 tickets, is read and written
once per flush, not per update). The commit the working tree reflects is recorded in
``.git/gitstore/worktree``; when a store opens and HEAD differs (a crash between the
ref update and the checkout, or a plain ``git`` command), the tree diff between the two
commits is caught up the same way.
"""

from __future__ import annotations

import itertools
import os
from pathlib import Path

import pygit2

_COUNTER = itertools.count()


class WorktreeSync:
    """Pending working-tree changes of one store (no-op for bare repositories)."""

    def __init__(self, repo: pygit2.Repository, state_dir: Path):
        self.repo = repo
        self.marker = Path(state_dir) / "worktree"
        self.pending: dict[str, tuple[pygit2.Oid | None, pygit2.Oid | None]] = {}
        self.forced: set[str] = set()
        self.target: pygit2.Oid | None = None
        # temporary files live inside .git so a crash never leaves litter in the tree
        self.tmp_dir = Path(state_dir) / "tmp"

    def record(self, commit_id: pygit2.Oid, changes: dict[str, tuple], force: bool = False) -> None:
        """Remember the paths a commit changed.

        Args:
            commit_id: the new commit the working tree should reflect.
            changes: path → ``(old blob id or None, new blob id or None)``.
            force: overwrite these paths even if their working copy differs (used when
                the working copy *is* what was just committed, as for hand edits).
        """
        for path, (old, new) in changes.items():
            base = self.pending[path][0] if path in self.pending else old
            self.pending[path] = (base, new)
            if force:
                self.forced.add(path)
        self.target = commit_id

    def flush(self) -> list[str]:
        """Apply pending changes to the working tree and index.

        Returns:
            Paths left as they were because they hold uncommitted edits.
        """
        if not self.pending or self.repo.is_bare:
            self.pending.clear()
            self.forced.clear()
            if self.target is not None and not self.repo.is_bare:
                self._mark(self.target)
            return []
        workdir = Path(self.repo.workdir)
        index = self.repo.index
        index.read(force=False)
        kept: list[str] = []
        known_dirs: set[Path] = set()
        for path, (base, new) in sorted(self.pending.items()):
            full = workdir / path
            current = _hash_file(full)
            if current != new and current is not None and current != base and path not in self.forced:
                kept.append(path)
                if new is None:
                    _index_remove(index, path)
                else:
                    index.add(pygit2.IndexEntry(path, new, pygit2.GIT_FILEMODE_BLOB))
                continue
            if new is None:
                if current is not None:
                    full.unlink()
                    _prune_dirs(full.parent, workdir)
                _index_remove(index, path)
                continue
            if current != new:
                _atomic_write(full, self.repo[new].data, self.tmp_dir, known_dirs)
            index.add(path)
        index.write()
        self.pending.clear()
        self.forced.clear()
        if self.target is not None:
            self._mark(self.target)
        return kept

    def clean_tmp(self) -> None:
        """Remove temporary files a killed writer left (call with the writer lock held)."""
        if self.tmp_dir.is_dir():
            for leftover in self.tmp_dir.iterdir():
                leftover.unlink(missing_ok=True)

    def recorded(self) -> str | None:
        """Return the commit id the working tree was last brought to, if recorded."""
        try:
            return self.marker.read_text().strip() or None
        except FileNotFoundError:
            return None

    def _mark(self, commit_id: pygit2.Oid) -> None:
        tmp = self.marker.with_suffix(".tmp")
        tmp.write_text(f"{commit_id}\n")
        os.replace(tmp, self.marker)

    def catch_up(self, head: pygit2.Commit, prefix: str = "") -> list[str]:
        """Bring the working tree from the recorded commit to ``head`` (repair on open).

        Only paths under ``prefix`` (all when empty) are touched. Returns kept paths.
        """
        recorded = self.recorded()
        if recorded is None or self.repo.is_bare:
            self._mark(head.id) if not self.repo.is_bare else None
            return []
        if recorded == str(head.id):
            return []
        try:
            old_tree = self.repo[recorded].peel(pygit2.Tree)
        except (KeyError, ValueError):
            old_tree = None
        if old_tree is None:
            self._mark(head.id)
            return []
        from .changes import changed_paths

        self.record(head.id, changed_paths(self.repo, old_tree, head.tree, prefix))
        return self.flush()


def _hash_file(path: Path) -> pygit2.Oid | None:
    try:
        data = path.read_bytes()
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        return None
    return pygit2.hash(data)


def _index_remove(index: pygit2.Index, path: str) -> None:
    try:
        index.remove(path)
    except (OSError, KeyError):
        pass


def _atomic_write(path: Path, data: bytes, tmp_dir: Path, known_dirs: set | None = None) -> None:
    """Write ``data`` to ``path`` by writing a temporary file in ``tmp_dir`` and renaming.

    ``tmp_dir`` is inside ``.git`` on the same file system, so a crash never leaves a
    half-written ticket file (nor a stray temporary file) in the working tree.
    """
    if known_dirs is None or path.parent not in known_dirs:
        path.parent.mkdir(parents=True, exist_ok=True)
        if known_dirs is not None:
            known_dirs.add(path.parent)
    tmp = tmp_dir / f"checkout-{os.getpid()}-{next(_COUNTER)}.tmp"
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileNotFoundError:
        tmp_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _prune_dirs(folder: Path, stop: Path) -> None:
    while folder != stop and folder.is_dir() and not any(folder.iterdir()):
        folder.rmdir()
        folder = folder.parent
