"""Bring the working tree and ``.git/index`` up to date (docs/architecture.md, the path of one update, step 6).

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

Files are staged with their stat data through pygit2's C binding (``_stage_with_stat``:
private pygit2 names, behind the ``FAST_STAGE`` feature check); when that is off,
through pygit2's public ``Index.add(path)``, which gives the same ``.git/index``
(``tests/test_guarded_internals.py`` compares the two with the git binary).
"""

from __future__ import annotations

import itertools
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pygit2

from gitstore.objects.trees import hash_blob, tree_changes

_COUNTER = itertools.count()
CONTENT_BUDGET = 64 * 1024 * 1024
"""Bytes of pending new file content kept in memory between a commit and the checkout
(beyond that, ``flush`` reads blobs back from the object database)."""

PYGIT2_VERIFIED = ((1, 15), (2,))
"""pygit2 versions ``[low, high)`` whose private C-binding names ``_stage_with_stat``
uses were verified against: ``IndexEntry._to_c``, ``Index._index``,
``pygit2.ffi.C.git_index_add``, ``pygit2.errors.check_error`` and libgit2's
``git_index_entry`` layout are the same in the source of pygit2 1.15.0 to 1.20.0, and
were run with 1.21.0 (libgit2 1.9). pyproject.toml pins ``pygit2>=1.15,<2``."""
_STAT_FIELDS = ("ctime", "mtime", "dev", "ino", "uid", "gid", "file_size")


def _version(text: str) -> tuple[int, ...]:
    """``"1.21.0"`` → ``(1, 21, 0)`` (numeric parts only; ``"1.21.0rc1"`` → ``(1, 21, 0)``)."""
    numbers = re.match(r"\d+(?:\.\d+)*", text or "")
    return tuple(int(part) for part in numbers.group(0).split(".")) if numbers else ()


def fast_stage_available(version: str | None = None) -> bool:
    """Feature check for staging entries with stat data through pygit2's C binding.

    True when pygit2's version lies in ``PYGIT2_VERIFIED`` and the names used are
    there: ``IndexEntry._to_c``, ``pygit2.ffi.C.git_index_add``,
    ``pygit2.errors.check_error`` and the stat fields of ``git_index_entry``.

    Args:
        version: a pygit2 version string; the installed one's when None.
    """
    found = _version(pygit2.__version__ if version is None else version)
    low, high = PYGIT2_VERIFIED
    if not found or not low <= found < high:
        return False
    try:  # inside the feature check: a pygit2 without these internals takes the fallback
        from pygit2.errors import check_error
        from pygit2.ffi import C, ffi

        fields = {name for name, _field in ffi.typeof("git_index_entry").fields}
    except Exception:  # an import, a name or a C type gone (cffi's ffi.error): not available
        return False
    return (
        callable(check_error)
        and callable(getattr(pygit2.IndexEntry, "_to_c", None))
        and callable(getattr(C, "git_index_add", None))
        and fields.issuperset(_STAT_FIELDS)
    )


FAST_STAGE: bool = fast_stage_available()
"""Stage files with their stat data through pygit2's C binding (else ``Index.add(path)``)."""


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
        # new content of pending paths, as the writer had it (saves reading it back)
        self.contents: dict[str, bytes] = {}
        self._content_bytes = 0

    def record(
        self, commit_id: pygit2.Oid, changes: dict[str, tuple], force: bool = False, contents: dict[str, bytes] | None = None
    ) -> None:
        """Remember the paths a commit changed.

        Args:
            commit_id: the new commit the working tree should reflect.
            changes: path → ``(old blob id or None, new blob id or None)``.
            force: overwrite these paths even if their working copy differs (used when
                the working copy *is* what was just committed, as for hand edits).
            contents: path → the new blob's bytes, when the writer has them at hand;
                kept (up to ``CONTENT_BUDGET`` bytes in all) so ``flush`` need not read
                the blobs back from the object database.
        """
        for path, (old, new) in changes.items():
            base = self.pending[path][0] if path in self.pending else old
            self.pending[path] = (base, new)
            if force:
                self.forced.add(path)
            stale = self.contents.pop(path, None)
            if stale is not None:
                self._content_bytes -= len(stale)
            data = contents.get(path) if contents else None
            if data is not None and self._content_bytes + len(data) <= CONTENT_BUDGET:
                self.contents[path] = data
                self._content_bytes += len(data)
        self.target = commit_id

    def flush(self) -> list[str]:
        """Apply pending changes to the working tree and index.

        Returns:
            Paths left as they were because they hold uncommitted edits.
        """
        kept: list[str] = []
        if self.pending and not self.repo.is_bare:
            with _trusted_ids():
                kept = self._apply_pending()
        self.pending.clear()
        self.forced.clear()
        self.contents.clear()
        self._content_bytes = 0
        if self.target is not None and not self.repo.is_bare:
            self.mark(self.target)
        return kept

    def _apply_pending(self) -> list[str]:
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
                    index.add(pygit2.IndexEntry(path, new, pygit2.enums.FileMode.BLOB))
                continue
            if new is None:
                if current is not None:
                    full.unlink()
                    _prune_dirs(full.parent, workdir)
                _index_remove(index, path)
                continue
            if current != new:
                _atomic_write(full, self._content(path, new), self.tmp_dir, known_dirs)
            _stage(index, path, new, full)
        index.write()
        return kept

    def _content(self, path: str, new: pygit2.Oid) -> bytes:
        """The new content of a pending path (kept from the writer, else read back)."""
        data = self.contents.get(path)
        return data if data is not None else self.repo[new].read_raw()

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

    def mark(self, commit_id: pygit2.Oid) -> None:
        """Record that the working tree and ``.git/index`` now reflect ``commit_id``."""
        tmp = self.marker.with_suffix(".tmp")
        tmp.write_text(f"{commit_id}\n")
        os.replace(tmp, self.marker)


    def catch_up(self, head: pygit2.Commit, prefix: str = "") -> list[str]:
        """Bring the working tree from the recorded commit to ``head`` (repair on open).

        Only paths under ``prefix`` (all when empty) are touched. Returns kept paths.
        """
        recorded = self.recorded()
        if recorded is None or self.repo.is_bare:
            self.mark(head.id) if not self.repo.is_bare else None
            return []
        if recorded == str(head.id):
            return []
        try:
            old_tree = self.repo[recorded].peel(pygit2.Tree)
        except (KeyError, ValueError):
            old_tree = None
        if old_tree is None:
            self.mark(head.id)
            return []

        self.record(head.id, tree_changes(self.repo, old_tree, head.tree, prefix))
        return self.flush()


def _hash_file(path: Path) -> pygit2.Oid | None:
    try:
        data = path.read_bytes()
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        return None
    return hash_blob(data)


@contextmanager
def _trusted_ids() -> Iterator[None]:
    """Let libgit2 stage blob ids without checking that each object exists.

    With strict object creation on (libgit2's default) every ``git_index_add`` reads
    the object's header, which searches every pack (~150 µs with 50 packs). The ids
    staged by ``flush`` are those of blobs just committed, or of files just hashed.
    The option is process-wide; it is restored at once.
    """
    pygit2.settings.enable_strict_object_creation(False)
    try:
        yield
    finally:
        pygit2.settings.enable_strict_object_creation(True)


def _stage(index: pygit2.Index, path: str, oid: pygit2.Oid, full: Path) -> None:
    """Stage ``path`` as blob ``oid`` with the stat data of the file on disk.

    What ``git add`` records. With ``FAST_STAGE`` the entry is filled directly
    (``_stage_with_stat``: ~10 µs per file); else pygit2's public ``Index.add(path)``
    (~100 µs: libgit2 re-reads and re-hashes the file), and should libgit2's id or mode
    differ from the committed blob's (a filter, an executable bit) the entry is set to
    the committed blob with the public ``Index.add(IndexEntry)``, as the fast path does.
    """
    if FAST_STAGE and hasattr(index, "_index"):
        _stage_with_stat(index, path, oid, full)
        return
    index.add(path)
    staged = index[path]
    if staged.id != oid or staged.mode != pygit2.GIT_FILEMODE_BLOB:
        index.add(pygit2.IndexEntry(path, oid, pygit2.enums.FileMode.BLOB))


def _stage_with_stat(index: pygit2.Index, path: str, oid: pygit2.Oid, full: Path) -> None:
    """``_stage`` through pygit2's cffi binding (private names, see ``PYGIT2_VERIFIED``).

    pygit2 exposes no stat fields on ``IndexEntry``, so the C entry pygit2 builds
    (``IndexEntry._to_c``) gets the file's times, device, inode, ids and size, and is
    added with ``git_index_add`` on the index's C pointer (``Index._index``): ``git
    status`` and ``git diff-files`` then see the file as clean without rehashing it,
    and libgit2 does not read the file again (the caller wrote it, or checked its hash).
    """
    from pygit2.errors import check_error  # only behind FAST_STAGE (checked at import)
    from pygit2.ffi import C

    st = full.stat()
    centry, _path_ref = pygit2.IndexEntry(path, oid, pygit2.enums.FileMode.BLOB)._to_c()
    centry.ctime.seconds = _int32(st.st_ctime_ns // 1_000_000_000)
    centry.ctime.nanoseconds = st.st_ctime_ns % 1_000_000_000
    centry.mtime.seconds = _int32(st.st_mtime_ns // 1_000_000_000)
    centry.mtime.nanoseconds = st.st_mtime_ns % 1_000_000_000
    centry.dev = st.st_dev & 0xFFFFFFFF
    centry.ino = st.st_ino & 0xFFFFFFFF
    centry.uid = st.st_uid & 0xFFFFFFFF
    centry.gid = st.st_gid & 0xFFFFFFFF
    centry.file_size = st.st_size & 0xFFFFFFFF
    check_error(C.git_index_add(index._index, centry), io=True)


def _int32(value: int) -> int:
    """``value`` truncated to a signed 32-bit integer, as git's index stores seconds."""
    return (value + 2**31) % 2**32 - 2**31


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
    _ensure_dir(path.parent, known_dirs if known_dirs is not None else set())
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


def _ensure_dir(folder: Path, known: set[Path]) -> None:
    """Create ``folder`` and its missing parents: one ``mkdir`` per folder not in ``known``
    (top-down, so a new fan-out path costs one call per level, not retries)."""
    if folder in known:
        return
    if folder.parent != folder and folder.parent not in known:
        _ensure_dir(folder.parent, known)
    try:
        os.mkdir(folder)
    except FileExistsError:
        if not folder.is_dir():
            raise
    known.add(folder)


def _prune_dirs(folder: Path, stop: Path) -> None:
    while folder != stop and folder.is_dir() and not any(folder.iterdir()):
        folder.rmdir()
        folder = folder.parent
