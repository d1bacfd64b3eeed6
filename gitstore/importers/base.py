"""The importer interface and the loop that writes what an importer yields.

An importer reads a source and yields ``ImportEvent``s in source order; each event is
one synchronized update (one commit) with the source's own time as author date. The
runner sorts events by time (stable), skips events already imported (dedup by the ids
the event carries: message ids, decision ids, progress-update ids, kept in the ticket
files), writes the rest under one writer lock (``Store.batch``: one checkout at the
end), and returns an ``ImportSummary``. A malformed source raises ImportFormatError
naming file and position *after* the events read before it were written.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Iterable, Iterator

from ..errors import GitStoreError, ImportFormatError


@dataclass
class ImportEvent:
    """One synchronized update read from a source.

    Attributes:
        t_no: the ticket it belongs to.
        when: the source's time (aware UTC): author date and sync timestamp.
        update: ``update_data`` for ``Store.update`` (seed 000 §3.2.1).
        ids: ids that identify the event (message/decision/update ids): if the ticket
            already holds all of them the event is skipped as already imported.
        create: keyword arguments for ``Store.create_ticket`` used when the ticket
            does not exist yet (client_name, company_name, platform, …).
        summary: the commit's summary line.
        actor: who acted in the source (commit author); the runner's actor if None.
    """

    t_no: str
    when: datetime
    update: dict[str, Any]
    ids: tuple[str, ...]
    create: dict[str, Any] | None = None
    summary: str | None = None
    actor: str | None = None


@dataclass
class ImportSummary:
    """What an import did.

    Attributes:
        tickets_created / tickets_updated: T_NOs touched.
        messages_added: messages appended (E and I).
        commits: commits written.
        duplicates: events skipped because they were imported before.
        skipped: ``(source position, reason)`` of records not imported.
        error: the format error that stopped the import, if any (also raised).
    """

    tickets_created: list[str] = field(default_factory=list)
    tickets_updated: list[str] = field(default_factory=list)
    messages_added: int = 0
    commits: int = 0
    duplicates: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)
    error: str | None = None


class Importer(ABC):
    """Base class of importers. Subclasses set ``kind`` and implement ``events``."""

    kind = ""

    @abstractmethod
    def events(self, source: Path, summary: ImportSummary) -> Iterator[ImportEvent]:
        """Yield the source's events in source order.

        Records that cannot be imported but do not stop the import are reported with
        ``summary.skipped.append((position, reason))``.

        Raises:
            ImportFormatError: the source is malformed at a position (file and place
                in the message); events yielded before it are still written.
        """


def iter_json_array(path: Path) -> Iterator[tuple[int, Any]]:
    """Yield ``(index, record)`` from a file holding one JSON array, record by record.

    Records before a truncation or syntax error are yielded; then ImportFormatError
    names the file, line, column and record number.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ImportFormatError(f"{path}: invalid UTF-8 at byte {exc.start}") from None
    decoder = json.JSONDecoder()
    pos = _skip_ws(text, 0)
    if not text.startswith("[", pos):
        raise ImportFormatError(f"{path}: expected a JSON array at {_where(text, pos)}")
    pos = _skip_ws(text, pos + 1)
    index = 0
    if text.startswith("]", pos):
        return
    while True:
        try:
            record, end = decoder.raw_decode(text, pos)
        except json.JSONDecodeError as exc:
            raise ImportFormatError(f"{path}: malformed JSON in record {index} at {_where(text, exc.pos)}: {exc.msg}") from None
        yield index, record
        index += 1
        pos = _skip_ws(text, end)
        if text.startswith(",", pos):
            pos = _skip_ws(text, pos + 1)
            continue
        if text.startswith("]", pos):
            return
        raise ImportFormatError(f"{path}: truncated or malformed JSON after record {index - 1} at {_where(text, pos)}")


def _skip_ws(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in " \t\r\n":
        pos += 1
    return pos


def _where(text: str, pos: int) -> str:
    line = text.count("\n", 0, pos) + 1
    column = pos - (text.rfind("\n", 0, pos) + 1) + 1
    return f"line {line} column {column}"


def run_import(store, importer: Importer, source: str | Path, *, actor: str, progress: bool = True) -> ImportSummary:
    """Import ``source`` with ``importer`` into ``store``.

    Args:
        store: a ``gitstore.Store``.
        importer: the importer to read the source with.
        source: file or folder.
        actor: commit author for events that name none.
        progress: show a tqdm progress bar on a terminal.

    Returns:
        The summary. Raises ImportFormatError after writing what came before it.
    """
    summary = ImportSummary()
    events: list[ImportEvent] = []
    error: ImportFormatError | None = None
    try:
        for event in importer.events(Path(source), summary):
            events.append(event)
    except ImportFormatError as exc:
        error = exc
    events.sort(key=lambda e: e.when)
    _write_events(store, events, summary, actor, progress)
    if error is not None:
        summary.error = str(error)
        error.summary = summary  # type: ignore[attr-defined]
        raise error
    return summary


def _write_events(store, events: Iterable[ImportEvent], summary: ImportSummary, actor: str, progress: bool) -> None:
    from tqdm import tqdm

    known: dict[str, set[str] | None] = {}
    created, updated = set(), set()
    events = list(events)
    with store.batch():
        bar = tqdm(events, desc=f"import", unit="update", disable=None if progress else True, leave=False)
        for event in bar:
            ids = known.get(event.t_no, "unread")
            if ids == "unread":
                ids = _ticket_ids(store, event.t_no)
                known[event.t_no] = ids
            if ids is not None and event.ids and all(i in ids for i in event.ids):
                summary.duplicates += 1
                continue
            update = _drop_known(event.update, ids or set())
            try:
                if ids is None:
                    if event.create is None:
                        summary.skipped.append((event.t_no, "ticket does not exist and the event cannot create it"))
                        continue
                    result = store.create_ticket(
                        event.t_no, **event.create, actor=event.actor or actor,
                        update_data=update or None, timestamp=event.when,
                        summary=event.summary or f"Import ticket {event.t_no}",
                    )
                    created.add(event.t_no)
                    known[event.t_no] = ids = set()
                else:
                    if not update:
                        summary.duplicates += 1
                        continue
                    result = store.update(
                        event.t_no, update, actor=event.actor or actor, timestamp=event.when,
                        summary=event.summary or f"Import update of ticket {event.t_no}",
                    )
                    if event.t_no not in created:
                        updated.add(event.t_no)
            except GitStoreError as exc:
                summary.skipped.append((event.t_no, str(exc)))
                continue
            summary.commits += 1
            summary.messages_added += sum(len(update.get(k, {}).get("messages", [])) for k in ("E", "I"))
            for added in result.added.values():
                ids.update(added)
            ids.update(event.ids)
    summary.tickets_created = sorted(created)
    summary.tickets_updated = sorted(updated)


def _ticket_ids(store, t_no: str) -> set[str] | None:
    from ..errors import TicketNotFound

    try:
        files = store.read(t_no)
    except TicketNotFound:
        return None
    ids = {m.message_id for m in files.external.messages}
    ids |= {m.message_id for m in files.internal.messages}
    ids |= {p.update_id for p in files.internal.progress_updates}
    ids |= {d.decision_id for d in files.workflow.agent_decisions}
    return ids


def _drop_known(update: dict, ids: set[str]) -> dict:
    """Remove list items whose id the ticket already has (partial re-imports)."""
    id_keys = {"messages": "message_id", "progress_updates": "update_id", "agent_decisions": "decision_id"}
    out: dict[str, Any] = {}
    for kind, changes in update.items():
        kept = {}
        for key, value in changes.items():
            if key in id_keys:
                items = [i for i in value if i.get(id_keys[key]) not in ids]
                if items:
                    kept[key] = items
            else:
                kept[key] = value
        if kept:
            out[kind] = kept
    return out
