"""Signed mode: a store that takes from others only commits whose signatures verify.

A store (a hub, usually) is in signed mode when its git configuration says
``gitstore.requireSigned = true`` (``gitstore init --bare --require-signed``, or
``git config gitstore.requireSigned true`` later). Then:

- its ``pre-receive`` hook (``hookchecks.check_receive``) refuses a push holding any
  commit that does not verify (unsigned, an unknown key, a key of someone other than
  its committer and actor, a key not valid at the commit's date…), naming the commit
  and the rule; git then keeps nothing of the push, and the pushing store is unchanged;
- ``pull`` refuses to merge or fast-forward to commits that do not verify
  (``UnverifiedCommits``), and leaves the store as it was.

Outside signed mode ``pull`` still reports the incoming commits that do not verify,
when either side keeps a registry. What verifies is ``gitstore.history.signatures``
(docs/signing.md): the incoming commits are checked against the registry of the
incoming tip, and a removal or revocation the receiving side's registry knows of
applies to them too.
"""

from __future__ import annotations

from typing import Iterable

import pygit2

from gitstore.errors import UnverifiedCommits
from gitstore.history.signatures import KEY_NOT_VALID, SignatureCheck, SignatureChecker, commits_between, is_initial_commit
from gitstore.objects.allowedsigners import registry_at

REQUIRE_SIGNED = "gitstore.requireSigned"
"""git configuration: the store takes only verifying commits from pushes and pulls."""


def signed_mode(repo: pygit2.Repository) -> bool:
    """True when ``gitstore.requireSigned`` is set to true in the repository's config."""
    try:
        return repo.config.get_bool(REQUIRE_SIGNED)
    except (KeyError, pygit2.GitError, ValueError):
        return False


def set_signed_mode(repo: pygit2.Repository, enabled: bool = True) -> None:
    """Turn signed mode on (or off) in the repository's own configuration."""
    repo.config[REQUIRE_SIGNED] = bool(enabled)


def incoming_failures(repo: pygit2.Repository, tip: pygit2.Commit, known: Iterable[pygit2.Oid],
                      local: pygit2.Commit | None = None) -> list[SignatureCheck]:
    """Check the commits reachable from ``tip`` but from none of ``known``.

    Args:
        repo: the repository holding them (a push's quarantined objects readable).
        tip: the incoming commit (a pushed ref's new value, a fetched main).
        known: commits already here (a ref's old value, our HEAD).
        local: our commit whose registry's removals also apply (None: none).

    Returns:
        The checks that fail, newest first (empty when all verify). A store's initial
        commit is not checked.
    """
    checker = SignatureChecker(repo, registry_at(repo, tip.tree))
    ours = SignatureChecker(repo, registry_at(repo, local.tree)) if local is not None else None
    failures = []
    for commit in commits_between(repo, tip.id, known):
        if is_initial_commit(repo, commit):
            continue
        result = checker.check(commit)
        if result.ok and ours is not None:
            again = ours.check(commit)
            if again.rule == KEY_NOT_VALID:
                result = again  # revoked or removed here, not yet there
        if not result.ok:
            failures.append(result)
    return failures


def uses_signatures(repo: pygit2.Repository, *commits: pygit2.Commit) -> bool:
    """True in signed mode, or when one of ``commits`` keeps a registry: then pulls
    report the incoming commits that do not verify."""
    return signed_mode(repo) or any(registry_at(repo, commit.tree) is not None for commit in commits)


def check_pull(repo: pygit2.Repository, ours: pygit2.Commit, theirs: pygit2.Commit, label: str) -> list[SignatureCheck]:
    """The commits a pull would bring in (``theirs`` not in ``ours``) that do not verify.

    Returns:
        Their failed checks, newest first; empty when they verify, or when neither side
        keeps a registry and the store is not in signed mode (nothing to check against).

    Raises:
        UnverifiedCommits: in signed mode, when any of them does not verify (nothing
            is merged; the message names the first).
    """
    if not uses_signatures(repo, ours, theirs):
        return []
    failures = incoming_failures(repo, theirs, [ours.id], local=ours)
    if failures and signed_mode(repo):
        first = failures[0]
        raise UnverifiedCommits(
            f"{len(failures)} commit(s) from {label} do not verify, refused in signed mode: {first.commit[:12]} "
            f"(actor {first.actor}): {first.reason} [{first.rule}]; nothing was merged ('gitstore verify --signatures')",
            failures,
        )
    return failures


__all__ = ["REQUIRE_SIGNED", "check_pull", "incoming_failures", "set_signed_mode", "signed_mode", "uses_signatures"]
