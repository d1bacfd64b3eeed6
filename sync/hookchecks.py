"""What the git hooks check (``hooks/pre-commit``, ``hooks/pre-receive``).

Both validate only the tickets a commit or push changes: each such ticket's three
files must be in their folder (``gitstore.tickets.layout``), parse against the schemas
(docs/data-model.md#ticket-files) and pass the cross-file rules
(docs/data-model.md#cross-file-rules, ``gitstore.tickets.rules``). A ticket
whose three files are all deleted is accepted (a deletion). Sealed fields must be
well-formed ciphertext (the schemas), and while the configuration of the commit
encrypts internal content, an I file may not hold clear text where ciphertext is
expected (``sealing_problems``, docs/encryption.md#what-is-sealed). Each problem is one
line naming the file and the rule.
"""

from __future__ import annotations

import os
from typing import Callable, Iterable, Sequence

import pygit2

from gitstore.config import CONFIG_PATH, parse_config, read_tree_config
from gitstore.crypt.fields import exposed_fields, exposed_message
from gitstore.crypt.recipients import SECTION, parse_section, recipients_at
from gitstore.errors import GitStoreError
from gitstore.objects.refs import BRANCH
from gitstore.objects.trees import blob_at
from gitstore.storeshape import has_tickets, tree_problems
from gitstore.tickets import layout
from gitstore.tickets.jsontext import parse_json
from gitstore.tickets.policy import parse_policy
from gitstore.verify import check_ticket_files
from gitstore_sync.pull import looks_like_store
from gitstore_sync.signedmode import incoming_failures, signed_mode
from gitstore_sync.treemerge import changed_blobs, empty_tree

ZERO = "0" * 40
ALLOW_DELETE_ALL = "gitstore.allowDeleteAllTickets"
"""Hub git config (boolean) that lets a push delete every ticket; refused without it."""


def ticket_problems(t_no: str, read: Callable[[str], bytes | None]) -> list[str]:
    """Validate one ticket whose files ``read(path)`` returns (None: absent).

    The checks of ``gitstore verify`` (``verify.check_ticket_files``) without the
    canonical-form one: a person's hand edit need not be formatted as gitstore writes.

    Returns:
        One line per problem: ``<path>: <problem> (<rule>)``; empty when valid.
    """
    try:
        paths = layout.ticket_paths(t_no)
    except GitStoreError as exc:
        return [f"{t_no}: {exc}"]
    found = check_ticket_files(t_no, {kind: read(path) for kind, path in paths.items()}, canonical=False)
    return [f"{paths[p.kind]}: {p.message} ({p.rule})" for p in found]


def sealing_problems(path: str, new: bytes | None, parents: Sequence[bytes | None]) -> list[str]:
    """Clear internal content where ciphertext is expected, in one I file written
    while encryption is on (``crypt.fields.exposed_fields``).

    Args:
        path: the I file's repository path (named in each line).
        new: its bytes as written (None: deleted; an unparsable file is left to
            ``ticket_problems``).
        parents: its bytes in each parent version (None where it is absent).

    Returns:
        One line per clear field: ``<path>: <list> <id>: <field> is clear text… (<rule>)``.
    """
    if new is None:
        return []
    try:
        written = parse_json(new, path)
    except GitStoreError:
        return []
    before = []
    for data in parents:
        try:
            value = parse_json(data, path) if data is not None else None
        except GitStoreError:
            value = None
        if isinstance(value, dict):
            before.append(value)
    if not isinstance(written, dict):
        return []
    return [exposed_message(path, found) for found in exposed_fields(written, before)]


def _pushed_sealing_problems(repo: pygit2.Repository, new: pygit2.Commit, old: pygit2.Commit | None) -> list[str]:
    """``sealing_problems`` of every pushed commit whose own configuration encrypts,
    against its parents (a merge's items from either side are not new)."""
    walker = repo.walk(new.id, pygit2.enums.SortMode.TOPOLOGICAL)
    if old is not None:
        walker.hide(old.id)
    problems: list[str] = []
    bad_config: set[str] = set()
    for commit in walker:
        try:
            recipients = recipients_at(repo, commit.tree)
        except GitStoreError as exc:
            if str(exc) not in bad_config:
                bad_config.add(str(exc))
                problems.append(f"commit {str(commit.id)[:12]}: {exc}")
            continue
        if not recipients:
            continue
        parents = commit.parents
        base = parents[0].tree if parents else empty_tree(repo)
        for path, oid in sorted(changed_blobs(repo, base, commit.tree).items()):
            parsed = layout.parse_path(path)
            if oid is None or parsed is None or parsed[0] != "I":
                continue
            before = []
            for parent in parents:
                known = blob_at(parent.tree, path)
                before.append(repo[known].read_raw() if known is not None else None)
            problems += [f"commit {str(commit.id)[:12]}: {line}"
                         for line in sealing_problems(path, repo[oid].read_raw(), before)]
    return problems


def tickets_and_path_problems(paths: Iterable[str]) -> tuple[set[str], list[str]]:
    """Group changed repository paths into T_NOs; also return problems for paths under
    ``Tickets/`` that are not ticket files or sit in the wrong folder."""
    tickets: set[str] = set()
    problems = []
    for path in sorted(paths):
        if not path.startswith(layout.ROOT + "/"):
            continue
        try:
            _kind, t_no = layout.locate(path)
        except GitStoreError as exc:
            problems.append(f"{path}: {exc} (docs/data-model.md#layout)")
            continue
        tickets.add(t_no)
    return tickets, problems


def check_staged(repo: pygit2.Repository, index_file: str | None = None) -> list[str]:
    """Validate the ticket files staged for a commit (the pre-commit hook).

    Args:
        repo: the repository (with a working tree).
        index_file: the index git commits from (``GIT_INDEX_FILE``); ``.git/index``
            when None.

    Returns:
        Problems, one line each; empty when the commit may go ahead.
    """
    head = None if repo.head_is_unborn else repo.head.peel(pygit2.Commit)
    head_tree = head.tree if head is not None else empty_tree(repo)
    if index_file and os.path.abspath(index_file) != os.path.abspath(os.path.join(repo.path, "index")):
        index = pygit2.Index(index_file)
        default_index = False
    else:
        index = repo.index
        index.read(force=True)
        default_index = True
    if default_index:
        # Fast path: a tree-to-index diff skips unchanged subtrees.
        changed = set()
        for delta in index.diff_to_tree(head_tree).deltas:
            changed.add(delta.old_file.path)
            changed.add(delta.new_file.path)
    else:
        entries = {e.path: e.id for e in index if e.path.startswith(layout.ROOT + "/")}
        changed = {p for p, oid in entries.items() if blob_at(head_tree, p) != oid}
        changed |= {p for p in _tree_paths(repo, head_tree, layout.ROOT) if p not in entries}
    tickets, problems = tickets_and_path_problems(changed)

    def read(path: str) -> bytes | None:
        try:
            entry = index[path]
        except KeyError:
            return None
        return repo[entry.id].read_raw()

    for t_no in sorted(tickets):
        problems += ticket_problems(t_no, read)
    problems += _staged_sealing_problems(repo, head, tickets, read)
    problems += staged_role_problems(repo, head_tree, changed)
    return problems


def committing_actor(repo: pygit2.Repository) -> str | None:
    """Who commits: ``GITSTORE_ACTOR``, else git's author name (``GIT_AUTHOR_NAME``,
    ``user.name``); None when none is set."""
    for name in ("GITSTORE_ACTOR", "GIT_AUTHOR_NAME"):
        if os.environ.get(name):
            return os.environ[name]
    try:
        return str(repo.config["user.name"])
    except KeyError:
        return None


def staged_role_problems(repo: pygit2.Repository, head_tree: pygit2.Tree, changed: set[str]) -> list[str]:
    """The staged message files the committing actor's role may not write (a hand edit
    by plain ``git commit`` obeys the roles as ``gitstore commit`` does:
    docs/data-model.md#roles). Concluding a merge (``MERGE_HEAD``) brings others' changes
    and is not checked here: the merged commits were checked where they were made."""
    if os.path.exists(os.path.join(repo.path, "MERGE_HEAD")):
        return []
    actor = committing_actor(repo)
    if actor is None:
        return []
    try:
        policy = parse_policy(read_tree_config(repo, head_tree))
    except GitStoreError:
        return []  # the configuration's own problems are reported by the shape checks
    problems = []
    for path in sorted(changed):
        parsed = layout.parse_path(path)
        if parsed is None or parsed[0] not in ("E", "I"):
            continue
        try:
            policy.check_replace({parsed[0]}, actor=actor, agent=None)
        except GitStoreError as exc:
            problems.append(f"{path}: {exc} (docs/data-model.md#roles)")
    return problems


def _staged_sealing_problems(repo: pygit2.Repository, head: pygit2.Commit | None, tickets: set[str],
                             read: Callable[[str], bytes | None]) -> list[str]:
    """``sealing_problems`` of the staged I files, under the staged configuration (else
    HEAD's), against HEAD's (and an unfinished merge's MERGE_HEAD's) versions."""
    config = read(CONFIG_PATH)
    try:
        if config is not None:
            recipients = parse_section(parse_config(config).get(SECTION))
        else:
            recipients = recipients_at(repo, head.tree) if head is not None else ()
    except GitStoreError as exc:
        return [f"{CONFIG_PATH}: {exc}"]
    if not recipients:
        return []
    parents = [head] if head is not None else []
    try:
        parents.append(repo.lookup_reference("MERGE_HEAD").peel(pygit2.Commit))
    except (KeyError, pygit2.GitError, ValueError):
        pass
    problems = []
    for t_no in sorted(tickets):
        try:
            path = layout.ticket_path("I", t_no)
        except GitStoreError:
            continue
        before = []
        for parent in parents:
            known = blob_at(parent.tree, path)
            before.append(repo[known].read_raw() if known is not None else None)
        problems += sealing_problems(path, read(path), before)
    return problems


def check_receive(repo: pygit2.Repository, updates: Iterable[Sequence[str]]) -> list[str]:
    """Validate a push (the pre-receive hook of a hub).

    Args:
        repo: the hub (objects of the push already readable: see ``open_for_hook``).
        updates: ``(old id, new id, ref)`` per ref, as git passes them on stdin.

    The first push to an empty hub (old id all zeros) creates ``main``; it must be a
    gitstore store (``pull.looks_like_store``). In signed mode (``signedmode``) every
    pushed commit must verify (``history.signatures``): each one that does not is a
    problem naming the commit, its actor and the rule. Everything a site will read is
    checked too (``gitstore.storeshape.tree_problems``: the configuration, the merge
    driver's ``.gitattributes`` line, the shape of ``Tickets/``); a push that deletes every
    ticket needs ``ALLOW_DELETE_ALL`` on the hub; refs outside ``refs/heads/`` (tags,
    notes) and malformed lines are refused.

    Returns:
        Problems, one line each, naming the ref, the file and the rule.
    """
    problems = []
    signed = signed_mode(repo)
    for update in updates:
        if len(update) != 3 or not all(_is_object_id(value) for value in update[:2]):
            problems.append(f"malformed pre-receive line {' '.join(map(str, update))!r}: expected '<old id> <new id> <ref>'")
            continue
        old, new, ref = update
        if not ref.startswith("refs/heads/"):
            problems.append(f"{ref}: a hub serves branches only (refs/heads/*); tags, notes and other refs are refused")
            continue
        if new == ZERO:
            if ref == BRANCH:
                problems.append(f"{ref}: deleting the store's main branch is not allowed")
            continue
        try:
            new_commit = repo[new].peel(pygit2.Commit)
            old_commit = repo[old].peel(pygit2.Commit) if old != ZERO else None
        except (KeyError, ValueError, pygit2.GitError, pygit2.InvalidSpecError):
            problems.append(f"{ref}: {old[:12]}..{new[:12]} is not a pair of commits the hub can read")
            continue
        if old_commit is not None:
            if not repo.descendant_of(new_commit.id, old_commit.id):
                problems.append(f"{ref}: non-fast-forward push refused (pull and merge first)")
                continue
            old_tree = old_commit.tree
        else:
            old_tree = empty_tree(repo)
            if ref == BRANCH and not looks_like_store(repo, new_commit):
                problems.append(
                    f"{ref}: not a gitstore store (no Tickets/ and no gitstore .gitattributes): a hub takes gitstore stores only"
                )
                continue
        if signed:
            known = [] if old == ZERO else [pygit2.Oid(hex=old)]
            problems += [f"{ref}: commit {f.commit[:12]} (actor {f.actor}): {f.reason} [signed mode: {f.rule}]"
                         for f in incoming_failures(repo, new_commit, known)]
        shape = tree_problems(repo, new_commit.tree, old_tree)
        if old != ZERO and has_tickets(repo, old_tree) and not has_tickets(repo, new_commit.tree) \
                and not _config_true(repo, ALLOW_DELETE_ALL):
            shape.append(f"deletes every ticket: refused (set {ALLOW_DELETE_ALL}=true on the hub to allow it)")
        problems += [f"{ref}: {line}" for line in shape]
        if shape:
            continue  # the ticket checks below read the tree's shape
        tickets, path_problems = tickets_and_path_problems(changed_blobs(repo, old_tree, new_commit.tree))
        problems += [f"{ref}: {line}" for line in path_problems]
        tree = new_commit.tree

        def read(path: str, tree=tree) -> bytes | None:
            oid = blob_at(tree, path)
            return repo[oid].read_raw() if oid is not None else None

        for t_no in sorted(tickets):
            problems += [f"{ref}: {line}" for line in ticket_problems(t_no, read)]
        problems += [f"{ref}: {line}" for line in _pushed_sealing_problems(repo, new_commit, old_commit)]
    return problems


def _is_object_id(value: object) -> bool:
    return isinstance(value, str) and len(value) in (40, 64) and all(c in "0123456789abcdef" for c in value)


def _config_true(repo: pygit2.Repository, key: str) -> bool:
    try:
        return repo.config.get_bool(key)
    except (KeyError, pygit2.GitError, ValueError):
        return False


def open_for_hook(path: str = ".") -> pygit2.Repository:
    """Open the repository a hook runs in, seeing a push's quarantined objects.

    git receives a push's objects into a quarantine folder (``GIT_QUARANTINE_PATH``)
    until pre-receive accepts them; libgit2 does not read git's environment, so the
    folder is added as an alternate object database.
    """
    repo = pygit2.Repository(os.environ.get("GIT_DIR") or pygit2.discover_repository(path) or path)
    for variable in ("GIT_QUARANTINE_PATH", "GIT_OBJECT_DIRECTORY"):
        folder = os.environ.get(variable)
        if folder and os.path.isdir(folder):
            repo.odb.add_disk_alternate(folder)
    return repo


def _tree_paths(repo: pygit2.Repository, tree: pygit2.Tree, folder: str) -> list[str]:
    try:
        entry = tree[folder]
    except KeyError:
        return []
    found = []
    stack = [(folder, repo[entry.id].peel(pygit2.Tree))]
    while stack:
        prefix, current = stack.pop()
        for item in current:
            path = f"{prefix}/{item.name}"
            if item.type_str == "tree":
                stack.append((path, repo[item.id].peel(pygit2.Tree)))
            else:
                found.append(path)
    return found
