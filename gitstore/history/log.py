"""Per-ticket history: which commits changed a ticket, fast on large stores.

Approach (docs/architecture-notes.md "History"): a per-ticket log kept
as derived data in ``.git/gitstore/history.sqlite`` (never committed; works the same in
bare stores). It holds one row per commit reachable from ``refs/heads/main``
(``commits``: id, author and committer time, actor, agent, summary, trailers, whether
the commit is on the first-parent line of the branch) and one row per (ticket, commit)
that changed one of the ticket's three files (``changes``: which of E/I/T, and whether
the ticket exists after the commit). A ticket's history is then one indexed query.

Why not a commit-graph with changed-path Bloom filters: libgit2 (pygit2) has no
path-limited log and does not read the Bloom filters, so every call would have to
spawn ``git log`` (tens of milliseconds of process start-up alone) and parse its
output; the SQLite log answers in about a millisecond and also serves the audit log's
``--since``/``--actor`` filters and the per-ticket ``--at DATE`` lookups. ``gitstore gc``
still writes git's commit-graph with ``--changed-paths`` for people who use plain
``git log -- <path>`` on the store.

Freshness: the file records the commit it reflects (``meta.head``) and its schema
version. Every read first compares that commit with the branch (one ref read): when
the branch moved (a write, a pull, a plain ``git commit``) it catches up by walking
only the new commits (``walk(head)`` hiding the recorded one, topological order) and
diffing each against its first parent along the ``Tickets/`` trees only (unchanged
subtrees are skipped by id, so a commit costs tens of microseconds). When the recorded
commit is no longer an ancestor of the branch (history rewritten, a reset) or the
schema version differs, the file is rebuilt from scratch. Several processes may read
and catch up at once: catching up runs in one ``BEGIN IMMEDIATE`` transaction that
first re-checks the recorded commit.

Order: ``seq`` numbers commits in a topological order extended as commits arrive, so
"newest first" means children before parents. Commits brought in by a merge appear in
the history of the tickets they changed, and so does the merge commit itself when it
changed the ticket relative to its first parent. ``mainline`` marks the first-parent
line of the branch: dates and ticket versions are resolved along it (the store "as it
was" at this site), as ``revisions.commit_at`` does.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
import weakref
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

import pygit2

from gitstore.errors import HistoryUnavailable, InvalidOption, RevisionNotFound, TicketNotFound
from gitstore.history.changes import tickets_in
from gitstore.objects.refs import BRANCH
from gitstore.objects.trees import tree_changes
from gitstore.tickets import layout
from gitstore.timeutil import from_epoch

if TYPE_CHECKING:
    from gitstore.store import Store

SCHEMA_VERSION = 1
"""Version of the history file's tables; a different version triggers a rebuild."""

DB_NAME = "history.sqlite"
_BATCH = 2000
log = logging.getLogger("gitstore.history")
NOTICE_FROM_COMMITS = 1000
"""A catch-up of the log over this many commits or more says so on the
``gitstore.history`` logger (a warning: on stderr unless the application configured
logging), so a read that builds it is never silently slow."""
_GIT_DIFF_FROM = 200
"""From this many new commits on, catching up diffs them with ``git diff-tree``."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS commits (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    author_time INTEGER NOT NULL,
    commit_time INTEGER NOT NULL,
    actor TEXT NOT NULL,
    agent TEXT,
    summary TEXT NOT NULL,
    trailers TEXT NOT NULL,
    tickets TEXT NOT NULL,
    parents INTEGER NOT NULL,
    mainline INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS commits_author_time ON commits (author_time);
CREATE TABLE IF NOT EXISTS changes (
    t_no TEXT NOT NULL,
    seq INTEGER NOT NULL,
    kinds TEXT NOT NULL,
    present INTEGER NOT NULL,
    PRIMARY KEY (t_no, seq)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS changes_seq ON changes (seq);
"""


@dataclass(frozen=True)
class HistoryEntry:
    """One commit in a ticket's history.

    Attributes:
        commit: the commit id (40 hex digits).
        time: when the update happened: the author date (aware UTC; imports keep the
            source's original time here).
        committed: when the commit was written (committer date, aware UTC).
        actor: who acted (``Actor:`` trailer, else the author name).
        agent: the automated agent's name (``Agent:`` trailer) or None.
        kinds: which of the ticket's files the commit changed, a subset of
            ``("E", "I", "T")`` (from the ``Files:`` trailer, which leaves out the
            shared timestamp every update stamps; else from the tree diff).
        summary: the commit message's first line.
        exists: False when the commit deleted the ticket's files.
        rollback_to: the ``Rollback-To:`` trailer of a rollback commit, else None.
        mainline: True when the commit is on the branch's first-parent line.
    """

    commit: str
    time: datetime
    committed: datetime
    actor: str
    agent: str | None
    kinds: tuple[str, ...]
    summary: str
    exists: bool
    rollback_to: str | None
    mainline: bool


class HistoryIndex:
    """The per-ticket log of one repository (``.git/gitstore/history.sqlite``).

    Use ``for_store(store)`` to share one per open store. Every query method catches
    up with the branch first, so answers always reflect the current ``refs/heads/main``.

    Args:
        repo: the store's pygit2 repository.
        path: the SQLite file.
    """

    def __init__(self, repo: pygit2.Repository, path: Path):
        self.repo = repo
        self.path = Path(path)
        self._conn: sqlite3.Connection | None = None
        self._mutex = threading.RLock()

    # ------------------------------------------------------------------ connection
    def connection(self) -> sqlite3.Connection:
        """Open (once) the SQLite file, creating or rebuilding its tables as needed.

        Raises:
            HistoryUnavailable: the file cannot be opened (e.g. ``.git`` is read-only).
        """
        if self._conn is None:
            try:
                try:
                    self._conn = self._open()
                except sqlite3.OperationalError:
                    raise
                except sqlite3.DatabaseError:
                    # derived data: a damaged file is dropped and rebuilt from the commits
                    for suffix in ("", "-wal", "-shm"):
                        Path(str(self.path) + suffix).unlink(missing_ok=True)
                    self._conn = self._open()
            except (sqlite3.OperationalError, OSError) as exc:
                raise HistoryUnavailable(f"cannot open the history log {self.path}: {exc}") from None
        return self._conn

    def _open(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(str(self.path), timeout=60.0, isolation_level=None, check_same_thread=False)
        # Two processes may create the file at once. Switching to WAL takes an exclusive
        # lock without SQLite's busy handler, so retry it; the schema is (re)created only
        # after checking again under the write lock, never over another process's work.
        _retry_locked(lambda: conn.execute("PRAGMA journal_mode=WAL"))
        conn.execute("PRAGMA synchronous=NORMAL")
        _retry_locked(lambda: conn.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)"))
        select = "SELECT value FROM meta WHERE key='schema_version'"
        row = conn.execute(select).fetchone()
        if row is None or row[0] != str(SCHEMA_VERSION):
            conn.execute("BEGIN IMMEDIATE")
            row = conn.execute(select).fetchone()
            if row is None or row[0] != str(SCHEMA_VERSION):
                _drop_all(conn)
                for statement in _SCHEMA.split(";"):
                    if statement.strip():
                        conn.execute(statement)
                conn.execute("INSERT INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
            conn.execute("COMMIT")
        return conn

    def close(self) -> None:
        """Close the SQLite connection (reopened on next use)."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def recorded_head(self) -> str | None:
        """Return the commit id the file reflects, or None when it is empty."""
        row = self.connection().execute("SELECT value FROM meta WHERE key='head'").fetchone()
        return row[0] if row else None

    # ------------------------------------------------------------------ catching up
    def refresh(self, *, rebuild: bool = False) -> int:
        """Catch up with ``refs/heads/main``; return the number of commits added.

        Args:
            rebuild: drop everything and index the whole branch again.
        """
        with self._mutex:
            conn = self.connection()
            try:
                head = self.repo.references[BRANCH].target
            except KeyError:
                return 0
            assert isinstance(head, pygit2.Oid)  # the store's branch is a direct reference
            if not rebuild and self.recorded_head() == str(head):
                return 0
            conn.execute("BEGIN IMMEDIATE")
            try:
                added = self._catch_up(conn, head, rebuild)
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            return added

    def _catch_up(self, conn: sqlite3.Connection, head: pygit2.Oid, rebuild: bool) -> int:
        recorded = None if rebuild else self.recorded_head()
        if recorded == str(head):
            return 0
        hide = None
        if recorded is not None:
            old = pygit2.Oid(hex=recorded)
            if old in self.repo and (old == head or self.repo.descendant_of(head, old)):
                hide = old
        if hide is None:
            conn.execute("DELETE FROM commits")
            conn.execute("DELETE FROM changes")
        chain, stop_seq = self._first_parent_chain(conn, head)
        if stop_seq is not None:
            conn.execute("UPDATE commits SET mainline=0 WHERE mainline=1 AND seq > ?", (stop_seq,))
        elif hide is not None:
            conn.execute("UPDATE commits SET mainline=0 WHERE mainline=1")
        known_chain = [c for c in chain if c[1] is not None]
        conn.executemany("UPDATE commits SET mainline=1 WHERE seq=?", [(seq,) for _, seq in known_chain])
        chain_ids = {oid for oid, seq in chain if seq is None}
        row = conn.execute("SELECT MAX(seq) FROM commits").fetchone()
        seq = (row[0] or 0) + 1
        oids = _git_rev_list(self.repo, head) if hide is None and len(chain) >= _GIT_DIFF_FROM else None
        if oids is None:
            walker = self.repo.walk(head, pygit2.enums.SortMode.TOPOLOGICAL | pygit2.enums.SortMode.REVERSE)
            if hide is not None:
                walker.hide(hide)
            oids = [commit.id for commit in walker]
        commit_rows: list[tuple] = []
        change_rows: list[tuple] = []
        if len(oids) >= NOTICE_FROM_COMMITS:
            log.warning("gitstore: %s the history log of %s (%d commits; once: later reads add only new commits)",
                        "building" if hide is None else "catching up", Path(self.repo.path).parent, len(oids))
        # a long catch-up reads through a repository handle of its own, released after each
        # batch: libgit2 keeps every pack page it touched mapped (the process's memory) until
        # its handles are freed (a build of 21,000 commits: 272 → 153 MB peak)
        reader = pygit2.Repository(self.repo.path) if len(oids) >= _GIT_DIFF_FROM else self.repo
        for start in range(0, len(oids), _BATCH):
            chunk = [_commit(reader, oid) for oid in oids[start : start + _BATCH]]
            bulk = _git_ticket_changes(reader, chunk) if len(oids) >= _GIT_DIFF_FROM else None
            for commit in chunk:
                changed = bulk[str(commit.id)] if bulk is not None else None
                self._index_commit(commit, seq, commit.id in chain_ids, commit_rows, change_rows, changed)
                seq += 1
            _flush(conn, commit_rows, change_rows)
            del chunk
            if reader is not self.repo:
                reader.free()
        added = len(oids)
        conn.execute("INSERT OR REPLACE INTO meta VALUES ('head', ?)", (str(head),))
        return added

    def _first_parent_chain(self, conn: sqlite3.Connection, head: pygit2.Oid) -> tuple[list, int | None]:
        """Walk first parents from ``head`` to the first indexed mainline commit.

        Returns ``([(oid, seq or None), …], seq of that mainline commit or None)``.
        """
        chain: list[tuple[pygit2.Oid, int | None]] = []
        oid = head
        empty = conn.execute("SELECT 1 FROM commits LIMIT 1").fetchone() is None  # a (re)build
        if empty:
            first_parents = _git_rev_list(self.repo, head, first_parent=True)
            if first_parents is not None:
                return [(oid, None) for oid in reversed(first_parents)], None
        while True:
            row = None if empty else conn.execute("SELECT seq, mainline FROM commits WHERE id=?", (str(oid),)).fetchone()
            if row is not None and row[1]:
                return chain, row[0]
            chain.append((oid, row[0] if row else None))
            parents = _commit(self.repo, oid).parent_ids
            if not parents:
                return chain, None
            oid = parents[0]

    def _index_commit(
        self, commit: pygit2.Commit, seq: int, mainline: bool, commit_rows: list, change_rows: list,
        changed: dict[str, set[str]] | None = None,
    ) -> None:
        trailers = _trailers(commit)
        parents = commit.parent_ids
        if changed is None:
            base = self.repo[parents[0]].tree if parents else None
            changed = ticket_changes(self.repo, base, commit.tree)
        trailer_kinds = _files_by_ticket(trailers.get("Files", ""))
        tree = commit.tree
        tickets = sorted(changed)
        for t_no in tickets:
            kinds = trailer_kinds.get(t_no) or changed[t_no]
            present = layout.ticket_path("T", t_no) in tree
            change_rows.append((t_no, seq, "".join(k for k in layout.KINDS if k in kinds), int(present)))
        commit_rows.append(
            (
                seq,
                str(commit.id),
                commit.author.time,
                commit.committer.time,
                trailers.get("Actor") or commit.author.name,
                trailers.get("Agent"),
                (commit.message.splitlines() or [""])[0],
                json.dumps(trailers, ensure_ascii=False),
                json.dumps(tickets, ensure_ascii=False),
                len(parents),
                int(mainline),
            )
        )

    # ------------------------------------------------------------------ queries
    def history(self, t_no: str, limit: int | None = None) -> list[HistoryEntry]:
        """Return the commits that changed ticket ``t_no``, newest first.

        Args:
            t_no: the ticket number.
            limit: at most this many entries (None: all).

        Raises:
            InvalidTicketNumber: malformed T_NO.
            TicketNotFound: no commit ever touched the ticket.
            InvalidOption: ``limit`` below 1.
        """
        layout.validate_t_no(t_no)
        if limit is not None and limit < 1:
            raise InvalidOption(f"invalid limit {limit}: must be 1 or more")
        self.refresh()
        rows = self.connection().execute(
            _ENTRY_SQL + " WHERE ch.t_no=? ORDER BY ch.seq DESC LIMIT ?", (t_no, limit if limit else -1)
        ).fetchall()
        if not rows:
            raise TicketNotFound(f"ticket {t_no} has no history: no commit ever changed it")
        return [_entry(row) for row in rows]

    def entries(self, t_no: str, *, oldest_first: bool = True) -> list[tuple[int, HistoryEntry, int]]:
        """Return ``(seq, entry, parent count)`` for every commit that changed ``t_no``."""
        layout.validate_t_no(t_no)
        self.refresh()
        order = "ASC" if oldest_first else "DESC"
        rows = self.connection().execute(
            _ENTRY_SQL + f" WHERE ch.t_no=? ORDER BY ch.seq {order}", (t_no,)
        ).fetchall()
        return [(row[10], _entry(row), row[11]) for row in rows]

    def commit_at(self, t_no: str, when: datetime, label: str = "") -> str:
        """Return the ticket's version at ``when``: its newest first-parent change then.

        Args:
            t_no: the ticket number.
            when: an aware datetime; compared with author dates (the update's time).
            label: how the user wrote the date, for error messages.

        Raises:
            TicketNotFound: the ticket did not exist at ``when`` (not yet created, or
                deleted by then); the message says when it did.
        """
        layout.validate_t_no(t_no)
        self.refresh()
        conn = self.connection()
        stamp = int(when.timestamp())
        row = conn.execute(
            "SELECT c.id, ch.present FROM changes ch JOIN commits c ON c.seq = ch.seq "
            "WHERE ch.t_no=? AND c.mainline=1 AND c.author_time <= ? ORDER BY ch.seq DESC LIMIT 1",
            (t_no, stamp),
        ).fetchone()
        shown = label or when.isoformat()
        if row is not None and row[1]:
            return row[0]
        if row is not None:
            raise TicketNotFound(f"ticket {t_no} did not exist at {shown}: its files were deleted by commit {row[0][:12]}")
        first = conn.execute(
            "SELECT MIN(c.author_time) FROM changes ch JOIN commits c ON c.seq = ch.seq WHERE ch.t_no=? AND c.mainline=1",
            (t_no,),
        ).fetchone()[0]
        if first is None:
            raise TicketNotFound(f"ticket {t_no} did not exist at {shown}: no commit ever created it")
        raise TicketNotFound(
            f"ticket {t_no} did not exist at {shown}: it was created {from_epoch(first).strftime('%Y-%m-%dT%H:%M:%SZ')}"
        )

    def store_commit_at(self, when: datetime, label: str = "") -> str:
        """Return the newest first-parent commit of the branch authored at or before ``when``.

        The same answer as ``revisions.commit_at`` on HEAD, from the log instead of a
        walk over every commit since.

        Raises:
            RevisionNotFound: the store has no commit that old.
        """
        self.refresh()
        row = self.connection().execute(
            "SELECT id FROM commits WHERE mainline=1 AND author_time <= ? ORDER BY seq DESC LIMIT 1",
            (int(when.timestamp()),),
        ).fetchone()
        if row is None:
            raise RevisionNotFound(f"no commit at or before {label or when.isoformat()}")
        return row[0]

    def version(self, t_no: str, commit: pygit2.Commit, *, catch_up: bool = True) -> str | None:
        """Return the last first-parent change of ``t_no`` at or before ``commit``.

        Returns None when ``commit`` is not on the indexed first-parent line (a remote
        ref, a side branch): the caller then walks the commits itself.

        Args:
            t_no: the ticket number.
            commit: the commit to answer at.
            catch_up: catch up with the branch first; False answers from what the log
                holds (right for every commit it holds on its first-parent line: a
                commit's first parents never change), None for a commit it does not.

        Raises:
            TicketNotFound: the ticket does not exist at ``commit``.
        """
        if catch_up:
            self.refresh()
        conn = self.connection()
        row = conn.execute("SELECT seq, mainline FROM commits WHERE id=?", (str(commit.id),)).fetchone()
        if row is None or not row[1]:
            return None
        found = conn.execute(
            "SELECT c.id, ch.present FROM changes ch JOIN commits c ON c.seq = ch.seq "
            "WHERE ch.t_no=? AND c.mainline=1 AND ch.seq <= ? ORDER BY ch.seq DESC LIMIT 1",
            (t_no, row[0]),
        ).fetchone()
        if found is None or not found[1]:
            raise TicketNotFound(f"ticket {t_no} not found at {str(commit.id)[:12]}")
        return found[0]

    def commits_with_prefix(self, prefix: str) -> list[str]:
        """Return the ids of indexed commits starting with a lower-case hex ``prefix``."""
        self.refresh()
        upper = prefix + "g"  # after every hex digit
        rows = self.connection().execute(
            "SELECT id FROM commits WHERE id >= ? AND id < ? LIMIT 50", (prefix, upper)
        ).fetchall()
        return [row[0] for row in rows]

    def count(self) -> int:
        """Return the number of commits indexed."""
        return self.connection().execute("SELECT COUNT(*) FROM commits").fetchone()[0]


_ENTRY_SQL = (
    "SELECT c.id, c.author_time, c.commit_time, c.actor, c.agent, ch.kinds, c.summary, ch.present, "
    "c.trailers, c.mainline, ch.seq, c.parents FROM changes ch JOIN commits c ON c.seq = ch.seq"
)


def _entry(row: tuple) -> HistoryEntry:
    trailers = json.loads(row[8])
    return HistoryEntry(
        commit=row[0],
        time=from_epoch(row[1]),
        committed=from_epoch(row[2]),
        actor=row[3],
        agent=row[4],
        kinds=tuple(row[5]),
        summary=row[6],
        exists=bool(row[7]),
        rollback_to=trailers.get("Rollback-To"),
        mainline=bool(row[9]),
    )


def _flush(conn: sqlite3.Connection, commit_rows: list, change_rows: list) -> None:
    conn.executemany("INSERT INTO commits VALUES (?,?,?,?,?,?,?,?,?,?,?)", commit_rows)
    conn.executemany("INSERT INTO changes VALUES (?,?,?,?)", change_rows)
    commit_rows.clear()
    change_rows.clear()


def _drop_all(conn: sqlite3.Connection) -> None:
    for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type='table'").fetchall():
        conn.execute(f'DROP TABLE IF EXISTS "{name}"')


def _commit(repo: pygit2.Repository, oid: pygit2.Oid) -> pygit2.Commit:
    commit = repo[oid]
    assert isinstance(commit, pygit2.Commit)  # a walked commit or a commit's parent
    return commit


def _trailers(commit: pygit2.Commit) -> dict[str, str]:
    try:
        return dict(commit.message_trailers)
    except (pygit2.GitError, ValueError):
        return {}


def _files_by_ticket(files: str) -> dict[str, set[str]]:
    """Map the ``Files:`` trailer (``E_1.json, T_1.json``) to ``{T_NO: {"E", "T"}}``."""
    found: dict[str, set[str]] = {}
    for name in (part.strip() for part in files.split(",")):
        if len(name) > 7 and name[0] in "EIT" and name[1] == "_" and name.endswith(".json"):
            found.setdefault(name[2:-5], set()).add(name[0])
    return found


def _git_rev_list(repo: pygit2.Repository, head: pygit2.Oid, *, first_parent: bool = False) -> list[pygit2.Oid] | None:
    """Every commit reachable from ``head``, parents before children (``git rev-list
    --topo-order --reverse``; ``first_parent``: only the first-parent line), or None
    when the git binary is missing or fails (the caller walks with libgit2).

    Used to (re)build the whole log: git walks the graph in its own process, so this
    one never maps every commit's pack pages at once (libgit2's topological walk of
    21,000 commits grew the process by ~88 MB).
    """
    import shutil
    import subprocess

    binary = shutil.which("git")
    if binary is None:
        return None
    args = [binary, "--git-dir", repo.path, "rev-list", "--topo-order", "--reverse"]
    proc = subprocess.run([*args, *(["--first-parent"] if first_parent else []), str(head)], capture_output=True, text=True)
    if proc.returncode:
        return None
    return [pygit2.Oid(hex=line) for line in proc.stdout.split()]


def _git_ticket_changes(repo: pygit2.Repository, commits: list[pygit2.Commit]) -> dict[str, dict[str, set[str]]] | None:
    """Diff many commits against their first parents with one ``git diff-tree --stdin``.

    git's C tree diff over packed objects is several times faster than walking trees
    from Python, which matters when (re)building the log over 100,000 commits. Returns
    None when the git binary is missing or fails (the caller then diffs in Python).
    """
    import shutil
    import subprocess  # only to (re)build the log: a read that finds it up to date does not start git

    binary = shutil.which("git")
    if binary is None:
        return None
    lines = []
    for commit in commits:
        parents = commit.parent_ids
        lines.append(f"{commit.id} {parents[0]}" if parents else str(commit.id))
    proc = subprocess.run(
        [binary, "--git-dir", repo.path, "diff-tree", "--stdin", "-r", "--root", "--no-renames",
         "--name-only", "--format=@%H", "--", layout.ROOT + "/"],
        input="\n".join(lines) + "\n", capture_output=True, text=True,
    )
    if proc.returncode:
        return None
    paths: dict[str, list[str]] = {str(c.id): [] for c in commits}
    current: list[str] | None = None
    for line in proc.stdout.splitlines():
        if line.startswith("@") and len(line) == 41:
            current = paths.get(line[1:])
        elif line and current is not None:
            current.append(line)
    return {commit: tickets_in(found) for commit, found in paths.items()}


def commit_ticket_kinds(repo: pygit2.Repository, commit: pygit2.Commit) -> dict[str, set[str]]:
    """``{T_NO: {kinds}}`` a commit changed against its first parent: from its ``Files:``
    trailer when it has one (the shared timestamp every update stamps left out), else
    from the tree diff (merges, plain git commits)."""
    files = _trailers(commit).get("Files")
    if files:
        return _files_by_ticket(files)
    parent = commit.parents[0].tree if commit.parents else None
    return ticket_changes(repo, parent, commit.tree)


def ticket_changes(repo: pygit2.Repository, old: pygit2.Tree | None, new: pygit2.Tree | None) -> dict[str, set[str]]:
    """Return ``{T_NO: {kinds}}`` of the ticket files that differ between two root trees.

    Only the ``Tickets/`` subtree is compared (``gitstore.history.changes``), so the cost
    follows the number of changed files, not the size of the store.
    """
    return tickets_in(tree_changes(repo, old, new, layout.ROOT))


def _retry_locked(run, seconds: float = 60.0):
    """Run ``run()``, retrying while SQLite answers "database is locked"."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            return run()
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


_INDEXES: "weakref.WeakKeyDictionary[Any, HistoryIndex]" = weakref.WeakKeyDictionary()


def for_store(store: Store) -> HistoryIndex:
    """Return the HistoryIndex of an open ``Store`` (one per store object)."""
    index = _INDEXES.get(store)
    if index is None:
        index = HistoryIndex(store.repo, Path(store.state_dir) / DB_NAME)
        _INDEXES[store] = index
    return index


def _existing(store: Store) -> HistoryIndex | None:
    """The store's log when its file exists (never creates it), else None."""
    index = for_store(store)
    if index._conn is None and not index.path.exists():
        return None
    return index


def logged_version(store: Store, t_no: str, commit: pygit2.Commit) -> str | None:
    """``HistoryIndex.version`` from what the log file already holds, without catching
    up (one indexed query): the answer when ``commit`` is on the log's first-parent
    line (the branch's head when the log is up to date, or an older commit of that
    line); None when there is no log file, it cannot be read, or it does not hold
    ``commit`` (a newer commit, a side branch).

    Raises:
        TicketNotFound: the ticket does not exist at ``commit``.
    """
    index = _existing(store)
    if index is None:
        return None
    try:
        return index.version(t_no, commit, catch_up=False)
    except (sqlite3.Error, OSError, HistoryUnavailable):
        return None


def logged_head(store: Store) -> pygit2.Oid | None:
    """The commit the log file reflects (``meta.head``), read without catching up;
    None when there is no log file (it is never created here) or it cannot be read."""
    index = _existing(store)
    if index is None:
        return None
    try:
        recorded = index.recorded_head()
    except (sqlite3.Error, OSError, HistoryUnavailable):
        return None
    return pygit2.Oid(hex=recorded) if recorded else None


def indexed_version(store: Store, t_no: str, commit: pygit2.Commit) -> str | None:
    """Return ``HistoryIndex.version`` for ``Store.ticket_version``, or None to walk.

    None when ``commit`` is off the indexed first-parent line or the derived file
    cannot be used (unwritable ``.git/gitstore``): the caller's walk is always right.

    Raises:
        TicketNotFound: the ticket does not exist at ``commit``.
    """
    try:
        return for_store(store).version(t_no, commit)
    except (sqlite3.Error, OSError):
        return None


def ticket_history(store: Store, t_no: str, limit: int | None = None) -> list[HistoryEntry]:
    """Return the commits that changed ticket ``t_no``, newest first (``gitstore history``).

    Args:
        store: an open ``Store``.
        t_no: the ticket number.
        limit: at most this many entries (None: all).

    Returns:
        ``HistoryEntry`` values, newest first; for a viewer who may not read I
        (``Store.viewer``) a commit that changed only I reads ``viewer.INTERNAL_SUMMARY``.

    Raises:
        InvalidTicketNumber, TicketNotFound (never existed), InvalidOption (limit < 1).
    """
    viewer = store.viewer
    entries = for_store(store).history(t_no, limit)
    if viewer.internal:
        return entries
    return [replace(e, summary=viewer.summary(e.summary, e.kinds)) for e in entries]


def iter_commits(store: Store, sql_where: str, params: tuple, *, ticket: str | None = None) -> Iterator[tuple]:
    """Stream raw commit rows (newest first) matching a WHERE clause; used by ``audit``.

    Rows: ``(id, author_time, commit_time, actor, agent, summary, trailers, tickets)``.
    """
    index = for_store(store)
    index.refresh()
    conn = index.connection()
    columns = "c.id, c.author_time, c.commit_time, c.actor, c.agent, c.summary, c.trailers, c.tickets"
    if ticket is not None:
        sql = f"SELECT {columns} FROM changes ch JOIN commits c ON c.seq = ch.seq WHERE ch.t_no=? AND {sql_where} ORDER BY ch.seq DESC"
        params = (ticket, *params)
    else:
        sql = f"SELECT {columns} FROM commits c WHERE {sql_where} ORDER BY c.seq DESC"
    cursor = conn.execute(sql, params)
    while True:
        rows = cursor.fetchmany(500)
        if not rows:
            return
        yield from rows
