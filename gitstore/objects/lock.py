"""The store's writer lock (docs/architecture.md, the path of one update, step 1).

The lock is ``.git/gitstore/writer.lock``, held with an OS file lock (the ``filelock``
library: ``flock`` on POSIX). The OS releases it when the holder dies, so a lock left
by a killed process never blocks anyone. What a killed writer *can* leave behind are
git's own lock files (``refs/heads/main.lock``, ``index.lock``) from the middle of a
ref or index update. The holder therefore records itself in ``writer.pid`` while it
holds the lock; whoever takes the lock next and finds a ``writer.pid`` of a process
that no longer runs knows the previous writer died inside its tenure and removes
git's lock files and the pack writer's temporary files created since then, unless a
git command runs in the repository (stale-lock recovery, ``WriterLock._recover``);
``Store.open`` runs it too (``recover_stale``).
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import TYPE_CHECKING

try:
    import fcntl
except ImportError:  # not POSIX: the lock works, without the FIFO queue
    fcntl = None  # type: ignore[assignment]

from gitstore.errors import LockTimeout

if TYPE_CHECKING:  # filelock loads with the first acquire: reads never take the lock
    from filelock import FileLock

GIT_LOCKS = (
    "refs/heads/main.lock", "index.lock", "packed-refs.lock", "HEAD.lock", "config.lock",
    # what a killed 'git gc' (run by gitstore gc) leaves: reflog expire, commit-graph, server info
    "logs/refs/heads/main.lock", "logs/HEAD.lock", "objects/info/commit-graph.lock",
    "objects/info/commit-graphs/commit-graph-chain.lock", "objects/info/packs.lock",
)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _waiting(entry: Path) -> bool:
    """True if the waiter of a queue entry still waits; a dead waiter's entry is removed."""
    assert fcntl is not None  # only called by _wait_turn
    try:
        fd = os.open(entry, os.O_RDWR)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True  # its waiter holds it
    finally:
        os.close(fd)
    entry.unlink(missing_ok=True)  # nobody holds it: that waiter died (or just left)
    return False


def _leave(fd: int, entry: Path) -> None:
    entry.unlink(missing_ok=True)
    os.close(fd)


def _git_running(git_dir: Path) -> bool | None:
    """True if a ``git`` process runs in this repository (its working directory inside
    the repository's folder); None where processes cannot be listed (no ``/proc``)."""
    proc = Path("/proc")
    if not proc.is_dir():
        return None
    top = os.path.realpath(git_dir.parent if git_dir.name == ".git" else git_dir)
    for entry in proc.iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            comm = (entry / "comm").read_text().strip()
            if comm != "git" and not comm.startswith("git-"):
                continue
            cwd = os.readlink(entry / "cwd")
        except OSError:
            continue
        if cwd == top or cwd.startswith(top + os.sep):
            return True
    return False


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
        self._file_lock: FileLock | None = None
        self._pid_file = self.dir / "writer.pid"
        self._depth = 0
        self.recovered: list[str] = []
        """Stale files this object removed (``recover_stale``, ``acquire``), oldest first."""

    @property
    def _lock(self) -> FileLock:
        """The OS file lock on ``writer.lock``, made on first use."""
        if self._file_lock is None:
            from filelock import FileLock

            self._file_lock = FileLock(str(self.dir / "writer.lock"), timeout=self.timeout)
        return self._file_lock

    def acquire(self) -> None:
        """Take the lock (re-entrant), recovering what a dead previous holder left.

        Raises:
            LockTimeout: another writer held the lock for ``timeout`` seconds.
        """
        if self._depth:
            self._depth += 1
            return
        from filelock import Timeout

        deadline = time.monotonic() + self.timeout
        turn = self._wait_turn(deadline) if self.timeout > 0 else None
        try:
            self._lock.acquire(timeout=max(0.0, deadline - time.monotonic()), poll_interval=0.001)
        except Timeout:
            raise LockTimeout(
                f"another writer holds the store lock ({self.dir / 'writer.lock'}) "
                f"after {self.timeout:g} s"
            ) from None
        finally:
            if turn is not None:
                _leave(*turn)
        self._depth = 1
        self.recovered += self._recover()
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

    def _wait_turn(self, deadline: float) -> tuple[int, Path] | None:
        """Queue for the lock and wait until every writer queued before us is served.

        The queue is ``writer.queue/``: one file per waiter, named by its arrival time
        (UTC nanoseconds) and held with ``flock`` while it waits, so a waiter that was
        killed is recognised (its file can be locked) and dropped. Waiting is FIFO
        and bounded by ``deadline`` (monotonic seconds). None where ``fcntl`` is missing.

        Returns:
            ``(descriptor, path)`` of our entry, for ``_leave``.

        Raises:
            LockTimeout: writers queued before us still waited at ``deadline``.
        """
        if fcntl is None:
            return None
        queue = self.dir / "writer.queue"
        queue.mkdir(exist_ok=True)
        name = f"{time.time_ns():020d}-{os.getpid()}-{id(self)}"
        entry = queue / name
        hidden = queue / f".{name}"  # locked before it shows under its name: never taken for a dead waiter's
        fd = os.open(hidden, os.O_CREAT | os.O_RDWR, 0o644)
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.replace(hidden, entry)
        delay = 0.0005
        while any(_waiting(queue / other) for other in sorted(os.listdir(queue)) if not other.startswith(".") and other < name):
            if time.monotonic() >= deadline:
                _leave(fd, entry)
                raise LockTimeout(f"writers queued for the store lock ({self.dir / 'writer.lock'}) after {self.timeout:g} s")
            time.sleep(delay)
            delay = min(delay * 2, 0.01)
        return fd, entry

    @property
    def held(self) -> bool:
        """True while this object holds the lock."""
        return self._depth > 0

    def git_locks(self) -> list[Path]:
        """git's lock files present now (``GIT_LOCKS``), whoever left them."""
        return [self.git_dir / name for name in GIT_LOCKS if (self.git_dir / name).exists()]

    def recover_stale(self) -> list[str]:
        """Clear git lock files a killed gitstore writer left, without waiting.

        Does nothing unless a ``writer.pid`` of a dead writer and a git lock file are
        both there; then takes the lock if it is free (never waits) and recovers as
        ``acquire`` does. ``Store.open`` calls it so a lock left by a kill does not stay
        until the next gitstore write (plain ``git commit`` fails on it meanwhile).

        Returns:
            The paths of the lock files removed.
        """
        if self._depth or not self._pid_file.exists():
            return []
        from filelock import Timeout

        from gitstore.objects.packs import litter

        if not (self.git_locks() or litter(self.git_dir / "objects" / "pack", 0.0)):
            return []
        try:
            self._lock.acquire(timeout=0)
        except Timeout:
            return []  # a live writer holds it: its files are its own
        try:
            removed = self._recover()
            self.recovered += removed
            return removed
        finally:
            self._lock.release()

    def _recover(self) -> list[str]:
        """Remove the git lock files the dead previous holder owned.

        A lock file is the dead writer's only if it appeared during its tenure
        (modified at or after ``writer.pid``'s start time) and no git command runs in
        this repository now (``_git_running``): a ``git commit`` waiting for its editor
        keeps ``index.lock`` without holding it open, and must not lose it. Where the
        processes cannot be listed (no ``/proc``), nothing is removed and ``verify``
        reports the lock instead.
        """
        try:
            pid_text, started = self._pid_file.read_text().split()
            pid, since = int(pid_text), float(started)
        except (FileNotFoundError, ValueError):
            return []
        if pid != os.getpid() and _alive(pid):
            return []  # holder still runs (a forked child?): leave its files alone
        removed: list[str] = []
        candidates = []
        for path in self.git_locks():
            try:
                if path.stat().st_mtime >= since - 1.0:
                    candidates.append(path)
            except FileNotFoundError:
                continue
        from gitstore.objects.packs import litter

        candidates += litter(self.git_dir / "objects" / "pack", since - 1.0)
        if candidates and _git_running(self.git_dir) is not False:
            return removed  # a git command may own them (or we cannot tell): keep them
        for path in candidates:
            try:
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
