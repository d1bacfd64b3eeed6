"""The ticket list: one row per ticket (state, people, last update, latest message).

``gitstore ticket list`` shows what a help desk scans: id, status, priority, stage,
assignee, client and company, the last update and the first line of the latest message,
newest first. Reading three files of every ticket on each call would cost seconds on a
large store, so the rows are derived data kept in ``.git/gitstore/listing.sqlite``
(never committed, like the search index and the history log): it records the commit it
reflects, and catches up to HEAD by a tree diff (``history.changes.changed_tickets``), so
the cost of a call follows what changed since the last one, not the size of the store.
A missing, damaged or outdated file is rebuilt; a listing ``at`` another revision is
built in memory. Filters and order are one SQL query in both cases.

Row fields (docs/data-model.md): ``status`` is E's ``conversation_status``; ``priority``,
``stage`` (``workflow_stage``), ``assignee`` (``assigned_member``), ``client``,
``company``, ``archived`` and ``updated`` (``last_synchronized``, the shared stamp of the
last synchronized update) come from T; the latest message is the newest of E's and I's
messages by timestamp.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

import orjson
import pygit2

from gitstore.crypt import is_sealed, unseal_or
from gitstore.errors import InvalidOption, RevisionNotFound
from gitstore.history.changes import changed_tickets
from gitstore.objects.revisions import parse_date
from gitstore.objects.trees import blob_at
from gitstore.tickets import layout
from gitstore.timeutil import parse_utc
from gitstore.viewer import Viewer

SCHEMA_VERSION = 3
"""Bumped when the rows change shape: an older file is rebuilt."""
PREVIEW_CHARS = 200
"""Longest first line of the latest message kept in a row, in characters."""
FILE_NAME = "listing.sqlite"

_COLUMNS = (
    "ticket", "status", "priority", "stage", "assignee", "client", "company", "updated",
    "created", "latest_message", "latest_kind", "latest_time", "archived", "problem",
)
_ROWS_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS rows (
    ticket TEXT PRIMARY KEY, status TEXT, priority TEXT, stage TEXT, assignee TEXT,
    client TEXT, company TEXT, updated TEXT, created TEXT, latest_message TEXT,
    latest_kind TEXT, latest_time TEXT, archived INTEGER, problem TEXT,
    updated_at REAL, active_at REAL, external_message TEXT, external_time TEXT, external_active_at REAL
    )""",
    "CREATE INDEX IF NOT EXISTS rows_by_update ON rows (updated_at DESC, ticket)",
)
"""The rows table (dropped and made again when ``SCHEMA_VERSION`` changes)."""


@dataclass(frozen=True)
class TicketRow:
    """One ticket as ``ticket list`` shows it.

    Attributes:
        ticket: the T_NO.
        status: E's ``conversation_status`` (``active``, ``resolved``, ``escalated``).
        priority: ``HIGH`` or ``LOW``.
        stage: ``workflow_stage``.
        assignee: ``assigned_member``, or None.
        client: the customer's ``client_name``; company: ``company_name``.
        updated: time of the last synchronized update (T ``last_synchronized``), UTC
            ISO 8601.
        created: T's ``card_create_timestamp``, UTC ISO 8601.
        latest_message: first line of the newest message (E or I), at most
            ``PREVIEW_CHARS`` characters; empty when the ticket has none.
        latest_kind: ``external`` or ``internal`` (None without messages).
        latest_time: that message's time, UTC ISO 8601 (None without messages).
        archived: the ticket is archived (read-only).
        problem: why a file of the ticket could not be read (the other fields are
            then partly None), else None.
    """

    ticket: str
    status: str | None
    priority: str | None
    stage: str | None
    assignee: str | None
    client: str | None
    company: str | None
    updated: str | None
    created: str | None
    latest_message: str
    latest_kind: str | None
    latest_time: str | None
    archived: bool
    problem: str | None = None


@dataclass(frozen=True)
class TicketList:
    """The answer of ``list_ticket_rows``.

    Attributes:
        rows: matching tickets, newest update first (ties by T_NO), at most ``limit``.
        total: how many tickets match (before ``limit``).
        commit: the commit the rows reflect.
    """

    rows: list[TicketRow]
    total: int
    commit: str


def _seconds(text: str | None) -> float | None:
    if not text:
        return None
    try:
        return parse_utc(text).timestamp()
    except ValueError:
        return None


def _load(raw: bytes | None, name: str) -> dict:
    if raw is None:
        raise ValueError(f"{name} is missing")
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"{name} is not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise ValueError(f"{name} is not a JSON object")
    return data


def _first_line(text: object) -> str:
    if is_sealed(text):
        return str(text)  # whole: decrypted for a viewer with a key when listed (``_shown``)
    for line in str(text or "").splitlines():
        if line.strip():
            return " ".join(line.split())[:PREVIEW_CHARS]
    return ""


def row_from_files(t_no: str, external: bytes | None, internal: bytes | None, workflow: bytes | None) -> TicketRow:
    """Build a ticket's row from the bytes of its three files (None: absent).

    A file that is missing or not JSON gives a row whose ``problem`` says so; the
    fields the other files carry are still filled.
    """
    return _rows_from_files(t_no, external, internal, workflow)[0]


def _rows_from_files(
    t_no: str, external: bytes | None, internal: bytes | None, workflow: bytes | None
) -> tuple[TicketRow, TicketRow]:
    """The row, and the row as a viewer who may not read I sees it (latest external message)."""
    problems = []
    files = {}
    for kind, raw in (("E", external), ("I", internal), ("T", workflow)):
        try:
            files[kind] = _load(raw, layout.file_name(kind, t_no))
        except ValueError as exc:
            problems.append(str(exc))
            files[kind] = {}
    e, i, t = files["E"], files["I"], files["T"]
    latest = latest_external = None
    for kind, data in (("external", e), ("internal", i)):
        for message in data.get("messages") or []:
            if isinstance(message, dict) and isinstance(message.get("timestamp"), str):
                key = (_seconds(message["timestamp"]) or 0.0, kind == "internal")
                if latest is None or key > latest[0]:
                    latest = (key, kind, message)
                if kind == "external" and (latest_external is None or key > latest_external[0]):
                    latest_external = (key, kind, message)
    customer = ((e.get("participants") or {}).get("customer") or {}) if isinstance(e.get("participants"), dict) else {}
    row = TicketRow(
        ticket=t_no,
        status=e.get("conversation_status"),
        priority=t.get("priority"),
        stage=t.get("workflow_stage"),
        assignee=t.get("assigned_member"),
        client=t.get("client_name", customer.get("client_name")),
        company=t.get("company_name", customer.get("company_name")),
        updated=t.get("last_synchronized"),
        created=t.get("card_create_timestamp"),
        latest_message=_first_line(latest[2].get("content")) if latest else "",
        latest_kind=latest[1] if latest else None,
        latest_time=latest[2]["timestamp"] if latest else None,
        archived=bool(t.get("archived", False)),
        problem="; ".join(problems) or None,
    )
    if latest is latest_external:
        return row, row
    return row, replace(
        row,
        latest_message=_first_line(latest_external[2].get("content")) if latest_external else "",
        latest_kind="external" if latest_external else None,
        latest_time=latest_external[2]["timestamp"] if latest_external else None,
    )


def _values(row: TicketRow, external: TicketRow) -> tuple:
    updated_at = _seconds(row.updated)

    def active_at(latest: str | None) -> float | None:  # created, or the newest message
        active = [x for x in (_seconds(row.created), _seconds(latest)) if x is not None]
        return max(active) if active else updated_at

    columns = (getattr(row, c) if c != "archived" else int(row.archived) for c in _COLUMNS)
    return (
        *columns, updated_at, active_at(row.latest_time), external.latest_message, external.latest_time,
        active_at(external.latest_time),
    )


SEALED_PREVIEW = "(encrypted internal message: no key for it on this site)"
"""The preview of a latest internal message this site cannot decrypt (docs/encryption.md)."""


def _shown(row: TicketRow, viewer: Viewer) -> TicketRow:
    """A row with a sealed preview decrypted for ``viewer``, or ``SEALED_PREVIEW``."""
    if not is_sealed(row.latest_message):
        return row
    text = unseal_or(row.latest_message, viewer.identities, None)
    return replace(row, latest_message=SEALED_PREVIEW if text is None else _first_line(text))


def _read_row(repo: pygit2.Repository, tree: pygit2.Tree, t_no: str) -> tuple[TicketRow, TicketRow] | None:
    paths = layout.ticket_paths(t_no)
    blobs = {kind: blob_at(tree, path) for kind, path in paths.items()}
    if blobs["T"] is None:
        return None  # a ticket is a T file (Store.list_tickets)
    data = {kind: repo[oid].read_raw() if oid is not None else None for kind, oid in blobs.items()}
    return _rows_from_files(t_no, data["E"], data["I"], data["T"])


def _connect(path: Path | str) -> sqlite3.Connection:
    db = sqlite3.connect(str(path), timeout=30, isolation_level=None)
    db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)")
    for statement in _ROWS_SCHEMA:
        db.execute(statement)
    return db


def _meta(db: sqlite3.Connection, key: str) -> str | None:
    found = db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    return found[0] if found else None


FILL_BATCH = 2000
"""Rows written per ``executemany`` while filling: memory stays bounded by a batch,
not by the number of tickets."""


def _fill(db: sqlite3.Connection, store, commit: pygit2.Commit, t_nos) -> None:
    repo = store.repo
    insert = f"INSERT OR REPLACE INTO rows VALUES ({', '.join('?' * (len(_COLUMNS) + 5))})"
    batch = []
    for t_no in t_nos:
        rows = _read_row(repo, commit.tree, t_no)
        if rows is None:
            db.execute("DELETE FROM rows WHERE ticket = ?", (t_no,))
        else:
            batch.append(_values(*rows))
            if len(batch) >= FILL_BATCH:
                db.executemany(insert, batch)
                batch.clear()
    db.executemany(insert, batch)


def _catch_up(db: sqlite3.Connection, store, head: pygit2.Commit) -> None:
    """Bring the rows of ``db`` to ``head`` (one write transaction)."""
    db.execute("BEGIN IMMEDIATE")
    try:
        recorded = _meta(db, "commit")
        if recorded == str(head.id) and _meta(db, "schema") == str(SCHEMA_VERSION):
            db.execute("COMMIT")
            return
        try:
            if _meta(db, "schema") != str(SCHEMA_VERSION):
                raise RevisionNotFound("listing schema changed")
            changed = changed_tickets(store, recorded, str(head.id))
        except RevisionNotFound:  # first build, a new schema, or a commit gone from the repository
            db.execute("DROP TABLE rows")  # its columns may be another schema's
            for statement in _ROWS_SCHEMA:
                db.execute(statement)
            changed = set(store.list_tickets(at=str(head.id)))
        _fill(db, store, head, sorted(changed))
        db.execute("INSERT OR REPLACE INTO meta VALUES ('commit', ?), ('schema', ?)", (str(head.id), str(SCHEMA_VERSION)))
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise


def _head_db(store, head: pygit2.Commit) -> sqlite3.Connection | None:
    """The store's listing file caught up to ``head`` (a damaged file is rebuilt), or
    None when it cannot be used (a read-only store)."""
    path = Path(store.state_dir) / FILE_NAME
    try:
        db = _connect(path)
        _catch_up(db, store, head)
        return db
    except sqlite3.DatabaseError:  # damaged, or a read-only store: rebuild it, else give up
        try:
            path.unlink(missing_ok=True)
            db = _connect(path)
            _catch_up(db, store, head)
            return db
        except (sqlite3.DatabaseError, OSError):
            return None


def _open(store, commit: pygit2.Commit, at_head: bool) -> sqlite3.Connection:
    """The rows at ``commit``: the store's listing file at HEAD, else an in-memory one."""
    db = _head_db(store, commit) if at_head else None
    if db is None:
        db = _connect(":memory:")
        _fill(db, store, commit, store.list_tickets(at=str(commit.id)))
    return db


def refresh_rows(store) -> None:
    """Bring the store's ticket-list rows (``.git/gitstore/listing.sqlite``) up to HEAD,
    building them when missing (after a bulk import, so the first ``ticket list`` is
    quick). A damaged file is rebuilt; a store whose file cannot be written is left as
    it is (its lists are then built in memory, when asked for).
    """
    try:
        db = _head_db(store, store.head())
    except OSError:
        return
    if db is not None:
        db.close()


def list_ticket_rows(
    store,
    *,
    at: str | None = None,
    status: str | None = None,
    priority: str | None = None,
    assignee: str | None = None,
    stage: str | None = None,
    company: str | None = None,
    since: str | datetime | None = None,
    archived: bool | None = False,
    limit: int | None = None,
    viewer: Viewer | None = None,
) -> TicketList:
    """Return the tickets' rows, newest update first, filtered.

    Args:
        store: an open ``gitstore.Store``.
        at: a revision (``Store.resolve``); HEAD when None.
        status: E's ``conversation_status``, exactly.
        priority: ``HIGH``/``LOW``, any case.
        assignee: ``assigned_member``, any case.
        stage: ``workflow_stage``, exactly (the caller checks it is a configured one).
        company: ``company_name``, any case.
        since: tickets created at or after this time, or with a message at or after
            it: an aware datetime, or text (``2020-03-01``, ``3 days ago``; UTC).
        archived: False leaves archived tickets out, True keeps only them, None all.
        limit: at most this many rows (``total`` still counts every match).
        viewer: who reads (``gitstore.viewer.Viewer``; the store's viewer when None).
            A viewer whose role may not read I gets the latest *external* message in
            each row, never an internal one, and ``since`` counts external messages
            only (docs/data-model.md#roles). A sealed internal preview is decrypted
            with the viewer's identities, else shown as ``SEALED_PREVIEW``.

    Returns:
        A ``TicketList``.

    Raises:
        InvalidOption: ``since`` is not a date, or ``limit`` is below 1.
        RevisionNotFound: ``at`` names no commit.
    """
    if limit is not None and limit < 1:
        raise InvalidOption(f"--limit must be at least 1, not {limit}")
    since_at = parse_date(since) if isinstance(since, str) else since
    if isinstance(since, str):
        if since_at is None:
            raise InvalidOption(f"invalid --since date {since!r}: use e.g. 2020-03-01, 2020-03-01T12:00Z or '3 days ago'")
    commit = store.resolve(at)
    viewer = viewer or store.viewer
    db = _open(store, commit, at is None)
    try:
        where: list[str] = []
        args: list[object] = []
        for column, value, collate in (
            ("status", status, ""),
            ("priority", priority, " COLLATE NOCASE"),
            ("assignee", assignee, " COLLATE NOCASE"),
            ("stage", stage, ""),
            ("company", company, " COLLATE NOCASE"),
        ):
            if value is not None:
                where.append(f"{column} = ?{collate}")
                args.append(value)
        if archived is not None:
            where.append("archived = ?")
            args.append(int(archived))
        if since_at is not None:
            where.append("active_at >= ?" if viewer.internal else "external_active_at >= ?")
            args.append(since_at.timestamp())
        clause = f" WHERE {' AND '.join(where)}" if where else ""
        total = db.execute(f"SELECT COUNT(*) FROM rows{clause}", args).fetchone()[0]
        columns = list(_COLUMNS)
        if not viewer.internal:
            columns[columns.index("latest_message")] = "external_message"
            columns[columns.index("latest_time")] = "external_time"
            columns[columns.index("latest_kind")] = "CASE WHEN external_time IS NULL THEN NULL ELSE 'external' END"
        query = f"SELECT {', '.join(columns)} FROM rows{clause} ORDER BY updated_at DESC, ticket"
        if limit is not None:
            query += f" LIMIT {int(limit)}"
        rows = [
            _shown(
                TicketRow(**{**dict(zip(_COLUMNS, found)), "archived": bool(found[_COLUMNS.index("archived")])}), viewer
            )
            for found in db.execute(query, args)
        ]
    finally:
        db.close()
    return TicketList(rows, total, str(commit.id))
