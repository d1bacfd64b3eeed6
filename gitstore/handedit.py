"""Commit a person's hand edits of ticket files (``gitstore commit``).

A person may edit ticket files in the working tree with any editor. ``commit_hand_edits``
finds the ticket files that differ from HEAD, groups them by ticket, validates each
ticket's three files (edited ones from the working tree, the others from HEAD) against
the schemas and cross-file rules, and commits each valid ticket's edit as one
synchronized update (one shared timestamp stamped on all three files; the files are
rewritten in canonical form). A ticket that fails is refused with one line per
problem and its edit is left in place, untouched.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pygit2

from gitstore.errors import GitStoreError, NotAStoreError
from gitstore.store import Store
from gitstore.tickets import layout
from gitstore.tickets.files import TicketFiles


@dataclass
class HandEditReport:
    """Outcome of ``commit_hand_edits``.

    Attributes:
        committed: one ``CommitResult`` per ticket committed.
        refused: one line per refused file: ``<path>: <reason>``.
    """

    committed: list = field(default_factory=list)
    refused: list[str] = field(default_factory=list)


def changed_ticket_files(repo: pygit2.Repository) -> dict[str, dict[str, str]]:
    """Return ``{T_NO: {kind: path}}`` of ticket files whose working copy differs from HEAD.

    Paths under ``Tickets/`` that are not ticket files are returned under the key
    ``""`` with kind ``?`` so they can be reported.
    """
    found: dict[str, dict[str, str]] = {}
    for path, flags in repo.status().items():
        if flags == pygit2.GIT_STATUS_IGNORED or not path.startswith(layout.ROOT + "/"):
            continue
        parsed = layout.parse_path(path)
        if parsed is None:
            found.setdefault("", {})[path] = path
            continue
        kind, t_no = parsed
        found.setdefault(t_no, {})[kind] = path
    return found


def commit_hand_edits(store: Store, *, actor: str, agent: str | None = None, summary: str | None = None) -> HandEditReport:
    """Validate and commit hand-edited ticket files, one commit per ticket.

    Raises:
        NotAStoreError: a bare store has no working tree to commit from.
    """
    if store.repo.is_bare:
        raise NotAStoreError("a bare store has no working tree: there are no hand edits to commit")
    report = HandEditReport()
    workdir = Path(store.repo.workdir)
    with store.lock:
        changed = changed_ticket_files(store.repo)
        for path in sorted(changed.pop("", {})):
            report.refused.append(f"{path}: not a ticket file name (E_<T_NO>.json, I_…, T_…)")
        head_tree = store.head().tree
        for t_no in sorted(changed):
            paths = changed[t_no]
            try:
                layout.validate_t_no(t_no)
            except GitStoreError as exc:
                report.refused += [f"{p}: {exc}" for p in sorted(paths.values())]
                continue
            wrong = {k: p for k, p in paths.items() if p != layout.ticket_path(k, t_no)}
            if wrong:
                report.refused += [f"{p}: wrong folder, expected {layout.ticket_path(k, t_no)}" for k, p in wrong.items()]
                continue
            models, lines = {}, []
            for kind, path in layout.ticket_paths(t_no).items():
                name = layout.file_name(kind, t_no)
                if kind in paths:
                    source = workdir / path
                    if not source.is_file():
                        lines.append(f"{path}: deleted; ticket files cannot be deleted by hand")
                        continue
                    data = source.read_bytes()
                else:
                    try:
                        data = store.repo[head_tree[path].id].read_raw()
                    except KeyError:
                        lines.append(f"{path}: missing; a ticket needs all three files")
                        continue
                try:
                    models[kind] = layout.loads(kind, data, name)
                except GitStoreError as exc:
                    where = path if kind in paths else f"{path} (HEAD)"
                    lines.append(f"{where}: {str(exc).split(': ', 1)[-1]}")
            if lines:
                report.refused += lines
                continue
            files = TicketFiles(t_no, models["E"], models["I"], models["T"])
            exists = layout.ticket_path("T", t_no) in head_tree
            try:
                result = store.replace_files(
                    t_no,
                    files,
                    actor=actor,
                    agent=agent,
                    summary=summary or f"{'Edit' if exists else 'Create'} ticket {t_no} by hand",
                    force_worktree=True,
                    allow_missing=not exists,
                )
            except GitStoreError as exc:
                report.refused += [f"{p}: {exc}" for p in sorted(paths.values())][:1] or [str(exc)]
                continue
            report.committed.append(result)
    return report
