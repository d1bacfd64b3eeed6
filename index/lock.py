"""One index writer at a time: a file lock with a timeout (``filelock``).

Between processes the lock is ``.git/gitstore/index.lock`` (an OS lock: released when
its holder dies, so a killed watcher never blocks anyone). Inside one process a
re-entrant thread lock per index comes first, so the watcher's thread and a write made
by the same process queue up instead of sharing the file lock.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

from filelock import FileLock, Timeout

from gitstore.errors import LockTimeout

_registry: dict[str, tuple[threading.RLock, FileLock]] = {}
_registry_guard = threading.Lock()


class IndexLock:
    """Re-entrant writer lock of one search index.

    Args:
        path: the lock file.
        timeout: seconds to wait before raising LockTimeout.
    """

    def __init__(self, path: Path, timeout: float = 30.0):
        self.path = Path(path)
        self.timeout = timeout
        key = str(self.path.resolve())
        with _registry_guard:
            if key not in _registry:
                _registry[key] = (threading.RLock(), FileLock(key, thread_local=False))
            self._thread_lock, self._file_lock = _registry[key]

    def acquire(self) -> None:
        """Take the lock.

        Raises:
            LockTimeout: another writer held the index for ``timeout`` seconds.
        """
        start = time.monotonic()
        if not self._thread_lock.acquire(timeout=self.timeout):
            raise self._timeout()
        left = max(0.0, self.timeout - (time.monotonic() - start))
        try:
            self._file_lock.acquire(timeout=left)
        except Timeout:
            self._thread_lock.release()
            raise self._timeout() from None

    def release(self) -> None:
        """Release one level of the lock."""
        self._file_lock.release()
        self._thread_lock.release()

    def _timeout(self) -> LockTimeout:
        return LockTimeout(f"another process is writing the search index ({self.path}) after {self.timeout:g} s")

    def __enter__(self) -> "IndexLock":
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
