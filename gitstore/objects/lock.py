"""The store's writer lock (docs/architecture.md, the path of one update, step 1).

The lock is ``.git/gitstore/writer.lock``, held with an OS file lock (the ``filelock``
library: ``flock`` on POSIX). The OS releases it when the holder dies, so a lock left
by a killed process never blocks anyone. What a killed writer *can* leave behind are
git's own lock files (``refs/heads/main.lock``, ``index.lock``) from the middle of a
ref or index update. The holder therefore records itself in ``writer.pid`` while it
holds the lock; whoever takes the lock next and finds a ``writer.pid`` of a process
that no longer runs knows the previous writer died inside its tenure and removes
git's lock files created since then (stale-lock recovery).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from filelock import FileLock, Timeout

from gitstore.errors import LockTimeout

GIT_LOCKS = ("refs/heads/main.lock", "index.lock", "packed-refs.lock", "HEAD.lock")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class WriterLock:
    """Re-entrant writer lock of one store.

    Args:
        git_dir: the repository's ``.git`` folder (or a bare repository).
        timeout: seconds to wait for the lock before raising LockTimeout.
    """

    def __init__(self, git_dir: Path, timeout: float = 30.0):
        self.dir = Path(git_dir) / "gitstore"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.git_dir = Path(git_dir)
        self.timeout = timeout
        self._lock = FileLock(str(self.dir / "writer.lock"), timeout=timeout)
        self._pid_file = self.dir / "writer.pid"
        self._depth = 0
        self.recovered: list[str] = []

    def acquire(self) -> None:
        """Take the lock (re-entrant), recovering what a dead previous holder left.

        Raises:
            LockTimeout: another writer held the lock for ``timeout`` seconds.
        """
        if self._depth:
            self._depth += 1
            return
        try:
            self._lock.acquire()
        except Timeout:
            raise LockTimeout(
                f"another writer holds the store lock ({self.dir / 'writer.lock'}) "
                f"after {self.timeout:g} s"
            ) from None
        self._depth = 1
        self.recovered = self._recover()
        self._pid_file.write_text(f"{os.getpid()} {time.time():.6f}\n")

    def release(self) -> None:
        """Release one level of the lock; the last release frees it."""
        if not self._depth:
            return
        self._depth -= 1
        if self._depth == 0:
            try:
                self._pid_file.unlink()
            except FileNotFoundError:
                pass
            self._lock.release()

    @property
    def held(self) -> bool:
        """True while this object holds the lock."""
        return self._depth > 0

    def _recover(self) -> list[str]:
        try:
            pid_text, started = self._pid_file.read_text().split()
            pid, since = int(pid_text), float(started)
        except (FileNotFoundError, ValueError):
            return []
        if pid != os.getpid() and _alive(pid):
            return []  # holder still runs (a forked child?): leave its files alone
        removed = []
        for name in GIT_LOCKS:
            path = self.git_dir / name
            try:
                if path.stat().st_mtime >= since - 1.0:
                    path.unlink()
                    removed.append(str(path))
            except FileNotFoundError:
                continue
        self._pid_file.unlink(missing_ok=True)
        return removed

    def __enter__(self) -> "WriterLock":
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
