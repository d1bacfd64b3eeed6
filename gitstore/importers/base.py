"""The importer interface and the loop that writes what an importer yields.

An importer reads a source and yields ``ImportEvent``s in source order; each event is
one synchronized update (one commit) with the source's own time as author date. The
runner sorts events by time (stable), skips events already imported (dedup by the ids
the event carries: message ids, decision ids, progress-update ids, kept in the ticket
files), writes the rest through the store's write path in one ``Store.bulk()`` block
(one commit per event, the branch moved once per checkpoint, the working tree caught up
once at the end), and returns an ``ImportSummary``.

Bad input (docs/importers.md "Bad input"):

- **A record that cannot be imported** (an odd conversation, action, message or post
  inside a well-formed file) is skipped: ``summary.skipped`` gets a ``SkippedRecord``
  with its position, id and reason, and the import goes on with the next record. A
  record is parsed whole before any of its events is yielded, so nothing of a skipped
  record is committed.
- **A file that cannot be parsed** (not JSON, truncated, not an mbox…) raises
  ImportFormatError naming file and position *after* the events read before it were
  written.
- Source records the mapping does not import by design (a Trello card's position in
  its list, a board-level action) are listed in ``summary.ignored`` with their reason;
  they are not errors.

An event's ``update`` may be a callable that builds the update: it is called only when
the event is not a duplicate, so a re-import skips the costly decoding (for example of
MIME bodies) of everything already imported.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, Iterator, TypeVar

from tqdm import tqdm

from gitstore.errors import GitStoreError, ImportFormatError, RefMovedError, ValidationError
from gitstore.importers.ledger import ImportLedger
from gitstore.store import Store
from gitstore.tickets.update import APPEND_FIELDS, TicketDraft
from gitstore.writer import new_ticket_files


@dataclass
class ImportEvent:
    """One synchronized update read from a source.

    Attributes:
        t_no: the ticket it belongs to.
        when: the source's time (aware UTC): author date and sync timestamp.
        update: ``update_data`` for ``Store.update`` (docs/data-model.md#update-rules).
        ids: ids that identify the event (message/decision/update ids): if the ticket
            already holds all of them the event is skipped as already imported.
        create: keyword arguments for ``Store.create_ticket`` used when the ticket
            does not exist yet (client_name, company_name, platform, …).
        summary: the commit's summary line.
        actor: who acted in the source (commit author); the runner's actor if None.
        create_update: further ``update_data`` applied only if this event creates the
            ticket (for example the I file's ``platforms``).
        where: the source position (``file:line`` or ``file#record``) for reports.
        messages: how many source messages the event carries (for throughput figures
            and the summary; the messages in ``update`` when 0 and it is a dict).
        cs_agents: support agents to add to the E file's ``participants.cs_agents``
            (merged with those already listed, never replacing them).
        cs_team, technical_team: people to add to the I file's
            ``participants.cs_team`` / ``participants.technical_team`` (likewise).
    """

    t_no: str
    when: datetime
    update: dict[str, Any] | Callable[[], dict[str, Any]]
    ids: tuple[str, ...]
    create: dict[str, Any] | None = None
    summary: str | None = None
    actor: str | None = None
    create_update: dict[str, Any] | None = None
    where: str | None = None
    messages: int = 0
    cs_agents: tuple[str, ...] = ()
    cs_team: tuple[str, ...] = ()
    technical_team: tuple[str, ...] = ()


@dataclass
class SkippedRecord:
    """A source record that was not imported, and why.

    Attributes:
        position: where it is in the source (``file#record 12``, ``file: line 40``,
            ``file: action 7``; record and action numbers count from 0, lines from 1).
        id: the record's own id in the source (session id, action id, message id,
            ``ts`` …), or None when the record has none that could be read.
        reason: one line saying why it was not imported.
    """

    position: str
    id: str | None
    reason: str


@dataclass
class ImportSummary:
    """What an import did.

    Attributes:
        tickets_created / tickets_updated: T_NOs touched.
        messages_added: messages appended (E and I).
        commits: commits written.
        duplicates: events skipped because they were imported before.
        skipped: ``SkippedRecord`` of each record that could not be imported (bad
            record, refused by the store, no ticket for it): the import is incomplete.
        ignored: ``SkippedRecord`` of source records the mapping does not import by
            design (see each importer); not an error.
        error: the format error that stopped the import, if any (also raised).
        events: events read from the source.
        messages_read: source messages read (imported, duplicate or skipped).
        seconds: wall time of the whole import.
    """

    tickets_created: list[str] = field(default_factory=list)
    tickets_updated: list[str] = field(default_factory=list)
    messages_added: int = 0
    commits: int = 0
    duplicates: int = 0
    skipped: list[SkippedRecord] = field(default_factory=list)
    ignored: list[SkippedRecord] = field(default_factory=list)
    error: str | None = None
    events: int = 0
    messages_read: int = 0
    seconds: float = 0.0

    def skip(self, position: str, record_id: Any, reason: str, messages: int = 0) -> None:
        """Record a record that cannot be imported.

        Args:
            position: its place in the source.
            record_id: its id in the source (converted to text), or None.
            reason: why, one line.
            messages: source messages it held (counted in ``messages_read``).
        """
        self.skipped.append(SkippedRecord(position, None if record_id is None else str(record_id), _one_line(reason)))
        self.messages_read += messages

    def ignore(self, position: str, record_id: Any, reason: str) -> None:
        """Record a source record the mapping does not import by design."""
        self.ignored.append(SkippedRecord(position, None if record_id is None else str(record_id), _one_line(reason)))


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def record_problem(exc: BaseException) -> str:
    """The reason text for a record whose parsing raised ``exc``."""
    if isinstance(exc, KeyError):
        return f"missing field {exc.args[0]!r}" if exc.args else "missing field"
    return f"{type(exc).__name__}: {exc}"


RECORD_ERRORS = (KeyError, TypeError, ValueError, AttributeError, IndexError, OverflowError)
"""What parsing one malformed record raises (caught per record: the record is skipped)."""


class Importer(ABC):
    """Base class of importers. Subclasses set ``kind`` and implement ``events``."""

    kind = ""

    @abstractmethod
    def events(self, source: Path, summary: ImportSummary) -> Iterator[ImportEvent]:
        """Yield the source's events in source order.

        A record that cannot be imported is reported with ``summary.skip(position,
        id, reason)`` and the next record is read; records the mapping leaves out by
        design with ``summary.ignore(…)``.

        Raises:
            ImportFormatError: a file that cannot be parsed (file and place in the
                message); events yielded before it are still written.
        """


def source_file(source: Path, pattern: str, what: str) -> Path:
    """The export file to read: ``source`` itself, or the one file matching ``pattern``
    in the folder ``source``.

    Raises:
        ImportFormatError: no such file, or a folder without exactly one such file.
    """
    if source.is_dir():
        found = sorted(source.glob(pattern))
        if len(found) != 1:
            raise ImportFormatError(f"{source}: expected one {what} in the folder, found {len(found)}")
        source = found[0]
    if not source.is_file():
        raise ImportFormatError(f"{source}: no such file")
    return source


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
        progress: show a tqdm progress bar (only on a terminal).

    Returns:
        The summary (tickets created/updated, messages added, duplicates, skipped
        records with position, id and reason, ignored records, seconds).

    Raises:
        ImportFormatError: the source is malformed; raised after the events read before
            the broken record were written (the summary is on ``exc.summary``).
    """
    import time

    started = time.perf_counter()
    summary = ImportSummary()
    events: list[ImportEvent] = []
    error: ImportFormatError | None = None
    try:
        for event in importer.events(Path(source), summary):
            events.append(event)
    except ImportFormatError as exc:
        error = exc
    events.sort(key=lambda e: e.when)
    summary.events = len(events)
    _write_events(store, events, summary, actor, progress)
    summary.seconds = round(time.perf_counter() - started, 3)
    if error is not None:
        summary.error = str(error)
        error.summary = summary  # type: ignore[attr-defined]
        raise error
    return summary


def _message_count(event: ImportEvent) -> int:
    if event.messages or callable(event.update):
        return event.messages
    return sum(len(event.update.get(k, {}).get("messages", [])) for k in ("E", "I"))


def _write_events(store: Store, events: list[ImportEvent], summary: ImportSummary, actor: str, progress: bool) -> None:
    """Write the events in order through the store's write path, in one bulk block."""
    created, updated = set(), set()
    with store.bulk():
        ledger = ImportLedger(store)
        bar = tqdm(events, desc="import", unit="update", disable=None if progress else True, leave=False)
        for event in bar:
            where = event.where or event.t_no
            summary.messages_read += _message_count(event)
            try:
                ids = ledger.known_ids(event.t_no)
                if ids is not None and event.ids and all(i in ids for i in event.ids):
                    summary.duplicates += 1
                    continue
                update = prepare_update(store, event, ids)
                if update is None:
                    summary.duplicates += 1
                    continue
                result = store.write(
                    event.t_no,
                    actor=event.actor or actor,
                    timestamp=event.when,
                    update=update or None,
                    create=event.create,
                    authorized_as=actor,
                    summary=event.summary or f"Import update of ticket {event.t_no}",
                    allow_empty=True,
                )
            except RefMovedError:
                raise  # someone wrote without the writer lock: stop, never guess
            except GitStoreError as exc:
                summary.skip(where, event.ids[0] if event.ids else None, str(exc))
                continue
            if result.commit is None:
                summary.duplicates += 1
                continue
            ledger.wrote(event.t_no)
            summary.commits += 1
            summary.messages_added += result.messages
            if result.created:
                created.add(event.t_no)
            elif event.t_no not in created:
                updated.add(event.t_no)
        bar.close()
    ledger.save()
    summary.tickets_created = sorted(created)
    summary.tickets_updated = sorted(updated)


def prepare_update(store: Store, event: ImportEvent, ids: set[str] | None) -> dict[str, Any] | None:
    """The ``update_data`` an event writes, or None when it brings nothing new.

    Items whose ids the ticket already holds are dropped (a partial re-import); a
    ticket that does not exist yet also gets the event's ``create_update``; the
    event's people are added to the participant lists.

    Args:
        store: the store written to (read through its write path's tip).
        event: the event.
        ids: the ids the ticket holds, or None when it does not exist.
    """
    update = event.update() if callable(event.update) else event.update
    update = _drop_known(update, ids or set())
    if ids is not None and not update:
        return None
    if ids is None and event.create_update:
        update = _merge_updates(event.create_update, update)
    return _with_participants(store, event, update)


_PARTICIPANTS = (("E", "cs_agents"), ("I", "cs_team"), ("I", "technical_team"))


def _with_participants(store: Store, event: ImportEvent, update: dict[str, Any]) -> dict[str, Any]:
    """Add the event's people to the ticket's participant lists (a union with those the
    ticket, or the update itself, already lists, in first-seen order)."""
    wanted = {("E", "cs_agents"): event.cs_agents, ("I", "cs_team"): event.cs_team, ("I", "technical_team"): event.technical_team}
    if not any(wanted.values()):
        return update
    draft = store.writer.draft(event.t_no)
    if draft is None:
        if event.create is None:
            return update  # the write reports the missing ticket
        draft = TicketDraft.from_files(new_ticket_files(event.t_no, event.create, event.when))
    for kind, key in _PARTICIPANTS:
        names = wanted[(kind, key)]
        if not names:
            continue
        participants = draft.shells[kind].participants  # type: ignore[attr-defined]
        if kind in update and "participants" in update[kind]:  # the update's own list is the base
            participants = type(participants).model_validate(update[kind]["participants"])
        missing = [a for a in dict.fromkeys(names) if a not in getattr(participants, key)]
        if missing:
            merged = participants.model_dump(mode="json")
            merged[key] = merged[key] + missing
            update = _merge_updates(update, {kind: {"participants": merged}})
    return update


def _merge_updates(first: dict[str, Any], second: dict[str, Any]) -> dict[str, Any]:
    """Combine two ``update_data`` objects: lists concatenate, ``second``'s scalars win."""
    out = {kind: dict(changes) for kind, changes in first.items()}
    for kind, changes in second.items():
        target = out.setdefault(kind, {})
        for key, value in changes.items():
            if key in APPEND_FIELDS.get(kind, {}) and key in target:
                target[key] = list(target[key]) + list(value)
            else:
                target[key] = value
    return out


def _drop_known(update: dict, ids: set[str]) -> dict:
    """Remove list items whose id the ticket already has (partial re-imports)."""
    id_keys = {"messages": "message_id", "progress_updates": "update_id", "agent_decisions": "decision_id"}
    out: dict[str, Any] = {}
    for kind, changes in update.items():
        if not isinstance(changes, dict):
            out[kind] = changes
            continue
        kept = {}
        for key, value in changes.items():
            if key in id_keys and isinstance(value, list):
                items = [i for i in value if not isinstance(i, dict) or i.get(id_keys[key]) not in ids]
                if items:
                    kept[key] = items
            else:
                kept[key] = value
        if kept:
            out[kind] = kept
    return out


ImporterT = TypeVar("ImporterT", bound=Importer)


def synthetic_clock(importer: type[ImporterT], start: str) -> ImporterT:
    """Build an importer of a set without real times, whose synthetic clock starts at
    ``start`` (SGD, ABCD: docs/importers.md).

    Raises:
        ValidationError: ``start`` is not an ISO 8601 time with a zone.
    """
    try:
        return importer(start)  # type: ignore[call-arg]
    except ValueError as exc:
        raise ValidationError(f"--start {start!r}: {exc}") from None
