"""``pull``: fetch a remote's ``main``, then fast-forward or merge it (one merge commit).

Order of work, so that a failure leaves the store as it was:

1. fetch (objects only; no ref of ours moves);
2. check the fetched commit is a gitstore store;
3. under the writer lock: refuse when the working tree holds uncommitted edits of
   tracked files or new files under ``Tickets/`` (a merge would have to overwrite
   them); then up to date / fast-forward / semantic merge
   (``treemerge.merge_commits``), every incoming ticket validated first;
4. move ``refs/heads/main`` by compare-and-swap (a merge through
   ``Store.commit_tree_changes`` with the remote commit as second parent), then the
   working tree and ``.git/index`` catch up;
5. record the remote's commit in ``refs/remotes/<name>/main``.

Losing values of conflicts go into the merge commit message as ``Lost-Value:`` trailers
and into the result (``pull --json``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pygit2

from gitstore.errors import RemoteError, UncommittedChangesError
from gitstore.history.signatures import SignatureCheck
from gitstore.objects.repostate import refuse_if_in_progress
from gitstore.objects.trees import tree_changes
from gitstore.store import Store
from gitstore.tickets import layout
from gitstore.timeutil import utc_now
from gitstore.writer import commit_message, signature
from gitstore_sync.filemerge import LostValue, canonical
from gitstore_sync.remotes import resolve_remote
from gitstore_sync.signedmode import check_pull
from gitstore_sync.transport import fetch_main, url_of
from gitstore_sync.treemerge import TicketMergeResult, merge_commits

MAX_TRAILER_VALUE = 400
"""Longest JSON value written into a ``Lost-Value:`` trailer, in characters (longer ones
are cut and point at the commit that holds them in full)."""


@dataclass
class PullResult:
    """The outcome of ``pull``.

    Attributes:
        remote: the remote's name (or its URL when pulled by URL).
        url: the remote's URL.
        outcome: ``up-to-date``, ``fast-forward``, ``merge``, or ``empty-remote`` (a
            hub nothing was pushed to yet: nothing to pull; ``gitstore push`` fills it).
        before: our HEAD before the pull.
        after: our HEAD after the pull.
        theirs: the remote commit pulled (None for an empty remote).
        tickets: one entry per ticket the pull changed here, sorted by T_NO.
        lost: every value that lost a conflict (also in the merge commit's trailers).
        unverified: incoming commits whose signatures do not verify
            (``history.signatures.SignatureCheck``; checked when a registry exists or
            in signed mode, where they are refused instead: ``signedmode.check_pull``).
    """

    remote: str
    url: str
    outcome: str
    before: str
    after: str
    theirs: str | None
    tickets: list[TicketMergeResult] = field(default_factory=list)
    lost: list[LostValue] = field(default_factory=list)
    unverified: list[SignatureCheck] = field(default_factory=list)


def uncommitted_paths(repo: pygit2.Repository) -> list[str]:
    """Return paths with uncommitted edits a pull could clobber (tracked files, and any
    file under ``Tickets/``), sorted; empty for a bare store."""
    if repo.is_bare:
        return []
    found = []
    for path, flags in repo.status(untracked_files="normal").items():  # untracked folders not walked
        if flags == pygit2.enums.FileStatus.IGNORED:
            continue
        if flags == pygit2.enums.FileStatus.WT_NEW and not path.startswith(layout.ROOT + "/"):
            continue
        found.append(path)
    return sorted(found)


def looks_like_store(repo: pygit2.Repository, commit: pygit2.Commit) -> bool:
    """True if a commit's tree is a gitstore store (``Tickets/`` or gitstore's
    ``.gitattributes``)."""
    tree = commit.tree
    if layout.ROOT in tree:
        return True
    return ".gitattributes" in tree and b"gitstore" in repo[tree[".gitattributes"].id].read_raw()


def _refuse_local_edits(store: Store) -> None:
    edited = uncommitted_paths(store.repo)
    if edited:
        shown = ", ".join(edited[:3]) + (f" and {len(edited) - 3} more" if len(edited) > 3 else "")
        raise UncommittedChangesError(
            f"uncommitted edits in {shown}: commit them ('gitstore commit') or undo them, then pull again; nothing was changed",
            edited,
        )


def pull(store: Store, remote: str = "origin", *, actor: str, agent: str | None = None) -> PullResult:
    """Fetch ``remote``'s main and bring it into this store.

    Args:
        store: the store (bare or not).
        remote: a configured remote name or a URL/path.
        actor: author of the merge commit; ``agent``: adds an ``Agent:`` trailer.

    Returns:
        A ``PullResult`` with per-ticket results.

    Raises:
        RemoteError: no such remote, unreachable, or not a gitstore store.
        UncommittedChangesError: the working tree has uncommitted edits (kept as they are).
        MergeConflictError: a conflict the merge rules cannot settle, or invalid
            incoming tickets; nothing is written.
        RefMovedError: another writer moved main meanwhile; nothing is written.
        OperationInProgress: a plain git merge, rebase… is unfinished here.
        UnverifiedCommits: in signed mode, incoming commits do not verify; nothing is written.
    """
    refuse_if_in_progress(store.repo)
    name, handle = resolve_remote(store.repo, remote)
    label = name or url_of(handle)
    theirs_id = fetch_main(store.repo, handle, allow_empty=True)
    if theirs_id is None:
        head = str(store.head().id)
        return PullResult(label, url_of(handle), "empty-remote", head, head, None)
    theirs = store.repo[theirs_id].peel(pygit2.Commit)
    if not looks_like_store(store.repo, theirs):
        raise RemoteError(f"remote {label!r} is not a gitstore store: its main has no Tickets/ and no gitstore .gitattributes")
    with store.lock:
        ours = store.head()
        result = PullResult(label, url_of(handle), "up-to-date", str(ours.id), str(ours.id), str(theirs.id))
        repo = store.repo
        if theirs.id == ours.id or repo.descendant_of(ours.id, theirs.id):
            pass
        else:
            result.unverified = check_pull(repo, ours, theirs, label)
            _refuse_local_edits(store)
            if repo.descendant_of(theirs.id, ours.id):
                _fast_forward(store, ours, theirs, result)
            else:
                _merge(store, ours, theirs, result, label, actor, agent)
    if name is not None:
        repo = store.repo
        repo.references.create(f"refs/remotes/{name}/main", theirs.id, force=True)
    return result


def _fast_forward(store: Store, ours: pygit2.Commit, theirs: pygit2.Commit, result: PullResult) -> None:
    repo = store.repo
    # Validate what arrives exactly as a merge would (one side changed: no conflicts).
    merged = merge_commits(repo, ours, ours, theirs)
    store.fast_forward(ours.id, theirs.id, tree_changes(repo, ours.tree, theirs.tree), f"fast-forward to {str(theirs.id)[:12]}")
    result.outcome = "fast-forward"
    result.after = str(theirs.id)
    result.tickets = merged.tickets


def _merge(
    store: Store,
    ours: pygit2.Commit,
    theirs: pygit2.Commit,
    result: PullResult,
    label: str,
    actor: str,
    agent: str | None,
) -> None:
    repo = store.repo
    base_id = repo.merge_base(ours.id, theirs.id)
    base = repo[base_id].peel(pygit2.Commit) if base_id is not None else None
    merged = merge_commits(repo, base, ours, theirs)
    message = merge_message(label, theirs, merged.tickets, merged.lost, actor, agent)
    commit_id, _kept = store.commit_tree_changes(
        ours,
        merged.changes,
        message=message,
        author=signature(actor, utc_now()),
        extra_parents=[theirs.id],
    )
    result.outcome = "merge"
    result.after = str(commit_id)
    result.tickets = merged.tickets
    result.lost = merged.lost


def merge_message(
    label: str,
    theirs: pygit2.Commit,
    tickets: list[TicketMergeResult],
    lost: list[LostValue],
    actor: str,
    agent: str | None,
) -> str:
    """Build the merge commit message: a summary line, then trailers.

    Trailers: ``Merged-From:`` (remote and commit), ``Tickets:`` (how many changed),
    ``Actor:``/``Agent:``, and one ``Lost-Value: <file> <field> lost <json> kept <json>``
    per conflict, so ``git log --format=%(trailers)`` shows every losing value.
    """
    merged = sum(1 for t in tickets if t.status == "merged")
    trailers = [("Merged-From", f"{label} {theirs.id}"), ("Tickets", str(len(tickets))), ("Actor", actor)]
    if agent:
        trailers.append(("Agent", agent))
    trailers += [
        ("Lost-Value", f"{value.file} {value.field} lost {_short(value.lost)} kept {_short(value.kept)} ({value.reason})")
        for value in lost
    ]
    summary = f"Merge {label} main: {len(tickets)} tickets, {merged} merged, {len(lost)} conflicts resolved"
    return commit_message(summary, trailers)


def _short(value) -> str:
    text = " ".join(canonical(value).split())
    if len(text) > MAX_TRAILER_VALUE:
        return text[:MAX_TRAILER_VALUE] + "… (in full in the merged parents of this commit)"
    return text
