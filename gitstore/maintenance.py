"""Store maintenance (``gitstore gc``): pack objects, refresh the history acceleration.

``gc`` takes the store's writer lock without waiting: if a writer holds it, it refuses
(``LockTimeout``) rather than packing under a running import. Holding the lock, it runs
the git binary's ``git gc --quiet`` (packs loose objects, packs refs, prunes unreachable
objects older than git's two-week grace period), then ``git commit-graph write
--reachable --changed-paths`` (so plain ``git log -- <path>`` by people is fast too),
then catches the per-ticket log (``history``) up with the branch, or rebuilds it with
``rebuild_history=True``. Readers may keep reading meanwhile: git packs atomically and
the history file is updated in one SQLite transaction.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass

from gitstore.errors import GitStoreError, LockTimeout
from gitstore.history.log import for_store
from gitstore.objects.lock import WriterLock
from gitstore.store import Store


@dataclass(frozen=True)
class GcResult:
    """What ``gc`` did.

    Attributes:
        loose_objects_before, loose_objects_after: loose objects (``git count-objects``).
        packs_after: pack files after packing.
        size_before_bytes, size_after_bytes: bytes of objects, loose plus packed.
        commit_graph: True when the commit-graph with changed-path filters was written.
        history_commits: commits in the per-ticket log afterwards.
        history_added: commits the per-ticket log caught up with (all on a rebuild).
        history_head: the commit the per-ticket log reflects.
    """

    loose_objects_before: int
    loose_objects_after: int
    packs_after: int
    size_before_bytes: int
    size_after_bytes: int
    commit_graph: bool
    history_commits: int
    history_added: int
    history_head: str | None


def _git(git_dir: str, *args: str) -> str:
    binary = shutil.which("git")
    if binary is None:
        raise GitStoreError("gc needs the git binary on PATH (git gc packs the objects)")
    proc = subprocess.run([binary, "--git-dir", git_dir, *args], capture_output=True, text=True)
    if proc.returncode:
        raise GitStoreError(f"git {args[0]} failed: {' '.join(proc.stderr.split())[:300]}")
    return proc.stdout


def _count(git_dir: str) -> dict[str, int]:
    values = {}
    for line in _git(git_dir, "count-objects", "-v").splitlines():
        key, _, value = line.partition(":")
        values[key.strip()] = int(value.strip() or 0)
    return values


def gc(store: Store, *, rebuild_history: bool = False) -> GcResult:
    """Pack the store's objects and refresh the per-ticket log.

    Args:
        store: an open ``Store``.
        rebuild_history: drop the per-ticket log and rebuild it from all commits.

    Returns:
        A ``GcResult``.

    Raises:
        LockTimeout: a writer holds the store's lock; nothing was done.
        GitStoreError: the git binary is missing or failed.
    """
    lock = WriterLock(store.git_dir, timeout=0.0)
    try:
        lock.acquire()
    except LockTimeout:
        raise LockTimeout(
            f"gc refused: a writer holds the store lock ({lock.dir / 'writer.lock'}); run gc when nothing writes"
        ) from None
    try:
        git_dir = str(store.git_dir)
        before = _count(git_dir)
        _git(git_dir, "gc", "--quiet")
        _git(git_dir, "commit-graph", "write", "--reachable", "--changed-paths")
        after = _count(git_dir)
        index = for_store(store)
        added = index.refresh(rebuild=rebuild_history)
        conn = index.connection()
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.execute("PRAGMA optimize")
        return GcResult(
            loose_objects_before=before.get("count", 0),
            loose_objects_after=after.get("count", 0),
            packs_after=after.get("packs", 0),
            size_before_bytes=(before.get("size", 0) + before.get("size-pack", 0)) * 1024,
            size_after_bytes=(after.get("size", 0) + after.get("size-pack", 0)) * 1024,
            commit_graph=True,
            history_commits=index.count(),
            history_added=added,
            history_head=index.recorded_head(),
        )
    finally:
        lock.release()


def catch_up_derived(store: Store) -> int:
    """Bring the store's derived files up to HEAD: the per-ticket log (``history``) and
    the ticket-list rows (``listing``), building them when missing.

    The CLI calls it after a bulk import has printed its summary, so the import is
    acknowledged at the write path's speed and the first ``history``, ``ticket show``
    or ``ticket list`` afterwards has nothing to build (a 100,000-commit log takes
    ~30 s to build). The search index is caught up by its own subscriber.

    Returns:
        The commits the per-ticket log added.

    Raises:
        sqlite3.Error: the per-ticket log's file could not be written (its own
            damage is repaired by rebuilding it; this is a full disk or the like).
    """
    from gitstore.listing import refresh_rows

    added = for_store(store).refresh()
    refresh_rows(store)
    return added

