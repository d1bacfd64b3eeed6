"""Verifying who made each commit: SSH signatures against the allowed-signers registry.

A commit verifies (docs/signing.md#what-verify-checks) when:

1. it carries a ``gpgsig`` header holding an SSH signature (``objects.sshsig``) in the
   namespace ``git`` that is valid over the commit without that header (any change to
   the content, message, author, parents… after signing breaks it);
2. the signing key is in the registry (``objects.allowedsigners``) used for the check:
   the one at the tip being verified, so a later removal or key revocation applies to
   every commit (as ``git verify-commit`` with that file as
   ``gpg.ssh.allowedSignersFile`` sees it);
3. a registry entry of that key names the commit's *committer* and is valid at the
   committer date (bounds inclusive);
4. the actor is the author: the ``Actor:`` trailer, when there is one, equals the
   author name. The committer is the actor, except for imports, which the person
   running them commits (and signs) on the source author's behalf
   (``writer.committer_for``); such a commit is reported with ``signer`` ≠ ``actor``;
5. a commit that changes ``.gitstore/allowed_signers`` is signed by a signer the
   registry before it (a parent's) allowed at that time, so no one can add their own
   key; the registry's first version is taken on trust.

A store's initial commit (no parent, only gitstore's ``.gitattributes``, author
``gitstore``) is written before any signer can be registered and holds no ticket data:
it is skipped, and counted as such.

Outcomes are values: each commit gets a ``SignatureCheck``; nothing here raises for a
bad signature.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable

import pygit2

from gitstore.errors import SignatureFormatError
from gitstore.objects.allowedsigners import REGISTRY_PATH, AllowedSigners, SignerEntry, format_time, registry_at
from gitstore.objects.sshsig import NAMESPACE_GIT, PublicKey, parse_signature
from gitstore.objects.trees import blob_at

UNSIGNED = "unsigned"
BAD_SIGNATURE = "bad-signature"
UNKNOWN_KEY = "unknown-key"
WRONG_SIGNER = "wrong-signer"
KEY_NOT_VALID = "key-not-valid"
AUTHOR_NOT_ACTOR = "author-not-actor"
REGISTRY_CHANGE = "registry-change"
"""The rules a commit can break (``SignatureCheck.rule``), docs/signing.md#what-verify-checks."""

INITIAL_AUTHOR = "gitstore"
"""The author of a store's initial commit (``Store.init``)."""


@dataclass(frozen=True)
class SignatureCheck:
    """The outcome of checking one commit.

    Attributes:
        commit: the commit id (hex).
        actor: who the commit says acted (``Actor:`` trailer, else the author name).
        signer: the committer, whose key must have signed (None when unsigned).
        key: the fingerprint of the key that signed (``SHA256:…``), or None.
        ok: the commit verifies.
        rule: the rule broken (``UNSIGNED``, ``BAD_SIGNATURE``…), None when ok.
        reason: one line saying what is wrong, None when ok.
    """

    commit: str
    actor: str
    signer: str | None
    key: str | None
    ok: bool
    rule: str | None = None
    reason: str | None = None

    def __str__(self) -> str:
        if self.ok:
            return f"{self.commit[:12]} {self.actor}: ok ({self.key})"
        return f"{self.commit[:12]} {self.actor}: {self.reason} [{self.rule}]"


@dataclass
class SignatureReport:
    """The outcome of checking a range of commits.

    Attributes:
        tip: the commit whose registry was used (hex).
        checked: commits checked.
        verified: commits that verify.
        skipped: ids of commits not checked (a store's initial commit).
        failures: the check of each commit that does not verify, newest first.
        signers: registry entries at the tip (``actor key-fingerprint``), for reference.
    """

    tip: str
    checked: int = 0
    verified: int = 0
    skipped: list[str] = field(default_factory=list)
    failures: list[SignatureCheck] = field(default_factory=list)
    signers: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when every checked commit verifies."""
        return not self.failures


def is_initial_commit(repo: pygit2.Repository, commit: pygit2.Commit) -> bool:
    """True for a store's initial commit: no parent, author ``gitstore``, a tree of only
    ``.gitattributes`` naming gitstore's merge driver (``Store.init``, ``hub.fill_empty``)."""
    if commit.parent_ids or commit.author.name != INITIAL_AUTHOR:
        return False
    tree = commit.tree
    if len(tree) != 1 or ".gitattributes" not in tree:
        return False
    entry = tree[".gitattributes"]
    return entry.type_str == "blob" and b"merge=gitstore" in repo[entry.id].read_raw()


def _actor(commit: pygit2.Commit) -> str:
    try:
        trailers = dict(commit.message_trailers)
    except (pygit2.GitError, ValueError):
        trailers = {}
    return trailers.get("Actor") or commit.author.name


class SignatureChecker:
    """Checks commits against one registry (see the module doc).

    Args:
        repo: the repository holding the commits.
        registry: the registry to check against (None: an empty one: nothing verifies).
    """

    def __init__(self, repo: pygit2.Repository, registry: AllowedSigners | None):
        self.repo = repo
        self.registry = registry or AllowedSigners()

    def check(self, commit: pygit2.Commit) -> SignatureCheck:
        """Check one commit; the outcome is a value (see ``SignatureCheck``)."""
        cid = str(commit.id)
        actor = _actor(commit)
        committer = commit.committer.name
        signature, payload = commit.gpg_signature
        if signature is None:
            return SignatureCheck(cid, actor, None, None, False, UNSIGNED, "not signed")
        try:
            parsed = parse_signature(signature)
            key = parsed.public_key
            if parsed.namespace != NAMESPACE_GIT:
                return SignatureCheck(cid, actor, committer, key.fingerprint, False, BAD_SIGNATURE,
                                      f"signature namespace is {parsed.namespace!r}, not 'git'")
            valid = parsed.verify(payload, NAMESPACE_GIT)
        except SignatureFormatError as exc:
            return SignatureCheck(cid, actor, committer, None, False, BAD_SIGNATURE, f"unreadable signature: {exc}")
        fingerprint = key.fingerprint
        if not valid:
            return SignatureCheck(cid, actor, committer, fingerprint, False, BAD_SIGNATURE,
                                  "signature does not match the commit (changed after it was signed)")
        if actor != commit.author.name:
            return SignatureCheck(cid, actor, committer, fingerprint, False, AUTHOR_NOT_ACTOR,
                                  f"author {commit.author.name!r} is not the Actor: trailer {actor!r}")
        failure = self._key_problem(self.registry, self.registry.for_key(key), committer, commit.committer.time)
        if failure is not None:
            rule, reason = failure
            return SignatureCheck(cid, actor, committer, fingerprint, False, rule, f"{reason} (key {fingerprint})")
        changed = self._registry_change_problem(commit, key, committer)
        if changed is not None:
            return SignatureCheck(cid, actor, committer, fingerprint, False, REGISTRY_CHANGE, changed)
        return SignatureCheck(cid, actor, committer, fingerprint, True)

    @staticmethod
    def _key_problem(registry: AllowedSigners, entries: list[SignerEntry], committer: str, when: int) -> tuple[str, str] | None:
        if not entries:
            return UNKNOWN_KEY, f"signed with a key not in {REGISTRY_PATH}"
        mine = [entry for entry in entries if entry.matches(committer) and not entry.cert_authority]
        if not mine:
            owners = ", ".join(sorted({entry.principals for entry in entries}))
            return WRONG_SIGNER, f"signed with the key of {owners}, not of its committer {committer!r}"
        if not any(entry.allows(committer, when) for entry in mine):
            windows = "; ".join(entry.window() for entry in mine)
            return KEY_NOT_VALID, f"{committer}'s key is valid {windows}, the commit is dated {format_time(when)}"
        return None

    def _registry_change_problem(self, commit: pygit2.Commit, key: PublicKey, committer: str) -> str | None:
        blob = blob_at(commit.tree, REGISTRY_PATH)
        parents = commit.parents
        before = [blob_at(parent.tree, REGISTRY_PATH) for parent in parents]
        if any(blob == old for old in before):
            return None  # unchanged, or taken whole from one side of a merge
        registries = [registry_at(self.repo, parent.tree) for parent in parents]
        known = [registry for registry in registries if registry is not None]
        if not known:
            return None  # the registry's first version: taken on trust
        when = commit.committer.time
        for registry in known:
            if self._key_problem(registry, registry.for_key(key), committer, when) is None:
                return None
        return f"changes {REGISTRY_PATH} but {committer!r} was not an allowed signer before this commit"

    def check_all(self, commits: Iterable[pygit2.Commit], tip: str) -> SignatureReport:
        """Check ``commits`` (a store's initial commit is skipped) into one report."""
        report = SignatureReport(tip, signers=[f"{e.principals} {e.key.fingerprint}" for e in self.registry.entries])
        for commit in commits:
            if is_initial_commit(self.repo, commit):
                report.skipped.append(str(commit.id))
                continue
            report.checked += 1
            result = self.check(commit)
            if result.ok:
                report.verified += 1
            else:
                report.failures.append(result)
        return report


def commits_between(repo: pygit2.Repository, tip: pygit2.Oid, hide: Iterable[pygit2.Oid] = ()) -> Iterable[pygit2.Commit]:
    """The commits reachable from ``tip`` and from none of ``hide``, newest first."""
    walker = repo.walk(tip, pygit2.enums.SortMode.TOPOLOGICAL | pygit2.enums.SortMode.TIME)
    for oid in hide:
        walker.hide(oid)
    return walker


def verify_range(repo: pygit2.Repository, tip: pygit2.Commit, since: Iterable[pygit2.Oid] = (),
                 registry: AllowedSigners | None = None) -> SignatureReport:
    """Check every commit reachable from ``tip`` but not from ``since``.

    Args:
        repo: the repository.
        tip: the newest commit; its registry is used unless ``registry`` is given.
        since: commits whose history is left out (``--since REV``, a push's old tip).
        registry: the registry to check against instead of the tip's.

    Returns:
        The ``SignatureReport``.
    """
    used = registry if registry is not None else registry_at(repo, tip.tree)
    checker = SignatureChecker(repo, used)
    return checker.check_all(commits_between(repo, tip.id, since), str(tip.id))


__all__ = [
    "AUTHOR_NOT_ACTOR", "BAD_SIGNATURE", "KEY_NOT_VALID", "REGISTRY_CHANGE", "UNKNOWN_KEY", "UNSIGNED", "WRONG_SIGNER",
    "SignatureCheck", "SignatureChecker", "SignatureReport", "commits_between", "is_initial_commit", "verify_range",
]
