"""The import ledger: "is this event already imported?" without reading every ticket.

File ``.git/gitstore/import-ids.json`` (derived data, never committed) remembers, per
ticket an import touched or checked: the blob ids of its E, I and T files, the ids
they hold (messages, progress updates, decisions), and the commit at which that was
true. While the branch still points at that commit, a re-import answers "already
imported?" without reading the ticket; once it moved, an entry is used only while the
ticket's three blob ids are unchanged. Deleting the file only costs speed.

Ids not in the ledger are read from the raw JSON of the ticket's files (no model
validation), once per import; tickets the import writes are answered by the write
path's drafts (``TicketWriter.draft``).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from gitstore.objects.trees import blob_at
from gitstore.store import Store
from gitstore.tickets import layout
from gitstore.tickets.update import APPEND_FIELDS

LEDGER = "import-ids.json"
"""The ledger's file name under ``.git/gitstore/``."""

VERSION = 2
"""The ledger's format version; a file of another version is ignored (rebuilt)."""


class ImportLedger:
    """The ids each ticket holds, as an import sees them (see module doc).

    Use for the length of one ``Store.bulk()`` block; ``save`` at its end.

    Args:
        store: the store being imported into.
    """

    def __init__(self, store: Store):
        self.store = store
        self.path = Path(store.state_dir) / LEDGER
        self.entries = self._read()
        self._start_head = str(store.head().id)
        self._known: dict[str, set[str] | None] = {}
        self._checked: set[str] = set()
        self._written: set[str] = set()

    def _read(self) -> dict[str, list[Any]]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        if not isinstance(data, dict) or data.get("version") != VERSION or not isinstance(data.get("tickets"), dict):
            return {}
        return {t: e for t, e in data["tickets"].items() if isinstance(e, list) and len(e) == 5}

    def known_ids(self, t_no: str) -> set[str] | None:
        """Return every message/update/decision id the ticket holds, or None if absent.

        Raises:
            InvalidTicketNumber: malformed T_NO.
        """
        if t_no in self._written:
            draft = self.store.writer.draft(t_no)
            return draft.all_ids() if draft is not None else None
        if t_no in self._known:
            return self._known[t_no]
        layout.validate_t_no(t_no)
        entry = self.entries.get(t_no)
        if entry is not None and entry[4] == self._start_head:
            ids: set[str] | None = set(entry[3])
            self._checked.add(t_no)
        else:
            tree = self.store.writer.tip_tree()
            blobs = {k: blob_at(tree, p) for k, p in layout.ticket_paths(t_no).items()}
            present = {k: b for k, b in blobs.items() if b is not None}
            if entry is not None and [str(blobs[k]) for k in "EIT"] == entry[:3]:
                ids = set(entry[3])
                self._checked.add(t_no)
            elif not present:
                ids = None
            else:
                ids = self._raw_ids(present)
                if len(present) == 3:
                    self.entries[t_no] = [str(blobs[k]) for k in "EIT"] + [sorted(ids), self._start_head]
                    self._checked.add(t_no)
        self._known[t_no] = ids
        return ids

    def _raw_ids(self, blobs: dict[str, Any]) -> set[str]:
        repo = self.store.objects_repo()
        ids: set[str] = set()
        for kind, blob in blobs.items():
            try:
                raw = json.loads(repo[blob].read_raw())
            except ValueError:
                raw = {}  # the full read when writing reports the broken file
            if not isinstance(raw, dict):
                continue
            for key, id_field in APPEND_FIELDS[kind].items():
                values = raw.get(key, [])
                if isinstance(values, list):
                    ids |= {str(item.get(id_field)) for item in values if isinstance(item, dict)}
        return ids

    def wrote(self, t_no: str) -> None:
        """Note that the import wrote the ticket (its ids now come from the write path)."""
        self._written.add(t_no)
        self._known.pop(t_no, None)

    def save(self) -> None:
        """Record the tickets seen as known at the branch's head; keep the rest."""
        head = self.store.head()
        tree = head.tree
        for t_no in self._checked:
            self.entries[t_no][4] = str(head.id)
        for t_no in self._written:
            blobs = [blob_at(tree, layout.ticket_path(k, t_no)) for k in "EIT"]
            draft = self.store.writer.draft(t_no)
            if draft is not None and all(blobs):
                self.entries[t_no] = [str(b) for b in blobs] + [sorted(draft.all_ids()), str(head.id)]
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"version": VERSION, "tickets": self.entries}), encoding="utf-8")
        os.replace(tmp, self.path)
