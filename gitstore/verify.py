"""``verify`` and ``repair``: orphaned files, corruption (docs/data-model.md#verification).

``verify`` checks, at HEAD: every ticket file's name and folder, schemas, the
cross-file rules (``rules``), orphaned tickets (only some of E/I/T exist),
stray files under ``Tickets/``, that the working tree and index equal HEAD, what every
site reads besides tickets (``storeshape``: the configuration, the merge-driver line of
``.gitattributes``, no submodule, link or file where ``Tickets/`` folders belong), git
lock files left for ``STALE_LOCK_AGE`` seconds, and object
health with ``git fsck`` (or, without a git binary, by reading every reachable object).
Each problem is one line naming the ticket and file. Untracked files outside
``Tickets/`` are not problems (people keep notes in their working trees); any file
under ``Tickets/`` that differs from HEAD is.

``repair`` clears stale locks and restores the working tree from HEAD. It never
rewrites history; a working-tree file it overwrites is first copied to
``.git/gitstore/repair-backup/<UTC time>/<path>``.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import pygit2

from gitstore.errors import GitStoreError
from gitstore.store import Store
from gitstore.storeshape import tree_problems
from gitstore.tickets import layout
from gitstore.tickets.files import TicketFiles
from gitstore.tickets.rules import cross_file_problems
from gitstore.timeutil import utc_now

RULE_FILES = "docs/data-model.md#ticket-files"
"""Rule of a missing file: a ticket needs its E, I and T files."""
RULE_SCHEMA = {"E": "docs/data-model.md#e-file", "I": "docs/data-model.md#i-file", "T": "docs/data-model.md#t-file"}
"""Rule of a schema violation, per file kind (each section links to its items)."""
RULE_CANONICAL = "docs/data-model.md#canonical-json"
"""Rule of a file not in canonical form."""
RULE_CROSS_FILE = "docs/data-model.md#cross-file-rules"
"""Rule of a cross-file violation."""


@dataclass(frozen=True)
class Problem:
    """One problem found by ``verify``.

    Attributes:
        ticket: the T_NO, or None for store-wide problems.
        file: the file (name or path) concerned, or None.
        message: what is wrong, one line.
    """

    ticket: str | None
    file: str | None
    message: str

    def __str__(self) -> str:
        where = " ".join(x for x in (self.ticket and f"ticket {self.ticket}", self.file) if x)
        return f"{where}: {self.message}" if where else self.message


@dataclass
class RepairReport:
    """What ``repair`` did.

    Attributes:
        restored: working-tree paths restored from HEAD.
        backup_dir: where overwritten working-tree files were copied (None if none).
        locks_cleared: stale lock files removed.
    """

    restored: list[str] = field(default_factory=list)
    backup_dir: str | None = None
    locks_cleared: list[str] = field(default_factory=list)


def _walk_blobs(repo: pygit2.Repository, tree: pygit2.Tree, prefix: str):
    for entry in tree:
        name = entry.name
        assert name is not None  # every tree entry has a name
        path = f"{prefix}/{name}" if prefix else name
        if entry.type_str == "tree":
            subtree = repo[entry.id]
            assert isinstance(subtree, pygit2.Tree)
            yield from _walk_blobs(repo, subtree, path)
        else:
            yield path, entry


def verify_store(store: Store, t_no: str | None = None, *, objects: bool = True) -> list[Problem]:
    """Check the store (or one ticket) and return every problem found.

    Args:
        store: a ``gitstore.Store``.
        t_no: check only this ticket (its files, rules and working-tree copies).
        objects: also check object health (``git fsck``); skipped for one ticket.

    Returns:
        Problems, in a stable order; an empty list when all is well.

    Raises:
        InvalidTicketNumber: ``t_no`` is malformed.
    """
    repo = store.repo
    head = store.head()
    problems: list[Problem] = []
    by_ticket: dict[str, dict[str, tuple[str, pygit2.Object]]] = {}
    if t_no is not None:
        layout.validate_t_no(t_no)
        for kind, path in layout.ticket_paths(t_no).items():
            try:
                by_ticket.setdefault(t_no, {})[kind] = (path, head.tree[path])
            except KeyError:
                pass
        if t_no not in by_ticket:
            problems.append(Problem(t_no, None, "no such ticket"))
    shapes = tree_problems(repo, head.tree) if t_no is None else []
    problems += [Problem(None, line.split(": ", 1)[0], line.split(": ", 1)[-1]) for line in shapes]
    if t_no is None and layout.ROOT in head.tree and not any(line.startswith(layout.ROOT + ":") for line in shapes):
        root = repo[head.tree[layout.ROOT].id]
        assert isinstance(root, pygit2.Tree)  # Tickets/ is a folder (shape checked above)
        for path, entry in _walk_blobs(repo, root, layout.ROOT):
            try:
                kind, number = layout.locate(path)
            except GitStoreError as exc:
                parsed = layout.parse_path(path)
                problems.append(Problem(parsed[1] if parsed else None, path, f"stray file: {exc}"))
                continue
            by_ticket.setdefault(number, {})[kind] = (path, entry)
    for number in sorted(by_ticket):
        if any(entry.filemode not in (pygit2.GIT_FILEMODE_BLOB, pygit2.GIT_FILEMODE_BLOB_EXECUTABLE)
               for _path, entry in by_ticket[number].values()):
            if t_no is not None:
                problems.append(Problem(number, None, "a submodule (gitlink) or link where a ticket file belongs"))
            continue  # for the whole store: reported by tree_problems
        problems += _check_ticket(repo, number, by_ticket[number])
    if not repo.is_bare:
        problems += _worktree_problems(repo, t_no)
    if objects and t_no is None:
        problems += _object_problems(repo)
    problems += _lock_problems(store)
    return problems


STALE_LOCK_AGE = 5.0
"""Seconds after which a git lock file counts as stale in ``verify`` (a write holds one
for milliseconds)."""


def _lock_problems(store: Store) -> list[Problem]:
    problems = []
    for path in store.lock.git_locks():
        try:
            age = time.time() - path.stat().st_mtime
        except FileNotFoundError:
            continue
        if age >= STALE_LOCK_AGE:
            problems.append(Problem(None, str(path), f"stale git lock file ({age:.0f} s old): git commands fail while it "
                                    "exists; remove it if no git command is running ('gitstore repair' clears the ones "
                                    "a killed gitstore writer left)"))
    return problems


@dataclass(frozen=True)
class FileProblem:
    """One problem of one ticket file, with the rule it breaks.

    Attributes:
        kind: the file (``E``, ``I`` or ``T``).
        message: what is wrong.
        rule: the section of docs/data-model.md that states the rule (``RULE_FILES``,
            ``RULE_SCHEMA[kind]``, ``RULE_CANONICAL`` or ``RULE_CROSS_FILE``), shown to
            users as a pointer.
    """

    kind: str
    message: str
    rule: str


def check_ticket_files(t_no: str, data: dict[str, bytes | None], *, canonical: bool = True) -> list[FileProblem]:
    """Validate one ticket's three files given as bytes (None: absent).

    The checks ``verify`` and the git hooks share (docs/data-model.md#verification): all
    three files present, each parses against its schema, optionally each is in canonical
    form (``layout.dumps``), and the three pass the cross-file rules. A ticket
    whose files are all absent has no problem (it was deleted).

    Returns:
        Problems in file order (E, I, T), then the cross-file ones.
    """
    if all(data.get(k) is None for k in layout.KINDS):
        return []
    problems = [FileProblem(k, "missing; a ticket needs its E, I and T files", RULE_FILES)
                for k in layout.KINDS if data.get(k) is None]
    models = {}
    for kind in layout.KINDS:
        raw = data.get(kind)
        if raw is None:
            continue
        try:
            models[kind] = layout.loads(kind, raw, layout.file_name(kind, t_no))
        except GitStoreError as exc:  # hostile JSON (huge integers, deep nesting) included
            problems += [FileProblem(kind, line.split(": ", 1)[-1], RULE_SCHEMA[kind])
                         for line in getattr(exc, "problems", [str(exc)])]
            continue
        if canonical and raw != layout.dumps(models[kind]):
            problems.append(FileProblem(kind, "not in canonical form (key order, indent 2, trailing newline)", RULE_CANONICAL))
    if len(models) == 3:
        ticket = TicketFiles(t_no, models["E"], models["I"], models["T"])
        problems += [FileProblem(name.split("_", 1)[0], message, RULE_CROSS_FILE)
                     for name, message in cross_file_problems(ticket)]
    return problems


def _check_ticket(repo, number: str, files: dict) -> list[Problem]:
    found = check_ticket_files(number, {kind: repo[entry.id].data for kind, (_path, entry) in files.items()})
    problems = []
    missing = [layout.file_name(p.kind, number) for p in found if p.rule == RULE_FILES]
    if missing:
        present = ", ".join(layout.file_name(k, number) for k in layout.KINDS if k in files)
        problems.append(Problem(number, ", ".join(missing), f"orphaned ticket: missing (only {present} exist)"))
    for problem in found:
        if problem.rule != RULE_FILES:
            name = layout.file_name(problem.kind, number) if problem.kind in layout.KINDS else problem.kind
            problems.append(Problem(number, name, problem.message))
    return problems


def _worktree_problems(repo: pygit2.Repository, t_no: str | None) -> list[Problem]:
    problems = []
    wanted = set(layout.ticket_paths(t_no).values()) if t_no else None
    for path, flags in sorted(repo.status().items()):
        if flags == pygit2.GIT_STATUS_IGNORED or (wanted is not None and path not in wanted):
            continue
        if flags == pygit2.GIT_STATUS_WT_NEW and not path.startswith(layout.ROOT + "/"):
            continue  # a person's notes next to the tickets: untracked files outside Tickets/ are theirs
        parsed = layout.parse_path(path)
        ticket = parsed[1] if parsed else None
        problems.append(Problem(ticket, path, f"working tree differs from HEAD ({_status_word(flags)})"))
    return problems


def _status_word(flags: int) -> str:
    words = []
    for flag, word in (
        (pygit2.GIT_STATUS_WT_NEW, "untracked"),
        (pygit2.GIT_STATUS_WT_MODIFIED, "modified"),
        (pygit2.GIT_STATUS_WT_DELETED, "deleted"),
        (pygit2.GIT_STATUS_INDEX_NEW, "staged new"),
        (pygit2.GIT_STATUS_INDEX_MODIFIED, "staged"),
        (pygit2.GIT_STATUS_INDEX_DELETED, "staged deletion"),
        (pygit2.GIT_STATUS_CONFLICTED, "conflicted"),
    ):
        if flags & flag:
            words.append(word)
    return ", ".join(words) or "changed"


def _object_problems(repo: pygit2.Repository) -> list[Problem]:
    git = shutil.which("git")
    if git:
        proc = subprocess.run(
            [git, "--git-dir", repo.path, "fsck", "--no-progress", "--no-dangling"],
            capture_output=True,
            text=True,
        )
        lines = [line for line in (proc.stdout + proc.stderr).splitlines() if line.strip()]
        if proc.returncode != 0 and not lines:
            lines = [f"git fsck exited with {proc.returncode}"]
        return [Problem(None, None, f"git fsck: {line}") for line in lines if proc.returncode or "error" in line]
    problems = []
    try:
        walker = repo.walk(repo.head.target, pygit2.enums.SortMode.NONE)
        for commit in walker:
            for _path, entry in _walk_blobs(repo, commit.tree, ""):
                repo[entry.id].read_raw()
    except (pygit2.GitError, KeyError, ValueError) as exc:
        problems.append(Problem(None, None, f"object store: {exc}"))
    return problems


def repair_store(store: Store) -> RepairReport:
    """Clear stale locks and restore the working tree and index from HEAD.

    Files that differ from HEAD are copied to a backup folder before being restored.
    History is never rewritten.

    Raises:
        LockTimeout: a live writer holds the store lock.
    """
    report = RepairReport()
    with store.lock:
        report.locks_cleared = list(store.lock.recovered)
        repo = store.repo
        if repo.is_bare:
            return report
        head = store.head()
        workdir = Path(repo.workdir)
        changed = [
            path
            for path, flags in repo.status().items()
            if flags != pygit2.GIT_STATUS_IGNORED
            and (path.startswith(layout.ROOT + "/") or path == ".gitattributes")
        ]
        if changed:
            stamp = utc_now().strftime("%Y%m%dT%H%M%SZ")
            backup = store.state_dir / "repair-backup" / stamp
            for path in changed:
                source = workdir / path
                if source.is_file():
                    target = backup / path
                    target.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(source, target)
                    report.backup_dir = str(backup)
            index = repo.index
            index.read()
            for path in sorted(changed):
                source = workdir / path
                try:
                    blob = head.tree[path]
                except KeyError:
                    if source.is_file():
                        source.unlink()
                    try:
                        index.remove(path)
                    except (OSError, KeyError):
                        pass
                    report.restored.append(path)
                    continue
                source.parent.mkdir(parents=True, exist_ok=True)
                source.write_bytes(repo[blob.id].read_raw())
                index.add(path)
                report.restored.append(path)
            index.write()
        store.worktree.mark(head.id)
    return report
